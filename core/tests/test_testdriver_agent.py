"""The test driver's guest agent through the facade: filesystems, clock, users, guest info,
hostname, the guest's vcpus, agent lifecycle and rtc-change events, and the refusals around them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vktest import expect as _expect

import virtkit
from virtkit.sdk import domain_events as ev
from virtkit.sdk.errors import ErrorCode

GUEST = """<domain type='test'><name>g1</name><memory>1048576</memory><vcpu>2</vcpu>
<os><type>hvm</type></os><devices>
<disk type='file' device='disk'><source file='/img/g1.img'/><target dev='vda'/></disk>
<disk type='file' device='disk'><source file='/img/g1-data.img'/><target dev='vdb'/></disk>
<interface type='network'><mac address='52:54:00:00:00:07'/><source network='default'/></interface>
</devices></domain>"""


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[virtkit.Connection]:
    node = tmp_path / "node.xml"
    node.write_text(f"<node>{GUEST}</node>")
    c = virtkit.open(f"test://{node}")
    yield c
    c.close()


def _running(conn: virtkit.Connection) -> virtkit.Domain:
    """g1, running (a node file's domains start running, as libvirt's do)."""
    dom = conn.lookup_by_name("g1")
    if not dom.is_active():
        dom.create()
    return dom




@pytest.mark.hook("domain_fs_freeze", "domain_fs_thaw", "domain_get_fs_info", "domain_fs_trim")
def test_filesystems_freeze_thaw_trim(conn: virtkit.Connection) -> None:
    dom = _running(conn)
    assert [tuple(fs) for fs in dom.fs_info()] == [
        ("/", "vda1", "ext4", ["vda"]), ("/boot", "vda2", "ext4", ["vda"]),
        ("/srv/vdb", "vdb1", "xfs", ["vdb"])]
    assert dom.fs_freeze(["/boot"]) == 1
    assert dom.fs_freeze() == 2  # / and /srv/vdb; /boot was frozen already
    _expect(ErrorCode.OPERATION_INVALID, dom.fs_trim)
    _expect(ErrorCode.OPERATION_INVALID, dom.set_time, {"seconds": 10, "nseconds": 0})
    _expect(ErrorCode.INVALID_ARG, dom.fs_freeze, ["/nope"])
    assert dom.fs_thaw(["/"]) == 1
    assert dom.fs_thaw() == 2
    assert dom.fs_thaw() == 0
    dom.fs_trim("/", minimum=4096)
    _expect(ErrorCode.INVALID_ARG, dom.fs_trim, "/", minimum=-1)
    dom.fs_freeze()
    dom.destroy()
    dom.create()  # frozen filesystems thaw when the guest stops
    assert dom.fs_thaw() == 0


@pytest.mark.hook("domain_get_time", "domain_set_time")
def test_clock_and_rtc_change_event(conn: virtkit.Connection) -> None:
    dom = _running(conn)
    assert dom.get_time() == {"seconds": 627319920, "nseconds": 0}  # libvirt's test clock
    got: list[tuple[Any, ...]] = []
    done = threading.Event()
    cid = conn.domain_event_register_any(
        dom, 2, lambda c, d, offset, opaque: (got.append((d.name, offset, opaque)), done.set()),
        "op")
    dom.set_time({"seconds": 1_000_000_000, "nseconds": 5})
    assert dom.get_time() == {"seconds": 1_000_000_000, "nseconds": 5}
    assert done.wait(5)
    assert got[0][0] == "g1" and got[0][2] == "op" and got[0][1] < -700_000_000
    dom.set_time(sync=True)
    import time
    assert abs(dom.get_time()["seconds"] - time.time()) < 5
    conn.domain_event_deregister_any(cid)
    _expect(ErrorCode.INVALID_ARG, dom.set_time, {"seconds": 1, "nseconds": 10**9})
    _expect(ErrorCode.INVALID_ARG, dom.set_time, {"seconds": -1})
    _expect(ErrorCode.OPERATION_INVALID, dom.set_time)


@pytest.mark.hook("domain_set_user_password", "domain_agent_set_response_timeout")
def test_user_password_kept_only_as_digest(conn: virtkit.Connection) -> None:
    dom = _running(conn)
    dom.agent_set_response_timeout(5)
    dom.set_user_password("root", "hunter2")
    _expect(ErrorCode.OPERATION_FAILED, dom.set_user_password, "nobody", "x")
    _expect(ErrorCode.INVALID_ARG, dom.set_user_password, "a:b", "x")
    _expect(ErrorCode.INVALID_ARG, dom.agent_set_response_timeout, -3)
    node = conn.driver.node  # type: ignore[attr-defined]
    stored = node.by_name("g1").settings["passwords"]["root"]
    assert "hunter2" not in repr(stored) and len(stored["sha256"]) == 64


@pytest.mark.hook("domain_get_hostname", "domain_get_guest_info")
def test_hostname_and_guest_info(conn: virtkit.Connection) -> None:
    dom = _running(conn)
    assert dom.hostname() == "g1host"
    assert dom.hostname("lease") == "g1host"
    _expect(ErrorCode.INVALID_ARG, dom.hostname, "dns")
    info = dom.guest_info()
    assert info["hostname"] == "g1host"
    assert info["fs.count"] == 3 and info["fs.2.mountpoint"] == "/srv/vdb"
    assert info["disk.count"] == 2 and info["if.count"] == 1
    assert info["if.0.hwaddr"] == "52:54:00:00:00:07"
    only = dom.guest_info(["timezone"])
    assert only == {"timezone.name": "UTC", "timezone.offset": 0}
    _expect(ErrorCode.INVALID_ARG, dom.guest_info, ["weather"])


@pytest.mark.hook("domain_get_guest_vcpus", "domain_set_guest_vcpus")
def test_guest_vcpus_online_and_offline(conn: virtkit.Connection) -> None:
    dom = _running(conn)
    assert dom.guest_vcpus() == {"vcpus": "0-1", "online": "0-1", "offlinable": "1"}
    dom.set_guest_vcpus("1", 0)
    assert dom.guest_vcpus()["online"] == "0"
    assert dom.info().nr_virt_cpu == 2, "the domain's own vcpus are unchanged"
    err = _expect(ErrorCode.INVALID_ARG, dom.set_guest_vcpus, "0-1", 0)
    assert "g1" in err.message and "offlinable" in err.message
    assert dom.guest_vcpus()["online"] == "0", "a refused call changes nothing"
    _expect(ErrorCode.INVALID_ARG, dom.set_guest_vcpus, "2", 1)
    _expect(ErrorCode.INVALID_ARG, dom.set_guest_vcpus, "1-", 1)
    dom.set_guest_vcpus("1", 1)
    assert dom.guest_vcpus()["online"] == "0-1"
    dom.set_guest_vcpus("1", 0)
    dom.set_vcpu("1", 0)  # unplugged: gone from the guest's view, offline state and all
    assert dom.guest_vcpus() == {"vcpus": "0", "online": "0", "offlinable": ""}
    dom.set_vcpu("1", 1)
    assert dom.guest_vcpus()["online"] == "0-1"
    dom.set_guest_vcpus("1", 0)
    dom.destroy()
    _expect(ErrorCode.OPERATION_INVALID, dom.guest_vcpus)
    _expect(ErrorCode.OPERATION_INVALID, dom.set_guest_vcpus, "1", 1)
    dom.create()  # a new boot brings every vcpu online
    assert dom.guest_vcpus()["online"] == "0-1"
    dom.suspend()
    _expect(ErrorCode.AGENT_UNRESPONSIVE, dom.guest_vcpus)


@pytest.mark.hook("domain_get_authorized_ssh_keys", "domain_set_authorized_ssh_keys")
def test_authorized_ssh_keys(conn: virtkit.Connection) -> None:
    dom = _running(conn)
    k1, k2, k3 = (f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{n} user{n}@host" for n in "123")
    assert dom.authorized_ssh_keys_get("root") == []
    dom.authorized_ssh_keys_set("root", [k1, k2], append=True)
    dom.authorized_ssh_keys_set("root", [k2, k3], append=True)  # k2 is not added twice
    assert dom.authorized_ssh_keys_get("root") == [k1, k2, k3]
    assert dom.authorized_ssh_keys_get("guest") == [], "each user has their own keys"
    dom.authorized_ssh_keys_set("root", [k2, "ssh-rsa AAAAnotthere"], remove=True)
    assert dom.authorized_ssh_keys_get("root") == [k1, k3]
    dom.authorized_ssh_keys_set("root", [k2], append=True, remove=True)  # remove wins
    assert dom.authorized_ssh_keys_get("root") == [k1, k3]
    dom.authorized_ssh_keys_set("root", [k2])  # neither flag: the keys are replaced
    assert dom.authorized_ssh_keys_get("root") == [k2]
    for bad in ([k1 + "\n" + k3], [""], ["  "]):
        err = _expect(ErrorCode.INVALID_ARG, dom.authorized_ssh_keys_set, "root", bad)
        assert "authorized key" in err.message
    assert dom.authorized_ssh_keys_get("root") == [k2], "a refused call changes nothing"
    err = _expect(ErrorCode.OPERATION_FAILED, dom.authorized_ssh_keys_get, "nobody")
    assert "nobody" in err.message and "g1" in err.message
    _expect(ErrorCode.OPERATION_FAILED, dom.authorized_ssh_keys_set, "nobody", [k1])
    dom.destroy()
    _expect(ErrorCode.OPERATION_INVALID, dom.authorized_ssh_keys_get, "root")
    dom.create()
    assert dom.authorized_ssh_keys_get("root") == [k2], "the keys are the guest's: they stay"
    dom.authorized_ssh_keys_set("root", [])
    assert dom.authorized_ssh_keys_get("root") == []
    dom.suspend()
    _expect(ErrorCode.AGENT_UNRESPONSIVE, dom.authorized_ssh_keys_get, "root")


def test_agent_refuses_when_not_running_or_paused(conn: virtkit.Connection) -> None:
    dom = _running(conn)
    dom.destroy()
    _expect(ErrorCode.OPERATION_INVALID, dom.fs_info)
    _expect(ErrorCode.OPERATION_INVALID, dom.hostname)
    dom.create()
    dom.suspend()
    err = _expect(ErrorCode.AGENT_UNRESPONSIVE, dom.fs_freeze)
    assert "g1" in str(err)
    _expect(ErrorCode.AGENT_UNRESPONSIVE, dom.get_time)


def test_agent_calls_refused_read_only(conn: virtkit.Connection) -> None:
    ro = virtkit.open(conn.uri, read_only=True)
    try:
        dom = ro.lookup_by_name("g1")
        for call in (dom.fs_info, dom.get_time, dom.fs_freeze, dom.guest_info, dom.hostname,
                     dom.guest_vcpus):
            _expect(ErrorCode.OPERATION_DENIED, call)
        _expect(ErrorCode.OPERATION_DENIED, dom.authorized_ssh_keys_get, "root")
    finally:
        ro.close()


def test_agent_lifecycle_events(conn: virtkit.Connection) -> None:
    dom = _running(conn)
    dom.destroy()
    got: list[tuple[int, int]] = []
    two = threading.Event()

    def seen(c: Any, d: Any, state: int, reason: int, opaque: Any) -> None:
        got.append((state, reason))
        if len(got) == 2:
            two.set()

    conn.domain_event_register_any(dom, 18, seen)
    dom.create()
    dom.destroy()
    assert two.wait(5)
    assert got == [(ev.AGENT_CONNECTED, ev.AGENT_REASON_DOMAIN_STARTED),
                   (ev.AGENT_DISCONNECTED, ev.AGENT_REASON_CHANNEL)]
