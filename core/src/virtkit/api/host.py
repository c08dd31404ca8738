"""The connection's host methods: CPU models, baseline and comparison, statistics, huge pages,
memory tuning, sysinfo and the security model (libvirt-python's names in snake_case).

Where libvirt-python takes ``flags``, so do these, with libvirt's numbers (the constants below),
and each flag also has a keyword (``baseline_cpu(cpus, features=True)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from virtkit.sdk.errors import invalid_arg
from virtkit.sdk.records import SecurityModel

if TYPE_CHECKING:
    from virtkit.runtime.hooks import Hooks

__all__ = [
    "BASELINE_CPU_EXPAND_FEATURES",
    "BASELINE_CPU_MIGRATABLE",
    "COMPARE_CPU_FAIL_INCOMPATIBLE",
    "CPU_COMPARE_ERROR",
    "CPU_COMPARE_IDENTICAL",
    "CPU_COMPARE_INCOMPATIBLE",
    "CPU_COMPARE_SUPERSET",
    "NODE_ALLOC_PAGES_ADD",
    "NODE_ALLOC_PAGES_SET",
    "NODE_CPU_STATS_ALL_CPUS",
    "NODE_MEMORY_STATS_ALL_CELLS",
    "HostMethods",
]

BASELINE_CPU_EXPAND_FEATURES = 1
BASELINE_CPU_MIGRATABLE = 2
COMPARE_CPU_FAIL_INCOMPATIBLE = 1
CPU_COMPARE_ERROR = -1
CPU_COMPARE_INCOMPATIBLE = 0
CPU_COMPARE_IDENTICAL = 1
CPU_COMPARE_SUPERSET = 2
NODE_ALLOC_PAGES_ADD = 0
NODE_ALLOC_PAGES_SET = 1
NODE_CPU_STATS_ALL_CPUS = -1
NODE_MEMORY_STATS_ALL_CELLS = -1


def _flags(flags: int, known: int) -> int:
    if isinstance(flags, bool) or not isinstance(flags, int) or flags & ~known:
        raise invalid_arg(f"unsupported flags {flags!r} (known: {known:#x})")
    return flags


def _cpus(xml_cpus: Any) -> list[str]:
    if isinstance(xml_cpus, (str, bytes)):
        xml_cpus = [xml_cpus]
    return [x.decode() if isinstance(x, bytes) else x for x in xml_cpus]


class HostMethods:
    """The connection's host methods (a base of the Connection class)."""

    if TYPE_CHECKING:
        hooks: Hooks

    # -- CPU ----------------------------------------------------------------------------------

    def get_cpu_model_names(self, arch: str, flags: int = 0) -> list[str]:
        """The CPU models the host knows for ``arch`` (virsh cpu-models)."""
        _flags(flags, 0)
        return self.hooks.connect_get_cpu_model_names(arch=arch)

    def baseline_cpu(
        self, xml_cpus: list[str] | str, flags: int = 0, *, features: bool = False,
        migratable: bool = False,
    ) -> str:
        """The newest CPU every given ``<cpu>`` can run (virsh cpu-baseline)."""
        _flags(flags, BASELINE_CPU_EXPAND_FEATURES | BASELINE_CPU_MIGRATABLE)
        return self.hooks.connect_baseline_cpu(
            xml_cpus=_cpus(xml_cpus),
            features=features or bool(flags & BASELINE_CPU_EXPAND_FEATURES),
            migratable=migratable or bool(flags & BASELINE_CPU_MIGRATABLE),
        )

    def baseline_hypervisor_cpu(
        self, emulator: str | None, arch: str | None, machine: str | None,
        virttype: str | None, xml_cpus: list[str] | str, flags: int = 0, *,
        features: bool = False, migratable: bool = False,
    ) -> str:
        """As :meth:`baseline_cpu`, within what the hypervisor gives guests of this kind."""
        _flags(flags, BASELINE_CPU_EXPAND_FEATURES | BASELINE_CPU_MIGRATABLE)
        return self.hooks.connect_baseline_hypervisor_cpu(
            emulator=emulator, arch=arch, machine=machine, virttype=virttype,
            xml_cpus=_cpus(xml_cpus),
            features=features or bool(flags & BASELINE_CPU_EXPAND_FEATURES),
            migratable=migratable or bool(flags & BASELINE_CPU_MIGRATABLE),
        )

    def compare_cpu(self, xml: str, flags: int = 0, *, fail_incompatible: bool = False) -> int:
        """0 incompatible, 1 identical, 2 the host is a superset (virsh cpu-compare)."""
        _flags(flags, COMPARE_CPU_FAIL_INCOMPATIBLE)
        return self.hooks.connect_compare_cpu(
            xml=xml, fail_incompatible=fail_incompatible
            or bool(flags & COMPARE_CPU_FAIL_INCOMPATIBLE),
        )

    def compare_hypervisor_cpu(
        self, emulator: str | None, arch: str | None, machine: str | None,
        virttype: str | None, xml_cpu: str, flags: int = 0, *, fail_incompatible: bool = False,
    ) -> int:
        """As :meth:`compare_cpu`, against what the hypervisor gives guests of this kind."""
        _flags(flags, COMPARE_CPU_FAIL_INCOMPATIBLE)
        return self.hooks.connect_compare_hypervisor_cpu(
            emulator=emulator, arch=arch, machine=machine, virttype=virttype, xml=xml_cpu,
            fail_incompatible=fail_incompatible or bool(flags & COMPARE_CPU_FAIL_INCOMPATIBLE),
        )

    def get_max_vcpus(self, type: str | None = None) -> int:
        """The most vcpus one guest of ``type`` may have (virsh maxvcpus)."""
        return self.hooks.connect_get_max_vcpus(virttype=type)

    def get_cpu_map(self, flags: int = 0) -> tuple[int, list[bool], int]:
        """``(cpus present, online flag per cpu, cpus online)`` as libvirt-python's
        getCPUMap."""
        _flags(flags, 0)
        cpumap = self.hooks.node_get_cpu_map()
        return len(cpumap), cpumap, sum(cpumap)

    def get_cpu_stats(self, cpu_num: int = NODE_CPU_STATS_ALL_CPUS, flags: int = 0
                      ) -> dict[str, int]:
        """CPU time counters in ns (``kernel``, ``user``, ``idle``, ``iowait``) of one CPU or,
        with -1, of all."""
        _flags(flags, 0)
        return self.hooks.node_get_cpu_stats(cpu=cpu_num)

    # -- memory -------------------------------------------------------------------------------

    def get_memory_stats(self, cell_num: int = NODE_MEMORY_STATS_ALL_CELLS, flags: int = 0
                         ) -> dict[str, int]:
        """Memory counters in KiB of one NUMA cell or, with -1, of the host."""
        _flags(flags, 0)
        return self.hooks.node_get_memory_stats(cell=cell_num)

    def get_memory_parameters(self, flags: int = 0) -> dict[str, int]:
        """The host's memory tuning (``shm_pages_to_scan``, ...; virsh node-memory-tune)."""
        _flags(flags, 0)
        return self.hooks.node_get_memory_parameters()

    def set_memory_parameters(self, params: dict[str, int], flags: int = 0) -> None:
        _flags(flags, 0)
        self.hooks.node_set_memory_parameters(params=dict(params))

    def get_free_pages(
        self, pages: list[int], start_cell: int, cell_count: int, flags: int = 0
    ) -> dict[int, dict[int, int]]:
        """``{cell: {page size KiB: free pages}}`` as libvirt-python's getFreePages."""
        _flags(flags, 0)
        sizes = list(pages)
        counts = self.hooks.node_get_free_pages(
            pages=sizes, start_cell=start_cell, cell_count=cell_count
        )
        return {start_cell + i: dict(zip(sizes, row, strict=True))
                for i, row in enumerate(counts)}

    def alloc_pages(
        self, pages: dict[int, int], start_cell: int = 0, cell_count: int = 1, flags: int = 0
    ) -> int:
        """Reserve huge pages: ``pages`` maps a size in KiB to a count; ``flags``
        NODE_ALLOC_PAGES_SET sets the pools instead of adding to them. Returns how many cells
        changed."""
        _flags(flags, NODE_ALLOC_PAGES_SET)
        return self.hooks.node_alloc_pages(
            pages=list(pages), counts=list(pages.values()), start_cell=start_cell,
            cell_count=cell_count, add=not flags & NODE_ALLOC_PAGES_SET,
        )

    # -- host ---------------------------------------------------------------------------------

    def get_sysinfo(self, flags: int = 0) -> str:
        """The host's ``<sysinfo type='smbios'>`` document (virsh sysinfo)."""
        _flags(flags, 0)
        return self.hooks.connect_get_sysinfo()

    def get_security_model(self) -> SecurityModel:
        """The host's security model; indexable as libvirt-python's ``[model, doi]``."""
        return self.hooks.node_get_security_model()
