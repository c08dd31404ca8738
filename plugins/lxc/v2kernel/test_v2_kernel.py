"""Real containers on a pure cgroup v2 kernel: run by v2vm.py inside a guest (Debian's 6.1
kernel, the unified hierarchy at /sys/fs/cgroup with every controller), never on a v1 host,
where they would fail (the first test checks that it runs where it should)."""

from __future__ import annotations

import time
from pathlib import Path

from lxc_tests_conftest import domain_xml, read_console, run_record

from virtkit.sdk.states import DomainState, RunningReason, ShutoffReason
from virtkit_lxc.cgroups import Cgroup, default_version

NS = "https://virtkit.dev/xmlns/lxc/1"
SLOW = 300  # seconds: the guest runs under TCG, tens of times slower than the host


def _cg(state: str, name: str) -> Path:
    cg = Cgroup.from_dict(run_record(state, name)["cgroup"])
    assert cg.version == 2
    return Path(cg.paths["unified"])


def test_this_is_a_v2_host():
    assert default_version() == 2
    assert "memory" in Path("/sys/fs/cgroup/cgroup.controllers").read_text().split()


def test_limits_land_in_their_files(conn, rootdir, state):
    extra = ("<vcpu>2</vcpu><cputune><shares>512</shares><period>100000</period>"
             "<quota>50000</quota></cputune><blkiotune><weight>300</weight></blkiotune>"
             "<memtune><hard_limit unit='MiB'>48</hard_limit></memtune>"
             f"<metadata><vk:lxc xmlns:vk='{NS}'><vk:pids max='64'/></vk:lxc></metadata>")
    dom = conn.define_xml(domain_xml("v2lim", rootdir, "echo END; exec sleep 1000",
                                     extra=extra, memory_mib=64))
    dom.create()
    path = _cg(state, "v2lim")
    read_console(dom, "END", timeout=SLOW)
    assert (path / "memory.max").read_text().strip() == str(48 << 20)  # the hard limit
    assert (path / "memory.swap.max").read_text().strip() == "0"
    assert (path / "cpu.weight").read_text().strip() == "512"
    assert (path / "cpu.max").read_text().strip() == "50000 100000"
    assert (path / "pids.max").read_text().strip() == "64"
    assert not (path / "io.bfq.weight").exists()  # BFQ is a module nothing loads here
    assert (path / "io.weight").read_text().split()[:2] == ["default", "300"]  # iocost's
    dom.set_memory(16 * 1024)
    assert (path / "memory.max").read_text().strip() == str(16 << 20)
    dom.set_vcpus(1)
    assert (path / "cpuset.cpus").read_text().strip() == "0"
    assert (path / "cpuset.cpus.effective").read_text().strip() == "0"
    assert dom.info().cpu_time > 0 and dom.memory_stats()["rss"] > 0
    dom.destroy()
    assert not path.exists()  # the cgroup goes with the container


def test_memory_max_kills_an_allocation_beyond_it(conn, rootdir, state):
    script = ("head -c 100000000 /dev/zero | tail > /dev/null; echo survived=$?; "
              "echo END; exec sleep 1000")
    dom = conn.define_xml(domain_xml("v2mem", rootdir, script, memory_mib=32))
    dom.create()
    path = _cg(state, "v2mem")
    out = read_console(dom, "END", timeout=SLOW)
    assert "survived=137" in out  # tail was killed (128 + SIGKILL), init survives
    events = dict(line.split() for line in (path / "memory.events").read_text().splitlines())
    assert int(events["oom_kill"]) >= 1
    assert dom.state()[0] == DomainState.RUNNING
    dom.destroy()


def test_pids_max_refuses_forks(conn, rootdir, state):
    script = ("( i=0; while [ $i -lt 20 ]; do sleep 2 &amp; i=$((i+1)); done; wait ) "
              "2>/dev/null; echo END; exec sleep 1000")
    extra = f"<metadata><vk:lxc xmlns:vk='{NS}'><vk:pids max='8'/></vk:lxc></metadata>"
    dom = conn.define_xml(domain_xml("v2pid", rootdir, script, extra=extra))
    dom.create()
    path = _cg(state, "v2pid")
    read_console(dom, "END", timeout=SLOW)
    events = dict(line.split() for line in (path / "pids.events").read_text().splitlines())
    assert int(events["max"]) >= 1  # forks beyond pids.max were refused
    assert dom.state()[0] == DomainState.RUNNING
    dom.destroy()


def test_cpu_max_throttles(conn, rootdir, state):
    extra = "<cputune><period>100000</period><quota>10000</quota></cputune>"
    dom = conn.define_xml(domain_xml("v2cpu", rootdir, "while :; do :; done", extra=extra))
    dom.create()
    path = _cg(state, "v2cpu")
    time.sleep(5)
    stat = dict(line.split() for line in (path / "cpu.stat").read_text().splitlines())
    assert int(stat["nr_throttled"]) > 0
    used, wall = int(stat["usage_usec"]), 5_000_000
    assert used < wall * 0.5  # a tenth of a cpu allowed; far below a whole one
    dom.destroy()


def test_freeze_thaw_and_destroy_frozen(conn, rootdir, state):
    script = "i=0; while :; do i=$((i+1)); echo $i > /tmp/v2count; sleep 0.1; done"
    dom = conn.define_xml(domain_xml("v2frz", rootdir, script))
    dom.create()
    counter = rootdir / "tmp" / "v2count"
    deadline = time.monotonic() + SLOW
    while not counter.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    dom.suspend()
    path = _cg(state, "v2frz")
    assert "frozen 1" in (path / "cgroup.events").read_text()
    a = counter.read_text()
    time.sleep(2)
    assert counter.read_text() == a
    dom.resume()
    assert dom.state() == (DomainState.RUNNING, RunningReason.UNPAUSED)
    deadline = time.monotonic() + SLOW
    while counter.read_text() == a and time.monotonic() < deadline:
        time.sleep(0.2)
    assert counter.read_text() != a
    dom.suspend()
    dom.destroy()
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.DESTROYED)
    assert not path.exists()


def test_devices_filtered_by_the_ebpf_program(conn, rootdir, state):
    """The device program the driver attaches (devfilter.py): the container cannot make a
    block device node, and a process joining its cgroup from the host side opens the safe set
    but not /dev/kmsg."""
    import subprocess
    import sys

    from virtkit_lxc import devfilter

    script = ("if mknod /tmp/sda b 8 0 2>/dev/null; then echo mknod-ok; "
              "else echo mknod-denied; fi; echo END; exec sleep 1000")
    dom = conn.define_xml(domain_xml("v2dev", rootdir, script))
    dom.create()
    out = read_console(dom, "END", timeout=SLOW)
    assert "mknod-denied" in out
    path = _cg(state, "v2dev")
    assert devfilter.attached(str(path)) == 1
    probe = ("import os, sys\n"
             "open(sys.argv[1] + '/cgroup.procs', 'w').write(str(os.getpid()))\n"
             "for dev in ('/dev/null', '/dev/kmsg'):\n"
             "    try:\n"
             "        os.close(os.open(dev, os.O_RDONLY)); print(dev, 'ok')\n"
             "    except OSError as e:\n"
             "        print(dev, e.errno)\n")
    res = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True,
                         text=True, check=True, timeout=SLOW).stdout.split("\n")
    assert res[:2] == ["/dev/null ok", "/dev/kmsg 1"]  # EPERM
    dom.destroy()
