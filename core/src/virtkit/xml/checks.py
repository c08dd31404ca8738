"""Semantic rules libvirt applies after parsing, checked on every define.

Each failure raises ``XML_ERROR`` naming the element and the problem.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING

from virtkit.sdk.checks import name_problem, shorten
from virtkit.xml.parser import xml_error

if TYPE_CHECKING:
    from virtkit.xml.domain import Devices, Domain
    from virtkit.xml.interface import HostInterface
    from virtkit.xml.network import Network
    from virtkit.xml.snapshot import DomainSnapshot
    from virtkit.xml.storage import StoragePool, StorageVolume

__all__ = [
    "check_domain",
    "check_interface",
    "check_network",
    "check_pool",
    "check_snapshot",
    "check_volume",
]


def _fail(what: str, element: str, problem: str) -> Exception:
    return xml_error(f"{what}: <{element}>: {problem}")


def check_name(what: str, name: str) -> None:
    problem = name_problem(name)
    if problem is not None:
        raise _fail(what, "name", problem)


def _unique(what: str, element: str, label: str, values: Iterable[object]) -> None:
    seen: set[object] = set()
    for v in values:
        if v in seen:
            raise _fail(what, element, f"{label} '{v}' is used more than once")
        seen.add(v)


def _unicast_mac(what: str, element: str, mac: str) -> None:
    if int(mac.split(":")[0], 16) & 1:
        raise _fail(what, element, f"expected unicast mac address, found multicast '{mac}'")


def check_domain(dom: Domain) -> None:
    w = f"domain '{shorten(dom.name)}'"
    check_name("domain", dom.name)
    if not dom.memory:
        raise _fail(w, "memory", "memory size must be specified and greater than zero")
    if dom.max_memory is not None and dom.max_memory.kib < dom.memory:
        raise _fail(w, "maxMemory", "maximum memory size must be equal or greater than the "
                    "actual memory size")
    if dom.vcpu is not None:
        if dom.vcpu.count < 1:
            raise _fail(w, "vcpu", "the vcpu count must be at least 1")
        if dom.vcpu.current is not None and not 1 <= dom.vcpu.current <= dom.vcpu.count:
            raise _fail(w, "vcpu", f"current vcpus {dom.vcpu.current} must be between 1 and "
                        f"the maximum {dom.vcpu.count}")
    if dom.vcpus is not None:
        maximum = dom.vcpu.count if dom.vcpu is not None else 1
        current = dom.vcpu.current if dom.vcpu is not None and dom.vcpu.current else maximum
        vids = [v.id for v in dom.vcpus.vcpus]
        if len(set(vids)) != len(vids) or any(i >= maximum for i in vids):
            raise _fail(w, "vcpus", f"each vcpu id must be listed once and be below the "
                        f"maximum {maximum}")
        enabled = sum(1 for v in dom.vcpus.vcpus if v.enabled is not False)
        if len(vids) == maximum and enabled != current:
            raise _fail(w, "vcpus", f"{enabled} vcpus are enabled but the current count is "
                        f"{current}")
    ids = [t.id for t in dom.iothreadids.iothreads] if dom.iothreadids is not None else []
    if any(i < 1 for i in ids):
        raise _fail(w, "iothreadids", "an iothread id must be a positive integer")
    if len(set(ids)) != len(ids):
        raise _fail(w, "iothreadids", "an iothread id is listed twice")
    if dom.iothreads is not None and len(ids) > dom.iothreads:
        raise _fail(w, "iothreads", f"{len(ids)} iothread ids listed but only "
                    f"{dom.iothreads} iothreads")
    if dom.cpu is not None and dom.cpu.topology is not None and dom.vcpu is not None:
        t = dom.cpu.topology
        total = t.sockets * (t.dies or 1) * t.cores * t.threads
        if min(t.sockets, t.cores, t.threads, t.dies or 1) < 1:
            raise _fail(w, "topology", "sockets, dies, cores and threads must be at least 1")
        if total != dom.vcpu.count:
            raise _fail(w, "topology", f"CPU topology ({total} vcpus) doesn't match maximum "
                        f"vcpu count {dom.vcpu.count}")
    devs = dom.devices
    if devs is None:
        return
    hit = _devices_passed.get(id(devs))
    if hit is not None and hit[0] is devs:
        has_boots = hit[1]
    else:
        has_boots = _check_devices(w, devs)
        if len(_devices_passed) >= _DEVICES_PASSED_MAX:
            _devices_passed.clear()
        # the entry holds devs: its id is not reused while it is there
        _devices_passed[id(devs)] = (devs, has_boots)
    if has_boots and dom.os.boot:
        raise _fail(w, "boot", "per-device boot elements cannot be used together with os/boot "
                    "elements")


#: The ``<devices>`` models whose checks passed, by identity, each with whether it gives boot
#: orders. Models are immutable, and an interned ``<devices>`` (the same devices defined again,
#: or from the same template) is the same object: its checks are not run again.
_devices_passed: dict[int, tuple[Devices, bool]] = {}
_DEVICES_PASSED_MAX = 256


def _check_devices(w: str, devs: Devices) -> bool:
    """Check the rules of ``devs`` that do not depend on the rest of the domain (``w`` names
    the domain in a message); whether a device gives a boot order."""
    boots: list[int] = []
    for disk in devs.disks:
        src = disk.source
        el = f"disk target='{disk.target.dev}'"
        if disk.type == "block" and src is not None and src.dev is None and src.file is not None:
            raise _fail(w, el, "a block disk needs <source dev=...>")
        if disk.type == "network" and (src is None or src.protocol is None):
            raise _fail(w, el, "a network disk needs <source protocol=...>")
        if disk.type == "volume" and src is not None and (src.pool is None or src.volume is None):
            raise _fail(w, el, "a volume disk needs <source pool=... volume=...>")
        if disk.type == "file" and src is not None and src.file is None and src.dev is not None:
            raise _fail(w, el, "a file disk needs <source file=...>")
        if disk.device in (None, "disk", "lun") and src is None and disk.type != "file":
            raise _fail(w, el, "a disk needs a <source>")
        if disk.boot is not None:
            boots.append(disk.boot.order)
    _unique(w, "disk", "target dev", (d.target.dev for d in devs.disks))
    _unique(w, "controller", "controller index", ((c.type, c.index) for c in devs.controllers
                                                  if c.index is not None))
    for iface in devs.interfaces:
        el = f"interface type='{iface.type}'"
        isrc = iface.source
        if iface.type == "network" and (isrc is None or isrc.network is None):
            raise _fail(w, el, "missing source network")
        if iface.type == "bridge" and (isrc is None or isrc.bridge is None):
            raise _fail(w, el, "missing source bridge")
        if iface.type == "direct" and (isrc is None or isrc.dev is None):
            raise _fail(w, el, "missing source dev")
        if iface.mac is not None:
            _unicast_mac(w, el, iface.mac.address)
        if iface.boot is not None:
            boots.append(iface.boot.order)
    _unique(w, "mac", "MAC address", (i.mac.address for i in devs.interfaces if i.mac))
    for hd in devs.hostdevs:
        if hd.boot is not None:
            boots.append(hd.boot.order)
    _unique(w, "boot", "boot order", boots)
    for g in devs.graphics:
        for port in (g.port, g.tls_port, g.websocket):
            if port is not None and not -1 <= port <= 65535:
                raise _fail(w, f"graphics type='{g.type}'", f"invalid port {port}")
    return bool(boots)


def _net(what: str, element: str, address: str, prefix: int | None,
         netmask: str | None) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        ip = ipaddress.ip_address(address)
        if netmask is not None:
            return ipaddress.ip_network(f"{address}/{netmask}", strict=False)
        if prefix is not None:
            return ipaddress.ip_network(f"{address}/{prefix}", strict=False)
        return ipaddress.ip_network(f"{ip}/{ip.max_prefixlen if ip.version == 6 else 24}",
                                    strict=False)
    except ValueError as exc:
        raise _fail(what, element, f"invalid address: {exc}") from None


def check_network(net: Network) -> None:
    w = f"network '{shorten(net.name)}'"
    check_name("network", net.name)
    mode = net.forward.mode if net.forward is not None else None
    if mode in ("bridge", "private", "vepa", "passthrough", "hostdev"):
        if net.ips:
            raise _fail(w, "ip", f"<ip> is not supported with forward mode '{mode}'")
        if mode == "bridge" and (net.bridge is None or net.bridge.name is None) and not (
            net.forward is not None and (net.forward.dev or net.forward.interfaces)
        ):
            raise _fail(w, "forward", "forward mode 'bridge' needs <bridge name=...> or a "
                        "forward dev")
    if mode == "open" and net.bridge is None:
        pass
    for ip in net.ips:
        el = f"ip address='{ip.address}'"
        network = _net(w, el, ip.address, ip.prefix, ip.netmask)
        family = ip.family or "ipv4"
        if (network.version == 6) != (family == "ipv6"):
            raise _fail(w, el, f"address does not match family '{family}'")
        if ip.dhcp is None:
            continue
        for r in ip.dhcp.ranges:
            try:
                start, end = ipaddress.ip_address(r.start), ipaddress.ip_address(r.end)
            except ValueError as exc:
                raise _fail(w, "range", f"invalid address: {exc}") from None
            if start not in network or end not in network:
                raise _fail(w, "range", f"range {r.start} - {r.end} is not entirely within "
                            f"network {network}")
            if start > end:  # type: ignore[operator]
                raise _fail(w, "range", f"range {r.start} - {r.end} is reversed")
        for h in ip.dhcp.hosts:
            if h.mac is None and h.name is None and h.id is None:
                raise _fail(w, "host", "static host definition needs a mac, id or name")
            if h.ip is not None:
                try:
                    hip = ipaddress.ip_address(h.ip)
                except ValueError as exc:
                    raise _fail(w, "host", f"invalid address: {exc}") from None
                if hip not in network:
                    raise _fail(w, "host", f"address {h.ip} is not within network {network}")
            if h.mac is not None:
                _unicast_mac(w, "host", h.mac)
    _unique(w, "portgroup", "portgroup name", (p.name for p in net.portgroups))
    if sum(1 for p in net.portgroups if p.default) > 1:
        raise _fail(w, "portgroup", "only one portgroup may be the default")
    if net.mtu is not None and not 68 <= net.mtu.size <= 65535:
        raise _fail(w, "mtu", f"invalid MTU size {net.mtu.size}")


_POOL_NEEDS = {
    "fs": ("device",),
    "netfs": ("host", "dir"),
    "disk": ("device",),
    "iscsi": ("host", "device"),
    "logical": (),
}


def check_pool(pool: StoragePool) -> None:
    w = f"storage pool '{shorten(pool.name)}'"
    check_name("storage pool", pool.name)
    src = pool.source
    for need in _POOL_NEEDS.get(pool.type, ()):
        have = src is not None and bool(
            {"host": src.hosts if src else (), "device": src.devices if src else (),
             "dir": src.dir if src else None}[need]
        )
        if not have:
            raise _fail(w, "source", f"missing <{need}> in the source of a '{pool.type}' pool")
    if pool.type == "logical" and (src is None or (src.name is None and not src.devices)):
        raise _fail(w, "source", "a logical pool needs a source name or device")
    if pool.type in ("dir", "fs", "netfs", "logical", "disk", "iscsi"):
        if pool.target is None or pool.target.path is None:
            raise _fail(w, "target", f"a '{pool.type}' pool needs <target><path>")
    if pool.target is not None and pool.target.path is not None and \
            not pool.target.path.startswith("/"):
        raise _fail(w, "path", f"target path '{pool.target.path}' must be absolute")


def check_volume(vol: StorageVolume) -> None:
    w = f"storage volume '{shorten(vol.name)}'"
    check_name("storage volume", vol.name)
    if vol.name in (".", "..") or vol.name.startswith("../"):
        raise _fail(w, "name", f"volume name '{vol.name}' is not allowed")
    if vol.capacity is None:
        raise _fail(w, "capacity", "missing capacity element")
    if vol.allocation is not None and vol.type in (None, "file") and vol.allocation < 0:
        raise _fail(w, "allocation", "allocation must not be negative")


def check_interface(iface: HostInterface) -> None:
    w = f"interface '{shorten(str(iface.name))}'"
    if not iface.name or "/" in iface.name:
        raise _fail(w, "interface", f"invalid interface name '{iface.name}'")
    if iface.type == "vlan" and iface.vlan is None:
        raise _fail(w, "vlan", "a vlan interface needs a <vlan tag=...> element")
    if iface.type == "bridge" and iface.bridge is None:
        raise _fail(w, "bridge", "a bridge interface needs a <bridge> element")
    if iface.type == "bond" and iface.bond is None:
        raise _fail(w, "bond", "a bond interface needs a <bond> element")
    for sub in (iface.bridge.interfaces if iface.bridge else ()) + (
        iface.bond.interfaces if iface.bond else ()
    ):
        check_interface(sub)
    for proto in iface.protocols:
        for ip in proto.ips:
            try:
                ipaddress.ip_address(ip.address)
            except ValueError as exc:
                raise _fail(w, "ip", f"invalid address: {exc}") from None


def check_snapshot(snap: DomainSnapshot) -> None:
    if snap.name is not None:
        check_name("domain snapshot", snap.name)
    w = f"domain snapshot '{shorten(str(snap.name))}'"
    if snap.disks is not None:
        _unique(w, "disk", "disk name", (d.name for d in snap.disks.disks))
    if snap.domain is not None:
        check_domain(snap.domain)
