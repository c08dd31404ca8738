"""Snapshots: internal qcow2 snapshots with memory (savevm/loadvm), memory-state files for
diskless guests, shut-off disk snapshots, and the refusal for writable raw disks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import diskless

import virtkit
from virtkit.sdk.states import DomainState as S

C = virtkit.ErrorCode


def _snap(name: str) -> str:
    return f"<domainsnapshot><name>{name}</name></domainsnapshot>"


def _disk(path: Path, fmt: str) -> str:
    return (f"<disk type='file'><driver name='qemu' type='{fmt}'/><source file='{path}'/>"
            f"<target dev='vda' bus='virtio'/></disk>")


def test_internal_qcow2_snapshots(conn: virtkit.Connection, tmp_path: Path) -> None:
    img = tmp_path / "root.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(img), "32M"], check=True)
    dom = conn.define_xml(diskless("snapq", devices=_disk(img, "qcow2")))
    dom.create()
    s1 = dom.snapshot_create_xml(_snap("s1"))
    dom.suspend()
    s2 = dom.snapshot_create_xml(_snap("s2"))
    info = subprocess.run(["qemu-img", "snapshot", "-U", "-l", str(img)], capture_output=True,
                          text=True, check=True).stdout
    assert "s1" in info and "s2" in info, "the snapshots live inside the qcow2 image"
    assert s2.parent() == s1
    s1.revert()
    assert dom.state() == (S.RUNNING, 4)
    s2.revert()
    assert dom.state() == (S.PAUSED, 7)
    dom.destroy()
    s1.revert()  # from shut off: QEMU starts and loads the snapshot
    assert dom.state() == (S.RUNNING, 4)
    s2.delete()
    info = subprocess.run(["qemu-img", "snapshot", "-U", "-l", str(img)], capture_output=True,
                          text=True, check=True).stdout
    assert "s2" not in info
    assert [s.name for s in dom.list_all_snapshots()] == ["s1"]


def test_diskless_snapshot_keeps_memory_in_a_file(conn: virtkit.Connection) -> None:
    dom = conn.define_xml(diskless("snapm"))
    dom.create()
    run = dom.snapshot_create_xml(_snap("run"))
    dom.destroy()
    off = dom.snapshot_create_xml(_snap("off"))
    run.revert()
    assert dom.state() == (S.RUNNING, 4)
    off.revert()
    assert dom.state() == (S.SHUTOFF, 7)
    run.revert(paused=True)
    assert dom.state() == (S.PAUSED, 7)


def test_writable_raw_disk_refuses_internal_snapshot(conn: virtkit.Connection,
                                                      tmp_path: Path) -> None:
    img = tmp_path / "raw.img"
    img.write_bytes(b"\0" * 1024 * 1024)
    dom = conn.define_xml(diskless("snapr", devices=_disk(img, "raw")))
    dom.create()
    with pytest.raises(virtkit.VirtError) as info:
        dom.snapshot_create_xml(_snap("x"))
    assert info.value.code == C.OPERATION_UNSUPPORTED and "'vda'" in info.value.message
