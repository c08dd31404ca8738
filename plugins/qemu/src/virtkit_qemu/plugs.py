"""What the host services give a guest: volume disks resolved to paths, network ports plugged
into taps.

A ``<disk type='volume'><source pool='P' volume='V'/>`` becomes, for QEMU only, a file or block
disk through the storage service's ``vol_translate`` (the declared format kept: the disk's own
``<driver type>`` when it names one, else the volume's). An ``<interface type='network'>`` gets a
network port (``network_port_create_xml``), whose plug (``network_port_get_plug``) names the
bridge, MAC, MTU and VLANs of the tap the driver makes; ``type='bridge'`` plugs straight into the
named bridge. The live XML keeps what the user wrote, with each tap in ``<target dev>`` and the
MAC filled in.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.records import NetworkPortRef, NetworkRef
from virtkit.xml.common import MacAddress
from virtkit.xml.domain import Disk, DiskDriver, DiskSource, Interface, InterfaceTarget

Call = Callable[[str, dict[str, Any]], Any]

TAP_TYPES = ("bridge", "ethernet", "network")


def _failed(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_FAILED, f"operation failed: {message}", ErrorDomain.QEMU)


def resolve_disk(call: Call, guest: str, disk: Disk) -> Disk:
    """``disk`` as QEMU opens it: a volume disk becomes the file or block disk the storage
    service names; other disks are returned unchanged."""
    if disk.type != "volume":
        return disk
    src = disk.source
    if src is None or not src.pool or not src.volume:
        raise VirtError(ErrorCode.XML_ERROR,
                        f"XML error: volume disk '{disk.target.dev}' of domain '{guest}' needs "
                        f"<source pool=... volume=...>", ErrorDomain.QEMU)
    vs = call("vol_translate", {"pool_name": src.pool, "volume_name": src.volume})
    declared = disk.driver.type if disk.driver is not None and disk.driver.type else None
    fmt = declared or vs.format or "raw"
    driver = attrs.evolve(disk.driver or DiskDriver(), type=fmt)
    if vs.type == "block":
        return attrs.evolve(disk, type="block", source=DiskSource(dev=vs.path), driver=driver)
    if vs.type != "file":
        raise VirtError(ErrorCode.CONFIG_UNSUPPORTED,
                        f"unsupported configuration: volume '{src.volume}' of pool '{src.pool}' "
                        f"is a '{vs.type}' volume (file and block volumes only)",
                        ErrorDomain.QEMU)
    return attrs.evolve(disk, type="file", source=DiskSource(file=vs.path), driver=driver)


def guest_mac(iface: Interface) -> str:
    """The interface's MAC, a new 52:54:00 one when it names none."""
    if iface.mac is not None:
        return iface.mac.address.lower()
    tail = os.urandom(3)
    return "52:54:00:" + ":".join(f"{b:02x}" for b in tail)


@attrs.frozen
class Port:
    """A network port the driver made for one guest interface, and the tap plugged into it."""

    net: str
    net_uuid: str
    uuid: str
    tap: str = ""

    @property
    def ref(self) -> NetworkPortRef:
        return NetworkPortRef(NetworkRef(self.net, self.net_uuid), self.uuid)

    def to_plain(self) -> dict[str, str]:
        return {"net": self.net, "net_uuid": self.net_uuid, "uuid": self.uuid, "tap": self.tap}

    @classmethod
    def from_plain(cls, d: dict[str, str]) -> Port:
        return cls(d["net"], d["net_uuid"], d["uuid"], d.get("tap", ""))


@attrs.frozen
class Plug:
    """Where a tap goes: the bridge, the guest's MAC, the MTU (0: the bridge's) and VLANs."""

    bridge: str | None
    mac: str
    mtu: int = 0
    vlan_tags: tuple[int, ...] = ()
    vlan_trunk: bool = False
    vlan_native: int = 0
    port: Port | None = None


def plug_for(call: Call | None, guest: str, uuid: str, iface: Interface) -> Plug:
    """The plug of one tap interface; for ``type='network'`` a network port is created (the
    caller deletes it with :func:`delete_port` when the interface goes)."""
    mac = guest_mac(iface)
    mtu = iface.mtu.size if iface.mtu is not None else 0
    if iface.type == "bridge":
        if iface.source is None or not iface.source.bridge:
            raise _failed(f"cannot start domain '{guest}': a bridge interface needs "
                          f"<source bridge=...>")
        return Plug(iface.source.bridge, mac, mtu)
    if iface.type == "ethernet":
        return Plug(None, mac, mtu)
    src = iface.source
    if src is None or not src.network:
        raise VirtError(ErrorCode.XML_ERROR,
                        f"XML error: interface {mac} of domain '{guest}' has type 'network' "
                        f"and no <source network=...>", ErrorDomain.QEMU)
    if call is None:
        raise _failed(f"domain '{guest}': no connection to the host network service")
    net = call("network_lookup_by_name", {"name": src.network})
    group = f"<group>{escape(src.portgroup)}</group>" if src.portgroup else ""
    xml = (f"<networkport><owner><name>{escape(guest)}</name><uuid>{uuid}</uuid></owner>"
           f"<mac address={quoteattr(mac)}/>{group}</networkport>")
    ref = call("network_port_create_xml", {"net": net, "xml": xml})
    port = Port(net.name, net.uuid, ref.uuid)
    try:
        plug = call("network_port_get_plug", {"port": ref})
        if plug.plug_type not in ("network", "bridge") or not plug.bridge:
            raise VirtError(ErrorCode.CONFIG_UNSUPPORTED,
                            f"unsupported configuration: network '{net.name}' gives a "
                            f"'{plug.plug_type}' port; the qemu driver plugs taps into bridges "
                            f"only", ErrorDomain.QEMU)
    except BaseException:
        delete_port(call, port)
        raise
    return Plug(plug.bridge, plug.mac or mac, plug.mtu or mtu, tuple(plug.vlan_tags),
                plug.vlan_trunk, plug.vlan_native, port)


def delete_port(call: Call | None, port: Port) -> None:
    """Delete a port; a port already gone (or no service to ask) is not an error."""
    if call is None:
        return
    try:
        call("network_port_delete", {"port": port.ref})
    except VirtError:
        pass


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


def links() -> set[str]:
    res = _ip("-o", "link", "show")
    return {ln.split(":")[1].strip().split("@")[0] for ln in res.stdout.splitlines()
            if ln.count(":") >= 2}


def free_tap_name(taken: set[str]) -> str:
    existing = links() | taken
    for n in range(0, 65536):
        cand = f"vk{n}"
        if cand not in existing:
            return cand
    raise _failed("no free tap device name")


def make_tap(guest: str, name: str, plug: Plug) -> None:
    """Create tap ``name`` (its host-side MAC the guest's with the first byte 0xfe, so the bridge
    never takes the guest's address), set its MTU, enslave it to the plug's bridge with its
    VLANs, and bring it up. Nothing is left behind on failure."""
    res = _ip("tuntap", "add", "dev", name, "mode", "tap")
    if res.returncode != 0:
        raise _failed(f"cannot start domain '{guest}': cannot create tap device '{name}': "
                      f"{res.stderr.strip()}")
    try:
        steps: list[tuple[str, ...]] = [("link", "set", name, "address", "fe" + plug.mac[2:])]
        if plug.mtu:
            steps.append(("link", "set", name, "mtu", str(plug.mtu)))
        if plug.bridge:
            steps.append(("link", "set", name, "master", plug.bridge))
        for step in steps:
            res = _ip(*step)
            if res.returncode != 0:
                what = f"bridge '{plug.bridge}'" if "master" in step else f"{step[3]}"
                raise _failed(f"cannot attach tap '{name}' of domain '{guest}' ({what}): "
                              f"{res.stderr.strip()}")
        if plug.vlan_tags:
            _vlans(guest, name, plug)
        _ip("link", "set", name, "up")
    except BaseException:
        drop_tap(name)
        raise


def _vlans(guest: str, tap: str, plug: Plug) -> None:
    cmds = []
    if plug.vlan_trunk:
        cmds += [["bridge", "vlan", "add", "dev", tap, "vid", str(v)] for v in plug.vlan_tags]
        if plug.vlan_native:
            cmds.append(["bridge", "vlan", "add", "dev", tap, "vid", str(plug.vlan_native),
                         "pvid", "untagged"])
    else:
        cmds.append(["bridge", "vlan", "add", "dev", tap, "vid", str(plug.vlan_tags[0]),
                     "pvid", "untagged"])
    for cmd in cmds:
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise _failed(f"cannot set the VLANs of tap '{tap}' of domain '{guest}': "
                          f"{res.stderr.strip()}")


def drop_tap(name: str) -> None:
    _ip("link", "del", name)


def live_interface(iface: Interface, tap: str, mac: str) -> Interface:
    """The interface as the live XML shows it: its tap in ``<target dev>``, its MAC."""
    managed = iface.target.managed if iface.target is not None else None
    return attrs.evolve(iface, target=InterfaceTarget(dev=tap, managed=managed),
                        mac=MacAddress(address=mac))


def bridge_view(iface: Interface, plug: Plug) -> Interface:
    """The interface as argv builds it: a tap-backed NIC with the plug's MAC."""
    return attrs.evolve(iface, mac=MacAddress(address=plug.mac))
