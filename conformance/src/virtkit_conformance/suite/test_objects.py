"""Groups ``storage`` (pools and volumes), ``networks`` and ``interfaces``."""

from __future__ import annotations

import contextlib
import ipaddress
import random
from typing import ClassVar

import pytest
from lxml import etree

from virtkit.api.network import NetworkEventLifecycle as NE
from virtkit.api.storage import PoolEventLifecycle as PE
from virtkit.api.storage import PoolState, StoragePool
from virtkit.sdk.errors import ErrorCode as C
from virtkit.sdk.errors import VirtError

from .. import NOT_SUPPORTED
from ..kit import Kit, expect_error, pool_xml, remove_pool, vol_xml
from ..requirements import Requirements

MiB = 1024 * 1024


POOL_OPS = ("pool_define_xml", "pool_build", "pool_create", "pool_destroy", "pool_undefine",
            "pool_list", "pool_get_info", "pool_get_xml")
VOL_OPS = ("vol_create_xml", "vol_list", "vol_lookup_by_name", "vol_get_info", "vol_delete")


class TestStorage:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("storage"), pytest.mark.ops(*POOL_OPS)]

    def test_pool_lifecycle(self, vk: Kit) -> None:
        name = vk.name("pool")
        rec = vk.recorder(kind="pool-lifecycle")
        pool = vk.conn.storage_pool_define_xml(pool_xml(name, vk.path(name)))
        vk.track(lambda: remove_pool(pool, vk.prefix))
        assert not pool.is_active() and pool.is_persistent()
        assert pool.info().state == PoolState.INACTIVE
        root = etree.fromstring(pool.xml_desc().encode())
        assert root.findtext("name") == name and root.findtext("target/path") == vk.path(name)
        pool.build()
        pool.create()
        assert pool.is_active() and pool.info().state == PoolState.RUNNING
        assert pool in vk.conn.list_storage_pools(active=True)
        expect_error(C.OPERATION_INVALID, pool.create)
        pool.destroy()
        assert not pool.is_active()
        if vk.conn.implements("pool_delete"):
            pool.delete()
            assert vk.conn.storage_pool_lookup_by_name(name) == pool, "delete keeps the pool"
        pool.undefine()
        expect_error(C.NO_STORAGE_POOL, vk.conn.storage_pool_lookup_by_name, name)
        got = [e for e, _ in rec.wait_for(4)]
        assert got[:1] == [PE.DEFINED] and PE.STARTED in got and PE.STOPPED in got
        assert got[-1] == PE.UNDEFINED

    @pytest.mark.ops(*VOL_OPS, "vol_lookup_by_key", "vol_lookup_by_path", "vol_get_xml")
    def test_volumes(self, vk: Kit, vk_pool: StoragePool) -> None:
        formats = vk.conn.driver.capabilities.get("disk_formats", ("raw",))
        for fmt in formats:
            name = vk.name(f"v{fmt}")
            vol = vk_pool.create_xml(vol_xml(name, 2 * MiB, fmt))
            assert vol.name == name and vol.info().capacity == 2 * MiB
            fmt_el = etree.fromstring(vol.xml_desc().encode()).find("target/format")
            assert fmt_el is not None and fmt_el.get("type") == fmt, "the declared format stays"
            assert vk_pool.storage_vol_lookup_by_name(name) == vol
            assert vk.conn.storage_vol_lookup_by_key(vol.key) == vol
            assert vk.conn.storage_vol_lookup_by_path(vol.path) == vol
            assert name in vk_pool.list_volume_names()
            expect_error(C.STORAGE_VOL_EXIST, vk_pool.create_xml, vol_xml(name))
            vol.delete()
            expect_error(C.NO_STORAGE_VOL, vk_pool.storage_vol_lookup_by_name, name)

    @pytest.mark.ops(*VOL_OPS, "vol_resize")
    def test_volume_resize(self, vk: Kit, vk_pool: StoragePool) -> None:
        vol = vk_pool.create_xml(vol_xml(vk.name("v"), MiB))
        vol.resize(4 * MiB)
        assert vol.info().capacity == 4 * MiB
        expect_error(C.INVALID_ARG, vol.resize, MiB)
        vol.resize(MiB, shrink=True)
        assert vol.info().capacity == MiB

    @pytest.mark.ops(*VOL_OPS, "vol_clone")
    def test_volume_clone(self, vk: Kit, vk_pool: StoragePool) -> None:
        src = vk_pool.create_xml(vol_xml(vk.name("v"), MiB))
        copy = vk_pool.create_xml_from(vol_xml(vk.name("c"), MiB), src)
        assert copy.info().capacity >= MiB and copy.name != src.name

    @pytest.mark.ops("pool_lookup_by_name", "pool_lookup_by_uuid")
    def test_pool_lookup(self, vk: Kit, vk_pool: StoragePool) -> None:
        by_name = vk.conn.storage_pool_lookup_by_name(vk_pool.name)
        by_uuid = vk.conn.storage_pool_lookup_by_uuid(vk_pool.uuid)
        assert by_name == vk_pool == by_uuid
        assert (by_uuid.name, by_name.uuid) == (vk_pool.name, vk_pool.uuid)
        expect_error(C.NO_STORAGE_POOL, vk.conn.storage_pool_lookup_by_uuid, vk.new_uuid())

    @pytest.mark.ops("pool_get_autostart", "pool_set_autostart")
    def test_pool_autostart(self, vk: Kit, vk_pool: StoragePool) -> None:
        assert vk_pool.autostart is False, "a new pool does not autostart"
        vk_pool.set_autostart(True)
        assert vk_pool.autostart is True
        assert vk_pool in vk.conn.list_storage_pools(autostart=True)
        vk_pool.set_autostart(False)
        assert vk_pool.autostart is False

    @pytest.mark.ops("pool_get_capabilities")
    def test_pool_capabilities(self, vk: Kit) -> None:
        root = etree.fromstring(vk.conn.get_storage_pool_capabilities().encode())
        assert root.tag == "storagepoolCapabilities"
        pools = {p.get("type"): p for p in root.findall("pool")}
        assert pools and all(p.get("supported") in ("yes", "no") for p in pools.values())
        for pool_type, pool in pools.items():
            for kind in ("poolOptions", "volOptions"):
                opts = pool.find(kind)
                if opts is None:
                    continue
                default = opts.find("defaultFormat")
                values = [v.text for v in opts.iter("value")]
                assert default is not None and default.get("type") in values, (pool_type, kind)
        assert pools.get("dir") is not None and pools["dir"].get("supported") == "yes", \
            "the suite's own pools are dir pools"

    @pytest.mark.ops("pool_find_sources")
    def test_find_pool_sources(self, vk: Kit) -> None:
        expect_error(C.INVALID_ARG, vk.conn.find_storage_pool_sources, "vkcert-warp")
        expect_error(C.XML_ERROR, vk.conn.find_storage_pool_sources, "netfs", "<source>")
        try:
            found = vk.conn.find_storage_pool_sources("logical")
        except VirtError as exc:
            if exc.code == C.NO_SUPPORT:
                pytest.skip(f"{NOT_SUPPORTED} no volume group discovery here: {exc}")
            raise
        root = etree.fromstring(found.encode())
        assert root.tag == "sources"
        for source in root.findall("source"):
            assert source.findtext("name"), "a volume group has a name"

    @pytest.mark.ops("pool_create_xml")
    def test_transient_pool(self, vk: Kit) -> None:
        name = vk.name("pool")
        rec = vk.recorder(kind="pool-lifecycle")
        pool = vk.conn.storage_pool_create_xml(pool_xml(name, vk.path(name)), build=True)
        vk.track(lambda: remove_pool(pool, vk.prefix))
        assert pool.is_active() and not pool.is_persistent()
        assert pool.info().state == PoolState.RUNNING
        assert vk.conn.storage_pool_lookup_by_name(name) == pool
        expect_error((C.OPERATION_FAILED, C.OPERATION_INVALID), vk.conn.storage_pool_create_xml,
                     pool_xml(name, vk.path(name)))
        pool.destroy()
        expect_error(C.NO_STORAGE_POOL, vk.conn.storage_pool_lookup_by_name, name)
        assert PE.STARTED in [e for e, _ in rec.wait_for(2)]

    @pytest.mark.ops(*VOL_OPS, "pool_refresh")
    def test_pool_refresh(self, vk: Kit, vk_pool: StoragePool) -> None:
        vol = vk_pool.create_xml(vol_xml(vk.name("v"), MiB))
        vk_pool.refresh()
        assert vol.name in vk_pool.list_volume_names(), "a refresh keeps the pool's volumes"
        assert vk_pool.is_active()
        vk_pool.destroy()
        expect_error(C.OPERATION_INVALID, vk_pool.refresh)

    @pytest.mark.ops(*VOL_OPS, "vol_wipe")
    def test_volume_wipe(self, vk: Kit, vk_pool: StoragePool,
                         virtkit_requirements: Requirements) -> None:
        vol = vk_pool.create_xml(vol_xml(vk.name("v"), MiB))
        streams = all(virtkit_requirements.supports(op) for op in
                      ("vol_upload", "vol_download", "stream_send", "stream_recv",
                       "stream_finish"))
        payload = b"\xa5" * 65536
        if streams:
            with vol.upload() as up:
                up.send_all(payload)
        vol.wipe()
        assert vol.info().capacity == MiB, "a wipe keeps the volume's size"
        if streams:
            with vol.download(0, len(payload)) as down:
                assert down.recv_all() == bytes(len(payload)), "a zero wipe leaves zeros"
        expect_error(C.INVALID_ARG, vol.wipe, "no-such-algorithm")

    @pytest.mark.ops(*VOL_OPS, "vol_translate")
    def test_volume_translate(self, vk: Kit, vk_pool: StoragePool) -> None:
        """A disk's ``<source pool volume>`` resolves to the volume's path, its declared format
        and a disk type, as a hypervisor driver asks before it starts a guest."""
        vol = vk_pool.create_xml(vol_xml(vk.name("v"), MiB))
        src = vk.conn.call("vol_translate", pool_name=vk_pool.name, volume_name=vol.name)
        assert (src.path, src.format) == (vol.path, "raw"), src
        assert src.type in ("file", "block"), src
        expect_error(C.NO_STORAGE_VOL, vk.conn.call, "vol_translate", pool_name=vk_pool.name,
                     volume_name=vk.name("novol"))
        expect_error(C.NO_STORAGE_POOL, vk.conn.call, "vol_translate",
                     pool_name=vk.name("nopool"), volume_name=vol.name)
        vk_pool.destroy()
        expect_error(C.OPERATION_INVALID, vk.conn.call, "vol_translate", pool_name=vk_pool.name,
                     volume_name=vol.name)

    @pytest.mark.ops("pool_undefine")
    def test_missing_pool(self, vk: Kit) -> None:
        expect_error(C.NO_STORAGE_POOL, vk.conn.storage_pool_lookup_by_name, vk.name("nopool"))


def net_xml(name: str, third: int) -> str:
    return (f"<network><name>{name}</name>"
            f"<ip address='10.254.{third}.1' netmask='255.255.255.0'>"
            f"<dhcp><range start='10.254.{third}.100' end='10.254.{third}.200'/></dhcp>"
            f"</ip></network>")


NET_OPS = ("network_define_xml", "network_create", "network_destroy", "network_undefine",
           "network_list", "network_get_xml", "network_lookup_by_name")


class TestNetworks:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("networks"), pytest.mark.ops(*NET_OPS)]

    def _track(self, vk: Kit, name: str) -> None:
        from ..kit import remove_network

        def cleanup() -> None:
            try:
                net = vk.conn.network_lookup_by_name(name)
            except Exception:
                return
            remove_network(net, vk.prefix)

        vk.track(cleanup)

    def test_network_lifecycle(self, vk: Kit) -> None:
        name = vk.name("net")
        self._track(vk, name)
        rec = vk.recorder(kind="network-lifecycle")
        net = vk.conn.network_define_xml(net_xml(name, random.randint(1, 250)))
        assert not net.is_active() and net.is_persistent()
        assert vk.conn.network_lookup_by_uuid(net.uuid) == net
        assert vk.conn.network_lookup_by_name(name) == net
        root = etree.fromstring(net.xml_desc().encode())
        assert root.findtext("name") == name and root.findtext("uuid") == net.uuid
        net.create()
        assert net.is_active() and net in vk.conn.list_networks(active=True)
        expect_error(C.OPERATION_INVALID, net.create)
        net.destroy()
        assert not net.is_active()
        net.undefine()
        expect_error(C.NO_NETWORK, vk.conn.network_lookup_by_name, name)
        got = [e for e, _ in rec.wait_for(4)]
        assert got == [NE.DEFINED, NE.STARTED, NE.STOPPED, NE.UNDEFINED]

    @pytest.mark.ops("network_create_xml")
    def test_transient_network(self, vk: Kit) -> None:
        name = vk.name("net")
        self._track(vk, name)
        net = vk.conn.network_create_xml(net_xml(name, random.randint(1, 250)))
        assert net.is_active() and not net.is_persistent()
        net.destroy()
        expect_error(C.NO_NETWORK, vk.conn.network_lookup_by_name, name)

    def test_name_clash(self, vk: Kit) -> None:
        name = vk.name("net")
        self._track(vk, name)
        vk.conn.network_define_xml(net_xml(name, 3))
        clash = net_xml(name, 4).replace("<name>", f"<uuid>{vk.new_uuid()}</uuid><name>")
        expect_error(C.OPERATION_FAILED, vk.conn.network_define_xml, clash)

    @pytest.mark.ops("network_set_autostart", "network_get_autostart")
    def test_autostart(self, vk: Kit) -> None:
        name = vk.name("net")
        self._track(vk, name)
        net = vk.conn.network_define_xml(net_xml(name, 5))
        net.set_autostart(True)
        assert net.autostart is True
        net.set_autostart(False)
        assert net.autostart is False

    @pytest.mark.ops("network_get_dhcp_leases")
    def test_dhcp_leases(self, vk: Kit) -> None:
        name, third = vk.name("net"), random.randint(1, 250)
        self._track(vk, name)
        mac = vk.mac()
        xml = net_xml(name, third).replace(
            "</dhcp>", f"<host mac='{mac}' ip='10.254.{third}.150'/></dhcp>")
        net = vk.conn.network_create_xml(xml) if vk.conn.implements("network_create_xml") \
            else vk.conn.network_define_xml(xml)
        if not net.is_active():
            net.create()
        subnet = ipaddress.ip_network(f"10.254.{third}.0/24")
        leases = net.dhcp_leases()
        assert isinstance(leases, list)
        for lease in leases:
            assert ipaddress.ip_address(lease.ipaddr) in subnet, lease
            assert lease.ip_type == 0 and 0 < lease.prefix <= 32, lease
        mine = net.dhcp_leases(mac)
        assert all(lease.mac.lower() == mac for lease in mine), "leases filtered by MAC"
        assert {lease.ipaddr for lease in mine} <= {lease.ipaddr for lease in leases}
        net.destroy()
        if vk.conn.implements("network_undefine"):
            with contextlib.suppress(VirtError):
                net.undefine()

    @pytest.mark.ops("network_port_create_xml", "network_port_lookup_by_uuid",
                     "network_list_ports", "network_port_get_xml", "network_port_get_plug",
                     "network_port_delete")
    def test_network_ports(self, vk: Kit) -> None:
        """A guest interface's port: created on an active network, found, its plug given as
        plain data, deleted; refused on an inactive network."""
        name = vk.name("net")
        self._track(vk, name)
        net = vk.conn.network_define_xml(net_xml(name, random.randint(1, 250)))
        net.create()
        mac, owner, owner_uuid, uuid = vk.mac(), vk.name("o"), vk.new_uuid(), vk.new_uuid()
        xml = (f"<networkport><uuid>{uuid}</uuid><owner><name>{owner}</name>"
               f"<uuid>{owner_uuid}</uuid></owner><mac address='{mac}'/></networkport>")
        port = net.port_create_xml(xml)
        assert port.uuid == uuid and port in net.list_ports()
        assert net.port_lookup_by_uuid(uuid) == port
        expect_error(C.NETWORK_PORT_EXIST, net.port_create_xml, xml)
        root = etree.fromstring(port.xml_desc().encode())
        assert root.tag == "networkport" and root.findtext("uuid") == uuid
        assert root.findtext("owner/uuid") == owner_uuid
        assert str(root.find("mac").get("address")).lower() == mac  # type: ignore[union-attr]
        assert root.find("plug") is not None, "the port's XML holds the plug the network chose"
        plug = port.plug()
        assert (plug.mac.lower(), plug.owner_name, plug.owner_uuid) == (mac, owner, owner_uuid)
        assert plug.plug_type in ("network", "bridge", "none"), plug.plug_type
        assert plug.plug_type == "none" or plug.bridge, "a network or bridge plug names a bridge"
        port.delete()
        assert port not in net.list_ports()
        expect_error(C.NO_NETWORK_PORT, net.port_lookup_by_uuid, uuid)
        expect_error(C.NO_NETWORK_PORT, port.delete)
        net.destroy()
        expect_error(C.OPERATION_INVALID, net.port_create_xml, xml)

    def test_missing_network(self, vk: Kit) -> None:
        expect_error(C.NO_NETWORK, vk.conn.network_lookup_by_name, vk.name("nonet"))


IFACE_OPS = ("interface_list", "interface_lookup_by_name", "interface_get_xml")


class TestInterfaces:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("interfaces"), pytest.mark.ops(*IFACE_OPS)]

    def test_list_and_lookup(self, vk: Kit) -> None:
        for iface in vk.conn.list_interfaces():
            assert vk.conn.interface_lookup_by_name(iface.name) == iface
            root = etree.fromstring(iface.xml_desc().encode())
            assert root.tag == "interface" and root.get("name") == iface.name
            if iface.mac and vk.conn.implements("interface_lookup_by_mac"):
                assert vk.conn.interface_lookup_by_mac(iface.mac).mac == iface.mac
        expect_error(C.NO_INTERFACE, vk.conn.interface_lookup_by_name, vk.name("noif"))

    @pytest.mark.ops("interface_define_xml", "interface_create", "interface_destroy",
                     "interface_undefine")
    def test_define_start_stop_undefine(self, vk: Kit) -> None:
        # a bridge: a real host can start it (it is made at start and removed at stop), where an
        # ethernet definition needs a device that exists
        name = f"{vk.prefix}i{random.randint(100, 999)}"
        iface = vk.conn.interface_define_xml(
            f"<interface type='bridge' name='{name}'><bridge stp='off'/></interface>")

        def cleanup() -> None:
            try:
                vk.conn.interface_lookup_by_name(name).undefine()
            except Exception:
                pass

        vk.track(cleanup)
        assert iface.name == name and not iface.is_active()
        iface.create()
        assert iface.is_active()
        expect_error(C.OPERATION_INVALID, iface.create)
        iface.destroy()
        assert not iface.is_active()
        expect_error(C.OPERATION_INVALID, iface.destroy)
        iface.undefine()
        expect_error(C.NO_INTERFACE, vk.conn.interface_lookup_by_name, name)

    @pytest.mark.ops("interface_change_begin", "interface_change_commit",
                     "interface_change_rollback", "interface_define_xml", "interface_undefine")
    def test_change_transactions(self, vk: Kit) -> None:
        """iface-begin / iface-rollback undoes a definition; iface-begin / iface-commit keeps
        one; only one transaction is open at a time."""
        conn = vk.conn

        def rollback_if_open() -> None:
            with contextlib.suppress(VirtError):
                conn.interface_change_rollback()

        def undefine(name: str) -> None:
            with contextlib.suppress(VirtError):
                conn.interface_lookup_by_name(name).undefine()

        def ethernet(name: str) -> str:
            return f"<interface type='ethernet' name='{name}'><mac address='{vk.mac()}'/>" \
                   "</interface>"

        undone, kept = (f"{vk.prefix}i{n}" for n in random.sample(range(100, 1000), 2))
        conn.interface_change_begin()
        vk.track(rollback_if_open)
        vk.track(lambda: undefine(kept))
        vk.track(lambda: undefine(undone))
        expect_error(C.OPERATION_INVALID, conn.interface_change_begin)
        conn.interface_define_xml(ethernet(undone))
        conn.interface_change_rollback()
        expect_error(C.NO_INTERFACE, conn.interface_lookup_by_name, undone)
        expect_error(C.OPERATION_INVALID, conn.interface_change_rollback)
        conn.interface_change_begin()
        conn.interface_define_xml(ethernet(kept))
        conn.interface_change_commit()
        assert conn.interface_lookup_by_name(kept).name == kept, "a committed change stays"
        expect_error(C.OPERATION_INVALID, conn.interface_change_commit)
