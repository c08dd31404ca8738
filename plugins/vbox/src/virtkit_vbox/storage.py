"""Media as storage volumes, host-only interfaces as networks.

VirtualBox has no storage pools: its hard disk media (``list hdds``) are shown as the volumes
of one pool, ``default-pool``, whose directory is VirtualBox's default machine folder (where new
volumes are made with ``createmedium``), as libvirt's vbox driver does. Host-only interfaces
(``list hostonlyifs``) are shown as networks named after the interface.
"""

from __future__ import annotations

import os
import uuid as uuidlib
from typing import TYPE_CHECKING

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError, no_network
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import (
    NetworkRef,
    NetworkSummary,
    PoolInfo,
    PoolRef,
    PoolSummary,
    VolumeInfo,
    VolumeRef,
)
from virtkit.sdk.store import check_name
from virtkit.xml.parser import parse_document, xml_error
from virtkit_vbox.machinereadable import parse_hostonlyifs, parse_media_list

if TYPE_CHECKING:
    from virtkit_vbox.driver import VBoxDriver

POOL = "default-pool"
_FORMATS = {"vdi": "VDI", "vmdk": "VMDK", "vhd": "VHD"}


def _no_pool(name: str) -> VirtError:
    return VirtError(ErrorCode.NO_STORAGE_POOL,
                     f"Storage pool not found: no storage pool with matching name '{name}'",
                     ErrorDomain.STORAGE)


def _no_vol(what: str) -> VirtError:
    return VirtError(ErrorCode.NO_STORAGE_VOL,
                     f"Storage volume not found: no storage vol with matching {what}",
                     ErrorDomain.STORAGE)


def _mib(text: str) -> int:
    """``Capacity: 2048 MBytes`` -> bytes."""
    parts = text.split()
    if not parts or not parts[0].isdigit():
        return 0
    unit = parts[1] if len(parts) > 1 else "MBytes"
    scale = {"Bytes": 1, "KBytes": 1024, "MBytes": 1024**2, "GBytes": 1024**3,
             "TBytes": 1024**4}.get(unit, 1024**2)
    return int(parts[0]) * scale


class StorageMixin:
    def _folder(self: VBoxDriver) -> str:
        for line in self._vbm.run("list", "systemproperties").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Default machine folder":
                return value.strip()
        return os.path.join(os.path.expanduser("~"), "VirtualBox VMs")

    def _pool_ref(self: VBoxDriver) -> PoolRef:
        folder = self._folder()
        return PoolRef(POOL, str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, "vbox-pool:" + folder)))

    def _check_pool(self: VBoxDriver, pool: PoolRef) -> None:
        if pool.name != POOL:
            raise _no_pool(pool.name)

    def _media(self: VBoxDriver) -> list[dict[str, str]]:
        return parse_media_list(self._vbm.run("list", "hdds"))

    @staticmethod
    def _vol(m: dict[str, str]) -> VolumeRef:
        loc = m.get("Location", "")
        return VolumeRef(POOL, os.path.basename(loc), m.get("UUID", ""), loc)

    @hookimpl
    def virtkit_pool_list(self: VBoxDriver) -> list[PoolSummary]:
        return [PoolSummary(self._pool_ref(), True, True, True)]

    @hookimpl
    def virtkit_pool_lookup_by_name(self: VBoxDriver, name: str) -> PoolRef:
        if name != POOL:
            raise _no_pool(name)
        return self._pool_ref()

    @hookimpl
    def virtkit_pool_lookup_by_uuid(self: VBoxDriver, uuid: str) -> PoolRef:
        ref = self._pool_ref()
        if ref.uuid != uuid:
            raise VirtError(ErrorCode.NO_STORAGE_POOL, f"Storage pool not found: no storage "
                            f"pool with matching uuid '{uuid}'", ErrorDomain.STORAGE)
        return ref

    @hookimpl
    def virtkit_pool_get_info(self: VBoxDriver, pool: PoolRef) -> PoolInfo:
        self._check_pool(pool)
        folder = self._folder()
        try:
            st = os.statvfs(folder if os.path.isdir(folder) else os.path.dirname(folder))
        except OSError:
            return PoolInfo(2, 0, 0, 0)
        cap = st.f_blocks * st.f_frsize
        free = st.f_bavail * st.f_frsize
        return PoolInfo(2, cap, cap - free, free)

    @hookimpl
    def virtkit_pool_get_xml(self: VBoxDriver, pool: PoolRef, inactive: bool) -> str:
        self._check_pool(pool)
        ref = self._pool_ref()
        return (f"<pool type='dir'><name>{POOL}</name><uuid>{ref.uuid}</uuid>"
                f"<target><path>{_esc(self._folder())}</path></target></pool>")

    @hookimpl
    def virtkit_pool_get_autostart(self: VBoxDriver, pool: PoolRef) -> bool:
        self._check_pool(pool)
        return True

    @hookimpl
    def virtkit_vol_list(self: VBoxDriver, pool: PoolRef) -> list[VolumeRef]:
        self._check_pool(pool)
        return [self._vol(m) for m in self._media()]

    def _vol_where(self: VBoxDriver, key: str, value: str, what: str) -> dict[str, str]:
        for m in self._media():
            if key == "Name" and os.path.basename(m.get("Location", "")) == value:
                return m
            if m.get(key) == value:
                return m
        raise _no_vol(what)

    @hookimpl
    def virtkit_vol_lookup_by_name(self: VBoxDriver, pool: PoolRef, name: str) -> VolumeRef:
        self._check_pool(pool)
        return self._vol(self._vol_where("Name", name, f"name '{name}'"))

    @hookimpl
    def virtkit_vol_lookup_by_key(self: VBoxDriver, key: str) -> VolumeRef:
        return self._vol(self._vol_where("UUID", key, f"key '{key}'"))

    @hookimpl
    def virtkit_vol_lookup_by_path(self: VBoxDriver, path: str) -> VolumeRef:
        return self._vol(self._vol_where("Location", path, f"path '{path}'"))

    @hookimpl
    def virtkit_vol_create_xml(self: VBoxDriver, pool: PoolRef, xml: str) -> VolumeRef:
        self._check_pool(pool)
        root = parse_document(xml, "volume")
        if root.tag != "volume":
            raise xml_error(f"volume: expected root element <volume>, found <{root.tag}>")
        name = root.findtext("name") or ""
        check_name(name, "volume")
        cap_el = root.find("capacity")
        if cap_el is None or not (cap_el.text or "").strip().isdigit():
            raise xml_error(f"volume '{name}': <capacity> in bytes is required")
        scale = {"b": 1, "bytes": 1, "k": 1024, "kib": 1024, "m": 1024**2, "mib": 1024**2,
                 "g": 1024**3, "gib": 1024**3}.get((cap_el.get("unit") or "b").lower(), 1)
        capacity = int((cap_el.text or "0").strip()) * scale
        fmt_el = root.find("target/format")
        fmt = fmt_el.get("type") if fmt_el is not None else None
        if fmt is None:
            fmt = os.path.splitext(name)[1].lstrip(".").lower() or "vdi"
        if fmt not in _FORMATS:
            raise VirtError(ErrorCode.CONFIG_UNSUPPORTED,
                            f"unsupported configuration: volume '{name}': format '{fmt}' "
                            f"(VirtualBox makes vdi, vmdk, vhd)", ErrorDomain.STORAGE)
        path = os.path.join(self._folder(), name)
        if os.path.exists(path):
            raise VirtError(ErrorCode.STORAGE_VOL_EXIST,
                            f"storage volume '{name}' already exists", ErrorDomain.STORAGE)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        mib = max(1, -(-capacity // (1024 * 1024)))
        self._vbm.run("createmedium", "disk", "--filename", path, "--size", str(mib),
                      "--format", _FORMATS[fmt])
        return self._vol(self._vol_where("Location", path, f"path '{path}'"))

    @hookimpl
    def virtkit_vol_delete(self: VBoxDriver, vol: VolumeRef) -> bool:
        m = self._vol_where("UUID", vol.key, f"key '{vol.key}'")
        self._vbm.run("closemedium", "disk", m["UUID"], "--delete")
        return True

    @hookimpl
    def virtkit_vol_get_info(self: VBoxDriver, vol: VolumeRef) -> VolumeInfo:
        m = self._vol_where("UUID", vol.key, f"key '{vol.key}'")
        loc = m.get("Location", "")
        alloc = os.path.getsize(loc) if os.path.exists(loc) else 0
        return VolumeInfo(0, _mib(m.get("Capacity", "")), alloc)

    @hookimpl
    def virtkit_vol_get_xml(self: VBoxDriver, vol: VolumeRef) -> str:
        m = self._vol_where("UUID", vol.key, f"key '{vol.key}'")
        info = self.virtkit_vol_get_info(vol)
        fmt = m.get("Storage format", "VDI").lower()
        return (f"<volume type='file'><name>{_esc(os.path.basename(m['Location']))}</name>"
                f"<key>{m['UUID']}</key><capacity unit='bytes'>{info.capacity}</capacity>"
                f"<allocation unit='bytes'>{info.allocation}</allocation><target>"
                f"<path>{_esc(m['Location'])}</path><format type='{fmt}'/></target></volume>")

    @hookimpl
    def virtkit_vol_resize(self: VBoxDriver, vol: VolumeRef, capacity: int, allocate: bool,
                           delta: bool, shrink: bool) -> bool:
        m = self._vol_where("UUID", vol.key, f"key '{vol.key}'")
        current = _mib(m.get("Capacity", ""))
        new = current + capacity if delta else capacity
        if new < current:
            raise VirtError(ErrorCode.INVALID_ARG,
                            f"invalid argument: VirtualBox cannot shrink volume '{vol.name}'",
                            ErrorDomain.STORAGE)
        self._vbm.run("modifymedium", "disk", m["UUID"], "--resize",
                      str(-(-new // (1024 * 1024))))
        return True

    # -- host-only networks -------------------------------------------------------------------

    def _hostonly(self: VBoxDriver) -> list[dict[str, str]]:
        return parse_hostonlyifs(self._vbm.run("list", "hostonlyifs"))

    @staticmethod
    def _net_ref(h: dict[str, str]) -> NetworkRef:
        return NetworkRef(h["Name"], h.get("GUID", "").lower())

    def _net(self: VBoxDriver, net: NetworkRef) -> dict[str, str]:
        for h in self._hostonly():
            if h["Name"] == net.name:
                return h
        raise no_network(net.name)

    @hookimpl
    def virtkit_network_list(self: VBoxDriver) -> list[NetworkSummary]:
        return [NetworkSummary(self._net_ref(h), True, True, True, h["Name"])
                for h in self._hostonly()]

    @hookimpl
    def virtkit_network_lookup_by_name(self: VBoxDriver, name: str) -> NetworkRef:
        return self._net_ref(self._net(NetworkRef(name, "")))

    @hookimpl
    def virtkit_network_lookup_by_uuid(self: VBoxDriver, uuid: str) -> NetworkRef:
        for h in self._hostonly():
            if h.get("GUID", "").lower() == uuid.lower():
                return self._net_ref(h)
        raise no_network(uuid=uuid)

    @hookimpl
    def virtkit_network_get_xml(self: VBoxDriver, net: NetworkRef, inactive: bool) -> str:
        h = self._net(net)
        mac = h.get("HardwareAddress", "")
        return (f"<network><name>{_esc(h['Name'])}</name><uuid>{h.get('GUID', '').lower()}"
                f"</uuid><bridge name='{_esc(h['Name'])}'/>"
                + (f"<mac address='{mac}'/>" if mac else "")
                + f"<ip address='{h.get('IPAddress', '')}' netmask='{h.get('NetworkMask', '')}'"
                  f"/></network>")

    @hookimpl
    def virtkit_network_get_autostart(self: VBoxDriver, net: NetworkRef) -> bool:
        self._net(net)
        return True

    @hookimpl
    def virtkit_network_undefine(self: VBoxDriver, net: NetworkRef) -> bool:
        self._net(net)
        self._vbm.run("hostonlyif", "remove", net.name)
        return True


def _esc(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("'", "&apos;"))
