"""The test driver's screen, input, power management and core dumps through the facade."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from vktest import expect as _expect
from vktest import inbox as _inbox

import virtkit
from virtkit.api.domain_graphics import image_mime
from virtkit.drivers.test.vnc import des_encrypt, vnc_auth_response
from virtkit.sdk.errors import ErrorCode

NODE = Path(__file__).parent / "cli" / "data" / "virsh" / "node.xml"


@pytest.fixture
def conn() -> Iterator[virtkit.Connection]:
    c = virtkit.open(f"test://{NODE}")
    yield c
    c.close()






@pytest.mark.hook("domain_screenshot")
def test_screenshot_is_a_png_stream(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    stream = dom.screenshot()
    data = stream.recv_all()
    stream.finish()
    assert image_mime(data) == "image/png" and data[12:16] == b"IHDR"
    assert int.from_bytes(data[16:20], "big") == 640
    _expect(ErrorCode.INVALID_ARG, dom.screenshot, 1)
    dom.destroy()
    _expect(ErrorCode.OPERATION_INVALID, dom.screenshot)


@pytest.mark.hook("domain_send_key", "domain_inject_nmi")
def test_keys_and_nmi_reach_the_console(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    console = dom.open_console()
    console.recv(4096, timeout=1)  # the login banner
    dom.send_key("linux", 0, [35, 23])  # KEY_H KEY_I
    dom.send_key(0, 50, [28])  # KEY_ENTER, codeset by libvirt's number
    dom.inject_nmi()
    seen = b""
    deadline = time.monotonic() + 5
    while b"NMI received" not in seen and time.monotonic() < deadline:
        seen += console.recv(4096, timeout=1)
    console.finish()
    assert seen.startswith(b"hi\r\n") and b"NMI received" in seen
    _expect(ErrorCode.INVALID_ARG, dom.send_key, "linux", 0, [])
    _expect(ErrorCode.INVALID_ARG, dom.send_key, "linux", 0, [1] * 17)
    _expect(ErrorCode.INVALID_ARG, dom.send_key, "linux", 0, [70000])
    _expect(ErrorCode.INVALID_ARG, dom.send_key, "morse", 0, [1])
    _expect(ErrorCode.INVALID_ARG, dom.send_key, 42, 0, [1])
    dom.suspend()
    _expect(ErrorCode.OPERATION_INVALID, dom.send_key, "linux", 0, [30])


@pytest.mark.hook("domain_pm_suspend", "domain_pm_wakeup")
def test_suspend_to_memory_and_disk(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    box = _inbox(conn, "domain-pm-suspend", "domain-pm-wakeup", "domain-pm-suspend-disk",
                 "domain-lifecycle")
    dom.pm_suspend_for_duration("mem")
    assert dom.state() == (7, 0)
    got = [(e.kind, e.event, e.detail) for e in (box.get(timeout=5), box.get(timeout=5))]
    assert got == [("domain-pm-suspend", 0, 0), ("domain-lifecycle", 7, 0)]
    _expect(ErrorCode.OPERATION_INVALID, dom.suspend)
    _expect(ErrorCode.OPERATION_INVALID, dom.pm_suspend_for_duration, "mem")
    dom.pm_wakeup()
    assert dom.state() == (1, 8)  # running, woken up
    got = [(e.kind, e.event, e.detail) for e in (box.get(timeout=5), box.get(timeout=5))]
    assert got == [("domain-pm-wakeup", 0, 0), ("domain-lifecycle", 2, 4)]
    _expect(ErrorCode.OPERATION_INVALID, dom.pm_wakeup)
    dom.pm_suspend_for_duration(0, duration=1)  # wakes by itself
    deadline = time.monotonic() + 5
    while dom.state()[0] != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dom.state() == (1, 8)
    while not box.empty():
        box.get()
    dom.pm_suspend_for_duration("disk")  # hibernates: the guest powers off
    assert dom.state() == (5, 1)
    kinds = [box.get(timeout=5).kind for _ in range(4)]
    assert kinds[0] == "domain-pm-suspend-disk" and kinds.count("domain-lifecycle") == 3
    _expect(ErrorCode.INVALID_ARG, dom.pm_suspend_for_duration, "sleep")


@pytest.mark.hook("domain_core_dump")
def test_core_dump_formats_crash_and_job(conn: virtkit.Connection, tmp_path: Path) -> None:
    dom = conn.lookup_by_name("test")
    box = _inbox(conn, "domain-job-completed")
    dom.core_dump(str(tmp_path / "core"))
    data = (tmp_path / "core").read_bytes()
    assert data.startswith(b"\x7fELF") and (tmp_path / "core").stat().st_mode & 0o777 == 0o600
    assert json.loads(data[8:])["name"] == "test"
    params = box.get(timeout=5).params["params"]
    assert params["operation"] == 8 and params["type"] == 3
    assert dom.job_stats(completed=True)["operation"] == 8
    _expect(ErrorCode.INVALID_ARG, dom.core_dump_with_format, str(tmp_path / "k"), 1)
    dom.core_dump_with_format(str(tmp_path / "k"), "kdump-zlib", memory_only=True, crash=True)
    assert (tmp_path / "k").read_bytes().startswith(b"KDUMP")
    assert dom.state() == (5, 3)  # shut off, crashed
    _expect(ErrorCode.OPERATION_INVALID, dom.core_dump, str(tmp_path / "again"))
    dom.create()
    _expect(ErrorCode.SYSTEM_ERROR, dom.core_dump, str(tmp_path / "no" / "such" / "dir"))
    _expect(ErrorCode.INVALID_ARG, dom.core_dump, str(tmp_path / "x"), crash=True, reset=True)
    ro = virtkit.open(conn.uri, read_only=True)
    try:
        _expect(ErrorCode.OPERATION_DENIED, ro.lookup_by_name("test").core_dump,
                str(tmp_path / "ro"))
    finally:
        ro.close()
    assert not (tmp_path / "ro").exists()


@pytest.mark.hook("domain_send_process_signal")
def test_process_signal_reaches_init_only(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    dom.send_process_signal(1, 15)
    dom.send_process_signal(1, "SIGKILL")
    dom.send_process_signal(1, "nop")
    dom.send_process_signal(1, 64)
    assert dom.state()[0] == 1, "the test guest's init ignores signals, as libvirt's"
    err = _expect(ErrorCode.INVALID_ARG, dom.send_process_signal, 2, 9)
    assert "pid 1" in err.message and "test" in err.message
    _expect(ErrorCode.INVALID_ARG, dom.send_process_signal, -1, 9)
    err = _expect(ErrorCode.INVALID_ARG, dom.send_process_signal, 0, 9)
    assert "must not be zero" in err.message
    err = _expect(ErrorCode.INVALID_ARG, dom.send_process_signal, 1, 65)
    assert "out of range" in err.message
    _expect(ErrorCode.INVALID_ARG, dom.send_process_signal, 1, -1)
    _expect(ErrorCode.INVALID_ARG, dom.send_process_signal, 1, "sigwarp")
    dom.destroy()
    _expect(ErrorCode.OPERATION_INVALID, dom.send_process_signal, 1, 15)
    ro = virtkit.open(conn.uri, read_only=True)
    try:
        _expect(ErrorCode.OPERATION_DENIED, ro.lookup_by_name("test").send_process_signal, 1, 0)
    finally:
        ro.close()


@pytest.mark.hook("domain_memory_peek")
def test_memory_peek_reads_the_running_guest(conn: virtkit.Connection) -> None:
    from virtkit.api.domain_graphics import MEMORY_PHYSICAL, MEMORY_VIRTUAL

    dom = conn.lookup_by_name("test")
    head = dom.memory_peek(0, 64, MEMORY_PHYSICAL)
    assert head.startswith(b"VIRTKIT-TEST-MEMORY test") and len(head) == 64
    assert dom.memory_peek(0, 64, MEMORY_VIRTUAL) == head
    assert dom.memory_peek(8, 4, MEMORY_PHYSICAL) == b"TEST"
    assert dom.memory_peek(4096, 16, MEMORY_PHYSICAL) == bytes(16)
    assert dom.memory_peek(0, 0, MEMORY_PHYSICAL) == b""
    total = dom.info().memory * 1024
    assert dom.memory_peek(total - 4, 4, MEMORY_PHYSICAL) == bytes(4)
    err = _expect(ErrorCode.INVALID_ARG, dom.memory_peek, total - 4, 8, MEMORY_PHYSICAL)
    assert "beyond the memory of domain 'test'" in err.message
    _expect(ErrorCode.INVALID_ARG, dom.memory_peek, 0, 4 * 1024 * 1024 + 1, MEMORY_PHYSICAL)
    _expect(ErrorCode.INVALID_ARG, dom.memory_peek, -1, 4, MEMORY_PHYSICAL)
    for flags in (0, 3):
        _expect(ErrorCode.INVALID_ARG, dom.memory_peek, 0, 4, flags)
    ro = virtkit.open(conn.uri, read_only=True)
    try:
        _expect(ErrorCode.OPERATION_DENIED, ro.lookup_by_name("test").memory_peek, 0, 4,
                MEMORY_PHYSICAL)
    finally:
        ro.close()
    dom.destroy()
    _expect(ErrorCode.OPERATION_INVALID, dom.memory_peek, 0, 4, MEMORY_PHYSICAL)


GRAPHICS_XML = ("<domain type='test'><name>{name}</name><memory unit='MiB'>128</memory><vcpu>1"
                "</vcpu><os><type>hvm</type></os><devices>{devices}</devices></domain>")


def _rfb_until_server_init(stream: virtkit.Stream, name: str) -> None:
    """A VNC client's side of RFB 3.8 without authentication, up to the server's ServerInit."""
    assert stream.recv(12, timeout=1) == b"RFB 003.008\n"
    stream.send(b"RFB 003.008\n")
    assert stream.recv(2, timeout=1) == b"\x01\x01", "one security type: None"
    stream.send(b"\x01")
    assert stream.recv(4, timeout=1) == b"\0\0\0\0", "SecurityResult: OK"
    stream.send(b"\x01")  # ClientInit, shared
    init = stream.recv(24 + len(name), timeout=1)
    assert int.from_bytes(init[0:2], "big") == 640 and int.from_bytes(init[2:4], "big") == 400
    assert init[4] == 32, "bits per pixel"
    assert int.from_bytes(init[20:24], "big") == len(name) and init[24:] == name.encode()


def _rfb_challenge(stream: virtkit.Stream) -> bytes:
    """The client's side of RFB 3.8 up to the server's VNC authentication challenge."""
    assert stream.recv(12, timeout=1) == b"RFB 003.008\n"
    stream.send(b"RFB 003.008\n")
    assert stream.recv(2, timeout=1) == b"\x01\x02", "one security type: VNC authentication"
    stream.send(b"\x02")
    challenge = stream.recv(16, timeout=1)
    assert len(challenge) == 16
    return challenge


def test_vnc_authentication_is_des_of_the_challenge() -> None:
    # FIPS 46 known answer, and RFC 6143's key: the password's bytes, each bit-reversed
    assert des_encrypt(bytes.fromhex("133457799BBCDFF1"),
                       bytes.fromhex("0123456789ABCDEF")).hex() == "85e813540f0ab405"
    reversed_key = bytes(int(f"{b:08b}"[::-1], 2) for b in b"secret\0\0")
    challenge = bytes(range(16))
    assert vnc_auth_response("secret", challenge) == des_encrypt(reversed_key, challenge)
    assert vnc_auth_response("secret!!ignored", challenge) == vnc_auth_response(
        "secret!!", challenge), "only the first 8 bytes count"


@pytest.mark.hook("domain_open_graphics")
def test_open_graphics_speaks_rfb_to_the_vnc_server(conn: virtkit.Connection) -> None:
    dom = conn.create_xml(GRAPHICS_XML.format(
        name="vnc1", devices="<graphics type='sdl'/><graphics type='vnc' passwd='pw'/>"
                             "<graphics type='spice'/>"))
    plain = dom.open_graphics(1, skipauth=True)
    _rfb_until_server_init(plain, "vnc1")
    assert plain.send(b"\x03\x00\x00\x00\x00\x00\x02\x80\x01\x90") == 10  # an update request
    _expect(ErrorCode.OPERATION_TIMEOUT, plain.recv, 10, timeout=0.05)

    wrong = dom.open_graphics(1)  # a password, not skipped: VNC authentication only
    challenge = _rfb_challenge(wrong)
    wrong.send(vnc_auth_response("nope", challenge))
    refusal = wrong.recv(4096, timeout=1)
    assert refusal[:4] == b"\0\0\0\1" and refusal[8:] == b"authentication failed"
    assert wrong.recv(10, timeout=1) == b"", "the server hung up"
    _expect(ErrorCode.INVALID_STREAM, wrong.send, b"x")

    right = dom.open_graphics(1)
    right.send(vnc_auth_response("pw", _rfb_challenge(right)))
    assert right.recv(4, timeout=1) == b"\0\0\0\0", "SecurityResult: OK"
    right.send(b"\x00")  # ClientInit, exclusive
    assert right.recv(4096, timeout=1).endswith(b"vnc1")

    old = dom.open_graphics(1, skipauth=True)
    assert old.recv(12, timeout=1) == b"RFB 003.008\n"
    old.send(b"RFB 003.003\n")
    refusal = old.recv(4096, timeout=1)
    assert refusal[0] == 0 and b"RFB 3.8 only" in refusal, "no security types, then why"

    _expect(ErrorCode.INVALID_ARG, dom.open_graphics, 0)  # sdl: no server
    _expect(ErrorCode.OPERATION_UNSUPPORTED, dom.open_graphics, 2)  # spice
    err = _expect(ErrorCode.INVALID_ARG, dom.open_graphics, 3)
    assert "domain 'vnc1'" in str(err) and "3" in str(err)
    err = _expect(ErrorCode.INVALID_ARG, dom.open_graphics, -1)
    assert "graphics device index -1" in str(err)
    ro = virtkit.open(conn.uri, read_only=True)
    try:
        _expect(ErrorCode.OPERATION_DENIED, ro.lookup_by_name("test").open_graphics)
    finally:
        ro.close()
    assert "<graphics type='vnc'" in dom.xml_desc(), "nothing changed in the definition"
    dom.destroy()
    assert plain.recv(10, timeout=1) == b"", "the guest stopped: its clients hung up"


@pytest.mark.hook("domain_open_graphics")
def test_open_graphics_of_a_guest_without_graphics(conn: virtkit.Connection) -> None:
    dom = conn.create_xml(GRAPHICS_XML.format(name="headless", devices=""))
    err = _expect(ErrorCode.INVALID_ARG, dom.open_graphics)
    assert "domain 'headless' has 0 graphics device(s)" in str(err)
    dom.destroy()
    defined = conn.define_xml(GRAPHICS_XML.format(name="off", devices="<graphics type='vnc'/>"))
    err = _expect(ErrorCode.OPERATION_INVALID, defined.open_graphics)
    assert "'off'" in str(err)
    defined.create()
    client = defined.open_graphics()
    _rfb_until_server_init(client, "off")
    defined.destroy()
    _expect(ErrorCode.INVALID_STREAM, client.send, b"\x03")
    _expect(ErrorCode.OPERATION_INVALID, defined.open_graphics)
    defined.undefine()
