"""Through virtkitd: a guest started over the daemon keeps running when the daemon stops, and
a restarted daemon finds it again."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import diskless

import virtkit
from virtkit.sdk.states import DomainState as S


@pytest.fixture
def daemon_env(state_root: str) -> Iterator[dict[str, str]]:
    tmp = tempfile.mkdtemp(prefix="vkqd-")
    env = dict(os.environ, XDG_RUNTIME_DIR=f"{tmp}/run", XDG_CONFIG_HOME=f"{tmp}/config",
               VIRTKIT_STATE_ROOT=state_root)
    os.makedirs(f"{tmp}/run", mode=0o700)
    try:
        yield env
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _start(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    exe = Path(sys.executable).parent / "virtkitd"
    proc = subprocess.Popen([str(exe), "--session"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    sock = Path(env["XDG_RUNTIME_DIR"]) / "virtkit" / "virtkit-sock"
    deadline = time.monotonic() + 30
    while not sock.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "virtkitd did not start"
        time.sleep(0.05)
    return proc, f"qemu+unix:///session?socket={sock}"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_guest_outlives_the_daemon(daemon_env: dict[str, str]) -> None:
    proc, uri = _start(daemon_env)
    try:
        conn = virtkit.open(uri)
        dom = conn.define_xml(diskless("remote1"))
        dom.create()
        dom.suspend()
        assert dom.state()[0] == S.PAUSED
        conn.close()
    finally:
        _stop(proc)
    proc, uri = _start(daemon_env)
    try:
        conn = virtkit.open(uri)
        dom = conn.lookup_by_name("remote1")
        assert dom.state()[0] == S.PAUSED, "the restarted daemon found the guest"
        dom.resume()
        dom.destroy()
        assert dom.state() == (S.SHUTOFF, 2)
        dom.undefine()
        conn.close()
    finally:
        _stop(proc)
