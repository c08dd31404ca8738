"""cgroup v2, translated: from the domain XML to the files the driver writes in a unified
hierarchy, checked against a DIRECTORY LAID OUT AS A v2 CGROUPFS (regular files where the kernel
has its interface files), not against the kernel. This host's unified hierarchy has no
controllers (they are all bound to v1), so only the freezer and cpu.stat run on the real v2
kernel here (test_containers.py::test_cgroup_v2_freezer_and_counters); docs/lxc.md says which.

Every write goes through ``cgroups._write``, recorded here in order, so a test sees exactly what
the kernel would have been told, including writes that overwrite each other in a regular file.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from virtkit_lxc import cgroups, spec
from virtkit_lxc.cgroups import Cgroup, CgroupError
from virtkit_lxc.launch import resources_of
from virtkit_lxc.supervisor import DEVICE_RULES, apply_limits

CONTROLLERS = "cpuset cpu io memory hugetlb pids"
#: the interface files of a v2 cgroup with those controllers enabled (those the driver uses)
FILES = {
    "cgroup.procs": "", "cgroup.freeze": "0", "cgroup.events": "populated 0\nfrozen 0\n",
    "cgroup.controllers": CONTROLLERS, "cgroup.subtree_control": "",
    "memory.max": "max", "memory.swap.max": "max", "memory.current": "1234567",
    "memory.stat": "anon 1000\nfile 2000\nkernel 300\n",
    "cpu.weight": "100", "cpu.max": "max 100000",
    "cpu.stat": "usage_usec 4321\nuser_usec 4000\nsystem_usec 321\n",
    "pids.max": "max", "io.weight": "default 100", "cpuset.cpus": "",
    "cpuset.cpus.effective": "0-1", "cpuset.mems": "",
}


def _layout(root: Path, name: str, drop: tuple[str, ...] = ()) -> Path:
    """ROOT (the hierarchy's root), ROOT/virtkit-lxc and ROOT/virtkit-lxc/NAME, each with the
    interface files (as the kernel makes them on mkdir)."""
    for d in (root, root / "virtkit-lxc", root / "virtkit-lxc" / name):
        d.mkdir(parents=True, exist_ok=True)
        for f, text in FILES.items():
            if f not in drop:
                (d / f).write_text(text)
    return root / "virtkit-lxc" / name


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    log: list[tuple[str, str]] = []
    real = cgroups._write

    def recording(path: str, value: str) -> None:
        real(path, value)
        log.append((path, value))

    monkeypatch.setattr(cgroups, "_write", recording)
    return log


def _rel(log: list[tuple[str, str]], base: Path) -> list[tuple[str, str]]:
    return [(os.path.relpath(p, base), v) for p, v in log]


def _defn(extra: str = "", vcpu: str = "", memory: str = "<memory unit='MiB'>256</memory>"
          ) -> spec.Definition:
    return spec.parse(
        f"<domain type='lxc'><name>v2</name>{memory}{vcpu}{extra}<os><type>exe</type>"
        f"<init>/bin/sh</init></os><devices><filesystem type='mount'><source dir='/srv/r'/>"
        f"<target dir='/'/></filesystem></devices></domain>")


def test_create_enables_the_controllers_below_root_and_parent(tmp_path, writes):
    path = _layout(tmp_path, "web.u1")
    cg = Cgroup.create("web.u1", 2, v2root=str(tmp_path))
    assert cg.version == 2 and cg.paths == {"unified": str(path)}
    enabled = [f"+{c}" for c in CONTROLLERS.split()]
    assert _rel(writes, tmp_path) == (
        [("cgroup.subtree_control", e) for e in enabled]
        + [("virtkit-lxc/cgroup.subtree_control", e) for e in enabled])
    assert Cgroup.from_dict(cg.to_dict()).paths == cg.paths


def test_every_limit_of_a_definition_lands_in_its_v2_file(tmp_path, writes):
    path = _layout(tmp_path, "web.u1")
    cg = Cgroup(2, {"unified": str(path)})
    d = _defn("<currentMemory unit='MiB'>200</currentMemory>"
              "<memtune><hard_limit unit='MiB'>96</hard_limit></memtune>"
              "<cputune><shares>512</shares><period>50000</period><quota>25000</quota>"
              "</cputune><blkiotune><weight>700</weight></blkiotune>"
              f"<metadata><vk:lxc xmlns:vk='{spec.METADATA_NS}'><vk:pids max='64'/></vk:lxc>"
              "</metadata>", vcpu="<vcpu cpuset='1'>2</vcpu>")
    apply_limits(cg, resources_of(d))
    assert _rel(writes, path) == [
        ("memory.max", str(96 << 20)),  # the lower of currentMemory and hard_limit
        ("memory.swap.max", "0"),  # no swap beyond it, as v1's memsw limit
        ("cpu.weight", "512"),  # libvirt writes <shares> as the v2 weight
        ("cpu.max", "25000 50000"),
        ("pids.max", "64"),
        ("io.weight", "700"),
        ("cpuset.cpus", "1"),
    ]
    assert (path / "cpu.max").read_text() == "25000 50000"


def test_defaults_period_alone_and_bfq(tmp_path, writes):
    path = _layout(tmp_path, "web.u1")
    (path / "io.bfq.weight").write_text("100")
    cg = Cgroup(2, {"unified": str(path)})
    d = _defn("<cputune><period>20000</period></cputune><blkiotune><weight>300</weight>"
              "</blkiotune>", memory="<memory unit='KiB'>65536</memory>")
    apply_limits(cg, resources_of(d))
    assert _rel(writes, path) == [
        ("memory.max", str(64 << 20)), ("memory.swap.max", "0"),
        ("cpu.max", "max 20000"),  # a period without a quota: no bandwidth limit
        ("io.bfq.weight", "300"),  # BFQ's weight file first, as on v1
    ] + ([("cpuset.cpus", str(min(os.sched_getaffinity(0))))]  # 1 vcpu (the default): 1 cpu
         if len(os.sched_getaffinity(0)) > 1 else [])


def test_vcpus_fewer_than_the_host_get_the_first_cpus(tmp_path, writes):
    host = sorted(os.sched_getaffinity(0))
    res = resources_of(_defn(vcpu=f"<vcpu current='1'>{len(host)}</vcpu>"))
    assert res["cpuset"] == str(host[0])
    assert "cpuset" not in resources_of(_defn(vcpu=f"<vcpu>{len(host)}</vcpu>"))


@pytest.mark.parametrize(("missing", "extra", "message"), [
    ("memory.max", "", r"memory\.max"),
    ("cpu.weight", "<cputune><shares>10</shares></cputune>", r"cpu\.weight"),
    ("cpu.max", "<cputune><quota>1000</quota></cputune>", r"cpu\.max"),
    ("pids.max", f"<metadata><vk:lxc xmlns:vk='{spec.METADATA_NS}'><vk:pids max='5'/>"
                 f"</vk:lxc></metadata>", r"pids\.max"),
    ("io.weight", "<blkiotune><weight>200</weight></blkiotune>", r"io controller has no weight"),
    ("cpuset.cpus", "", r"cpuset\.cpus"),
])
def test_a_limit_the_hierarchy_lacks_names_its_file(tmp_path, writes, missing, extra, message):
    """A controller not enabled for the cgroup has no files: the start fails naming the file
    (memory.swap.max alone is optional: hosts without swap accounting lack it)."""
    path = _layout(tmp_path, "web.u1", drop=(missing, "memory.swap.max"))
    cg = Cgroup(2, {"unified": str(path)})
    vcpu = "<vcpu cpuset='0'>1</vcpu>" if missing == "cpuset.cpus" else ""
    with pytest.raises(CgroupError, match=message):
        apply_limits(cg, resources_of(_defn(extra, vcpu=vcpu)))


def test_shares_outside_the_v2_weight_range_are_refused(tmp_path, writes):
    path = _layout(tmp_path, "web.u1")
    cg = Cgroup(2, {"unified": str(path)})
    for bad in (0, 10001, 262144):
        with pytest.raises(CgroupError, match=r"cpu\.weight.*1\.\.10000"):
            cg.set_cpu_shares(bad)
    cg.set_cpu_shares(10000)
    cg.set_cpu_shares(1)
    assert _rel(writes, path) == [("cpu.weight", "10000"), ("cpu.weight", "1")]


def test_live_changes_and_counters(tmp_path, writes):
    path = _layout(tmp_path, "web.u1")
    cg = Cgroup(2, {"unified": str(path)})
    cg.set_memory(48 << 20)
    cg.set_cpuset("0")
    cg.set_pids(0)  # no limit
    assert _rel(writes, path) == [("memory.max", str(48 << 20)), ("memory.swap.max", "0"),
                                  ("cpuset.cpus", "0"), ("pids.max", "max")]
    assert cg.cpuset() == "0-1"  # v2 reports the effective set
    assert cg.cpu_time_ns() == 4321 * 1000
    assert cg.memory_usage() == 1234567
    assert cg.memory_stat() == {"anon": 1000, "file": 2000, "kernel": 300}
    (path / "cgroup.procs").write_text("101\n102\n")
    assert cg.pids() == [101, 102]


def test_the_device_filter_needs_a_real_cgroup(tmp_path, writes):
    """v2 controls devices with an eBPF program attached to the cgroup (devfilter.py), which
    the kernel refuses for a plain directory: the start fails naming it, nothing is written
    (the filter itself runs for real in test_containers.py)."""
    path = _layout(tmp_path, "web.u1")
    with pytest.raises(CgroupError, match=rf"device filter.*{path}|{path}.*device filter"):
        Cgroup(2, {"unified": str(path)}).allow_devices(DEVICE_RULES)
    assert writes == []


def test_device_programs_from_rules():
    from virtkit_lxc import devfilter

    assert devfilter.parse_rule("c 136:* rwm") == (2, 136, None, 7)
    assert devfilter.parse_rule("b 8:0 r") == (1, 8, 0, 2)
    assert devfilter.parse_rule("a *:* m") == (None, None, None, 1)
    for bad in ("c 1:3", "x 1:3 rwm", "c 1-3 rwm", "c 1:3 rwx", "c a:3 r"):
        with pytest.raises(devfilter.DeviceFilterError, match="not a device rule"):
            devfilter.parse_rule(bad)
    # 6 loads, then per rule its tests and "r0 = 1; exit", then "r0 = 0; exit"
    assert len(devfilter.program(("c 1:3 rwm",))) == 8 * (6 + 3 + 2 + 2)
    assert len(devfilter.program(("c 1:3 r",))) == 8 * (6 + 4 + 2 + 2)  # + the access test
    assert len(devfilter.program(())) == 8 * (6 + 2)  # denies everything


def _kernel(path: Path, delay: float, stop: threading.Event) -> threading.Thread:
    """A stand-in for the kernel's freezer: after ``delay``, cgroup.events follows
    cgroup.freeze (the kernel reports frozen once every task stopped)."""
    def run() -> None:
        while not stop.is_set():
            want = (path / "cgroup.freeze").read_text().strip()[:1] == "1"
            time.sleep(delay)
            (path / "cgroup.events").write_text(f"populated 1\nfrozen {int(want)}\n")
            time.sleep(0.001)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_freeze_writes_cgroup_freeze_and_waits_for_frozen(tmp_path, writes):
    path = _layout(tmp_path, "web.u1")
    cg = Cgroup(2, {"unified": str(path)})
    stop = threading.Event()
    t = _kernel(path, 0.05, stop)
    try:
        t0 = time.monotonic()
        cg.freeze()
        assert cg.frozen() and time.monotonic() - t0 >= 0.04  # it waited for the report
        cg.thaw()
        assert not cg.frozen()
    finally:
        stop.set()
        t.join()
    assert _rel(writes, path) == [("cgroup.freeze", "1"), ("cgroup.freeze", "0")]


def test_a_freeze_never_reported_times_out(tmp_path, writes):
    path = _layout(tmp_path, "web.u1")
    cg = Cgroup(2, {"unified": str(path)})
    with pytest.raises(CgroupError, match=r"did not freeze within 0\.2s"):
        cg.freeze(timeout=0.2)
