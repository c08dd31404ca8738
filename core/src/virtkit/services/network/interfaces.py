"""Host interfaces (virsh's iface-* commands) through netlink.

Listing shows every link of the host with its MAC, whether it is up and its addresses, plus the
defined interfaces that are not present. ``define`` stores an ``<interface>`` configuration;
``create`` builds it (a bridge with its ports, a VLAN on its parent, a bond with its slaves, or an
existing ethernet link brought up) with its addresses, recording every step and undoing them all
if one fails; ``destroy`` removes exactly the links and addresses that start made, and only brings
down a link it did not make. ``change_begin``/``commit``/``rollback`` keep a snapshot of the
definitions and of which interfaces are up, as virsh's iface-begin/commit/rollback.
"""

from __future__ import annotations

import ipaddress
import json
from typing import TYPE_CHECKING, Any

from lxml import etree

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError, no_interface
from virtkit.sdk.records import InterfaceRef, InterfaceSummary
from virtkit.services.network import netlink
from virtkit.services.network.names import check_ifname
from virtkit.services.network.networks import impl
from virtkit.xml.interface import HostInterface

if TYPE_CHECKING:
    from virtkit.services.network.state import Files

IFACES = "interfaces"
MADE = "iface-made"
TRANSACTION = "iface-transaction"
D = ErrorDomain.INTERFACE
BOND_MODES = {
    "balance-rr": 0, "active-backup": 1, "balance-xor": 2, "broadcast": 3, "802.3ad": 4,
    "balance-tlb": 5, "balance-alb": 6,
}


def _invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, message, D)


def _check(iface: HostInterface) -> None:
    """Names, addresses and VLAN tags of a definition, before anything reaches netlink."""
    check_ifname(iface.name or "")
    for proto in iface.protocols:
        for ip in proto.ips:
            try:
                addr = ipaddress.ip_address(ip.address)
            except ValueError:
                raise VirtError(ErrorCode.XML_ERROR, f"XML error: interface '{iface.name}': "
                                f"'{ip.address}' is not an IP address", D) from None
            limit = 32 if addr.version == 4 else 128
            if ip.prefix is not None and not 0 <= ip.prefix <= limit:
                raise VirtError(ErrorCode.XML_ERROR, f"XML error: interface '{iface.name}': "
                                f"prefix {ip.prefix} is out of range for {ip.address}", D)
    if iface.vlan is not None and not 1 <= iface.vlan.tag <= 4094:
        raise VirtError(ErrorCode.XML_ERROR, f"XML error: interface '{iface.name}': VLAN tag "
                        f"{iface.vlan.tag} is not between 1 and 4094", D)
    subs = (iface.bridge.interfaces if iface.bridge else ()) + (
        iface.bond.interfaces if iface.bond else ())
    if iface.vlan is not None and iface.vlan.interface is not None:
        subs += (iface.vlan.interface,)
    for sub in subs:
        if sub.name:
            _check(sub)


def _names(iface: HostInterface) -> list[str]:
    """Every interface name a definition mentions, itself first."""
    out = [iface.name or ""]
    for sub in (iface.bridge.interfaces if iface.bridge else ()) + (
        iface.bond.interfaces if iface.bond else ()
    ):
        out += _names(sub)
    if iface.vlan is not None and iface.vlan.interface is not None:
        out += _names(iface.vlan.interface)
    return out


class Made:
    """The undo log of one interface start: links made, addresses added, links enslaved or
    brought up."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        data = data or {}
        self.links: list[str] = data.get("links", [])
        self.addresses: list[list[Any]] = data.get("addresses", [])
        self.enslaved: list[str] = data.get("enslaved", [])
        self.raised: list[str] = data.get("raised", [])
        self.mtus: list[list[Any]] = data.get("mtus", [])  # [name, MTU before]
        # [name, MAC before]: a bridge takes a port's MAC, and is left with none when released
        self.macs: list[list[str]] = data.get("macs", [])

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__).encode()

    def undo(self) -> list[str]:
        errors: list[str] = []
        for name, addr, prefix in reversed(self.addresses):
            idx = netlink.index(name)
            if idx is None:
                continue
            try:
                with netlink.netlink(f"cannot remove address {addr} from '{name}'", D) as ipr:
                    ipr.addr("del", index=idx, address=addr, prefixlen=prefix)
            except VirtError as exc:
                errors.append(exc.message)
        for name in reversed(self.enslaved):
            idx = netlink.index(name)
            if idx is not None and name not in self.links:
                try:
                    netlink.set_link(idx, f"cannot release '{name}'", D, master=0)
                except VirtError as exc:
                    errors.append(exc.message)
        for name in reversed(self.raised):
            idx = netlink.index(name)
            if idx is not None and name not in self.links:
                try:
                    netlink.set_link(idx, f"cannot bring '{name}' down", D, state="down")
                except VirtError as exc:
                    errors.append(exc.message)
        for name, mtu in reversed(self.mtus):
            idx = netlink.index(name)
            if idx is not None and name not in self.links:
                try:
                    netlink.set_link(idx, f"cannot restore the MTU of '{name}'", D, mtu=mtu)
                except VirtError as exc:
                    errors.append(exc.message)
        for name, mac in reversed(self.macs):
            link = netlink.link(name)
            if link is not None and name not in self.links and link.mac != mac:
                try:
                    netlink.set_link(link.index, f"cannot restore the MAC of '{name}'", D,
                                     address=mac)
                except VirtError as exc:
                    errors.append(exc.message)
        for name in reversed(self.links):
            try:
                netlink.delete_link(name, D)
            except VirtError as exc:
                errors.append(exc.message)
        return errors


class InterfaceMixin:
    """Host-interface hooks of :class:`~virtkit.services.network.HostNetwork`."""

    files: Files

    # -- helpers -------------------------------------------------------------------------------

    def _idef(self, name: str) -> HostInterface | None:
        try:
            data = self.files.config.read(IFACES, name)
        except VirtError:
            return None
        return None if data is None else HostInterface.from_xml(data)

    def _ref(self, name: str) -> InterfaceRef:
        link = netlink.link(name)
        if link is not None:
            return InterfaceRef(name, link.mac)
        defn = self._idef(name)
        if defn is None:
            raise no_interface(name)
        return InterfaceRef(name, defn.mac.address if defn.mac is not None else "")

    def _build(self, iface: HostInterface, made: Made, master: int | None = None) -> int:
        name = iface.name or ""
        kind = iface.type or "ethernet"
        idx = netlink.index(name)
        if kind == "ethernet":
            if idx is None:
                raise VirtError(ErrorCode.OPERATION_FAILED,
                                f"cannot start interface '{name}': no such host interface", D)
        elif idx is not None:
            link = netlink.link(name)
            if link is None or link.kind != kind:
                raise VirtError(
                    ErrorCode.OPERATION_FAILED,
                    f"cannot start {kind} interface '{name}': an interface of that name already "
                    f"exists and is not a {kind}", D)
        if kind == "bridge":
            if idx is None:  # an existing bridge is used as it is, and not deleted at stop
                idx = netlink.add_link(name, "bridge", D, br_stp_state=1 if iface.bridge and
                                       iface.bridge.stp else 0)
                made.links.append(name)
            else:
                existing = netlink.link(name)
                if existing is not None:
                    made.macs.append([name, existing.mac])
            for sub in iface.bridge.interfaces if iface.bridge else ():
                self._build(sub, made, master=idx)
        elif kind in ("vlan", "bond") and idx is not None:
            pass  # an existing link of that kind: brought up with its settings below
        elif kind == "vlan":
            vlan = iface.vlan
            parent = vlan.interface if vlan is not None else None
            if vlan is None or parent is None or not parent.name:
                raise VirtError(ErrorCode.OPERATION_FAILED,
                                f"vlan interface '{name}' names no parent interface", D)
            parent_idx = netlink.index(parent.name)
            if parent_idx is None:
                raise VirtError(ErrorCode.OPERATION_FAILED,
                                f"vlan interface '{name}': parent '{parent.name}' does not "
                                f"exist", D)
            idx = netlink.add_link(name, "vlan", D, link=parent_idx, vlan_id=vlan.tag)
            made.links.append(name)
        elif kind == "bond":
            settings: dict[str, Any] = {}
            if iface.bond is not None and iface.bond.mode:
                settings["bond_mode"] = BOND_MODES[iface.bond.mode]
            if iface.bond is not None and iface.bond.miimon is not None:
                settings["bond_miimon"] = iface.bond.miimon.freq
            idx = netlink.add_link(name, "bond", D, **settings)
            made.links.append(name)
            for sub in iface.bond.interfaces if iface.bond else ():
                sub_idx = netlink.index(sub.name or "")
                if sub_idx is None:
                    raise VirtError(ErrorCode.OPERATION_FAILED,
                                    f"bond '{name}': slave '{sub.name}' does not exist", D)
                netlink.set_link(sub_idx, f"cannot bring '{sub.name}' down", D, state="down")
                self._build(sub, made, master=idx)
        assert idx is not None
        if iface.mtu is not None:
            current = netlink.link(name)
            if name not in made.links and current is not None and current.mtu != iface.mtu.size:
                made.mtus.append([name, current.mtu])
            netlink.set_link(idx, f"cannot set MTU of '{name}'", D, mtu=iface.mtu.size)
        if master is not None:
            netlink.set_link(idx, f"cannot attach '{name}' to its master", D, master=master)
            made.enslaved.append(name)
        for proto in iface.protocols:
            for ip in proto.ips:
                prefix = ip.prefix if ip.prefix is not None else (
                    64 if proto.family == "ipv6" else 24)
                netlink.add_address(idx, name, ip.address, prefix, D)
                made.addresses.append([name, ip.address, prefix])
        link = netlink.link(name)
        if link is not None and not link.up:
            netlink.set_link(idx, f"cannot bring '{name}' up", D, state="up")
            made.raised.append(name)
        return idx

    def _live_xml(self, name: str) -> str:
        link = netlink.link(name)
        if link is None:
            raise no_interface(name)
        kind = {"bridge": "bridge", "vlan": "vlan", "bond": "bond"}.get(link.kind, "ethernet")
        root = etree.Element("interface", type=kind, name=name)
        etree.SubElement(root, "mac", address=link.mac)
        etree.SubElement(root, "mtu", size=str(link.mtu))
        etree.SubElement(root, "link", state="up" if link.up else "down")
        by_family: dict[str, list[tuple[str, int]]] = {}
        for addr, prefix in link.addresses:
            by_family.setdefault("ipv6" if ":" in addr else "ipv4", []).append((addr, prefix))
        for family, addrs in sorted(by_family.items()):
            proto = etree.SubElement(root, "protocol", family=family)
            for addr, prefix in addrs:
                etree.SubElement(proto, "ip", address=addr, prefix=str(prefix))
        if kind in ("bridge", "bond"):
            holder = etree.SubElement(root, kind)
            for sub in netlink.links():
                if sub.master == link.index:
                    etree.SubElement(holder, "interface", type="ethernet", name=sub.name)
        if kind == "vlan" and link.vlan_id is not None:
            vlan = etree.SubElement(root, "vlan", tag=str(link.vlan_id))
            parent = next((x for x in netlink.links() if x.index == link.vlan_link), None)
            if parent is not None:
                etree.SubElement(vlan, "interface", name=parent.name)
        return etree.tostring(root, pretty_print=True, encoding="unicode")

    def _iface_start(self, name: str) -> None:
        defn = self._idef(name)
        made = Made()
        try:
            if defn is None:
                idx = netlink.index(name)
                if idx is None:
                    raise no_interface(name)
                netlink.set_link(idx, f"cannot bring '{name}' up", D, state="up")
                made.raised.append(name)
            else:
                self._build(defn, made)
        except BaseException:
            errors = made.undo()
            if errors:
                import logging

                logging.getLogger("virtkit.services.network").error(
                    "undoing the failed start of interface '%s': %s", name, "; ".join(errors))
            raise
        self.files.status.write(MADE, name, made.to_json())

    def _iface_stop(self, name: str) -> None:
        data = self.files.status.read(MADE, name)
        if data is not None:
            errors = Made(json.loads(data)).undo()
            self.files.status.delete(MADE, name)
            if errors:
                raise VirtError(ErrorCode.OPERATION_FAILED,
                                f"stopping interface '{name}' left work undone: "
                                + "; ".join(errors), D)
            return
        idx = netlink.index(name)
        if idx is not None:
            netlink.set_link(idx, f"cannot bring '{name}' down", D, state="down")

    def _is_up(self, name: str) -> bool:
        link = netlink.link(name)
        return link is not None and link.up

    # -- hooks ---------------------------------------------------------------------------------

    @impl
    def virtkit_interface_list(self) -> list[InterfaceSummary]:
        seen: dict[str, InterfaceSummary] = {}
        for link in netlink.links():
            seen[link.name] = InterfaceSummary(InterfaceRef(link.name, link.mac), link.up)
        for name in self.files.config.names(IFACES):
            if name not in seen:
                seen[name] = InterfaceSummary(self._ref(name), False)
        return [seen[n] for n in sorted(seen)]

    @impl
    def virtkit_interface_get_summary(self, iface: InterfaceRef) -> InterfaceSummary:
        ref = self._ref(iface.name)
        return InterfaceSummary(ref, self._is_up(iface.name))

    @impl
    def virtkit_interface_lookup_by_name(self, name: str) -> InterfaceRef:
        return self._ref(name)

    @impl
    def virtkit_interface_lookup_by_mac(self, mac: str) -> InterfaceRef:
        want = mac.lower()
        found = sorted({ln.name for ln in netlink.links() if ln.mac == want})
        if not found:
            raise no_interface(mac=mac)
        if len(found) > 1:
            raise VirtError(ErrorCode.MULTIPLE_INTERFACES,
                            f"multiple matching interfaces found for MAC '{mac}': "
                            + ", ".join(found), D)
        return InterfaceRef(found[0], want)

    @impl
    def virtkit_interface_define_xml(self, xml: str) -> InterfaceRef:
        new = HostInterface.from_xml(xml)
        for n in _names(new):
            check_ifname(n)
        _check(new)
        assert new.name is not None
        with self.files.config.locked():
            self.files.config.write(IFACES, new.name, new.to_xml().encode())
        return self._ref(new.name)

    @impl
    def virtkit_interface_create(self, iface: InterfaceRef) -> bool:
        with self.files.config.locked():
            self._ref(iface.name)
            if self._is_up(iface.name):
                raise _invalid(f"interface '{iface.name}' is already active")
            self._iface_start(iface.name)
        return True

    @impl
    def virtkit_interface_destroy(self, iface: InterfaceRef) -> bool:
        with self.files.config.locked():
            self._ref(iface.name)
            if not self._is_up(iface.name):
                raise _invalid(f"interface '{iface.name}' is not active")
            self._iface_stop(iface.name)
        return True

    @impl
    def virtkit_interface_undefine(self, iface: InterfaceRef) -> bool:
        with self.files.config.locked():
            if self._idef(iface.name) is None:
                raise no_interface(iface.name)
            if self._is_up(iface.name):
                raise _invalid(
                    f"interface '{iface.name}' is active; bring it down before undefining it")
            self.files.config.delete(IFACES, iface.name)
        return True

    @impl
    def virtkit_interface_get_xml(self, iface: InterfaceRef, inactive: bool) -> str:
        defn = self._idef(iface.name)
        if defn is not None and (inactive or not self._is_up(iface.name)):
            return defn.to_xml()
        return self._live_xml(iface.name)

    @impl
    def virtkit_interface_change_begin(self) -> bool:
        with self.files.config.locked():
            if self.files.config.read(TRANSACTION, "open") is not None:
                raise _invalid("an interface change transaction is already open (iface-begin)")
            defs = {n: (self.files.config.read(IFACES, n) or b"").decode()
                    for n in self.files.config.names(IFACES)}
            up = sorted(n for n in defs if self._is_up(n))
            snap = {"definitions": defs, "up": up}
            self.files.config.write(TRANSACTION, "open", json.dumps(snap).encode())
        return True

    @impl
    def virtkit_interface_change_commit(self) -> bool:
        with self.files.config.locked():
            if not self.files.config.delete(TRANSACTION, "open"):
                raise _invalid("no interface change transaction is open (iface-begin)")
        return True

    @impl
    def virtkit_interface_change_rollback(self) -> bool:
        with self.files.config.locked():
            data = self.files.config.read(TRANSACTION, "open")
            if data is None:
                raise _invalid("no interface change transaction is open (iface-begin)")
            snap = json.loads(data)
            defs: dict[str, str] = snap["definitions"]
            was_up = set(snap["up"])
            now = set(self.files.config.names(IFACES))
            for name in sorted(now):
                if name not in was_up and self._is_up(name):
                    self._iface_stop(name)
            for name in sorted(now - set(defs)):
                self.files.config.delete(IFACES, name)
            for name, xml in defs.items():
                self.files.config.write(IFACES, name, xml.encode())
            for name in sorted(was_up):
                if not self._is_up(name):
                    self._iface_start(name)
            self.files.config.delete(TRANSACTION, "open")
        return True
