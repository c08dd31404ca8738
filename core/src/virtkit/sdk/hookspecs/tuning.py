"""Hookspecs for domain statistics and tuning: bulk statistics, job statistics, vcpus and
pinning, vcpus enabled one by one, IOThreads (add, remove, pin, polling parameters), CPU
statistics, tunable parameters (scheduler, memory, NUMA, blkio, block I/O, interface
bandwidth, perf events), the memory statistics period and metadata.

Tunables are libvirt's typed parameters as a flat dict of str, int and bool. ``live`` and
``config`` choose the running guest's values and/or the persistent definition's (neither: live
when active, config when not); ``live`` on an inactive domain and ``config`` on a transient one
are OPERATION_INVALID. A live change of pinning, scheduler or block I/O tunables emits
``domain-tunable`` with the changed parameters under libvirt's names (``cputune.vcpupin0``,
``cputune.weight``, ``blkdeviotune.total_bytes_sec`` and ``blkdeviotune.disk``);
a metadata change emits ``domain-metadata-change`` (type 0 description, 1 title, 2 element,
and the namespace uri).
"""

from __future__ import annotations

from typing import Any

from virtkit.sdk.checks import non_negative, one_of, positive
from virtkit.sdk.hookspecs.markers import spec
from virtkit.sdk.records import DomainRef, DomainStats, IOThreadInfo, VcpuInfo

#: libvirt's statistics groups (virDomainStatsTypes) virtkit knows, in libvirt's order.
STATS_GROUPS = ("state", "cpu-total", "balloon", "vcpu", "interface", "block", "perf",
                "iothread", "dirtyrate")
#: libvirt's memory dirty rate calculation modes, by its flag numbers (0, 1, 2).
DIRTYRATE_MODES = ("page-sampling", "dirty-bitmap", "dirty-ring")
#: The tunable groups and what libvirt calls them.
TUNABLE_GROUPS = ("scheduler", "memory", "numa", "blkio", "block_iotune", "interface", "perf")
#: Metadata types, by libvirt's numbers (virDomainMetadataType).
METADATA_TYPES = ("description", "title", "element")
#: libvirt's IOThread parameters (virDomainSetIOThreadParams's VIR_DOMAIN_IOTHREAD_*), all
#: non-negative integers.
IOTHREAD_PARAMS = ("poll_max_ns", "poll_grow", "poll_shrink", "thread_pool_min",
                   "thread_pool_max")
#: libvirt's "unlimited" for memory tunables (VIR_DOMAIN_MEMORY_PARAM_UNLIMITED), in KiB.
UNLIMITED = 9007199254740991


def _groups(value: Any, op: str) -> Any:
    from virtkit.sdk.errors import invalid_arg

    for item in value:
        if item not in STATS_GROUPS:
            raise invalid_arg(f"{op}: unknown statistics group {item!r} "
                              f"(known: {', '.join(STATS_GROUPS)})")
    return value


def _cpumap(value: Any, op: str) -> Any:
    from virtkit.sdk.errors import invalid_arg

    if not value or not any(value) or not all(isinstance(v, bool) for v in value):
        raise invalid_arg(f"{op}: a cpu map is a non-empty list of booleans with at least one "
                          f"CPU set")
    return value


def _params(value: Any, op: str) -> Any:
    from virtkit.sdk.errors import invalid_arg

    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, (str, int, float, bool)):
            raise invalid_arg(f"{op}: parameter {key!r} must be a str, int, float or bool")
    return value


@spec(readonly=True, checks={"groups": _groups})
def virtkit_domain_get_stats(doms: list[DomainRef], groups: list[str]) -> list[DomainStats] | None:
    """Statistics of several domains at once (libvirt's virConnectGetAllDomainStats and
    virDomainListGetStats), as libvirt's typed parameters: ``state.state``, ``cpu.time``,
    ``balloon.current``, ``vcpu.current``, ``vcpu.0.time``, ``net.count``, ``net.0.rx.bytes``,
    ``block.count``, ``block.0.name``, ``block.0.capacity``, ``perf.cmt``,
    ``iothread.count``, ``iothread.1.poll-max-ns``, ``dirtyrate.calc_status``...

    :param doms: the domains, in the order the result follows.
    :param groups: any of ``state``, ``cpu-total``, ``balloon``, ``vcpu``, ``interface``,
        ``block``, ``perf``, ``iothread``, ``dirtyrate`` (the last memory dirty rate
        calculation: ``dirtyrate.calc_status`` 0 unstarted, 1 measuring, 2 measured,
        ``calc_start_time``, ``calc_period``, ``calc_mode``, ``megabytes_per_second`` once
        measured, ``vcpu.N.megabytes_per_second`` in ``dirty-ring`` mode); ``[]`` for every
        group the driver supports.
    :return: one :class:`~virtkit.sdk.records.DomainStats` per domain; an inactive domain has
        only what it has without running (state, balloon maximum, vcpu counts, disks' sizes).
    :raises VirtError: NO_DOMAIN for a domain that no longer exists; INVALID_ARG for an unknown
        group.
    :state: none.
    """


def _dirtyrate_seconds(value: Any, op: str) -> Any:
    from virtkit.sdk.errors import invalid_arg

    if not 1 <= value <= 60:
        raise invalid_arg(f"{op}: seconds {value} must be from 1 to 60")
    return value


@spec(readonly=False, checks={"seconds": _dirtyrate_seconds,
                              "mode": one_of("dirty rate calculation mode", DIRTYRATE_MODES)})
def virtkit_domain_start_dirty_rate_calc(dom: DomainRef, seconds: int, mode: str) -> bool | None:
    """Start measuring how fast the running guest dirties its memory over ``seconds``
    (libvirt's virDomainStartDirtyRateCalc); the result is the ``dirtyrate`` statistics group.

    :param mode: ``page-sampling`` (sampled pages), ``dirty-bitmap`` or ``dirty-ring`` (per
        vcpu rates as well).
    :return: True.
    :raises VirtError: INVALID_ARG for seconds outside 1-60 or an unknown mode;
        OPERATION_INVALID when not running.
    :state: a calculation is measuring (a new one replaces the last result) until its period
        ends.
    """


@spec(readonly=True)
def virtkit_domain_get_job_stats(dom: DomainRef, completed: bool) -> dict[str, Any] | None:
    """The current (or with ``completed`` the last completed) job's statistics as libvirt's
    typed parameters: ``type`` (0 none ... 5 cancelled), ``operation``, ``time_elapsed`` (ms),
    ``data_total``, ``data_processed``, ``data_remaining`` (bytes).

    :return: at least ``{"type": 0}`` when there is no such job.
    :raises VirtError: NO_DOMAIN.
    :state: none.
    """


@spec(readonly=True)
def virtkit_domain_get_vcpu_info(dom: DomainRef) -> list[VcpuInfo] | None:
    """Each active vcpu: number, state, cpu time and the host CPU it runs on.

    :raises VirtError: OPERATION_INVALID when not running.
    :state: none.
    """


@spec(readonly=True)
def virtkit_domain_get_vcpu_pin_info(dom: DomainRef, config: bool) -> list[list[bool]] | None:
    """Each vcpu's CPU affinity: one boolean per host CPU.

    :param config: the persistent definition's pinning instead of the live one.
    :raises VirtError: NO_DOMAIN.
    :state: none.
    """


@spec(readonly=False, checks={"vcpu": non_negative("vcpu number"), "cpumap": _cpumap})
def virtkit_domain_pin_vcpu(
    dom: DomainRef, vcpu: int, cpumap: list[bool], live: bool, config: bool
) -> bool | None:
    """Pin one vcpu to the host CPUs set in ``cpumap``.

    :return: True.
    :raises VirtError: INVALID_ARG for a vcpu beyond the domain's or a CPU beyond the host's;
        OPERATION_INVALID for ``live`` on an inactive domain (pinning an inactive domain's
        vcpus needs ``config``).
    :state: the vcpu's affinity; event ``domain-tunable`` (``cputune.vcpupinN``).
    """


@spec(readonly=True)
def virtkit_domain_get_emulator_pin_info(dom: DomainRef, config: bool) -> list[bool] | None:
    """The emulator threads' CPU affinity: one boolean per host CPU.

    :raises VirtError: NO_DOMAIN.
    :state: none.
    """


@spec(readonly=False, checks={"cpumap": _cpumap})
def virtkit_domain_pin_emulator(
    dom: DomainRef, cpumap: list[bool], live: bool, config: bool
) -> bool | None:
    """Pin the emulator threads to the host CPUs set in ``cpumap``.

    :return: True.
    :raises VirtError: INVALID_ARG for a CPU beyond the host's; OPERATION_INVALID as for
        ``pin_vcpu``.
    :state: the emulator's affinity; event ``domain-tunable`` (``cputune.emulatorpin``).
    """


def parse_vcpulist(text: str) -> list[int]:
    """libvirt's vcpu list (``0-3,^2,5``) as sorted numbers; ValueError saying what is wrong."""
    wanted: set[int] = set()
    dropped: set[int] = set()
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or not all(parts):
        raise ValueError(f"'{text}' is not a vcpu list such as 0-3,^2")
    for part in parts:
        into = dropped if part.startswith("^") else wanted
        lo, dash, hi = part.lstrip("^").partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()) or (dash and int(hi) < int(lo)):
            raise ValueError(f"'{part}' in '{text}' is not a vcpu number or range")
        into.update(range(int(lo), int(hi if dash else lo) + 1))
    if not wanted - dropped:
        raise ValueError(f"'{text}' names no vcpu")
    return sorted(wanted - dropped)


def check_vcpulist(value: Any, op: str) -> Any:
    """The check of a vcpu list argument (``1-3,^2``): INVALID_ARG naming what is wrong."""
    from virtkit.sdk.errors import invalid_arg

    try:
        parse_vcpulist(value)
    except ValueError as exc:
        raise invalid_arg(f"{op}: {exc}") from None
    return value


def _iothread_params(value: Any, op: str) -> Any:
    from virtkit.sdk.errors import invalid_arg

    if not value:
        raise invalid_arg(f"{op}: no IOThread parameter given (known: "
                          f"{', '.join(IOTHREAD_PARAMS)})")
    for key, item in value.items():
        if key not in IOTHREAD_PARAMS:
            raise invalid_arg(f"{op}: unknown IOThread parameter {key!r} (known: "
                              f"{', '.join(IOTHREAD_PARAMS)})")
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise invalid_arg(f"{op}: IOThread parameter {key!r} must be a non-negative "
                              f"integer, not {item!r}")
    return value


@spec(readonly=False, checks={"vcpumap": check_vcpulist})
def virtkit_domain_set_vcpu(
    dom: DomainRef, vcpumap: str, enable: bool, live: bool, config: bool
) -> bool | None:
    """Enable or disable the individual vcpus of ``vcpumap`` (libvirt's list: ``1-3,^2``);
    the domain's current vcpu count follows.

    :return: True.
    :raises VirtError: INVALID_ARG for a list that does not parse, a vcpu beyond the domain's
        maximum, a vcpu that is not hotpluggable (the first), or disabling every vcpu;
        OPERATION_INVALID for ``live`` on an inactive or ``config`` on a transient domain.
    :state: the vcpus' states in the chosen definitions (the XML's
        ``<vcpus><vcpu id enabled hotpluggable/>`` and ``<vcpu current=...>``).
    """


@spec(readonly=True)
def virtkit_domain_get_iothread_info(dom: DomainRef, config: bool) -> list[IOThreadInfo] | None:
    """The domain's IOThreads (``<iothreads>``/``<iothreadids>``) in id order, each with its
    CPU affinity (``<cputune><iothreadpin>``; every host CPU when unpinned).

    :param config: the persistent definition's instead of the live one (the live one when
        running, else the persistent one).
    :return: possibly empty.
    :raises VirtError: NO_DOMAIN.
    :state: none.
    """


@spec(readonly=False, checks={"iothread_id": positive("IOThread id")})
def virtkit_domain_add_iothread(
    dom: DomainRef, iothread_id: int, live: bool, config: bool
) -> bool | None:
    """Add an IOThread with id ``iothread_id``.

    :return: True.
    :raises VirtError: INVALID_ARG when an IOThread already has that id; OPERATION_INVALID for
        ``live`` on an inactive or ``config`` on a transient domain.
    :state: the IOThread in the chosen definitions (``<iothreads>`` counts it,
        ``<iothreadids>`` lists it).
    """


@spec(readonly=False, checks={"iothread_id": positive("IOThread id")})
def virtkit_domain_del_iothread(
    dom: DomainRef, iothread_id: int, live: bool, config: bool
) -> bool | None:
    """Remove the IOThread ``iothread_id``, with its pinning and parameters.

    :return: True.
    :raises VirtError: INVALID_ARG when there is no such IOThread, or a disk uses it
        (``<driver iothread=...>``); OPERATION_INVALID as for ``add_iothread``.
    :state: the IOThread gone from the chosen definitions.
    """


@spec(readonly=False, checks={"iothread_id": positive("IOThread id"), "cpumap": _cpumap})
def virtkit_domain_pin_iothread(
    dom: DomainRef, iothread_id: int, cpumap: list[bool], live: bool, config: bool
) -> bool | None:
    """Pin the IOThread ``iothread_id`` to the host CPUs set in ``cpumap``.

    :return: True.
    :raises VirtError: INVALID_ARG for an unknown IOThread or a CPU beyond the host's;
        OPERATION_INVALID as for ``add_iothread``.
    :state: the IOThread's affinity; event ``domain-tunable`` (``cputune.iothreadpinN``) for
        a live change.
    """


@spec(readonly=False, checks={"iothread_id": positive("IOThread id"),
                              "params": _iothread_params})
def virtkit_domain_set_iothread_params(
    dom: DomainRef, iothread_id: int, params: dict[str, Any], live: bool, config: bool
) -> bool | None:
    """Set some of an IOThread's parameters: ``poll_max_ns``, ``poll_grow``, ``poll_shrink``,
    ``thread_pool_min``, ``thread_pool_max`` (non-negative integers).

    :return: True.
    :raises VirtError: INVALID_ARG for an unknown IOThread or parameter, a negative value,
        ``thread_pool_min`` above ``thread_pool_max``; OPERATION_INVALID as for
        ``add_iothread``.
    :state: the parameters; the ``iothread`` statistics group reports the live ones
        (``iothread.<id>.poll-max-ns``...).
    """


@spec(readonly=True, checks={"start_cpu": non_negative("start cpu"),
                             "ncpus": non_negative("cpu count")})
def virtkit_domain_get_cpu_stats(
    dom: DomainRef, start_cpu: int, ncpus: int, total: bool
) -> list[dict[str, int]] | None:
    """CPU time the guest used: per host CPU (``cpu_time``, ``vcpu_time`` in ns) from
    ``start_cpu`` for ``ncpus`` CPUs, or with ``total`` one dict (``cpu_time``, ``user_time``,
    ``system_time``).

    :raises VirtError: OPERATION_INVALID when not running; INVALID_ARG for a start beyond the
        host's CPUs.
    :state: none.
    """


@spec(readonly=True)
def virtkit_domain_get_scheduler_type(dom: DomainRef) -> str | None:
    """The scheduler's name (``fair``, ``posix``, ``credit``...).

    :raises VirtError: NO_DOMAIN.
    :state: none.
    """


@spec(readonly=True, checks={"group": one_of("tunable group", TUNABLE_GROUPS)})
def virtkit_domain_get_tunables(
    dom: DomainRef, group: str, device: str | None, config: bool
) -> dict[str, Any] | None:
    """One group of tunable parameters: ``scheduler`` (``weight``, ``cap``, ``cpu_shares``...),
    ``memory`` (``hard_limit``, ``soft_limit``, ``swap_hard_limit`` in KiB; 9007199254740991 is
    unlimited), ``numa`` (``numa_mode`` 0 strict, 1 preferred, 2 interleave, 3 restrictive;
    ``numa_nodeset``), ``blkio`` (``weight``, ``device_weight``...), ``block_iotune`` of the
    disk ``device`` (``total_bytes_sec``, ``read_iops_sec``... ``group_name``), ``interface``
    of the interface ``device`` (``inbound.average``... ``outbound.burst``), ``perf``
    (event name: enabled).

    :param device: the disk or interface for ``block_iotune`` and ``interface``, else None.
    :raises VirtError: INVALID_ARG for an unknown device, or a device with a group that takes
        none.
    :state: none.
    """


@spec(readonly=False, checks={"group": one_of("tunable group", TUNABLE_GROUPS),
                              "params": _params})
def virtkit_domain_set_tunables(
    dom: DomainRef, group: str, device: str | None, params: dict[str, Any], live: bool,
    config: bool,
) -> bool | None:
    """Change some parameters of one tunable group (see ``domain_get_tunables``).

    :return: True.
    :raises VirtError: INVALID_ARG naming an unknown parameter, a value of the wrong type or
        out of range (a soft limit above the hard one, an unknown NUMA mode); OPERATION_INVALID
        for ``live`` on an inactive or ``config`` on a transient domain.
    :state: the parameters in the chosen definitions; event ``domain-tunable`` for a live
        change of scheduler or block I/O tunables.
    """


@spec(readonly=False, checks={"period": non_negative("period in seconds")})
def virtkit_domain_set_memory_stats_period(
    dom: DomainRef, period: int, live: bool, config: bool
) -> bool | None:
    """Collect the balloon's statistics every ``period`` seconds (0 stops).

    :return: True.
    :raises VirtError: OPERATION_INVALID as for tunables.
    :state: the period; ``domain_memory_stats`` reports ``last_update``.
    """


@spec(readonly=True, checks={"type": one_of("metadata type", METADATA_TYPES)})
def virtkit_domain_get_metadata(
    dom: DomainRef, type: str, uri: str | None, config: bool
) -> str | None:
    """The domain's description, title, or its metadata element in namespace ``uri``.

    :raises VirtError: NO_DOMAIN_METADATA "metadata not found" when there is none;
        INVALID_ARG for ``element`` without a uri.
    :state: none.
    """


@spec(readonly=False, checks={"type": one_of("metadata type", METADATA_TYPES)})
def virtkit_domain_set_metadata(
    dom: DomainRef, type: str, metadata: str | None, key: str | None, uri: str | None,
    live: bool, config: bool,
) -> bool | None:
    """Set (None: remove) the description, the title, or the metadata element of namespace
    ``uri`` (an XML element, stored under the namespace prefix ``key``).

    :return: True.
    :raises VirtError: INVALID_ARG for ``element`` without a uri and key, a title with a
        newline; XML_ERROR for a metadata element that is not well-formed; OPERATION_INVALID
        as for tunables.
    :state: the metadata in the chosen definitions (the domain's XML shows it); event
        ``domain-metadata-change``.
    """
