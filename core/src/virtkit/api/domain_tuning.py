"""Statistics and tuning on :class:`~virtkit.api.domain.Domain` (libvirt-python's names in
snake_case), and the bulk statistics calls of :class:`~virtkit.api.connection.Connection`.

Tunable parameters are libvirt's typed parameters as a dict. ``live``/``config`` are libvirt's
AFFECT flags (neither: live when running, config when not); readers take ``config=True`` for
the persistent definition's values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from virtkit.sdk.errors import invalid_arg
from virtkit.sdk.records import DomainRef, DomainSummary

if TYPE_CHECKING:
    from virtkit.api.connection import Connection
    from virtkit.api.domain import Domain

METADATA_TYPES = ("description", "title", "element")


def _metadata_type(value: int | str) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 3:
        return METADATA_TYPES[value]
    if value in METADATA_TYPES:
        return str(value)
    raise invalid_arg(f"unknown metadata type {value!r} (0 description, 1 title, 2 element)")


class TuningMethods:
    """Mixed into Domain."""

    __slots__ = ()
    if TYPE_CHECKING:
        _conn: Connection
        _ref: DomainRef

    # -- jobs, vcpus, cpu ---------------------------------------------------------------------

    def start_dirty_rate_calc(self, seconds: int, flags: int | str = 0) -> None:
        """Measure how fast the running guest dirties its memory over ``seconds`` (1-60);
        ``flags`` is libvirt's mode: 0/``page-sampling``, 1/``dirty-bitmap``,
        2/``dirty-ring``. The result is the ``dirtyrate`` statistics group."""
        from virtkit.sdk.hookspecs.tuning import DIRTYRATE_MODES

        mode = flags
        if isinstance(flags, int) and not isinstance(flags, bool):
            if flags not in (0, 1, 2):
                raise invalid_arg(f"unknown dirty rate calculation mode {flags} (0, 1 or 2)")
            mode = DIRTYRATE_MODES[flags]
        self._conn.hooks.domain_start_dirty_rate_calc(dom=self._ref, seconds=seconds,
                                                      mode=str(mode))

    def job_stats(self, completed: bool = False) -> dict[str, Any]:
        """The current (or last ``completed``) job as libvirt's typed parameters."""
        return self._conn.hooks.domain_get_job_stats(dom=self._ref, completed=completed)

    def vcpus(self) -> tuple[list[tuple[int, int, int, int]], list[tuple[bool, ...]]]:
        """libvirt-python's pair: each vcpu's (number, state, cpu time, cpu), and each vcpu's
        CPU map."""
        info = self._conn.hooks.domain_get_vcpu_info(dom=self._ref)
        pins = self.vcpu_pin_info()
        return ([(v.number, v.state, v.cpu_time, v.cpu) for v in info],
                [pins[v.number] for v in info])

    def vcpu_pin_info(self, config: bool = False) -> list[tuple[bool, ...]]:
        return [tuple(m) for m in
                self._conn.hooks.domain_get_vcpu_pin_info(dom=self._ref, config=config)]

    def pin_vcpu(self, vcpu: int, cpumap: tuple[bool, ...] | list[bool]) -> None:
        """Pin ``vcpu`` to the CPUs set in ``cpumap`` (live when running, else config)."""
        self.pin_vcpu_flags(vcpu, cpumap)

    def pin_vcpu_flags(self, vcpu: int, cpumap: tuple[bool, ...] | list[bool],
                       live: bool = False, config: bool = False) -> None:
        self._conn.hooks.domain_pin_vcpu(dom=self._ref, vcpu=vcpu, cpumap=list(cpumap),
                                         live=live, config=config)

    def emulator_pin_info(self, config: bool = False) -> tuple[bool, ...]:
        return tuple(self._conn.hooks.domain_get_emulator_pin_info(dom=self._ref,
                                                                   config=config))

    def pin_emulator(self, cpumap: tuple[bool, ...] | list[bool], live: bool = False,
                     config: bool = False) -> None:
        self._conn.hooks.domain_pin_emulator(dom=self._ref, cpumap=list(cpumap), live=live,
                                             config=config)

    def set_vcpu(self, vcpumap: str, state: int | bool, live: bool = False,
                 config: bool = False) -> None:
        """Enable (``state`` 1) or disable (0) the vcpus of ``vcpumap`` (``"1-3,^2"``)."""
        self._conn.hooks.domain_set_vcpu(dom=self._ref, vcpumap=vcpumap, enable=bool(state),
                                         live=live, config=config)

    # -- IOThreads -----------------------------------------------------------------------------

    def io_thread_info(self, config: bool = False) -> list[tuple[int, tuple[bool, ...]]]:
        """libvirt-python's list: each IOThread's (id, CPU map)."""
        return [(t.id, tuple(t.cpumap)) for t in
                self._conn.hooks.domain_get_iothread_info(dom=self._ref, config=config)]

    def add_io_thread(self, iothread_id: int, live: bool = False, config: bool = False) -> None:
        self._conn.hooks.domain_add_iothread(dom=self._ref, iothread_id=iothread_id,
                                             live=live, config=config)

    def del_io_thread(self, iothread_id: int, live: bool = False, config: bool = False) -> None:
        self._conn.hooks.domain_del_iothread(dom=self._ref, iothread_id=iothread_id,
                                             live=live, config=config)

    def pin_io_thread(self, iothread_id: int, cpumap: tuple[bool, ...] | list[bool],
                      live: bool = False, config: bool = False) -> None:
        self._conn.hooks.domain_pin_iothread(dom=self._ref, iothread_id=iothread_id,
                                             cpumap=list(cpumap), live=live, config=config)

    def set_io_thread_params(self, iothread_id: int, params: dict[str, int],
                             live: bool = False, config: bool = False) -> None:
        """``poll_max_ns``, ``poll_grow``, ``poll_shrink``, ``thread_pool_min``,
        ``thread_pool_max``."""
        self._conn.hooks.domain_set_iothread_params(dom=self._ref, iothread_id=iothread_id,
                                                    params=dict(params), live=live,
                                                    config=config)

    def get_cpu_stats(self, total: bool, start_cpu: int = 0,
                      ncpus: int = 1 << 16) -> list[dict[str, int]]:
        """Per host CPU (``cpu_time``, ``vcpu_time``), or with ``total`` one dict."""
        return self._conn.hooks.domain_get_cpu_stats(dom=self._ref, start_cpu=start_cpu,
                                                     ncpus=ncpus, total=total)

    # -- tunables -----------------------------------------------------------------------------

    def _get(self, group: str, device: str | None = None,
             config: bool = False) -> dict[str, Any]:
        return self._conn.hooks.domain_get_tunables(dom=self._ref, group=group, device=device,
                                                    config=config)

    def _set(self, group: str, params: dict[str, Any], device: str | None = None,
             live: bool = False, config: bool = False) -> None:
        self._conn.hooks.domain_set_tunables(dom=self._ref, group=group, device=device,
                                             params=dict(params), live=live, config=config)

    def scheduler_type(self) -> tuple[str, int]:
        """(scheduler name, number of its parameters), as libvirt-python's list."""
        name = self._conn.hooks.domain_get_scheduler_type(dom=self._ref)
        return (name, len(self._get("scheduler")))

    def scheduler_parameters(self) -> dict[str, Any]:
        return self._get("scheduler")

    def scheduler_parameters_flags(self, config: bool = False) -> dict[str, Any]:
        return self._get("scheduler", config=config)

    def set_scheduler_parameters(self, params: dict[str, Any]) -> None:
        self._set("scheduler", params)

    def set_scheduler_parameters_flags(self, params: dict[str, Any], live: bool = False,
                                       config: bool = False) -> None:
        self._set("scheduler", params, live=live, config=config)

    def memory_parameters(self, config: bool = False) -> dict[str, Any]:
        """``hard_limit``, ``soft_limit``, ``swap_hard_limit`` in KiB (9007199254740991:
        unlimited)."""
        return self._get("memory", config=config)

    def set_memory_parameters(self, params: dict[str, Any], live: bool = False,
                              config: bool = False) -> None:
        self._set("memory", params, live=live, config=config)

    def numa_parameters(self, config: bool = False) -> dict[str, Any]:
        return self._get("numa", config=config)

    def set_numa_parameters(self, params: dict[str, Any], live: bool = False,
                            config: bool = False) -> None:
        self._set("numa", params, live=live, config=config)

    def blkio_parameters(self, config: bool = False) -> dict[str, Any]:
        return self._get("blkio", config=config)

    def set_blkio_parameters(self, params: dict[str, Any], live: bool = False,
                             config: bool = False) -> None:
        self._set("blkio", params, live=live, config=config)

    def block_io_tune(self, disk: str, config: bool = False) -> dict[str, Any]:
        return self._get("block_iotune", disk, config)

    def set_block_io_tune(self, disk: str, params: dict[str, Any], live: bool = False,
                          config: bool = False) -> None:
        self._set("block_iotune", params, disk, live, config)

    def interface_parameters(self, device: str, config: bool = False) -> dict[str, Any]:
        return self._get("interface", device, config)

    def set_interface_parameters(self, device: str, params: dict[str, Any],
                                 live: bool = False, config: bool = False) -> None:
        self._set("interface", params, device, live, config)

    def perf_events(self, config: bool = False) -> dict[str, Any]:
        return self._get("perf", config=config)

    def set_perf_events(self, params: dict[str, Any], live: bool = False,
                        config: bool = False) -> None:
        self._set("perf", params, live=live, config=config)

    def set_memory_stats_period(self, period: int, live: bool = False,
                                config: bool = False) -> None:
        self._conn.hooks.domain_set_memory_stats_period(dom=self._ref, period=period,
                                                        live=live, config=config)

    # -- metadata -----------------------------------------------------------------------------

    def metadata(self, type: int | str, uri: str | None = None, config: bool = False) -> str:
        """The description (0), title (1) or metadata element of namespace ``uri`` (2)."""
        return self._conn.hooks.domain_get_metadata(dom=self._ref, type=_metadata_type(type),
                                                    uri=uri, config=config)

    def set_metadata(self, type: int | str, metadata: str | None, key: str | None = None,
                     uri: str | None = None, live: bool = False, config: bool = False) -> None:
        """Set (None removes) the description, title or metadata element of ``uri``."""
        self._conn.hooks.domain_set_metadata(dom=self._ref, type=_metadata_type(type),
                                             metadata=metadata, key=key, uri=uri, live=live,
                                             config=config)


# -- the connection's bulk statistics -----------------------------------------------------------

#: get_all_domain_stats's filters and what each keeps (libvirt's GET_ALL_DOMAINS_STATS_* flags)
FILTERS = ("active", "inactive", "persistent", "transient", "running", "paused", "shutoff",
           "other")


def _listed(s: DomainSummary, wanted: set[str]) -> bool:
    if {"active", "inactive"} & wanted and not (
            ("active" in wanted and s.active) or ("inactive" in wanted and not s.active)):
        return False
    if {"persistent", "transient"} & wanted and not (
            ("persistent" in wanted and s.persistent)
            or ("transient" in wanted and not s.persistent)):
        return False
    states = {"running": 1, "paused": 3, "shutoff": 5}
    by_state = wanted & set(states) | wanted & {"other"}
    if not by_state:
        return True
    kind = next((k for k, v in states.items() if v == s.state), "other")
    return kind in by_state


def domain_list_get_stats(conn: Connection, doms: list[Domain],
                          stats: list[str] | None) -> list[tuple[Domain, dict[str, Any]]]:
    from virtkit.api.domain import Domain

    records = conn.hooks.domain_get_stats(doms=[d.ref for d in doms], groups=list(stats or []))
    return [(Domain(conn, r.ref), dict(r.stats)) for r in records]


def get_all_domain_stats(conn: Connection, stats: list[str] | None,
                         filters: dict[str, bool]) -> list[tuple[Domain, dict[str, Any]]]:
    from virtkit.api.domain import Domain

    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise invalid_arg(f"unknown domain filter(s) {sorted(unknown)} (known: "
                          f"{', '.join(FILTERS)})")
    wanted = {k for k, v in filters.items() if v}
    picked = [Domain(conn, s.ref) for s in conn.list_domain_summaries() if _listed(s, wanted)]
    return domain_list_get_stats(conn, picked, stats)
