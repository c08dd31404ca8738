"""The dom0 command channel for real: CHANNEL_LOOP run by /bin/sh on the far end of a unix
socket (as dom0 runs it on its serial port), and the runners' refusals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit_xen.runner import CHANNEL_LOOP, ChannelRunner, LocalRunner, runner_from_spec


@pytest.fixture
def channel(tmp_path: Path) -> Iterator[str]:
    path = str(tmp_path / "ch.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    procs: list[subprocess.Popen[bytes]] = []

    def serve() -> None:
        conn, _ = srv.accept()
        procs.append(subprocess.Popen(["sh", "-c", CHANNEL_LOOP], stdin=conn.fileno(),
                                      stdout=conn.fileno(), cwd=tmp_path,
                                      start_new_session=True))
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield path
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGKILL)  # the loop and whatever it runs
            p.wait()
        srv.close()


def test_commands_with_input_output_and_status(channel: str) -> None:
    a, b = ChannelRunner(channel), ChannelRunner(channel)  # one shared connection
    try:
        r = a.run(["sh", "-c", "cat; echo err >&2; exit 3"], input=b"line 1\nline 2 'q' \"x\"\n")
        assert (r.rc, r.stdout, r.stderr) == (3, "line 1\nline 2 'q' \"x\"\n", "err\n")
        assert b.run(["echo", "a b", "$HOME"]).stdout == "a b $HOME\n"  # quoted, not expanded
        assert a.run(["true"]).stdout == ""
    finally:
        a.close()
        b.close()


def test_a_slow_command_times_out(channel: str) -> None:
    r = ChannelRunner(channel)
    try:
        with pytest.raises(VirtError) as info:
            r.run(["sleep", "5"], timeout=0.5)
        assert info.value.code == ErrorCode.OPERATION_TIMEOUT and "sleep 5" in info.value.message
    finally:
        r.close()


def test_no_channel_is_no_connect(tmp_path: Path) -> None:
    with pytest.raises(VirtError) as info:
        ChannelRunner(str(tmp_path / "none.sock")).run(["true"])
    assert info.value.code == ErrorCode.NO_CONNECT and "none.sock" in info.value.message


def test_local_runner_and_specs() -> None:
    assert LocalRunner().run(["sh", "-c", "echo hi; exit 2"]).rc == 2
    assert isinstance(runner_from_spec("local"), LocalRunner)
    assert runner_from_spec("ssh:root@dom0:2222").port == 2222  # type: ignore[attr-defined]
    for bad in ("", "ssh:", "channel:", "local:x"):
        with pytest.raises(VirtError) as info:
            runner_from_spec(bad)
        assert info.value.code == ErrorCode.INVALID_ARG
