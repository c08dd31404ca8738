"""The vSphere driver: ESX hosts (``esx://``) and vCenter (``vpx://``) through pyvmomi.

Domains are VirtualMachines (templates left out). Their state comes from ``runtime.powerState``
through the core's state machine: poweredOn is RUNNING, poweredOff SHUTOFF, and suspended is
SHUTOFF/SAVED with a managed-save image (vSphere's suspend writes memory to disk and the next
power-on resumes from it, which is libvirt's managed save). The reason of a state virtkit did not
cause is UNKNOWN. Domain ids are the numbers of the VMs' managed object ids (``vm-42`` -> 42).

Transient domains are VMs marked with ``config.managedBy`` (extension ``org.virtkit.transient``):
``create_xml`` makes one that is deleted when it stops; ``undefine`` of a running VM marks it so
that it is unregistered (its files kept) when it stops.
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
    InterfaceAddress,
    JobInfo,
    NodeInfo,
)
from virtkit.sdk.states import (
    DomainState,
    DomainStatus,
    Op,
    RunningReason,
    ShutoffReason,
    transition,
)
from virtkit.xml.domain import Domain
from virtkit_vmware import vmx
from virtkit_vmware.domxml import DOMAIN_TYPE, TRANSIENT_KEY, config_spec, domain_from_vm
from virtkit_vmware.inventory import (
    Inventory,
    Scope,
    VmRow,
    _count,
    moref_id,
    resolve_scope,
    vm_props,
)
from virtkit_vmware.jobs import Jobs
from virtkit_vmware.session import Endpoint, Session, esx_error

log = logging.getLogger("virtkit_vmware")

#: A NIC on network 'default' (libvirt's usual one) joins this port group when there is no port
#: group named 'default': vSphere's own default for new VMs.
DEFAULT_NETWORK = "default"
DEFAULT_PORT_GROUP = "VM Network"

#: Operations govmomi's simulator (vcsim) does not implement: left out of the operation set when
#: the endpoint is the simulator, so that they answer NO_SUPPORT there.
SIMULATOR_LACKS = frozenset({
    "domain_reboot",  # no RebootGuest
    "domain_get_autostart", "domain_set_autostart",  # no HostAutoStartManager
    "pool_refresh",  # RefreshDatastore answers an empty body
})


def _observed_status(power: str, persistent: bool) -> DomainStatus:
    """The status of a VM virtkit knows nothing more about than its power state."""
    if power == "poweredOn":
        return DomainStatus(DomainState.RUNNING, RunningReason.UNKNOWN, persistent)
    if power == "suspended":
        return DomainStatus(DomainState.SHUTOFF, ShutoffReason.SAVED, persistent, True)
    return DomainStatus(DomainState.SHUTOFF, ShutoffReason.UNKNOWN, persistent)


def _agrees(status: DomainStatus, power: str) -> bool:
    if power == "poweredOn":
        return status.active
    if power == "suspended":
        return not status.active and status.has_managed_save
    return not status.active and not status.has_managed_save


@attrs.define
class Known:
    """What this connection knows of one VM: its handle and its state-machine status."""

    vm: Any
    name: str
    uuid: str
    status: DomainStatus
    transient: str = ""
    shutdown_requested: bool = False
    snapshots: int = 0


def _vmx_format(native_format: str) -> None:
    if native_format != "vmware-vmx":
        raise VirtError(
            ErrorCode.CONFIG_UNSUPPORTED,
            f"unsupported configuration: native format '{native_format}' (this driver knows "
            f"'vmware-vmx')",
            ErrorDomain.ESX,
        )


class VSphereDriver(Driver):
    """Shared by the esx and vpx schemes (subclasses set ``name``)."""

    name: ClassVar[str] = "esx"
    error_domain = ErrorDomain.ESX
    takes_host_uris: ClassVar[bool] = True
    capabilities: ClassVar[dict[str, Any]] = {
        "transient_domains": True,
        "start_paused": False,  # vSphere has no paused power state
        "console": False,
        "live_migration": False,
        "offline_migration": False,
        # the suite's devices are local image files and a network 'default': vSphere disks are
        # datastore paths and NICs name port groups, so these are tested by the plugin's own tests
        "hotplug": [],
        "coldplug": [],
        "graphics": ["vnc"],
        "disk_formats": ["vmdk"],
        "native_formats": ["vmware-vmx"],
    }

    def __init__(self, context: DriverContext) -> None:
        super().__init__(context)
        self.endpoint = Endpoint.from_uri(context.uri)
        self.session = Session(self.endpoint, context.auth)
        self.scope: Scope | None = None
        self.inventory: Inventory | None = None
        self.simulator = False
        self._lock = threading.RLock()
        self._known: dict[str, Known] = {}  # moid -> Known
        self._by_uuid: dict[str, str] = {}  # uuid -> moid
        self._busy: set[str] = set()
        self._creating: set[str] = set()  # names of VMs this connection is creating
        self._op_locks: dict[str, threading.Lock] = {}
        self._default_datastore = ""
        self._gone: set[str] = set()  # moids of VMs removed: late updates about them are old
        self._uuid_given = False
        self.jobs = Jobs(self.session)
        self._watcher: Any = None

    # -- connection ------------------------------------------------------------------------

    def _login(self) -> None:
        """Log in and find the scope, once (the core may ask what the endpoint implements
        before it opens the connection)."""
        if self.inventory is not None:
            return
        self.session.login()
        self.scope = resolve_scope(self.session)
        self.inventory = Inventory(self.session, self.scope)
        self.session.on_relogin.append(self.inventory.rebuild)
        self.simulator = self._is_simulator()

    @hookimpl
    def virtkit_connect_open(self, uri: str, read_only: bool) -> bool:
        self._login()
        self._refresh()
        from virtkit_vmware.events import Watcher

        self._watcher = Watcher(self)
        self._watcher.start()
        return True

    def _is_simulator(self) -> bool:
        """govmomi's simulator announces itself in the option manager (``vcsim.server.url``)."""
        setting = getattr(self.session.content, "setting", None)
        if setting is None:
            return False
        try:
            return bool(setting.QueryOptions("vcsim.server.url"))
        except Exception:
            return False

    def implemented_operations(self) -> frozenset[str] | None:
        self._login()
        if not self.simulator:
            return None
        from virtkit.sdk.hookspecs import PREFIX

        mine = {n[len(PREFIX):] for n in dir(type(self)) if n.startswith(PREFIX)}
        return frozenset(mine - SIMULATOR_LACKS)

    @hookimpl
    def virtkit_connect_close(self) -> bool:
        if self._watcher is not None:
            self._watcher.stop()
        if self.inventory is not None:
            self.inventory.destroy()
        self.session.logout()
        return True

    @hookimpl
    def virtkit_connect_domain_xml_from_native(self, native_format: str,
                                               native_config: str) -> str:
        """``domxml-from-native vmware-vmx``: unknown VMX keys are kept in ``<metadata>``."""
        _vmx_format(native_format)
        return vmx.vmx_to_domain(native_config).domain.to_xml()

    @hookimpl
    def virtkit_connect_domain_xml_to_native(self, native_format: str, xml: str) -> str:
        """``domxml-to-native vmware-vmx``."""
        _vmx_format(native_format)
        return vmx.domain_to_vmx(Domain.from_xml(xml).with_defaults())

    @hookimpl
    def virtkit_connect_get_hostname(self) -> str:
        host = self.scope.host if self.scope else None
        if host is not None:
            return str(self.session.call("reading the host name", lambda: host.name))
        return self.endpoint.host

    @hookimpl
    def virtkit_connect_get_version(self) -> int:
        about = self.session.content.about
        parts = [int(p) for p in (about.version or "0").split(".")[:3] if p.isdigit()]
        parts += [0] * (3 - len(parts))
        return parts[0] * 1_000_000 + parts[1] * 1_000 + parts[2]

    def _host_summary(self) -> Any:
        assert self.scope is not None
        host = self.scope.host or (self.scope.compute.host[0] if self.scope.compute.host
                                   else None)
        if host is None:
            raise esx_error(ErrorCode.OPERATION_FAILED, "no host in this connection's scope")
        return self.session.call("reading the host summary", lambda: host.summary)

    @hookimpl
    def virtkit_node_get_info(self) -> NodeInfo:
        s = self._host_summary()
        hw = s.hardware
        cores = max(1, hw.numCpuCores // max(1, hw.numCpuPkgs))
        threads = max(1, hw.numCpuThreads // max(1, hw.numCpuCores))
        return NodeInfo(hw.cpuModel or "x86_64", int(hw.memorySize) // 1024, hw.numCpuThreads,
                        hw.cpuMhz, 1, max(1, hw.numCpuPkgs), cores, threads)

    @hookimpl
    def virtkit_node_get_free_memory(self) -> int:
        s = self._host_summary()
        used_mb = s.quickStats.overallMemoryUsage or 0
        return max(0, int(s.hardware.memorySize) - int(used_mb) * 1024 * 1024)

    @hookimpl
    def virtkit_node_get_cells_free_memory(self, start_cell: int, max_cells: int) -> list[int]:
        if start_cell < 0 or max_cells < 0:
            raise VirtError(ErrorCode.INVALID_ARG, "invalid argument: negative cell range")
        if start_cell > 0 or max_cells == 0:
            return []
        return [self.virtkit_node_get_free_memory()]

    @hookimpl
    def virtkit_connect_get_capabilities(self) -> str:
        s = self._host_summary()
        hw = s.hardware
        return (
            "<capabilities>\n  <host>\n"
            f"    <uuid>{hw.uuid}</uuid>\n"
            "    <cpu>\n      <arch>x86_64</arch>\n"
            f"      <topology sockets='{max(1, hw.numCpuPkgs)}' "
            f"cores='{max(1, hw.numCpuCores // max(1, hw.numCpuPkgs))}' threads='1'/>\n"
            "    </cpu>\n  </host>\n"
            + "".join(
                "  <guest>\n    <os_type>hvm</os_type>\n"
                f"    <arch name='{arch}'>\n      <wordsize>{ws}</wordsize>\n"
                f"      <domain type='{DOMAIN_TYPE}'/>\n    </arch>\n  </guest>\n"
                for arch, ws in (("x86_64", 64), ("i686", 32))
            )
            + "</capabilities>\n"
        )

    # -- what this connection knows --------------------------------------------------------

    def _refresh(self) -> list[VmRow]:
        assert self.inventory is not None
        listed = self.inventory.vms()
        with self._lock:
            # a VM this connection saw go (undefined, destroyed while transient) can still be
            # in a listing made just after (vCenter's container views follow the inventory a
            # moment later): its managed object id is never reused, so such a row is old
            rows = [row for row in listed if row.moid not in self._gone]
            seen = set()
            for row in rows:
                seen.add(row.moid)
                self._observe_row(row)
            for moid in list(self._known):
                if moid not in seen and moid not in self._busy:
                    self._forget(moid)
        return rows

    def _observe_row(self, row: VmRow, events: bool = True) -> Known:
        """Bring ``row``'s record in line with what vSphere says (under the lock)."""
        known = self._known.get(row.moid)
        if known is None:
            known = Known(row.vm, row.name, row.uuid,
                          _observed_status(row.power, not row.transient), row.transient,
                          snapshots=row.snapshots)
            self._known[row.moid] = known
            self._by_uuid[row.uuid] = row.moid
            return known
        if known.uuid != row.uuid:
            self._by_uuid.pop(known.uuid, None)
            self._by_uuid[row.uuid] = row.moid
        known.name, known.uuid, known.transient = row.name, row.uuid, row.transient
        known.snapshots = row.snapshots
        persistent = not row.transient
        if known.status.persistent != persistent:
            known.status = attrs.evolve(known.status, persistent=persistent)
        if row.moid not in self._busy and not _agrees(known.status, row.power):
            self._external_change(row.moid, known, row.power, events)
        return known

    def _external_change(self, moid: str, known: Known, power: str, events: bool) -> None:
        """A power change virtkit did not make through this connection (or a guest shutdown)."""
        st = known.status
        if power == "poweredOn":
            op = Op.CREATE
        elif power == "suspended":
            op = Op.MANAGED_SAVE if st.persistent else Op.DESTROY
        elif st.active:
            op = Op.SHUTDOWN if known.shutdown_requested else Op.DESTROY
        else:
            op = Op.MANAGED_SAVE_REMOVE
        try:
            self._apply(moid, known, op, emit=events)
        except VirtError:
            known.status = _observed_status(power, st.persistent)
        known.shutdown_requested = False

    def _apply(self, moid: str, known: Known, op: Op, *, emit: bool = True,
               force_boot: bool = False) -> DomainStatus | None:
        t = transition(op, known.name, known.status, force_boot=force_boot)
        ref_id = moref_id(moid) if t.status is not None and t.status.active else -1
        ref = DomainRef(known.name, known.uuid, ref_id)
        if t.status is None:
            self._forget(moid)
        else:
            known.status = t.status
        if emit:
            for event, detail in t.events:
                self.emit(Event("domain-lifecycle", ref, int(event), int(detail)))
            if t.reboot:
                self.emit(Event("domain-reboot", ref))
        if t.status is None and known.transient:
            self._remove_transient(known)
        return t.status

    def _forget(self, moid: str) -> None:
        """Drop the record of a VM that is gone; its managed object id is never reused, so
        updates about it that arrive later are ignored."""
        self._gone.add(moid)
        known = self._known.pop(moid, None)
        if known is not None and self._by_uuid.get(known.uuid) == moid:
            del self._by_uuid[known.uuid]

    def _remove_transient(self, known: Known) -> None:
        """A stopped transient VM goes: deleted when virtkit created it, else unregistered."""
        vm = known.vm
        try:
            if known.transient == "created":
                self.jobs.wait(self.session.call(f"deleting transient domain '{known.name}'",
                                                 vm.Destroy_Task), f"delete '{known.name}'")
            else:
                self.session.call(f"unregistering domain '{known.name}'", vm.UnregisterVM)
        except VirtError as exc:
            if exc.code != ErrorCode.NO_DOMAIN:
                log.warning("could not remove transient domain '%s': %s", known.name,
                            exc.message)

    def _ref(self, moid: str, known: Known) -> DomainRef:
        return DomainRef(known.name, known.uuid, moref_id(moid) if known.status.active else -1)

    def _find(self, dom: DomainRef) -> tuple[str, Known]:
        """The record of ``dom`` (by uuid, else by name); refreshed once when unknown."""
        for attempt in (0, 1):
            with self._lock:
                moid = self._by_uuid.get(dom.uuid) if dom.uuid else None
                if moid is None and not dom.uuid:
                    moid = next((m for m, k in self._known.items() if k.name == dom.name), None)
                if moid is not None:
                    return moid, self._known[moid]
            if attempt == 0:
                self._refresh()
        if dom.uuid:
            raise no_domain(uuid=dom.uuid) if not dom.name else no_domain(dom.name)
        raise no_domain(dom.name)

    def _current(self, dom: DomainRef) -> tuple[str, Known]:
        """``_find`` plus the VM's power state read now (a domain changed elsewhere shows)."""
        moid, known = self._find(dom)
        props = self._vm_props(known, ["runtime.powerState", "config.managedBy", "name",
                                       "snapshot"])
        snap = props.get("snapshot")
        row = VmRow(known.vm, moid, props.get("name", known.name), known.uuid,
                    str(props.get("runtime.powerState")), _transient(props),
                    _count(snap.rootSnapshotList) if snap is not None else 0)
        with self._lock:
            return moid, self._observe_row(row)

    def _vm_props(self, known: Known, props: list[str]) -> dict[str, Any]:
        try:
            return vm_props(self.session, known.vm, props, f"domain '{known.name}'")
        except VirtError as exc:
            if exc.code == ErrorCode.NO_DOMAIN:
                with self._lock:
                    self._forget(known.vm._moId)
                raise no_domain(known.name) from None
            raise

    # -- listing and lookup ----------------------------------------------------------------

    def _summary(self, moid: str, known: Known, snapshots: int = 0) -> DomainSummary:
        st = known.status
        return DomainSummary(self._ref(moid, known), int(st.state), int(st.reason),
                             st.persistent, False, st.has_managed_save, snapshots)

    @hookimpl
    def virtkit_domain_list(self) -> list[DomainSummary]:
        rows = self._refresh()
        with self._lock:
            out = []
            for row in rows:
                known = self._known.get(row.moid)
                if known is not None:
                    out.append(self._summary(row.moid, known, row.snapshots))
            return out

    @hookimpl
    def virtkit_domain_lookup_by_name(self, name: str) -> DomainRef:
        with self._lock:
            for moid, known in self._known.items():
                if known.name == name:
                    return self._ref(moid, known)
        self._refresh()
        with self._lock:
            for moid, known in self._known.items():
                if known.name == name:
                    return self._ref(moid, known)
        raise no_domain(name)

    @hookimpl
    def virtkit_domain_lookup_by_uuid(self, uuid: str) -> DomainRef:
        """By the BIOS uuid (``config.uuid``), else by the instance uuid."""
        try:
            moid, known = self._find(DomainRef("", uuid))  # the records, then a listing
            return self._ref(moid, known)
        except VirtError as exc:
            if exc.code != ErrorCode.NO_DOMAIN:
                raise
        row = self._by_instance_uuid(uuid)
        if row is None or row.moid in self._gone:
            raise no_domain(uuid=uuid)
        with self._lock:
            known = self._observe_row(row)
            return self._ref(row.moid, known)

    def _by_bios_uuid(self, uuid: str) -> VmRow | None:
        return self._by_instance_uuid(uuid, instance=False)

    def _by_instance_uuid(self, uuid: str, instance: bool = True) -> VmRow | None:
        index = self.session.content.searchIndex
        vm = self.session.call(
            f"looking up uuid '{uuid}'",
            lambda: index.FindByUuid(None, uuid, True, instance),
        )
        if vm is None:
            return None
        props = vm_props(self.session, vm, ["name", "config.uuid", "runtime.powerState",
                                            "config.managedBy"], f"uuid '{uuid}'")
        return VmRow(vm, vm._moId, props["name"], props["config.uuid"],
                     str(props["runtime.powerState"]), _transient(props), 0)

    @hookimpl
    def virtkit_domain_lookup_by_id(self, id: int) -> DomainRef:
        self._refresh()
        with self._lock:
            for moid, known in self._known.items():
                if known.status.active and moref_id(moid) == id:
                    return self._ref(moid, known)
        raise no_domain(id=id)

    # -- definition ------------------------------------------------------------------------

    def _parse(self, xml: str, validate: bool) -> Any:
        from virtkit.xml.domain import Domain

        dom = Domain.from_xml(xml, validate=validate)
        self._uuid_given = dom.uuid is not None
        return dom.with_defaults()

    def _datastore(self) -> str:
        """The first accessible datastore of the scope (looked up once per connection)."""
        assert self.scope is not None
        if self._default_datastore:
            return self._default_datastore
        scope = self.scope
        stores = self.session.call("listing datastores", lambda: scope.compute.datastore)
        for ds in stores:
            if ds.summary.accessible:
                self._default_datastore = str(ds.name)
                return self._default_datastore
        raise esx_error(ErrorCode.OPERATION_FAILED, "no accessible datastore to create a VM on")

    def _create_vm(self, dom: Any, transient: str) -> tuple[str, Known]:
        from pyVmomi import vim

        assert self.scope is not None
        plan = config_spec(dom, self._datastore())
        if transient:
            plan.spec.managedBy = vim.ext.ManagedByInfo(extensionKey=TRANSIENT_KEY,
                                                        type=transient)
        folder, pool, host = self.scope.vm_folder, self.scope.resource_pool, self.scope.host
        self._check_networks(plan.spec)
        with self._lock:
            self._creating.add(dom.name)
        try:
            task = self.session.call(
                f"creating domain '{dom.name}'",
                lambda: folder.CreateVM_Task(config=plan.spec, pool=pool, host=host),
            )
            vm = self.jobs.wait(task, f"create '{dom.name}'")
        finally:
            with self._lock:
                self._creating.discard(dom.name)
        row = VmRow(vm, vm._moId, dom.name, dom.uuid, "poweredOff", transient, 0)
        with self._lock:
            self._known.pop(vm._moId, None)
            known = Known(vm, dom.name, dom.uuid, DomainStatus(persistent=not transient),
                          transient)
            self._known[row.moid] = known
            self._by_uuid[dom.uuid] = row.moid
        return row.moid, known

    def _network_names(self) -> set[str]:
        assert self.scope is not None
        scope = self.scope
        nets = self.session.call("listing port groups", lambda: scope.datacenter.network)
        return {str(n.name) for n in nets}

    def _check_networks(self, spec: Any) -> None:
        """Every NIC names a port group of the datacenter (CONFIG_UNSUPPORTED naming it)."""
        backings = [c.device.backing for c in spec.deviceChange or ()
                    if hasattr(getattr(c.device, "backing", None), "deviceName")
                    and hasattr(c.device, "macAddress")]
        if not backings:
            return
        have = self._network_names()
        for backing in backings:
            name = backing.deviceName
            if name == DEFAULT_NETWORK and name not in have and have:
                # libvirt's 'default' network is where guests go unless told otherwise; on
                # vSphere that is the 'VM Network' port group
                backing.deviceName = DEFAULT_PORT_GROUP if DEFAULT_PORT_GROUP in have \
                    else sorted(have)[0]
                continue
            if name not in have:
                raise VirtError(ErrorCode.CONFIG_UNSUPPORTED,
                                f"unsupported configuration: interface: no port group '{name}' "
                                f"(there are: {', '.join(sorted(have))})", ErrorDomain.ESX)

    def _clash(self, dom: Any) -> tuple[str, Known] | None:
        """The existing VM with ``dom``'s name and uuid, None when neither is used; a clash of
        one without the other is OPERATION_FAILED.

        The records are kept current by the event watcher, so no listing is needed; a uuid the
        document gives is also looked up in vSphere (a VM made a moment ago elsewhere), and a
        name vSphere already has is refused by vSphere itself (DuplicateName)."""
        if self._uuid_given:
            with self._lock:
                known_uuid = dom.uuid in self._by_uuid
            if not known_uuid:
                row = self._by_bios_uuid(dom.uuid)
                if row is not None:
                    with self._lock:
                        self._observe_row(row)
        with self._lock:
            by_name = next(((m, k) for m, k in self._known.items() if k.name == dom.name), None)
            by_uuid_moid = self._by_uuid.get(dom.uuid)
            if by_name is not None and by_name[1].uuid != dom.uuid:
                raise VirtError(ErrorCode.OPERATION_FAILED,
                                f"domain '{dom.name}' already exists with uuid "
                                f"{by_name[1].uuid}", ErrorDomain.ESX)
            if by_uuid_moid is not None and by_name is None:
                other = self._known[by_uuid_moid]
                raise VirtError(ErrorCode.OPERATION_FAILED,
                                f"domain '{other.name}' already exists with uuid {dom.uuid}",
                                ErrorDomain.ESX)
            return by_name

    @hookimpl
    def virtkit_domain_define_xml(self, xml: str, validate: bool) -> DomainRef:
        dom = self._parse(xml, validate)
        existing = self._clash(dom)
        if existing is None:
            moid, known = self._create_vm(dom, "")
            with self._lock:
                known.status = DomainStatus()
                self._apply_define_event(moid, known, None)
            return self._ref(moid, known)
        moid, known = existing
        self._reconfigure(known, dom, persistent=True)
        with self._lock:
            known.transient = ""
            self._apply(moid, known, Op.DEFINE)
            return self._ref(moid, known)

    def _apply_define_event(self, moid: str, known: Known, status: DomainStatus | None) -> None:
        t = transition(Op.DEFINE, known.name, status)
        assert t.status is not None
        known.status = t.status
        for event, detail in t.events:
            self.emit(Event("domain-lifecycle", self._ref(moid, known), int(event), int(detail)))

    def _reconfigure(self, known: Known, dom: Any, *, persistent: bool | None = None) -> None:
        from pyVmomi import vim

        props = self._vm_props(known, ["config.hardware.device"])

        class _Existing:  # what config_spec reads of the VM
            class config:
                class hardware:
                    device = props.get("config.hardware.device") or []

        plan = config_spec(dom, "", existing=_Existing)
        self._check_networks(plan.spec)
        if persistent:
            plan.spec.managedBy = vim.ext.ManagedByInfo(extensionKey="", type="")
        self._task(known, f"reconfigure '{known.name}'",
                   lambda: known.vm.ReconfigVM_Task(spec=plan.spec))

    @hookimpl
    def virtkit_domain_create_xml(self, xml: str, paused: bool, validate: bool) -> DomainRef:
        if paused:
            raise VirtError(ErrorCode.ARGUMENT_UNSUPPORTED,
                            "argument unsupported: vSphere cannot start a guest paused",
                            ErrorDomain.ESX)
        dom = self._parse(xml, validate)
        existing = self._clash(dom)
        if existing is not None:
            return self._start_with(existing, dom)
        moid, known = self._create_vm(dom, "created")
        try:
            with self._lock:
                self._busy.add(moid)
            self._task(known, f"start '{dom.name}'", known.vm.PowerOnVM_Task)
        except VirtError:
            self._remove_transient(known)
            with self._lock:
                self._forget(moid)
                self._busy.discard(moid)
            raise
        with self._lock:
            self._busy.discard(moid)
            t = transition(Op.CREATE_XML, dom.name, None)
            assert t.status is not None
            known.status = t.status
            ref = self._ref(moid, known)
            for event, detail in t.events:
                self.emit(Event("domain-lifecycle", ref, int(event), int(detail)))
            return ref

    def _start_with(self, existing: tuple[str, Known], dom: Any) -> DomainRef:
        """create_xml naming an inactive defined domain: start it with the document given.
        vSphere keeps one configuration, so the document becomes the VM's configuration (libvirt
        would use it for this run only); a saved state is discarded, as a fresh boot does."""
        moid, known = existing
        ref = DomainRef(known.name, known.uuid)
        with self._vm_lock(ref):
            if known.status.active:
                raise VirtError(ErrorCode.OPERATION_INVALID,
                                f"domain '{dom.name}' is already active", ErrorDomain.DOMAIN)
            self._reconfigure(known, dom)
            with self._lock:
                self._busy.add(moid)
            try:
                if known.status.has_managed_save:
                    self._task(known, f"discard the saved state of '{known.name}'",
                               known.vm.PowerOffVM_Task)
                self._task(known, f"start '{known.name}'", known.vm.PowerOnVM_Task)
            finally:
                with self._lock:
                    self._busy.discard(moid)
            with self._lock:
                self._apply(moid, known, Op.CREATE, force_boot=True)
                return self._ref(moid, known)

    @hookimpl
    def virtkit_domain_undefine(self, dom: DomainRef, managed_save: bool,
                                snapshots_metadata: bool, nvram: bool) -> bool:
        from pyVmomi import vim

        moid, known = self._find(dom)
        st = known.status
        if not st.persistent:
            raise VirtError(ErrorCode.OPERATION_INVALID,
                            f"cannot undefine transient domain '{known.name}'", ErrorDomain.DOMAIN)
        if st.has_managed_save and not managed_save:
            raise VirtError(ErrorCode.OPERATION_INVALID,
                            f"refusing to undefine domain '{known.name}' with a managed save "
                            f"image (vSphere suspended state)", ErrorDomain.DOMAIN)
        snaps = known.snapshots
        if snaps and not snapshots_metadata:
            raise VirtError(ErrorCode.OPERATION_INVALID,
                            f"cannot undefine domain '{known.name}' with {snaps} snapshot(s)",
                            ErrorDomain.DOMAIN)
        with self._lock:
            self._busy.add(moid)
        try:
            if st.active:
                spec = vim.vm.ConfigSpec(managedBy=vim.ext.ManagedByInfo(
                    extensionKey=TRANSIENT_KEY, type="undefined"))
                self._task(known, f"undefine '{known.name}'",
                           lambda: known.vm.ReconfigVM_Task(spec=spec))
                known.transient = "undefined"
            else:
                if st.has_managed_save:
                    self._task(known, f"discard the saved state of '{known.name}'",
                               known.vm.PowerOffVM_Task)
                self.session.call(f"undefining domain '{known.name}'", known.vm.UnregisterVM)
        finally:
            with self._lock:
                self._busy.discard(moid)
        with self._lock:
            if not st.active:
                known.transient = ""  # already unregistered: nothing more to remove
            self._apply(moid, known, Op.UNDEFINE)
        return True

    # -- lifecycle -------------------------------------------------------------------------

    def _task(self, known: Known, what: str, start: Any) -> Any:
        task = self.session.call(what, start)
        return self.jobs.wait(task, what, domain=known.uuid)

    def _vm_lock(self, dom: DomainRef) -> threading.Lock:
        """One operation at a time per domain (check, vSphere call and state change)."""
        with self._lock:
            return self._op_locks.setdefault(dom.uuid or dom.name, threading.Lock())

    def _power(self, dom: DomainRef, op: Op, call: str, what: str,
               force_boot: bool = False) -> tuple[str, Known]:
        with self._vm_lock(dom):
            return self._power_locked(dom, op, call, what, force_boot)

    def _power_locked(self, dom: DomainRef, op: Op, call: str, what: str,
                      force_boot: bool) -> tuple[str, Known]:
        """Check against the record (kept current by the watcher), then ask vSphere; when
        vSphere refuses because the record was behind, read the VM and say why in libvirt's
        words."""
        moid, known = self._find(dom)
        transition(op, known.name, known.status, force_boot=force_boot)  # check first
        with self._lock:
            self._busy.add(moid)
        try:
            self._task(known, f"{what} '{known.name}'", getattr(known.vm, call))
        except VirtError as exc:
            with self._lock:
                self._busy.discard(moid)
            if exc.code == ErrorCode.NO_DOMAIN:
                with self._lock:
                    self._forget(moid)
                raise no_domain(known.name) from None
            if exc.code == ErrorCode.OPERATION_INVALID:
                moid, known = self._current(dom)
                transition(op, known.name, known.status, force_boot=force_boot)
            raise
        finally:
            with self._lock:
                self._busy.discard(moid)
        with self._lock:
            self._apply(moid, known, op, force_boot=force_boot)
        return moid, known

    @hookimpl
    def virtkit_domain_create(self, dom: DomainRef, paused: bool, force_boot: bool) -> DomainRef:
        if paused:
            raise VirtError(ErrorCode.ARGUMENT_UNSUPPORTED,
                            "argument unsupported: vSphere cannot start a guest paused",
                            ErrorDomain.ESX)
        moid, known = self._find(dom)
        if force_boot and known.status.has_managed_save:
            with self._lock:
                self._busy.add(moid)
            try:
                self._task(known, f"discard the saved state of '{known.name}'",
                           known.vm.PowerOffVM_Task)
            finally:
                with self._lock:
                    self._busy.discard(moid)
        moid, known = self._power(dom, Op.CREATE, "PowerOnVM_Task", "start",
                                  force_boot=force_boot)
        return self._ref(moid, known)

    @hookimpl
    def virtkit_domain_destroy(self, dom: DomainRef, graceful: bool) -> bool:
        self._power(dom, Op.DESTROY, "PowerOffVM_Task", "power off")
        return True

    @hookimpl
    def virtkit_domain_managed_save(self, dom: DomainRef, start_state: str | None) -> bool:
        """vSphere's suspend: memory to the datastore, resumed by the next start."""
        if start_state == "paused":
            raise VirtError(ErrorCode.ARGUMENT_UNSUPPORTED,
                            "argument unsupported: vSphere cannot resume a guest paused",
                            ErrorDomain.ESX)
        self._power(dom, Op.MANAGED_SAVE, "SuspendVM_Task", "suspend")
        return True

    @hookimpl
    def virtkit_domain_managed_save_remove(self, dom: DomainRef) -> bool:
        _moid, known = self._current(dom)
        if known.status.has_managed_save:
            self._power(dom, Op.MANAGED_SAVE_REMOVE, "PowerOffVM_Task",
                        "discard the saved state of")
        return True

    @hookimpl
    def virtkit_domain_reset(self, dom: DomainRef) -> bool:
        self._power(dom, Op.RESET, "ResetVM_Task", "reset")
        return True

    @hookimpl
    def virtkit_domain_shutdown(self, dom: DomainRef, mode: str | None) -> bool:
        """A guest shutdown through VMware Tools (mode ``agent``, the default)."""
        if mode not in (None, "agent"):
            raise VirtError(ErrorCode.ARGUMENT_UNSUPPORTED,
                            f"argument unsupported: shutdown mode '{mode}' (vSphere shuts a "
                            f"guest down through VMware Tools: mode 'agent')", ErrorDomain.ESX)
        _moid, known = self._current(dom)
        transition(Op.SHUTDOWN, known.name, known.status)
        with self._lock:
            known.shutdown_requested = True
        try:
            self.session.call(f"shutting down domain '{known.name}'", known.vm.ShutdownGuest)
        except VirtError:
            known.shutdown_requested = False
            raise
        # the guest powers off in its own time; the watcher (or the next look) sees it
        try:
            self._current(dom)
        except VirtError as exc:
            if exc.code != ErrorCode.NO_DOMAIN:
                raise
        return True

    @hookimpl
    def virtkit_domain_reboot(self, dom: DomainRef, mode: str | None) -> bool:
        if mode not in (None, "agent"):
            raise VirtError(ErrorCode.ARGUMENT_UNSUPPORTED,
                            f"argument unsupported: reboot mode '{mode}' (use 'agent')",
                            ErrorDomain.ESX)
        moid, known = self._current(dom)
        transition(Op.REBOOT, known.name, known.status)
        self.session.call(f"rebooting domain '{known.name}'", known.vm.RebootGuest)
        with self._lock:
            self._apply(moid, known, Op.REBOOT)
        return True

    # -- information -----------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_get_state(self, dom: DomainRef) -> DomainStateInfo:
        _, known = self._current(dom)
        return DomainStateInfo(int(known.status.state), int(known.status.reason))

    @hookimpl
    def virtkit_domain_get_summary(self, dom: DomainRef) -> DomainSummary:
        moid, known = self._current(dom)
        return self._summary(moid, known, self._snapshot_count(known))

    @hookimpl
    def virtkit_domain_get_info(self, dom: DomainRef) -> DomainInfo:
        _moid, known = self._current(dom)
        props = self._vm_props(known, ["config.hardware.memoryMB", "config.hardware.numCPU",
                                       "config.memoryAllocation", "summary.quickStats"])
        memory = int(props.get("config.hardware.memoryMB", 0)) * 1024
        alloc = props.get("config.memoryAllocation")
        limit = int(alloc.limit) * 1024 if alloc is not None and alloc.limit is not None else -1
        used = limit if 0 < limit < memory else memory
        stats = props.get("summary.quickStats")
        cpu_time = 0
        if known.status.active and stats is not None:
            cpu_time = int(stats.uptimeSeconds or 0) * 1_000_000_000
        return DomainInfo(int(known.status.state), memory, used,
                          int(props.get("config.hardware.numCPU", 1)), cpu_time)

    @hookimpl
    def virtkit_domain_get_xml(self, dom: DomainRef, inactive: bool, security_info: bool) -> str:
        moid, known = self._current(dom)
        props = self._vm_props(known, ["config"])
        config = props["config"]
        active_id = moref_id(moid) if known.status.active and not inactive else None
        return domain_from_vm(config, known.name, active_id).to_xml(secure=security_info)

    @hookimpl
    def virtkit_domain_interface_addresses(self, dom: DomainRef,
                                           source: str) -> list[InterfaceAddress]:
        """What VMware Tools in the guest report (``guest.net``): source ``agent`` only."""
        import ipaddress

        if source != "agent":
            raise VirtError(ErrorCode.ARGUMENT_UNSUPPORTED,
                            f"argument unsupported: address source '{source}' (vSphere knows "
                            f"what VMware Tools report: source 'agent')", ErrorDomain.ESX)
        _moid, known = self._current(dom)
        if not known.status.active:
            raise VirtError(ErrorCode.OPERATION_INVALID,
                            f"domain '{known.name}' is not running", ErrorDomain.DOMAIN)
        nics = self._vm_props(known, ["guest.net"]).get("guest.net") or []
        out = []
        for index, nic in enumerate(nics):
            addrs: list[dict[str, Any]] = []
            config = getattr(nic, "ipConfig", None)
            entries = [(a.ipAddress, int(a.prefixLength or 0))
                       for a in (config.ipAddress if config is not None else None) or ()]
            if not entries:
                entries = [(a, 0) for a in nic.ipAddress or ()]
            for addr, prefix in entries:
                try:
                    version = ipaddress.ip_address(addr).version
                except ValueError:
                    continue
                addrs.append({"type": 0 if version == 4 else 1, "addr": addr,
                              "prefix": prefix})
            out.append(InterfaceAddress(f"eth{index}", (nic.macAddress or "").lower(), addrs))
        return out

    # -- resources -------------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_set_memory(self, dom: DomainRef, kib: int, live: bool, config: bool,
                                  maximum: bool) -> bool:
        from pyVmomi import vim

        _moid, known = self._current(dom)
        if kib < 1024 or kib % 1024:
            raise VirtError(ErrorCode.INVALID_ARG,
                            f"invalid argument: memory {kib} KiB for domain '{known.name}' "
                            f"(vSphere needs whole MiB)", ErrorDomain.ESX)
        props = self._vm_props(known, ["config.hardware.memoryMB"])
        max_mb = int(props["config.hardware.memoryMB"])
        if maximum:
            if known.status.active and live:
                raise VirtError(ErrorCode.OPERATION_INVALID,
                                f"cannot change the maximum memory of running domain "
                                f"'{known.name}'", ErrorDomain.DOMAIN)
            spec = vim.vm.ConfigSpec(memoryMB=kib // 1024)
        else:
            if kib // 1024 > max_mb:
                raise VirtError(ErrorCode.INVALID_ARG,
                                f"invalid argument: {kib} KiB exceeds the maximum memory of "
                                f"domain '{known.name}' ({max_mb * 1024} KiB)", ErrorDomain.ESX)
            limit = kib // 1024 if kib // 1024 < max_mb else -1
            spec = vim.vm.ConfigSpec(memoryAllocation=vim.ResourceAllocationInfo(limit=limit))
        self._task(known, f"set the memory of '{known.name}'",
                   lambda: known.vm.ReconfigVM_Task(spec=spec))
        return True

    @hookimpl
    def virtkit_domain_set_vcpus(self, dom: DomainRef, count: int, live: bool, config: bool,
                                 maximum: bool) -> bool:
        from pyVmomi import vim

        from virtkit_vmware.domxml import VCPU_MAX_KEY, extra_config

        _moid, known = self._current(dom)
        if count < 1:
            raise VirtError(ErrorCode.INVALID_ARG,
                            f"invalid argument: {count} vcpus for domain '{known.name}'",
                            ErrorDomain.ESX)
        props = self._vm_props(known, ["config.hardware.numCPU", "config.extraConfig"])
        current = int(props["config.hardware.numCPU"])
        extra = extra_config(type("C", (), {"extraConfig": props.get("config.extraConfig")}))
        top = max(current, int(extra.get(VCPU_MAX_KEY, current)))
        if maximum:
            if known.status.active and live:
                raise VirtError(ErrorCode.OPERATION_INVALID,
                                f"cannot change the maximum vcpus of running domain "
                                f"'{known.name}'", ErrorDomain.DOMAIN)
            spec = vim.vm.ConfigSpec(
                numCPUs=min(current, count), cpuHotAddEnabled=count > min(current, count),
                extraConfig=[vim.option.OptionValue(key=VCPU_MAX_KEY, value=str(count))])
        else:
            if count > top:
                raise VirtError(ErrorCode.INVALID_ARG,
                                f"invalid argument: {count} vcpus exceed the maximum of "
                                f"domain '{known.name}' ({top})", ErrorDomain.ESX)
            spec = vim.vm.ConfigSpec(numCPUs=count)
        self._task(known, f"set the vcpus of '{known.name}'",
                   lambda: known.vm.ReconfigVM_Task(spec=spec))
        return True

    @hookimpl
    def virtkit_domain_get_vcpus_count(self, dom: DomainRef, live: bool, config: bool,
                                       maximum: bool) -> int:
        from virtkit_vmware.domxml import VCPU_MAX_KEY, extra_config

        _moid, known = self._current(dom)
        if live and not known.status.active:
            raise VirtError(ErrorCode.OPERATION_INVALID,
                            f"domain '{known.name}' is not running", ErrorDomain.DOMAIN)
        props = self._vm_props(known, ["config.hardware.numCPU", "config.extraConfig"])
        current = int(props["config.hardware.numCPU"])
        if not maximum:
            return current
        extra = extra_config(type("C", (), {"extraConfig": props.get("config.extraConfig")}))
        return max(current, int(extra.get(VCPU_MAX_KEY, current)))

    # -- autostart (HostAutoStartManager) --------------------------------------------------

    def _autostart_manager(self) -> Any:
        assert self.scope is not None
        host = self.scope.host or self.scope.compute.host[0]
        return self.session.call("reading the autostart manager",
                                 lambda: host.configManager.autoStartManager)

    @hookimpl
    def virtkit_domain_get_autostart(self, dom: DomainRef) -> bool:
        moid, _known = self._current(dom)
        mgr = self._autostart_manager()
        config = self.session.call("reading autostart", lambda: mgr.config)
        for info in config.powerInfo or ():
            if info.key._moId == moid:
                return str(info.startAction).lower() == "poweron"
        return False

    @hookimpl
    def virtkit_domain_set_autostart(self, dom: DomainRef, autostart: bool) -> bool:
        from pyVmomi import vim

        _moid, known = self._current(dom)
        if not known.status.persistent:
            raise VirtError(ErrorCode.OPERATION_INVALID,
                            f"cannot set autostart for transient domain '{known.name}'",
                            ErrorDomain.DOMAIN)
        mgr = self._autostart_manager()
        info = vim.host.AutoStartManager.AutoPowerInfo(
            key=known.vm, startOrder=-1, startDelay=-1, waitForHeartbeat="systemDefault",
            startAction="powerOn" if autostart else "none", stopDelay=-1,
            stopAction="systemDefault")
        spec = vim.host.AutoStartManager.Config(powerInfo=[info])
        self.session.call(f"setting autostart of '{known.name}'",
                          lambda: mgr.ReconfigureAutostart(spec=spec))
        return True

    # -- jobs ------------------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_get_job_info(self, dom: DomainRef) -> JobInfo:
        _, known = self._find(dom)
        return self.jobs.info(known.uuid)

    @hookimpl
    def virtkit_domain_abort_job(self, dom: DomainRef) -> bool:
        _, known = self._find(dom)
        self.jobs.abort(known.uuid, known.name)
        return True

    # -- snapshots (helpers; hooks in snapshots.py) ----------------------------------------

    def _snapshot_count(self, known: Known) -> int:
        from virtkit_vmware.inventory import _count

        snap = self._vm_props(known, ["snapshot"]).get("snapshot")
        return _count(snap.rootSnapshotList) if snap is not None else 0


def _transient(props: dict[str, Any]) -> str:
    managed = props.get("config.managedBy")
    if managed is not None and getattr(managed, "extensionKey", "") == TRANSIENT_KEY:
        return str(managed.type or "created")
    return ""
