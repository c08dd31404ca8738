"""Group ``nodedev``: host devices (libvirt's virNodeDevice).

The tests use what the host has: a vHBA is created only on an NPIV-capable HBA the listing
shows, an mdev only on a parent offering mediated device types, and PCI detach/reset/reattach
only on the device the driver names as safe for it in its ``nodedev_passthrough_device``
capability (a real host's devices are never detached behind its owner's back). Without those
the test reports "not supported".
"""

from __future__ import annotations

import uuid as uuidlib
from typing import ClassVar

import pytest
from lxml import etree

from virtkit.sdk.errors import ErrorCode as C

from .. import NOT_SUPPORTED
from ..kit import Kit, expect_error

LIST_OPS = ("nodedev_list", "nodedev_lookup_by_name", "nodedev_get_xml", "nodedev_get_summary")


def _xml(dev: object) -> etree._Element:
    return etree.fromstring(dev.xml_desc().encode())  # type: ignore[attr-defined]


class TestNodeDevices:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("nodedev"), pytest.mark.ops(*LIST_OPS)]

    def test_list_lookup_and_xml(self, vk: Kit) -> None:
        devices = vk.conn.list_all_devices()
        assert devices, "a host has at least its root device"
        names = {d.name for d in devices}
        for dev in devices:
            assert vk.conn.node_device_lookup_by_name(dev.name) == dev
            root = _xml(dev)
            assert root.tag == "device" and root.findtext("name") == dev.name
            parent = dev.parent()
            assert parent is None or parent in names, f"{dev.name}: parent {parent} not listed"
            for cap in dev.list_caps():
                assert dev.name in vk.conn.list_devices(cap)
        expect_error(C.NO_NODE_DEVICE, vk.conn.node_device_lookup_by_name, vk.name("nodev"))

    @pytest.mark.ops("nodedev_create_xml", "nodedev_destroy", "nodedev_lookup_scsi_host_by_wwn")
    def test_vhba_create_and_destroy(self, vk: Kit) -> None:
        hbas = vk.conn.list_all_devices(["vports"])
        if not hbas:
            pytest.skip(f"{NOT_SUPPORTED} no NPIV-capable HBA on this host")
        hba = hbas[0]
        nn, pn = "5001a4ac" + uuidlib.uuid4().hex[:8], "5001a4bc" + uuidlib.uuid4().hex[:8]
        vhba = vk.conn.node_device_create_xml(
            f"<device><parent>{hba.name}</parent><capability type='scsi_host'>"
            f"<capability type='fc_host'><wwnn>{nn}</wwnn><wwpn>{pn}</wwpn></capability>"
            f"</capability></device>")
        vk.track(lambda: vhba.destroy() if vhba.name in vk.conn.list_devices() else None)
        assert vhba.parent() == hba.name and vhba.is_active()
        assert vk.conn.node_device_lookup_scsi_host_by_wwn(nn, pn) == vhba
        vhba.destroy()
        expect_error(C.NO_NODE_DEVICE, vk.conn.node_device_lookup_scsi_host_by_wwn, nn, pn)

    @pytest.mark.ops("nodedev_define_xml", "nodedev_create", "nodedev_destroy",
                     "nodedev_undefine")
    def test_mdev_define_start_stop_undefine(self, vk: Kit) -> None:
        dev = vk.conn.node_device_define_xml(_mdev_xml(vk))

        def cleanup() -> None:
            if dev.name in vk.conn.list_devices():
                if dev.is_active():
                    dev.destroy()
                if dev.name in vk.conn.list_devices() and dev.is_persistent():
                    dev.undefine()

        vk.track(cleanup)
        assert dev.is_persistent() and not dev.is_active()
        dev.create()
        assert dev.is_active()
        expect_error(C.OPERATION_INVALID, dev.create)
        dev.destroy()
        assert not dev.is_active()
        dev.undefine()
        assert dev.name not in vk.conn.list_devices()

    @pytest.mark.ops("nodedev_define_xml", "nodedev_undefine", "nodedev_get_autostart",
                     "nodedev_set_autostart")
    def test_mdev_autostart(self, vk: Kit) -> None:
        dev = vk.conn.node_device_define_xml(_mdev_xml(vk))
        vk.track(lambda: dev.undefine() if dev.name in vk.conn.list_devices() else None)
        assert dev.autostart is False
        dev.set_autostart(True)
        assert dev.autostart is True
        dev.set_autostart(False)
        assert dev.autostart is False
        root = vk.conn.list_all_devices()[0]
        if not root.is_persistent():
            expect_error(C.OPERATION_INVALID, root.set_autostart, True)
        dev.undefine()

    @pytest.mark.ops("nodedev_detach", "nodedev_reattach", "nodedev_reset")
    def test_pci_detach_reset_reattach(self, vk: Kit) -> None:
        name = vk.conn.capabilities.get("nodedev_passthrough_device")
        if not name:
            pytest.skip(f"{NOT_SUPPORTED} the driver names no PCI device safe to detach "
                        f"(capability nodedev_passthrough_device)")
        dev = vk.conn.node_device_lookup_by_name(str(name))
        dev.dettach()
        try:
            dev.reset()
        finally:
            dev.re_attach()


def _mdev_xml(vk: Kit) -> str:
    """A new mediated device's definition on the first device that offers mdev types, of the
    first type it offers (not supported when no device offers any)."""
    parents = vk.conn.list_all_devices(["mdev_types"])
    if not parents:
        pytest.skip(f"{NOT_SUPPORTED} no device offers mediated device types")
    parent = parents[0]
    offered = _xml(parent).find(".//capability[@type='mdev_types']/type")
    assert offered is not None, f"{parent.name} lists mdev_types without a <type>"
    return (f"<device><parent>{parent.name}</parent><capability type='mdev'>"
            f"<type id='{offered.get('id')}'/><uuid>{uuidlib.uuid4()}</uuid></capability>"
            f"</device>")
