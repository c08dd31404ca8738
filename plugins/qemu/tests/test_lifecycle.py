"""Lifecycle of firmware-only guests (KVM here: no Linux kernel runs in them), save, restore,
managed save, jobs, resources, safety of files and sockets."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import Events, diskless

import virtkit
from virtkit.sdk.states import DomainState as S
from virtkit.sdk.states import EventType as E

C = virtkit.ErrorCode


def test_define_start_suspend_resume_destroy(conn: virtkit.Connection) -> None:
    ev = Events(conn)
    dom = conn.define_xml(diskless("life1"))
    assert "machine='pc-i440fx-" in dom.xml_desc(), "the machine alias is resolved on define"
    dom.create()
    assert dom.state() == (S.RUNNING, 1) and dom.id > 0
    assert conn.lookup_by_id(dom.id) == dom
    dom.suspend()
    assert dom.state() == (S.PAUSED, 1)
    dom.resume()
    assert dom.state() == (S.RUNNING, 5)
    with pytest.raises(virtkit.VirtError) as info:
        dom.create()
    assert info.value.code == C.OPERATION_INVALID
    dom.destroy()
    assert dom.state() == (S.SHUTOFF, 2) and dom.id == -1
    assert ev.wait(dom.uuid, 5) == [(E.DEFINED, 0), (E.STARTED, 0), (E.SUSPENDED, 0),
                                     (E.RESUMED, 0), (E.STOPPED, 1)]


def test_start_paused_and_transient(conn: virtkit.Connection) -> None:
    dom = conn.create_xml(diskless("trans1"), paused=True)
    assert dom.state() == (S.PAUSED, 1) and not dom.is_persistent()
    dom.destroy()
    with pytest.raises(virtkit.VirtError) as info:
        conn.lookup_by_name("trans1")
    assert info.value.code == C.NO_DOMAIN


def test_qemu_runs_sandboxed_with_private_sockets(conn: virtkit.Connection,
                                                   state_root: str) -> None:
    dom = conn.create_xml(diskless("safe1", devices="<serial type='unix'/>"
                                   "<graphics type='vnc' passwd='pw'/>"))
    gdir = Path(state_root) / "session/qemu/run/g" / dom.uuid.replace("-", "")[:16]
    assert stat.S_IMODE(gdir.stat().st_mode) == 0o700
    for sock in gdir.glob("*.sock"):
        assert stat.S_IMODE(sock.stat().st_mode) & 0o077 == 0, sock
    pid = int(next(p for p in os.listdir("/proc") if p.isdigit() and
                   str(gdir).encode() in Path(f"/proc/{p}/cmdline").read_bytes()))
    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert cmd[cmd.index(b"-sandbox") + 1].startswith(b"on,")
    assert b"127.0.0.1:" in cmd[cmd.index(b"-vnc") + 1], "VNC listens on loopback only"
    assert "passwd" not in dom.xml_desc() and "passwd='pw'" in dom.xml_desc(security_info=True)
    log = Path(state_root) / "session/qemu/log/safe1.log"
    assert "-sandbox" in log.read_text(), "the guest's log holds its command line"


def test_failed_start_reports_qemu_error(conn: virtkit.Connection) -> None:
    dom = conn.define_xml(diskless("fail1", extra="<cpu mode='custom'><model>NoSuchCpu</model>"
                                   "</cpu>"))
    with pytest.raises(virtkit.VirtError) as info:
        dom.create()
    assert info.value.code == C.OPERATION_FAILED
    assert "NoSuchCpu" in info.value.message and "internal error" not in info.value.message
    assert dom.state()[0] == S.SHUTOFF


def test_missing_disk_is_named_before_start(conn: virtkit.Connection, tmp_path: Path) -> None:
    img = tmp_path / "gone.img"
    img.write_bytes(b"\0" * 1024 * 1024)
    dom = conn.define_xml(diskless("miss1", devices=f"<disk type='file'><source file='{img}'/>"
                                   f"<target dev='vda' bus='virtio'/></disk>"))
    img.unlink()
    with pytest.raises(virtkit.VirtError) as info:
        dom.create()
    assert info.value.code == C.OPERATION_FAILED
    assert str(img) in info.value.message and "'vda'" in info.value.message


def test_raw_disk_with_qcow2_header_stays_raw(conn: virtkit.Connection, tmp_path: Path) -> None:
    img = tmp_path / "tricky.img"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(img), "16M"], check=True)
    dom = conn.create_xml(diskless("raw1", devices=f"<disk type='file'><source file='{img}'/>"
                                   f"<target dev='vda' bus='virtio'/></disk>"))
    from virtkit_qemu.driver import _hosts

    host = next(iter(_hosts.values()))
    g = host.guests[dom.uuid]
    assert g.monitor is not None
    blocks = {b["qdev"]: b for b in g.monitor.execute("query-block")}
    dev = next(v for k, v in blocks.items() if "disk-vda" in k)
    assert dev["inserted"]["drv"] == "raw", "the declared (default) format, never probed"


def test_kvm_type_needs_usable_kvm_and_qemu_type_emulates(conn: virtkit.Connection) -> None:
    dom = conn.create_xml(diskless("tcg1", kind="qemu"))
    from virtkit_qemu.driver import _hosts

    g = next(iter(_hosts.values())).guests[dom.uuid]
    assert g.monitor is not None
    assert g.monitor.execute("query-kvm")["enabled"] is False


def test_save_restore_and_bad_images(conn: virtkit.Connection, tmp_path: Path) -> None:
    ev = Events(conn)
    dom = conn.define_xml(diskless("save1"))
    dom.create()
    path = tmp_path / "save1.save"
    dom.save(str(path))
    assert dom.state() == (S.SHUTOFF, 5)
    assert path.read_bytes().startswith(b"VirtkitQemuSave\n")
    job = dom.job_info()
    assert job.type == 3 and job.operation == "save"
    back = conn.restore(str(path))
    assert back == dom and dom.state() == (S.RUNNING, 3)
    assert ev.wait(dom.uuid, 4)[-2:] == [(E.STOPPED, 4), (E.STARTED, 2)]
    dom.suspend()
    dom.save(str(path))
    conn.restore(str(path))
    assert dom.state()[0] == S.PAUSED, "a paused guest restores paused"
    dom.destroy()
    junk = tmp_path / "junk.save"
    junk.write_bytes(b"\0not an image" * 100)
    for bad in (junk, tmp_path / "missing.save"):
        with pytest.raises(virtkit.VirtError) as info:
            conn.restore(str(bad))
        assert info.value.code in (C.OPERATION_INVALID, C.SYSTEM_ERROR)
        assert str(bad) in info.value.message
    # a valid header on a corrupt stream: QEMU refuses it, the domain stays off
    data = path.read_bytes()
    corrupt = tmp_path / "corrupt.save"
    corrupt.write_bytes(data[:8192] + b"\xff" * 8192)
    with pytest.raises(virtkit.VirtError):
        conn.restore(str(corrupt))
    assert dom.state()[0] == S.SHUTOFF


def test_managed_save(conn: virtkit.Connection) -> None:
    dom = conn.define_xml(diskless("msave1"))
    dom.create()
    dom.managed_save()
    assert dom.state() == (S.SHUTOFF, 5) and dom.has_managed_save_image()
    dom.create()
    assert dom.state() == (S.RUNNING, 3) and not dom.has_managed_save_image()
    dom.managed_save()
    dom.create(force_boot=True)
    assert dom.state() == (S.RUNNING, 1)


def test_balloon_and_vcpu_hotplug(conn: virtkit.Connection) -> None:
    dom = conn.define_xml(diskless("res1", memory_mib=256,
                                   vcpus="<vcpu current='1'>3</vcpu>"))
    dom.create()
    dom.set_memory(192 * 1024, live=True)
    assert dom.info().memory == 192 * 1024
    with pytest.raises(virtkit.VirtError) as info:
        dom.set_memory(512 * 1024, live=True)
    assert info.value.code == C.INVALID_ARG
    dom.set_vcpus(3, live=True)
    assert dom.vcpus_count(live=True) == 3
    from virtkit_qemu.driver import _hosts

    g = next(iter(_hosts.values())).guests[dom.uuid]
    assert g.monitor is not None
    assert len(g.monitor.execute("query-cpus-fast")) == 3
    stats = dom.memory_stats()
    assert stats["rss"] > 0 and "actual" in stats


def test_kvm_domain_refused_clearly_without_usable_kvm(conn: virtkit.Connection,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from virtkit_qemu import caps

    monkeypatch.setattr(caps, "kvm_usable", lambda: False)
    dom = conn.define_xml(diskless("nokvm1"))
    with pytest.raises(virtkit.VirtError) as info:
        dom.create()
    assert info.value.code == C.CONFIG_UNSUPPORTED
    assert "/dev/kvm" in info.value.message and "'nokvm1'" in info.value.message
    assert "<domain type='kvm'/>" not in conn.get_capabilities()
