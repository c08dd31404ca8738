"""Fixtures for the host storage service: a state root per test, connections of a test-only
driver that declares ``host_services = ("storage",)``, pools on real directories, loop devices
and mounts that are always released (also when a test fails)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from storagekit import Transcript, dir_pool_xml, loops_of, mounts_under, open_host

import virtkit
from virtkit.api.connection import Connection
from virtkit.services.storage.state import host_for


@pytest.fixture
def state_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "state"
    monkeypatch.setenv("VIRTKIT_STATE_ROOT", str(root))
    return root


@pytest.fixture
def conn(state_root: Path) -> Iterator[Connection]:
    c = open_host()
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def transcript(conn: Connection, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Answer the host's commands from a written transcript: ``transcript(steps)``."""
    def use(steps: Any) -> Transcript:
        t = Transcript(steps)
        monkeypatch.setattr(host_for("session"), "runner", t)
        return t
    return use


@pytest.fixture
def pool(conn: Connection, tmp_path: Path) -> virtkit.StoragePool:
    p = conn.storage_pool_define_xml(dir_pool_xml("images", tmp_path / "images"))
    p.build()
    p.create()
    return p


@pytest.fixture
def host_devices(tmp_path: Path) -> Iterator[Path]:
    """A directory for image files; at teardown everything mounted under it (and under the
    test's tmp dir) is unmounted and every loop device backed by a file in it is detached."""
    if os.geteuid() != 0 or not os.path.exists("/dev/loop-control"):
        pytest.fail("these tests need root and loop devices (run them as root)")
    images = tmp_path / "devices"
    images.mkdir()
    try:
        yield images
    finally:
        for point in mounts_under(str(tmp_path)):
            subprocess.run(["umount", "-l", point], capture_output=True)
        for image in images.iterdir():
            for dev in loops_of(str(image)):
                subprocess.run(["losetup", "-d", dev], capture_output=True)


@pytest.fixture
def loop_device(host_devices: Path) -> Iterator[str]:
    """A 256 MiB loop device (partition scanning on) over a sparse file."""
    image = host_devices / "disk.img"
    with open(image, "wb") as f:
        f.truncate(256 * 1024 * 1024)
    dev = subprocess.run(["losetup", "-f", "--show", "-P", str(image)], check=True,
                         capture_output=True, text=True).stdout.strip()
    try:
        yield dev
    finally:
        with contextlib.suppress(Exception):
            subprocess.run(["losetup", "-d", dev], capture_output=True)


