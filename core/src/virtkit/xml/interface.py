"""The host interface document (``<interface>`` of the interface driver,
https://libvirt.org/formatnode.html's sibling, libvirt's interface.rng)."""

# Field helpers (attr, child, ...) build attrs fields; they are not shared mutable defaults.
# ruff: noqa: RUF009

from __future__ import annotations

import attrs

from virtkit.xml._model import (
    DEV,
    IP,
    ONOFF,
    UINT,
    YESNO,
    Model,
    attr,
    child,
    children,
    flag,
)
from virtkit.xml.common import MacAddress
from virtkit.xml.domain import Mtu, _load
from virtkit.xml.parser import xml_error

__all__ = ["HostBond", "HostBridge", "HostInterface", "HostIp", "HostProtocol", "HostVlan"]


@attrs.frozen(kw_only=True)
class StartMode(Model):
    mode: str = attr(choices=("onboot", "none", "hotplug"), required=True)


@attrs.frozen(kw_only=True)
class HostIp(Model):
    address: str = attr(conv=IP, required=True)
    prefix: int | None = attr(conv=UINT)


@attrs.frozen(kw_only=True)
class Gateway(Model):
    gateway: str = attr(conv=IP, required=True)


@attrs.frozen(kw_only=True)
class HostDhcp(Model):
    peerdns: bool | None = attr(conv=YESNO)


@attrs.frozen(kw_only=True)
class HostProtocol(Model):
    family: str = attr(choices=("ipv4", "ipv6"), required=True)
    autoconf: bool = flag()
    dhcp: HostDhcp | None = child(HostDhcp)
    ips: tuple[HostIp, ...] = children(HostIp, "ip")
    route: Gateway | None = child(Gateway)


@attrs.frozen(kw_only=True)
class Link(Model):
    speed: int | None = attr(conv=UINT)
    state: str | None = attr(
        choices=("unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up")
    )


@attrs.frozen(kw_only=True)
class HostBridge(Model):
    stp: bool | None = attr(conv=ONOFF)
    delay: str | None = attr()
    interfaces: tuple[HostInterface, ...] = children("HostInterface", "interface")


@attrs.frozen(kw_only=True)
class MiiMon(Model):
    freq: int = attr(conv=UINT, required=True)
    downdelay: int | None = attr(conv=UINT)
    updelay: int | None = attr(conv=UINT)
    carrier: str | None = attr(choices=("ioctl", "netif"))


@attrs.frozen(kw_only=True)
class HostBond(Model):
    mode: str | None = attr(
        choices=("balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad",
                 "balance-tlb", "balance-alb")
    )
    miimon: MiiMon | None = child(MiiMon)
    interfaces: tuple[HostInterface, ...] = children("HostInterface", "interface")


@attrs.frozen(kw_only=True)
class HostVlan(Model):
    tag: int = attr(conv=UINT, required=True)
    interface: HostInterface | None = child("HostInterface")


@attrs.frozen(kw_only=True)
class HostInterface(Model):
    """A host ``<interface type='ethernet|bridge|bond|vlan' name='eth0'>`` document."""

    TAG = "interface"
    WHAT = "interface"

    type: str | None = attr(choices=("ethernet", "bridge", "bond", "vlan"))
    name: str | None = attr(conv=DEV)
    start: StartMode | None = child(StartMode)
    mac: MacAddress | None = child(MacAddress)
    mtu: Mtu | None = child(Mtu)
    link: Link | None = child(Link)
    protocols: tuple[HostProtocol, ...] = children(HostProtocol, "protocol")
    bridge: HostBridge | None = child(HostBridge)
    bond: HostBond | None = child(HostBond)
    vlan: HostVlan | None = child(HostVlan)

    @classmethod
    def from_xml(
        cls, text: str | bytes, *, validate: bool = False, strict: bool = False
    ) -> HostInterface:
        result: HostInterface = _load(cls, text, validate=validate, strict=strict)
        return result

    def check(self) -> None:
        from virtkit.xml.checks import check_interface

        if self.type is None or self.name is None:
            raise xml_error("interface: <interface>: the type and name attributes are required")
        check_interface(self)
