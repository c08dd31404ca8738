"""Storage pools and volumes of the test driver, all in memory.

A pool's capacity comes from its XML (100 GiB when it gives none); its allocation is the sum of
its volumes' allocations, and a volume is created, cloned or grown only when that fits. A volume
is an in-memory byte buffer that reads as zeros where nothing was written; no file is ever made.
Volume names are checked (no ``/``, no ``..``) before anything is parsed or stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from virtkit.drivers.test.node import TestPool, TestVolume
from virtkit.drivers.test.streams import SparseVolumeStream, open_stream
from virtkit.sdk.checks import POOL_TYPES, WIPE_ALGORITHMS
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError, no_pool, no_vol
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import (
    Event,
    PoolInfo,
    PoolRef,
    PoolSummary,
    VolumeInfo,
    VolumeRef,
    VolumeSource,
)
from virtkit.sdk.states import PoolEventLifecycle, PoolState
from virtkit.xml.poolcaps import (
    FILE_VOLUME_FORMATS,
    SOURCE_FORMATS,
    PoolTypeCaps,
    capabilities_xml,
    parse_source_spec,
    sources_xml,
)
from virtkit.xml.storage import (
    FormatType,
    PathValue,
    PoolSource,
    SourceDevice,
    SourceHost,
    StoragePool,
    StorageVolume,
    VolumeTarget,
    volume_xml_name,
)
from virtkit.xml.units import SIZE_LIMIT

if TYPE_CHECKING:
    from virtkit.drivers.test.node import TestNode


def _invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, message, ErrorDomain.STORAGE)


def _failed(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_FAILED, message, ErrorDomain.STORAGE)


def _arg(message: str) -> VirtError:
    return VirtError(ErrorCode.INVALID_ARG, f"invalid argument: {message}", ErrorDomain.STORAGE)


def _not_active(pool: TestPool) -> VirtError:
    return _invalid(f"storage pool '{pool.name}' is not active")


def _target_of(model: StoragePool) -> str:
    path = model.target.path if model.target is not None and model.target.path else None
    return (path or f"/{model.name}").rstrip("/") or "/"


class StorageMixin:
    """Pool and volume hooks of :class:`~virtkit.drivers.test.driver.TestDriver`."""

    if TYPE_CHECKING:

        @property
        def _node(self) -> TestNode: ...

    # -- helpers (the caller holds the node's lock) -------------------------------------------

    def _pool(self, ref: PoolRef) -> TestPool:
        pool = self._node.pools.get(ref.name)
        if pool is None or pool.uuid != ref.uuid:
            raise no_pool(ref.name)
        return pool

    def _active_pool(self, ref: PoolRef) -> TestPool:
        pool = self._pool(ref)
        if not pool.active:
            raise _not_active(pool)
        return pool

    def _vol(self, ref: VolumeRef) -> tuple[TestPool, TestVolume]:
        pool = self._node.pools.get(ref.pool)
        if pool is None:
            raise no_pool(ref.pool)
        if not pool.active:
            raise _not_active(pool)
        vol = pool.volumes.get(ref.name)
        if vol is None:
            raise no_vol("name", ref.name)
        return pool, vol

    @staticmethod
    def _vol_ref(pool: TestPool, vol: TestVolume) -> VolumeRef:
        path = pool.vol_path(vol.name)
        return VolumeRef(pool.name, vol.name, path, path)

    def _pool_event(self, pool: TestPool, event: PoolEventLifecycle) -> None:
        self._node.emit(Event("pool-lifecycle", pool.ref, int(event), 0))

    def _place_pool(self, new: StoragePool) -> TestPool | None:
        """The pool ``new`` redefines, or None; refuses clashes of name, uuid and target."""
        node = self._node
        existing = node.pools.get(new.name)
        target = _target_of(new)
        for other in node.pools.values():
            if other.name == new.name:
                continue
            if other.uuid == new.uuid:
                raise _failed(f"storage pool '{other.name}' is already defined with uuid "
                              f"{new.uuid}")
            if target in (_target_of(other.config), other.target):
                raise _failed(
                    f"storage pool '{other.name}' already uses target path '{target}'"
                )
        if existing is not None and existing.uuid != new.uuid:
            raise _failed(f"storage pool '{new.name}' already exists with uuid {existing.uuid}")
        return existing

    def _new_volume(
        self, pool: TestPool, model: StorageVolume, min_capacity: int = 0
    ) -> TestVolume:
        """A volume for ``model`` that fits ``pool``'s free space (not yet added)."""
        if model.name in pool.volumes:
            raise VirtError(
                ErrorCode.STORAGE_VOL_EXIST,
                f"storage volume '{model.name}' exists already in storage pool '{pool.name}'",
                ErrorDomain.STORAGE,
            )
        capacity = max(model.capacity or 0, min_capacity)
        allocation = capacity if model.allocation is None else min(model.allocation, capacity)
        if allocation > pool.available:
            raise _failed(
                f"not enough free space in storage pool '{pool.name}' for volume "
                f"'{model.name}': it needs {allocation} bytes, {pool.available} are available"
            )
        target = model.target
        fmt = target.format.type if target is not None and target.format is not None else "raw"
        return TestVolume(model, capacity, allocation, fmt)

    def _vol_model(self, pool: TestPool, vol: TestVolume) -> StorageVolume:
        path = pool.vol_path(vol.name)
        old = vol.config.target
        target = VolumeTarget(
            path=path,
            format=FormatType(type=vol.format),
            permissions=old.permissions if old is not None else None,
        )
        return attrs.evolve(
            vol.config, type="file", key=path, capacity=vol.capacity,
            allocation=vol.allocation, physical=None, target=target,
        )

    # -- pools: listing and lookup ------------------------------------------------------------

    @hookimpl
    def virtkit_pool_list(self) -> list[PoolSummary]:
        node = self._node
        with node.lock:
            return [
                PoolSummary(p.ref, p.active, p.persistent, p.autostart)
                for p in node.pools.values()
            ]

    @hookimpl
    def virtkit_pool_get_summary(self, pool: PoolRef) -> PoolSummary:
        with self._node.lock:
            p = self._pool(pool)
            return PoolSummary(p.ref, p.active, p.persistent, p.autostart)

    @hookimpl
    def virtkit_pool_lookup_by_name(self, name: str) -> PoolRef:
        node = self._node
        with node.lock:
            pool = node.pools.get(name)
            if pool is None:
                raise no_pool(name)
            return pool.ref

    @hookimpl
    def virtkit_pool_lookup_by_uuid(self, uuid: str) -> PoolRef:
        node = self._node
        with node.lock:
            for pool in node.pools.values():
                if pool.uuid == uuid:
                    return pool.ref
            raise no_pool(uuid=uuid)

    # -- pools: definition and lifecycle ------------------------------------------------------

    @hookimpl
    def virtkit_pool_define_xml(self, xml: str) -> PoolRef:
        new = StoragePool.from_xml(xml).with_defaults()
        node = self._node
        with node.lock:
            pool = self._place_pool(new)
            if pool is None:
                pool = node.pools[new.name] = TestPool(new)
            else:
                pool.config = new
                pool.persistent = True
            self._pool_event(pool, PoolEventLifecycle.DEFINED)
            return pool.ref

    @hookimpl
    def virtkit_pool_create_xml(self, xml: str, build: bool) -> PoolRef:
        new = StoragePool.from_xml(xml).with_defaults()
        node = self._node
        with node.lock:
            pool = self._place_pool(new)
            if pool is not None and pool.active:
                raise _invalid(f"storage pool '{pool.name}' is already active")
            if pool is not None and not pool.built and not build:
                raise self._unbuilt(pool)
            if pool is None:
                pool = node.pools[new.name] = TestPool(new, persistent=False)
            if build:
                pool.built = True
            pool.live = new
            self._pool_event(pool, PoolEventLifecycle.STARTED)
            return pool.ref

    @staticmethod
    def _unbuilt(pool: TestPool) -> VirtError:
        return _failed(
            f"cannot start storage pool '{pool.name}': its storage at '{pool.target}' does not "
            f"exist (build the pool first)"
        )

    @hookimpl
    def virtkit_pool_build(self, pool: PoolRef, overwrite: bool, no_overwrite: bool) -> bool:
        node = self._node
        with node.lock:
            p = self._pool(pool)
            if p.active:
                raise _invalid(f"storage pool '{p.name}' is active; stop it before building it")
            if p.built and no_overwrite:
                raise VirtError(
                    ErrorCode.STORAGE_POOL_BUILT,
                    f"storage pool '{p.name}' is already built at '{p.target}'",
                    ErrorDomain.STORAGE,
                )
            if overwrite:
                p.volumes.clear()
            p.built = True
            self._pool_event(p, PoolEventLifecycle.CREATED)
            return True

    @hookimpl
    def virtkit_pool_create(self, pool: PoolRef) -> bool:
        node = self._node
        with node.lock:
            p = self._pool(pool)
            if p.active:
                raise _invalid(f"storage pool '{p.name}' is already active")
            if not p.built:
                raise self._unbuilt(p)
            p.live = p.config
            self._pool_event(p, PoolEventLifecycle.STARTED)
            return True

    @hookimpl
    def virtkit_pool_destroy(self, pool: PoolRef) -> bool:
        node = self._node
        with node.lock:
            p = self._pool(pool)
            if not p.active:
                raise _not_active(p)
            p.live = None
            if not p.persistent:
                del node.pools[p.name]
            self._pool_event(p, PoolEventLifecycle.STOPPED)
            return True

    @hookimpl
    def virtkit_pool_delete(self, pool: PoolRef) -> bool:
        node = self._node
        with node.lock:
            p = self._pool(pool)
            if p.active:
                raise _invalid(f"storage pool '{p.name}' is still active")
            p.volumes.clear()
            p.built = False
            self._pool_event(p, PoolEventLifecycle.DELETED)
            return True

    @hookimpl
    def virtkit_pool_undefine(self, pool: PoolRef) -> bool:
        node = self._node
        with node.lock:
            p = self._pool(pool)
            if p.active:
                raise _invalid(f"storage pool '{p.name}' is still active")
            if not p.persistent:
                raise _invalid(f"cannot undefine transient storage pool '{p.name}'")
            del node.pools[p.name]
            self._pool_event(p, PoolEventLifecycle.UNDEFINED)
            return True

    @hookimpl
    def virtkit_pool_refresh(self, pool: PoolRef) -> bool:
        node = self._node
        with node.lock:
            p = self._active_pool(pool)  # in memory the volume list is always current
            node.emit(Event("pool-refresh", p.ref))
            return True

    # -- pools: discovery and capabilities ----------------------------------------------------

    @hookimpl
    def virtkit_pool_find_sources(self, pool_type: str, spec: str | None) -> str:
        """libvirt's test driver's answers: two volume groups for ``logical``, the asked host's
        ``/testshare`` for ``netfs``; no other type discovers sources."""
        wanted = parse_source_spec(spec)
        if pool_type == "logical":
            return sources_xml(
                PoolSource(devices=(SourceDevice(path=f"/dev/sda{20 + i}"),),
                           name=f"testvg{1 + i}", format=FormatType(type="lvm2"))
                for i in range(2))
        if pool_type == "netfs":
            if wanted is None or not wanted.hosts:
                raise _arg("hostname must be specified for netfs sources")
            return sources_xml([PoolSource(hosts=(SourceHost(name=wanted.hosts[0].name),),
                                           dir=PathValue(path="/testshare"),
                                           format=FormatType(type="nfs"))])
        raise VirtError(ErrorCode.NO_SUPPORT,
                        f"this function is not supported by the connection driver: pool type "
                        f"'{pool_type}' does not support source discovery", ErrorDomain.STORAGE)

    @hookimpl
    def virtkit_pool_get_capabilities(self) -> str:
        """Every pool type is kept in memory, so every one is supported; file-backed types
        list the file volume formats, the others raw volumes."""
        files = ("dir", "fs", "netfs", "gluster", "vstorage")
        return capabilities_xml(
            PoolTypeCaps(t, True, SOURCE_FORMATS.get(t, ()),
                         FILE_VOLUME_FORMATS if t in files else ("raw",))
            for t in POOL_TYPES)

    # -- pools: information -------------------------------------------------------------------

    @hookimpl
    def virtkit_pool_get_info(self, pool: PoolRef) -> PoolInfo:
        node = self._node
        with node.lock:
            p = self._pool(pool)
            state = PoolState.RUNNING if p.active else PoolState.INACTIVE
            return PoolInfo(int(state), p.capacity, p.allocation, p.available)

    @hookimpl
    def virtkit_pool_get_xml(self, pool: PoolRef, inactive: bool) -> str:
        node = self._node
        with node.lock:
            p = self._pool(pool)
            model = p.config if inactive else p.current
            capacity = p.capacity_of(model)
            allocation = p.allocation
            return attrs.evolve(
                model, capacity=capacity, allocation=allocation,
                available=max(capacity - allocation, 0),
            ).to_xml()

    @hookimpl
    def virtkit_pool_get_autostart(self, pool: PoolRef) -> bool:
        node = self._node
        with node.lock:
            return self._pool(pool).autostart

    @hookimpl
    def virtkit_pool_set_autostart(self, pool: PoolRef, autostart: bool) -> bool:
        node = self._node
        with node.lock:
            p = self._pool(pool)
            if not p.persistent:
                raise _invalid(f"cannot set autostart for transient storage pool '{p.name}'")
            p.autostart = bool(autostart)
            return True

    # -- volumes: listing and lookup ----------------------------------------------------------

    @hookimpl
    def virtkit_vol_list(self, pool: PoolRef) -> list[VolumeRef]:
        node = self._node
        with node.lock:
            p = self._active_pool(pool)
            return [self._vol_ref(p, v) for v in p.volumes.values()]

    @hookimpl
    def virtkit_vol_lookup_by_name(self, pool: PoolRef, name: str) -> VolumeRef:
        node = self._node
        with node.lock:
            p = self._active_pool(pool)
            vol = p.volumes.get(name)
            if vol is None:
                raise no_vol("name", name)
            return self._vol_ref(p, vol)

    @hookimpl
    def virtkit_vol_translate(self, pool_name: str, volume_name: str) -> VolumeSource:
        node = self._node
        with node.lock:
            p = node.pools.get(pool_name)
            if p is None:
                raise no_pool(pool_name)
            vol = self._active_pool(p.ref).volumes.get(volume_name)
            if vol is None:
                raise no_vol("name", volume_name)
            return VolumeSource(p.vol_path(vol.name), vol.format, "file")

    def _vol_by_path(self, path: str) -> VolumeRef | None:
        for p in self._node.pools.values():
            if not p.active:
                continue
            for vol in p.volumes.values():
                if p.vol_path(vol.name) == path:
                    return self._vol_ref(p, vol)
        return None

    @hookimpl
    def virtkit_vol_lookup_by_key(self, key: str) -> VolumeRef:
        node = self._node
        with node.lock:
            ref = self._vol_by_path(key)  # a test volume's key is its path
            if ref is None:
                raise no_vol("key", key)
            return ref

    @hookimpl
    def virtkit_vol_lookup_by_path(self, path: str) -> VolumeRef:
        node = self._node
        with node.lock:
            ref = self._vol_by_path(path)
            if ref is None:
                raise no_vol("path", path)
            return ref

    # -- volumes: creation and changes --------------------------------------------------------

    @hookimpl
    def virtkit_vol_create_xml(self, pool: PoolRef, xml: str) -> VolumeRef:
        volume_xml_name(xml)  # INVALID_ARG for a '/' or '..' before anything else
        model = StorageVolume.from_xml(xml)
        node = self._node
        with node.lock:
            p = self._active_pool(pool)
            vol = self._new_volume(p, model)
            p.volumes[vol.name] = vol
            return self._vol_ref(p, vol)

    @hookimpl
    def virtkit_vol_clone(self, pool: PoolRef, xml: str, source: VolumeRef) -> VolumeRef:
        volume_xml_name(xml)
        model = StorageVolume.from_xml(xml)
        node = self._node
        with node.lock:
            p = self._active_pool(pool)
            _, src = self._vol(source)
            vol = self._new_volume(p, model, min_capacity=src.capacity)
            vol.data = bytearray(src.data[: vol.capacity])
            p.volumes[vol.name] = vol
            return self._vol_ref(p, vol)

    @hookimpl
    def virtkit_vol_delete(self, vol: VolumeRef) -> bool:
        node = self._node
        with node.lock:
            p, v = self._vol(vol)
            del p.volumes[v.name]
            return True

    @hookimpl
    def virtkit_vol_wipe(self, vol: VolumeRef, algorithm: str) -> bool:
        if algorithm not in WIPE_ALGORITHMS:
            raise _arg(f"unknown wipe algorithm '{algorithm}'")
        node = self._node
        with node.lock:
            _, v = self._vol(vol)
            if algorithm != "zero":
                raise VirtError(
                    ErrorCode.ARGUMENT_UNSUPPORTED,
                    f"wipe algorithm '{algorithm}' is not supported by the test driver "
                    f"(volume '{v.name}'); use 'zero'",
                    ErrorDomain.STORAGE,
                )
            v.data = bytearray()  # every byte now reads as zero
            return True

    @hookimpl
    def virtkit_vol_resize(
        self, vol: VolumeRef, capacity: int, allocate: bool, delta: bool, shrink: bool
    ) -> bool:
        node = self._node
        with node.lock:
            p, v = self._vol(vol)
            if capacity < 0:
                raise _arg(f"capacity {capacity} of volume '{v.name}' must not be negative")
            if delta:
                new = v.capacity - capacity if shrink else v.capacity + capacity
            else:
                new = capacity
            if new < 0:
                raise _arg(f"cannot shrink volume '{v.name}' of {v.capacity} bytes by "
                           f"{capacity} bytes: the capacity would be negative")
            if new < v.capacity and not shrink:
                raise _arg(
                    f"cannot shrink volume '{v.name}' from {v.capacity} to {new} bytes "
                    f"unless the shrink flag is given"
                )
            if new > SIZE_LIMIT:
                raise _arg(f"capacity {new} of volume '{v.name}' is too large")
            allocation = new if allocate else min(v.allocation, new)
            if allocation - v.allocation > p.available:
                raise _failed(
                    f"not enough free space in storage pool '{p.name}' to resize volume "
                    f"'{v.name}' to {new} bytes: {p.available} bytes are available"
                )
            v.capacity = new
            v.allocation = allocation
            del v.data[new:]
            return True

    def _range(self, v: TestVolume, offset: int, length: int) -> int:
        """The end of the byte range ``offset``/``length`` of ``v`` (INVALID_ARG if outside)."""
        if offset < 0 or length < 0:
            raise _arg(f"offset {offset} and length {length} must not be negative")
        if offset > v.capacity:
            raise _arg(f"offset {offset} is past the end of volume '{v.name}' "
                       f"({v.capacity} bytes)")
        end = v.capacity if length == 0 else offset + length
        if end > v.capacity:
            raise _arg(f"offset {offset} + length {length} is past the end of volume "
                       f"'{v.name}' ({v.capacity} bytes)")
        return end

    @hookimpl
    def virtkit_vol_upload(self, vol: VolumeRef, offset: int, length: int) -> int:
        node = self._node
        with node.lock:
            p, v = self._vol(vol)
            end = self._range(v, offset, length)
            return open_stream(self, SparseVolumeStream(node, p, v, True, offset, end))

    @hookimpl
    def virtkit_vol_download(self, vol: VolumeRef, offset: int, length: int) -> int:
        node = self._node
        with node.lock:
            p, v = self._vol(vol)
            end = self._range(v, offset, length)
            return open_stream(self, SparseVolumeStream(node, p, v, False, offset, end))

    # -- volumes: information -----------------------------------------------------------------

    @hookimpl
    def virtkit_vol_get_info(self, vol: VolumeRef) -> VolumeInfo:
        node = self._node
        with node.lock:
            _, v = self._vol(vol)
            return VolumeInfo(0, v.capacity, v.allocation)

    @hookimpl
    def virtkit_vol_get_xml(self, vol: VolumeRef) -> str:
        node = self._node
        with node.lock:
            p, v = self._vol(vol)
            return self._vol_model(p, v).to_xml()
