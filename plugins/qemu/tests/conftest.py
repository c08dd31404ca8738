"""Fixtures: a private state root per test session, connections, the tiny guest, and reaping.

Every QEMU a test starts lives under the session's state root; the session's finalizer kills any
that a failed test left behind (matched by that root in its command line).
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tinyguest

import virtkit

CACHE = Path(os.environ.get("VIRTKIT_QEMU_TEST_CACHE") or Path(__file__).parent / ".cache")


def _qemus_under(root: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if b"qemu-system" in cmd and root.encode() in cmd:
            pids.append(int(entry))
    return pids


def kill_qemus(root: str) -> None:
    for pid in _qemus_under(root):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def state_root() -> Iterator[str]:
    root = tempfile.mkdtemp(prefix="vkq-")  # short: QMP socket paths must fit 108 bytes
    old = os.environ.get("VIRTKIT_STATE_ROOT")
    os.environ["VIRTKIT_STATE_ROOT"] = root
    try:
        yield root
    finally:
        kill_qemus(root)
        if old is None:
            os.environ.pop("VIRTKIT_STATE_ROOT", None)
        else:
            os.environ["VIRTKIT_STATE_ROOT"] = old


@pytest.fixture
def conn(state_root: str) -> Iterator[virtkit.Connection]:
    c = virtkit.open("qemu:///session")
    try:
        yield c
    finally:
        for dom in c.list_domains():
            with contextlib.suppress(virtkit.VirtError):
                if dom.is_active():
                    dom.destroy()
            with contextlib.suppress(virtkit.VirtError):
                for snap in dom.list_all_snapshots():
                    snap.delete(metadata_only=True)
            with contextlib.suppress(virtkit.VirtError):
                if dom.is_persistent():
                    dom.undefine(managed_save=True, snapshots_metadata=True)
        c.close()
        kill_qemus(state_root)


@pytest.fixture(scope="session")
def tiny() -> tuple[Path, Path]:
    """(kernel, initramfs) of the tiny guest."""
    return tinyguest.kernel_path(), tinyguest.build_initramfs(CACHE)


def diskless(name: str, *, kind: str = "kvm", devices: str = "", extra: str = "",
             memory_mib: int = 128, vcpus: str = "<vcpu>1</vcpu>") -> str:
    """A firmware-only guest: KVM may run it here (no Linux kernel involved)."""
    return (f"<domain type='{kind}'><name>{name}</name><memory unit='MiB'>{memory_mib}"
            f"</memory>{vcpus}<os><type>hvm</type></os>{extra}<devices>{devices}</devices>"
            f"</domain>")


class Console:
    """Reads a guest's console through the API, keeping everything seen."""

    def __init__(self, dom: Any) -> None:
        self.stream = dom.open_console()
        self.seen = b""
        self.lock = threading.Lock()

    def wait_for(self, text: str, timeout: float = 90.0, start: int = 0) -> int:
        """Wait until ``text`` appears after offset ``start``; its end offset."""
        deadline = time.monotonic() + timeout
        needle = text.encode()
        while True:
            idx = self.seen.find(needle, start)
            if idx >= 0:
                return idx + len(needle)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{text!r} not seen on the console; got {self.seen[-500:]!r}")
            with contextlib.suppress(virtkit.VirtError):
                self.seen += self.stream.recv(4096, timeout=min(left, 1.0))

    def command(self, line: str, answer: str, timeout: float = 30.0) -> str:
        """Send ``line`` and return the console line that starts with ``answer``."""
        start = len(self.seen)
        self.stream.send(line.encode() + b"\r")
        end = self.wait_for(answer, timeout, start)
        self.wait_for("\n", timeout, end)
        begin = self.seen.rfind(answer.encode(), start, end)
        return self.seen[begin:].split(b"\n", 1)[0].decode(errors="replace").strip()

    def close(self) -> None:
        with contextlib.suppress(virtkit.VirtError):
            self.stream.finish()


def wait_state(dom: Any, state: int, timeout: float = 60.0) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    while True:
        got = dom.state()
        if got[0] == state or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


class Events:
    def __init__(self, conn: virtkit.Connection, kind: str = "domain-lifecycle") -> None:
        self.got: list[Any] = []
        self.conn = conn
        conn.event_register(kind, self.got.append, None)

    def pairs(self, uuid: str) -> list[tuple[int, int]]:
        return [(e.event, e.detail) for e in self.got if e.obj.uuid == uuid]

    def wait(self, uuid: str, count: int, timeout: float = 30.0) -> list[tuple[int, int]]:
        deadline = time.monotonic() + timeout
        while len(self.pairs(uuid)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        with contextlib.suppress(Exception):
            self.conn.events.wait_idle(0.2)
        return self.pairs(uuid)
