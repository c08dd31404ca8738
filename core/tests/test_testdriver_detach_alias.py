"""detachDeviceAlias on the test driver: the device with that alias leaves the chosen
definitions (both or neither), a live removal emits device-removed, and refusals name the
alias and the domain and change nothing."""

from __future__ import annotations

import pytest
from vktest import expect as _expect
from vktest import inbox

import virtkit
from virtkit.sdk.errors import ErrorCode

DISK = ("<disk type='file' device='disk'><source file='/guest/b'/><target dev='vdb'/>"
        "<alias name='ua-data'/></disk>")
NIC = ("<interface type='network'><mac address='52:54:00:00:00:07'/><source network='default'/>"
       "<alias name='ua-net'/></interface>")
VIDEO = "<video><model type='vga'/><alias name='ua-video'/></video>"


@pytest.fixture
def conn() -> virtkit.Connection:
    return virtkit.open("test:///default")  # fresh for each test (conftest)


@pytest.mark.hook("domain_detach_device_alias")
def test_detach_by_alias_live_and_config(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    box = inbox(conn, "domain-device-removed")
    dom.attach_device(DISK, live=True, config=True)
    dom.attach_device(NIC, live=True)
    dom.detach_device_alias("ua-net")  # running: the live definition
    assert "ua-net" not in dom.xml_desc()
    event = box.get(timeout=5)
    assert event.obj.name == "test" and event.device == "ua-net"
    dom.detach_device_alias("ua-data", live=True, config=True)
    assert "ua-data" not in dom.xml_desc() and "ua-data" not in dom.xml_desc(inactive=True)


def test_refusals_change_nothing(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    dom.attach_device(DISK, live=True)  # live only
    live, config = dom.xml_desc(), dom.xml_desc(inactive=True)
    err = _expect(ErrorCode.DEVICE_MISSING, dom.detach_device_alias, "ua-data", live=True,
                  config=True)
    assert "'ua-data'" in err.message and "'test'" in err.message and "persistent" in err.message
    assert (dom.xml_desc(), dom.xml_desc(inactive=True)) == (live, config), "both or neither"
    _expect(ErrorCode.INVALID_ARG, dom.detach_device_alias, "")
    dom.attach_device(VIDEO, config=True)
    dom.destroy()
    dom.create()
    err = _expect(ErrorCode.OPERATION_UNSUPPORTED, dom.detach_device_alias, "ua-video")
    assert "video" in err.message
    dom.detach_device_alias("ua-video", config=True)
    assert "ua-video" in dom.xml_desc() and "ua-video" not in dom.xml_desc(inactive=True)
    dom.destroy()
    _expect(ErrorCode.OPERATION_INVALID, dom.detach_device_alias, "ua-video", live=True)
    ro = virtkit.open("test:///default", read_only=True)
    try:
        _expect(ErrorCode.OPERATION_DENIED, ro.lookup_by_name("test").detach_device_alias, "x")
    finally:
        ro.close()
