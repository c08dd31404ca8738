"""The console stream of ``xen:///system``: ``xl console`` through the runner.

LABELLED: no Xen runs here. The xl side is the stand-in dom0 of test_xlsnap.py (answers in the
shape of the recorded transcript); ``xl console -t TYPE NAME`` is run by the local runner FOR
REAL as a process, but that process is a stand-in for xenconsole (``sh`` printing a banner,
then echoing what it reads), so this tests the stream's plumbing (pipes, exclusivity, force,
timeouts, the end of the stream), not Xen's console itself, which was not run."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from subprocess import Popen
from typing import Any

import pytest
from test_xlsnap import StandInDom0

import virtkit
from virtkit.sdk.errors import ErrorCode as C
from virtkit.sdk.errors import VirtError
from virtkit_xen.runner import LocalRunner

GUEST = ("<domain type='xen'><name>con</name><memory>131072</memory><os><type>linux</type>"
         "<kernel>/boot/vmlinuz</kernel></os></domain>")


class ConsoleDom0(StandInDom0):
    def __init__(self) -> None:
        super().__init__()
        self.spawned: list[list[str]] = []
        self.procs: list[Popen[bytes]] = []

    def spawn(self, argv: Sequence[str]) -> Popen[bytes]:
        self.spawned.append(list(argv))
        assert list(argv[:3]) == ["xl", "console", "-t"]
        proc = LocalRunner().spawn(["sh", "-c", 'printf "console of %s (%s)\\n" "$1" "$0"; '
                                    "exec cat", argv[3], argv[4]])
        self.procs.append(proc)
        return proc


@pytest.fixture
def conn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("VIRTKIT_STATE_ROOT", str(tmp_path / "state"))
    monkeypatch.setenv("VIRTKIT_XEN_POLL", "0")
    d = ConsoleDom0()
    monkeypatch.setattr("virtkit_xen.driver.runner_from_spec", lambda spec: d)
    c = virtkit.open("xen:///system")
    c.dom0 = d
    yield c
    c.close()


def read_until(console: Any, want: bytes) -> bytes:
    got = b""
    while want not in got:
        got += console.recv(4096, timeout=5.0)
    return got


def test_console_stream(conn: Any) -> None:
    dom = conn.define_xml(GUEST)
    with pytest.raises(VirtError) as err:
        dom.open_console()
    assert err.value.code == C.OPERATION_INVALID, "not running"
    dom.create()
    console = dom.open_console()
    assert conn.dom0.spawned[-1] == ["xl", "console", "-t", "pv", "con"]
    assert b"console of con (pv)" in read_until(console, b"\n")
    assert console.send(b"root\n") == 5
    assert b"root" in read_until(console, b"root")
    with pytest.raises(VirtError) as err:
        console.recv(10, timeout=0.2)
    assert err.value.code == C.OPERATION_TIMEOUT
    with pytest.raises(VirtError) as err:
        dom.open_console()
    assert err.value.code == C.OPERATION_FAILED and "in use" in err.value.message
    second = dom.open_console(force=True)  # takes it over: the first one ends
    assert console.recv(10, timeout=1.0) == b"", "the stream taken over ends"
    with pytest.raises(VirtError) as err:
        console.send(b"x")
    assert err.value.code == C.INVALID_STREAM and "taken over" in err.value.message
    assert conn.dom0.procs[0].poll() is not None, "its xl console process is ended"
    console.abort()  # still closes it, as the conformance suite's exclusivity test does
    with pytest.raises(VirtError) as err:
        conn.call("stream_recv", stream=console.id, nbytes=10, timeout=0.1)
    assert err.value.code == C.INVALID_STREAM, "gone once aborted"
    assert b"console of con" in read_until(second, b"\n")
    second.finish()
    with pytest.raises(VirtError) as err:
        conn.call("stream_recv", stream=second.id, nbytes=10, timeout=0.1)
    assert err.value.code == C.INVALID_STREAM
    serial = dom.open_console(device="serial0")
    assert b"(serial)" in read_until(serial, b"\n")
    serial.abort()
    with pytest.raises(VirtError) as err:
        dom.open_console(device="parallel7")
    assert err.value.code == C.DEVICE_MISSING


def test_the_channel_runner_cannot_stream(tmp_path: Path) -> None:
    from virtkit_xen.runner import ChannelRunner, spawn

    with pytest.raises(VirtError) as err:
        spawn(ChannelRunner(str(tmp_path / "none.sock")), ["xl", "console", "x"])
    assert err.value.code == C.OPERATION_UNSUPPORTED and "ChannelRunner" in err.value.message
