"""Devices and resources: disk and NIC hotplug (waiting for the guest's DEVICE_DELETED), cdrom
media change, config edits, the memory balloon, vcpu hotplug, and statistics.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

import attrs
from lxml import etree

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef
from virtkit.sdk.states import affected
from virtkit.xml.domain import Devices, Disk, Domain, Interface, Vcpu
from virtkit_qemu import argv as argvmod
from virtkit_qemu import plugs
from virtkit_qemu.files import check_file
from virtkit_qemu.host import Guest, failed, invalid
from virtkit_qemu.monitor import MonitorError

if TYPE_CHECKING:
    from virtkit.sdk.driver import DriverContext
    from virtkit_qemu.host import QemuHost

UNPLUG_WAIT = 30.0
UNPLUG_REPEAT = 2.0
#: the first QEMU whose TCG survives a cpu unplug (see _hotplug_vcpus)
TCG_CPU_UNPLUG_SAFE = 8_000_000


def _xml_error(message: str) -> VirtError:
    return VirtError(ErrorCode.XML_ERROR, f"XML error: {message}", ErrorDomain.QEMU)


def parse_device(xml: str) -> Disk | Interface:
    """One ``<disk>`` or ``<interface>`` element."""
    from virtkit.xml.parser import parse_document

    root = parse_document(xml, "device")
    if root.tag not in ("disk", "interface"):
        raise VirtError(ErrorCode.CONFIG_UNSUPPORTED,
                        f"unsupported configuration: device <{root.tag}> cannot be attached "
                        f"(disk and interface only)", ErrorDomain.QEMU)
    text = etree.tostring(root, encoding="unicode")
    wrapped = (f"<domain type='qemu'><name>x</name><memory>1024</memory><os><type>hvm</type>"
               f"</os><devices>{text}</devices></domain>")
    dom = Domain.from_xml(wrapped).with_defaults()
    assert dom.devices is not None
    return dom.devices.disks[0] if root.tag == "disk" else dom.devices.interfaces[0]


def _devices(d: Domain) -> Devices:
    return d.devices if d.devices is not None else Devices()


def _with_devices(d: Domain, devs: Devices) -> Domain:
    return attrs.evolve(d, devices=devs)


def _same(a: Disk | Interface, b: Disk | Interface) -> bool:
    if isinstance(a, Disk) and isinstance(b, Disk):
        return a.target.dev == b.target.dev
    if isinstance(a, Interface) and isinstance(b, Interface):
        if a.mac is not None and b.mac is not None:
            return a.mac.address.lower() == b.mac.address.lower()
        return a.alias is not None and b.alias is not None and a.alias.name == b.alias.name
    return False


def _add(d: Domain, dev: Disk | Interface, what: str) -> Domain:
    devs = _devices(d)
    kind = "disks" if isinstance(dev, Disk) else "interfaces"
    if any(_same(x, dev) for x in getattr(devs, kind)):
        target = dev.target.dev if isinstance(dev, Disk) else (dev.mac.address if dev.mac
                                                               else "?")
        raise failed(f"domain '{d.name}' already has a device '{target}' ({what})")
    return _with_devices(d, _with_kind(devs, kind, (*getattr(devs, kind), dev)))


def _remove(d: Domain, dev: Disk | Interface) -> tuple[Domain, Disk | Interface]:
    devs = _devices(d)
    kind = "disks" if isinstance(dev, Disk) else "interfaces"
    items = getattr(devs, kind)
    found = [x for x in items if _same(x, dev)]
    if not found:
        target = dev.target.dev if isinstance(dev, Disk) else (dev.mac.address if dev.mac
                                                               else "?")
        raise VirtError(ErrorCode.DEVICE_MISSING,
                        f"device not found: domain '{d.name}' has no device '{target}'",
                        ErrorDomain.QEMU)
    rest = tuple(x for x in items if not _same(x, dev))
    return _with_devices(d, _with_kind(devs, kind, rest)), found[0]


def _with_kind(devs: Devices, kind: str, items: tuple[Any, ...]) -> Devices:
    if kind == "disks":
        return attrs.evolve(devs, disks=items)
    return attrs.evolve(devs, interfaces=items)


class DeviceMixin:
    if TYPE_CHECKING:  # provided by the driver
        context: DriverContext

        @property
        def host(self) -> QemuHost: ...

        def _find(self, ref: DomainRef) -> Guest: ...

        def _active_monitor(self, g: Guest) -> Any: ...

    def _targets(self, g: Guest, live: bool, config: bool) -> tuple[bool, bool]:
        return affected(g.name, g.status.active, g.status.persistent, live, config,
                        ErrorDomain.QEMU)

    def _store_def(self, g: Guest, new: Domain) -> None:
        self.host.write_def(g.name, new)
        g.definition = new

    # -- hotplug ------------------------------------------------------------------------------

    def _plug(self, g: Guest, dev: Disk | Interface) -> None:
        mon = self._active_monitor(g)
        if isinstance(dev, Disk):
            run = plugs.resolve_disk(self.context.call, g.name, dev)
            path = argvmod.disk_source(run)
            if path is not None:
                check_file(g.name, f"disk '{dev.target.dev}' source", path,
                           block=dev.type == "block")
            if dev.target.bus not in (None, "virtio", "scsi") or dev.device == "cdrom":
                raise VirtError(ErrorCode.OPERATION_UNSUPPORTED,
                                f"disk '{dev.target.dev}' on bus '{dev.target.bus}' cannot be "
                                f"hotplugged (virtio and scsi only)", ErrorDomain.QEMU)
            added: list[str] = []
            try:
                for obj in argvmod.blockdev_args(run):
                    mon.execute("blockdev-add", obj)
                    added.append(obj["node-name"])
                assert g.live is not None
                props = argvmod.disk_device(run, g.live.os.type.machine or "pc", {})
                mon.execute("device_add", props)
            except MonitorError as exc:
                for node in reversed(added):
                    with contextlib.suppress(Exception):
                        mon.execute("blockdev-del", {"node-name": node})
                raise failed(f"cannot attach disk '{dev.target.dev}' to domain '{g.name}': "
                             f"{exc.desc}") from None
        else:
            if dev.type not in ("user", *plugs.TAP_TYPES):
                raise VirtError(ErrorCode.OPERATION_UNSUPPORTED,
                                f"interface of type '{dev.type}' cannot be hotplugged by the "
                                f"qemu driver (user, bridge, ethernet and network only)",
                                ErrorDomain.QEMU)
            assert g.live is not None
            index = len(_devices(g.live).interfaces)
            while any(i.alias is not None and i.alias.name == f"net{index}"
                      for i in _devices(g.live).interfaces):
                index += 1
            from virtkit.xml.common import Alias

            dev = attrs.evolve(dev, alias=Alias(name=f"net{index}"))
            tap: str | None = None
            port: plugs.Port | None = None
            nic_run = dev
            if dev.type in plugs.TAP_TYPES:
                plug = plugs.plug_for(self.context.call, g.name, g.uuid, dev)
                port = plug.port
                try:
                    tap = plugs.free_tap_name(set(g.taps))
                    plugs.make_tap(g.name, tap, plug)
                except BaseException:
                    if port is not None:
                        self.host.delete_ports((port,))
                    raise
                nic_run = attrs.evolve(plugs.bridge_view(dev, plug), type="ethernet")
                dev = plugs.live_interface(dev, tap, plug.mac)
            netdev, device = argvmod.nic_args(nic_run, index, tap)
            try:
                mon.execute("netdev_add", netdev)
                mon.execute("device_add", device)
            except MonitorError as exc:
                with contextlib.suppress(Exception):
                    mon.execute("netdev_del", {"id": netdev["id"]})
                if tap is not None:
                    plugs.drop_tap(tap)
                if port is not None:
                    self.host.delete_ports((port,))
                raise failed(f"cannot attach interface to domain '{g.name}': {exc.desc}") \
                    from None
            if tap is not None:
                g.taps = (*g.taps, tap)
            if port is not None:
                g.ports = (*g.ports, attrs.evolve(port, tap=tap or ""))
        assert g.live is not None
        g.live = _add(g.live, dev, "live")
        self.host.save_status(g)

    def _unplug(self, g: Guest, dev: Disk | Interface) -> None:
        mon = self._active_monitor(g)
        assert g.live is not None
        new_live, found = _remove(g.live, dev)
        if isinstance(found, Disk):
            alias = argvmod.disk_alias(found)
        else:
            idx = list(_devices(g.live).interfaces).index(found)
            alias = found.alias.name if found.alias is not None else f"net{idx}"
        self._device_del(g, mon, alias)
        if isinstance(found, Disk):
            node = argvmod.disk_node(found)
            for name in (node, f"{node}-storage"):  # format node, then protocol node
                with contextlib.suppress(Exception):
                    mon.execute("blockdev-del", {"node-name": name})
        else:
            with contextlib.suppress(Exception):
                mon.execute("netdev_del", {"id": f"host{alias}"})
            assert isinstance(found, Interface)
            tap = found.target.dev if found.target is not None else None
            if tap and tap in g.taps:
                plugs.drop_tap(tap)
                g.taps = tuple(t for t in g.taps if t != tap)
                gone = tuple(p for p in g.ports if p.tap == tap)
                g.ports = tuple(p for p in g.ports if p.tap != tap)
                self.host.delete_ports(gone)
        g.live = new_live
        self.host.save_status(g)

    def _device_del(self, g: Guest, mon: Any, alias: str,
                    repeat_every: float = UNPLUG_REPEAT) -> None:
        """Ask the guest to release ``alias`` and wait for QEMU's DEVICE_DELETED; the request
        is made again every ``repeat_every`` seconds (a guest still booting loses it; 0: once)."""
        import threading

        done = threading.Event()
        g.deleted[alias] = done
        try:
            try:
                mon.execute("device_del", {"id": alias})
            except MonitorError as exc:
                raise failed(f"cannot detach device '{alias}' from domain '{g.name}': "
                             f"{exc.desc}") from None
            deadline = time.monotonic() + UNPLUG_WAIT
            while not done.wait(repeat_every or UNPLUG_WAIT):
                if time.monotonic() >= deadline:
                    raise VirtError(ErrorCode.OPERATION_TIMEOUT,
                                    f"domain '{g.name}' did not release device '{alias}' "
                                    f"within {UNPLUG_WAIT:g}s (the guest must cooperate)",
                                    ErrorDomain.QEMU)
                if repeat_every:
                    with contextlib.suppress(Exception):
                        mon.execute("device_del", {"id": alias})
        finally:
            g.deleted.pop(alias, None)

    @hookimpl
    def virtkit_domain_attach_device(self, dom: DomainRef, xml: str, live: bool,
                                     config: bool) -> bool:
        dev = parse_device(xml)
        host = self.host
        with host.lock:
            g = self._find(dom)
            live, config = self._targets(g, live, config)
            if isinstance(dev, Interface) and dev.mac is None:
                from virtkit.xml.common import MacAddress

                dev = attrs.evolve(dev, mac=MacAddress(address=plugs.guest_mac(dev)))
            new_def = _add(g.definition, dev, "config") if config and g.definition else None
            if live:
                self._plug(g, dev)
            if new_def is not None:
                self._store_def(g, new_def)
            return True

    @hookimpl
    def virtkit_domain_detach_device(self, dom: DomainRef, xml: str, live: bool,
                                     config: bool) -> bool:
        dev = parse_device(xml)
        host = self.host
        with host.lock:
            g = self._find(dom)
            live, config = self._targets(g, live, config)
            new_def = _remove(g.definition, dev)[0] if config and g.definition else None
            if live:
                mon_guest = g
        if live:
            self._unplug(mon_guest, dev)  # waits for the guest without holding the lock
        if new_def is not None:
            with host.lock:
                self._store_def(g, new_def)
        return True

    @hookimpl
    def virtkit_domain_update_device(self, dom: DomainRef, xml: str, live: bool, config: bool,
                                     force: bool) -> bool:
        dev = parse_device(xml)
        if not isinstance(dev, Disk) or dev.device != "cdrom":
            raise VirtError(ErrorCode.OPERATION_UNSUPPORTED,
                            "only cdrom media can be changed in place", ErrorDomain.QEMU)
        host = self.host
        with host.lock:
            g = self._find(dom)
            live, config = self._targets(g, live, config)
            if live:
                assert g.live is not None
                new_live, old = _remove(g.live, dev)
                assert isinstance(old, Disk)  # _remove finds a device of the kind given
                mon = self._active_monitor(g)
                alias = argvmod.disk_alias(old)
                path = argvmod.disk_source(dev)
                try:
                    mon.execute("blockdev-open-tray", {"id": alias, "force": force})
                    mon.execute("blockdev-remove-medium", {"id": alias})
                    for obj in reversed(argvmod.blockdev_args(old)):
                        with contextlib.suppress(MonitorError):
                            mon.execute("blockdev-del", {"node-name": obj["node-name"]})
                    if path is not None:
                        check_file(g.name, f"cdrom '{dev.target.dev}' source", path)
                        for obj in argvmod.blockdev_args(dev):
                            mon.execute("blockdev-add", obj)
                        mon.execute("blockdev-insert-medium",
                                    {"id": alias, "node-name": argvmod.disk_node(dev)})
                    mon.execute("blockdev-close-tray", {"id": alias})
                except MonitorError as exc:
                    raise failed(f"cannot change the medium of '{dev.target.dev}' of domain "
                                 f"'{g.name}': {exc.desc}") from None
                g.live = _add(new_live, dev, "live")
                host.save_status(g)
            if config and g.definition is not None:
                rest, _ = _remove(g.definition, dev)
                self._store_def(g, _add(rest, dev, "config"))
            return True

    # -- memory and vcpus ---------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_set_memory(self, dom: DomainRef, kib: int, live: bool, config: bool,
                                  maximum: bool) -> bool:
        host = self.host
        with host.lock:
            g = self._find(dom)
            live, config = self._targets(g, live, config)
            if kib < 1:
                raise VirtError(ErrorCode.INVALID_ARG,
                                f"invalid argument: memory size {kib} KiB of domain "
                                f"'{g.name}' must be at least 1", ErrorDomain.QEMU)
            if maximum and live:
                raise invalid(f"cannot resize the maximum memory of running domain "
                              f"'{g.name}'")
            for d in (g.live if live else None, g.definition if config else None):
                if d is None:
                    continue
                assert d.memory is not None
                if not maximum and kib > d.memory:
                    raise VirtError(ErrorCode.INVALID_ARG,
                                    f"invalid argument: cannot set memory of domain "
                                    f"'{g.name}' above its maximum {d.memory} KiB",
                                    ErrorDomain.QEMU)
            if live:
                assert g.live is not None
                try:
                    self._active_monitor(g).execute("balloon", {"value": kib * 1024})
                except MonitorError as exc:
                    raise failed(f"cannot set the memory of domain '{g.name}': {exc.desc}") \
                        from None
                g.live = attrs.evolve(g.live, current_memory=kib)
                host.save_status(g)
            if config and g.definition is not None:
                d = g.definition
                if maximum:
                    cur = min(d.current_memory or kib, kib)
                    new = attrs.evolve(d, memory=kib, current_memory=cur)
                else:
                    new = attrs.evolve(d, current_memory=kib)
                self._store_def(g, new)
            return True

    @hookimpl
    def virtkit_domain_set_vcpus(self, dom: DomainRef, count: int, live: bool, config: bool,
                                 maximum: bool) -> bool:
        host = self.host
        with host.lock:
            g = self._find(dom)
            live, config = self._targets(g, live, config)
            if maximum and live:
                raise invalid(f"cannot change the maximum vcpus of running domain '{g.name}'")
            for d in (g.live if live else None, g.definition if config else None):
                if d is None:
                    continue
                top = d.vcpu.count if d.vcpu is not None else 1
                if count < 1 or (not maximum and count > top):
                    raise VirtError(ErrorCode.INVALID_ARG,
                                    f"invalid argument: {count} vcpus for domain '{g.name}' "
                                    f"(1 to {top})", ErrorDomain.QEMU)
            if live:
                self._hotplug_vcpus(g, count)
            if config and g.definition is not None:
                d = g.definition
                vc = d.vcpu or Vcpu(count=1)
                if maximum:
                    cur = min(vc.current or vc.count, count)
                    vc = attrs.evolve(vc, count=count, current=cur if cur != count else None)
                else:
                    vc = attrs.evolve(vc, current=count if count != vc.count else None)
                self._store_def(g, attrs.evolve(d, vcpu=vc))
            return True

    def _hotplug_vcpus(self, g: Guest, count: int) -> None:
        mon = self._active_monitor(g)
        assert g.live is not None
        d = g.live
        vc = d.vcpu or Vcpu(count=1)
        current = vc.current or vc.count
        if count < current and d.type == "qemu":
            emulator = d.devices.emulator if d.devices is not None else None
            version = self.host.caps(emulator, d.os.type.arch).version_number
            if version < TCG_CPU_UNPLUG_SAFE:
                # QEMU before 8.0 frees an unplugged TCG cpu's jump cache while other threads
                # still use it (fixed by QEMU's "cpu: free cpu->tb_jmp_cache with RCU"): the
                # guest's QEMU was seen to crash in most unplugs here, so none is attempted
                raise VirtError(
                    ErrorCode.OPERATION_UNSUPPORTED,
                    f"cannot unplug vcpus of domain '{g.name}': QEMU "
                    f"{version // 1_000_000}.{version // 1000 % 1000} crashes when a cpu of "
                    f"an emulated (type 'qemu') guest is unplugged (fixed in QEMU 8.0); "
                    f"change the count with the config flag and restart the guest",
                    ErrorDomain.QEMU)
        model = _cpu_model(mon)
        topo = argvmod.topo_tuple(d)
        try:
            for n in range(current, count):
                mon.execute("device_add", argvmod.cpu_device(model, n, topo))
        except MonitorError as exc:
            raise failed(f"cannot add vcpus to domain '{g.name}': {exc.desc}") from None
        for n in range(current - 1, count - 1, -1):
            # asked once: QEMU 7.2 was seen to corrupt its heap (and die) when a cpu unplug is
            # requested again while the guest boots
            self._device_del(g, mon, f"vcpu{n}", repeat_every=0.0)
        g.live = attrs.evolve(d, vcpu=attrs.evolve(vc, current=count if count != vc.count
                                                   else None))
        self.host.save_status(g)

    @hookimpl
    def virtkit_domain_get_vcpus_count(self, dom: DomainRef, live: bool, config: bool,
                                       maximum: bool) -> int:
        with self.host.lock:
            g = self._find(dom)
            if live and not g.status.active:
                raise invalid(f"domain '{g.name}' is not running")
            d = g.live if (live or (not config and g.status.active)) and g.live is not None \
                else g.definition or g.current
            vc = d.vcpu or Vcpu(count=1)
            return vc.count if maximum else (vc.current or vc.count)

    # -- statistics ---------------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_block_stats(self, dom: DomainRef, device: str) -> dict[str, int]:
        with self.host.lock:
            g = self._find(dom)
            mon = self._active_monitor(g)
            assert g.live is not None
            disk = next((d for d in _devices(g.live).disks
                         if device in (d.target.dev, _source(d))), None)
            if disk is None:
                raise VirtError(ErrorCode.INVALID_ARG,
                                f"invalid argument: domain '{g.name}' has no disk '{device}'",
                                ErrorDomain.QEMU)
            for entry in mon.execute("query-blockstats"):
                if entry.get("qdev") in (argvmod.disk_alias(disk),) or \
                        entry.get("node-name") == argvmod.disk_node(disk) or \
                        str(entry.get("qdev", "")).startswith(f"/machine/peripheral/"
                                                              f"{argvmod.disk_alias(disk)}/"):
                    s = entry["stats"]
                    return {"rd_req": s["rd_operations"], "rd_bytes": s["rd_bytes"],
                            "wr_req": s["wr_operations"], "wr_bytes": s["wr_bytes"],
                            "errs": s.get("failed_rd_operations", 0)
                            + s.get("failed_wr_operations", 0)}
            return {"rd_req": 0, "rd_bytes": 0, "wr_req": 0, "wr_bytes": 0, "errs": 0}

    @hookimpl
    def virtkit_domain_interface_stats(self, dom: DomainRef, device: str) -> dict[str, int]:
        with self.host.lock:
            g = self._find(dom)
            self._active_monitor(g)
            assert g.live is not None
            ifaces = list(_devices(g.live).interfaces)
            found = None
            for i, iface in enumerate(ifaces):
                tap = iface.target.dev if iface.target is not None else None
                mac = iface.mac.address.lower() if iface.mac is not None else None
                if device.lower() in (mac, tap, f"net{i}"):
                    found = (i, iface)
            if found is None:
                raise VirtError(ErrorCode.INVALID_ARG,
                                f"invalid argument: domain '{g.name}' has no interface "
                                f"'{device}'", ErrorDomain.QEMU)
            i, iface = found
            tap = iface.target.dev if iface.target is not None else None
            if tap and tap in g.taps:
                return _tap_stats(tap)
            # user networking has no host device: QEMU keeps no counters to read
            return {k: 0 for k in ("rx_bytes", "rx_packets", "rx_errs", "rx_drop",
                                   "tx_bytes", "tx_packets", "tx_errs", "tx_drop")}

    @hookimpl
    def virtkit_domain_memory_stats(self, dom: DomainRef) -> dict[str, int]:
        with self.host.lock:
            g = self._find(dom)
            mon = self._active_monitor(g)
            out: dict[str, int] = {}
            with contextlib.suppress(MonitorError):
                out["actual"] = int(mon.execute("query-balloon")["actual"]) // 1024
            with contextlib.suppress(OSError, ValueError):
                with open(f"/proc/{g.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            out["rss"] = int(line.split()[1])
            return out


def _source(disk: Disk) -> str | None:
    """The path a file or block disk names (None for a volume or an empty cdrom)."""
    if disk.source is None or disk.type not in ("file", "block"):
        return None
    return disk.source.file if disk.type == "file" else disk.source.dev


def _cpu_model(mon: Any) -> str:
    for cpu in mon.execute("query-hotpluggable-cpus"):
        typ = str(cpu.get("type", ""))
        if typ.endswith("-x86_64-cpu"):
            return typ.removesuffix("-x86_64-cpu")
    return "qemu64"


def _tap_stats(tap: str) -> dict[str, int]:
    """Counters of a tap, from the guest's point of view (the tap's rx is the guest's tx)."""
    import json
    import subprocess

    res = subprocess.run(["ip", "-j", "-s", "link", "show", "dev", tap], capture_output=True,
                         text=True, check=False)
    try:
        st = json.loads(res.stdout)[0]["stats64"]
        rx, tx = st["rx"], st["tx"]
    except (ValueError, KeyError, IndexError):
        raise VirtError(ErrorCode.OPERATION_FAILED,
                        f"cannot read the counters of tap '{tap}': {res.stderr.strip()}",
                        ErrorDomain.QEMU) from None
    return {"rx_bytes": tx["bytes"], "rx_packets": tx["packets"], "rx_errs": tx["errors"],
            "rx_drop": tx["dropped"], "tx_bytes": rx["bytes"], "tx_packets": rx["packets"],
            "tx_errs": rx["errors"], "tx_drop": rx["dropped"]}
