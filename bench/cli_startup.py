"""Start-up cost of the command line: virtkit's everyday commands against virsh's, paired.

For each command (``list --all``, ``dominfo``, ``domstate``, ``start``, ``shutdown``, ``destroy``,
``net-list``, ``pool-list``, ``vol-list``) the runs are interleaved ABAB: virsh, virtkit, virsh,
virtkit... so that both see the same machine load, after one warm-up run each. It prints, per
command, virsh's and virtkit's median wall time with their spread (the interquartile range), and
virtkit's ratio to virsh (median of the per-pair ratios, with its own interquartile range), and
each one's median CPU time (user + system) with that ratio, which a loaded machine disturbs
less. The target is virtkit within 5x of virsh's wall time.

Three modes:

- ``warm`` (what a user gets from the second command on): ``virtkit`` hands the command to its
  warm command-line server (docs/cli.md), which this script starts with a first run and stops at
  the end, in a runtime directory of its own; both open ``test:///NODE.xml`` (a node file this
  script writes, with a running ``test`` and a shut-off ``off`` domain, so every command succeeds
  in a fresh process). The CPU column is then the client's only: the command's own work is done
  in the server's fork, which wait4 does not see; compare wall times.
- ``cold``: the same with the server off (``VIRTKIT_CLI_SERVER=0``): every command starts
  Python and imports what it needs;
- ``daemon``: virtkit talks to a ``virtkitd`` this script starts (``test+unix:///NODE.xml?socket=``)
  and stops, through its warm server; virsh stays on its in-process test driver (virsh cannot
  reach virtkitd), so the ratio is "what the user waits for" in each tool's everyday set-up.

Run it from a virtualenv whose files are not editable installs for the fairest cold figures.

    python bench/cli_startup.py [-n 20] [--mode warm|cold|daemon|all] [--only list,dominfo]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 5.0

NODE_XML = """<node>
  <cpu><mhz>2000</mhz></cpu>
  <memory>8388608</memory>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>test</name><memory>8192</memory><vcpu>2</vcpu><os><type>hvm</type></os>
  </domain>
  <domain type='test' state='shutoff' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>off</name><memory>8192</memory><vcpu>2</vcpu><os><type>hvm</type></os>
    <test:runstate>5</test:runstate>
  </domain>
  <network>
    <name>default</name>
    <bridge name='virbr0'/>
    <ip address='192.168.122.1' netmask='255.255.255.0'/>
  </network>
  <pool type='dir'>
    <name>default-pool</name>
    <target><path>/default-pool</path></target>
    <capacity>107374182400</capacity>
    <volume type='file'>
      <name>disk1.img</name>
      <capacity>1073741824</capacity>
      <target><path>/default-pool/disk1.img</path></target>
    </volume>
  </pool>
</node>
"""

# name -> arguments after "-c URI".
COMMANDS: dict[str, list[str]] = {
    "list": ["list", "--all"],
    "dominfo": ["dominfo", "test"],
    "domstate": ["domstate", "test"],
    "start": ["start", "off"],
    "shutdown": ["shutdown", "test"],
    "destroy": ["destroy", "test"],
    "net-list": ["net-list", "--all"],
    "pool-list": ["pool-list", "--all"],
    "vol-list": ["vol-list", "default-pool"],
}


def default_virtkit() -> str:
    exe = Path(sysconfig.get_path("scripts")) / "virtkit"
    if exe.exists():
        return str(exe)
    found = shutil.which("virtkit", path=os.path.dirname(sys.executable)) or shutil.which(
        "virtkit")
    if found is None:
        sys.exit("virtkit executable not found; pass --virtkit PATH")
    return found


def run_once(argv: list[str], check: bool = True) -> tuple[float, float]:
    """Wall seconds of one run (fork to reaped child) and its CPU seconds (user + system, from
    wait4's rusage: what the run itself cost, whatever else the machine runs); output
    discarded."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        try:
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if check and code != 0:
        out = subprocess.run(argv, capture_output=True, text=True)
        sys.exit(f"{' '.join(argv)} failed with status {code}: {out.stderr.strip()}")
    return wall, usage.ru_utime + usage.ru_stime


def iqr(values: list[float]) -> float:
    if len(values) < 4:
        return max(values) - min(values)
    q = statistics.quantiles(values, n=4)
    return q[2] - q[0]


class Pair:
    """The paired runs of one command."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.virsh: list[float] = []
        self.virtkit: list[float] = []
        self.virsh_cpu: list[float] = []
        self.virtkit_cpu: list[float] = []

    def line(self) -> str:
        ratios = [k / v for v, k in zip(self.virsh, self.virtkit, strict=True)]
        vs, vk, r = statistics.median(self.virsh), statistics.median(self.virtkit), \
            statistics.median(ratios)
        mark = "ok" if r <= TARGET_RATIO else "OVER"
        cpu = statistics.median(self.virtkit_cpu) / max(statistics.median(self.virsh_cpu), 1e-3)
        # with the warm server, the command's own CPU is spent in its fork: the client's only
        return (f"{self.name:10} virsh {vs * 1000:6.1f} ms (IQR {iqr(self.virsh) * 1000:5.1f})   "
                f"virtkit {vk * 1000:6.1f} ms (IQR {iqr(self.virtkit) * 1000:5.1f})   "
                f"ratio {r:4.1f}x (IQR {iqr(ratios):3.1f}) {mark}   "
                f"CPU {statistics.median(self.virsh_cpu) * 1000:5.1f} / "
                f"{statistics.median(self.virtkit_cpu) * 1000:6.1f} ms ({cpu:4.1f}x)")

    def ratio(self) -> float:
        return statistics.median(k / v for v, k in zip(self.virsh, self.virtkit, strict=True))


def start_daemon(workdir: Path, virtkitd: str) -> tuple[subprocess.Popen[bytes], str]:
    """A session virtkitd with its socket under ``workdir``; returns it and its socket path."""
    runtime = workdir / "daemon-run"
    runtime.mkdir(mode=0o700)
    conf = workdir / "virtkitd.conf"
    conf.write_text("")
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime))
    proc = subprocess.Popen([virtkitd, "--session", "--config", str(conf)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    sock = runtime / "virtkit" / "virtkit-sock"
    deadline = time.monotonic() + 30
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_daemon(proc)
            sys.exit("virtkitd did not start")
        time.sleep(0.05)
    return proc, str(sock)


def stop_daemon(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def bench(names: list[str], n: int, virsh: list[str], virtkit: list[str]) -> list[Pair]:
    pairs = []
    for name in names:
        args = COMMANDS[name]
        pair = Pair(name)
        # A test:///FILE connection starts from the file each time, in-process and in virtkitd
        # alike (as libvirt's), so every run finds the domains as the file has them.
        for i in range(n + 1):
            a, a_cpu = run_once(virsh + args)
            b, b_cpu = run_once(virtkit + args)
            if i:  # the first pair is the warm-up
                pair.virsh.append(a)
                pair.virtkit.append(b)
                pair.virsh_cpu.append(a_cpu)
                pair.virtkit_cpu.append(b_cpu)
        print(pair.line(), flush=True)
        pairs.append(pair)
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="pairs per command (default 20)")
    parser.add_argument("--virsh", default="/usr/bin/virsh")
    parser.add_argument("--virtkit", default=None)
    parser.add_argument("--mode", choices=["warm", "cold", "daemon", "all"], default="all")
    parser.add_argument("--only", default=None, help="comma-separated command names")
    opts = parser.parse_args()
    exe = opts.virtkit or default_virtkit()
    if not os.path.exists(opts.virsh):
        sys.exit(f"virsh not found at {opts.virsh} (Debian: apt-get install libvirt-clients)")
    names = opts.only.split(",") if opts.only else list(COMMANDS)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # measure with bytecode caches, as installed
    overall: list[float] = []
    with tempfile.TemporaryDirectory(prefix="virtkit-bench-") as tmp:
        work = Path(tmp)
        node = work / "node.xml"
        node.write_text(NODE_XML)
        local = f"test://{node}"
        virsh = [opts.virsh, "-c", local]
        print(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              f"load {os.getloadavg()[0]:.1f}, {n_cpus()} CPUs, {opts.n} pairs per command")
        os.environ["XDG_RUNTIME_DIR"] = str(work / "run")  # this run's own warm server
        (work / "run").mkdir(mode=0o700)
        try:
            for mode in ("warm", "cold", "daemon"):
                if opts.mode not in (mode, "all"):
                    continue
                os.environ["VIRTKIT_CLI_SERVER"] = "0" if mode == "cold" else "1"
                if mode != "cold":
                    start_cli_server(exe, local, work / "run")
                if mode == "daemon":
                    virtkitd = str(Path(exe).with_name("virtkitd"))
                    proc, sock = start_daemon(work, virtkitd)
                    try:
                        remote = f"test+unix://{node}?socket={sock}"
                        print(f"-- daemon: virtkit -c {remote}")
                        overall += [p.ratio() for p in bench(names, opts.n, virsh,
                                                             [exe, "-c", remote])]
                    finally:
                        stop_daemon(proc)
                    continue
                print(f"-- {mode}: virtkit -c {local}")
                overall += [p.ratio() for p in bench(names, opts.n, virsh, [exe, "-c", local])]
        finally:
            stop_cli_servers(work / "run")
    worst = max(overall)
    print(f"worst ratio virtkit/virsh: {worst:.1f}x (target <= {TARGET_RATIO:.0f}x)")
    return 0 if worst <= TARGET_RATIO else 1


def start_cli_server(exe: str, uri: str, runtime: Path) -> None:
    """One command starts the warm server; wait until it answers, so no measured run waits for
    its imports."""
    run_once([exe, "-c", uri, "list", "--all"])
    deadline = time.monotonic() + 30
    while not list((runtime / "virtkit").glob("cli-*.pid")):
        if time.monotonic() > deadline:
            sys.exit("the warm command-line server did not start")
        time.sleep(0.05)
    run_once([exe, "-c", uri, "list", "--all"])


def stop_cli_servers(runtime: Path) -> None:
    """Stop the warm command-line servers this run started (their pid files say which)."""
    for pidfile in (runtime / "virtkit").glob("cli-*.pid"):
        try:
            os.kill(int(pidfile.read_text()), signal.SIGTERM)
        except (OSError, ValueError):
            pass


def n_cpus() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
