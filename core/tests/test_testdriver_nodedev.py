"""Host devices of the test driver through the facade: listing, lookup, mdev, vHBA, PCI."""

from __future__ import annotations

import threading
import uuid as uuidlib
from collections.abc import Iterator

import pytest
from lxml import etree

import virtkit
from virtkit.api.nodedev import NodeDeviceEventLifecycle as NE
from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.sdk.records import Event


@pytest.fixture
def conn() -> Iterator[virtkit.Connection]:
    c = virtkit.open("test:///default")
    yield c
    c.close()


def _mdev_xml(uuid: str, mdev_type: str = "i915-GVTg_V5_4") -> str:
    return (f"<device><parent>pci_0000_00_02_0</parent><capability type='mdev'>"
            f"<type id='{mdev_type}'/><uuid>{uuid}</uuid></capability></device>")


VHBA = ("<device><parent>scsi_host1</parent><capability type='scsi_host'>"
        "<capability type='fc_host'><wwnn>{nn}</wwnn><wwpn>{pn}</wwpn></capability>"
        "</capability></device>")


@pytest.mark.hook("nodedev_list", "nodedev_get_summary", "nodedev_lookup_by_name",
                  "nodedev_get_xml")
def test_default_tree(conn: virtkit.Connection) -> None:
    names = conn.list_devices()
    assert {"computer", "pci_0000_00_02_0", "scsi_host1", "scsi_host2"} <= set(names)
    assert conn.list_devices("pci") == ["pci_0000_00_02_0", "pci_0000_00_1f_2"]
    assert conn.num_of_devices("vports") == 2
    dev = conn.node_device_lookup_by_name("scsi_host1")
    assert dev.parent() == "pci_0000_00_1f_2"
    assert dev.list_caps() == ["scsi_host", "fc_host", "vports"] and dev.num_of_caps() == 3
    assert conn.node_device_lookup_by_name("computer").parent() is None
    root = etree.fromstring(dev.xml_desc().encode())
    assert root.findtext("name") == "scsi_host1" and root.findtext("parent") == "pci_0000_00_1f_2"
    assert root.findtext("capability/capability[@type='fc_host']/wwnn") == "2000000012341234"
    with pytest.raises(VirtError) as err:
        conn.node_device_lookup_by_name("pci_nope")
    assert err.value.code == ErrorCode.NO_NODE_DEVICE and "pci_nope" in str(err.value)
    with pytest.raises(VirtError) as err:
        conn.list_all_devices(["warpdrive"])
    assert err.value.code == ErrorCode.INVALID_ARG and "warpdrive" in str(err.value)


@pytest.mark.hook("nodedev_create_xml", "nodedev_lookup_scsi_host_by_wwn", "nodedev_destroy")
def test_vhba_create_lookup_destroy(conn: virtkit.Connection) -> None:
    nn, pn = "5001a4aaaaaaaaaa", "5001a4bbbbbbbbbb"
    events: list[Event] = []
    done = threading.Event()
    cb = conn.event_register("nodedev-lifecycle",
                             lambda ev: (events.append(ev), done.set()))
    vhba = conn.node_device_create_xml(VHBA.format(nn=nn, pn=pn))
    assert vhba.name.startswith("scsi_host") and vhba.is_active() and not vhba.is_persistent()
    assert conn.node_device_lookup_scsi_host_by_wwn(nn, pn) == vhba
    assert conn.node_device_lookup_scsi_host_by_wwn(
        "2000000012341234", "1000000012341234").name == "scsi_host1"
    hba = etree.fromstring(conn.node_device_lookup_by_name("scsi_host1").xml_desc().encode())
    assert hba.findtext(".//vports") == "1"
    with pytest.raises(VirtError) as err:
        conn.node_device_create_xml(VHBA.format(nn=nn, pn=pn))
    assert err.value.code == ErrorCode.OPERATION_FAILED
    vhba.destroy()
    with pytest.raises(VirtError) as err:
        conn.node_device_lookup_scsi_host_by_wwn(nn, pn)
    assert err.value.code == ErrorCode.NO_NODE_DEVICE
    hba = etree.fromstring(conn.node_device_lookup_by_name("scsi_host1").xml_desc().encode())
    assert hba.findtext(".//vports") == "0"
    assert done.wait(5)
    conn.event_deregister(cb)
    assert events[0].event == NE.CREATED and events[0].obj.name == vhba.name
    with pytest.raises(VirtError) as err:
        conn.node_device_lookup_by_name("computer").destroy()
    assert err.value.code == ErrorCode.OPERATION_INVALID and "computer" in str(err.value)
    with pytest.raises(VirtError) as err:
        conn.node_device_define_xml(VHBA.format(nn=nn, pn=pn))
    assert err.value.code == ErrorCode.OPERATION_UNSUPPORTED


@pytest.mark.hook("nodedev_define_xml", "nodedev_create", "nodedev_undefine")
def test_mdev_define_start_stop_undefine(conn: virtkit.Connection) -> None:
    uuid = str(uuidlib.uuid4())
    dev = conn.node_device_define_xml(_mdev_xml(uuid))
    assert dev.name == f"mdev_{uuid.replace('-', '_')}_0000_00_02_0"
    assert dev.is_persistent() and not dev.is_active() and dev.list_caps() == ["mdev"]
    dev.create()
    assert dev.is_active()
    with pytest.raises(VirtError) as err:
        dev.create()
    assert err.value.code == ErrorCode.OPERATION_INVALID
    dev.destroy()
    assert not dev.is_active() and dev.name in conn.list_devices("mdev")
    dev.undefine()
    assert dev.name not in conn.list_devices()
    with pytest.raises(VirtError) as err:
        conn.node_device_create_xml(_mdev_xml(uuid, "no-such-type"))
    assert err.value.code == ErrorCode.INVALID_ARG and "no-such-type" in str(err.value)
    with pytest.raises(VirtError) as err:
        conn.node_device_create_xml("<device><capability type='pci'/></device>")
    assert err.value.code == ErrorCode.XML_ERROR


@pytest.mark.hook("nodedev_get_autostart", "nodedev_set_autostart")
def test_autostart_of_a_defined_mdev(conn: virtkit.Connection) -> None:
    uuid = str(uuidlib.uuid4())
    dev = conn.node_device_define_xml(_mdev_xml(uuid))
    assert dev.autostart is False
    dev.set_autostart(1)
    assert dev.autostart is True and dev.summary().autostart
    assert [s.autostart for s in conn.list_all_device_summaries(["mdev"])
            if s.ref.name == dev.name] == [True]
    dev.create()
    dev.destroy()
    assert dev.autostart, "starting and stopping keep the flag"
    conn.node_device_define_xml(_mdev_xml(uuid))
    assert dev.autostart, "a redefinition keeps the flag"
    dev.set_autostart(False)
    assert not dev.autostart
    dev.set_autostart(True)
    dev.create()
    dev.undefine()  # active, so it stays as a transient device, without autostart
    assert dev.is_active() and not dev.is_persistent() and not dev.autostart
    with pytest.raises(VirtError) as err:
        dev.set_autostart(True)
    assert err.value.code == ErrorCode.OPERATION_INVALID and dev.name in str(err.value)
    assert not dev.autostart, "a refused call changes nothing"
    dev.destroy()
    for name in ("computer", "scsi_host1"):
        host = conn.node_device_lookup_by_name(name)
        assert host.autostart is False
        with pytest.raises(VirtError) as err:
            host.set_autostart(True)
        assert err.value.code == ErrorCode.OPERATION_INVALID and name in str(err.value)
    with pytest.raises(VirtError) as err:
        _ = dev.autostart
    assert err.value.code == ErrorCode.NO_NODE_DEVICE and dev.name in str(err.value)


@pytest.mark.hook("nodedev_detach", "nodedev_reattach", "nodedev_reset")
def test_pci_detach_reset_reattach(conn: virtkit.Connection) -> None:
    dev = conn.node_device_lookup_by_name("pci_0000_00_1f_2")
    assert dev.summary().driver == "ahci"
    with pytest.raises(VirtError) as err:
        dev.reset()
    assert err.value.code == ErrorCode.OPERATION_INVALID and "detach" in str(err.value)
    dev.dettach()
    try:
        assert dev.summary().driver == "vfio-pci"
        dev.reset()
    finally:
        dev.re_attach()
    assert dev.summary().driver == "ahci"
    with pytest.raises(VirtError) as err:
        conn.node_device_lookup_by_name("scsi_host1").dettach()
    assert err.value.code == ErrorCode.OPERATION_INVALID
    with pytest.raises(VirtError) as err:
        dev.detach_flags("bogus")
    assert err.value.code == ErrorCode.INVALID_ARG


def test_read_only_connection_lists_but_cannot_change() -> None:
    ro = virtkit.open("test:///default", read_only=True)
    try:
        assert "computer" in ro.list_devices()
        with pytest.raises(VirtError) as err:
            ro.node_device_lookup_by_name("pci_0000_00_02_0").dettach()
        assert err.value.code == ErrorCode.OPERATION_DENIED
        assert ro.node_device_lookup_by_name("computer").autostart is False
        with pytest.raises(VirtError) as err:
            ro.node_device_lookup_by_name("computer").set_autostart(False)
        assert err.value.code == ErrorCode.OPERATION_DENIED
    finally:
        ro.close()
