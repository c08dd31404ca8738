"""Hookspecs for the host's CPU, memory and security: CPU models, baseline and comparison,
node statistics, huge pages, memory parameters, sysinfo and the security model.

CPU definitions cross as ``<cpu>`` XML text (libvirt's CPU element, as in a domain or in the
capabilities' ``<host>``). A comparison answers with libvirt's virCPUCompareResult numbers:
0 incompatible, 1 identical, 2 superset (the host can run the CPU and more). Statistics cross as
dicts of integer counters named as libvirt names them (``user``, ``kernel``, ``idle``,
``iowait`` in ns; ``total``, ``free``, ``buffers``, ``cached`` in KiB).
"""

from __future__ import annotations

from typing import Any

from virtkit.sdk import checks as args
from virtkit.sdk.errors import invalid_arg
from virtkit.sdk.hookspecs.markers import spec
from virtkit.sdk.records import SecurityModel

__all__ = ["SecurityModel"]


def _cpu_list(value: Any, op: str) -> Any:
    if not value:
        raise invalid_arg(f"{op}: at least one CPU definition is required")
    return [args.xml_text(v) for v in value]


def _cell(value: Any, op: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int) or value < -1:
        raise invalid_arg(f"{op}: cell or CPU number {value!r} must be -1 (all) or >= 0")
    return value


def _page_sizes(value: Any, op: str) -> Any:
    if not value or any(isinstance(v, bool) or v < 1 for v in value):
        raise invalid_arg(f"{op}: page sizes must be one or more sizes in KiB, each >= 1")
    return value


def _counts(value: Any, op: str) -> Any:
    if any(isinstance(v, bool) or v < 0 for v in value):
        raise invalid_arg(f"{op}: page counts must be non-negative")
    return value


def _memory_params(value: Any, op: str) -> Any:
    known = ("shm_pages_to_scan", "shm_sleep_millisecs", "shm_merge_across_nodes")
    for key, number in value.items():
        if key not in known:
            raise invalid_arg(f"{op}: unknown node memory parameter '{key}' "
                              f"(known: {', '.join(known)})")
        if number < 0:
            raise invalid_arg(f"{op}: node memory parameter '{key}' must be >= 0")
    return value


@spec(readonly=True, checks={"arch": lambda v, op: args.name(v, "CPU architecture")})
def virtkit_connect_get_cpu_model_names(arch: str) -> list[str] | None:
    """The CPU model names the host knows for ``arch`` (virsh ``cpu-models``).

    :param arch: an architecture name (``x86_64``, ``i686``...).
    :return: the model names, oldest first.
    :raises VirtError: INVALID_ARG naming an architecture the host has no models for.
    :state: none.
    """


@spec(readonly=True, checks={"xml_cpus": _cpu_list})
def virtkit_connect_baseline_cpu(
    xml_cpus: list[str], features: bool, migratable: bool
) -> str | None:
    """The most capable CPU every given CPU can run (libvirt's virConnectBaselineCPU).

    :param xml_cpus: one or more ``<cpu>`` definitions (each with ``<arch>`` or the host's).
    :param features: list every feature of the chosen model as well (EXPAND_FEATURES).
    :param migratable: leave out features that block migration.
    :return: a ``<cpu mode='custom' match='exact'>`` definition.
    :raises VirtError: XML_ERROR for a malformed definition; INVALID_ARG for an unknown model;
        OPERATION_FAILED when the CPUs share no model (different vendors or architectures).
    :state: none.
    """


@spec(readonly=True, checks={"xml_cpus": _cpu_list})
def virtkit_connect_baseline_hypervisor_cpu(
    emulator: str | None,
    arch: str | None,
    machine: str | None,
    virttype: str | None,
    xml_cpus: list[str],
    features: bool,
    migratable: bool,
) -> str | None:
    """As ``connect_baseline_cpu``, limited to what the hypervisor can give a guest of this
    kind (libvirt's virConnectBaselineHypervisorCPU).

    :param emulator: as for ``connect_get_domain_capabilities``, and ``arch``, ``machine``,
        ``virttype`` likewise; None for the default.
    :return: a ``<cpu mode='custom' match='exact'>`` definition.
    :raises VirtError: as ``connect_baseline_cpu``; INVALID_ARG for an unknown
        emulator/arch/machine/virttype.
    :state: none.
    """


@spec(readonly=True)
def virtkit_connect_compare_cpu(xml: str, fail_incompatible: bool) -> int | None:
    """Compare a CPU definition with the host's CPU (libvirt's virConnectCompareCPU).

    :param xml: a ``<cpu>`` definition (a domain's ``<cpu>`` or a capabilities' host CPU).
    :param fail_incompatible: raise instead of answering 0.
    :return: 0 incompatible, 1 identical, 2 the host is a superset.
    :raises VirtError: XML_ERROR; INVALID_ARG for an unknown model; CPU_INCOMPATIBLE naming what
        the host lacks when ``fail_incompatible``.
    :state: none.
    """


@spec(readonly=True)
def virtkit_connect_compare_hypervisor_cpu(
    emulator: str | None,
    arch: str | None,
    machine: str | None,
    virttype: str | None,
    xml: str,
    fail_incompatible: bool,
) -> int | None:
    """Compare a CPU definition with the CPU the hypervisor can give a guest of this kind
    (libvirt's virConnectCompareHypervisorCPU).

    :return: 0 incompatible, 1 identical, 2 the hypervisor's CPU is a superset.
    :raises VirtError: as ``connect_compare_cpu``; INVALID_ARG for an unknown
        emulator/arch/machine/virttype.
    :state: none.
    """


@spec(readonly=True)
def virtkit_connect_get_max_vcpus(virttype: str | None) -> int | None:
    """The most virtual CPUs one guest of ``virttype`` may have (virsh ``maxvcpus``).

    :param virttype: ``kvm``, ``qemu``, ``test``... or None for the driver's default.
    :return: the number.
    :raises VirtError: INVALID_ARG for an unknown virtualization type.
    :state: none.
    """


@spec(readonly=True)
def virtkit_connect_get_sysinfo() -> str | None:
    """The host's SMBIOS information as a ``<sysinfo type='smbios'>`` document (virsh
    ``sysinfo``).

    :return: the XML text.
    :raises VirtError: SYSTEM_ERROR when it cannot be read.
    :state: none.
    """


@spec(readonly=True)
def virtkit_node_get_cpu_map() -> list[bool] | None:
    """Which of the host's CPUs are online (virsh ``nodecpumap``).

    :return: one flag per CPU present, True when online.
    :raises VirtError: SYSTEM_ERROR when it cannot be read.
    :state: none.
    """


@spec(readonly=True, checks={"cpu": _cell})
def virtkit_node_get_cpu_stats(cpu: int) -> dict[str, int] | None:
    """CPU time counters of one host CPU or of all (virsh ``nodecpustats``).

    :param cpu: the CPU number, or -1 for the sum over every CPU.
    :return: ``{"kernel": ns, "user": ns, "idle": ns, "iowait": ns}`` (and any others the host
        has, named as libvirt names them).
    :raises VirtError: INVALID_ARG naming a CPU the host does not have.
    :state: none.
    """


@spec(readonly=True, checks={"cell": _cell})
def virtkit_node_get_memory_stats(cell: int) -> dict[str, int] | None:
    """Memory counters of one NUMA cell or of the host (virsh ``nodememstats``).

    :param cell: the cell number, or -1 for the whole host.
    :return: ``{"total": KiB, "free": KiB}`` and, for the whole host, ``buffers`` and
        ``cached``.
    :raises VirtError: INVALID_ARG naming a cell the host does not have.
    :state: none.
    """


@spec(readonly=True)
def virtkit_node_get_memory_parameters() -> dict[str, int] | None:
    """The host's memory tuning (kernel same-page merging; virsh ``node-memory-tune``).

    :return: ``shm_pages_to_scan``, ``shm_sleep_millisecs``, ``shm_merge_across_nodes`` and
        the read-only counters ``shm_pages_shared``, ``shm_pages_sharing``,
        ``shm_pages_unshared``, ``shm_pages_volatile``, ``shm_full_scans``.
    :raises VirtError: SYSTEM_ERROR when they cannot be read.
    :state: none.
    """


@spec(readonly=False, checks={"params": _memory_params})
def virtkit_node_set_memory_parameters(params: dict[str, int]) -> bool | None:
    """Change the host's memory tuning (virsh ``node-memory-tune --shm-...``).

    :param params: some of ``shm_pages_to_scan``, ``shm_sleep_millisecs``,
        ``shm_merge_across_nodes`` (0 or 1), each >= 0.
    :return: True.
    :raises VirtError: INVALID_ARG for an unknown parameter or a bad value (checked before the
        driver runs); nothing is changed then.
    :state: the parameters given have their new values; the others are kept.
    """


@spec(readonly=True, checks={"pages": _page_sizes,
                             "start_cell": args.non_negative("start cell"),
                             "cell_count": args.positive("cell count")})
def virtkit_node_get_free_pages(
    pages: list[int], start_cell: int, cell_count: int
) -> list[list[int]] | None:
    """How many pages of each size are free on NUMA cells ``start_cell`` onwards (virsh
    ``freepages``, libvirt's virNodeGetFreePages).

    :param pages: page sizes in KiB (4, 2048, 1048576...).
    :param start_cell: the first cell.
    :param cell_count: how many cells at most.
    :return: per cell in the range that exists, the free counts in the order of ``pages``
        (0 for a size the host does not have).
    :raises VirtError: INVALID_ARG when ``start_cell`` is beyond the last cell.
    :state: none.
    """


@spec(readonly=False, checks={"pages": _page_sizes, "counts": _counts,
                              "start_cell": args.non_negative("start cell"),
                              "cell_count": args.positive("cell count")})
def virtkit_node_alloc_pages(
    pages: list[int], counts: list[int], start_cell: int, cell_count: int, add: bool
) -> int | None:
    """Reserve huge pages on NUMA cells (virsh ``allocpages``, libvirt's virNodeAllocPages).

    :param pages: page sizes in KiB; ``counts`` the number of each, in the same order.
    :param add: add to the pool of each size instead of setting it.
    :return: how many cells were changed.
    :raises VirtError: INVALID_ARG for a size the host has no pool of, unequal lists or a cell
        out of range; OPERATION_FAILED when a cell has not enough free memory (nothing is
        changed then).
    :state: the cells' pools of those sizes hold the new counts; free memory shrinks
        (or grows) by their size.
    """


@spec(readonly=True)
def virtkit_node_get_security_model() -> SecurityModel | None:
    """The host's security driver (libvirt's virNodeGetSecurityModel).

    :return: a :class:`SecurityModel`; ``model`` is ``none`` when the host has none.
    :raises VirtError: SYSTEM_ERROR when it cannot be read.
    :state: none.
    """
