"""Volume hooks of the host storage service: lookup, create, clone, delete, wipe, resize,
upload, download, information.

Which volumes exist is what the pool's storage says (a scan of its directory, partition table,
volume group or target); what a volume was declared as (its format, its backing store) is kept
in the state store, because an image's format is never probed: a file we did not create, or
whose declaration was lost, is raw.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, Any

import attrs

from virtkit.sdk.checks import WIPE_ALGORITHMS
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import PoolRef, VolumeInfo, VolumeRef, VolumeSource
from virtkit.services.storage import images
from virtkit.services.storage.backends.base import Backend, NewVolume, VolEntry, VolFacts
from virtkit.services.storage.errors import (
    bad_arg,
    failed,
    invalid,
    no_pool,
    no_vol,
    unsupported,
)
from virtkit.services.storage.inuse import guests_using
from virtkit.services.storage.paths import check_inside, discard, new_temp
from virtkit.services.storage.state import Pool
from virtkit.services.storage.streams import VolumeStream
from virtkit.xml.common import Permissions
from virtkit.xml.storage import (
    BackingStore,
    FormatType,
    StorageVolume,
    VolumeTarget,
    volume_xml_name,
)
from virtkit.xml.units import SIZE_LIMIT

if TYPE_CHECKING:
    from virtkit.services.storage.state import Host

_VOL_TYPES = {"file": 0, "block": 1}
_CHUNK = 1024 * 1024


@attrs.frozen
class Vol:
    """A volume found in an active pool."""

    pool: Pool
    backend: Backend
    name: str
    path: str
    format: str
    backing: tuple[str, str] | None
    entry: VolEntry

    @property
    def ref(self) -> VolumeRef:
        return VolumeRef(self.pool.name, self.name, self.path, self.path)

    def facts(self) -> VolFacts:
        if self.entry.facts is not None:
            return self.entry.facts
        return self.backend.facts(self.name, self.path, self.format)


class VolumeHooks:
    """The ``virtkit_vol_*`` hooks."""

    host: Host

    if TYPE_CHECKING:
        def _pool(self, ref: PoolRef) -> Pool: ...
        def _active(self, ref: PoolRef) -> Pool: ...
        def _backend(self, pool: Any) -> Backend: ...
        def _open_stream(self, st: VolumeStream) -> int: ...

    # -- helpers --------------------------------------------------------------------------------

    def _make_vol(self, pool: Pool, backend: Backend, name: str, entry: VolEntry) -> Vol:
        meta = self.host.vol_meta(pool.uuid, name) if backend.vol_type == "file" else {}
        fmt = str(meta.get("format") or backend.formats[0])
        raw = meta.get("backing")
        backing = (str(raw[0]), str(raw[1])) if isinstance(raw, list) and len(raw) == 2 else None
        return Vol(pool, backend, name, entry.path, fmt, backing, entry)

    def _find(self, pool: Pool, backend: Backend, name: str) -> Vol | None:
        entry = backend.find(name)
        return None if entry is None else self._make_vol(pool, backend, name, entry)

    def _vol(self, ref: VolumeRef) -> Vol:
        pool = self.host.load(ref.pool)
        if pool is None:
            raise no_pool(ref.pool)
        if not pool.active:
            raise invalid(f"storage pool '{pool.name}' is not active")
        vol = self._find(pool, self._backend(pool), ref.name)
        if vol is None:
            raise no_vol("name", ref.name)
        return vol

    def _by_path(self, path: str, what: str) -> VolumeRef:
        if not isinstance(path, str) or not path.startswith("/") or "\x00" in path:
            raise no_vol(what, str(path))
        norm = os.path.normpath(path)
        for pool in self.host.pools():
            if not pool.active:
                continue
            backend = self._backend(pool)
            if backend.vol_type == "file":
                if os.path.dirname(norm) != backend.target:
                    continue
                name = os.path.basename(norm)
                if os.path.islink(norm):
                    check_inside(backend.target, norm, pool.name)
                vol = self._find(pool, backend, name)
                if vol is not None:
                    return vol.ref
            else:
                for name, entry in backend.scan().items():
                    if entry.path == norm:
                        return self._make_vol(pool, backend, name, entry).ref
        raise no_vol(what, path)

    def _model(self, xml: str) -> StorageVolume:
        volume_xml_name(xml)  # INVALID_ARG for '/' or '..' before anything else
        model = StorageVolume.from_xml(xml)
        if model.capacity is not None and model.capacity > SIZE_LIMIT:
            raise bad_arg(f"capacity of storage volume '{model.name}' is too large")
        return model

    def _format(self, model: StorageVolume, backend: Backend, default: str | None) -> str:
        fmt = model.target.format.type if model.target and model.target.format else default
        if backend.vol_type != "file":
            if fmt not in (None, "raw", "none"):
                raise bad_arg(
                    f"storage volume '{model.name}': volumes of a '{backend.pool.type}' pool "
                    f"are raw, not '{fmt}'"
                )
            return "raw"
        return images.check_format(fmt or "raw", model.name)

    def _backing(self, model: StorageVolume, fmt: str) -> tuple[str, str] | None:
        bs: BackingStore | None = model.backing_store
        if bs is None:
            return None
        if fmt not in images.BACKING_FORMATS:
            raise bad_arg(f"storage volume '{model.name}' of format '{fmt}' cannot have a "
                          f"backing store")
        path = bs.path
        if not os.path.exists(path):
            raise failed(f"backing store '{path}' of storage volume '{model.name}' does not "
                         f"exist")
        declared = bs.format.type if bs.format is not None else None
        if declared is None:
            try:
                ref = self._by_path(path, "path")
                declared = self._vol(ref).format
            except VirtError:
                raise bad_arg(
                    f"backing store '{path}' of storage volume '{model.name}' is not a volume "
                    f"of an active pool: give its <format>"
                ) from None
        return path, images.check_format(declared, model.name)

    def _new(self, model: StorageVolume, backend: Backend, fmt: str, capacity: int,
             backing: tuple[str, str] | None) -> NewVolume:
        allocation = capacity if model.allocation is None else min(model.allocation, capacity)
        perms: Permissions | None = model.target.permissions if model.target else None
        mode = None
        if perms is not None and perms.mode is not None:
            try:
                mode = int(perms.mode, 8)
            except ValueError:
                raise bad_arg(f"permission mode '{perms.mode}' of storage volume "
                              f"'{model.name}' is not an octal number") from None
            if not 0 <= mode <= 0o7777:
                raise bad_arg(f"permission mode '{perms.mode}' of storage volume "
                              f"'{model.name}' is out of range")
        return NewVolume(
            model.name, fmt, capacity, allocation if fmt == "raw" else 0, backing, mode,
            perms.owner if perms else None, perms.group if perms else None,
        )

    def _check_space(self, pool: Pool, backend: Backend, name: str, needed: int) -> None:
        if needed <= 0:
            return
        _, _, available = backend.info()
        if needed > available:
            raise failed(
                f"not enough free space in storage pool '{pool.name}' for volume '{name}': it "
                f"needs {needed} bytes, {available} are available"
            )

    def _reserve(self, pool: Pool, backend: Backend, name: str) -> None:
        """Claim ``name`` for a volume being made (under the instance lock): STORAGE_VOL_EXIST
        when it exists or another create of it is under way, in this process or another."""
        if backend.find(name) is not None or not self.host.reserve(pool.uuid, name):
            raise self._exists(pool, name)

    def _declare(self, pool: Pool, vol: NewVolume) -> None:
        """Record what ``vol`` is declared as (a raw volume without backing: nothing)."""
        if vol.format == "raw" and vol.backing is None:
            self.host.drop_vol_meta(pool.uuid, vol.name)  # a stale one: an unlink, if any
            return
        self.host.save_vol_meta(pool.uuid, vol.name, {
            "format": vol.format,
            "backing": list(vol.backing) if vol.backing else None,
        })

    def _undeclare(self, pool: Pool, backend: Backend, name: str) -> None:
        """Drop the declaration of a volume whose making failed (the name is still ours)."""
        if backend.vol_type == "file" and backend.find(name) is None:
            self.host.drop_vol_meta(pool.uuid, name)

    def _exists(self, pool: Pool, name: str) -> VirtError:
        return VirtError(
            ErrorCode.STORAGE_VOL_EXIST,
            f"storage volume '{name}' exists already in storage pool '{pool.name}'",
            ErrorDomain.STORAGE,
        )

    # -- listing and lookup ---------------------------------------------------------------------

    @hookimpl
    def virtkit_vol_list(self, pool: PoolRef) -> list[VolumeRef]:
        p = self._active(pool)
        backend = self._backend(p)
        return [VolumeRef(p.name, name, e.path, e.path)
                for name, e in sorted(backend.scan().items())]

    @hookimpl
    def virtkit_vol_lookup_by_name(self, pool: PoolRef, name: str) -> VolumeRef:
        p = self._active(pool)
        vol = self._find(p, self._backend(p), name)
        if vol is None:
            raise no_vol("name", name)
        return vol.ref

    @hookimpl
    def virtkit_vol_lookup_by_key(self, key: str) -> VolumeRef:
        return self._by_path(key, "key")

    @hookimpl
    def virtkit_vol_lookup_by_path(self, path: str) -> VolumeRef:
        return self._by_path(path, "path")

    # -- creation and changes -------------------------------------------------------------------

    @hookimpl
    def virtkit_vol_create_xml(self, pool: PoolRef, xml: str) -> VolumeRef:
        model = self._model(xml)
        p = self._active(pool)
        backend = self._backend(p)
        if not backend.makes_volumes:
            backend.check_new(NewVolume(model.name, "raw", 0, 0))  # raises unsupported
        fmt = self._format(model, backend, None)
        capacity = model.capacity or 0
        backing = self._backing(model, fmt)
        vol = self._new(model, backend, fmt, capacity, backing)
        backend.check_new(vol)
        with self.host.locked():
            self._reserve(p, backend, model.name)
            try:
                self._check_space(p, backend, model.name, vol.allocation)
                self._declare(p, vol)
            except BaseException:
                self.host.release(p.uuid, model.name)
                raise
        try:
            path = backend.create_volume(vol)
        except BaseException:
            self._undeclare(p, backend, model.name)
            raise
        finally:
            self.host.release(p.uuid, model.name)
        return VolumeRef(p.name, model.name, path, path)

    @hookimpl
    def virtkit_vol_clone(self, pool: PoolRef, xml: str, source: VolumeRef) -> VolumeRef:
        model = self._model(xml)
        p = self._active(pool)
        backend = self._backend(p)
        src = self._vol(source)
        src_facts = src.facts()
        fmt = self._format(model, backend, src.format if backend.vol_type == "file" else None)
        capacity = max(model.capacity or 0, src_facts.capacity)
        vol = self._new(model, backend, fmt, capacity, None)
        backend.check_new(vol)
        needed = src_facts.allocation if fmt == "raw" else 0
        if backend.vol_type != "file":
            needed = capacity
        with self.host.locked():
            self._reserve(p, backend, model.name)
            try:
                self._check_space(p, backend, model.name, needed)
                self._declare(p, vol)
            except BaseException:
                self.host.release(p.uuid, model.name)
                raise
        try:
            path = backend.clone_volume(vol, src.path, src.format, src_facts.capacity)
        except BaseException:
            self._undeclare(p, backend, model.name)
            raise
        finally:
            self.host.release(p.uuid, model.name)
        return VolumeRef(p.name, model.name, path, path)

    def _not_in_use(self, v: Vol, action: str) -> None:
        guests = guests_using(v.path)
        if guests:
            who = ", ".join(f"'{g}'" for g in guests)
            raise invalid(
                f"cannot {action} storage volume '{v.name}' of storage pool '{v.pool.name}': "
                f"it is in use by running guest {who}"
            )

    @hookimpl
    def virtkit_vol_delete(self, vol: VolumeRef) -> bool:
        v = self._vol(vol)
        self._not_in_use(v, "delete")
        v.backend.delete_volume(v.name, v.path)
        self.host.drop_vol_meta(v.pool.uuid, v.name)
        return True

    @hookimpl
    def virtkit_vol_wipe(self, vol: VolumeRef, algorithm: str) -> bool:
        if algorithm not in WIPE_ALGORITHMS:
            raise bad_arg(f"unknown wipe algorithm '{algorithm}'")
        v = self._vol(vol)
        if algorithm not in ("zero", "random"):
            raise VirtError(
                ErrorCode.ARGUMENT_UNSUPPORTED,
                f"wipe algorithm '{algorithm}' is not supported by host storage (volume "
                f"'{v.name}'); use 'zero' or 'random'",
                ErrorDomain.STORAGE,
            )
        if v.format != "raw":
            self._recreate(v)
            return True
        facts = v.facts()
        fd = os.open(v.path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            if algorithm == "zero":
                _zero(fd, facts.capacity, v.backend.vol_type == "file")
            else:
                _random(fd, facts.capacity)
            os.fsync(fd)
        finally:
            os.close(fd)
        return True

    def _recreate(self, v: Vol) -> None:
        """Wipe an image format by making it anew, empty, with the same size and backing."""
        facts = v.facts()
        check_inside(v.backend.target, v.path, v.pool.name)
        st = os.stat(v.path)
        fd, temp = new_temp(v.backend.target, st.st_mode & 0o7777)
        try:
            os.fchown(fd, st.st_uid, st.st_gid)
            os.close(fd)
            images.create(self.host.runner, temp, v.format, facts.capacity, backing=v.backing,
                          what=f"cannot wipe storage volume '{v.name}'")
            os.replace(temp, v.path)
        except BaseException:
            discard(temp)
            raise

    @hookimpl
    def virtkit_vol_resize(
        self, vol: VolumeRef, capacity: int, allocate: bool, delta: bool, shrink: bool
    ) -> bool:
        v = self._vol(vol)
        if v.format in images.FIXED_SIZE_FORMATS:
            raise unsupported(f"volume '{v.name}' of format '{v.format}' cannot be resized "
                              f"(qemu-img cannot resize {v.format} images)")
        facts = v.facts()
        if not isinstance(capacity, int) or capacity < 0:
            raise bad_arg(f"capacity {capacity} of volume '{v.name}' must not be negative")
        if delta:
            new = facts.capacity - capacity if shrink else facts.capacity + capacity
        else:
            new = capacity
        if new < 0:
            raise bad_arg(f"cannot shrink volume '{v.name}' of {facts.capacity} bytes by "
                          f"{capacity} bytes: the capacity would be negative")
        if new < facts.capacity and not shrink:
            raise bad_arg(f"cannot shrink volume '{v.name}' from {facts.capacity} to {new} "
                          f"bytes unless the shrink flag is given")
        if new > SIZE_LIMIT:
            raise bad_arg(f"capacity {new} of volume '{v.name}' is too large")
        if new < facts.capacity and v.format not in ("raw", "qcow2"):
            raise bad_arg(f"volume '{v.name}' of format '{v.format}' cannot be shrunk safely")
        if new == facts.capacity and not allocate:
            return True
        if v.format == "raw" and allocate:
            self._check_space(v.pool, v.backend, v.name, new - facts.allocation)
        elif v.backend.vol_type != "file" and new > facts.capacity:
            self._check_space(v.pool, v.backend, v.name, new - facts.capacity)
        if new < facts.capacity:
            self._not_in_use(v, "shrink")
        elif v.format != "raw":  # the image is locked by its guest: its driver resizes it live
            self._not_in_use(v, "resize")
        v.backend.resize_volume(v.name, v.path, v.format, new, allocate, new < facts.capacity)
        return True

    # -- streams ----------------------------------------------------------------------------------

    def _range(self, v: Vol, offset: int, length: int, size: int) -> int:
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 \
                or length < 0:
            raise bad_arg(f"offset {offset} and length {length} must not be negative")
        if offset > size:
            raise bad_arg(f"offset {offset} is past the end of volume '{v.name}' ({size} bytes)")
        end = size if length == 0 else offset + length
        if end > size:
            raise bad_arg(f"offset {offset} + length {length} is past the end of volume "
                          f"'{v.name}' ({size} bytes)")
        return end

    def _open(self, v: Vol, flags: int) -> int:
        if v.backend.vol_type == "file":
            check_inside(v.backend.target, v.path, v.pool.name)
        try:
            return os.open(v.path, flags | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise bad_arg(f"volume '{v.name}' is a symlink") from None
            raise failed(f"cannot open volume '{v.name}': {exc.strerror}") from None

    @hookimpl
    def virtkit_vol_upload(self, vol: VolumeRef, offset: int, length: int) -> int:
        v = self._vol(vol)
        facts = v.facts()
        if v.format == "raw":
            end: int | None = self._range(v, offset, length, facts.capacity)
        else:  # an image file's bytes: it may grow
            self._range(v, offset, 0, facts.physical)
            end = offset + length if length else None
        fd = self._open(v, os.O_WRONLY)
        return self._open_stream(VolumeStream(fd, v.name, True, offset, end))

    @hookimpl
    def virtkit_vol_download(self, vol: VolumeRef, offset: int, length: int) -> int:
        v = self._vol(vol)
        facts = v.facts()
        end = self._range(v, offset, length, facts.physical)
        fd = self._open(v, os.O_RDONLY)
        return self._open_stream(VolumeStream(fd, v.name, False, offset, end))

    # -- information ------------------------------------------------------------------------------

    @hookimpl
    def virtkit_vol_get_info(self, vol: VolumeRef) -> VolumeInfo:
        v = self._vol(vol)
        facts = v.facts()
        return VolumeInfo(_VOL_TYPES.get(facts.type, 0), facts.capacity, facts.allocation)

    @hookimpl
    def virtkit_vol_get_xml(self, vol: VolumeRef) -> str:
        v = self._vol(vol)
        facts = v.facts()
        try:
            st = os.stat(v.path)
            perms = Permissions(mode=f"{st.st_mode & 0o7777:04o}", owner=st.st_uid,
                                group=st.st_gid)
        except OSError:
            perms = None
        model = StorageVolume(
            type=facts.type,
            name=v.name,
            key=v.path,
            capacity=facts.capacity,
            allocation=facts.allocation,
            physical=facts.physical,
            target=VolumeTarget(path=v.path, format=FormatType(type=v.format),
                                permissions=perms),
            backing_store=None if v.backing is None else BackingStore(
                path=v.backing[0], format=FormatType(type=v.backing[1])),
        )
        return model.to_xml()

    # -- for hypervisor drivers -------------------------------------------------------------------

    @hookimpl
    def virtkit_vol_translate(self, pool_name: str, volume_name: str) -> VolumeSource:
        """What a ``<disk type='volume'><source pool= volume=>`` means: the volume's ``path``,
        its declared ``format`` and the disk ``type`` (``file`` or ``block``)."""
        v = self._vol(VolumeRef(pool_name, volume_name, "", ""))
        return VolumeSource(v.path, v.format, v.backend.vol_type)


def _zero(fd: int, size: int, sparse_aware: bool) -> None:
    """Write zeros over ``[0, size)``; in a file, only where data is (holes read as zero)."""
    zeros = bytes(_CHUNK)
    pos = 0
    while pos < size:
        if sparse_aware:
            try:
                pos = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:
                    return  # no data past pos
                raise
            if pos >= size:
                return
            hole = min(os.lseek(fd, pos, os.SEEK_HOLE), size)
        else:
            hole = size
        while pos < hole:
            n = os.pwrite(fd, zeros[: min(_CHUNK, hole - pos)], pos)
            pos += n


def _random(fd: int, size: int) -> None:
    pos = 0
    while pos < size:
        n = os.pwrite(fd, os.urandom(min(_CHUNK, size - pos)), pos)
        pos += n
