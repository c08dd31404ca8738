"""Fixtures: a busybox root, a private state root, a connection to lxc:///system, and cleanup of
every container, supervisor and cgroup a test made, also when the test fails."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import virtkit

sys.path.insert(0, str(Path(__file__).parent))
import busyboxroot

from virtkit_lxc import runner
from virtkit_lxc.cgroups import Cgroup

if os.geteuid() != 0:
    pytest.exit("the lxc tests make real containers: run them as root", returncode=1)


@pytest.fixture(scope="session")
def rootdir() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="vklroot-"))
    base.chmod(0o755)  # reachable by a container's mapped root (user namespace)
    yield busyboxroot.build(base / "root")
    shutil.rmtree(base, ignore_errors=True)


def reap(state: str) -> None:
    """Kill every supervisor and container recorded under ``state``, and their cgroups."""
    doms = Path(state, "system", "lxc", "run", "domains")  # the runtime status records
    for rec in doms.glob("*.json") if doms.exists() else ():
        with contextlib.suppress(ValueError, OSError):
            run = json.loads(rec.read_text()).get("run")
            if run:
                runner.kill_supervisor(run["supervisor_pid"], run.get("supervisor_start"))
                Cgroup.from_dict(run["cgroup"]).remove()
    for pid in os.listdir("/proc"):  # fork servers and supervisors of a record never written
        if pid.isdigit():
            with contextlib.suppress(OSError):
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                if b"virtkit_lxc.forkserver" in cmd and \
                        f"VIRTKIT_STATE_ROOT={state}".encode() in env:
                    os.kill(int(pid), signal.SIGKILL)  # a fork server, or a supervisor from it


@pytest.fixture
def state(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    root = tempfile.mkdtemp(prefix="vkl-")
    monkeypatch.setenv("VIRTKIT_STATE_ROOT", root)
    monkeypatch.setenv("VIRTKIT_CHECK_RESULTS", "1")
    try:
        yield root
    finally:
        reap(root)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def conn(state: str) -> Iterator[virtkit.Connection]:
    c = virtkit.open("lxc:///system")
    try:
        yield c
    finally:
        for d in c.list_domains(active=True):
            with contextlib.suppress(virtkit.VirtError):
                if d.is_active():
                    d.destroy()
        c.close()


def domain_xml(name: str, root: Path, script: str, *, extra: str = "", devices: str = "",
               memory_mib: int = 64, os_extra: str = "") -> str:
    return (f"<domain type='lxc'><name>{name}</name><memory unit='MiB'>{memory_mib}</memory>"
            f"{extra}<os><type>exe</type><init>/bin/sh</init><initarg>-c</initarg>"
            f"<initarg>{script}</initarg>{os_extra}</os><devices>"
            f"<filesystem type='mount'><source dir='{root}'/><target dir='/'/></filesystem>"
            f"{devices}<console type='pty'/></devices></domain>")


def read_console(dom: virtkit.Domain, marker: str, timeout: float = 10.0) -> str:
    """Console output up to and including ``marker``."""
    stream = dom.open_console()
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while marker.encode() not in out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no '{marker}' on the console within {timeout}s: {out!r}")
            with contextlib.suppress(virtkit.VirtError):
                out += dom_recv(stream, min(left, 0.5))
    finally:
        stream.abort()
    return out.decode(errors="replace")


def dom_recv(stream: virtkit.Stream, timeout: float) -> bytes:
    data = stream.recv(65536, timeout=timeout)
    if data == b"":
        time.sleep(0.05)
    return data


def wait_state(dom: virtkit.Domain, state: int, timeout: float = 10.0) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    while True:
        st = dom.state()
        if st[0] == state or time.monotonic() > deadline:
            return st  # type: ignore[no-any-return]
        time.sleep(0.05)


def run_record(state: str, name: str) -> dict:
    path = Path(state, "system", "lxc", "run", "domains", f"{name}.json")
    return json.loads(path.read_text())["run"]  # type: ignore[no-any-return]
