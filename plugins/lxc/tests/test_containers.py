"""Real containers: isolation, the console, resources, the freezer, lifecycle and faults."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from conftest import domain_xml, read_console, run_record, wait_state

import virtkit
from virtkit.sdk.states import (
    DomainState,
    EventType,
    RunningReason,
    ShutoffReason,
    StoppedDetail,
)
from virtkit_lxc.cgroups import Cgroup, CgroupError

HERE = Path(__file__).parent


def test_init_is_pid1_isolated_with_hostname(conn, rootdir):
    script = ("echo pid=$$; hostname; echo procs=$(ls /proc | grep -c '^[0-9]'); "
              "cat /hostetc/passwd; grep -c ' /work' /proc/mounts; "
              "ls /dev | tr '\\n' ' '; echo; "
              "(echo 1 > /proc/sys/kernel/domainname) 2>/dev/null || echo procsys-ro; "
              "if mknod /tmp/vkl-sda b 8 0 2>/dev/null; then echo mknod-ok; "
              "else echo mknod-denied; fi; "
              "echo END; sleep 1000")
    dom = conn.define_xml(domain_xml("iso1", rootdir, script))
    dom.create()
    assert dom.state() == (DomainState.RUNNING, RunningReason.BOOTED)
    out = read_console(dom, "END")
    assert "pid=1" in out
    assert "\niso1\n" in out.replace("\r", "")
    procs = int(out.split("procs=")[1].split()[0])
    host = sum(p.isdigit() for p in os.listdir("/proc"))
    assert procs <= 4 < host  # init, $(...), ls, grep: no host process is visible
    assert "daemon:" not in out and "user:x:1000" in out  # the container's /etc, not the host's
    assert "\n0\n" in out.replace("\r", "")  # no host mount (/work) visible
    assert "procsys-ro" in out
    assert "mknod-denied" in out and not (rootdir / "tmp" / "vkl-sda").exists()
    devs = set(out.split("procsys-ro")[0].splitlines()[-1].split())
    assert {"null", "zero", "console", "pts", "ptmx", "urandom"} <= devs
    assert not devs & {"sda", "vda", "mem", "kmsg", "kvm"}
    dom.destroy()
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.DESTROYED)


def test_memory_limit_kills_an_allocation_beyond_it(conn, rootdir):
    script = ("head -c 200000000 /dev/zero | tail > /dev/null; echo survived=$?; "
              "echo END; sleep 1000")
    dom = conn.define_xml(domain_xml("mem1", rootdir, script, memory_mib=32))
    dom.create()
    out = read_console(dom, "END", timeout=30)
    assert "survived=137" in out  # tail was killed by the OOM killer (128 + SIGKILL)
    cg = Cgroup.from_dict(run_record(os.environ["VIRTKIT_STATE_ROOT"], "mem1")["cgroup"])
    path = cg.paths["memory"] if cg.version == 1 else cg.paths["unified"]
    key = "memory.limit_in_bytes" if cg.version == 1 else "memory.max"
    assert Path(path, key).read_text().strip() == str(32 * 1024 * 1024)
    assert dom.state()[0] == DomainState.RUNNING  # init survives
    dom.set_memory(16 * 1024)
    assert Path(path, key).read_text().strip() == str(16 * 1024 * 1024)
    assert dom.info().max_mem == 32 * 1024


def _counter(rootdir: Path, name: str) -> int:
    try:
        return int((rootdir / "tmp" / name).read_text() or 0)
    except (OSError, ValueError):
        return -1


def test_suspend_freezes_and_resume_thaws(conn, rootdir):
    (rootdir / "tmp" / "count-frz").unlink(missing_ok=True)
    script = "i=0; while :; do i=$((i+1)); echo $i > /tmp/count-frz; sleep 0.02; done"
    dom = conn.define_xml(domain_xml("frz1", rootdir, script))
    dom.create()
    deadline = time.monotonic() + 10
    while _counter(rootdir, "count-frz") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _counter(rootdir, "count-frz") >= 3
    dom.suspend()
    assert dom.state()[0] == DomainState.PAUSED
    a = _counter(rootdir, "count-frz")
    time.sleep(0.5)
    assert _counter(rootdir, "count-frz") == a
    dom.resume()
    assert dom.state() == (DomainState.RUNNING, RunningReason.UNPAUSED)
    deadline = time.monotonic() + 10  # a loaded machine may take a while to schedule it
    while _counter(rootdir, "count-frz") <= a and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _counter(rootdir, "count-frz") > a
    dom.suspend()
    dom.destroy()  # a frozen container is destroyed too
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.DESTROYED)


def test_init_exit_codes_give_shutdown_or_crashed(conn, rootdir):
    ok = conn.define_xml(domain_xml("exit0", rootdir, "sleep 0.2; exit 0"))
    bad = conn.define_xml(domain_xml("exit3", rootdir, "sleep 0.2; exit 3"))
    ok.create()
    bad.create()
    assert wait_state(ok, DomainState.SHUTOFF) == (DomainState.SHUTOFF, ShutoffReason.SHUTDOWN)
    assert wait_state(bad, DomainState.SHUTOFF) == (DomainState.SHUTOFF, ShutoffReason.CRASHED)


def test_kill_of_init_gives_crashed_with_event(conn, rootdir, state):
    events: list = []
    got = threading.Event()

    def cb(ev):
        events.append((ev.event, ev.detail))
        if ev.event == EventType.STOPPED:
            got.set()

    conn.event_register("domain-lifecycle", cb)
    dom = conn.define_xml(domain_xml("kill1", rootdir, "sleep 1000"))
    dom.create()
    os.kill(run_record(state, "kill1")["init_pid"], signal.SIGKILL)
    assert got.wait(10), events
    assert (EventType.STOPPED, StoppedDetail.CRASHED) in events
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.CRASHED)


def test_shutdown_signals_init_then_destroys_after_timeout(conn, rootdir, monkeypatch):
    polite = conn.define_xml(domain_xml(
        "shut1", rootdir, "trap 'exit 0' TERM; while :; do sleep 0.05; done"))
    polite.create()
    time.sleep(0.3)
    polite.shutdown()
    assert wait_state(polite, DomainState.SHUTOFF) == (DomainState.SHUTOFF,
                                                       ShutoffReason.SHUTDOWN)
    import virtkit_lxc.driver as drv
    monkeypatch.setattr(drv, "SHUTDOWN_TIMEOUT", 0.5)
    stubborn = conn.define_xml(domain_xml("shut2", rootdir, "sleep 1000"))
    stubborn.create()
    t = time.monotonic()
    stubborn.shutdown()
    assert wait_state(stubborn, DomainState.SHUTOFF) == (DomainState.SHUTOFF,
                                                         ShutoffReason.SHUTDOWN)
    assert time.monotonic() - t < 5


def test_reboot_restarts_init(conn, rootdir, state):
    reboots = threading.Event()
    conn.event_register("domain-reboot", lambda ev: reboots.set())
    dom = conn.define_xml(domain_xml("boot1", rootdir, "sleep 1000"))
    dom.create()
    first = run_record(state, "boot1")["init_pid"]
    dom_id = dom.id
    dom.reboot()
    assert reboots.wait(5)
    assert dom.state()[0] == DomainState.RUNNING and dom.id == dom_id
    assert run_record(state, "boot1")["init_pid"] != first


def test_manager_killed_then_container_found_again(state, rootdir):
    script = textwrap.dedent(f"""
        import sys, time, virtkit
        sys.path.insert(0, {str(HERE)!r})
        from conftest import domain_xml
        from pathlib import Path
        c = virtkit.open("lxc:///system")
        d = c.define_xml(domain_xml("survive", Path({str(rootdir)!r}),
                         "echo hello-survivor; sleep 1000"))
        d.create()
        print("started", flush=True)
        time.sleep(1000)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "started"
        proc.kill()  # kill -9 of the managing process
        proc.wait()
        conn = virtkit.open("lxc:///system")
        try:
            dom = conn.lookup_by_name("survive")
            assert dom.state()[0] == DomainState.RUNNING
            assert "hello-survivor" in read_console(dom, "hello-survivor")
            dom.destroy()
            assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.DESTROYED)
        finally:
            conn.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_symlinked_mount_target_is_refused(conn, rootdir, tmp_path):
    evil = tmp_path / "evilroot"
    (evil / "bin").mkdir(parents=True)
    (evil / "bin" / "sh").symlink_to(rootdir / "bin" / "busybox")
    (evil / "data").symlink_to("/etc")  # the container's own path points at the host's /etc
    src = tmp_path / "src"
    src.mkdir()
    before = Path("/proc/self/mountinfo").read_text()
    dom = conn.define_xml(domain_xml(
        "evil1", evil, "sleep 1", devices=f"<filesystem type='mount'><source dir='{src}'/>"
                                          f"<target dir='/data'/></filesystem>"))
    with pytest.raises(virtkit.VirtError) as info:
        dom.create()
    assert info.value.code == virtkit.ErrorCode.OPERATION_FAILED
    assert "symlink" in info.value.message and "evil1" in info.value.message
    assert Path("/proc/self/mountinfo").read_text() == before
    assert dom.state()[0] == DomainState.SHUTOFF


def test_init_settings_env_workdir_user(conn, rootdir):
    os_extra = ("<initenv name='GREETING'>hi there</initenv><initdir>/tmp</initdir>"
                "<inituser>user</inituser>")
    dom = conn.define_xml(domain_xml(
        "envs1", rootdir, "echo g=$GREETING; pwd; id -u; id -g; echo END; sleep 1000",
        os_extra=os_extra))
    assert "<initenv name=\"GREETING\">hi there</initenv>" in dom.xml_desc().replace("'", '"')
    dom.create()
    out = read_console(dom, "END").replace("\r", "")
    assert "g=hi there\n/tmp\n1000\n1000\n" in out


def test_user_namespace_idmap(conn, rootdir):
    idmap = ("<idmap><uid start='0' target='100000' count='65536'/>"
             "<gid start='0' target='100000' count='65536'/></idmap>")
    dom = conn.define_xml(domain_xml("userns1", rootdir,
                                     "cat /proc/self/uid_map; id -u; echo END; sleep 1000",
                                     extra=idmap))
    dom.create()
    out = read_console(dom, "END")
    assert out.split()[:3] == ["0", "100000", "65536"]
    assert "\n0\n" in out.replace("\r", "")


def test_cgroup_resources_and_live_vcpus(conn, rootdir, state):
    extra = ("<vcpu>2</vcpu><cputune><shares>512</shares><period>100000</period>"
             "<quota>50000</quota></cputune>"
             "<metadata><vk:lxc xmlns:vk='https://virtkit.dev/xmlns/lxc/1'>"
             "<vk:pids max='64'/></vk:lxc></metadata>")
    dom = conn.define_xml(domain_xml("res1", rootdir, "sleep 1000", extra=extra))
    dom.create()
    cg = Cgroup.from_dict(run_record(state, "res1")["cgroup"])
    assert cg.version == 1  # this host's hierarchy
    read = lambda c, k: Path(cg.paths[c], k).read_text().strip()  # noqa: E731
    assert read("cpu", "cpu.shares") == "512"
    assert read("cpu", "cpu.cfs_quota_us") == "50000"
    assert read("pids", "pids.max") == "64"
    allowed = read("devices", "devices.list").splitlines()
    assert "c 1:3 rwm" in allowed and "c 136:* rwm" in allowed and "a *:* rwm" not in allowed
    assert not any(line.startswith("b ") for line in allowed)  # no block device at all
    dom.set_vcpus(1)
    assert read("cpuset", "cpuset.cpus") == str(sorted(os.sched_getaffinity(0))[0])
    info = dom.info()
    assert info.cpu_time > 0 and info.nr_virt_cpu == 1  # the live count
    stats = dom.memory_stats()
    assert stats["rss"] > 0


def test_cgroup_v2_freezer_and_counters(rootdir):
    """The v2 code path on this host's unified hierarchy, which has no controllers delegated
    (they are all on v1 here): the core's freezer and cpu.stat work; a memory limit is refused
    with a message naming the missing file."""
    cg = Cgroup.create(f"v2test-{os.getpid()}", version=2)
    counter = rootdir / "tmp" / "count-v2"
    proc = subprocess.Popen([str(rootdir / "bin" / "busybox"), "sh", "-c",
                             f"i=0; while :; do i=$((i+1)); echo $i > {counter}; sleep 0.01; done"])
    try:
        cg.attach(proc.pid)
        time.sleep(0.2)
        cg.freeze()
        assert cg.frozen()
        a = _counter(rootdir, "count-v2")
        time.sleep(0.3)
        assert _counter(rootdir, "count-v2") == a
        cg.thaw()
        deadline = time.monotonic() + 10
        while _counter(rootdir, "count-v2") <= a and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _counter(rootdir, "count-v2") > a
        assert cg.cpu_time_ns() > 0
        with pytest.raises(CgroupError, match=r"memory\.max"):
            cg.set_memory(32 << 20)
    finally:
        proc.kill()
        proc.wait()
        cg.remove()
    assert not os.path.exists(cg.paths["unified"])


_DEVICE_PROBE = """
import os, sys
open(sys.argv[1] + '/cgroup.procs', 'w').write(str(os.getpid()))
def try_(what, fn):
    try:
        fn()
        print(what + '|ok')
    except OSError as e:
        print(what + '|' + e.strerror)
try_('read null', lambda: os.close(os.open('/dev/null', os.O_RDONLY)))
try_('write null', lambda: os.close(os.open('/dev/null', os.O_WRONLY)))
try_('read kmsg', lambda: os.close(os.open('/dev/kmsg', os.O_RDONLY)))
try_('pty', lambda: [os.close(fd) for fd in os.openpty()])
d = sys.argv[2]
try_('mknod b 8:0', lambda: os.mknod(d + '/sda', 0o600 | 0o060000, os.makedev(8, 0)))
try_('mknod c 1:3', lambda: os.mknod(d + '/null', 0o600 | 0o020000, os.makedev(1, 3)))
"""


def test_cgroup_v2_device_filter_for_real(tmp_path):
    """The eBPF device program on this host's real v2 hierarchy (a process in the cgroup is
    checked by it whatever its v1 devices cgroup allows): the safe set and the ptys open, the
    rest (and an access a rule lacks) is EPERM, for root too."""
    from virtkit_lxc import devfilter
    from virtkit_lxc.supervisor import DEVICE_RULES

    results = {}
    for name, rules in (("all", DEVICE_RULES), ("ro", ("c 1:3 r",))):
        cg = Cgroup.create(f"v2dev-{name}-{os.getpid()}", version=2)
        try:
            cg.allow_devices(rules)
            assert devfilter.attached(cg.paths["unified"]) == 1
            (tmp_path / name).mkdir()
            out = subprocess.run([sys.executable, "-c", _DEVICE_PROBE, cg.paths["unified"],
                                  str(tmp_path / name)], capture_output=True, text=True,
                                 check=True).stdout
            results[name] = dict(line.split("|") for line in out.splitlines())
        finally:
            cg.remove()
    denied = "Operation not permitted"
    assert results["all"]["read null"] == results["all"]["write null"] == "ok"
    assert results["all"]["pty"] == "ok"
    assert results["all"]["read kmsg"] == denied
    assert results["all"]["mknod b 8:0"] == denied
    assert results["ro"]["read null"] == "ok"
    assert results["ro"]["write null"] == denied
    assert results["ro"]["pty"] == denied
    assert results["all"]["mknod c 1:3"] == "ok" and results["ro"]["mknod c 1:3"] == denied


def test_bad_documents_name_the_problem(conn, rootdir):
    with pytest.raises(virtkit.VirtError) as info:
        conn.define_xml(domain_xml("bad1", rootdir, "true",
                                   devices="<disk type='file'><source file='/x'/>"
                                           "<target dev='vda'/></disk>"))
    assert info.value.code == virtkit.ErrorCode.CONFIG_UNSUPPORTED
    assert "bad1" in info.value.message and "disk" in info.value.message
    noroot = conn.define_xml(domain_xml("bad2", rootdir, "true").replace(
        f"<filesystem type='mount'><source dir='{rootdir}'/><target dir='/'/></filesystem>", ""))
    with pytest.raises(virtkit.VirtError) as info:
        noroot.create()
    assert "no root filesystem" in info.value.message and "bad2" in info.value.message


def test_every_connection_sees_the_events(conn, rootdir, state):
    """A change noticed or made by one connection reaches the others' callbacks too."""
    other = virtkit.open("lxc:///system")
    try:
        seen: list = []
        got = threading.Event()

        def cb(ev):
            seen.append((ev.event, ev.detail))
            if ev.event == EventType.STOPPED:
                got.set()

        other.event_register("domain-lifecycle", cb)
        dom = conn.define_xml(domain_xml("evt1", rootdir, "sleep 0.3; exit 0"))
        dom.create()
        assert got.wait(10), seen
        assert seen == [(EventType.DEFINED, 0), (EventType.STARTED, 0),
                        (EventType.SHUTDOWN, 0), (EventType.STOPPED, StoppedDetail.SHUTDOWN)]
    finally:
        other.close()


QUICK = [(EventType.DEFINED, 0), (EventType.STARTED, 0),
         (EventType.STOPPED, StoppedDetail.DESTROYED), (EventType.UNDEFINED, 0),
         (EventType.STARTED, 0), (EventType.STOPPED, StoppedDetail.DESTROYED)]


def _collect(c: virtkit.Connection, n: int) -> tuple[list, threading.Event]:
    seen: list = []
    done = threading.Event()

    def cb(ev):
        seen.append((ev.obj.name, ev.event, ev.detail))
        if len(seen) >= n:
            done.set()

    c.event_register("domain-lifecycle", cb)
    return seen, done


def _quick_cycle(c: virtkit.Connection, rootdir: Path) -> None:
    """define, start, destroy, undefine, then a transient domain started and destroyed: all
    within one poll of the watcher; undefine and the transient's stop delete the record."""
    dom = c.define_xml(domain_xml("q1", rootdir, "sleep 1000"))
    dom.create()
    dom.destroy()
    dom.undefine()
    c.create_xml(domain_xml("q2", rootdir, "sleep 1000")).destroy()


def test_quick_changes_reach_another_connection_in_order(conn, rootdir, state):
    other = virtkit.open("lxc:///system")
    try:
        seen, done = _collect(other, len(QUICK))
        mine, _ = _collect(conn, len(QUICK))
        _quick_cycle(conn, rootdir)
        assert done.wait(10), seen
        time.sleep(0.3)  # nothing more arrives, nothing twice
        expect = [("q1", *e) for e in QUICK[:4]] + [("q2", *e) for e in QUICK[4:]]
        assert seen == expect
        assert mine == expect  # the connection that made them, once each
    finally:
        other.close()


def test_quick_changes_in_another_process_reach_this_one(conn, rootdir, state):
    seen, done = _collect(conn, len(QUICK))
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(HERE)!r})
        import virtkit
        from test_containers import _quick_cycle
        c = virtkit.open("lxc:///system")
        _quick_cycle(c, Path({str(rootdir)!r}))
        c.close()
        """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120, cwd=HERE)
    assert done.wait(10), seen
    time.sleep(0.3)
    assert seen == [("q1", *e) for e in QUICK[:4]] + [("q2", *e) for e in QUICK[4:]]


def test_events_survive_journal_rotation(rootdir, state, monkeypatch):
    """The journal rotates by size (here 300 bytes, a cycle or two of one domain): another
    connection still gets every event, in order."""
    import virtkit_lxc.driver as drv
    monkeypatch.setattr(drv, "JOURNAL_MAX_BYTES", 300)
    conn = virtkit.open("lxc:///system")
    other = virtkit.open("lxc:///system")
    try:
        seen, done = _collect(other, 40)
        journal = Path(state, "system", "lxc", "run", "events.journal")
        for i in range(10):
            dom = conn.define_xml(domain_xml(f"rot{i}", rootdir, "sleep 1000"))
            dom.create()
            dom.destroy()
            dom.undefine()
            time.sleep(0.15 * (i % 3))  # some cycles within one poll, some not
        assert done.wait(10), seen
        assert Path(str(journal) + ".1").exists()
        assert seen == [(f"rot{i}", *e) for i in range(10) for e in QUICK[:4]]
    finally:
        other.close()
        conn.close()


def test_bind_ram_and_volume_filesystems(conn, rootdir, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "hello.txt").write_text("from the host\n")
    devices = (f"<filesystem type='mount'><source dir='{data}'/><target dir='/data'/>"
               f"<readonly/></filesystem>"
               f"<filesystem type='ram'><source usage='1024' units='KiB'/>"
               f"<target dir='/scratch'/></filesystem>")
    dom = conn.define_xml(domain_xml(
        "fs1", rootdir, "cat /data/hello.txt; touch /data/x 2>/dev/null || echo ro-ok; "
        "grep ' /scratch ' /proc/mounts | cut -d' ' -f3,4; echo END; sleep 1000",
        devices=devices))
    dom.create()
    out = read_console(dom, "END").replace("\r", "")
    assert "from the host\nro-ok\n" in out
    assert "tmpfs rw,nosuid,nodev,relatime,size=1024k" in out
    # a pool volume goes through the storage service; a file volume is not a directory
    pooldir = tmp_path / "pool"
    pooldir.mkdir()
    pool = conn.storage_pool_create_xml(f"<pool type='dir'><name>vklpool</name><target>"
                                        f"<path>{pooldir}</path></target></pool>")
    try:
        pool.create_xml("<volume><name>img</name><capacity unit='KiB'>64</capacity>"
                        "<target><format type='raw'/></target></volume>")
        vol = conn.define_xml(domain_xml(
            "fs2", rootdir, "true", devices="<filesystem type='volume'><source pool='vklpool' "
                                            "volume='img'/><target dir='/img'/></filesystem>"))
        with pytest.raises(virtkit.VirtError) as info:
            vol.create()
        assert info.value.code == virtkit.ErrorCode.CONFIG_UNSUPPORTED
        assert "volume 'img' of pool 'vklpool'" in info.value.message
        assert "not a directory" in info.value.message
    finally:
        pool.destroy()


def test_reboot_from_inside_restarts_the_container(conn, rootdir, state):
    marker = rootdir / "tmp" / f"rebooted-{os.getpid()}"
    marker.unlink(missing_ok=True)
    reboots = threading.Event()
    conn.event_register("domain-reboot", lambda ev: reboots.set())
    # reboot(2) inside a pid namespace only ends that namespace's init (with SIGHUP); the
    # guard makes sure the call is made only where this shell is pid 1
    script = (f"if [ -e /tmp/{marker.name} ]; then echo second-boot; sleep 1000; "
              f"else touch /tmp/{marker.name}; if [ $$ = 1 ]; then reboot -f; fi; "
              f"sleep 1000; fi")
    dom = conn.define_xml(domain_xml("inreboot", rootdir, script))
    dom.create()
    first = run_record(state, "inreboot")["init_pid"]
    assert reboots.wait(10)
    assert dom.state()[0] == DomainState.RUNNING
    assert run_record(state, "inreboot")["init_pid"] != first
    assert "second-boot" in read_console(dom, "second-boot")
    marker.unlink(missing_ok=True)
