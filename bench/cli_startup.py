"""Start-up cost of the command line: ``virtkit -c test:///default list --all`` against
``virsh -c test:///default list --all``, measured in the same run.

Runs each executable N times (after one warm-up run each, so page cache and bytecode caches are
warm), and prints the median wall time, the median peak RSS (from wait4's rusage), and virtkit's
ratio to virsh. The target is virtkit within 5x of virsh's wall time.

    python bench/cli_startup.py [-n 30] [--virsh /usr/bin/virsh] [--virtkit PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import sysconfig
import time
from pathlib import Path

ARGS = ["-c", "test:///default", "list", "--all"]
TARGET_RATIO = 5.0


def default_virtkit() -> str:
    exe = Path(sysconfig.get_path("scripts")) / "virtkit"
    if exe.exists():
        return str(exe)
    found = shutil.which("virtkit", path=os.path.dirname(sys.executable)) or shutil.which(
        "virtkit")
    if found is None:
        sys.exit("virtkit executable not found; pass --virtkit PATH")
    return found


def run_once(argv: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS in KiB) of one run, output discarded."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(argv)} failed with status {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_maxrss


def measure(argv: list[str], n: int) -> tuple[float, int]:
    run_once(argv)  # warm-up
    walls, rss = [], []
    for _ in range(n):
        wall, peak = run_once(argv)
        walls.append(wall)
        rss.append(peak)
    return statistics.median(walls), int(statistics.median(rss))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=30, help="runs of each (default 30)")
    parser.add_argument("--virsh", default="/usr/bin/virsh")
    parser.add_argument("--virtkit", default=None)
    opts = parser.parse_args()
    virtkit = opts.virtkit or default_virtkit()
    if not os.path.exists(opts.virsh):
        sys.exit(f"virsh not found at {opts.virsh} (Debian: apt-get install libvirt-clients)")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # measure with bytecode caches, as installed
    virsh_wall, virsh_rss = measure([opts.virsh, *ARGS], opts.n)
    vk_wall, vk_rss = measure([virtkit, *ARGS], opts.n)
    ratio = vk_wall / virsh_wall
    print(f"virsh   list --all: {virsh_wall * 1000:7.1f} ms  {virsh_rss / 1024:6.1f} MiB")
    print(f"virtkit list --all: {vk_wall * 1000:7.1f} ms  {vk_rss / 1024:6.1f} MiB")
    print(f"ratio virtkit/virsh: wall {ratio:.1f}x (target <= {TARGET_RATIO:.0f}x), "
          f"peak RSS {vk_rss / virsh_rss:.1f}x")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
