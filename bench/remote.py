"""virtkitd against libvirtd, each over TCP on loopback, in the same run, interleaved ABAB.

    python bench/remote.py [--rounds N] [--quick]

Starts Debian's libvirtd with a configuration of its own (listen_tcp on 127.0.0.1, auth_tcp
"none", its unix sockets and pid file in a temporary directory: ``libvirtd --listen -f FILE``;
its loadable stateful drivers left out, see start_libvirtd)
and virtkitd likewise, then runs the workloads of bench/test_driver.py through each daemon's
test driver (``test+tcp://127.0.0.1:PORT/default``), alternating libvirt and virtkit rounds:

- lifecycle ops/s: define, start, suspend, resume, destroy, undefine;
- lookup by name + info per second;
- listing 500 defined domains (all of them, with their names), in ms.

The libvirt side is python3-libvirt under /usr/bin/python3 (Debian's binding), the virtkit side
this interpreter. Prints each measure's median and spread (min..max) over the rounds and the
ratio of medians (>= 1.0 means virtkit is at least as good as libvirt), and the CPU time each
operation costs, client and daemon together (from /proc and process_time): a loaded machine
stretches wall times much more than CPU times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

WORKLOAD = textwrap.dedent(
    r'''
    import json, os, sys, time

    def xml(i):
        return ("<domain type='test'><name>bench%d</name><memory unit='MiB'>64</memory>"
                "<vcpu>1</vcpu><os><type>hvm</type></os></domain>" % i)

    TICK = os.sysconf("SC_CLK_TCK")

    def cpu(pid):
        """CPU seconds (user + system) of this process and of the daemon so far."""
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return time.process_time(), (int(fields[11]) + int(fields[12])) / TICK

    def cost(before, after, n):
        """CPU microseconds per operation: (client, daemon)."""
        return [(after[0] - before[0]) / n * 1e6, (after[1] - before[1]) / n * 1e6]

    def run(api, uri, quick, pid):
        conn = api.open(uri)
        cycles = 100 if quick else 500
        c0, t = cpu(pid), time.perf_counter()
        for i in range(cycles):
            d = api.define(conn, xml(i))
            api.start(d); api.suspend(d); api.resume(d); api.destroy(d); api.undefine(d)
        lifecycle = cycles * 6 / (time.perf_counter() - t)
        lifecycle_cpu = cost(c0, cpu(pid), cycles * 6)
        n = 1000 if quick else 5000
        c0, t = cpu(pid), time.perf_counter()
        for _ in range(n):
            api.info(api.lookup(conn, "test"))
        lookups = n / (time.perf_counter() - t)
        lookup_cpu = cost(c0, cpu(pid), n)
        made = [api.define(conn, xml(100000 + i)) for i in range(499)]
        reps = 20
        c0, t = cpu(pid), time.perf_counter()
        for _ in range(reps):
            names = api.list_names(conn)
        list_ms = (time.perf_counter() - t) / reps * 1000
        list_cpu = cost(c0, cpu(pid), reps)
        assert len(names) == 500, len(names)
        for d in made:
            api.undefine(d)
        return {"lifecycle_ops_s": lifecycle, "lookup_info_s": lookups, "list_500_ms": list_ms,
                "lifecycle_cpu_us": sum(lifecycle_cpu), "lookup_info_cpu_us": sum(lookup_cpu),
                "list_500_cpu_us": sum(list_cpu), "lifecycle_split": lifecycle_cpu,
                "lookup_info_split": lookup_cpu, "list_500_split": list_cpu}
    '''
)

LIBVIRT_SIDE = WORKLOAD + textwrap.dedent(
    '''
    import libvirt

    class Api:
        open = staticmethod(libvirt.open)
        define = staticmethod(lambda c, x: c.defineXML(x))
        start = staticmethod(lambda d: d.create())
        suspend = staticmethod(lambda d: d.suspend())
        resume = staticmethod(lambda d: d.resume())
        destroy = staticmethod(lambda d: d.destroy())
        undefine = staticmethod(lambda d: d.undefine())
        lookup = staticmethod(lambda c, n: c.lookupByName(n))
        info = staticmethod(lambda d: d.info())
        list_names = staticmethod(lambda c: [d.name() for d in c.listAllDomains()])

    print(json.dumps(run(Api, sys.argv[1], "--quick" in sys.argv, int(sys.argv[2]))))
    '''
)

VIRTKIT_SIDE = WORKLOAD + textwrap.dedent(
    '''
    import virtkit

    class Api:
        open = staticmethod(virtkit.open)
        define = staticmethod(lambda c, x: c.define_xml(x))
        start = staticmethod(lambda d: d.create())
        suspend = staticmethod(lambda d: d.suspend())
        resume = staticmethod(lambda d: d.resume())
        destroy = staticmethod(lambda d: d.destroy())
        undefine = staticmethod(lambda d: d.undefine())
        lookup = staticmethod(lambda c, n: c.lookup_by_name(n))
        info = staticmethod(lambda d: d.info())
        list_names = staticmethod(lambda c: [d.name for d in c.list_domains()])

    print(json.dumps(run(Api, sys.argv[1], "--quick" in sys.argv, int(sys.argv[2]))))
    '''
)

ROWS = [
    ("lifecycle ops/s", "lifecycle_ops_s", True),
    ("lookup+info /s", "lookup_info_s", True),
    ("list 500 domains (ms)", "list_500_ms", False),
    # CPU time per operation, client and daemon together: what the load disturbs least
    ("lifecycle CPU us/op", "lifecycle_cpu_us", False),
    ("lookup+info CPU us/op", "lookup_info_cpu_us", False),
    ("list 500 CPU us/list", "list_500_cpu_us", False),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not listen on port {port}:\n{log.read_text()}")


def start_libvirtd(base: Path) -> tuple[subprocess.Popen[bytes], int]:
    exe = shutil.which("libvirtd") or "/usr/sbin/libvirtd"
    port = free_port()
    sockdir = base / "libvirt-run"
    sockdir.mkdir()
    conf = base / "libvirtd.conf"
    conf.write_text(
        f'listen_tls = 0\nlisten_tcp = 1\nlisten_addr = "127.0.0.1"\ntcp_port = "{port}"\n'
        f'auth_tcp = "none"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n'
        f'unix_sock_dir = "{sockdir}"\nmdns_adv = 0\n'
    )
    log = base / "libvirtd.log"
    # Its loadable drivers (qemu, network, storage...) are left out: Debian's qemu driver stops
    # the daemon when the libvirt-qemu user does not exist, and the test driver used here is
    # built into libvirt.so itself.
    modules = base / "no-modules"
    modules.mkdir()
    env = {**os.environ, "LIBVIRT_DRIVER_DIR": str(modules)}
    proc = subprocess.Popen(
        [exe, "--listen", "-f", str(conf), "-p", str(base / "libvirtd.pid")],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
        env=env,
    )
    wait_port(port, proc, "libvirtd", log)
    return proc, port


def start_virtkitd(base: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = base / "virtkitd.conf"
    conf.write_text(
        f'listen_tls = 0\nlisten_tcp = 1\nlisten_addr = "127.0.0.1"\ntcp_port = {port}\n'
        f'auth_tcp = "none"\nunix_sock_dir = "{base / "virtkit-run"}"\nlog_level = 3\n'
    )
    log = base / "virtkitd.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "virtkit.daemon.main", "--listen", "-f", str(conf)],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    wait_port(port, proc, "virtkitd", log)
    return proc, port


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def side(python: str, code: str, uri: str, quick: bool, pid: int) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    args = [python, "-c", code, uri, str(pid)] + (["--quick"] if quick else [])
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=1800)
    if out.returncode != 0:
        raise SystemExit(f"{python} failed:\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds per side (default 5)")
    parser.add_argument("--quick", action="store_true", help="smaller workloads")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="virtkit-bench-remote-"))
    libvirtd = virtkitd = None
    try:
        libvirtd, lv_port = start_libvirtd(base)
        virtkitd, vk_port = start_virtkitd(base)
        lv_uri = f"test+tcp://127.0.0.1:{lv_port}/default"
        vk_uri = f"test+tcp://127.0.0.1:{vk_port}/default"
        results: dict[str, list[dict[str, Any]]] = {"libvirt": [], "virtkit": []}
        for r in range(args.rounds):  # A B A B ...
            results["libvirt"].append(side("/usr/bin/python3", LIBVIRT_SIDE, lv_uri, args.quick,
                                           libvirtd.pid))
            results["virtkit"].append(side(sys.executable, VIRTKIT_SIDE, vk_uri, args.quick,
                                           virtkitd.pid))
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        for proc in (virtkitd, libvirtd):
            if proc is not None:
                stop(proc)
        shutil.rmtree(base, ignore_errors=True)
    print(f"{'measure':24} {'libvirtd median (spread)':>30} {'virtkitd median (spread)':>30}"
          f" {'ratio':>7}   (>= 1.0x: virtkit as good)")
    for label, key, higher_is_better in ROWS:
        lv = [r[key] for r in results["libvirt"]]
        vk = [r[key] for r in results["virtkit"]]
        lv_med, vk_med = statistics.median(lv), statistics.median(vk)
        ratio = vk_med / lv_med if higher_is_better else lv_med / vk_med
        print(f"{label:24} {lv_med:12.1f} ({min(lv):7.1f}..{max(lv):7.1f})"
              f" {vk_med:12.1f} ({min(vk):7.1f}..{max(vk):7.1f}) {ratio:6.2f}x")
    print("CPU us/op split (client, daemon), medians:")
    for key in ("lifecycle_split", "lookup_info_split", "list_500_split"):
        for who in ("libvirt", "virtkit"):
            client = statistics.median(r[key][0] for r in results[who])
            daemon = statistics.median(r[key][1] for r in results[who])
            print(f"  {key:20} {who:8} client {client:9.1f}  daemon {daemon:9.1f}")


if __name__ == "__main__":
    main()
