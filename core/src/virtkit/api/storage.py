"""The :class:`StoragePool` and :class:`StorageVolume` handles.

Both are thin: an identity record plus typed calls to the connection's driver. Volume names are
checked here, before any driver sees them (no ``/``, no ``..``, no control characters), and again
by the drivers that store files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from virtkit.api.handle import Handle
from virtkit.sdk import checks as args
from virtkit.sdk.checks import WIPE_ALGORITHMS, check_volume_name
from virtkit.sdk.errors import invalid_arg
from virtkit.sdk.records import PoolInfo, PoolRef, PoolSummary, VolumeInfo, VolumeRef
from virtkit.sdk.states import PoolEventLifecycle, PoolState

if TYPE_CHECKING:
    from virtkit.api.stream import Stream

__all__ = [
    "WIPE_ALGORITHMS",
    "PoolEventLifecycle",
    "PoolState",
    "StoragePool",
    "StorageVolume",
    "check_volume_name",
]

def _checked_volume_name(xml: str) -> str:
    """The safe ``<name>`` of a volume document (the XML models are imported only here, so
    that commands that never create a volume do not pay for them)."""
    from virtkit.xml.storage import volume_xml_name

    return volume_xml_name(xml)


def _size(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise invalid_arg(f"{what} {value!r} must be a non-negative integer")
    return value


class StoragePool(Handle[PoolRef]):
    """A storage pool on one connection; ``name`` and ``uuid`` are fixed."""

    __slots__ = ()
    ARG = "pool"

    @property
    def uuid(self) -> str:
        return self._ref.uuid

    # -- lifecycle ----------------------------------------------------------------------------

    def build(self, overwrite: bool = False, no_overwrite: bool = False) -> None:
        """Build the pool's storage (virsh pool-build)."""
        if overwrite and no_overwrite:
            raise invalid_arg("overwrite and no_overwrite cannot both be given")
        self._conn.hooks.pool_build(pool=self._ref, overwrite=overwrite, no_overwrite=no_overwrite)

    def create(self) -> None:
        """Start the pool (virsh pool-start)."""
        self._conn.hooks.pool_create(pool=self._ref)

    def destroy(self) -> None:
        """Stop the pool; its data stays (virsh pool-destroy)."""
        self._conn.hooks.pool_destroy(pool=self._ref)

    def delete(self) -> None:
        """Delete an inactive pool's storage (virsh pool-delete)."""
        self._conn.hooks.pool_delete(pool=self._ref)

    def undefine(self) -> None:
        self._conn.hooks.pool_undefine(pool=self._ref)

    def refresh(self) -> None:
        self._conn.hooks.pool_refresh(pool=self._ref)

    # -- information --------------------------------------------------------------------------

    def _summary(self) -> PoolSummary:
        return self._conn.hooks.pool_get_summary(pool=self._ref)

    def info(self) -> PoolInfo:
        """State (:class:`PoolState`), capacity, allocation and available bytes."""
        return self._conn.hooks.pool_get_info(pool=self._ref)

    def xml_desc(self, inactive: bool = False) -> str:
        return self._conn.hooks.pool_get_xml(pool=self._ref, inactive=inactive)

    def is_active(self) -> bool:
        return self._summary().active

    def is_persistent(self) -> bool:
        return self._summary().persistent

    @property
    def autostart(self) -> bool:
        return self._conn.hooks.pool_get_autostart(pool=self._ref)

    def set_autostart(self, autostart: bool) -> None:
        self._conn.hooks.pool_set_autostart(pool=self._ref, autostart=bool(autostart))

    # -- volumes ------------------------------------------------------------------------------

    def _volume(self, ref: VolumeRef) -> StorageVolume:
        return StorageVolume(self._conn, ref)

    def list_volumes(self) -> list[StorageVolume]:
        """The pool's volumes, by name (the pool must be active)."""
        refs: list[VolumeRef] = self._conn.hooks.vol_list(pool=self._ref)
        return [self._volume(r) for r in sorted(refs, key=lambda r: r.name)]

    def list_all_volumes(self) -> list[StorageVolume]:
        """The same as :meth:`list_volumes` (libvirt's listAllVolumes)."""
        return self.list_volumes()

    def list_volume_names(self) -> list[str]:
        """The volumes' names (libvirt's listVolumes)."""
        return [v.name for v in self.list_volumes()]

    def storage_vol_lookup_by_name(self, name: str) -> StorageVolume:
        if not isinstance(name, str) or not name:
            raise invalid_arg("a storage volume name must be a non-empty string")
        return self._volume(self._conn.hooks.vol_lookup_by_name(pool=self._ref, name=name))

    def create_xml(self, xml: str) -> StorageVolume:
        """Create a volume from ``<volume>`` XML (virsh vol-create)."""
        text = args.xml_text(xml)
        _checked_volume_name(text)
        return self._volume(self._conn.hooks.vol_create_xml(pool=self._ref, xml=text))

    def create_xml_from(self, xml: str, source_vol: StorageVolume) -> StorageVolume:
        """Create a volume from ``xml`` holding a copy of ``source_vol``'s data (vol-clone)."""
        if not isinstance(source_vol, StorageVolume):
            raise invalid_arg("the source of a clone must be a StorageVolume")
        text = args.xml_text(xml)
        _checked_volume_name(text)
        return self._volume(
            self._conn.hooks.vol_clone(pool=self._ref, xml=text, source=source_vol.ref)
        )


class StorageVolume(Handle[VolumeRef]):
    """A volume in a pool; ``name``, ``key``, ``path`` and ``pool_name`` are fixed."""

    __slots__ = ()
    ARG = "vol"

    @property
    def key(self) -> str:
        return self._ref.key

    @property
    def path(self) -> str:
        return self._ref.path

    @property
    def pool_name(self) -> str:
        return self._ref.pool

    def __repr__(self) -> str:
        return f"<virtkit.StorageVolume {self._ref.pool!r}/{self._ref.name!r}>"

    def storage_pool_lookup_by_volume(self) -> StoragePool:
        ref: PoolRef = self._conn.hooks.pool_lookup_by_name(name=self._ref.pool)
        return StoragePool(self._conn, ref)

    # -- information --------------------------------------------------------------------------

    def info(self) -> VolumeInfo:
        return self._conn.hooks.vol_get_info(vol=self._ref)

    def xml_desc(self) -> str:
        return self._conn.hooks.vol_get_xml(vol=self._ref)

    # -- changes ------------------------------------------------------------------------------

    def delete(self) -> None:
        self._conn.hooks.vol_delete(vol=self._ref)

    def wipe(self, algorithm: str = "zero") -> None:
        if algorithm not in WIPE_ALGORITHMS:
            raise invalid_arg(
                f"unknown wipe algorithm '{algorithm}' (known: {', '.join(WIPE_ALGORITHMS)})"
            )
        self._conn.hooks.vol_wipe(vol=self._ref, algorithm=algorithm)

    def resize(
        self, capacity: int, allocate: bool = False, delta: bool = False, shrink: bool = False
    ) -> None:
        """Set the capacity to ``capacity`` bytes, as libvirt's virStorageVolResize.

        ``delta``: add ``capacity`` to the current one (with ``shrink``: subtract it). Making the
        volume smaller needs ``shrink``. ``allocate`` allocates the whole new capacity.
        """
        _size(capacity, f"capacity of volume '{self.name}'")
        self._conn.hooks.vol_resize(
            vol=self._ref, capacity=capacity, allocate=allocate, delta=delta, shrink=shrink
        )

    def upload(self, offset: int = 0, length: int = 0) -> Stream:
        """A stream writing into the volume from ``offset`` (``length`` 0: up to the end)."""
        from virtkit.api.stream import Stream

        sid = self._conn.hooks.vol_upload(
            vol=self._ref, offset=_size(offset, "offset"), length=_size(length, "length")
        )
        return Stream(self._conn, sid, "upload")

    def download(self, offset: int = 0, length: int = 0) -> Stream:
        """A stream reading the volume from ``offset`` (``length`` 0: up to the end)."""
        from virtkit.api.stream import Stream

        sid = self._conn.hooks.vol_download(
            vol=self._ref, offset=_size(offset, "offset"), length=_size(length, "length")
        )
        return Stream(self._conn, sid, "download")
