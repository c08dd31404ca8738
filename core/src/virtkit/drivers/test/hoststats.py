"""The test host's NUMA cells, huge pages, memory tuning and statistics, and the hooks of
:mod:`virtkit.sdk.hookspecs.host` (with capabilities, cell free memory and sysinfo), and the
domains' labels under the host's security model.

The host's memory (``NodeInfo.memory``) and CPUs are split evenly over its NUMA cells. Each cell
has 4 KiB pages for what is free and pools of 2 MiB and 1 GiB huge pages that ``alloc_pages``
fills (empty at first). A cell's free memory is its memory less its huge page pools less its
share of the running guests' memory (spread evenly over the cells).

The host ``<cpu>`` of the capabilities has no ``<topology>`` element (the NUMA topology is
``host/topology/cells``; libvirt's test host has none there either), so a script that takes the
first ``topology`` element under ``host`` finds the cells.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from virtkit.drivers.test import hostcpu
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef, NodeInfo, SecurityLabel, SecurityModel

if TYPE_CHECKING:
    from virtkit.drivers.test.node import TestNode

PAGE_SIZES = (4, 2048, 1048576)  # KiB
HUGE_SIZES = PAGE_SIZES[1:]
SECURITY_MODEL = SecurityModel("testSecurity", "")
SECURITY_LABEL = "libvirt-test"  # a running domain's label, as libvirt's test driver gives
MAX_VCPUS = 32
#: CPU time counters of the whole host, in ns (libvirt's test host reports the same)
CPU_STATS = {"kernel": 34678723400000, "user": 9797400000, "idle": 87264900000,
             "iowait": 763600000}
SYSINFO = """<sysinfo type='smbios'>
  <bios>
    <entry name='vendor'>LENOVO</entry>
    <entry name='version'>G4ETA1WW (2.61 )</entry>
    <entry name='date'>05/07/2014</entry>
    <entry name='release'>2.61</entry>
  </bios>
</sysinfo>
"""
MEMORY_TUNING = {"shm_pages_to_scan": 100, "shm_sleep_millisecs": 20,
                 "shm_merge_across_nodes": 1}
KSM_COUNTERS = ("shm_pages_shared", "shm_pages_sharing", "shm_pages_unshared",
                "shm_pages_volatile", "shm_full_scans")


def _invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.INVALID_ARG, f"invalid argument: {message}", ErrorDomain.TEST)


class HostMemory:
    """What the test host keeps about its memory: huge page pools per cell and KSM tuning."""

    def __init__(self, info: NodeInfo) -> None:
        self.lock = threading.Lock()
        self.cells = max(info.nodes, 1)
        self.cell_kib = info.memory // self.cells
        self.cpus_per_cell = max(info.cpus // self.cells, 1)
        #: per cell: huge page size (KiB) -> pages reserved
        self.pools: list[dict[int, int]] = [dict.fromkeys(HUGE_SIZES, 0)
                                            for _ in range(self.cells)]
        self.tuning = dict(MEMORY_TUNING)

    def reserved_kib(self, cell: int) -> int:
        return sum(size * count for size, count in self.pools[cell].items())

    def free_kib(self, cell: int, guests_kib: int) -> int:
        share = guests_kib // self.cells
        return max(self.cell_kib - self.reserved_kib(cell) - share, 0)


def host_memory(node: TestNode) -> HostMemory:
    """The node's :class:`HostMemory`, made on first use."""
    mem: HostMemory | None = getattr(node, "host_memory", None)
    if mem is None:
        with node.lock:
            mem = getattr(node, "host_memory", None)
            if mem is None:
                mem = HostMemory(node.info)
                node.host_memory = mem  # type: ignore[attr-defined]
    return mem


def capabilities(node: TestNode) -> str:
    from virtkit.drivers.test.host import ARCHES, EMULATOR, MACHINES
    from virtkit.xml import capabilities as cx  # imported on first use: a large module
    from virtkit.xml.domain import CpuFeature

    info = node.info
    mem = host_memory(node)
    cpu = hostcpu.host_cpu_fields()
    guests_kib = _guests_kib(node)
    cells = []
    for i in range(mem.cells):
        first = i * mem.cpus_per_cell
        free4 = mem.free_kib(i, guests_kib) // 4
        with mem.lock:
            huge = [cx.Pages(size=s, unit="KiB", count=mem.pools[i][s]) for s in HUGE_SIZES]
        cells.append(cx.Cell(
            id=i,
            memory=cx.CellMemory(kib=mem.cell_kib),
            pages=(cx.Pages(size=4, unit="KiB", count=free4), *huge),
            distances=cx.Distances(siblings=tuple(
                cx.Sibling(id=j, value=10 if j == i else 20) for j in range(mem.cells))),
            cpus=cx.CellCpus(num=mem.cpus_per_cell, cpus=tuple(
                cx.CellCpu(id=first + k, socket_id=i, die_id=0, core_id=k,
                           siblings=str(first + k))
                for k in range(mem.cpus_per_cell))),
        ))
    host = cx.HostCaps(
        cpu=cx.HostCpu(
            arch=info.model, model=cpu["model"], vendor=cpu["vendor"],
            features=tuple(CpuFeature(name=f) for f in cpu["features"]),
            pages=tuple(cx.Pages(size=s, unit="KiB") for s in PAGE_SIZES),
        ),
        power_management=cx.PowerManagement(),
        iommu=cx.Iommu(support=False),
        topology=cx.HostTopology(cells=cx.Cells(num=mem.cells, cells=tuple(cells))),
        secmodels=(cx.SecModel(model=SECURITY_MODEL.model, doi=SECURITY_MODEL.doi),),
    )
    guests = tuple(
        cx.Guest(
            os_type="hvm",
            arch=cx.GuestArch(
                name=arch,
                wordsize=32 if arch == "i686" else 64,
                emulator=EMULATOR,
                machines=tuple(cx.Machine(name=m) for m in MACHINES),
                domains=(cx.GuestDomain(type="test"),),
            ),
            features=("<pae/>", "<nonpae/>") if arch == "i686" else (),
        )
        for arch in ARCHES
    )
    return cx.Capabilities(host=host, guests=guests).to_xml()


def _guests_kib(node: TestNode) -> int:
    with node.lock:
        return sum(d.memory for d in node.domains.values() if d.id > 0)


class HostMixin:
    """The test driver's host hooks: CPU models, baseline and comparison, statistics, pages,
    memory tuning, sysinfo and the security model."""

    if TYPE_CHECKING:
        @property
        def _node(self) -> TestNode: ...

    def _cells_free_kib(self) -> list[int]:
        node = self._node
        mem = host_memory(node)
        guests = _guests_kib(node)
        with mem.lock:
            return [mem.free_kib(i, guests) for i in range(mem.cells)]

    def _check_cell(self, cell: int, what: str = "cell") -> HostMemory:
        mem = host_memory(self._node)
        if cell >= mem.cells:
            raise _invalid(f"start {what} {cell} out of range (0-{mem.cells - 1})")
        return mem

    @hookimpl
    def virtkit_connect_get_capabilities(self) -> str:
        return capabilities(self._node)

    @hookimpl
    def virtkit_node_get_free_memory(self) -> int:
        return sum(self._cells_free_kib()) * 1024

    @hookimpl
    def virtkit_node_get_cells_free_memory(self, start_cell: int, max_cells: int) -> list[int]:
        self._check_cell(start_cell)
        return [kib * 1024 for kib in self._cells_free_kib()[start_cell:start_cell + max_cells]]

    @hookimpl
    def virtkit_connect_get_cpu_model_names(self, arch: str) -> list[str]:
        return hostcpu.model_names(arch)

    @hookimpl
    def virtkit_connect_baseline_cpu(
        self, xml_cpus: list[str], features: bool, migratable: bool
    ) -> str:
        return hostcpu.baseline(xml_cpus, features, migratable)

    @hookimpl
    def virtkit_connect_baseline_hypervisor_cpu(
        self, emulator: str | None, arch: str | None, machine: str | None,
        virttype: str | None, xml_cpus: list[str], features: bool, migratable: bool,
    ) -> str:
        from virtkit.drivers.test.host import check_guest_kind

        check_guest_kind(emulator, arch, machine, virttype)
        return hostcpu.baseline(xml_cpus, features, migratable, hostcpu.HOST_FEATURES)

    @hookimpl
    def virtkit_connect_compare_cpu(self, xml: str, fail_incompatible: bool) -> int:
        return hostcpu.compare(xml, fail_incompatible)

    @hookimpl
    def virtkit_connect_compare_hypervisor_cpu(
        self, emulator: str | None, arch: str | None, machine: str | None,
        virttype: str | None, xml: str, fail_incompatible: bool,
    ) -> int:
        from virtkit.drivers.test.host import check_guest_kind

        check_guest_kind(emulator, arch, machine, virttype)
        return hostcpu.compare(xml, fail_incompatible)

    @hookimpl
    def virtkit_connect_get_max_vcpus(self, virttype: str | None) -> int:
        if virttype not in (None, "test"):
            raise _invalid(f"the test host has no virtualization type '{virttype}'")
        return MAX_VCPUS

    @hookimpl
    def virtkit_connect_get_sysinfo(self) -> str:
        return SYSINFO

    @hookimpl
    def virtkit_node_get_cpu_map(self) -> list[bool]:
        return [True] * self._node.info.cpus

    @hookimpl
    def virtkit_node_get_cpu_stats(self, cpu: int) -> dict[str, int]:
        cpus = self._node.info.cpus
        if cpu >= cpus:
            raise _invalid(f"the test host has no CPU {cpu} (0-{cpus - 1})")
        if cpu == -1:
            return dict(CPU_STATS)
        return {k: v // cpus for k, v in CPU_STATS.items()}

    @hookimpl
    def virtkit_node_get_memory_stats(self, cell: int) -> dict[str, int]:
        free = self._cells_free_kib()
        if cell == -1:
            return {"total": self._node.info.memory, "free": sum(free), "buffers": 0,
                    "cached": 0}
        mem = host_memory(self._node)
        if cell >= mem.cells:
            raise _invalid(f"the test host has no NUMA cell {cell} (0-{mem.cells - 1})")
        return {"total": mem.cell_kib, "free": free[cell]}

    @hookimpl
    def virtkit_node_get_memory_parameters(self) -> dict[str, int]:
        mem = host_memory(self._node)
        with mem.lock:
            return {**mem.tuning, **dict.fromkeys(KSM_COUNTERS, 0)}

    @hookimpl
    def virtkit_node_set_memory_parameters(self, params: dict[str, int]) -> bool:
        if params.get("shm_merge_across_nodes", 0) not in (0, 1):
            raise _invalid("shm_merge_across_nodes must be 0 or 1")
        mem = host_memory(self._node)
        with mem.lock:
            mem.tuning.update(params)
        return True

    @hookimpl
    def virtkit_node_get_free_pages(
        self, pages: list[int], start_cell: int, cell_count: int
    ) -> list[list[int]]:
        mem = self._check_cell(start_cell)
        free = self._cells_free_kib()
        out = []
        with mem.lock:
            for cell in range(start_cell, min(start_cell + cell_count, mem.cells)):
                out.append([free[cell] // 4 if size == 4 else mem.pools[cell].get(size, 0)
                            for size in pages])
        return out

    @hookimpl
    def virtkit_node_alloc_pages(
        self, pages: list[int], counts: list[int], start_cell: int, cell_count: int,
        add: bool,
    ) -> int:
        if len(pages) != len(counts):
            raise _invalid(f"{len(pages)} page sizes but {len(counts)} counts")
        for size in pages:
            if size not in HUGE_SIZES:
                raise _invalid(f"the test host has no pool of {size} KiB pages "
                               f"(sizes: {', '.join(map(str, HUGE_SIZES))} KiB)")
        mem = self._check_cell(start_cell)
        guests = _guests_kib(self._node)
        cells = range(start_cell, min(start_cell + cell_count, mem.cells))
        with mem.lock:
            planned = []
            for cell in cells:
                pool = dict(mem.pools[cell])
                for size, count in zip(pages, counts, strict=True):
                    pool[size] = pool[size] + count if add else count
                need = sum(s * c for s, c in pool.items())
                avail = mem.cell_kib - guests // mem.cells
                if need > avail:
                    raise VirtError(
                        ErrorCode.OPERATION_FAILED,
                        f"operation failed: NUMA cell {cell} has {avail} KiB for huge pages, "
                        f"{need} KiB asked",
                        ErrorDomain.TEST,
                    )
                planned.append((cell, pool))
            for cell, pool in planned:
                mem.pools[cell] = pool
        return len(planned)

    @hookimpl
    def virtkit_node_get_security_model(self) -> SecurityModel:
        return SECURITY_MODEL

    @hookimpl
    def virtkit_domain_get_security_labels(self, dom: DomainRef) -> list[SecurityLabel]:
        """One label under the host's one model (``testSecurity``): libvirt's test driver's
        ``libvirt-test``, enforced, while the domain runs; an empty label otherwise."""
        node = self._node
        with node.lock:
            d = node.find(dom)
            running = d.status.active
        return [SecurityLabel(SECURITY_LABEL, True) if running else SecurityLabel("", False)]
