"""The virtual network document (``<network>``, https://libvirt.org/formatnetwork.html)."""

# Field helpers (attr, child, ...) build attrs fields; they are not shared mutable defaults.
# ruff: noqa: RUF009

from __future__ import annotations

import uuid as _uuid

import attrs

from virtkit.xml._model import (
    DEV,
    HOST,
    IP,
    MAC,
    NAME,
    ONOFF,
    UINT,
    UUID,
    YESNO,
    Model,
    attr,
    child,
    child_text,
    child_texts,
    children,
    raw,
    text,
)
from virtkit.xml.common import MacAddress, Vlan
from virtkit.xml.domain import Mtu, _load

__all__ = [
    "Bridge", "Dhcp", "DhcpHost", "DhcpRange", "Dns", "DnsForwarder", "DnsHost", "DnsTxt",
    "Forward", "ForwardInterface", "Ip", "Nat", "NatRange", "Network", "Portgroup", "Route",
]

FORWARD_MODES = ("nat", "route", "open", "bridge", "private", "vepa", "passthrough", "hostdev")


@attrs.frozen(kw_only=True)
class NatRange(Model):
    start: str = attr(required=True)
    end: str = attr(required=True)


@attrs.frozen(kw_only=True)
class Nat(Model):
    ipv6: bool | None = attr(conv=YESNO)
    addresses: tuple[NatRange, ...] = children(NatRange, "address")
    ports: tuple[NatRange, ...] = children(NatRange, "port")


@attrs.frozen(kw_only=True)
class ForwardInterface(Model):
    dev: str = attr(conv=DEV, required=True)


@attrs.frozen(kw_only=True)
class Forward(Model):
    """``<forward mode='nat|route|open|bridge|...' dev='eth0'>``; no forward: isolated."""

    mode: str | None = attr(choices=FORWARD_MODES)
    dev: str | None = attr(conv=DEV)
    managed: bool | None = attr(conv=YESNO)
    nat: Nat | None = child(Nat)
    interfaces: tuple[ForwardInterface, ...] = children(ForwardInterface, "interface")


@attrs.frozen(kw_only=True)
class Bridge(Model):
    name: str | None = attr(conv=DEV)
    stp: bool | None = attr(conv=ONOFF)
    delay: int | None = attr(conv=UINT)
    mac_table_manager: str | None = attr("macTableManager", choices=("kernel", "libvirt"))
    zone: str | None = attr()


@attrs.frozen(kw_only=True)
class NetDomain(Model):
    name: str = attr(required=True)
    local_only: bool | None = attr("localOnly", conv=YESNO)


@attrs.frozen(kw_only=True)
class DnsForwarder(Model):
    addr: str | None = attr(conv=IP)
    domain: str | None = attr()


@attrs.frozen(kw_only=True)
class DnsTxt(Model):
    name: str = attr(required=True)
    value: str = attr(required=True)


@attrs.frozen(kw_only=True)
class DnsHost(Model):
    ip: str = attr(conv=IP, required=True)
    hostnames: tuple[str, ...] = child_texts("hostname", conv=HOST)


@attrs.frozen(kw_only=True)
class DnsSrv(Model):
    service: str = attr(required=True)
    protocol: str = attr(choices=("tcp", "udp"), required=True)
    domain: str | None = attr()
    target: str | None = attr()
    port: int | None = attr(conv=UINT)
    priority: int | None = attr(conv=UINT)
    weight: int | None = attr(conv=UINT)


@attrs.frozen(kw_only=True)
class Dns(Model):
    enable: bool | None = attr(conv=YESNO)
    forward_plain_names: bool | None = attr("forwardPlainNames", conv=YESNO)
    forwarders: tuple[DnsForwarder, ...] = children(DnsForwarder, "forwarder")
    txts: tuple[DnsTxt, ...] = children(DnsTxt, "txt")
    srvs: tuple[DnsSrv, ...] = children(DnsSrv, "srv")
    hosts: tuple[DnsHost, ...] = children(DnsHost, "host")


@attrs.frozen(kw_only=True)
class DhcpRange(Model):
    start: str = attr(conv=IP, required=True)
    end: str = attr(conv=IP, required=True)


@attrs.frozen(kw_only=True)
class DhcpHost(Model):
    mac: str | None = attr(conv=MAC)
    id: str | None = attr()
    name: str | None = attr(conv=HOST)
    ip: str | None = attr(conv=IP)


@attrs.frozen(kw_only=True)
class Bootp(Model):
    file: str = attr(required=True)
    server: str | None = attr(conv=HOST)


@attrs.frozen(kw_only=True)
class Dhcp(Model):
    ranges: tuple[DhcpRange, ...] = children(DhcpRange, "range")
    hosts: tuple[DhcpHost, ...] = children(DhcpHost, "host")
    bootp: Bootp | None = child(Bootp)


@attrs.frozen(kw_only=True)
class Tftp(Model):
    root: str = attr(required=True)


@attrs.frozen(kw_only=True)
class Ip(Model):
    """``<ip address='192.168.122.1' netmask='255.255.255.0'>`` with DHCP ranges and hosts."""

    family: str | None = attr(choices=("ipv4", "ipv6"))
    address: str = attr(conv=IP, required=True)
    netmask: str | None = attr(conv=IP)
    prefix: int | None = attr(conv=UINT)
    local_ptr: bool | None = attr("localPtr", conv=YESNO)
    tftp: Tftp | None = child(Tftp)
    dhcp: Dhcp | None = child(Dhcp)


@attrs.frozen(kw_only=True)
class Route(Model):
    family: str | None = attr(choices=("ipv4", "ipv6"))
    address: str = attr(conv=IP, required=True)
    prefix: int | None = attr(conv=UINT)
    netmask: str | None = attr(conv=IP)
    gateway: str = attr(conv=IP, required=True)
    metric: int | None = attr(conv=UINT)


@attrs.frozen(kw_only=True)
class Portgroup(Model):
    name: str = attr(required=True)
    default: bool | None = attr(conv=YESNO)
    trust_guest_rx_filters: bool | None = attr("trustGuestRxFilters", conv=YESNO)
    vlan: Vlan | None = child(Vlan)


@attrs.frozen(kw_only=True)
class Network(Model):
    """A ``<network>`` document."""

    TAG = "network"
    WHAT = "network"

    connections: int | None = attr(conv=UINT)
    ipv6: bool | None = attr(conv=YESNO)
    trust_guest_rx_filters: bool | None = attr("trustGuestRxFilters", conv=YESNO)
    name: str = child_text(conv=NAME, required=True)
    uuid: str | None = child_text(conv=UUID)
    title: str | None = child_text()
    description: str | None = child_text()
    metadata: tuple[str, ...] = raw()
    forward: Forward | None = child(Forward)
    bridge: Bridge | None = child(Bridge)
    mtu: Mtu | None = child(Mtu)
    mac: MacAddress | None = child(MacAddress)
    domain: NetDomain | None = child(NetDomain)
    dns: Dns | None = child(Dns)
    vlan: Vlan | None = child(Vlan)
    portgroups: tuple[Portgroup, ...] = children(Portgroup, "portgroup")
    ips: tuple[Ip, ...] = children(Ip, "ip")
    routes: tuple[Route, ...] = children(Route, "route")

    @classmethod
    def from_xml(
        cls, text: str | bytes, *, validate: bool = False, strict: bool = False
    ) -> Network:
        """Parse and check a network document (see ``Domain.from_xml``)."""
        result: Network = _load(cls, text, validate=validate, strict=strict)
        return result

    def check(self) -> None:
        from virtkit.xml.checks import check_network

        check_network(self)

    def with_defaults(self) -> Network:
        """A copy with a uuid if none was given."""
        if self.uuid is None:
            return attrs.evolve(self, uuid=str(_uuid.uuid4()))
        return self

    @property
    def forward_mode(self) -> str:
        """The forward mode, ``isolated`` when there is no ``<forward>``."""
        if self.forward is None:
            return "isolated"
        return self.forward.mode or "nat"


_ = text
