from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fake"))

import launcher

import virtkit
from virtkit.api.connection import Connection


@pytest.fixture
def vbox_version() -> str:
    """The VirtualBox version the fake answers as (tests mark ``VERSIONS`` to run both)."""
    return "7.0.14"


@pytest.fixture
def fake(vbox_version: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake VirtualBox of one recorded version, with its own HOME; returns its root."""
    for key, value in launcher.environment(tmp_path, vbox_version).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("VBOX_MANAGE", raising=False)
    return tmp_path


@pytest.fixture
def conn(fake: Path) -> Iterator[Connection]:
    c = virtkit.open("vbox:///session?poll_interval=0.05")
    try:
        yield c
    finally:
        c.close()

