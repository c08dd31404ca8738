"""Storage pool and volume documents (https://libvirt.org/formatstorage.html).

Sizes are kept in bytes; units follow libvirt (no unit: bytes).
"""

# Field helpers (attr, child, ...) build attrs fields; they are not shared mutable defaults.
# ruff: noqa: RUF009

from __future__ import annotations

import uuid as _uuid
from typing import Any

import attrs

from virtkit.sdk.checks import POOL_TYPES, check_volume_name
from virtkit.xml._model import (
    DEV,
    HOST,
    NAME,
    PATH,
    UINT,
    UUID,
    YESNO,
    Model,
    attr,
    child,
    child_text,
    children,
    unit,
)
from virtkit.xml.common import Permissions
from virtkit.xml.domain import _load
from virtkit.xml.parser import parse_document, xml_error
from virtkit.xml.units import SIZE_LIMIT

__all__ = [
    "BackingStore", "PoolSource", "PoolTarget", "SourceDevice", "SourceHost", "StoragePool",
    "StorageVolume", "VolumeTarget",
]



def _size(xml: str | None = None) -> Any:
    return unit(xml, default_scale=1, store_scale=1, out_unit="bytes", limit=SIZE_LIMIT)


@attrs.frozen(kw_only=True)
class SourceHost(Model):
    name: str = attr(conv=HOST, required=True)
    port: int | None = attr(conv=UINT)


@attrs.frozen(kw_only=True)
class SourceDevice(Model):
    path: str = attr(required=True)
    part_separator: bool | None = attr("part_separator", conv=YESNO)


@attrs.frozen(kw_only=True)
class PathValue(Model):
    path: str = attr(conv=PATH, required=True)


@attrs.frozen(kw_only=True)
class FormatType(Model):
    type: str = attr(required=True)


@attrs.frozen(kw_only=True)
class Initiator(Model):
    iqn: IqnName = child("IqnName", required=True)


@attrs.frozen(kw_only=True)
class IqnName(Model):
    name: str = attr(required=True)


@attrs.frozen(kw_only=True)
class Adapter(Model):
    type: str | None = attr(choices=("scsi_host", "fc_host"))
    name: str | None = attr()
    parent: str | None = attr()
    wwnn: str | None = attr()
    wwpn: str | None = attr()


@attrs.frozen(kw_only=True)
class PoolSource(Model):
    """``<source>``: hosts, devices, dir, adapter, name, format, initiator."""

    hosts: tuple[SourceHost, ...] = children(SourceHost, "host")
    devices: tuple[SourceDevice, ...] = children(SourceDevice, "device")
    dir: PathValue | None = child(PathValue, "dir")
    adapter: Adapter | None = child(Adapter)
    name: str | None = child_text()
    format: FormatType | None = child(FormatType)
    initiator: Initiator | None = child(Initiator)
    vendor: IqnName | None = child(IqnName)
    product: IqnName | None = child(IqnName)


@attrs.frozen(kw_only=True)
class PoolTarget(Model):
    path: str | None = child_text()
    permissions: Permissions | None = child(Permissions)


@attrs.frozen(kw_only=True)
class StoragePool(Model):
    """A ``<pool type='dir|fs|netfs|logical|disk|iscsi|...'>`` document."""

    TAG = "pool"
    WHAT = "storage pool"
    SCHEMA = "pool"

    type: str = attr(choices=POOL_TYPES, required=True)
    name: str = child_text(conv=NAME, required=True)
    uuid: str | None = child_text(conv=UUID)
    capacity: int | None = _size()
    allocation: int | None = _size()
    available: int | None = _size()
    source: PoolSource | None = child(PoolSource)
    target: PoolTarget | None = child(PoolTarget)

    @classmethod
    def from_xml(
        cls, text: str | bytes, *, validate: bool = False, strict: bool = False
    ) -> StoragePool:
        result: StoragePool = _load(cls, text, validate=validate, strict=strict)
        return result

    def check(self) -> None:
        from virtkit.xml.checks import check_pool

        check_pool(self)

    def with_defaults(self) -> StoragePool:
        """A copy with a uuid if none was given."""
        if self.uuid is None:
            return attrs.evolve(self, uuid=str(_uuid.uuid4()))
        return self


@attrs.frozen(kw_only=True)
class Timestamps(Model):
    atime: str | None = child_text()
    mtime: str | None = child_text()
    ctime: str | None = child_text()
    btime: str | None = child_text()


@attrs.frozen(kw_only=True)
class VolumeTarget(Model):
    path: str | None = child_text()
    format: FormatType | None = child(FormatType)
    permissions: Permissions | None = child(Permissions)
    timestamps: Timestamps | None = child(Timestamps)
    compat: str | None = child_text()


@attrs.frozen(kw_only=True)
class BackingStore(Model):
    path: str = child_text(required=True)
    format: FormatType | None = child(FormatType)
    permissions: Permissions | None = child(Permissions)


@attrs.frozen(kw_only=True)
class StorageVolume(Model):
    """A ``<volume>`` document; capacity and allocation in bytes."""

    TAG = "volume"
    WHAT = "storage volume"
    SCHEMA = "volume"

    type: str | None = attr(choices=("file", "block", "dir", "network", "netdir", "ploop"))
    name: str = child_text(conv=NAME, required=True)
    key: str | None = child_text()
    capacity: int | None = _size()
    allocation: int | None = _size()
    physical: int | None = _size()
    target: VolumeTarget | None = child(VolumeTarget)
    backing_store: BackingStore | None = child(BackingStore, "backingStore")

    @classmethod
    def from_xml(
        cls, text: str | bytes, *, validate: bool = False, strict: bool = False
    ) -> StorageVolume:
        result: StorageVolume = _load(cls, text, validate=validate, strict=strict)
        return result

    def check(self) -> None:
        from virtkit.xml.checks import check_volume

        check_volume(self)


_ = DEV


def volume_xml_name(xml: str | bytes) -> str:
    """The checked ``<name>`` of a ``<volume>`` document (XML_ERROR if unreadable or missing,
    INVALID_ARG if unsafe)."""
    root = parse_document(xml, "storage volume")
    if root.tag != "volume":
        raise xml_error(f"storage volume: expected root element <volume>, found <{root.tag}>")
    name = root.findtext("name")
    if name is None:
        raise xml_error("storage volume: missing <name> element")
    return check_volume_name(name.strip())
