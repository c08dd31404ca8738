"""Datastores as storage pools and virtual disks (``.vmdk``) as volumes.

A pool is a datastore of the connection's scope (always active and persistent; vSphere mounts
and unmounts them, virtkit does not). Its uuid is derived from the datastore's URL, as libvirt's
esx driver derives it. A volume's name is its path inside the datastore (``dir/disk.vmdk``), its
path the datastore path (``[datastore] dir/disk.vmdk``), which is also its key. Volumes are
created and deleted through the VirtualDiskManager (thin-provisioned ``vmdk``).
"""

from __future__ import annotations

import re
import uuid as uuidlib
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import PoolInfo, PoolRef, PoolSummary, VolumeInfo, VolumeRef
from virtkit.sdk.states import PoolState
from virtkit_vmware.domxml import DATASTORE_PATH

_VOLUME_NAME = re.compile(r"^[A-Za-z0-9_.+-]+(/[A-Za-z0-9_.+-]+)?\.vmdk$")
_SUFFIXES = ("-flat.vmdk", "-delta.vmdk", "-ctk.vmdk", "-sesparse.vmdk")


def no_pool(what: str) -> VirtError:
    return VirtError(ErrorCode.NO_STORAGE_POOL,
                     f"Storage pool not found: no storage pool with matching {what}",
                     ErrorDomain.STORAGE)


def no_volume(what: str) -> VirtError:
    return VirtError(ErrorCode.NO_STORAGE_VOL,
                     f"Storage volume not found: no storage vol with matching {what}",
                     ErrorDomain.STORAGE)


def pool_uuid(url: str) -> str:
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, url))


class StorageHooks:
    """Mixed into the driver."""

    def _datastores(self: Any) -> list[tuple[Any, Any, str]]:
        """(datastore, summary, uuid) of every datastore in scope."""
        scope = self.scope

        def read() -> list[tuple[Any, Any, str]]:
            out = []
            for ds in scope.compute.datastore:
                s = ds.summary
                out.append((ds, s, pool_uuid(s.url or s.name)))
            return out

        return self.session.call("listing datastores", read)

    def _pool(self: Any, pool: PoolRef) -> tuple[Any, Any, str]:
        for ds, s, uid in self._datastores():
            if s.name == pool.name or (pool.uuid and uid == pool.uuid and not pool.name):
                return ds, s, uid
        raise no_pool(f"name '{pool.name}'")

    @hookimpl
    def virtkit_pool_list(self: Any) -> list[PoolSummary]:
        return [PoolSummary(PoolRef(s.name, uid), bool(s.accessible), True, True)
                for _, s, uid in self._datastores()]

    @hookimpl
    def virtkit_pool_get_summary(self: Any, pool: PoolRef) -> PoolSummary:
        _, s, uid = self._pool(pool)
        return PoolSummary(PoolRef(s.name, uid), bool(s.accessible), True, True)

    @hookimpl
    def virtkit_pool_lookup_by_name(self: Any, name: str) -> PoolRef:
        for _, s, uid in self._datastores():
            if s.name == name:
                return PoolRef(s.name, uid)
        raise no_pool(f"name '{name}'")

    @hookimpl
    def virtkit_pool_lookup_by_uuid(self: Any, uuid: str) -> PoolRef:
        for _, s, uid in self._datastores():
            if uid == uuid:
                return PoolRef(s.name, uid)
        raise no_pool(f"uuid '{uuid}'")

    @hookimpl
    def virtkit_pool_get_info(self: Any, pool: PoolRef) -> PoolInfo:
        _, s, _ = self._pool(pool)
        state = PoolState.RUNNING if s.accessible else PoolState.INACCESSIBLE
        free = int(s.freeSpace or 0)
        return PoolInfo(int(state), int(s.capacity or 0), int(s.capacity or 0) - free, free)

    @hookimpl
    def virtkit_pool_get_xml(self: Any, pool: PoolRef, inactive: bool) -> str:
        _ds, s, uid = self._pool(pool)
        kind = "netfs" if str(s.type).upper() in ("NFS", "NFS41") else "dir"
        free = int(s.freeSpace or 0)
        return (
            f"<pool type='{kind}'>\n  <name>{escape(s.name)}</name>\n  <uuid>{uid}</uuid>\n"
            f"  <capacity unit='bytes'>{int(s.capacity or 0)}</capacity>\n"
            f"  <allocation unit='bytes'>{int(s.capacity or 0) - free}</allocation>\n"
            f"  <available unit='bytes'>{free}</available>\n"
            f"  <target>\n    <path>{escape(s.url or '')}</path>\n  </target>\n</pool>\n"
        )

    @hookimpl
    def virtkit_pool_get_autostart(self: Any, pool: PoolRef) -> bool:
        self._pool(pool)
        return True

    @hookimpl
    def virtkit_pool_refresh(self: Any, pool: PoolRef) -> bool:
        ds, s, _ = self._pool(pool)
        self.session.call(f"refreshing datastore '{s.name}'", ds.RefreshDatastore)
        return True

    # -- volumes -------------------------------------------------------------------------------

    def _files(self: Any, ds: Any, name: str) -> list[tuple[str, int, int]]:
        """(name in the datastore, capacity, allocation) of every virtual disk."""
        from pyVmomi import vim

        B = vim.host.DatastoreBrowser
        spec = B.SearchSpec(
            matchPattern=["*.vmdk"],
            details=B.FileInfo.Details(fileSize=True, fileType=True),
            query=[B.VmDiskQuery(details=B.VmDiskQuery.Details(capacityKb=True, diskType=True))],
        )
        browser = self.session.call(f"browsing datastore '{name}'", lambda: ds.browser)
        task = self.session.call(
            f"browsing datastore '{name}'",
            lambda: browser.SearchDatastoreSubFolders_Task(datastorePath=f"[{name}]",
                                                           searchSpec=spec))
        results = self.jobs.wait(task, f"browse datastore '{name}'") or []
        out = []
        for result in results:
            m = DATASTORE_PATH.match(result.folderPath or "")
            folder = (m.group(2) if m else "").strip("/")
            for f in result.file or ():
                if any(f.path.endswith(sfx) for sfx in _SUFFIXES):
                    continue
                rel = f"{folder}/{f.path}" if folder else f.path
                cap = int(getattr(f, "capacityKb", 0) or 0) * 1024
                size = int(f.fileSize or 0)
                out.append((rel, cap or size, size))
        return sorted(out)

    @hookimpl
    def virtkit_vol_list(self: Any, pool: PoolRef) -> list[VolumeRef]:
        ds, s, _ = self._pool(pool)
        return [VolumeRef(s.name, rel, f"[{s.name}] {rel}", f"[{s.name}] {rel}")
                for rel, _, _ in self._files(ds, s.name)]

    def _volume(self: Any, pool_name: str, name: str) -> tuple[Any, VolumeRef, int, int]:
        ds, s, _ = self._pool(PoolRef(pool_name, ""))
        for rel, cap, size in self._files(ds, s.name):
            if rel == name:
                return ds, VolumeRef(s.name, rel, f"[{s.name}] {rel}", f"[{s.name}] {rel}"), \
                    cap, size
        raise no_volume(f"name '{name}' in pool '{pool_name}'")

    @hookimpl
    def virtkit_vol_lookup_by_name(self: Any, pool: PoolRef, name: str) -> VolumeRef:
        return self._volume(pool.name, name)[1]

    @hookimpl
    def virtkit_vol_lookup_by_path(self: Any, path: str) -> VolumeRef:
        m = DATASTORE_PATH.match(path)
        if not m:
            raise no_volume(f"path '{path}'")
        try:
            return self._volume(m.group(1), m.group(2))[1]
        except VirtError as exc:
            if exc.code == ErrorCode.NO_STORAGE_POOL:
                raise no_volume(f"path '{path}'") from None
            raise

    @hookimpl
    def virtkit_vol_lookup_by_key(self: Any, key: str) -> VolumeRef:
        try:
            return self.virtkit_vol_lookup_by_path(key)
        except VirtError as exc:
            if exc.code == ErrorCode.NO_STORAGE_VOL:
                raise no_volume(f"key '{key}'") from None
            raise

    def _new_volume(self: Any, pool: PoolRef, xml: str) -> tuple[Any, Any, Any, str]:
        """The parsed document, datastore, its summary and the checked new volume name."""
        from virtkit.xml.storage import StorageVolume

        vol = StorageVolume.from_xml(xml)
        ds, s, _ = self._pool(pool)
        name = vol.name
        if not _VOLUME_NAME.match(name) or ".." in name.split("/"):
            raise VirtError(ErrorCode.INVALID_ARG,
                            f"invalid argument: volume name '{name}' (use NAME.vmdk or "
                            f"DIRECTORY/NAME.vmdk, no '..')", ErrorDomain.STORAGE)
        fmt = vol.target.format.type if vol.target and vol.target.format else "vmdk"
        if fmt != "vmdk":
            raise VirtError(ErrorCode.CONFIG_UNSUPPORTED,
                            f"unsupported configuration: volume format '{fmt}' (a datastore "
                            f"holds vmdk)", ErrorDomain.STORAGE)
        if any(rel == name for rel, _, _ in self._files(ds, s.name)):
            raise VirtError(ErrorCode.STORAGE_VOL_EXIST,
                            f"storage volume '{name}' already exists in pool '{s.name}'",
                            ErrorDomain.STORAGE)
        return vol, ds, s, name

    @hookimpl
    def virtkit_vol_clone(self: Any, pool: PoolRef, xml: str, source: VolumeRef) -> VolumeRef:
        """A copy of ``source`` (any datastore of the scope) through CopyVirtualDisk_Task."""
        _, src, _, _ = self._volume(source.pool, source.name)
        _, _, s, name = self._new_volume(pool, xml)
        path = f"[{s.name}] {name}"
        dm = self.session.content.virtualDiskManager
        dc = self.scope.datacenter
        task = self.session.call(f"copying volume '{source.name}' to '{name}'",
                                 lambda: dm.CopyVirtualDisk_Task(
                                     sourceName=src.path, sourceDatacenter=dc, destName=path,
                                     destDatacenter=dc, force=False))
        self.jobs.wait(task, f"copy volume '{source.name}' to '{name}'")
        return VolumeRef(s.name, name, path, path)

    @hookimpl
    def virtkit_vol_create_xml(self: Any, pool: PoolRef, xml: str) -> VolumeRef:
        from pyVmomi import vim

        vol, _ds, s, name = self._new_volume(pool, xml)
        path = f"[{s.name}] {name}"
        content = self.session.content
        if "/" in name:
            directory = f"[{s.name}] {name.rsplit('/', 1)[0]}"
            try:
                self.session.call(f"making directory {directory}", lambda: content.fileManager
                                  .MakeDirectory(name=directory, datacenter=self.scope.datacenter,
                                                 createParentDirectories=True))
            except VirtError as exc:
                if exc.code != ErrorCode.STORAGE_VOL_EXIST:
                    raise
        if not vol.capacity:
            raise VirtError(ErrorCode.XML_ERROR, f"volume '{name}': a <capacity> is needed",
                            ErrorDomain.STORAGE)
        spec = vim.VirtualDiskManager.FileBackedVirtualDiskSpec(
            diskType="thin", adapterType="lsiLogic", capacityKb=max(1, vol.capacity // 1024))
        dm = content.virtualDiskManager
        task = self.session.call(f"creating volume '{name}'", lambda: dm.CreateVirtualDisk_Task(
            name=path, datacenter=self.scope.datacenter, spec=spec))
        self.jobs.wait(task, f"create volume '{name}'")
        return VolumeRef(s.name, name, path, path)

    @hookimpl
    def virtkit_vol_delete(self: Any, vol: VolumeRef) -> bool:
        _, ref, _, _ = self._volume(vol.pool, vol.name)
        dm = self.session.content.virtualDiskManager
        task = self.session.call(f"deleting volume '{vol.name}'", lambda: dm.DeleteVirtualDisk_Task(
            name=ref.path, datacenter=self.scope.datacenter))
        self.jobs.wait(task, f"delete volume '{vol.name}'")
        return True

    @hookimpl
    def virtkit_vol_get_info(self: Any, vol: VolumeRef) -> VolumeInfo:
        _, _, cap, size = self._volume(vol.pool, vol.name)
        return VolumeInfo(0, cap, size)

    @hookimpl
    def virtkit_vol_get_xml(self: Any, vol: VolumeRef) -> str:
        _, ref, cap, size = self._volume(vol.pool, vol.name)
        return (
            f"<volume type='file'>\n  <name>{escape(ref.name)}</name>\n"
            f"  <key>{escape(ref.key)}</key>\n"
            f"  <capacity unit='bytes'>{cap}</capacity>\n"
            f"  <allocation unit='bytes'>{size}</allocation>\n"
            f"  <target>\n    <path>{escape(ref.path)}</path>\n"
            f"    <format type={quoteattr('vmdk')}/>\n  </target>\n</volume>\n"
        )
