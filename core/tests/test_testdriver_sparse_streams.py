"""Sparse and non-blocking streams of the test driver, and the connection's close callback,
through the facade."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import virtkit
from virtkit.api import stream as st
from virtkit.sdk.errors import ErrorCode, VirtError

PAGE = 4096


@pytest.fixture
def conn() -> Iterator[virtkit.Connection]:
    from virtkit.drivers.test.node import reset_default_node

    reset_default_node()
    c = virtkit.open("test:///default")
    yield c
    c.close()
    reset_default_node()


def _vol(conn: virtkit.Connection, size: int = 64 * PAGE) -> virtkit.StorageVolume:
    pool = conn.storage_pool_lookup_by_name("default-pool")
    return pool.create_xml(f"<volume><name>s.img</name><capacity>{size}</capacity></volume>")


@pytest.mark.hook("stream_send_hole", "stream_recv_data", "stream_recv_hole")
def test_sparse_upload_and_download_keep_holes(conn: virtkit.Connection) -> None:
    vol = _vol(conn)
    with vol.upload() as up:
        up.send(b"A" * 100)
        up.send_hole(2 * PAGE - 100)            # page 0 partly data, page 1 a hole
        up.send(b"B" * PAGE)                    # page 2 data
        up.send_hole(10 * PAGE)                 # pages 3..12 a hole
        up.send(b"\0" * PAGE + b"C")            # a zero page written as data reads as a hole
    sections: list[Any] = []
    with vol.download() as down:
        down.sparse_recv_all(lambda s, data, o: o.append(("data", len(data))),
                             lambda s, n, o: o.append(("hole", n)), sections)
    assert sections == [("data", PAGE), ("hole", PAGE), ("data", PAGE), ("hole", 11 * PAGE),
                        ("data", PAGE), ("hole", 64 * PAGE - 15 * PAGE)]
    # the same bytes as a plain download
    with vol.download() as down:
        plain = down.recv_all()
    assert plain[:100] == b"A" * 100 and plain[2 * PAGE:3 * PAGE] == b"B" * PAGE
    assert plain[14 * PAGE] == ord("C") and len(plain) == 64 * PAGE
    # recv_flags stops at a hole with -3; recv_hole then skips it
    with vol.download(PAGE, 2 * PAGE) as down:
        assert down.recv_flags(PAGE, st.RECV_STOP_AT_HOLE) == -3
        assert down.recv_hole() == PAGE
        assert down.recv_flags(PAGE, st.RECV_STOP_AT_HOLE) == b"B" * PAGE
        assert down.recv_flags(PAGE, st.RECV_STOP_AT_HOLE) == b""
    with pytest.raises(VirtError) as exc, vol.upload(60 * PAGE) as up:
        up.send_hole(5 * PAGE)
    assert exc.value.code == ErrorCode.INVALID_ARG and "past the end" in exc.value.message


def test_sparse_send_all_from_sections(conn: virtkit.Connection) -> None:
    vol = _vol(conn)
    plan = [(True, 10), (False, 3 * PAGE), (True, 5), (False, 0)]
    src = iter([b"x" * 10, b"y" * 5])
    with vol.upload() as up:
        up.sparse_send_all(lambda s, n, o: next(src), lambda s, o: plan.pop(0),
                           lambda s, n, o: 0)
    with vol.download(0, 4 * PAGE) as down:
        data = down.recv_all()
    assert data[:10] == b"x" * 10 and data[10 + 3 * PAGE:15 + 3 * PAGE] == b"y" * 5
    assert data[10:10 + 3 * PAGE] == bytes(3 * PAGE)


@pytest.mark.hook("stream_poll")
def test_event_callbacks_drive_a_console(conn: virtkit.Connection) -> None:
    console = conn.lookup_by_name("test").open_console()
    console.nonblocking = True
    got: list[bytes] = []
    done = threading.Event()

    def readable(stream: st.Stream, events: int, opaque: Any) -> None:
        assert events & st.EVENT_READABLE and opaque == "tag"
        data = stream.recv_flags(1024)
        if isinstance(data, bytes):
            got.append(data)
        if b"login: " in b"".join(got):
            stream.event_update_callback(0)
            done.set()

    console.event_add_callback(st.EVENT_READABLE, readable, "tag")
    with pytest.raises(VirtError):
        console.event_add_callback(st.EVENT_READABLE, readable)  # one per stream
    assert done.wait(10)
    assert console.recv_flags(1024) == -2  # nothing more to read: would block
    console.event_remove_callback()
    console.finish()
    # a download is readable at once; an upload writable
    vol = _vol(conn)
    with vol.upload() as up:
        assert conn.hooks.stream_poll(stream=up.id, timeout=0) == st.EVENT_WRITABLE
    with vol.download() as down:
        assert conn.hooks.stream_poll(stream=down.id, timeout=0) == st.EVENT_READABLE


def test_close_callback_runs_once_on_close() -> None:
    from virtkit.api.connection import CLOSE_REASON_CLIENT

    c = virtkit.open("test:///default")
    calls: list[tuple[Any, int, Any]] = []
    assert c.register_close_callback(lambda conn, reason, o: calls.append((conn, reason, o)),
                                     "x") == 0
    with pytest.raises(VirtError):
        c.register_close_callback(lambda *a: None)
    c.close()
    c.close()
    assert calls == [(c, CLOSE_REASON_CLIENT, "x")]
    d = virtkit.open("test:///default")
    d.register_close_callback(lambda *a: calls.append(a))
    d.unregister_close_callback()
    d.close()
    assert len(calls) == 1
