"""The ``qemu`` driver: ``qemu:///system`` and ``qemu:///session``, QEMU processes over QMP.

Every connection of a process to the same instance shares one :class:`QemuHost` (guests,
monitors, events). State changes go through :func:`virtkit.sdk.states.transition`; QEMU's events
(guest shutdown, reset, panic, the end of the process) drive the rest.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
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
    InterfaceAddress,
    NodeInfo,
)
from virtkit.sdk.states import DomainStatus, Op, transition
from virtkit.xml.domain import Domain
from virtkit_qemu import caps as capsmod
from virtkit_qemu.console import ConsoleMixin
from virtkit_qemu.devices import DeviceMixin
from virtkit_qemu.host import Guest, QemuHost, failed, invalid
from virtkit_qemu.paths import Paths
from virtkit_qemu.saving import SaveMixin
from virtkit_qemu.snapshots import SnapshotMixin

_hosts: dict[tuple[str, str], QemuHost] = {}
_hosts_lock = threading.Lock()


def shared_host(paths: Paths, instance: str, subscriber: int,
                emit: Any, call: Any = None) -> QemuHost:
    """The process's host for these directories, with ``emit`` subscribed to its events (and
    ``call``, a writable connection's call into the host services, registered), then reconciled
    with the status records (so a crash noticed now reaches this connection, and the ports of a
    guest that died unwatched are deleted)."""
    key = (str(paths.config), str(paths.run))
    with _hosts_lock:
        host = _hosts.get(key)
        if host is None:
            host = QemuHost(paths, instance)
            _hosts[key] = host
        with host.lock:
            host.subscribers[subscriber] = emit
            if call is not None:
                host.callers[subscriber] = call
            host.refs += 1
        host.load()
        return host


def parse(xml: str, validate: bool = False) -> Domain:
    """A domain document with libvirt's defaults filled, refused unless qemu or kvm."""
    dom = Domain.from_xml(xml, validate=validate).with_defaults()
    if dom.type not in ("qemu", "kvm"):
        raise VirtError(
            ErrorCode.CONFIG_UNSUPPORTED,
            f"unsupported configuration: domain '{dom.name}' has type '{dom.type}'; "
            f"the qemu driver runs types 'qemu' (emulation) and 'kvm'",
            ErrorDomain.QEMU,
        )
    if dom.memory is None:
        raise VirtError(ErrorCode.XML_ERROR,
                        f"XML error: domain '{dom.name}' has no <memory>", ErrorDomain.QEMU)
    return dom


class QemuDriver(ConsoleMixin, DeviceMixin, SaveMixin, SnapshotMixin, Driver):
    """QEMU/KVM guests, each a QEMU process managed over QMP."""

    name = "qemu"
    error_domain = ErrorDomain.QEMU
    capabilities: ClassVar[dict[str, Any]] = {
        "persistent_domains": True,
        "transient_domains": True,
        "start_paused": True,
        "live_migration": False,
        "offline_migration": False,
        "console": True,
        "concurrency": True,
        "shutdown_modes": ["acpi"],
        "disk_formats": ["raw", "qcow2"],
        "hotplug": ["disk", "interface"],
        "coldplug": ["disk", "interface"],
        "graphics": ["vnc"],
        "backend": "real",
    }

    #: pools and volumes (volume disks), networks and their ports (type='network' NICs)
    host_services: ClassVar[tuple[str, ...]] = ("storage", "network")

    def __init__(self, context: DriverContext) -> None:
        super().__init__(context)
        self._host: QemuHost | None = None
        self._streams: dict[int, Any] = {}

    # -- connection ---------------------------------------------------------------------------

    @hookimpl
    def virtkit_connect_probe(self) -> str | None:
        return "qemu:///system" if os.geteuid() == 0 else "qemu:///session"

    @hookimpl
    def virtkit_connect_open(self, uri: str, read_only: bool) -> bool:
        instance = self.context.instance
        if instance not in ("system", "session") or self.context.uri.host:
            raise VirtError(ErrorCode.NO_CONNECT,
                            f"the qemu driver serves qemu:///system and qemu:///session, "
                            f"not '{uri}'", ErrorDomain.QEMU)
        if instance == "system" and os.geteuid() != 0:
            raise VirtError(ErrorCode.NO_CONNECT,
                            f"'{uri}' needs root (use qemu:///session)", ErrorDomain.QEMU)
        try:
            capsmod.default_binary()
        except VirtError as exc:
            raise VirtError(ErrorCode.NO_CONNECT, f"cannot open '{uri}': {exc.message}",
                            ErrorDomain.QEMU) from None
        paths = Paths.for_instance(self.context.state_dirs(), instance)
        host = shared_host(paths, instance, id(self), self.context.emit,
                           None if read_only else self.context.call)
        self._host = host
        return True

    @hookimpl
    def virtkit_connect_close(self) -> bool:
        self.close_streams()
        host = self._host
        if host is not None:
            with host.lock:
                host.subscribers.pop(id(self), None)
                host.callers.pop(id(self), None)
                host.refs -= 1
        return True

    @property
    def host(self) -> QemuHost:
        assert self._host is not None
        return self._host

    @hookimpl
    def virtkit_connect_get_hostname(self) -> str:
        return socket.gethostname()

    @hookimpl
    def virtkit_connect_get_version(self) -> int:
        return self.host.caps().version_number

    @hookimpl
    def virtkit_connect_get_capabilities(self) -> str:
        info = self.virtkit_node_get_info()
        return capsmod.capabilities_xml(self.host.caps(), info.cpus, info.memory)

    @hookimpl
    def virtkit_connect_get_domain_capabilities(
        self, emulator: str | None, arch: str | None, machine: str | None, virttype: str | None
    ) -> str:
        if virttype not in (None, "qemu", "kvm"):
            raise VirtError(ErrorCode.INVALID_ARG,
                            f"invalid argument: virttype '{virttype}' (qemu or kvm)",
                            ErrorDomain.QEMU)
        if arch not in (None, capsmod.host_arch()) and emulator is None:
            raise VirtError(ErrorCode.INVALID_ARG,
                            f"invalid argument: no emulator for architecture '{arch}'",
                            ErrorDomain.QEMU)
        # the first type the capabilities document lists: kvm when usable (libvirt's default)
        vt = virttype or ("kvm" if capsmod.kvm_usable() else "qemu")
        try:
            caps = self.host.caps(emulator, arch)
            return capsmod.domain_capabilities_xml(caps, vt, machine or "")
        except VirtError as exc:
            raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: {exc.message}",
                            ErrorDomain.QEMU) from None

    @hookimpl
    def virtkit_node_get_info(self) -> NodeInfo:
        cpus = os.cpu_count() or 1
        mem = 0
        mhz = 0
        model = capsmod.host_arch()
        with contextlib.suppress(OSError, ValueError):
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemTotal:"):
                        mem = int(line.split()[1])
                        break
        with contextlib.suppress(OSError, ValueError):
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("cpu MHz"):
                        mhz = int(float(line.split(":")[1]))
                        break
        return NodeInfo(model, mem, cpus, mhz, 1, 1, cpus, 1)

    @hookimpl
    def virtkit_node_get_free_memory(self) -> int:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
        return 0

    @hookimpl
    def virtkit_node_get_cells_free_memory(self, start_cell: int, max_cells: int) -> list[int]:
        if start_cell >= 1:
            raise VirtError(ErrorCode.INVALID_ARG,
                            f"invalid argument: start cell {start_cell} out of range (0-0)",
                            ErrorDomain.QEMU)
        return [self.virtkit_node_get_free_memory()]

    # -- helpers ------------------------------------------------------------------------------

    def _find(self, ref: DomainRef) -> Guest:
        host = self.host
        g = host.guests.get(ref.uuid)
        if g is None:
            host.load()  # another process may have defined or started it
            g = host.guests.get(ref.uuid)
        if g is None:
            raise no_domain(ref.name)
        return g

    def _summary(self, g: Guest) -> DomainSummary:
        return DomainSummary(g.ref, int(g.status.state), int(g.status.reason),
                             g.status.persistent, g.autostart, g.status.has_managed_save,
                             self.snapshot_count(g))

    def _active_monitor(self, g: Guest) -> Any:
        if not g.status.active:
            raise invalid(f"domain '{g.name}' is not running")
        if g.monitor is None or g.monitor.closed:
            raise failed(f"domain '{g.name}' is managed by another process (its monitor is "
                         f"held there)")
        return g.monitor

    # -- listing and lookup -------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_list(self) -> list[DomainSummary]:
        host = self.host
        host.load()
        with host.lock:
            return [self._summary(g) for g in host.guests.values()]

    @hookimpl
    def virtkit_domain_lookup_by_name(self, name: str) -> DomainRef:
        host = self.host
        with host.lock:
            try:
                return host.by_name(name).ref
            except VirtError:
                host.load()
                return host.by_name(name).ref

    @hookimpl
    def virtkit_domain_lookup_by_uuid(self, uuid: str) -> DomainRef:
        host = self.host
        with host.lock:
            g = host.guests.get(uuid)
            if g is None:
                host.load()
                g = host.guests.get(uuid)
            if g is None:
                raise no_domain(uuid=uuid)
            return g.ref

    @hookimpl
    def virtkit_domain_lookup_by_id(self, id: int) -> DomainRef:
        host = self.host
        with host.lock:
            for g in host.guests.values():
                if g.id == id and g.status.active:
                    return g.ref
        raise no_domain(id=id)

    # -- definition ---------------------------------------------------------------------------

    def _check_unique(self, new: Domain) -> Guest | None:
        host = self.host
        by_uuid = host.guests.get(str(new.uuid))
        if by_uuid is not None and by_uuid.name != new.name:
            raise failed(f"domain '{by_uuid.name}' is already defined with uuid {new.uuid}")
        for g in host.guests.values():
            if g.name == new.name and g.uuid != new.uuid:
                raise failed(f"domain '{new.name}' already exists with uuid {g.uuid}")
        return by_uuid

    def _canonical(self, dom: Domain) -> Domain:
        """Resolve the machine alias and arch the way libvirt records them on define."""
        caps = self.host.caps(dom.devices.emulator if dom.devices is not None else None,
                              dom.os.type.arch)
        machine = caps.machine(dom.os.type.machine).name
        ostype = attrs.evolve(dom.os.type, arch=dom.os.type.arch or caps.arch, machine=machine)
        return attrs.evolve(dom, os=attrs.evolve(dom.os, type=ostype))

    @hookimpl
    def virtkit_domain_define_xml(self, xml: str, validate: bool) -> DomainRef:
        new = self._canonical(parse(xml, validate))
        host = self.host
        with host.lock:
            existing = self._check_unique(new)
            t = transition(Op.DEFINE, new.name, None if existing is None else existing.status)
            host.write_def(new.name, new)
            if existing is None:
                existing = Guest(new.name, str(new.uuid), new, DomainStatus(persistent=True))
                host.guests[existing.uuid] = existing
            existing.definition = new
            host.apply(existing, t)
            return existing.ref

    @hookimpl
    def virtkit_domain_create_xml(self, xml: str, paused: bool, validate: bool) -> DomainRef:
        new = self._canonical(parse(xml, validate))
        host = self.host
        with host.lock:
            existing = self._check_unique(new)
            if existing is not None and existing.status.active:
                raise invalid(f"domain '{new.name}' is already active")
            t = transition(Op.CREATE_XML, new.name,
                           None if existing is None else existing.status, paused=paused)
            g = existing or Guest(new.name, str(new.uuid), None, DomainStatus(persistent=False))
            host.launch(g, new, paused=paused)
            host.guests[g.uuid] = g
            host.apply(g, t)
            return g.ref

    @hookimpl
    def virtkit_domain_undefine(
        self, dom: DomainRef, managed_save: bool, snapshots_metadata: bool, nvram: bool
    ) -> bool:
        host = self.host
        with host.lock:
            g = self._find(dom)
            if g.status.has_managed_save and not managed_save and g.status.persistent:
                raise invalid(f"domain '{g.name}' has a managed save image; use the "
                              f"managed_save flag to remove it too")
            snaps = self.snapshot_count(g)
            if snaps and not snapshots_metadata and g.status.persistent:
                raise invalid(f"cannot undefine domain '{g.name}' with {snaps} snapshots; use "
                              f"the snapshots_metadata flag to remove them too")
            t = transition(Op.UNDEFINE, g.name, g.status)
            host.delete_def(g.name)
            host.meta.delete("autostart", g.name)
            with contextlib.suppress(FileNotFoundError):
                host.paths.managed_save(g.name).unlink()
            self.drop_snapshots(g)
            g.definition = None
            g.autostart = False
            host.apply(g, t)
            return True

    # -- lifecycle ----------------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_create(self, dom: DomainRef, paused: bool, force_boot: bool) -> DomainRef:
        host = self.host
        with host.lock:
            g = self._find(dom)
            t = transition(Op.CREATE, g.name, g.status, paused=paused, force_boot=force_boot)
            image = host.paths.managed_save(g.name)
            if g.status.has_managed_save and not force_boot:
                self.restore_into(g, str(image), None, paused, managed=True)
                return g.ref
            if g.status.has_managed_save:
                with contextlib.suppress(FileNotFoundError):
                    image.unlink()
            assert g.definition is not None
            host.launch(g, g.definition, paused=paused)
            host.apply(g, t)
            return g.ref

    @hookimpl
    def virtkit_domain_shutdown(self, dom: DomainRef, mode: str | None) -> bool:
        if mode not in (None, "acpi"):
            raise VirtError(ErrorCode.ARGUMENT_UNSUPPORTED,
                            f"shutdown mode '{mode}' is not supported by the qemu driver "
                            f"(acpi only)", ErrorDomain.QEMU)
        host = self.host
        with host.lock:
            g = self._find(dom)
            transition(Op.SHUTDOWN, g.name, g.status)  # checks the domain is active
            mon = self._active_monitor(g)
            mon.execute("system_powerdown")
            g.shutdown_requested = time.monotonic()
            return True

    @hookimpl
    def virtkit_domain_reboot(self, dom: DomainRef, mode: str | None) -> bool:
        if mode not in (None, "acpi"):
            raise VirtError(ErrorCode.ARGUMENT_UNSUPPORTED,
                            f"reboot mode '{mode}' is not supported by the qemu driver "
                            f"(acpi only)", ErrorDomain.QEMU)
        host = self.host
        with host.lock:
            g = self._find(dom)
            transition(Op.REBOOT, g.name, g.status)
            mon = self._active_monitor(g)
            g.reboot_requested = True
            mon.execute("system_powerdown")
            g.shutdown_requested = time.monotonic()
            return True

    @hookimpl
    def virtkit_domain_reset(self, dom: DomainRef) -> bool:
        host = self.host
        with host.lock:
            g = self._find(dom)
            transition(Op.RESET, g.name, g.status)
            self._active_monitor(g).execute("system_reset")
            return True

    @hookimpl
    def virtkit_domain_destroy(self, dom: DomainRef, graceful: bool) -> bool:
        host = self.host
        with host.lock:
            g = self._find(dom)
            transition(Op.DESTROY, g.name, g.status)
        host.stop(g, Op.DESTROY, graceful=graceful)
        return True

    @hookimpl
    def virtkit_domain_suspend(self, dom: DomainRef) -> bool:
        host = self.host
        with host.lock:
            g = self._find(dom)
            t = transition(Op.SUSPEND, g.name, g.status)
            if t.events:
                self._active_monitor(g).execute("stop")
            host.apply(g, t)
            return True

    @hookimpl
    def virtkit_domain_resume(self, dom: DomainRef) -> bool:
        host = self.host
        with host.lock:
            g = self._find(dom)
            t = transition(Op.RESUME, g.name, g.status)
            self._active_monitor(g).execute("cont")
            host.apply(g, t)
            return True

    # -- information --------------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_get_summary(self, dom: DomainRef) -> DomainSummary:
        with self.host.lock:
            return self._summary(self._find(dom))

    @hookimpl
    def virtkit_domain_get_info(self, dom: DomainRef) -> DomainInfo:
        with self.host.lock:
            g = self._find(dom)
            cur = g.current
            assert cur.memory is not None
            maxmem = cur.memory
            mem = cur.current_memory or maxmem
            vcpus = cur.vcpu.current if cur.vcpu is not None and cur.vcpu.current else (
                cur.vcpu.count if cur.vcpu is not None else 1)
            return DomainInfo(int(g.status.state), maxmem, mem, vcpus, _cpu_time(g))

    @hookimpl
    def virtkit_domain_get_state(self, dom: DomainRef) -> DomainStateInfo:
        with self.host.lock:
            g = self._find(dom)
            return DomainStateInfo(int(g.status.state), int(g.status.reason))

    @hookimpl
    def virtkit_domain_get_xml(self, dom: DomainRef, inactive: bool, security_info: bool) -> str:
        with self.host.lock:
            g = self._find(dom)
            if inactive and g.definition is not None:
                d = g.definition
                return attrs.evolve(d, id=None).to_xml(secure=security_info)
            d = g.current
            return attrs.evolve(d, id=g.id if g.status.active else None).to_xml(
                secure=security_info)

    @hookimpl
    def virtkit_domain_interface_addresses(self, dom: DomainRef,
                                           source: str) -> list[InterfaceAddress]:
        """``lease``: the DHCP leases the host network service's dnsmasq gave each
        ``type='network'`` interface's MAC."""
        if source != "lease":
            raise VirtError(ErrorCode.ARGUMENT_UNSUPPORTED,
                            f"interface address source '{source}' is not supported by the qemu "
                            f"driver (lease only: no guest agent or ARP table is read)",
                            ErrorDomain.QEMU)
        with self.host.lock:
            g = self._find(dom)
            if not g.status.active:
                raise invalid(f"domain '{g.name}' is not running")
            ifaces = list(g.current.devices.interfaces) if g.current.devices else []
        out = []
        for index, iface in enumerate(ifaces):
            if iface.type != "network" or iface.mac is None or iface.source is None \
                    or not iface.source.network:
                continue
            mac = iface.mac.address.lower()
            net = self.context.call("network_lookup_by_name", {"name": iface.source.network})
            leases = self.context.call("network_get_dhcp_leases", {"net": net, "mac": mac})
            addrs = [{"type": lease.ip_type, "addr": lease.ipaddr, "prefix": lease.prefix}
                     for lease in leases or () if lease.mac.lower() == mac]
            if addrs:
                name = iface.target.dev if iface.target is not None else f"vnet{index}"
                out.append(InterfaceAddress(name, mac, addrs))
        return out

    @hookimpl
    def virtkit_domain_get_autostart(self, dom: DomainRef) -> bool:
        with self.host.lock:
            return self._find(dom).autostart

    @hookimpl
    def virtkit_domain_set_autostart(self, dom: DomainRef, autostart: bool) -> bool:
        host = self.host
        with host.lock:
            g = self._find(dom)
            if not g.status.persistent:
                raise invalid(f"cannot set autostart for transient domain '{g.name}'")
            if autostart:
                host.meta.write("autostart", g.name, b"{}")
            else:
                host.meta.delete("autostart", g.name)
            g.autostart = autostart
            return True


def _cpu_time(g: Guest) -> int:
    """CPU time of the QEMU process in ns (utime + stime), 0 when inactive."""
    if not g.status.active or not g.pid:
        return 0
    try:
        with open(f"/proc/{g.pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        return ticks * (1_000_000_000 // os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0
