"""The test driver's statistics and tuning: bulk statistics, job statistics, vcpus and their
pinning, CPU statistics, tunable parameters, the memory statistics period and metadata.

Tunables start at libvirt's test driver's values (scheduler ``fair`` with weight 50, unlimited
memory limits, strict NUMA mode, zero throttles, every perf event disabled) and are kept per
definition: the persistent ones with the domain, the live ones while it runs (a start copies
the persistent ones). Pinning maps cover the test host's CPUs (its node info's count; libvirt's
test driver shows 8 of its 16). Times are synthetic and consistent: each running vcpu is busy
half of the guest's uptime, and the guest's CPU time is its vcpus' plus 5 %. Title, description
and metadata elements live in the domain's XML, as libvirt keeps them.
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any

import attrs

from virtkit.drivers.test.domxml import DomainDef, from_model
from virtkit.sdk import domain_events as ev
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError, not_running
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.hookspecs.tuning import IOTHREAD_PARAMS, STATS_GROUPS, UNLIMITED, parse_vcpulist
from virtkit.sdk.records import DomainRef, DomainStats, IOThreadInfo, VcpuInfo
from virtkit.sdk.states import affected
from virtkit.xml.domain import IoThread, IoThreadIds, VcpuState, VcpuStates

if TYPE_CHECKING:
    from virtkit.drivers.test.node import TestDomain, TestNode

PERF_EVENTS = (
    "cmt", "mbmt", "mbml", "cpu_cycles", "instructions", "cache_references", "cache_misses",
    "branch_instructions", "branch_misses", "bus_cycles", "stalled_cycles_frontend",
    "stalled_cycles_backend", "ref_cpu_cycles", "cpu_clock", "task_clock", "page_faults",
    "context_switches", "cpu_migrations", "page_faults_min", "page_faults_maj",
    "alignment_faults", "emulation_faults",
)
IOTUNE = ("total_bytes_sec", "read_bytes_sec", "write_bytes_sec", "total_iops_sec",
          "read_iops_sec", "write_iops_sec", "total_bytes_sec_max", "read_bytes_sec_max",
          "write_bytes_sec_max", "total_iops_sec_max", "read_iops_sec_max",
          "write_iops_sec_max", "size_iops_sec", "group_name", "total_bytes_sec_max_length",
          "read_bytes_sec_max_length", "write_bytes_sec_max_length",
          "total_iops_sec_max_length", "read_iops_sec_max_length",
          "write_iops_sec_max_length")

#: Each group's parameters and libvirt's test driver's values, in virsh's order.
DEFAULTS: dict[str, dict[str, Any]] = {
    "scheduler": {"weight": 50},
    "memory": {"hard_limit": UNLIMITED, "soft_limit": UNLIMITED, "swap_hard_limit": UNLIMITED},
    "numa": {"numa_mode": 0, "numa_nodeset": ""},
    "blkio": {"weight": 0, "device_weight": "", "device_read_iops_sec": "",
              "device_write_iops_sec": "", "device_read_bytes_sec": "",
              "device_write_bytes_sec": ""},
    "block_iotune": {k: ("" if k == "group_name" else 0) for k in IOTUNE},
    "interface": {"inbound.average": 0, "inbound.peak": 0, "inbound.burst": 0,
                  "inbound.floor": 0, "outbound.average": 0, "outbound.peak": 0,
                  "outbound.burst": 0},
    "perf": {e: False for e in PERF_EVENTS},
}
#: libvirt's prefixes of the tunable event's parameters, for the groups that emit one
EVENT_PREFIX = {"scheduler": "cputune.", "block_iotune": "blkdeviotune."}
#: libvirt's job operations (virDomainJobOperation) by virtkit's job names
#: an IOThread's parameters until set (QEMU's polling defaults; no thread pool limits)
IOTHREAD_DEFAULTS = {"poll_max_ns": 32768, "poll_grow": 0, "poll_shrink": 0,
                     "thread_pool_min": 0, "thread_pool_max": 0}
JOB_OPERATIONS = {"save": 2, "managed save": 2, "restore": 3, "migration": 5, "dump": 8}


def _invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, message, ErrorDomain.TEST)


def _bad(message: str) -> VirtError:
    return VirtError(ErrorCode.INVALID_ARG, f"invalid argument: {message}", ErrorDomain.TEST)


#: how fast each vcpu of a running test guest dirties its memory, MiB/s
DIRTY_MIB_PER_VCPU = 4


def _uptime(d: TestDomain) -> float:
    return max(time.monotonic() - d.started_at, 0.0) if d.status.active else 0.0


class TuningMixin:
    """Statistics and tuning hooks of the test driver."""

    if TYPE_CHECKING:

        @property
        def _node(self) -> TestNode: ...

        def _dev(self, d: TestDomain, item: Any) -> dict[str, Any]: ...
        def _find_disk(self, d: TestDomain, disk: str) -> Any: ...
        def virtkit_domain_block_stats(self, dom: DomainRef, device: str) -> dict[str, int]: ...
        def virtkit_domain_interface_stats(
            self, dom: DomainRef, device: str) -> dict[str, int]: ...
        def virtkit_domain_memory_stats(self, dom: DomainRef) -> dict[str, int]: ...

    # -- scope: the live and/or persistent settings --------------------------------------------

    def _scope(self, d: TestDomain, live: bool, config: bool) -> tuple[bool, bool]:
        return affected(d.name, d.status.active, d.status.persistent, live, config,
                        ErrorDomain.TEST)

    def _targets(self, d: TestDomain, live: bool, config: bool) -> list[bool]:
        """The definitions a change reaches, as ``live`` flags: [True] (the live one),
        [False] (the persistent one) or both, live first (see :meth:`_scope`)."""
        do_live, do_config = self._scope(d, live, config)
        return [t for t, on in ((True, do_live), (False, do_config)) if on]

    @staticmethod
    def _store(d: TestDomain, live: bool, key: str) -> dict[str, Any]:
        """The live (runtime) or persistent settings under ``key``; the live ones start as a
        copy of the persistent ones."""
        config: dict[str, Any] = d.settings.setdefault(key, {})
        if not live:
            return config
        if key not in d.runtime:
            d.runtime[key] = copy.deepcopy(config)
        found: dict[str, Any] = d.runtime[key]
        return found

    def _reading(self, d: TestDomain, config: bool) -> bool:
        """Whether a read sees the live settings."""
        return d.status.active and not config

    # -- tunables -------------------------------------------------------------------------------

    def _device_key(self, d: TestDomain, group: str, device: str | None) -> str:
        if group not in ("block_iotune", "interface"):
            if device is not None:
                raise _bad(f"the {group} tunables take no device")
            return ""
        if device is None:
            raise _bad(f"the {group} tunables need a device")
        if group == "block_iotune":
            return str(self._find_disk(d, device).target.dev)
        devices = d.current.model.devices
        for index, iface in enumerate(devices.interfaces if devices else ()):
            names = {iface.mac.address if iface.mac else None,
                     iface.target.dev if iface.target is not None else None, f"vnet{index}"}
            if device in names:
                return iface.mac.address if iface.mac else f"vnet{index}"
        raise _bad(f"'{device}' is not a known interface of domain '{d.name}'")

    def _values(self, d: TestDomain, live: bool, group: str, key: str) -> dict[str, Any]:
        store = self._store(d, live, "tunables").setdefault(group, {})
        if key not in store:
            store[key] = dict(DEFAULTS[group])
        found: dict[str, Any] = store[key]
        return found

    @hookimpl
    def virtkit_domain_get_tunables(
        self, dom: DomainRef, group: str, device: str | None, config: bool
    ) -> dict[str, Any]:
        with self._node.lock:
            d = self._node.find(dom)
            key = self._device_key(d, group, device)
            return dict(self._values(d, self._reading(d, config), group, key))

    @staticmethod
    def _check_values(d: TestDomain, group: str, new: dict[str, Any], nodes: int) -> None:
        for name, value in new.items():
            default = DEFAULTS[group].get(name)
            if default is None:
                raise _bad(f"unknown parameter '{name}' for {group} tuning of domain "
                           f"'{d.name}' (known: {', '.join(DEFAULTS[group])})")
            if type(value) is not type(default):
                raise _bad(f"parameter '{name}' for {group} tuning must be "
                           f"{type(default).__name__}, not {type(value).__name__}")
            if isinstance(value, int) and not isinstance(value, bool) and value < 0:
                raise _bad(f"parameter '{name}' for {group} tuning must not be negative")
        if group == "memory":
            hard, soft, swap = new["hard_limit"], new["soft_limit"], new["swap_hard_limit"]
            if soft != UNLIMITED and soft > hard:
                raise _bad(f"memory soft_limit {soft} KiB is above hard_limit {hard} KiB")
            if hard > swap:
                raise _bad(f"memory hard_limit {hard} KiB is above swap_hard_limit {swap} KiB")
        if group == "numa":
            if new["numa_mode"] not in (0, 1, 2, 3):
                raise _bad(f"unknown NUMA mode {new['numa_mode']} (0 strict, 1 preferred, "
                           f"2 interleave, 3 restrictive)")
            for node in _cpulist(new["numa_nodeset"], "NUMA nodeset"):
                if node >= nodes:
                    raise _bad(f"NUMA node {node} is beyond the host's {nodes} nodes")
        if group == "block_iotune":
            for kind in ("bytes_sec", "iops_sec"):
                if new[f"total_{kind}"] and (new[f"read_{kind}"] or new[f"write_{kind}"]):
                    raise _bad(f"total_{kind} cannot be set together with read_{kind} or "
                               f"write_{kind}")

    @hookimpl
    def virtkit_domain_set_tunables(
        self, dom: DomainRef, group: str, device: str | None, params: dict[str, Any],
        live: bool, config: bool,
    ) -> bool:
        node = self._node
        with node.lock:
            d = node.find(dom)
            key = self._device_key(d, group, device)
            targets = self._targets(d, live, config)
            for target in targets:  # check both before changing either
                merged = {**self._values(d, target, group, key), **params}
                self._check_values(d, group, merged, node.info.nodes)
            for target in targets:
                self._values(d, target, group, key).update(params)
            prefix = EVENT_PREFIX.get(group)
            if prefix is not None and True in targets:
                changed = {f"{prefix}{k}": v for k, v in params.items()}
                if group == "block_iotune":
                    changed[f"{prefix}disk"] = key
                node.emit(ev.domain_event("domain-tunable", d.ref, params=changed))
            return True

    @hookimpl
    def virtkit_domain_get_scheduler_type(self, dom: DomainRef) -> str:
        with self._node.lock:
            self._node.find(dom)
            return "fair"

    @hookimpl
    def virtkit_domain_set_memory_stats_period(
        self, dom: DomainRef, period: int, live: bool, config: bool
    ) -> bool:
        with self._node.lock:
            d = self._node.find(dom)
            do_live, do_config = self._scope(d, live, config)
            for target, on in ((True, do_live), (False, do_config)):
                if on:
                    self._store(d, target, "memstats")["period"] = period
            return True

    # -- vcpus and pinning ----------------------------------------------------------------------

    def _host_cpus(self) -> int:
        return int(self._node.info.cpus)

    def _pins(self, d: TestDomain, live: bool) -> dict[str, Any]:
        pins = self._store(d, live, "pins")
        cpus = self._host_cpus()
        pins.setdefault("vcpu", {})
        pins.setdefault("emulator", [True] * cpus)
        return pins

    def _vcpu_map(self, d: TestDomain, live: bool, vcpu: int) -> list[bool]:
        found: list[bool] = self._pins(d, live)["vcpu"].get(str(vcpu),
                                                             [True] * self._host_cpus())
        return found

    def _check_map(self, cpumap: list[bool]) -> list[bool]:
        cpus = self._host_cpus()
        if any(cpumap[cpus:]):
            raise _bad(f"CPU {cpumap.index(True, cpus)} is beyond the host's {cpus} CPUs")
        return (list(cpumap) + [False] * cpus)[:cpus]

    @hookimpl
    def virtkit_domain_get_vcpu_pin_info(self, dom: DomainRef, config: bool) -> list[list[bool]]:
        with self._node.lock:
            d = self._node.find(dom)
            live = self._reading(d, config)
            defn = d.current if live else d.definition
            return [list(self._vcpu_map(d, live, i)) for i in range(defn.max_vcpus)]

    @hookimpl
    def virtkit_domain_pin_vcpu(
        self, dom: DomainRef, vcpu: int, cpumap: list[bool], live: bool, config: bool
    ) -> bool:
        node = self._node
        with node.lock:
            d = node.find(dom)
            if vcpu >= d.current.max_vcpus:
                raise _bad(f"vcpu {vcpu} is beyond domain '{d.name}''s "
                           f"{d.current.max_vcpus} vcpus")
            wanted = self._check_map(cpumap)
            do_live, do_config = self._scope(d, live, config)
            for target, on in ((True, do_live), (False, do_config)):
                if on:
                    self._pins(d, target)["vcpu"][str(vcpu)] = wanted
            if do_live:
                node.emit(ev.domain_event("domain-tunable", d.ref, params={
                    f"cputune.vcpupin{vcpu}": cpulist_text(wanted)}))
            return True

    @hookimpl
    def virtkit_domain_get_emulator_pin_info(self, dom: DomainRef, config: bool) -> list[bool]:
        with self._node.lock:
            d = self._node.find(dom)
            return list(self._pins(d, self._reading(d, config))["emulator"])

    @hookimpl
    def virtkit_domain_pin_emulator(
        self, dom: DomainRef, cpumap: list[bool], live: bool, config: bool
    ) -> bool:
        node = self._node
        with node.lock:
            d = node.find(dom)
            wanted = self._check_map(cpumap)
            do_live, do_config = self._scope(d, live, config)
            for target, on in ((True, do_live), (False, do_config)):
                if on:
                    self._pins(d, target)["emulator"] = wanted
            if do_live:
                node.emit(ev.domain_event("domain-tunable", d.ref, params={
                    "cputune.emulatorpin": cpulist_text(wanted)}))
            return True

    # -- vcpus one by one --------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_set_vcpu(
        self, dom: DomainRef, vcpumap: str, enable: bool, live: bool, config: bool
    ) -> bool:
        wanted = parse_vcpulist(vcpumap)
        with self._node.lock:
            d = self._node.find(dom)
            targets = self._targets(d, live, config)
            changed: list[tuple[bool, DomainDef]] = []
            for target in targets:  # both checked before either changes
                defn = self._iothread_def(d, target)
                beyond = [v for v in wanted if v >= defn.max_vcpus]
                if beyond:
                    raise _bad(f"vcpu {beyond[0]} is beyond domain '{d.name}''s "
                               f"{defn.max_vcpus} vcpus")
                if 0 in wanted:
                    raise _bad(f"vcpu 0 of domain '{d.name}' is not hotpluggable")
                now = set(enabled_vcpus(defn))
                after = now | set(wanted) if enable else now - set(wanted)
                changed.append((target, _with_vcpus(defn, after)))
            for target, new in changed:
                if target:
                    d.live = new
                else:
                    d.definition = new
            return True

    # -- IOThreads ------------------------------------------------------------------------------

    @staticmethod
    def _iothread_ids(defn: DomainDef) -> list[int]:
        """The definition's IOThread ids in order: those listed, then the lowest free ids up
        to ``<iothreads>``'s count."""
        model = defn.model
        ids = [t.id for t in model.iothreadids.iothreads] if model.iothreadids else []
        free = 1
        while len(ids) < (model.iothreads or 0):
            while free in ids:
                free += 1
            ids.append(free)
        return sorted(ids)

    def _iothread_def(self, d: TestDomain, live: bool) -> DomainDef:
        return d.current if live else d.definition

    def _set_iothreads(self, d: TestDomain, live: bool, ids: list[int]) -> None:
        model = self._iothread_def(d, live).model
        new = from_model(attrs.evolve(
            model, iothreads=len(ids) or None,
            iothreadids=IoThreadIds(iothreads=tuple(IoThread(id=i) for i in sorted(ids)))
            if ids else None))
        if live:
            d.live = new
        else:
            d.definition = new

    def _known_iothread(self, d: TestDomain, live: bool, iothread_id: int) -> None:
        if iothread_id not in self._iothread_ids(self._iothread_def(d, live)):
            raise _bad(f"domain '{d.name}' has no IOThread {iothread_id}")

    def _iothread_pins(self, d: TestDomain, live: bool) -> dict[str, list[bool]]:
        found: dict[str, list[bool]] = self._pins(d, live).setdefault("iothread", {})
        return found

    @hookimpl
    def virtkit_domain_get_iothread_info(
        self, dom: DomainRef, config: bool
    ) -> list[IOThreadInfo]:
        with self._node.lock:
            d = self._node.find(dom)
            live = self._reading(d, config)
            pins = self._iothread_pins(d, live)
            every = [True] * self._host_cpus()
            return [IOThreadInfo(i, list(pins.get(str(i), every)))
                    for i in self._iothread_ids(self._iothread_def(d, live))]

    @hookimpl
    def virtkit_domain_add_iothread(
        self, dom: DomainRef, iothread_id: int, live: bool, config: bool
    ) -> bool:
        with self._node.lock:
            d = self._node.find(dom)
            targets = self._targets(d, live, config)
            for target in targets:  # check both before changing either
                if iothread_id in self._iothread_ids(self._iothread_def(d, target)):
                    raise _bad(f"domain '{d.name}' already has an IOThread with id "
                               f"{iothread_id}")
            for target in targets:
                ids = self._iothread_ids(self._iothread_def(d, target))
                self._set_iothreads(d, target, [*ids, iothread_id])
            return True

    @hookimpl
    def virtkit_domain_del_iothread(
        self, dom: DomainRef, iothread_id: int, live: bool, config: bool
    ) -> bool:
        with self._node.lock:
            d = self._node.find(dom)
            targets = self._targets(d, live, config)
            for target in targets:
                self._known_iothread(d, target, iothread_id)
                devices = self._iothread_def(d, target).model.devices
                for disk in devices.disks if devices else ():
                    if disk.driver is not None and disk.driver.iothread == iothread_id:
                        raise _bad(f"IOThread {iothread_id} of domain '{d.name}' is used by "
                                   f"disk '{disk.target.dev}'")
            for target in targets:
                ids = self._iothread_ids(self._iothread_def(d, target))
                self._set_iothreads(d, target, [i for i in ids if i != iothread_id])
                self._iothread_pins(d, target).pop(str(iothread_id), None)
                self._store(d, target, "iothread_params").pop(str(iothread_id), None)
            return True

    @hookimpl
    def virtkit_domain_pin_iothread(
        self, dom: DomainRef, iothread_id: int, cpumap: list[bool], live: bool, config: bool
    ) -> bool:
        node = self._node
        with node.lock:
            d = node.find(dom)
            wanted = self._check_map(cpumap)
            targets = self._targets(d, live, config)
            for target in targets:
                self._known_iothread(d, target, iothread_id)
            for target in targets:
                self._iothread_pins(d, target)[str(iothread_id)] = wanted
            if True in targets:
                node.emit(ev.domain_event("domain-tunable", d.ref, params={
                    f"cputune.iothreadpin{iothread_id}": cpulist_text(wanted)}))
            return True

    def _iothread_values(self, d: TestDomain, live: bool, iothread_id: int) -> dict[str, int]:
        found: dict[str, int] = self._store(d, live, "iothread_params").setdefault(
            str(iothread_id), dict(IOTHREAD_DEFAULTS))
        return found

    @hookimpl
    def virtkit_domain_set_iothread_params(
        self, dom: DomainRef, iothread_id: int, params: dict[str, Any], live: bool,
        config: bool,
    ) -> bool:
        with self._node.lock:
            d = self._node.find(dom)
            targets = self._targets(d, live, config)
            for target in targets:
                self._known_iothread(d, target, iothread_id)
                merged = {**self._iothread_values(d, target, iothread_id), **params}
                if merged["thread_pool_max"] and \
                        merged["thread_pool_min"] > merged["thread_pool_max"]:
                    raise _bad(f"IOThread {iothread_id} of domain '{d.name}': "
                               f"thread_pool_min {merged['thread_pool_min']} is above "
                               f"thread_pool_max {merged['thread_pool_max']}")
            for target in targets:
                self._iothread_values(d, target, iothread_id).update(params)
            return True

    def _vcpus(self, d: TestDomain) -> list[VcpuInfo]:
        busy = int(_uptime(d) * 1e9 / 2)
        out = []
        for i in enabled_vcpus(d.current):
            cpumap = self._vcpu_map(d, True, i)
            cpu = max(n for n, on in enumerate(cpumap) if on)
            out.append(VcpuInfo(i, 1, busy, cpu))
        return out

    @hookimpl
    def virtkit_domain_get_vcpu_info(self, dom: DomainRef) -> list[VcpuInfo]:
        with self._node.lock:
            d = self._node.find(dom)
            if not d.status.active:
                raise not_running(d.name, ErrorDomain.TEST)
            return self._vcpus(d)

    @hookimpl
    def virtkit_domain_get_cpu_stats(
        self, dom: DomainRef, start_cpu: int, ncpus: int, total: bool
    ) -> list[dict[str, int]]:
        with self._node.lock:
            d = self._node.find(dom)
            if not d.status.active:
                raise not_running(d.name, ErrorDomain.TEST)
            vcpus = self._vcpus(d)
            spent = sum(v.cpu_time for v in vcpus)
            if total:
                cpu = spent * 105 // 100
                return [{"cpu_time": cpu, "user_time": cpu * 8 // 10,
                         "system_time": cpu * 2 // 10}]
            cpus = self._host_cpus()
            if start_cpu >= cpus:
                raise _bad(f"start cpu {start_cpu} is beyond the host's {cpus} CPUs")
            out = []
            for n in range(start_cpu, min(cpus, start_cpu + ncpus)):
                on_it = sum(v.cpu_time for v in vcpus if v.cpu == n)
                out.append({"cpu_time": on_it * 105 // 100, "vcpu_time": on_it})
            return out

    # -- statistics -----------------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_get_stats(
        self, doms: list[DomainRef], groups: list[str]
    ) -> list[DomainStats]:
        wanted = [g for g in STATS_GROUPS if not groups or g in groups]
        with self._node.lock:
            return [DomainStats(self._node.find(ref).ref,
                                self._stats(self._node.find(ref), wanted)) for ref in doms]

    def _stats(self, d: TestDomain, groups: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        active = d.status.active
        ref = d.ref
        if "state" in groups:
            out["state.state"] = int(d.status.state)
            out["state.reason"] = int(d.status.reason)
        if "cpu-total" in groups and active:
            vcpu_time = sum(v.cpu_time for v in self._vcpus(d))
            cpu = vcpu_time * 105 // 100
            out.update({"cpu.time": cpu, "cpu.user": cpu * 8 // 10,
                        "cpu.system": cpu * 2 // 10})
        if "balloon" in groups:
            out["balloon.current"] = d.memory if active else d.definition.current_memory
            out["balloon.maximum"] = d.current.memory
            if active:
                for key, value in self.virtkit_domain_memory_stats(ref).items():
                    if key != "actual":
                        out[f"balloon.{key}"] = value
                if self._store(d, True, "memstats").get("period"):
                    out["balloon.last-update"] = int(time.time())
        if "vcpu" in groups:
            out["vcpu.current"] = d.current.vcpus
            out["vcpu.maximum"] = d.current.max_vcpus
            if active:
                for v in self._vcpus(d):
                    out[f"vcpu.{v.number}.state"] = v.state
                    out[f"vcpu.{v.number}.time"] = v.cpu_time
                    out[f"vcpu.{v.number}.wait"] = 0
        devices = d.current.model.devices
        if "interface" in groups:
            ifaces = list(devices.interfaces if devices else ())
            out["net.count"] = len(ifaces)
            for i, iface in enumerate(ifaces):
                name = iface.target.dev if iface.target is not None and iface.target.dev \
                    else f"vnet{i}"
                out[f"net.{i}.name"] = name
                if active and iface.mac is not None:
                    numbers = self.virtkit_domain_interface_stats(ref, iface.mac.address)
                    for key, field in (("rx_bytes", "rx.bytes"), ("rx_packets", "rx.pkts"),
                                       ("rx_errs", "rx.errs"), ("rx_drop", "rx.drop"),
                                       ("tx_bytes", "tx.bytes"), ("tx_packets", "tx.pkts"),
                                       ("tx_errs", "tx.errs"), ("tx_drop", "tx.drop")):
                        out[f"net.{i}.{field}"] = numbers[key]
        if "block" in groups:
            disks = list(devices.disks if devices else ())
            out["block.count"] = len(disks)
            for i, disk in enumerate(disks):
                target = disk.target.dev
                out[f"block.{i}.name"] = target
                source = disk.source
                path = source.file or source.dev if source is not None else None
                if path:
                    out[f"block.{i}.path"] = path
                if active:
                    numbers = self.virtkit_domain_block_stats(ref, target)
                    out[f"block.{i}.rd.reqs"] = numbers["rd_req"]
                    out[f"block.{i}.rd.bytes"] = numbers["rd_bytes"]
                    out[f"block.{i}.wr.reqs"] = numbers["wr_req"]
                    out[f"block.{i}.wr.bytes"] = numbers["wr_bytes"]
                    out[f"block.{i}.errors"] = numbers["errs"]
                sizes = self._dev(d, disk)
                out[f"block.{i}.allocation"] = sizes["allocation"]
                out[f"block.{i}.capacity"] = sizes["capacity"]
                out[f"block.{i}.physical"] = sizes["physical"]
        ids = self._iothread_ids(d.current) if "iothread" in groups and active else []
        if ids:  # as QEMU's: nothing for a guest without IOThreads
            out["iothread.count"] = len(ids)
            for i in ids:
                values = self._iothread_values(d, True, i)
                for key in IOTHREAD_PARAMS:
                    out[f"iothread.{i}.{key.replace('_', '-')}"] = values[key]
        calc = d.runtime.get("dirtyrate") if active else None
        if "dirtyrate" in groups and calc is not None:
            out.update(self._dirtyrate(d, calc))
        if "perf" in groups and active:
            enabled = self._values(d, True, "perf", "")
            ticks = int(_uptime(d) * 1000)
            for event_name, on in enabled.items():
                if on:
                    out[f"perf.{event_name}"] = ticks
        return out

    @hookimpl
    def virtkit_domain_start_dirty_rate_calc(self, dom: DomainRef, seconds: int,
                                             mode: str) -> bool:
        with self._node.lock:
            d = self._node.find(dom)
            if not d.status.active:
                raise not_running(d.name, ErrorDomain.TEST)
            d.runtime["dirtyrate"] = {"start": int(time.time()), "began": time.monotonic(),
                                      "period": seconds, "mode": mode}
            return True

    def _dirtyrate(self, d: TestDomain, calc: dict[str, Any]) -> dict[str, Any]:
        """The ``dirtyrate`` group: measuring until the period ends; then each vcpu has
        dirtied 4 MiB/s (the test guest's steady rate)."""
        measured = time.monotonic() - calc["began"] >= calc["period"]
        out: dict[str, Any] = {
            "dirtyrate.calc_status": 2 if measured else 1,
            "dirtyrate.calc_start_time": calc["start"],
            "dirtyrate.calc_period": calc["period"],
            "dirtyrate.calc_mode": calc["mode"],
        }
        if measured:
            vcpus = self._vcpus(d)
            out["dirtyrate.megabytes_per_second"] = DIRTY_MIB_PER_VCPU * len(vcpus)
            if calc["mode"] == "dirty-ring":
                for v in vcpus:
                    out[f"dirtyrate.vcpu.{v.number}.megabytes_per_second"] = DIRTY_MIB_PER_VCPU
        return out

    @hookimpl
    def virtkit_domain_get_job_stats(self, dom: DomainRef, completed: bool) -> dict[str, Any]:
        with self._node.lock:
            d = self._node.find(dom)
            job = None if completed else (d.job.info() if d.job is not None else None)
            if completed:
                job = d.last_job
            if job is None:
                return {"type": 0}
            return {"type": job.type, "operation": JOB_OPERATIONS.get(job.operation, 0),
                    "time_elapsed": job.time_elapsed_ms, "data_total": job.data_total,
                    "data_processed": job.data_processed,
                    "data_remaining": job.data_remaining}

    # -- metadata -------------------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_get_metadata(
        self, dom: DomainRef, type: str, uri: str | None, config: bool
    ) -> str:
        with self._node.lock:
            d = self._node.find(dom)
            model = (d.current if self._reading(d, config) else d.definition).model
            found: str | None
            if type == "title":
                found = model.title
            elif type == "description":
                found = model.description
            else:
                if not uri:
                    raise _bad("element metadata needs a namespace uri")
                found = next((_plain(x) for x in model.metadata if _namespace(x) == uri), None)
            if found is None:
                raise VirtError(ErrorCode.NO_DOMAIN_METADATA, "metadata not found: Requested "
                                "metadata element is not present", ErrorDomain.TEST)
            return found

    @hookimpl
    def virtkit_domain_set_metadata(
        self, dom: DomainRef, type: str, metadata: str | None, key: str | None,
        uri: str | None, live: bool, config: bool,
    ) -> bool:
        changes: dict[str, Any] = {}
        item: str | None = None
        if type == "title" and metadata is not None and "\n" in metadata:
            raise _bad("a domain title cannot contain a newline")
        if type == "element":
            if not uri or (metadata is not None and not key):
                raise _bad("element metadata needs a namespace uri and a key (its prefix)")
            if metadata is not None:
                item = _qualified(metadata, key or "", uri)
        node = self._node
        with node.lock:
            d = node.find(dom)
            do_live, do_config = self._scope(d, live, config)
            for target, on in ((True, do_live), (False, do_config)):
                if not on:
                    continue
                defn = d.current if target else d.definition
                model = defn.model
                if type == "element":
                    kept = tuple(x for x in model.metadata if _namespace(x) != uri)
                    changes = {"metadata": kept + ((item,) if item is not None else ())}
                else:
                    changes = {type: metadata or None}
                new = from_model(attrs.evolve(model, **changes))
                if target:
                    d.live = new
                else:
                    d.definition = new
            node.emit(ev.domain_event("domain-metadata-change", d.ref,
                                      type=("description", "title", "element").index(type),
                                      nsuri=uri if type == "element" else None))
            return True


# -- helpers ------------------------------------------------------------------------------------


def enabled_vcpus(defn: DomainDef) -> list[int]:
    """The definition's enabled vcpus: those ``<vcpus>`` enables when it lists as many as the
    current count, else the first ``current``."""
    states = defn.model.vcpus
    if states is not None:
        listed = sorted(v.id for v in states.vcpus if v.enabled is not False)
        if len(listed) == defn.vcpus:
            return listed
    return list(range(defn.vcpus))


def _with_vcpus(defn: DomainDef, enabled: set[int]) -> DomainDef:
    """The definition with exactly ``enabled`` vcpus on, listed in ``<vcpus>`` (the first
    not hotpluggable, as QEMU's), the current count following."""
    model = defn.model
    maximum = defn.max_vcpus
    vcpu = model.vcpu
    assert vcpu is not None  # a defaults-filled definition always has one
    order = iter(range(1, maximum + 1))
    states = VcpuStates(vcpus=tuple(
        VcpuState(id=i, enabled=i in enabled, hotpluggable=i != 0,
                  order=next(order) if i in enabled else None) for i in range(maximum)))
    count = len(enabled)
    return from_model(attrs.evolve(
        model, vcpus=states,
        vcpu=attrs.evolve(vcpu, current=None if count == maximum else count)))



def cpulist_text(cpumap: list[bool]) -> str:
    """A CPU map as libvirt's list: ``0-3,8``."""
    out: list[str] = []
    n = 0
    while n < len(cpumap):
        if cpumap[n]:
            start = n
            while n + 1 < len(cpumap) and cpumap[n + 1]:
                n += 1
            out.append(str(start) if start == n else f"{start}-{n}")
        n += 1
    return ",".join(out)


def _cpulist(text: str, what: str) -> list[int]:
    """libvirt's list syntax (``0-3,8``) as numbers; INVALID_ARG naming ``what``."""
    out: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, _, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi or lo)
        except ValueError:
            raise _bad(f"'{text}' is not a valid {what}") from None
        if first < 0 or last < first:
            raise _bad(f"'{text}' is not a valid {what}")
        out.extend(range(first, last + 1))
    return out


def _parse(text: str) -> Any:
    from virtkit.xml.parser import parse_document

    return parse_document(text, "metadata")


def _namespace(serialized: str) -> str | None:
    tag = _parse(serialized).tag
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else None


def _qualified(text: str, key: str, uri: str) -> str:
    """The element of ``text`` moved into namespace ``uri`` with prefix ``key``."""
    from lxml import etree

    root = _parse(text)
    out = etree.Element(f"{{{uri}}}{etree.QName(root).localname}", nsmap={key: uri})
    for name, value in root.attrib.items():
        out.set(name, value)
    out.text = root.text
    for child in root:
        out.append(_requalify(child, uri))
    return etree.tostring(out, encoding="unicode")


def _requalify(element: Any, uri: str) -> Any:
    from lxml import etree

    out = etree.Element(f"{{{uri}}}{etree.QName(element).localname}")
    for name, value in element.attrib.items():
        out.set(name, value)
    out.text, out.tail = element.text, element.tail
    for child in element:
        out.append(_requalify(child, uri))
    return out


def _plain(serialized: str) -> str:
    """A stored metadata element as libvirt returns it: without its namespace."""
    from lxml import etree

    root = _parse(serialized)

    def strip(element: Any) -> Any:
        out = etree.Element(etree.QName(element).localname)
        for name, value in element.attrib.items():
            out.set(name, value)
        out.text, out.tail = element.text, element.tail
        for child in element:
            out.append(strip(child))
        return out

    plain = strip(root)
    plain.tail = None
    return str(etree.tostring(plain, encoding="unicode"))
