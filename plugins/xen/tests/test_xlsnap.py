"""Snapshots of ``xen:///system`` guests: qcow2 disk snapshots plus saved memory.

LABELLED: no Xen runs here. ``qemu-img`` runs FOR REAL on qcow2 files in the test's directory
(the disks' snapshots are really taken, applied and deleted, and their contents checked with
``qemu-io``); the xl side (``xl save``/``restore``/``create``/``destroy``/``list -v``...) is
answered by ``StandInDom0`` below, written for this test in the shape of the transcript
recorded on the real Xen (its ``xl info`` and ``xl list -v`` lines are copied from
tests/data/xl-lifecycle.jsonl). ``xl save``/``restore`` of a guest were run for real there
(docs/xen.md); the snapshot sequence itself was not."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import virtkit
from virtkit.sdk.errors import ErrorCode as C
from virtkit.sdk.errors import VirtError
from virtkit.sdk.states import DomainState as S
from virtkit.sdk.states import RunningReason
from virtkit_xen.runner import LocalRunner, RunResult

TRANSCRIPT = Path(__file__).parent / "data" / "xl-lifecycle.jsonl"
LIST_HEAD = ("Name                                        ID   Mem VCPUs\tState\tTime(s)   UUID"
             "                            Reason-Code\tSecurity Label\n"
             "Domain-0                                     0  1024     1     r-----      91.9 "
             "00000000-0000-0000-0000-000000000000        -                -\n")


class StandInDom0:
    """xl's answers for the test (see the module's docstring); qemu-img runs for real."""

    def __init__(self) -> None:
        entries = [json.loads(line) for line in TRANSCRIPT.read_text().splitlines()]
        self.info = next(e["stdout"] for e in entries if e["argv"] == ["xl", "info"])
        self.files: dict[str, str] = {}
        self.doms: dict[str, tuple[int, str, str]] = {}  # name -> (id, state, uuid)
        self.saved: dict[str, tuple[str, str]] = {}  # dom0 path -> (name, uuid)
        self.next_id = 1
        self.device_model = False  # the real run's dom0 has none
        self.log: list[list[str]] = []
        self.local = LocalRunner()

    def _up(self, name: str, uuid: str, paused: bool) -> None:
        self.doms[name] = (self.next_id, "--p---" if paused else "-b----", uuid)
        self.next_id += 1

    def run(self, argv: Sequence[str], *, input: bytes | None = None,
            timeout: float = 120.0) -> RunResult:
        a = list(argv)
        self.log.append(a)
        if a[0] == "qemu-img":
            return self.local.run(a, timeout=timeout)
        ok = RunResult(0, "", "")
        if a == ["xl", "info"]:
            return RunResult(0, self.info, "")
        if a == ["xl", "list", "-v"]:
            rows = "".join(f"{n:<44}{i:>3}   128     1     {st}      1.0 {u}        -"
                           f"                -\n" for n, (i, st, u) in self.doms.items())
            return RunResult(0, LIST_HEAD + rows, "")
        if a[:2] == ["sh", "-c"] and "cat >" in a[2]:
            self.files[a[2].rsplit(" ", 1)[1]] = (input or b"").decode()
            return ok
        if a[0] == "test":  # the device model probe: present when the test says so
            return RunResult(0 if self.device_model else 1, "", "")
        if a[0] in ("mkdir", "rm") or a[:2] == ["sh", "-c"]:
            if a[0] == "rm":
                self.saved.pop(a[-1], None)
            return ok
        if a[0] == "xenstore-read":
            return RunResult(0, "1\n", "")
        cmd, rest = a[1], a[2:]
        paused = "-p" in rest
        rest = [r for r in rest if r != "-p"]
        if cmd == "create":
            cfg = self.files[rest[0]]
            name = cfg.split('name = "', 1)[1].split('"', 1)[0]
            uuid = cfg.split('uuid = "', 1)[1].split('"', 1)[0]
            self._up(name, uuid, paused)
            return RunResult(0, "", f"Parsing config from {rest[0]}\n")
        if cmd == "domid":
            return RunResult(0, f"{self.doms[rest[0]][0]}\n", "")
        if cmd in ("pause", "unpause"):
            i, _, u = self.doms[rest[0]]
            self.doms[rest[0]] = (i, "--p---" if cmd == "pause" else "-b----", u)
            return ok
        if cmd == "trigger" and rest[1:] == ["reset"] and rest[0] in self.doms:
            return ok
        if cmd == "destroy":
            del self.doms[rest[0]]
            return ok
        if cmd == "save":
            self.saved[rest[1]] = (rest[0], self.doms.pop(rest[0])[2])
            return RunResult(0, "", f"Saving to {rest[1]} new xl format\n")
        if cmd == "restore":
            name, uuid = self.saved[rest[-1]]
            self._up(name, uuid, paused)
            return RunResult(0, "", f"Loading new save file {rest[-1]}\n")
        return RunResult(1, "", f"stand-in dom0: unexpected {a}\n")

    def close(self) -> None:
        pass


@pytest.fixture
def dom0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StandInDom0]:
    monkeypatch.setenv("VIRTKIT_STATE_ROOT", str(tmp_path / "state"))
    monkeypatch.setenv("VIRTKIT_XEN_POLL", "0")
    d = StandInDom0()
    monkeypatch.setattr("virtkit_xen.driver.runner_from_spec", lambda spec: d)
    yield d


def qcow2(path: Path, pattern: int) -> str:
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "16M"], check=True)
    write(path, pattern)
    return str(path)


def write(path: Path, pattern: int) -> None:
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P {pattern} 0 64k", str(path)],
                   check=True, capture_output=True)


def holds(path: Path, pattern: int) -> bool:
    r = subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"read -P {pattern} 0 64k", str(path)],
                       capture_output=True, text=True)
    return r.returncode == 0 and "Pattern verification failed" not in r.stdout


def internal_snapshots(path: Path) -> list[str]:
    out = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(path)],
                                    check=True, capture_output=True, text=True).stdout)
    return [s["name"] for s in out.get("snapshots", [])]


def guest(name: str, disk: str, fmt: str = "qcow2") -> str:
    return (f"<domain type='xen'><name>{name}</name><memory>131072</memory><os>"
            "<type>linux</type><kernel>/boot/vmlinuz</kernel></os><devices>"
            f"<disk type='file' device='disk'><driver name='qemu' type='{fmt}'/>"
            f"<source file='{disk}'/><target dev='xvda' bus='xen'/></disk></devices></domain>")


def cmds(d: StandInDom0, word: str) -> list[list[str]]:
    return [a for a in d.log if word in a]


def test_snapshot_revert_delete_with_disks_and_memory(dom0: StandInDom0,
                                                      tmp_path: Path) -> None:
    disk = tmp_path / "d.qcow2"
    qcow2(disk, 0xAA)
    conn: Any = virtkit.open("xen:///system")
    dom = conn.define_xml(guest("snappy", str(disk)))
    dom.create()
    first_id = dom.id
    s1 = dom.snapshot_create_xml("<domainsnapshot><name>s1</name><description>before"
                                 "</description></domainsnapshot>")
    assert internal_snapshots(disk) == ["s1"], "qemu-img took the disk's snapshot"
    assert cmds(dom0, "save") and cmds(dom0, "restore"), "memory saved, guest restored"
    assert dom.state()[0] == S.RUNNING and dom.id != first_id, "restored: a new domain id"
    assert "snapshot='external' file='/var/lib/xen/virtkit/snapshots/snappy/s1.save'" in \
        s1.xml_desc()
    write(disk, 0xBB)
    dom.destroy()
    off = dom.snapshot_create_xml("<domainsnapshot><name>off</name></domainsnapshot>")
    assert internal_snapshots(disk) == ["s1", "off"] and off.parent() == s1
    assert "<memory snapshot='no'/>" in off.xml_desc()

    restores = len(cmds(dom0, "restore"))
    s1.revert()
    assert dom.state() == (S.RUNNING, RunningReason.FROM_SNAPSHOT)
    assert holds(disk, 0xAA) and not holds(disk, 0xBB), "the disk is back at s1"
    assert len(cmds(dom0, "restore")) == restores + 1, "from s1's memory"
    assert dom.snapshot_current() == s1

    off.revert(running=True)  # a disk-only snapshot, started afresh
    assert dom.state() == (S.RUNNING, RunningReason.FROM_SNAPSHOT)
    assert holds(disk, 0xBB) and cmds(dom0, "create")

    with pytest.raises(VirtError) as err:
        dom.undefine()
    assert err.value.code == C.OPERATION_INVALID and "snapshots" in err.value.message
    s1.delete(children=True)
    assert internal_snapshots(disk) == [] and dom.list_all_snapshots() == []
    dom.destroy()
    dom.undefine()
    conn.close()


def test_delete_reparents_and_keeps_disks_consistent(dom0: StandInDom0, tmp_path: Path) -> None:
    disk = tmp_path / "r.qcow2"
    qcow2(disk, 1)
    conn: Any = virtkit.open("xen:///system")
    dom = conn.define_xml(guest("tree", str(disk)))
    a = dom.snapshot_create_xml("<domainsnapshot><name>a</name></domainsnapshot>")
    dom.snapshot_create_xml("<domainsnapshot><name>b</name></domainsnapshot>")
    c = dom.snapshot_create_xml("<domainsnapshot><name>c</name></domainsnapshot>")
    dom.snapshot_lookup_by_name("b").delete()
    assert c.parent() == a and internal_snapshots(disk) == ["a", "c"]
    a.delete(children_only=True)
    assert [s.name for s in dom.list_all_snapshots()] == ["a"] == internal_snapshots(disk)
    assert not cmds(dom0, "save"), "an inactive guest: disks only"
    dom.undefine(snapshots_metadata=True)
    conn.close()


def test_only_qcow2_disks_can_be_snapshotted(dom0: StandInDom0, tmp_path: Path) -> None:
    raw = tmp_path / "raw.img"
    raw.write_bytes(b"\0" * 65536)
    conn: Any = virtkit.open("xen:///system")
    dom = conn.define_xml(guest("rawguest", str(raw), fmt="raw"))
    with pytest.raises(VirtError) as err:
        dom.snapshot_create_xml("<domainsnapshot><name>x</name></domainsnapshot>")
    assert err.value.code == C.CONFIG_UNSUPPORTED and "'xvda'" in err.value.message
    assert dom.list_all_snapshots() == [] and not cmds(dom0, "qemu-img")
    conn.close()


def test_reset_hvm_triggers_pv_restarts(dom0: StandInDom0) -> None:
    dom0.device_model = True  # an HVM guest runs only where dom0 has one
    conn: Any = virtkit.open("xen:///system")
    hvm = conn.define_xml("<domain type='xen'><name>h</name><memory>131072</memory><os>"
                          "<type>hvm</type></os></domain>")
    pv = conn.define_xml("<domain type='xen'><name>p</name><memory>131072</memory><os>"
                         "<type>linux</type><kernel>/boot/vmlinuz</kernel></os></domain>")
    for d in (hvm, pv):
        d.create()
    hid, pid = hvm.id, pv.id
    hvm.reset()
    assert ["xl", "trigger", "h", "reset"] in dom0.log and hvm.id == hid
    pv.reset()
    assert ["xl", "destroy", "p"] in dom0.log and pv.id != pid, "PV: a hard restart"
    after = dom0.log[dom0.log.index(["xl", "destroy", "p"]):]
    assert any(a[:2] == ["xl", "create"] for a in after) and pv.state()[0] == S.RUNNING
    assert not any(a[:2] == ["xl", "trigger"] and "p" in a for a in dom0.log)
    conn.close()


def test_info_of_an_inactive_guest_counts_its_current_vcpus(dom0: StandInDom0) -> None:
    """libvirt's nrVirtCpu is the vcpus the guest would run with, not its maximum."""
    conn: Any = virtkit.open("xen:///system")
    dom = conn.define_xml("<domain type='xen'><name>v</name><memory>131072</memory>"
                          "<vcpu current='1'>4</vcpu><os><type>linux</type>"
                          "<kernel>/boot/vmlinuz</kernel></os></domain>")
    assert dom.info().nr_virt_cpu == 1
    dom.set_vcpus(3, config=True)
    assert dom.info().nr_virt_cpu == 3 and dom.vcpus_count(config=True, maximum=True) == 4
    dom.set_vcpus(4, config=True)
    assert dom.info().nr_virt_cpu == 4
    conn.close()
