"""isUpdated, controlInfo, diskErrors and messages on the test driver: libvirt's test driver's
disk errors, QEMU's control states and cdrom taint, and the refusals for an inactive guest."""

from __future__ import annotations

import threading
import time

import pytest
from vktest import expect as _expect

import virtkit
from virtkit.sdk.errors import ErrorCode

CDROM = ("<disk type='block' device='cdrom'><source dev='/dev/sr0'/>"
         "<target dev='sda' bus='sata'/><readonly/></disk>")
DISK = "<disk type='file' device='disk'><source file='/guest/b'/><target dev='vdb'/></disk>"


@pytest.fixture
def conn() -> virtkit.Connection:
    return virtkit.open("test:///default")  # fresh for each test (conftest)


@pytest.mark.hook("domain_is_updated")
def test_is_updated_follows_the_persistent_definition(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    assert dom.is_updated() is False
    dom.attach_device(DISK, live=True)
    assert dom.is_updated() is False, "a live-only change is no update of the definition"
    dom.set_lifecycle_action("crash", "restart", config=True)
    assert dom.is_updated() is True
    dom.destroy()
    assert dom.is_updated() is False, "inactive"
    dom.create()
    assert dom.is_updated() is False, "the new boot runs the changed definition"
    conn.define_xml(dom.xml_desc(inactive=True).replace("2097152", "1048576"))
    assert dom.is_updated() is True


@pytest.mark.hook("domain_get_disk_errors")
def test_disk_errors_as_libvirts_test_driver(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    assert dom.disk_errors() == {"vda": 1}
    dom.attach_device(DISK)
    dom.attach_device(DISK.replace("vdb", "vdc").replace("/b", "/c"))
    assert dom.disk_errors() == {"vda": 1, "vdb": 2, "vdc": 1}
    dom.destroy()
    err = _expect(ErrorCode.OPERATION_INVALID, dom.disk_errors)
    assert "'test'" in err.message and "not running" in err.message


@pytest.mark.hook("domain_get_control_info")
def test_control_info_ok_or_background_job(tmp_path: object) -> None:
    conn = virtkit.open("test:///default?job_seconds=1")
    dom = conn.lookup_by_name("test")
    assert tuple(dom.control_info()) == (0, 0, 0)
    seen: list[tuple[int, int, int]] = []
    failure: list[virtkit.VirtError] = []

    def save() -> None:
        try:
            dom.managed_save()
        except virtkit.VirtError as exc:
            failure.append(exc)

    worker = threading.Thread(target=save)
    worker.start()
    while worker.is_alive() and len(seen) < 4:
        info = dom.control_info()
        if info.state == 1:
            seen.append(tuple(info))
        time.sleep(0.05)
    dom.abort_job()
    worker.join(10)
    assert seen and all(state == 1 and details == 0 and ms >= 0 for state, details, ms in seen)
    assert [ms for *_, ms in seen] == sorted(ms for *_, ms in seen), "time only grows"
    assert failure and failure[0].code == ErrorCode.OPERATION_ABORTED
    assert tuple(dom.control_info()) == (0, 0, 0), "the job is over"
    dom.destroy()
    _expect(ErrorCode.OPERATION_INVALID, dom.control_info)
    conn.close()


@pytest.mark.hook("domain_get_messages")
def test_messages_report_the_cdrom_taint(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    assert dom.messages() == []
    dom.attach_device(CDROM, config=True)
    assert dom.messages() == [], "the running guest has no host cdrom yet"
    dom.destroy()
    assert dom.messages() == []
    dom.create()
    taint = ["tainted: use of host cdrom passthrough"]
    assert dom.messages() == taint
    assert dom.messages(tainting=True) == taint
    assert dom.messages(deprecation=True) == [], "the test driver deprecates nothing"
    assert dom.messages(tainting=True, deprecation=True) == taint
    dom.destroy()
    assert dom.messages() == [], "a taint lasts until the guest stops"


def test_read_only_connections_may_ask(conn: virtkit.Connection) -> None:
    ro = virtkit.open("test:///default", read_only=True)
    try:
        dom = ro.lookup_by_name("test")
        assert dom.is_updated() is False and dom.disk_errors() == {"vda": 1}
        assert tuple(dom.control_info()) == (0, 0, 0) and dom.messages() == []
    finally:
        ro.close()
