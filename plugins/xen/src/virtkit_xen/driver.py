"""``xen:///system``: Xen guests through the xl toolstack.

Definitions and runtime status are kept in the state store (one JSON record per guest), so
guests outlive the process that started them; every query reconciles the records with
``xl list -v`` (a guest that left on its own is marked shut off, a guest paused or unpaused
behind our back follows), and a watcher thread does the same every ``poll`` seconds to emit the
lifecycle events of changes made elsewhere. ``xl`` runs through a runner (see
:mod:`virtkit_xen.runner`): the URI's ``runner`` parameter or ``VIRTKIT_XEN_RUNNER``.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import threading
from typing import Any, ClassVar

import attrs

from virtkit.sdk.driver import Driver
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
from virtkit.sdk.states import DomainState, DomainStatus, Op, transition
from virtkit.sdk.store import StateStore, check_name
from virtkit.xml.domain import Domain
from virtkit_xen import native
from virtkit_xen.runner import Recording, Runner, runner_from_spec
from virtkit_xen.xl import XL, XlDomain
from virtkit_xen.xlconsole import XlConsoleHooks
from virtkit_xen.xldev import XlDeviceHooks
from virtkit_xen.xlmigrate import XlMigrationHooks, migrating_out
from virtkit_xen.xlsnap import XlSnapshotHooks

log = logging.getLogger("virtkit_xen")

__all__ = ["XenDriver"]


@attrs.define
class Guest:
    config: Domain | None  # the persistent definition (None: transient)
    status: DomainStatus
    id: int = -1
    live: Domain | None = None
    autostart: bool = False

    @property
    def dom(self) -> Domain:
        d = self.live or self.config
        assert d is not None
        return d

    @property
    def ref(self) -> DomainRef:
        return DomainRef(self.dom.name, self.dom.uuid or "", self.id)


class XenDriver(XlConsoleHooks, XlDeviceHooks, XlSnapshotHooks, XlMigrationHooks, Driver):
    """The xl backend."""

    name = "xen"
    error_domain = ErrorDomain.LIBXL
    domain_types = ("xen",)
    os_types = ("linux", "xen", "xenpvh", "hvm")
    capabilities: ClassVar[dict[str, Any]] = {
        "live_migration": True, "offline_migration": False, "console": True,
        # attach, detach (also by alias) live and config; update_device: a cdrom's media
        # (virtkit_xen.xldev)
        "hotplug": ("disk", "interface"), "coldplug": ("disk", "interface"),
        "graphics": ("vnc", "sdl"),
        "shutdown_modes": (), "disk_formats": ("raw", "qcow2", "vhd", "qed"),
        "native_formats": ("xen-xl",),
    }

    #: where the generated xl.cfg files and managed-save images live in dom0
    DOM0_DIR = "/var/lib/xen/virtkit"
    #: the device model xl starts for a guest's framebuffer (``<graphics type='vnc|sdl'>``):
    #: where Debian's xen-utils-4.17 looks for it (Debian's ``qemu-system-xen`` installs it)
    DEVICE_MODEL = "/usr/libexec/xen-qemu-system-i386"

    def __init__(self, context: Any, runner: Runner | None = None) -> None:
        super().__init__(context)
        spec = next((v for k, v in context.uri.params if k == "runner"), None)
        self.runner = runner or runner_from_spec(
            spec or os.environ.get("VIRTKIT_XEN_RUNNER", "local"))
        record = os.environ.get("VIRTKIT_XEN_RECORD")
        if record:  # a transcript of every command and answer (JSON lines)
            self.runner = Recording(self.runner, record)
        self.xl = XL(self.runner)
        self.store = StateStore(context.state_dirs().config, suffix=".json")
        self.lock = threading.RLock()
        self.poll = float(os.environ.get("VIRTKIT_XEN_POLL", "2"))
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.device_model = False  # probed at open

    # -- persistence ----------------------------------------------------------------------------

    @property
    def _types(self) -> dict[str, Any]:
        return {"domain_types": self.domain_types, "os_types": self.os_types}

    def _load(self, name: str) -> Guest | None:
        data = self.store.read("guests", name)
        if data is None:
            return None
        r = json.loads(data)
        st = DomainStatus(DomainState(r["state"]), r["reason"], r["persistent"],
                          r.get("managed_save", False))
        return Guest(Domain.from_xml(r["config"], **self._types) if r["config"] else None, st,
                     r["id"], Domain.from_xml(r["live"], **self._types) if r["live"] else None,
                     r["autostart"])

    def _save(self, g: Guest) -> None:
        self.store.write("guests", g.dom.name, json.dumps({
            "config": g.config.to_xml() if g.config else None,
            "live": g.live.to_xml() if g.live else None, "state": int(g.status.state),
            "reason": g.status.reason, "persistent": g.status.persistent,
            "managed_save": g.status.has_managed_save, "id": g.id, "autostart": g.autostart,
        }).encode())

    def _all(self) -> list[Guest]:
        return [g for g in map(self._load, self.store.names("guests")) if g is not None]

    def _find(self, dom: DomainRef) -> Guest:
        try:
            check_name(dom.name)
        except VirtError:
            raise no_domain(dom.name or None, uuid=dom.uuid or None) from None
        g = self._load(dom.name)
        if g is None or (dom.uuid and g.dom.uuid != dom.uuid):
            raise no_domain(dom.name or None, uuid=dom.uuid or None)
        return g

    def _apply(self, g: Guest, op: Op, *, new: bool = False, **flags: Any) -> DomainRef:
        t = transition(op, g.dom.name, None if new else g.status, **flags)
        ref = g.ref
        if t.status is None:
            self.store.delete("guests", g.dom.name)
        else:
            if not t.status.active:
                g.id, g.live = -1, None
            g.status = t.status
            self._save(g)
            ref = g.ref
        for event, detail in t.events:
            self.emit(Event("domain-lifecycle", ref, int(event), int(detail)))
        return ref

    # -- reconciling with xl --------------------------------------------------------------------

    def _sync(self) -> dict[str, XlDomain]:
        """Bring the records in line with ``xl list -v``; emit what changed."""
        with self.store.locked(), self.lock:
            listed = [d for d in self.xl.list() if d.domid != 0]
            running = {d.name: d for d in listed}
            by_uuid = {d.uuid: d for d in listed if d.uuid}
            for g in self._all():
                if not g.status.active or migrating_out(g.status):
                    continue  # xl migrate has taken it (and removed it from the list)
                x = running.get(g.dom.name) or by_uuid.get(g.dom.uuid or "")
                if x is None or x.gone:
                    log.info("xen: domain '%s' (id %d) is gone from xl's list: %s", g.dom.name,
                             g.id, ", ".join(f"{d.name} {d.domid} {d.state}" for d in listed))
                    if x is None or "c" not in x.state:
                        self._apply(g, Op.SHUTDOWN)  # it left on its own: an orderly stop
                    else:
                        self._apply(g, Op.CRASH)
                    continue
                if x.domid != g.id:
                    g.id = x.domid
                    self._save(g)
                if x.paused and g.status.state == DomainState.RUNNING:
                    self._apply(g, Op.SUSPEND)
                elif not x.paused and g.status.state == DomainState.PAUSED:
                    self._apply(g, Op.RESUME)
            return running

    def _watch(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self._sync()
            except VirtError as e:
                log.warning("xen: polling xl failed: %s", e.message)

    # -- connection -----------------------------------------------------------------------------

    @hookimpl
    def virtkit_connect_open(self, uri: str, read_only: bool) -> bool:
        self.xl.info()  # fails with NO_CONNECT / OPERATION_FAILED when there is no dom0
        self._probe_device_model()
        self._sync()
        if self.poll > 0:
            self._watcher = threading.Thread(target=self._watch, name="xen-watch", daemon=True)
            self._watcher.start()
        return True

    def _probe_device_model(self) -> None:
        """Whether dom0 has the device model (one ``test -x``); the declared capabilities say
        what this host can run: no graphics without it."""
        self.device_model = self.xl.sh(["test", "-x", self.DEVICE_MODEL]).rc == 0
        self.capabilities = {  # type: ignore[misc]
            **type(self).capabilities,
            "graphics": type(self).capabilities["graphics"] if self.device_model else ()}

    def _check_device_model(self, d: Domain) -> None:
        """CONFIG_UNSUPPORTED for a guest that needs the device model dom0 does not have (xl
        would fail its start with ``device model ... is not executable``): an HVM guest (QEMU
        emulates its devices) or a framebuffer (``<graphics type='vnc|sdl'>``)."""
        if self.device_model:
            return
        if d.os.type.name == "hvm":
            need = "an HVM guest (<os><type>hvm</type>: QEMU emulates its devices)"
        else:
            kinds = [g.type for g in (d.devices.graphics if d.devices else ())
                     if g.type in ("vnc", "sdl")]
            if not kinds:
                return
            need = f"<graphics type='{kinds[0]}'>"
        raise VirtError(ErrorCode.CONFIG_UNSUPPORTED,
                        f"unsupported configuration: domain '{d.name}': {need} needs the Xen "
                        f"device model {self.DEVICE_MODEL}, which this dom0 does not have "
                        "(Debian: package qemu-system-xen)", ErrorDomain.LIBXL)

    @hookimpl
    def virtkit_connect_close(self) -> bool:
        self.close_consoles()
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=10)
        self.runner.close()
        return True

    @hookimpl
    def virtkit_connect_get_hostname(self) -> str:
        return self.xl.info().get("host", "dom0")

    @hookimpl
    def virtkit_connect_get_version(self) -> int:
        info = self.xl.info()
        return (int(info.get("xen_major", "0")) * 1_000_000
                + int(info.get("xen_minor", "0")) * 1000)

    @hookimpl
    def virtkit_node_get_info(self) -> NodeInfo:
        i = self.xl.info()
        cpus = int(i.get("nr_cpus", "1"))
        return NodeInfo(i.get("machine", "x86_64"), int(i.get("total_memory", "0")) * 1024,
                        cpus, int(float(i.get("cpu_mhz", "0"))), int(i.get("nr_nodes", "1")),
                        int(i.get("sockets_per_node", "1")), int(i.get("cores_per_socket", "1")),
                        int(i.get("threads_per_core", "1")))

    @hookimpl
    def virtkit_connect_get_capabilities(self) -> str:
        from virtkit.xml import capabilities as cx

        guests = tuple(
            cx.Guest(os_type=os_type, arch=cx.GuestArch(
                name="x86_64", wordsize=64, machines=(cx.Machine(name=machine),),
                domains=(cx.GuestDomain(type="xen"),)))
            for os_type, machine in (("linux", "xenpv"), ("xenpvh", "xenpvh"),
                                     ("hvm", "xenfv")))
        return cx.Capabilities(host=cx.HostCaps(cpu=cx.HostCpu(arch="x86_64")),
                               guests=guests).to_xml()

    # No hookspec for native formats exists yet: these are the bodies of
    @hookimpl
    def virtkit_connect_domain_xml_from_native(self, native_format: str,
                                               native_config: str) -> str:
        """``domxml-from-native xen-xl``: unknown keys are kept in ``<metadata>``."""
        _native_format(native_format)
        return native.xl_to_xml(native_config).text

    @hookimpl
    def virtkit_connect_domain_xml_to_native(self, native_format: str, xml: str) -> str:
        """``domxml-to-native xen-xl``."""
        _native_format(native_format)
        return native.xml_to_xl(xml).text

    # -- lookups --------------------------------------------------------------------------------

    def _summary(self, g: Guest) -> DomainSummary:
        return DomainSummary(g.ref, int(g.status.state), int(g.status.reason),
                             g.status.persistent, g.autostart, g.status.has_managed_save,
                             len(self._snaps(g.dom.name)["list"]))

    @hookimpl
    def virtkit_domain_list(self) -> list[DomainSummary]:
        self._sync()
        with self.lock:
            return [self._summary(g) for g in self._all()]

    @hookimpl
    def virtkit_domain_get_summary(self, dom: DomainRef) -> DomainSummary:
        self._sync()
        with self.lock:
            return self._summary(self._find(dom))

    @hookimpl
    def virtkit_domain_lookup_by_name(self, name: str) -> DomainRef:
        self._sync()
        with self.lock:
            return self._find(DomainRef(name, "", -1)).ref

    @hookimpl
    def virtkit_domain_lookup_by_uuid(self, uuid: str) -> DomainRef:
        self._sync()
        with self.lock:
            for g in self._all():
                if g.dom.uuid == uuid:
                    return g.ref
        raise no_domain(uuid=uuid)

    @hookimpl
    def virtkit_domain_lookup_by_id(self, id: int) -> DomainRef:
        self._sync()
        with self.lock:
            for g in self._all():
                if g.id == id and id > 0:
                    return g.ref
        raise no_domain(id=id)

    # -- definitions ----------------------------------------------------------------------------

    def _parse(self, xml: str, validate: bool) -> Domain:
        d = Domain.from_xml(xml, validate=validate, **self._types).with_defaults()
        native.xml_to_xl(d.to_xml())  # refuses what xl cannot run (a non-Xen os type...)
        self._check_device_model(d)
        return d

    def _place(self, new: Domain) -> Guest | None:
        for g in self._all():
            same_name, same_uuid = g.dom.name == new.name, g.dom.uuid == new.uuid
            if same_name != same_uuid:
                raise VirtError(ErrorCode.OPERATION_FAILED,
                                f"domain '{g.dom.name}' already exists with uuid {g.dom.uuid}",
                                ErrorDomain.DOMAIN)
            if same_name:
                return g
        return None

    @hookimpl
    def virtkit_domain_define_xml(self, xml: str, validate: bool) -> DomainRef:
        new = self._parse(xml, validate)
        with self.store.locked(), self.lock:
            g = self._place(new)
            if g is None:
                return self._apply(Guest(new, DomainStatus()), Op.DEFINE, new=True)
            g.config = new
            return self._apply(g, Op.DEFINE)

    @hookimpl
    def virtkit_domain_undefine(self, dom: DomainRef, managed_save: bool,
                                snapshots_metadata: bool, nvram: bool) -> bool:
        with self.store.locked(), self.lock:
            g = self._find(dom)
            if g.status.has_managed_save and not managed_save:
                raise VirtError(ErrorCode.OPERATION_INVALID, f"domain '{g.dom.name}' has a "
                                "managed save image", ErrorDomain.DOMAIN)
            snaps = len(self._snaps(g.dom.name)["list"])
            if snaps and not snapshots_metadata:
                raise VirtError(ErrorCode.OPERATION_INVALID, f"domain '{g.dom.name}' has "
                                f"{snaps} snapshots", ErrorDomain.DOMAIN)
            if snaps:
                self._drop_snapshots(g.dom.name)
            self._apply(g, Op.UNDEFINE)
            if g.status.active and self._load(g.dom.name) is not None:
                g2 = self._load(g.dom.name)
                assert g2 is not None
                g2.config = None
                self._save(g2)
            return True

    # -- lifecycle ------------------------------------------------------------------------------

    def _start(self, g: Guest, d: Domain, paused: bool) -> None:
        self._check_device_model(d)  # a definition from before, or from a dom0 that had one
        cfg = native.xml_to_xl(d.to_xml())
        if cfg.dropped:
            log.warning("domain '%s': xl.cfg cannot express %s; starting without it",
                        d.name, ", ".join(cfg.dropped))
        path = f"{self.DOM0_DIR}/{d.name}.cfg"
        self.xl.write_file(path, cfg.text.encode())
        g.id = self.xl.create(path, d.name, paused)
        g.live = d

    @hookimpl
    def virtkit_domain_create(self, dom: DomainRef, paused: bool, force_boot: bool) -> DomainRef:
        self._sync()
        with self.store.locked(), self.lock:
            g = self._find(dom)
            transition(Op.CREATE, g.dom.name, g.status, paused=paused, force_boot=force_boot)
            assert g.config is not None
            if g.status.has_managed_save and not force_boot:
                img = self._managed_path(g.dom.name)
                self.xl.restore(img, None, paused)
                g.id, g.live = self.xl.domid(g.dom.name), g.config
                self.xl.sh(["rm", "-f", img])
            else:
                self._start(g, g.config, paused)
            return self._apply(g, Op.CREATE, paused=paused, force_boot=force_boot)

    @hookimpl
    def virtkit_domain_create_xml(self, xml: str, paused: bool, validate: bool) -> DomainRef:
        new = self._parse(xml, validate)
        self._sync()
        with self.store.locked(), self.lock:
            g = self._place(new)
            fresh = g is None
            if g is None:
                g = Guest(None, DomainStatus(persistent=False))
            transition(Op.CREATE_XML, new.name, None if fresh else g.status, paused=paused)
            self._start(g, new, paused)
            return self._apply(g, Op.CREATE_XML, new=fresh, paused=paused)

    def _op(self, dom: DomainRef, op: Op, action: Any, **flags: Any) -> Guest:
        self._sync()
        with self.store.locked(), self.lock:
            g = self._find(dom)
            transition(op, g.dom.name, g.status, **flags)  # refuse before touching xl
            action(g)
            self._apply(g, op, **flags)
            return g

    @hookimpl
    def virtkit_domain_suspend(self, dom: DomainRef) -> bool:
        self._op(dom, Op.SUSPEND, lambda g: self.xl.pause(g.dom.name))
        return True

    @hookimpl
    def virtkit_domain_resume(self, dom: DomainRef) -> bool:
        self._op(dom, Op.RESUME, lambda g: self.xl.unpause(g.dom.name))
        return True

    @hookimpl
    def virtkit_domain_destroy(self, dom: DomainRef, graceful: bool) -> bool:
        def act(g: Guest) -> None:
            self.xl.destroy(g.dom.name)
            self.xl.wait_gone(g.dom.name)

        self._op(dom, Op.DESTROY, act)
        return True

    @hookimpl
    def virtkit_domain_shutdown(self, dom: DomainRef, mode: str | None) -> bool:
        """Ask the guest to shut down and wait for it (``xl shutdown -w``), then poll until xl
        no longer lists it."""
        if mode not in (None, "default", "paravirt"):
            raise VirtError(ErrorCode.CONFIG_UNSUPPORTED,
                            f"shutdown mode '{mode}' is not supported by xl", ErrorDomain.LIBXL)

        def act(g: Guest) -> None:
            self.xl.wait_control(g.dom.name, "feature-poweroff")
            self.xl.shutdown(g.dom.name, wait=True)
            self.xl.wait_gone(g.dom.name)

        self._op(dom, Op.SHUTDOWN, act)
        return True

    @hookimpl
    def virtkit_domain_reboot(self, dom: DomainRef, mode: str | None) -> bool:
        """``xl reboot``; then, when the guest restarts on reboot (``on_reboot`` restart, the
        default), wait until xl lists it again under its new domain id, holding the state
        store: in between xl shows the old domain shut down, then none, and a query (this
        process's or another's) would take the guest for one that shut down."""
        def act(g: Guest) -> None:
            self.xl.reboot(g.dom.name)
            if (g.dom.on_reboot or "restart") in ("restart", "rename-restart"):
                g.id = self.xl.wait_restarted(g.dom.name, g.id)

        g = self._op(dom, Op.REBOOT, act)
        self.emit(Event("domain-reboot", g.ref))
        return True

    @hookimpl
    def virtkit_domain_reset(self, dom: DomainRef) -> bool:
        """HVM: ``xl trigger NAME reset`` (the emulated reset line). Xen has no reset for PV and
        PVH guests (libxl implements the trigger for HVM only), so theirs is a hard restart:
        ``xl destroy`` and ``xl create`` of the running configuration (a new domain id)."""
        def act(g: Guest) -> None:
            if g.dom.os.type.name == "hvm":
                self.xl.reset(g.dom.name)
                return
            paused = g.status.state == DomainState.PAUSED
            self.xl.destroy(g.dom.name)
            self.xl.wait_gone(g.dom.name)
            self._start(g, g.dom, paused)

        self._op(dom, Op.RESET, act)
        return True

    @hookimpl
    def virtkit_domain_save(self, dom: DomainRef, path: str, xml: str | None,
                            start_state: str | None) -> bool:
        def act(g: Guest) -> None:
            self.xl.wait_control(g.dom.name, "feature-suspend")
            self.xl.save(g.dom.name, path)

        self._op(dom, Op.SAVE, act)
        return True

    @hookimpl
    def virtkit_domain_restore(self, path: str, xml: str | None,
                               start_state: str | None) -> DomainRef:
        r = self.xl.sh(["sh", "-c", f"test -r {shlex.quote(path)}"])
        if r.rc != 0:
            raise VirtError(ErrorCode.SYSTEM_ERROR, f"cannot read saved image '{path}'",
                            ErrorDomain.LIBXL)
        before = {d.name for d in self.xl.list()}
        paused = start_state == "paused"
        self.xl.restore(path, None, paused)
        with self.store.locked(), self.lock:
            after = [d for d in self.xl.list() if d.name not in before and d.domid != 0]
            if not after:
                raise VirtError(ErrorCode.OPERATION_FAILED, f"restoring '{path}' started no "
                                "domain", ErrorDomain.LIBXL)
            x = after[0]
            g = self._load(x.name)
            if g is None:
                raise VirtError(ErrorCode.OPERATION_INVALID, f"'{path}' holds domain '{x.name}'"
                                ", which this driver did not save", ErrorDomain.LIBXL)
            g.id, g.live = x.domid, g.config or g.live
            return self._apply(g, Op.RESTORE, paused=paused)

    def _managed_path(self, name: str) -> str:
        return f"{self.DOM0_DIR}/save/{name}.save"

    @hookimpl
    def virtkit_domain_managed_save(self, dom: DomainRef, start_state: str | None) -> bool:
        def act(g: Guest) -> None:
            if not g.status.persistent:
                raise VirtError(ErrorCode.OPERATION_INVALID, f"cannot do managed save for "
                                f"transient domain '{g.dom.name}'", ErrorDomain.DOMAIN)
            self.xl.sh(["mkdir", "-p", f"{self.DOM0_DIR}/save"])
            self.xl.wait_control(g.dom.name, "feature-suspend")
            self.xl.save(g.dom.name, self._managed_path(g.dom.name))

        self._op(dom, Op.MANAGED_SAVE, act)
        return True

    @hookimpl
    def virtkit_domain_managed_save_remove(self, dom: DomainRef) -> bool:
        with self.store.locked(), self.lock:
            g = self._find(dom)
            if g.status.has_managed_save:
                self.xl.sh(["rm", "-f", self._managed_path(g.dom.name)])
                self._apply(g, Op.MANAGED_SAVE_REMOVE)
            return True

    # -- state and definitions out --------------------------------------------------------------

    @hookimpl
    def virtkit_domain_get_state(self, dom: DomainRef) -> DomainStateInfo:
        self._sync()
        with self.lock:
            st = self._find(dom).status
            return DomainStateInfo(int(st.state), int(st.reason))

    @hookimpl
    def virtkit_domain_get_info(self, dom: DomainRef) -> DomainInfo:
        running = self._sync()
        with self.lock:
            g = self._find(dom)
            d = g.dom
            x = running.get(d.name) if g.status.active else None
            mem = x.mem_mib * 1024 if x else (d.current_memory or d.memory or 0)
            return DomainInfo(int(g.status.state), d.memory or 0, mem,
                              x.vcpus if x else (d.vcpu.current or d.vcpu.count if d.vcpu
                                                 else 1),
                              int((x.cpu_time if x else 0) * 1e9))

    @hookimpl
    def virtkit_domain_get_xml(self, dom: DomainRef, inactive: bool,
                               security_info: bool) -> str:
        self._sync()
        with self.lock:
            g = self._find(dom)
            if (inactive and g.config is not None) or g.live is None:
                d = g.config or g.dom
            else:
                d = attrs.evolve(g.live, id=g.id)
            return d.to_xml(secure=security_info)

    @hookimpl
    def virtkit_domain_get_autostart(self, dom: DomainRef) -> bool:
        with self.lock:
            return self._find(dom).autostart

    @hookimpl
    def virtkit_domain_set_autostart(self, dom: DomainRef, autostart: bool) -> bool:
        with self.store.locked(), self.lock:
            g = self._find(dom)
            if not g.status.persistent:
                raise VirtError(ErrorCode.OPERATION_INVALID,
                                f"cannot set autostart for transient domain '{g.dom.name}'",
                                ErrorDomain.DOMAIN)
            g.autostart = autostart
            self._save(g)
            return True

    # -- live changes ---------------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_set_vcpus(self, dom: DomainRef, count: int, live: bool, config: bool,
                                 maximum: bool) -> bool:
        self._sync()
        with self.store.locked(), self.lock:
            g = self._find(dom)
            _live_ok(g, live, maximum, "vcpus")
            top = g.dom.vcpu.count if g.dom.vcpu else 1
            if not maximum and count > top:
                raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: {count} vcpus is "
                                f"more than the maximum {top} of domain '{g.dom.name}'")
            if live:
                self.xl.vcpu_set(g.dom.name, count)
                assert g.live is not None and g.live.vcpu is not None
                g.live = attrs.evolve(g.live, vcpu=attrs.evolve(
                    g.live.vcpu, current=None if count == top else count))
            if config and g.config is not None:
                v = g.config.vcpu
                assert v is not None
                v = attrs.evolve(v, count=count, current=None) if maximum else attrs.evolve(
                    v, current=None if count == v.count else count)
                g.config = attrs.evolve(g.config, vcpu=v)
            self._save(g)
            return True

    @hookimpl
    def virtkit_domain_get_vcpus_count(self, dom: DomainRef, live: bool, config: bool,
                                       maximum: bool) -> int:
        with self.lock:
            g = self._find(dom)
            if live and not g.status.active:
                raise VirtError(ErrorCode.OPERATION_INVALID,
                                f"domain '{g.dom.name}' is not running", ErrorDomain.DOMAIN)
            d = g.live if live else (g.config or g.dom)
            assert d is not None and d.vcpu is not None
            return d.vcpu.count if maximum or d.vcpu.current is None else d.vcpu.current

    @hookimpl
    def virtkit_domain_set_memory(self, dom: DomainRef, kib: int, live: bool, config: bool,
                                  maximum: bool) -> bool:
        self._sync()
        with self.store.locked(), self.lock:
            g = self._find(dom)
            _live_ok(g, live, maximum, "memory")
            if not maximum and kib > (g.dom.memory or 0):
                raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: {kib} KiB is more "
                                f"than the maximum memory of domain '{g.dom.name}'")
            if live:
                self.xl.mem_set(g.dom.name, kib)
                assert g.live is not None
                g.live = attrs.evolve(g.live, current_memory=kib)
            if config and g.config is not None:
                g.config = attrs.evolve(g.config, memory=kib, current_memory=min(
                    kib, g.config.current_memory or kib)) if maximum else attrs.evolve(
                    g.config, current_memory=kib)
            self._save(g)
            return True


def _live_ok(g: Guest, live: bool, maximum: bool, what: str) -> None:
    if live and not g.status.active:
        raise VirtError(ErrorCode.OPERATION_INVALID, f"domain '{g.dom.name}' is not running",
                        ErrorDomain.DOMAIN)
    if live and maximum:
        raise VirtError(ErrorCode.OPERATION_INVALID, f"cannot change the maximum {what} of "
                        f"running domain '{g.dom.name}'", ErrorDomain.DOMAIN)


def _native_format(fmt: str) -> None:
    if fmt != "xen-xl":
        raise VirtError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: native format "
                        f"'{fmt}' (the xen driver converts xen-xl)", ErrorDomain.LIBXL)
