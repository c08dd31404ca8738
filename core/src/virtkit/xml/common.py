"""Small models shared by several documents: device addresses, aliases, boot order, permissions,
VLANs and MAC addresses."""

# Field helpers (attr, child, ...) build attrs fields; they are not shared mutable defaults.

from __future__ import annotations

import attrs

from virtkit.xml._model import (
    HEX,
    INT,
    MAC,
    ONOFF,
    UINT,
    YESNO,
    Model,
    attr,
    child_text,
    children,
)

__all__ = ["Address", "Alias", "Boot", "MacAddress", "Permissions", "State", "Vlan", "VlanTag"]

ADDRESS_TYPES = (
    "pci", "drive", "virtio-serial", "ccid", "usb", "spapr-vio", "ccw", "virtio-mmio", "isa",
    "dimm", "unassigned",
)


@attrs.frozen(kw_only=True)
class Address(Model):
    """``<address>`` of a device on its bus; numbers are kept as written (``0x0000``)."""

    type: str | None = attr(choices=ADDRESS_TYPES)
    domain: str | None = attr(conv=HEX)
    bus: str | None = attr(conv=HEX)
    slot: str | None = attr(conv=HEX)
    function: str | None = attr(conv=HEX)
    multifunction: bool | None = attr(conv=ONOFF)
    controller: str | None = attr(conv=HEX)
    target: str | None = attr(conv=HEX)
    unit: str | None = attr(conv=HEX)
    port: str | None = attr(conv=HEX)
    reg: str | None = attr(conv=HEX)
    cssid: str | None = attr(conv=HEX)
    ssid: str | None = attr(conv=HEX)
    devno: str | None = attr(conv=HEX)
    iobase: str | None = attr(conv=HEX)
    irq: str | None = attr(conv=HEX)


@attrs.frozen(kw_only=True)
class Alias(Model):
    name: str = attr(required=True)


@attrs.frozen(kw_only=True)
class Boot(Model):
    """Per-device ``<boot order='N'/>``."""

    order: int = attr(conv=UINT, required=True)
    loadparm: str | None = attr()


@attrs.frozen(kw_only=True)
class MacAddress(Model):
    address: str = attr(conv=MAC, required=True)


@attrs.frozen(kw_only=True)
class State(Model):
    """A feature switch written ``<hap state='on'/>`` (the state may be omitted: on)."""

    state: bool | None = attr(conv=ONOFF)


@attrs.frozen(kw_only=True)
class Permissions(Model):
    """``<permissions>`` of a storage pool target or volume: octal mode as written, owner and
    group ids, security label."""

    mode: str | None = child_text()
    owner: int | None = child_text(conv=INT)
    group: int | None = child_text(conv=INT)
    label: str | None = child_text()


@attrs.frozen(kw_only=True)
class VlanTag(Model):
    id: int = attr(conv=UINT, required=True)
    native_mode: str | None = attr("nativeMode", choices=("tagged", "untagged"))


@attrs.frozen(kw_only=True)
class Vlan(Model):
    """``<vlan trunk='yes'><tag id='42'/></vlan>``."""

    trunk: bool | None = attr(conv=YESNO)
    tags: tuple[VlanTag, ...] = children(VlanTag, "tag")


