"""qemu:///system run by root starts QEMU as an unprivileged user (VIRTKIT_QEMU_USER)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import diskless

import virtkit
from virtkit.sdk.states import DomainState as S


@pytest.mark.skipif(os.geteuid() != 0, reason="qemu:///system needs root")
def test_system_guest_runs_as_the_unprivileged_user(state_root: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIRTKIT_QEMU_USER", "nobody")
    conn = virtkit.open("qemu:///system")
    # the private state root stands in for /run: its parents must be traversable
    for d in (state_root, f"{state_root}/system", f"{state_root}/system/qemu"):
        os.chmod(d, 0o711)
    try:
        dom = conn.create_xml(diskless("sysuser1"))
        assert dom.state()[0] == S.RUNNING
        rec = json.loads((Path(state_root) / "system/qemu/run/domains/sysuser1.json")
                         .read_text())
        status = Path(f"/proc/{rec['pid']}/status").read_text()
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        assert uid_line.split()[1:] == ["65534"] * 4, uid_line
        dom.suspend()  # the monitor works through the unprivileged QEMU's socket
        dom.destroy()
    finally:
        conn.close()
