"""``xenapi://[user@]host/``: XCP-ng and XenServer pools through the XenAPI SDK.

Domains are the pool's VMs (templates, snapshots and control domains left out). XenAPI's power
states become virtkit's through the core's state machine: Running is RUNNING, Paused PAUSED,
Halted SHUTOFF, and Suspended is SHUTOFF/SAVED with a managed-save image (XenAPI's suspend
writes the memory to a VDI and ``VM.resume`` continues from it: libvirt's managed save). The
reason of a state reached through virtkit is kept in the VM's ``other_config``
(``virtkit_status``), so another connection reports it too; a state reached otherwise has
reason UNKNOWN. Lifecycle: ``VM.start`` (paused or not), ``clean_shutdown``, ``hard_shutdown``
(destroy), ``clean_reboot``, ``hard_reboot`` (reset), ``pause``/``unpause``,
``suspend``/``resume`` (managed save); the long ones run as Async tasks.

Transient domains are VMs marked ``virtkit_transient`` in ``other_config``: ``create_xml`` makes
one, ``undefine`` of a running VM marks it, and it is destroyed when it stops. Autostart is
XCP-ng's ``other_config:auto_poweron``. Events come from ``event.from`` on a session of their
own: a change of a VM's power state that this connection did not make becomes the lifecycle
event it means (see :mod:`virtkit_xen.xapi` for URIs and credentials).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, ClassVar

import attrs

from virtkit.sdk.driver import Driver, DriverContext
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError, no_domain
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import (
    DomainInfo,
    DomainRef,
    DomainStateInfo,
    DomainSummary,
    Event,
    NodeInfo,
)
from virtkit.sdk.states import DomainState, DomainStatus, Op, ShutoffReason, affected, transition
from virtkit.xml.domain import Domain
from virtkit_xen import xapidom as dx
from virtkit_xen.xapi import NULL, Endpoint, XapiSession, xerr
from virtkit_xen.xapiconsole import ConsoleHooks
from virtkit_xen.xapidev import TARGET_KEY, DeviceHooks, userdevice
from virtkit_xen.xapisnap import SnapshotHooks
from virtkit_xen.xapistore import StorageHooks

log = logging.getLogger("virtkit_xen.xenapi")

_POWER = {"Running": DomainState.RUNNING, "Paused": DomainState.PAUSED,
          "Halted": DomainState.SHUTOFF, "Suspended": DomainState.SHUTOFF}
AUTOSTART_KEY = "auto_poweron"  # XCP-ng's own key


def observed_status(rec: dict[str, Any]) -> DomainStatus:
    """A VM's status from its record: power state, and the reason virtkit stored if the stored
    state still holds."""
    oc = rec.get("other_config", {})
    power = rec["power_state"]
    state = _POWER.get(power, DomainState.NOSTATE)
    persistent = oc.get(dx.TRANSIENT_KEY) != "true"
    if power == "Suspended":
        return DomainStatus(DomainState.SHUTOFF, int(ShutoffReason.SAVED), persistent, True)
    reason = 0
    stored = oc.get(dx.STATUS_KEY, "")
    if ":" in stored:
        s, _, r = stored.partition(":")
        if s.isdigit() and r.isdigit() and int(s) == int(state):
            reason = int(r)
    return DomainStatus(state, reason, persistent, False)


def _stopped_transient(rec: dict[str, Any]) -> bool:
    """A transient VM that stopped is gone for virtkit (its VM is destroyed when seen)."""
    return (rec.get("other_config", {}).get(dx.TRANSIENT_KEY) == "true"
            and rec["power_state"] in ("Halted", "Suspended"))


@attrs.define
class Vm:
    ref: str
    rec: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.rec["name_label"])

    @property
    def uuid(self) -> str:
        return str(self.rec.get("other_config", {}).get(dx.UUID_KEY) or self.rec["uuid"])

    @property
    def status(self) -> DomainStatus:
        return observed_status(self.rec)

    @property
    def domref(self) -> DomainRef:
        st = self.status
        domid = int(self.rec.get("domid", "-1")) if st.active else -1
        return DomainRef(self.name, self.uuid, domid if domid >= 0 else -1)


class XenApiDriver(ConsoleHooks, DeviceHooks, SnapshotHooks, StorageHooks, Driver):
    name: ClassVar[str] = "xenapi"
    error_domain = ErrorDomain.XENAPI
    takes_host_uris: ClassVar[bool] = True
    domain_types = dx.DOMAIN_TYPES
    os_types = dx.OS_TYPES
    capabilities: ClassVar[dict[str, Any]] = {
        "transient_domains": True, "start_paused": True, "console": True,
        "live_migration": False, "offline_migration": False, "shutdown_modes": (),
        # disks and NICs are attached and detached live and config (virtkit_xen.xapidev), but
        # a disk must be a VDI of an SR: the conformance suite's disks are image files, so
        # disks are tested by the plugin's own tests; its NICs join a network by name, which
        # a XenAPI network can be (certify.py gives the fake pool a network 'default')
        "hotplug": ("interface",), "coldplug": ("interface",), "graphics": ("vnc",),
        "disk_formats": ("raw",),
    }

    def __init__(self, context: DriverContext) -> None:
        super().__init__(context)
        self.endpoint = Endpoint.from_uri(context.uri)
        self.session = XapiSession(self.endpoint, context.auth)
        self.lock = threading.RLock()
        self._seen: dict[str, tuple[str, str, bool]] = {}  # vm ref -> (power, name, persistent)
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._events_session: XapiSession | None = None

    # -- connection -----------------------------------------------------------------------------

    @hookimpl
    def virtkit_connect_open(self, uri: str, read_only: bool) -> bool:
        self.session.login()
        events = self.session.clone()
        self._events_session = events
        # the token first, then what exists: a change in between is seen twice, never missed
        token = str(events.call("event.from", ["vm"], "", 0.0,
                                what="subscribing to events")["token"])
        with self.lock:
            for vm in self._vms():
                self._seen[vm.ref] = (vm.rec["power_state"], vm.name, vm.status.persistent)
        self._watcher = threading.Thread(target=self._watch, args=(token,),
                                         name="xenapi-events", daemon=True)
        self._watcher.start()
        return True

    @hookimpl
    def virtkit_connect_close(self) -> bool:
        self.close_consoles()
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=10)
        if self._events_session is not None:
            self._events_session.logout()
        self.session.logout()
        return True

    def _host(self) -> dict[str, Any]:
        pools = self.session.call("pool.get_all_records", what="reading the pool")
        master = next(iter(pools.values()))["master"] if pools else None
        hosts = self.session.call("host.get_all_records", what="reading the hosts")
        if master in hosts:
            return dict(hosts[master])
        if not hosts:
            raise xerr(ErrorCode.OPERATION_FAILED, f"{self.endpoint.where} lists no host")
        return dict(next(iter(hosts.values())))

    @hookimpl
    def virtkit_connect_get_hostname(self) -> str:
        return str(self._host().get("hostname") or self.endpoint.host)

    @hookimpl
    def virtkit_connect_get_version(self) -> int:
        ver = str(self._host().get("software_version", {}).get("xen", "0.0.0"))
        nums = [int("".join(c for c in p if c.isdigit()) or 0) for p in ver.split(".")[:3]]
        nums += [0] * (3 - len(nums))
        return nums[0] * 1_000_000 + nums[1] * 1000 + nums[2]

    @hookimpl
    def virtkit_node_get_info(self) -> NodeInfo:
        h = self._host()
        cpu = h.get("cpu_info", {})
        mem = 0
        if h.get("metrics", NULL) != NULL:
            mem = int(self.session.call("host_metrics.get_memory_total", h["metrics"],
                                        what="reading the host's memory"))
        cpus = int(cpu.get("cpu_count", "1"))
        sockets = max(int(cpu.get("socket_count", "1")), 1)
        return NodeInfo("x86_64", mem // 1024, cpus, int(float(cpu.get("speed", "0"))), 1,
                        sockets, max(cpus // sockets, 1), 1)

    @hookimpl
    def virtkit_node_get_free_memory(self) -> int:
        h = self._host()
        if h.get("metrics", NULL) == NULL:
            return 0
        return int(self.session.call("host_metrics.get_memory_free", h["metrics"],
                                     what="reading the host's free memory"))

    @hookimpl
    def virtkit_connect_get_capabilities(self) -> str:
        from virtkit.xml import capabilities as cx

        guests = tuple(
            cx.Guest(os_type=os_type, arch=cx.GuestArch(
                name="x86_64", wordsize=64, machines=(cx.Machine(name=machine),),
                domains=(cx.GuestDomain(type="xen"),)))
            for os_type, machine in (("hvm", "xenfv"), ("linux", "xenpv"),
                                     ("xenpvh", "xenpvh")))
        return cx.Capabilities(host=cx.HostCaps(cpu=cx.HostCpu(arch="x86_64")),
                               guests=guests).to_xml()

    # -- VMs ------------------------------------------------------------------------------------

    def _vms(self) -> list[Vm]:
        recs = self.session.call("VM.get_all_records", what="listing VMs")
        return [Vm(r, v) for r, v in recs.items()
                if not (v["is_a_template"] or v["is_a_snapshot"] or v["is_control_domain"])
                and not _stopped_transient(v)]

    def _reload(self, vm: Vm) -> Vm:
        return Vm(vm.ref, self.session.call("VM.get_record", vm.ref,
                                            what=f"reading domain '{vm.name}'"))

    def _find(self, dom: DomainRef) -> Vm:
        for vm in self._vms():
            if (dom.uuid and vm.uuid == dom.uuid) or (not dom.uuid and vm.name == dom.name):
                return vm
        raise no_domain(dom.name or None, uuid=dom.uuid or None)

    def _set_other(self, vm: Vm, key: str, value: str | None) -> None:
        """Set (or with None remove) one key of the VM's ``other_config``: remove, then add
        (XenAPI refuses to add a key that exists: another client may have written it)."""
        what = f"updating domain '{vm.name}'"
        oc = vm.rec.setdefault("other_config", {})
        for attempt in (1, 2):
            self.session.call("VM.remove_from_other_config", vm.ref, key, what=what)
            oc.pop(key, None)
            if value is None:
                return
            try:
                self.session.call("VM.add_to_other_config", vm.ref, key, value, what=what)
                oc[key] = value
                return
            except VirtError:
                if attempt == 2:
                    raise

    def _apply(self, vm: Vm, op: Op, *, new: bool = False, before: DomainStatus | None = None,
               **flags: Any) -> DomainRef:
        """Run ``op`` through the state machine on ``vm`` (already done in XenAPI; ``vm.rec``
        or ``before`` is the status before), store the status, destroy a transient VM that
        stopped, and emit the events."""
        t = transition(op, vm.name, None if new else (before or vm.status), **flags)
        try:
            vm = self._reload(vm)
        except VirtError as exc:
            if t.status is not None or exc.code != ErrorCode.NO_DOMAIN:
                raise
            vm = attrs.evolve(vm, rec={**vm.rec, "power_state": "Halted"})
        ref = vm.domref
        if t.status is None:
            self._seen.pop(vm.ref, None)
            self._discard(vm)
        else:
            self._set_other(vm, dx.STATUS_KEY, f"{int(t.status.state)}:{int(t.status.reason)}")
            self._seen[vm.ref] = (vm.rec["power_state"], vm.name, t.status.persistent)
            ref = DomainRef(vm.name, vm.uuid, ref.id if t.status.active else -1)
        for event, detail in t.events:
            self.emit(Event("domain-lifecycle", ref, int(event), int(detail)))
        if t.reboot:
            self.emit(Event("domain-reboot", ref))
        return ref

    def _discard(self, vm: Vm) -> None:
        """Destroy a transient VM that stopped (another connection may have done it)."""
        try:
            if vm.rec["power_state"] in ("Running", "Paused"):
                self.session.call("VM.hard_shutdown", vm.ref, what=f"stopping '{vm.name}'")
            self._destroy_vm(vm)
        except VirtError as exc:
            if exc.code not in (ErrorCode.NO_DOMAIN, ErrorCode.OPERATION_INVALID):
                raise

    def _destroy_vm(self, vm: Vm) -> None:
        """``VM.destroy``: the VM, its VBDs and VIFs go; its VDIs stay in their SRs."""
        self.session.call("VM.destroy", vm.ref, what=f"removing domain '{vm.name}'")

    # -- definitions ----------------------------------------------------------------------------

    def _parse(self, xml: str, validate: bool) -> Domain:
        d = Domain.from_xml(xml, validate=validate, **dx.TYPES).with_defaults()
        if d.os.type.name not in ("hvm", "linux", "xen", "xenpvh"):
            raise xerr(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: OS type "
                       f"'{d.os.type.name}' on XenAPI")
        return d

    def _place(self, d: Domain) -> Vm | None:
        for vm in self._vms():
            same_name, same_uuid = vm.name == d.name, vm.uuid == d.uuid
            if same_name != same_uuid:
                raise VirtError(ErrorCode.OPERATION_FAILED, f"domain '{vm.name}' already "
                                f"exists with uuid {vm.uuid}", ErrorDomain.DOMAIN)
            if same_name:
                return vm
        return None

    def _create_vm(self, d: Domain, transient: bool) -> Vm:
        oc = {dx.XML_KEY: d.to_xml(secure=True), dx.UUID_KEY: d.uuid or "",
              dx.STATUS_KEY: f"{int(DomainState.SHUTOFF)}:0"}
        if transient:
            oc[dx.TRANSIENT_KEY] = "true"
        ref = self.session.call("VM.create", dx.create_record(d, oc),
                                what=f"creating domain '{d.name}'")
        vm = Vm(ref, self.session.call("VM.get_record", ref, what=f"reading '{d.name}'"))
        self._devices(vm, d)
        return vm

    def _configure(self, vm: Vm, d: Domain) -> None:
        """Write the XenAPI fields of ``d`` to a halted VM."""
        f = dx.vm_fields(d)
        what = f"configuring domain '{d.name}'"
        call = self.session.call
        if vm.rec["name_description"] != f["name_description"]:
            call("VM.set_name_description", vm.ref, f["name_description"], what=what)
        mem = ("memory_static_min", "memory_static_max", "memory_dynamic_min",
               "memory_dynamic_max")
        if any(str(vm.rec[k]) != f[k] for k in mem):
            call("VM.set_memory_limits", vm.ref, *(f[k] for k in mem), what=what)
        vmax, vcur = int(f["VCPUs_max"]), int(f["VCPUs_at_startup"])
        if vmax != int(vm.rec["VCPUs_max"]) or vcur != int(vm.rec["VCPUs_at_startup"]):
            if vmax >= int(vm.rec["VCPUs_at_startup"]):
                call("VM.set_VCPUs_max", vm.ref, str(vmax), what=what)
                call("VM.set_VCPUs_at_startup", vm.ref, str(vcur), what=what)
            else:
                call("VM.set_VCPUs_at_startup", vm.ref, str(vcur), what=what)
                call("VM.set_VCPUs_max", vm.ref, str(vmax), what=what)
        for key in ("actions_after_shutdown", "actions_after_reboot", "actions_after_crash"):
            if vm.rec[key] != f[key]:
                call(f"VM.set_{key}", vm.ref, f[key], what=what)

    def _devices(self, vm: Vm, d: Domain) -> None:
        """Make the VBDs and VIFs of ``d`` on a halted VM: a disk ``<source pool volume>``
        names an SR and a VDI; an interface ``<source network>`` or ``<source bridge>`` names
        a XenAPI network. Other disks and interfaces stay in the definition only (logged)."""
        call = self.session.call
        what = f"configuring the devices of domain '{d.name}'"
        for vbd in vm.rec.get("VBDs", []):
            call("VBD.destroy", vbd, what=what)
        for vif in vm.rec.get("VIFs", []):
            call("VIF.destroy", vif, what=what)
        devs = d.devices
        if devs is None:
            return
        kept: list[str] = []
        numbers = [userdevice(disk.target.dev) for disk in devs.disks]
        used: set[int] = set()
        for n, disk in enumerate(devs.disks):
            src = disk.source
            if disk.type != "volume" or src is None or not src.pool or not src.volume:
                kept.append(f"disk '{disk.target.dev}'")
                continue
            vdi = self._vdi_ref(src.pool, src.volume)
            # the number the target names (xvdb is 1), else the lowest free one
            number = numbers[n]
            if number is None or number in used:
                number = next(i for i in range(len(numbers) + len(used) + 1)
                              if i not in used and i not in numbers)
            used.add(number)
            call("VBD.create", {
                "VM": vm.ref, "VDI": vdi, "userdevice": str(number), "bootable": n == 0,
                "mode": "RO" if disk.readonly else "RW",
                "type": "CD" if disk.device == "cdrom" else "Disk", "empty": False,
                "other_config": {TARGET_KEY: disk.target.dev}, "qos_algorithm_type": "",
                "qos_algorithm_params": {}}, what=what)
        for n, nic in enumerate(devs.interfaces):
            net = self._network_for(nic)
            if net is None:
                kept.append(f"interface {nic.mac.address if nic.mac else n}")
                continue
            call("VIF.create", {
                "VM": vm.ref, "network": net, "device": str(n),
                "MAC": nic.mac.address if nic.mac else "", "MTU": "1500",
                "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}},
                what=what)
        if kept:
            log.warning("domain '%s': %s kept in the definition but not made on XenAPI "
                        "(disks must be <source pool='SR' volume='VDI'/>, interfaces join a "
                        "XenAPI network by name or bridge)", d.name, ", ".join(kept))

    def _network_for(self, nic: Any) -> str | None:
        src = nic.source
        if src is None or not (src.network or src.bridge):
            return None
        nets = self.session.call("network.get_all_records", what="listing networks")
        for ref, n in nets.items():
            if (src.network and n["name_label"] == src.network) or \
                    (src.bridge and n["bridge"] == src.bridge):
                return str(ref)
        return None

    @hookimpl
    def virtkit_domain_define_xml(self, xml: str, validate: bool) -> DomainRef:
        d = self._parse(xml, validate)
        with self.lock:
            vm = self._place(d)
            if vm is None:
                return self._apply(self._create_vm(d, False), Op.DEFINE, new=True)
            self._set_other(vm, dx.XML_KEY, d.to_xml(secure=True))
            if vm.rec["power_state"] == "Halted":
                self._configure(vm, d)
                self._devices(self._reload(vm), d)
            if not vm.status.persistent:
                self._set_other(vm, dx.TRANSIENT_KEY, None)
            return self._apply(vm, Op.DEFINE)

    @hookimpl
    def virtkit_domain_create_xml(self, xml: str, paused: bool, validate: bool) -> DomainRef:
        d = self._parse(xml, validate)
        with self.lock:
            vm = self._place(d)
            fresh = vm is None
            if vm is not None:
                transition(Op.CREATE_XML, vm.name, vm.status, paused=paused)
                if vm.rec["power_state"] == "Suspended":  # boots afresh: the image goes
                    self.session.run("VM.hard_shutdown", vm.ref,
                                     what=f"discarding the managed save of '{vm.name}'")
                    vm = self._reload(vm)
                self._configure(vm, d)
                self._devices(self._reload(vm), d)
            else:
                vm = self._create_vm(d, True)
            self._set_other(vm, dx.LIVE_KEY, d.to_xml(secure=True))
            self.session.run("VM.start", vm.ref, paused, False, what=f"starting '{d.name}'")
            return self._apply(vm, Op.CREATE_XML, new=fresh, paused=paused)

    @hookimpl
    def virtkit_domain_undefine(self, dom: DomainRef, managed_save: bool,
                                snapshots_metadata: bool, nvram: bool) -> bool:
        with self.lock:
            vm = self._find(dom)
            if not vm.status.persistent:
                raise VirtError(ErrorCode.OPERATION_INVALID, f"cannot undefine transient "
                                f"domain '{vm.name}'", ErrorDomain.DOMAIN)
            if vm.status.has_managed_save and not managed_save:
                raise VirtError(ErrorCode.OPERATION_INVALID, f"domain '{vm.name}' has a "
                                "managed save image", ErrorDomain.DOMAIN)
            snaps = list(vm.rec.get("snapshots", []))
            if snaps and not snapshots_metadata:
                raise VirtError(ErrorCode.OPERATION_INVALID, f"domain '{vm.name}' has "
                                f"{len(snaps)} snapshots", ErrorDomain.DOMAIN)
            for s in snaps:
                self._destroy_snapshot(s, vm.name)
            if vm.status.has_managed_save:
                self.session.run("VM.hard_shutdown", vm.ref, what=f"discarding the managed "
                                 f"save of '{vm.name}'")
            vm = self._reload(vm)
            if vm.status.active:
                before = vm.status
                self._set_other(vm, dx.TRANSIENT_KEY, "true")
                self._apply(vm, Op.UNDEFINE, before=before)
            else:
                t = transition(Op.UNDEFINE, vm.name, vm.status)
                ref = vm.domref
                self._destroy_vm(vm)
                self._seen.pop(vm.ref, None)
                for event, detail in t.events:
                    self.emit(Event("domain-lifecycle", ref, int(event), int(detail)))
            return True

    # -- lifecycle ------------------------------------------------------------------------------

    def _op(self, dom: DomainRef, op: Op, action: Any, **flags: Any) -> DomainRef:
        with self.lock:
            vm = self._find(dom)
            t = transition(op, vm.name, vm.status, **flags)  # refuse before calling XenAPI
            if op is Op.SUSPEND and t.status == vm.status and not t.events:
                return vm.domref  # nothing to do (suspending a paused domain)
            action(vm)
            return self._apply(vm, op, **flags)

    @hookimpl
    def virtkit_domain_create(self, dom: DomainRef, paused: bool, force_boot: bool) -> DomainRef:
        def act(vm: Vm) -> None:
            what = f"starting domain '{vm.name}'"
            if vm.rec["power_state"] == "Suspended":
                if not force_boot:
                    self.session.run("VM.resume", vm.ref, paused, False, what=what)
                    return
                self.session.run("VM.hard_shutdown", vm.ref, what=what)
                vm = self._reload(vm)
            self._drop_live_only(vm)
            xml = vm.rec["other_config"].get(dx.XML_KEY)
            if xml:
                d = Domain.from_xml(xml, **dx.TYPES)
                self._configure(vm, d)
                self._set_other(vm, dx.LIVE_KEY, xml)
            self.session.run("VM.start", vm.ref, paused, False, what=what)

        return self._op(dom, Op.CREATE, act, paused=paused, force_boot=force_boot)

    @hookimpl
    def virtkit_domain_suspend(self, dom: DomainRef) -> bool:
        self._op(dom, Op.SUSPEND, lambda vm: self.session.call(
            "VM.pause", vm.ref, what=f"pausing domain '{vm.name}'"))
        return True

    @hookimpl
    def virtkit_domain_resume(self, dom: DomainRef) -> bool:
        self._op(dom, Op.RESUME, lambda vm: self.session.call(
            "VM.unpause", vm.ref, what=f"unpausing domain '{vm.name}'"))
        return True

    @hookimpl
    def virtkit_domain_shutdown(self, dom: DomainRef, mode: str | None) -> bool:
        if mode not in (None, "default"):
            raise xerr(ErrorCode.CONFIG_UNSUPPORTED,
                       f"shutdown mode '{mode}' is not supported by XenAPI")
        self._op(dom, Op.SHUTDOWN, lambda vm: self.session.run(
            "VM.clean_shutdown", vm.ref, what=f"shutting down domain '{vm.name}'"))
        return True

    @hookimpl
    def virtkit_domain_destroy(self, dom: DomainRef, graceful: bool) -> bool:
        self._op(dom, Op.DESTROY, lambda vm: self.session.run(
            "VM.hard_shutdown", vm.ref, what=f"destroying domain '{vm.name}'"))
        return True

    @hookimpl
    def virtkit_domain_reboot(self, dom: DomainRef, mode: str | None) -> bool:
        if mode not in (None, "default"):
            raise xerr(ErrorCode.CONFIG_UNSUPPORTED,
                       f"reboot mode '{mode}' is not supported by XenAPI")
        self._op(dom, Op.REBOOT, lambda vm: self.session.run(
            "VM.clean_reboot", vm.ref, what=f"rebooting domain '{vm.name}'"))
        return True

    @hookimpl
    def virtkit_domain_reset(self, dom: DomainRef) -> bool:
        self._op(dom, Op.RESET, lambda vm: self.session.call(
            "VM.hard_reboot", vm.ref, what=f"resetting domain '{vm.name}'"))
        return True

    @hookimpl
    def virtkit_domain_managed_save(self, dom: DomainRef, start_state: str | None) -> bool:
        def act(vm: Vm) -> None:
            if not vm.status.persistent:
                raise VirtError(ErrorCode.OPERATION_INVALID, f"cannot do managed save for "
                                f"transient domain '{vm.name}'", ErrorDomain.DOMAIN)
            if vm.rec["power_state"] == "Paused":
                self.session.call("VM.unpause", vm.ref, what=f"saving '{vm.name}'")
            self.session.run("VM.suspend", vm.ref, what=f"saving domain '{vm.name}'")

        self._op(dom, Op.MANAGED_SAVE, act)
        return True

    @hookimpl
    def virtkit_domain_managed_save_remove(self, dom: DomainRef) -> bool:
        with self.lock:
            vm = self._find(dom)
            if vm.status.has_managed_save:
                self.session.run("VM.hard_shutdown", vm.ref,
                                 what=f"discarding the managed save of '{vm.name}'")
                self._apply(vm, Op.MANAGED_SAVE_REMOVE)
            return True

    # -- reading --------------------------------------------------------------------------------

    def _summary(self, vm: Vm) -> DomainSummary:
        st = vm.status
        return DomainSummary(vm.domref, int(st.state), int(st.reason), st.persistent,
                             vm.rec["other_config"].get(AUTOSTART_KEY) == "true",
                             st.has_managed_save, len(vm.rec.get("snapshots", [])))

    @hookimpl
    def virtkit_domain_list(self) -> list[DomainSummary]:
        return [self._summary(vm) for vm in self._vms()]

    @hookimpl
    def virtkit_domain_get_summary(self, dom: DomainRef) -> DomainSummary:
        return self._summary(self._find(dom))

    @hookimpl
    def virtkit_domain_lookup_by_name(self, name: str) -> DomainRef:
        return self._find(DomainRef(name, "", -1)).domref

    @hookimpl
    def virtkit_domain_lookup_by_uuid(self, uuid: str) -> DomainRef:
        for vm in self._vms():
            if vm.uuid == uuid:
                return vm.domref
        raise no_domain(uuid=uuid)

    @hookimpl
    def virtkit_domain_lookup_by_id(self, id: int) -> DomainRef:
        for vm in self._vms():
            if vm.status.active and vm.domref.id == id:
                return vm.domref
        raise no_domain(id=id)

    @hookimpl
    def virtkit_domain_get_state(self, dom: DomainRef) -> DomainStateInfo:
        st = self._find(dom).status
        return DomainStateInfo(int(st.state), int(st.reason))

    @hookimpl
    def virtkit_domain_get_info(self, dom: DomainRef) -> DomainInfo:
        vm = self._find(dom)
        r = vm.rec
        if vm.status.active:  # XenAPI's fields are the live values
            return DomainInfo(int(vm.status.state), int(r["memory_static_max"]) // 1024,
                              int(r["memory_dynamic_max"]) // 1024, int(r["VCPUs_at_startup"]),
                              0)
        d = self._definition(vm, True)
        vcpus = (d.vcpu.current or d.vcpu.count) if d.vcpu else 1
        return DomainInfo(int(vm.status.state), d.memory or 0,
                          d.current_memory or d.memory or 0, vcpus, 0)

    # -- memory and vcpus -----------------------------------------------------------------------

    def _affect(self, vm: Vm, live: bool, config: bool) -> tuple[bool, bool]:
        """libvirt's affect flags (:func:`virtkit.sdk.states.affected`): neither flag means
        live when active, else config; live on a halted VM or config on a transient one is
        OPERATION_INVALID."""
        return affected(vm.name, vm.status.active, vm.status.persistent, live, config)

    def _store_config(self, vm: Vm, d: Domain) -> None:
        self._set_other(vm, dx.XML_KEY, d.to_xml(secure=True))
        if vm.rec["power_state"] == "Halted":
            self._configure(self._reload(vm), d)

    @hookimpl
    def virtkit_domain_set_vcpus(self, dom: DomainRef, count: int, live: bool, config: bool,
                                 maximum: bool) -> bool:
        with self.lock:
            vm = self._find(dom)
            live, config = self._affect(vm, live, config)
            if live and maximum:
                raise VirtError(ErrorCode.OPERATION_INVALID, f"cannot change the maximum "
                                f"vcpus of running domain '{vm.name}'", ErrorDomain.DOMAIN)
            cfg = self._definition(vm, True)
            v = cfg.vcpu
            assert v is not None
            for where, top in (("live", int(vm.rec["VCPUs_max"]) if live else 0),
                               ("config", v.count if config and not maximum else 0)):
                if top and count > top:
                    raise xerr(ErrorCode.INVALID_ARG, f"invalid argument: {count} vcpus is "
                               f"more than the maximum {top} of domain '{vm.name}' ({where})")
            if live:
                self.session.call("VM.set_VCPUs_number_live", vm.ref, str(count),
                                  what=f"setting the vcpus of domain '{vm.name}'")
            if config:
                if maximum:
                    cur = v.current or v.count
                    v = attrs.evolve(v, count=count,
                                     current=None if min(cur, count) == count else cur)
                else:
                    v = attrs.evolve(v, current=None if count == v.count else count)
                self._store_config(vm, attrs.evolve(cfg, vcpu=v))
            return True

    @hookimpl
    def virtkit_domain_get_vcpus_count(self, dom: DomainRef, live: bool, config: bool,
                                       maximum: bool) -> int:
        vm = self._find(dom)
        live, config = self._affect(vm, live, config)
        if live:
            return int(vm.rec["VCPUs_max" if maximum else "VCPUs_at_startup"])
        v = self._definition(vm, True).vcpu
        assert v is not None
        return v.count if maximum or v.current is None else v.current

    @hookimpl
    def virtkit_domain_set_memory(self, dom: DomainRef, kib: int, live: bool, config: bool,
                                  maximum: bool) -> bool:
        with self.lock:
            vm = self._find(dom)
            live, config = self._affect(vm, live, config)
            if live and maximum:
                raise VirtError(ErrorCode.OPERATION_INVALID, f"cannot change the maximum "
                                f"memory of running domain '{vm.name}'", ErrorDomain.DOMAIN)
            cfg = self._definition(vm, True)
            for where, top in (("live", int(vm.rec["memory_static_max"]) // 1024 if live
                                else 0),
                               ("config", (cfg.memory or 0) if config and not maximum else 0)):
                if top and kib > top:
                    raise xerr(ErrorCode.INVALID_ARG, f"invalid argument: {kib} KiB is more "
                               f"than the maximum memory {top} KiB of domain '{vm.name}' "
                               f"({where})")
            if live:
                b = str(kib * 1024)
                self.session.call("VM.set_memory_dynamic_range", vm.ref, b, b,
                                  what=f"setting the memory of domain '{vm.name}'")
            if config:
                if maximum:
                    new = attrs.evolve(cfg, memory=kib, current_memory=min(
                        kib, cfg.current_memory or kib))
                else:
                    new = attrs.evolve(cfg, current_memory=kib)
                self._store_config(vm, new)
            return True

    def _definition(self, vm: Vm, inactive: bool) -> Domain:
        oc = vm.rec["other_config"]
        if not inactive and vm.status.active and oc.get(dx.LIVE_KEY):
            d = dx.overlay(Domain.from_xml(oc[dx.LIVE_KEY], **dx.TYPES), vm.rec, vm.uuid)
            return attrs.evolve(d, id=vm.domref.id)
        disks, nics = ([], []) if oc.get(dx.XML_KEY) else self._backing(vm)
        d = dx.domain_from_record(vm.rec, vm.uuid, disks, nics)
        return d if inactive or not vm.status.active else attrs.evolve(d, id=vm.domref.id)

    def _backing(self, vm: Vm) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
        call, what = self.session.call, f"reading the devices of '{vm.name}'"
        disks, nics = [], []
        for vbd in vm.rec.get("VBDs", []):
            b = call("VBD.get_record", vbd, what=what)
            if b["VDI"] == NULL or b.get("empty"):
                continue
            v = call("VDI.get_record", b["VDI"], what=what)
            sr = call("SR.get_name_label", v["SR"], what=what)
            disks.append((str(b["userdevice"]), str(sr), str(v["name_label"])))
        for vif in vm.rec.get("VIFs", []):
            f = call("VIF.get_record", vif, what=what)
            nics.append((str(call("network.get_name_label", f["network"], what=what)),
                         str(f["MAC"])))
        return disks, nics

    @hookimpl
    def virtkit_domain_get_xml(self, dom: DomainRef, inactive: bool, security_info: bool) -> str:
        return self._definition(self._find(dom), inactive).to_xml(secure=security_info)

    @hookimpl
    def virtkit_domain_get_autostart(self, dom: DomainRef) -> bool:
        return bool(self._find(dom).rec["other_config"].get(AUTOSTART_KEY) == "true")

    @hookimpl
    def virtkit_domain_set_autostart(self, dom: DomainRef, autostart: bool) -> bool:
        with self.lock:
            vm = self._find(dom)
            if not vm.status.persistent:
                raise VirtError(ErrorCode.OPERATION_INVALID, f"cannot set autostart for "
                                f"transient domain '{vm.name}'", ErrorDomain.DOMAIN)
            self._set_other(vm, AUTOSTART_KEY, "true" if autostart else None)
            return True

    # -- events ---------------------------------------------------------------------------------

    def _watch(self, token: str) -> None:
        sess = self._events_session
        assert sess is not None
        while not self._stop.is_set():
            try:
                got = sess.call("event.from", ["vm"], token, 0.5, what="waiting for events")
                token = str(got["token"])
                refs = list(dict.fromkeys(str(e["ref"]) for e in got["events"]))
                if refs:
                    self._observe(refs)
            except VirtError as exc:
                if self._stop.is_set():
                    return
                log.warning("xenapi: event.from failed: %s", exc.message)
                self._stop.wait(1.0)
            except Exception:  # never let the watcher die: log it and go on
                log.exception("xenapi: handling events failed")
                self._stop.wait(1.0)

    def _observe(self, refs: list[str]) -> None:
        """Re-read the VMs that changed and emit what changed that this connection did not."""
        with self.lock:
            for ref in refs:
                try:
                    rec = self.session.call("VM.get_record", ref)
                except VirtError as exc:
                    if exc.code != ErrorCode.NO_DOMAIN:
                        raise
                    seen = self._seen.pop(ref, None)
                    if seen is not None:  # removed elsewhere
                        from virtkit.sdk.states import EventType, UndefinedDetail

                        self.emit(Event("domain-lifecycle", DomainRef(seen[1], "", -1),
                                        int(EventType.UNDEFINED), int(UndefinedDetail.REMOVED)))
                    continue
                if rec["is_a_template"] or rec["is_a_snapshot"] or rec["is_control_domain"]:
                    continue
                if ref not in self._seen and _stopped_transient(rec):
                    continue
                self._changed(Vm(ref, rec))

    def _changed(self, vm: Vm) -> None:
        from virtkit.sdk.states import DefinedDetail, EventType

        seen = self._seen.get(vm.ref)
        power = vm.rec["power_state"]
        if seen is None:  # defined elsewhere
            self._seen[vm.ref] = (power, vm.name, vm.status.persistent)
            self.emit(Event("domain-lifecycle", vm.domref, int(EventType.DEFINED),
                            int(DefinedDetail.ADDED)))
            return
        if seen[0] == power:
            return
        # persistence as the VM says now (another connection may have defined or undefined it)
        persistent = vm.status.persistent
        before = DomainStatus(_POWER[seen[0]], 0, persistent, seen[0] == "Suspended")
        op = {("Running", "Halted"): Op.SHUTDOWN, ("Paused", "Halted"): Op.DESTROY,
              ("Running", "Paused"): Op.SUSPEND, ("Paused", "Running"): Op.RESUME,
              ("Halted", "Running"): Op.CREATE, ("Halted", "Paused"): Op.CREATE,
              ("Suspended", "Running"): Op.CREATE, ("Suspended", "Paused"): Op.CREATE,
              ("Running", "Suspended"): Op.MANAGED_SAVE,
              ("Paused", "Suspended"): Op.MANAGED_SAVE,
              ("Suspended", "Halted"): Op.MANAGED_SAVE_REMOVE}.get((seen[0], power))
        self._seen[vm.ref] = (power, vm.name, persistent)
        if op is None:
            return
        try:
            t = transition(op, vm.name, before, paused=power == "Paused")
        except VirtError:
            return
        ref = vm.domref
        if t.status is None:  # a transient domain stopped elsewhere: it goes
            self._seen.pop(vm.ref, None)
            try:
                if not self.context.read_only:  # (a read-only connection changes nothing)
                    self._discard(vm)
            except VirtError as exc:
                log.warning("xenapi: removing transient domain '%s': %s", vm.name, exc.message)
        for event, detail in t.events:
            self.emit(Event("domain-lifecycle", ref, int(event), int(detail)))
