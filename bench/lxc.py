"""virtkit's lxc driver against libvirt's (Debian's libvirtd with libvirt-daemon-driver-lxc), in
one run: define, start, suspend, resume and destroy (then undefine) a busybox container.

Both drive the same busybox root and the same init (a shell sleeping). libvirtd is started by
this script with its own configuration and socket directory (a private ``unix_sock_dir``) and
stopped at the end; the client is libvirt's Python binding (Debian's python3-libvirt), so both
sides are measured as an API call from Python: virtkit in-process (``lxc:///system``, state in a
private ``VIRTKIT_STATE_ROOT`` whose run directory is on /dev/shm, a tmpfs, as /run is on a
host; libvirtd's /run/libvirt is a tmpfs of its own too), libvirt through its daemon (the only
way libvirt's lxc driver runs). Rounds are interleaved ABAB (libvirt, virtkit, libvirt, ...)
after one warm-up each. It prints each operation's median wall time for both, with the
interquartile range, and virtkit's ratio to libvirt (median of the per-pair ratios). Target:
ratio <= 1 (at least as fast). A second table gives each operation's CPU time, which a loaded
machine distorts less than wall time: the calling process's (all threads; for virtkit that is
the whole driver) plus, for libvirt, its daemon's (all threads, from /proc/PID/task/*/schedstat);
child processes on either side (libvirt's controller, virtkit's supervisor) are not counted,
so for start and destroy it is the management side's share only.

    sudo python bench/lxc.py [-n 10]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OPS = ("define", "start", "suspend", "resume", "destroy", "undefine")
SCRIPT = "echo up; while :; do sleep 1; done"


def domain_xml(name: str, root: Path) -> str:
    return (f"<domain type='lxc'><name>{name}</name><memory unit='MiB'>64</memory>"
            f"<os><type>exe</type><init>/bin/sh</init><initarg>-c</initarg>"
            f"<initarg>{SCRIPT}</initarg></os><devices>"
            f"<filesystem type='mount'><source dir='{root}'/><target dir='/'/></filesystem>"
            f"<console type='pty'/></devices></domain>")


def timed(fn, cpu: dict[str, float], op: str, daemon: int | None = None) -> float:  # type: ignore[no-untyped-def]
    """``fn``'s wall time; its CPU time goes to ``cpu[op]``: this process's (every thread) and,
    for libvirt, its daemon's (every thread, read from /proc before and after, outside the wall
    time). Child processes (libvirt's controller, virtkit's supervisor) are not counted."""
    d0 = daemon_cpu(daemon) if daemon else 0.0
    c = time.process_time()
    t = time.perf_counter()
    fn()
    wall = time.perf_counter() - t
    cpu[op] = time.process_time() - c + ((daemon_cpu(daemon) - d0) if daemon else 0.0)
    return wall


def daemon_cpu(pid: int) -> float:
    """Seconds on the CPU of every thread of process ``pid`` (the first field of schedstat)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e9


class Libvirt:
    """libvirtd with a private socket directory, and a client connection to it."""

    def __init__(self, base: Path) -> None:
        sys.path.append("/usr/lib/python3/dist-packages")  # Debian's python3-libvirt
        import libvirt

        self.libvirt = libvirt
        sock = base / "sock"
        sock.mkdir()
        conf = base / "libvirtd.conf"
        conf.write_text(f'unix_sock_dir = "{sock}"\nauth_unix_rw = "none"\n'
                        f'auth_unix_ro = "none"\nlog_outputs = "3:file:{base}/libvirtd.log"\n')
        # libvirt 9.0's lxc driver fails to start containers on a hybrid cgroup host (it cannot
        # bind the v2 hierarchy into the container): run libvirtd in a mount namespace of its
        # own without /sys/fs/cgroup/unified, so it sees the v1 controllers only
        daemon = f"/usr/sbin/libvirtd --config {conf} --pid-file {base / 'pid'}"
        # the lxc driver alone (LIBVIRT_DRIVER_DIR): the qemu driver, when installed, fails
        # libvirtd's start on a host without its libvirt-qemu user, and the network driver's
        # pid file is another libvirtd's if one runs; /run/libvirt is a private tmpfs for the
        # same reason
        drivers = base / "drivers"
        drivers.mkdir()
        installed = Path("/usr/lib/x86_64-linux-gnu/libvirt/connection-driver")
        (drivers / "libvirt_driver_lxc.so").symlink_to(installed / "libvirt_driver_lxc.so")
        env = dict(os.environ, LIBVIRT_DRIVER_DIR=str(drivers))
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             f"umount /sys/fs/cgroup/unified 2>/dev/null; mkdir -p /run/libvirt && "
             f"mount -t tmpfs tmpfs /run/libvirt && exec {daemon}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, env=env)
        uri = f"lxc:///system?socket={sock}/libvirt-sock"
        deadline = time.monotonic() + 30
        while True:
            try:
                self.conn = libvirt.open(uri)
                break
            except libvirt.libvirtError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.1)
        self.daemon: int | None = self.proc.pid  # libvirtd (unshare and sh exec it)
        self.cpu: dict[str, float] = {}

    def cycle(self, name: str, xml: str) -> dict[str, float]:
        t: dict[str, float] = {}
        self.cpu = {}
        dom = None

        def define() -> None:
            nonlocal dom
            dom = self.conn.defineXML(xml)
        t["define"] = timed(define, self.cpu, "define", self.daemon)
        assert dom is not None
        t["start"] = timed(dom.create, self.cpu, "start", self.daemon)
        t["suspend"] = timed(dom.suspend, self.cpu, "suspend", self.daemon)
        t["resume"] = timed(dom.resume, self.cpu, "resume", self.daemon)
        t["destroy"] = timed(dom.destroy, self.cpu, "destroy", self.daemon)
        t["undefine"] = timed(dom.undefine, self.cpu, "undefine", self.daemon)
        return t

    def close(self) -> None:
        with contextlib.suppress(Exception):
            for dom in self.conn.listAllDomains():
                with contextlib.suppress(Exception):
                    if dom.isActive():
                        dom.destroy()
                    dom.undefine()
            self.conn.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class Virtkit:
    def __init__(self, base: Path) -> None:
        os.environ["VIRTKIT_STATE_ROOT"] = str(base / "vkstate")
        # as on a real host, and as libvirtd's /run/libvirt above: runtime status on a tmpfs
        # (/dev/shm), definitions on the disk
        self.run = Path(tempfile.mkdtemp(prefix="vklbench-run-", dir="/dev/shm"))
        (base / "vkstate" / "system" / "lxc").mkdir(parents=True)
        (base / "vkstate" / "system" / "lxc" / "run").symlink_to(self.run)
        import virtkit

        self.conn = virtkit.open("lxc:///system")
        self.daemon: int | None = None  # in-process
        self.cpu: dict[str, float] = {}

    def cycle(self, name: str, xml: str) -> dict[str, float]:
        t: dict[str, float] = {}
        self.cpu = {}
        dom = None

        def define() -> None:
            nonlocal dom
            dom = self.conn.define_xml(xml)
        t["define"] = timed(define, self.cpu, "define", self.daemon)
        assert dom is not None
        t["start"] = timed(dom.create, self.cpu, "start", self.daemon)
        t["suspend"] = timed(dom.suspend, self.cpu, "suspend", self.daemon)
        t["resume"] = timed(dom.resume, self.cpu, "resume", self.daemon)
        t["destroy"] = timed(dom.destroy, self.cpu, "destroy", self.daemon)
        t["undefine"] = timed(dom.undefine, self.cpu, "undefine", self.daemon)
        return t

    def close(self) -> None:
        with contextlib.suppress(Exception):
            for dom in self.conn.list_domains(active=True):
                dom.destroy()
        self.conn.close()
        shutil.rmtree(self.run, ignore_errors=True)


def iqr(xs: list[float]) -> float:
    if len(xs) < 4:
        return max(xs) - min(xs)
    q = statistics.quantiles(xs, n=4)
    return q[2] - q[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=10, help="measured rounds per side")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/lxc.py makes real containers: run it as root")
        return 1
    sys.path.insert(0, str(HERE.parent / "plugins" / "lxc" / "tests"))
    import busyboxroot

    base = Path(tempfile.mkdtemp(prefix="vklbench-"))
    base.chmod(0o755)
    root = busyboxroot.build(base / "root")
    lv = vk = None
    try:
        lv, vk = Libvirt(base), Virtkit(base)
        sides = {"libvirt": lv, "virtkit": vk}
        res: dict[str, list[dict[str, float]]] = {"libvirt": [], "virtkit": []}
        cpu: dict[str, list[dict[str, float]]] = {"libvirt": [], "virtkit": []}
        for i in range(args.n + 1):
            for side, impl in sides.items():
                name = f"vklb-{side}-{i}"
                t = impl.cycle(name, domain_xml(name, root))
                if i > 0:  # round 0 warms up
                    res[side].append(t)
                    cpu[side].append(impl.cpu)
        load = os.getloadavg()
        print(f"lxc driver, {args.n} rounds each, interleaved ABAB "
              f"({time.strftime('%Y-%m-%d %H:%M %Z')}, load average "
              f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
        for title, data, prec in (("wall", res, 1), ("cpu", cpu, 2)):
            print(f"{'op':10} {'libvirt ' + title + ' ms':>18} {'virtkit ' + title + ' ms':>18} "
                  f"{'ratio vk/lv':>16}")
            for op in (*OPS, "total"):
                def vals(side: str, op: str = op,
                         data: dict[str, list[dict[str, float]]] = data) -> list[float]:
                    return [sum(r.values()) if op == "total" else r[op] for r in data[side]]
                a, b = vals("libvirt"), vals("virtkit")
                ratios = [y / x for x, y in zip(a, b, strict=True) if x > 0]
                print(f"{op:10} {statistics.median(a)*1e3:9.{prec}f} ±{iqr(a)*1e3:6.{prec}f} "
                      f"{statistics.median(b)*1e3:9.{prec}f} ±{iqr(b)*1e3:6.{prec}f} "
                      f"{statistics.median(ratios):8.2f} ±{iqr(ratios):5.2f}")
    finally:
        for impl in (vk, lv):
            if impl is not None:
                with contextlib.suppress(Exception):
                    impl.close()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
