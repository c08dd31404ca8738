"""SRs as storage pools, VDIs as volumes, XenAPI networks as networks (``xenapi://``).

A pool is an SR (always active and persistent: XenAPI plugs and unplugs SRs through PBDs, which
this driver leaves alone); its name is the SR's ``name_label``, its uuid the SR's. A volume is a
VDI: its name the VDI's ``name_label``, its key the VDI's uuid, its path ``SR-UUID/VDI-UUID``.
``vol_create_xml`` is ``VDI.create`` (type user, the ``<capacity>`` as ``virtual_size``),
``vol_delete`` ``VDI.destroy``, ``vol_resize`` ``VDI.resize``, ``pool_refresh`` ``SR.scan``.
A network is a XenAPI network (its bridge in the XML); ``network_define_xml`` makes an
internal network (``network.create``) and ``network_undefine`` destroys it; they are always
active (XenAPI has no inactive networks).
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
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
from virtkit.sdk.states import PoolState
from virtkit.sdk.store import check_name

_POOL_TYPES = {"lvm": "logical", "lvmoiscsi": "iscsi", "lvmohba": "scsi", "ext": "dir",
               "nfs": "netfs", "iso": "dir", "file": "dir", "xfs": "dir", "zfs": "zfs"}


def no_pool(what: str) -> VirtError:
    return VirtError(ErrorCode.NO_STORAGE_POOL,
                     f"Storage pool not found: no storage pool with matching {what}",
                     ErrorDomain.STORAGE)


def no_volume(what: str) -> VirtError:
    return VirtError(ErrorCode.NO_STORAGE_VOL,
                     f"Storage volume not found: no storage vol with matching {what}",
                     ErrorDomain.STORAGE)


def no_network(what: str) -> VirtError:
    return VirtError(ErrorCode.NO_NETWORK, f"Network not found: no network with matching {what}",
                     ErrorDomain.NETWORK)


class StorageHooks:
    """Mixed into the XenAPI driver."""

    # -- SRs ------------------------------------------------------------------------------------

    def _srs(self: Any) -> dict[str, dict[str, Any]]:
        return dict(self.session.call("SR.get_all_records", what="listing SRs"))

    def _sr(self: Any, pool: PoolRef) -> tuple[str, dict[str, Any]]:
        for ref, sr in self._srs().items():
            if (pool.uuid and sr["uuid"] == pool.uuid) or \
                    (not pool.uuid and sr["name_label"] == pool.name):
                return ref, sr
        raise no_pool(f"name '{pool.name}'")

    def _sr_by_name(self: Any, name: str) -> tuple[str, dict[str, Any]]:
        for ref, sr in self._srs().items():
            if sr["name_label"] == name:
                return ref, sr
        raise no_pool(f"name '{name}'")

    @hookimpl
    def virtkit_pool_list(self: Any) -> list[PoolSummary]:
        return [PoolSummary(PoolRef(sr["name_label"], sr["uuid"]), True, True, True)
                for sr in self._srs().values()]

    @hookimpl
    def virtkit_pool_get_summary(self: Any, pool: PoolRef) -> PoolSummary:
        _, sr = self._sr(pool)
        return PoolSummary(PoolRef(sr["name_label"], sr["uuid"]), True, True, True)

    @hookimpl
    def virtkit_pool_lookup_by_name(self: Any, name: str) -> PoolRef:
        _, sr = self._sr_by_name(name)
        return PoolRef(sr["name_label"], sr["uuid"])

    @hookimpl
    def virtkit_pool_lookup_by_uuid(self: Any, uuid: str) -> PoolRef:
        for sr in self._srs().values():
            if sr["uuid"] == uuid:
                return PoolRef(sr["name_label"], sr["uuid"])
        raise no_pool(f"uuid '{uuid}'")

    @hookimpl
    def virtkit_pool_get_info(self: Any, pool: PoolRef) -> PoolInfo:
        _, sr = self._sr(pool)
        size, used = int(sr["physical_size"]), int(sr["physical_utilisation"])
        return PoolInfo(int(PoolState.RUNNING), size, used, max(size - used, 0))

    @hookimpl
    def virtkit_pool_get_xml(self: Any, pool: PoolRef, inactive: bool) -> str:
        _, sr = self._sr(pool)
        size, used = int(sr["physical_size"]), int(sr["physical_utilisation"])
        kind = _POOL_TYPES.get(sr["type"], "dir")
        desc = f"  <description>{escape(sr['name_description'])}</description>\n" \
            if sr.get("name_description") else ""
        return (f"<pool type='{kind}'>\n  <name>{escape(sr['name_label'])}</name>\n"
                f"  <uuid>{sr['uuid']}</uuid>\n{desc}"
                f"  <capacity unit='bytes'>{size}</capacity>\n"
                f"  <allocation unit='bytes'>{used}</allocation>\n"
                f"  <available unit='bytes'>{max(size - used, 0)}</available>\n"
                f"  <target>\n    <path>{sr['uuid']}</path>\n  </target>\n</pool>\n")

    @hookimpl
    def virtkit_pool_get_autostart(self: Any, pool: PoolRef) -> bool:
        self._sr(pool)
        return True

    @hookimpl
    def virtkit_pool_refresh(self: Any, pool: PoolRef) -> bool:
        ref, sr = self._sr(pool)
        self.session.run("SR.scan", ref, what=f"scanning SR '{sr['name_label']}'")
        return True

    # -- VDIs -----------------------------------------------------------------------------------

    def _vdis(self: Any, sr_ref: str, sr: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        recs = self.session.call("VDI.get_all_records", what="listing VDIs")
        return [(r, v) for r, v in recs.items()
                if v["SR"] == sr_ref and not v.get("is_a_snapshot")]


    def _vdi(self: Any, vol: VolumeRef) -> tuple[str, dict[str, Any], dict[str, Any]]:
        ref, sr = self._sr_by_name(vol.pool)
        for vref, v in self._vdis(ref, sr):
            if (vol.key and v["uuid"] == vol.key) or (not vol.key and v["name_label"] == vol.name):
                return vref, v, sr
        raise no_volume(f"name '{vol.name}'")

    def _vdi_ref(self: Any, pool: str, volume: str) -> str:
        """The VDI a domain disk ``<source pool volume>`` names."""
        ref, sr = self._sr_by_name(pool)
        for vref, v in self._vdis(ref, sr):
            if v["name_label"] == volume or v["uuid"] == volume:
                return str(vref)
        raise no_volume(f"name '{volume}' in pool '{pool}'")

    @hookimpl
    def virtkit_vol_list(self: Any, pool: PoolRef) -> list[VolumeRef]:
        ref, sr = self._sr(pool)
        return [_volref(sr, v) for _, v in self._vdis(ref, sr)]

    @hookimpl
    def virtkit_vol_lookup_by_name(self: Any, pool: PoolRef, name: str) -> VolumeRef:
        ref, sr = self._sr(pool)
        for _, v in self._vdis(ref, sr):
            if v["name_label"] == name:
                return _volref(sr, v)
        raise no_volume(f"name '{name}'")

    @hookimpl
    def virtkit_vol_lookup_by_key(self: Any, key: str) -> VolumeRef:
        srs = self._srs()
        for v in self.session.call("VDI.get_all_records", what="listing VDIs").values():
            if v["uuid"] == key and v["SR"] in srs:
                return _volref(srs[v["SR"]], v)
        raise no_volume(f"key '{key}'")

    @hookimpl
    def virtkit_vol_lookup_by_path(self: Any, path: str) -> VolumeRef:
        _, _, key = path.rpartition("/")
        try:
            vol: VolumeRef = self.virtkit_vol_lookup_by_key(key)
        except VirtError:
            raise no_volume(f"path '{path}'") from None
        if vol.path != path:
            raise no_volume(f"path '{path}'")
        return vol

    @hookimpl
    def virtkit_vol_get_info(self: Any, vol: VolumeRef) -> VolumeInfo:
        _, v, sr = self._vdi(vol)
        kind = 1 if sr["type"].startswith("lvm") else 0
        return VolumeInfo(kind, int(v["virtual_size"]), int(v["physical_utilisation"]))

    @hookimpl
    def virtkit_vol_get_xml(self: Any, vol: VolumeRef) -> str:
        _, v, sr = self._vdi(vol)
        ro = "    <permissions><mode>0444</mode></permissions>\n" if v["read_only"] else ""
        return (f"<volume type='{'block' if sr['type'].startswith('lvm') else 'file'}'>\n"
                f"  <name>{escape(v['name_label'])}</name>\n  <key>{v['uuid']}</key>\n"
                f"  <capacity unit='bytes'>{int(v['virtual_size'])}</capacity>\n"
                f"  <allocation unit='bytes'>{int(v['physical_utilisation'])}</allocation>\n"
                f"  <target>\n    <path>{sr['uuid']}/{v['uuid']}</path>\n"
                f"    <format type='{'iso' if sr['type'] == 'iso' else 'raw'}'/>\n{ro}"
                f"  </target>\n</volume>\n")

    @hookimpl
    def virtkit_vol_create_xml(self: Any, pool: PoolRef, xml: str) -> VolumeRef:
        from virtkit.xml.storage import StorageVolume as Volume

        spec = Volume.from_xml(xml)
        check_name(spec.name)
        with self.lock:
            ref, sr = self._sr(pool)
            if any(v["name_label"] == spec.name for _, v in self._vdis(ref, sr)):
                raise VirtError(ErrorCode.STORAGE_VOL_EXIST, f"storage volume '{spec.name}' "
                                f"exists already in pool '{sr['name_label']}'",
                                ErrorDomain.STORAGE)
            fmt = spec.target.format.type if spec.target and spec.target.format else None
            if fmt not in (None, "raw", "vhd"):
                raise VirtError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: "
                                f"volume format '{fmt}' (XenAPI VDIs are raw or vhd)",
                                ErrorDomain.STORAGE)
            vdi = self.session.call("VDI.create", {
                "SR": ref, "name_label": spec.name, "name_description": "",
                "virtual_size": str(int(spec.capacity or 0)), "type": "user",
                "sharable": False, "read_only": False, "other_config": {},
                "xenstore_data": {}, "sm_config": {}, "tags": []},
                what=f"creating volume '{spec.name}' in pool '{sr['name_label']}'")
            v = self.session.call("VDI.get_record", vdi, what=f"reading '{spec.name}'")
            return _volref(sr, v)

    @hookimpl
    def virtkit_vol_delete(self: Any, vol: VolumeRef) -> bool:
        with self.lock:
            ref, v, _ = self._vdi(vol)
            self.session.call("VDI.destroy", ref, what=f"deleting volume '{v['name_label']}'")
            return True

    @hookimpl
    def virtkit_vol_resize(self: Any, vol: VolumeRef, capacity: int, allocate: bool,
                           delta: bool, shrink: bool) -> bool:
        with self.lock:
            ref, v, _ = self._vdi(vol)
            size = int(v["virtual_size"]) + capacity if delta else capacity
            if size < int(v["virtual_size"]) and not shrink:
                raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: cannot shrink "
                                f"volume '{v['name_label']}' without the shrink flag",
                                ErrorDomain.STORAGE)
            self.session.call("VDI.resize", ref, str(size),
                              what=f"resizing volume '{v['name_label']}'")
            return True

    # -- networks -------------------------------------------------------------------------------

    def _nets(self: Any) -> dict[str, dict[str, Any]]:
        return dict(self.session.call("network.get_all_records", what="listing networks"))

    def _net(self: Any, net: NetworkRef) -> tuple[str, dict[str, Any]]:
        for ref, n in self._nets().items():
            if (net.uuid and n["uuid"] == net.uuid) or (not net.uuid and n["name_label"] ==
                                                         net.name):
                return ref, n
        raise no_network(f"name '{net.name}'")

    @hookimpl
    def virtkit_network_list(self: Any) -> list[NetworkSummary]:
        return [NetworkSummary(NetworkRef(n["name_label"], n["uuid"]), True, True, True,
                               n["bridge"]) for n in self._nets().values()]

    @hookimpl
    def virtkit_network_get_summary(self: Any, net: NetworkRef) -> NetworkSummary:
        _, n = self._net(net)
        return NetworkSummary(NetworkRef(n["name_label"], n["uuid"]), True, True, True,
                              n["bridge"])

    @hookimpl
    def virtkit_network_lookup_by_name(self: Any, name: str) -> NetworkRef:
        _, n = self._net(NetworkRef(name, ""))
        return NetworkRef(n["name_label"], n["uuid"])

    @hookimpl
    def virtkit_network_lookup_by_uuid(self: Any, uuid: str) -> NetworkRef:
        for n in self._nets().values():
            if n["uuid"] == uuid:
                return NetworkRef(n["name_label"], n["uuid"])
        raise no_network(f"uuid '{uuid}'")

    @hookimpl
    def virtkit_network_get_xml(self: Any, net: NetworkRef, inactive: bool) -> str:
        _, n = self._net(net)
        return (f"<network>\n  <name>{escape(n['name_label'])}</name>\n"
                f"  <uuid>{n['uuid']}</uuid>\n  <bridge name='{escape(n['bridge'])}'/>\n"
                f"  <mtu size='{int(n.get('MTU', '1500'))}'/>\n</network>\n")

    @hookimpl
    def virtkit_network_get_autostart(self: Any, net: NetworkRef) -> bool:
        self._net(net)
        return True

    @hookimpl
    def virtkit_network_define_xml(self: Any, xml: str) -> NetworkRef:
        from virtkit.xml.network import Network

        spec = Network.from_xml(xml)
        with self.lock:
            for n in self._nets().values():
                if n["name_label"] == spec.name:
                    raise VirtError(ErrorCode.OPERATION_FAILED, f"network '{spec.name}' "
                                    "already exists", ErrorDomain.NETWORK)
            if spec.forward is not None or spec.ips:
                raise VirtError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: "
                                f"network '{spec.name}': XenAPI networks have no <forward> or "
                                "<ip> (they are bridges; XenAPI runs no DHCP)",
                                ErrorDomain.NETWORK)
            ref = self.session.call("network.create", {
                "name_label": spec.name, "name_description": "", "MTU": "1500",
                "other_config": {}, "tags": []}, what=f"creating network '{spec.name}'")
            n = self.session.call("network.get_record", ref, what=f"reading '{spec.name}'")
            return NetworkRef(n["name_label"], n["uuid"])

    @hookimpl
    def virtkit_network_undefine(self: Any, net: NetworkRef) -> bool:
        with self.lock:
            ref, n = self._net(net)
            self.session.call("network.destroy", ref,
                              what=f"removing network '{n['name_label']}'")
            return True


def _volref(sr: dict[str, Any], vdi: dict[str, Any]) -> VolumeRef:
    return VolumeRef(sr["name_label"], vdi["name_label"], vdi["uuid"],
                     f"{sr['uuid']}/{vdi['uuid']}")
