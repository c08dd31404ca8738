"""Virtual networks and host interfaces of the test driver, all in memory.

Networks follow libvirt's object model: a persistent ``config`` that the next start uses and a
``live`` definition while active; a transient network vanishes when stopped; undefining an active
network makes it transient. Static DHCP ``<host>`` entries of an active network are its leases.
"""

from __future__ import annotations

import ipaddress
import time
from typing import TYPE_CHECKING

import attrs

from virtkit.drivers.test.node import TestInterface, TestNetwork
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError, no_interface, no_network
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import (
    DhcpLease,
    Event,
    InterfaceRef,
    InterfaceSummary,
    NetworkRef,
    NetworkSummary,
)
from virtkit.sdk.states import NetworkEventLifecycle
from virtkit.xml.interface import HostInterface
from virtkit.xml.network import Bridge, Network

if TYPE_CHECKING:
    from virtkit.drivers.test.node import TestNode

#: Forward modes whose network owns a bridge that virtkit creates (and names virbrN).
_OWN_BRIDGE = ("nat", "route", "open", "isolated")
#: How long a lease lasts after the network started (seconds).
LEASE_TIME = 3600


def _net_invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, message, ErrorDomain.NETWORK)


def _net_failed(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_FAILED, message, ErrorDomain.NETWORK)


def _iface_invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, message, ErrorDomain.INTERFACE)


def _prefix(address: str, prefix: int | None, netmask: str | None) -> int:
    if prefix is not None:
        return prefix
    if netmask is not None:
        try:
            return ipaddress.ip_network(f"0.0.0.0/{netmask}").prefixlen
        except ValueError:
            pass
    return 64 if ":" in address else 24


class NetworkMixin:
    """Network and host-interface hooks of :class:`~virtkit.drivers.test.driver.TestDriver`."""

    if TYPE_CHECKING:

        @property
        def _node(self) -> TestNode: ...

    # -- network helpers ----------------------------------------------------------------------

    def _net(self, ref: NetworkRef) -> TestNetwork:
        """The network ``ref`` names (caller holds the lock); NO_NETWORK if it is gone."""
        net = self._node.networks.get(ref.name)
        if net is None or net.uuid != ref.uuid:
            raise no_network(ref.name)
        return net

    def _net_event(self, net: TestNetwork, event: NetworkEventLifecycle) -> None:
        self._node.emit(Event("network-lifecycle", net.ref, int(event), 0))

    def _parse_network(self, xml: str) -> Network:
        return Network.from_xml(xml).with_defaults()

    def _place_network(self, new: Network) -> TestNetwork | None:
        """The network ``new`` redefines, or None; refuses clashes of name, uuid and bridge.

        Gives ``new`` a free ``virbrN`` bridge when its mode needs one and it names none.
        """
        node = self._node
        existing = node.networks.get(new.name)
        for other in node.networks.values():
            if other.uuid == new.uuid and other.name != new.name:
                raise _net_failed(f"network '{other.name}' is already defined with uuid {new.uuid}")
        if existing is not None and existing.uuid != new.uuid:
            raise _net_failed(f"network '{new.name}' already exists with uuid {existing.uuid}")
        return existing

    def _with_bridge(self, new: Network, existing: TestNetwork | None) -> Network:
        if new.forward_mode not in _OWN_BRIDGE:
            return new
        node = self._node
        used_names = {
            b.name
            for n in node.networks.values()
            if n is not existing
            for b in (n.config.bridge, n.current.bridge)
            if b is not None and b.name
        }
        if new.bridge is not None and new.bridge.name:
            if new.bridge.name in used_names:
                raise _net_failed(f"bridge name '{new.bridge.name}' already in use.")
            return new
        if existing is not None and existing.config.bridge is not None:
            keep = existing.config.bridge.name
            if keep and keep not in used_names:
                return attrs.evolve(new, bridge=attrs.evolve(new.bridge or Bridge(), name=keep))
        n = 0
        while f"virbr{n}" in used_names:
            n += 1
        bridge = attrs.evolve(new.bridge or Bridge(stp=True, delay=0), name=f"virbr{n}")
        return attrs.evolve(new, bridge=bridge)

    def _net_summary(self, net: TestNetwork) -> NetworkSummary:
        bridge = net.current.bridge
        return NetworkSummary(
            net.ref, net.active, net.persistent, net.autostart,
            bridge.name or "" if bridge is not None else "",
        )

    # -- networks: listing and lookup ---------------------------------------------------------

    @hookimpl
    def virtkit_network_list(self) -> list[NetworkSummary]:
        node = self._node
        with node.lock:
            return [self._net_summary(n) for n in node.networks.values()]

    @hookimpl
    def virtkit_network_get_summary(self, net: NetworkRef) -> NetworkSummary:
        with self._node.lock:
            return self._net_summary(self._net(net))

    @hookimpl
    def virtkit_network_lookup_by_name(self, name: str) -> NetworkRef:
        node = self._node
        with node.lock:
            net = node.networks.get(name)
            if net is None:
                raise no_network(name)
            return net.ref

    @hookimpl
    def virtkit_network_lookup_by_uuid(self, uuid: str) -> NetworkRef:
        node = self._node
        with node.lock:
            for net in node.networks.values():
                if net.uuid == uuid:
                    return net.ref
            raise no_network(uuid=uuid)

    # -- networks: definition and lifecycle ---------------------------------------------------

    @hookimpl
    def virtkit_network_define_xml(self, xml: str) -> NetworkRef:
        new = self._parse_network(xml)
        node = self._node
        with node.lock:
            existing = self._place_network(new)
            new = self._with_bridge(new, existing)
            if existing is None:
                net = TestNetwork(new)
                node.networks[new.name] = net
            else:
                net = existing
                net.config = new
                net.persistent = True
            self._net_event(net, NetworkEventLifecycle.DEFINED)
            return net.ref

    @hookimpl
    def virtkit_network_create_xml(self, xml: str) -> NetworkRef:
        new = self._parse_network(xml)
        node = self._node
        with node.lock:
            existing = self._place_network(new)
            if existing is not None and existing.active:
                raise _net_invalid(f"network '{new.name}' is already active")
            new = self._with_bridge(new, existing)
            if existing is None:
                net = TestNetwork(new, persistent=False)
                node.networks[new.name] = net
            else:
                net = existing
            net.live = new
            net.started_at = int(time.time())
            self._net_event(net, NetworkEventLifecycle.STARTED)
            return net.ref

    @hookimpl
    def virtkit_network_create(self, net: NetworkRef) -> bool:
        node = self._node
        with node.lock:
            n = self._net(net)
            if n.active:
                raise _net_invalid(f"network '{n.name}' is already active")
            n.live = n.config
            n.started_at = int(time.time())
            self._net_event(n, NetworkEventLifecycle.STARTED)
            return True

    @hookimpl
    def virtkit_network_destroy(self, net: NetworkRef) -> bool:
        node = self._node
        with node.lock:
            n = self._net(net)
            if not n.active:
                raise _net_invalid(f"network '{n.name}' is not active")
            n.live = None
            n.ports.clear()  # ports live only while their network runs
            if not n.persistent:
                del node.networks[n.name]
            self._net_event(n, NetworkEventLifecycle.STOPPED)
            return True

    @hookimpl
    def virtkit_network_undefine(self, net: NetworkRef) -> bool:
        node = self._node
        with node.lock:
            n = self._net(net)
            if not n.persistent:
                raise _net_invalid(f"cannot undefine transient network '{n.name}'")
            n.autostart = False
            if n.active:
                n.persistent = False
                assert n.live is not None
                n.config = n.live
            else:
                del node.networks[n.name]
            self._net_event(n, NetworkEventLifecycle.UNDEFINED)
            return True

    # -- networks: information ----------------------------------------------------------------

    @hookimpl
    def virtkit_network_get_xml(self, net: NetworkRef, inactive: bool) -> str:
        node = self._node
        with node.lock:
            n = self._net(net)
            return (n.config if inactive else n.current).to_xml()

    @hookimpl
    def virtkit_network_get_autostart(self, net: NetworkRef) -> bool:
        node = self._node
        with node.lock:
            return self._net(net).autostart

    @hookimpl
    def virtkit_network_set_autostart(self, net: NetworkRef, autostart: bool) -> bool:
        node = self._node
        with node.lock:
            n = self._net(net)
            if not n.persistent:
                raise _net_invalid(f"cannot set autostart for transient network '{n.name}'")
            n.autostart = bool(autostart)
            return True

    @hookimpl
    def virtkit_network_get_dhcp_leases(
        self, net: NetworkRef, mac: str | None
    ) -> list[DhcpLease]:
        node = self._node
        with node.lock:
            n = self._net(net)
            if n.live is None:
                raise _net_invalid(f"network '{n.name}' is not active")
            live = n.live
            started = n.started_at
        want = mac.lower() if mac else None
        bridge = live.bridge.name or "" if live.bridge is not None else ""
        leases: list[DhcpLease] = []
        for ip in live.ips:
            if ip.dhcp is None:
                continue
            ipv6 = (ip.family or "ipv4") == "ipv6"
            prefix = _prefix(ip.address, ip.prefix, ip.netmask)
            for host in ip.dhcp.hosts:
                if host.ip is None:
                    continue
                host_mac = (host.mac or "").lower()
                if want is not None and host_mac != want:
                    continue
                leases.append(
                    DhcpLease(
                        iface=bridge,
                        expiry_time=started + LEASE_TIME,
                        mac=host_mac,
                        ip_type=1 if ipv6 else 0,
                        ipaddr=host.ip,
                        prefix=prefix,
                        hostname=host.name,
                        client_id=host.id,
                    )
                )
        return leases

    # -- host interfaces ----------------------------------------------------------------------

    def _iface(self, ref: InterfaceRef) -> TestInterface:
        iface = self._node.interfaces.get(ref.name)
        if iface is None:
            raise no_interface(ref.name)
        return iface

    @hookimpl
    def virtkit_interface_list(self) -> list[InterfaceSummary]:
        node = self._node
        with node.lock:
            return [InterfaceSummary(i.ref, i.active) for i in node.interfaces.values()]

    @hookimpl
    def virtkit_interface_get_summary(self, iface: InterfaceRef) -> InterfaceSummary:
        with self._node.lock:
            found = self._iface(iface)
            return InterfaceSummary(found.ref, found.active)

    @hookimpl
    def virtkit_interface_lookup_by_name(self, name: str) -> InterfaceRef:
        node = self._node
        with node.lock:
            iface = node.interfaces.get(name)
            if iface is None:
                raise no_interface(name)
            return iface.ref

    @hookimpl
    def virtkit_interface_lookup_by_mac(self, mac: str) -> InterfaceRef:
        want = mac.lower()
        node = self._node
        with node.lock:
            found = [i for i in node.interfaces.values() if i.mac and i.mac.lower() == want]
            if not found:
                raise no_interface(mac=mac)
            if len(found) > 1:
                raise VirtError(
                    ErrorCode.MULTIPLE_INTERFACES,
                    f"multiple matching interfaces found for MAC '{mac}': "
                    + ", ".join(sorted(i.name for i in found)),
                    ErrorDomain.INTERFACE,
                )
            return found[0].ref

    @hookimpl
    def virtkit_interface_define_xml(self, xml: str) -> InterfaceRef:
        new = HostInterface.from_xml(xml)
        assert new.name is not None  # check() refuses a nameless interface
        node = self._node
        with node.lock:
            mac = new.mac.address if new.mac is not None else ""
            for other in node.interfaces.values():
                if other.name != new.name and mac and other.mac == mac:
                    raise VirtError(
                        ErrorCode.OPERATION_FAILED,
                        f"interface '{other.name}' already has MAC address {mac}",
                        ErrorDomain.INTERFACE,
                    )
            iface = node.interfaces.get(new.name)
            if iface is None:
                iface = node.interfaces[new.name] = TestInterface(new)
            else:
                iface.config = new
            return iface.ref

    @hookimpl
    def virtkit_interface_create(self, iface: InterfaceRef) -> bool:
        node = self._node
        with node.lock:
            i = self._iface(iface)
            if i.active:
                raise _iface_invalid(f"interface '{i.name}' is already active")
            i.active = True
            return True

    @hookimpl
    def virtkit_interface_destroy(self, iface: InterfaceRef) -> bool:
        node = self._node
        with node.lock:
            i = self._iface(iface)
            if not i.active:
                raise _iface_invalid(f"interface '{i.name}' is not active")
            i.active = False
            return True

    @hookimpl
    def virtkit_interface_undefine(self, iface: InterfaceRef) -> bool:
        node = self._node
        with node.lock:
            i = self._iface(iface)
            if i.active:
                raise _iface_invalid(
                    f"interface '{i.name}' is active; bring it down before undefining it"
                )
            del node.interfaces[i.name]
            return True

    @hookimpl
    def virtkit_interface_get_xml(self, iface: InterfaceRef, inactive: bool) -> str:
        node = self._node
        with node.lock:
            return self._iface(iface).config.to_xml()
