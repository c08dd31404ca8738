"""The console of ``xenapi://`` against the FAKE XenAPI server of ``virtkit_xen.fakexapi``
(labelled: no XCP-ng or XenServer host was available). The fake gives a running VM console
records (a PV guest vt100 and rfb, an HVM guest rfb only) and serves XenAPI's console protocol
on its own port: ``CONNECT /console?ref=R&session_id=S``, ``200``, then a banner and a login
prompt, and it echoes what it is sent (there is no guest). These tests go through the core's
real stream path: the driver's socket, the stream hooks, the API's stream object."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from test_xenapi import uri, vm_rec, xml

import virtkit
from virtkit.sdk.errors import ErrorCode as C
from virtkit.sdk.errors import VirtError
from virtkit_xen.fakexapi import FakeXapi
from virtkit_xen.xapiconsole import connect

PV = xml("con", os_type="linux").replace("</os>", "<kernel>/boot/vmlinuz</kernel></os>")




def read_until(console: Any, want: bytes) -> bytes:
    got = b""
    while want not in got:
        chunk = console.recv(4096, timeout=5.0)
        assert chunk, f"the console ended before {want!r}: {got!r}"
        got += chunk
    return got


def refused(code: C, fn: Any, *args: Any, **kw: Any) -> str:
    with pytest.raises(VirtError) as err:
        fn(*args, **kw)
    assert err.value.code == code, err.value.message
    return err.value.message


def test_console_stream(xapi: FakeXapi, conn: Any) -> None:
    dom = conn.define_xml(PV)
    assert "'con'" in refused(C.OPERATION_INVALID, dom.open_console)
    dom.create()
    console = dom.open_console()
    assert "VM.get_consoles" in xapi.calls and "CONNECT /console" in xapi.calls
    assert b"fake console of con (vt100)" in read_until(console, b"con login: ")
    assert console.send(b"root\r\n") == 6
    assert b"root\r\n" in read_until(console, b"root\r\n"), "the fake echoes"
    refused(C.OPERATION_TIMEOUT, console.recv, 10, timeout=0.2)
    assert "in use" in refused(C.OPERATION_FAILED, dom.open_console)
    second = dom.open_console(force=True)  # takes it over: the first one ends
    assert console.recv(10, timeout=1.0) == b""
    refused(C.INVALID_STREAM, console.send, b"x")
    console.abort()
    assert b"login: " in read_until(second, b"login: ")
    second.finish()
    refused(C.INVALID_STREAM, conn.call, "stream_recv", stream=second.id, nbytes=10,
            timeout=0.1)
    assert "'parallel7'" in refused(C.DEVICE_MISSING, dom.open_console, device="parallel7")
    third = dom.open_console(device="console0")
    read_until(third, b"login: ")
    dom.destroy()  # the VM stops: its console ends
    assert third.recv(4096, timeout=5.0) == b""
    third.abort()


def test_an_hvm_guest_has_no_text_console(xapi: FakeXapi, conn: Any) -> None:
    dom = conn.define_xml(xml("gfx"))
    dom.create()
    message = refused(C.DEVICE_MISSING, dom.open_console)
    assert "'gfx'" in message and "vt100" in message and "rfb" in message


def test_closing_the_connection_closes_its_consoles(xapi: FakeXapi) -> None:
    c = virtkit.open(uri(xapi))
    dom = c.define_xml(PV)
    dom.create()
    console = dom.open_console()
    read_until(console, b"login: ")
    assert xapi.console_clients == 1
    c.close()
    deadline = time.monotonic() + 5
    while xapi.console_clients and time.monotonic() < deadline:
        time.sleep(0.05)
    assert xapi.console_clients == 0, "the console connection was closed with the connection"


def test_connect_refusals(xapi: FakeXapi) -> None:
    """The console protocol's failures: a bad session, an unknown console, a URL that is not
    http, nobody listening."""
    with xapi.lock:
        vm = xapi._vm({"name_label": "raw"})
        xapi._power(vm, "start", "Running")
        con = next(c for c in vm_rec(xapi, "raw")["consoles"]
                   if xapi.db["console"][c]["protocol"] == "vt100")
        location = xapi.db["console"][con]["location"]
        session = xapi._login("root", xapi.password)
    sock, rest = connect(location, session, 5.0, False, "test")
    try:
        while b"login: " not in rest:
            rest += sock.recv(4096)
        assert rest.startswith(b"fake console of raw (vt100)")
    finally:
        sock.close()
    for loc, sid, words in ((location, "OpaqueRef:nobody", "403"),
                            (location.replace(con, "OpaqueRef:gone"), session, "404"),
                            ("ftp://127.0.0.1/console", session, "not an http(s) URL")):
        with pytest.raises(VirtError) as err:
            connect(loc, sid, 5.0, False, "opening the console of domain 'raw'")
        assert err.value.code == C.OPERATION_FAILED and words in err.value.message
        assert "'raw'" in err.value.message
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(VirtError) as err:
        connect(f"http://127.0.0.1:{port}/console?ref=x", session, 5.0, False, "test")
    assert err.value.code == C.OPERATION_FAILED and f"127.0.0.1:{port}" in err.value.message
