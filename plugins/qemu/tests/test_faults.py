"""Faults: the managing process killed while guests run; a QEMU killed under a watching process;
a QEMU that died while no process watched it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from conftest import Events, diskless, wait_state

import virtkit
from virtkit.sdk.states import DomainState as S
from virtkit.sdk.states import EventType as E


def _qemu_pid(name: str, state_root: str) -> int:
    import json
    from pathlib import Path

    rec = json.loads((Path(state_root) / f"session/qemu/run/domains/{name}.json").read_text())
    return int(rec["pid"])


def _manager(script: str, state_root: str) -> subprocess.Popen[str]:
    env = dict(os.environ, VIRTKIT_STATE_ROOT=state_root)
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], env=env,
                            stdout=subprocess.PIPE, text=True)


def test_kill_9_of_the_managing_process(conn: virtkit.Connection, state_root: str) -> None:
    proc = _manager(f"""
        import sys, time, virtkit
        c = virtkit.open("qemu:///session")
        c.define_xml({diskless("orphan1")!r}).create()
        c.create_xml({diskless("orphan2")!r})
        print("up", flush=True)
        time.sleep(600)
    """, state_root)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
    finally:
        proc.kill()
        proc.wait()
    fresh = virtkit.open("qemu:///session")
    try:
        one, two = fresh.lookup_by_name("orphan1"), fresh.lookup_by_name("orphan2")
        assert one.state()[0] == S.RUNNING and two.state()[0] == S.RUNNING
        assert one.is_persistent() and not two.is_persistent()
        one.suspend()  # the monitor is ours now
        assert one.state()[0] == S.PAUSED
        pids = [_qemu_pid("orphan1", state_root), _qemu_pid("orphan2", state_root)]
        one.destroy()
        two.destroy()
        assert one.state() == (S.SHUTOFF, 2)
        for pid in pids:
            assert not os.path.exists(f"/proc/{pid}") or \
                open(f"/proc/{pid}/stat").read().split(")")[1].split()[0] == "Z"
    finally:
        fresh.close()


def test_kill_9_of_qemu_is_crashed(conn: virtkit.Connection, state_root: str) -> None:
    ev = Events(conn)
    dom = conn.define_xml(diskless("crash1"))
    dom.create()
    os.kill(_qemu_pid("crash1", state_root), signal.SIGKILL)
    assert wait_state(dom, S.SHUTOFF, 20) == (S.SHUTOFF, 3)
    assert ev.wait(dom.uuid, 3)[-1] == (E.STOPPED, 2)


def test_qemu_died_while_nobody_watched(conn: virtkit.Connection, state_root: str) -> None:
    proc = _manager(f"""
        import virtkit
        c = virtkit.open("qemu:///session")
        c.define_xml({diskless("lonely1")!r}).create()
        print("up", flush=True)
    """, state_root)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
    proc.wait()
    pid = _qemu_pid("lonely1", state_root)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    ev = Events(conn)  # an open connection hears of it when a process notices
    fresh = virtkit.open("qemu:///session")
    try:
        dom = fresh.lookup_by_name("lonely1")
        assert dom.state() == (S.SHUTOFF, 3), "reported SHUTOFF/CRASHED"
        assert ev.wait(dom.uuid, 1) == [(E.STOPPED, 2)]
    finally:
        fresh.close()
