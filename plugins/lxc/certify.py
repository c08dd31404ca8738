#!/usr/bin/env python3
"""Certify the lxc driver: ``python certify.py OUTDIR`` (as root).

Runs ``virtkit-certify lxc:///system`` inside a network namespace of its own (the network
service's groups make real bridges and nftables rules, which must not touch the host), with the
state under a private temporary ``VIRTKIT_STATE_ROOT`` and the suite's domains given a busybox
root (see certify_root.py). Writes result.json, junit.xml and report.md into OUTDIR, kills every
supervisor and cgroup the run left behind, and exits non-zero unless the driver is certified.
Left out: save-restore, snapshots and migration (the driver does not implement them: no
checkpointing of containers), guest-info (no guest agent), and interfaces (the host interface
service's group, which starts a host ``type='ethernet'`` interface that does not exist in the
run's fresh network namespace; it tests no part of this driver).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
GROUPS = os.environ.get("VKL_GROUPS") or (  # VKL_GROUPS: a subset while developing
    "connection,definition,lifecycle,devices,resources,storage,networks,console,readonly,"
    "concurrency,bad-input,stateful")


def _reap(state: str) -> None:
    from virtkit_lxc import runner
    from virtkit_lxc.cgroups import Cgroup

    for rec in Path(state).glob("*/lxc/run/domains/*.json"):
        with contextlib.suppress(ValueError, OSError, KeyError):
            run = json.loads(rec.read_text()).get("run")
            if run:
                runner.kill_supervisor(run["supervisor_pid"], run.get("supervisor_start"))
                Cgroup.from_dict(run["cgroup"]).remove()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            with contextlib.suppress(OSError):
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                if b"virtkit_lxc.forkserver" in cmd and \
                        f"VIRTKIT_STATE_ROOT={state}".encode() in env:
                    os.kill(int(pid), signal.SIGKILL)  # a fork server, or a supervisor from it


def main() -> int:
    if os.geteuid() != 0:
        print("certify.py: lxc:///system makes real containers: run it as root")
        return 1
    outdir = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(HERE / "tests"))
    import busyboxroot

    base = tempfile.mkdtemp(prefix="vklc-")
    os.chmod(base, 0o755)
    root = busyboxroot.build(Path(base, "root"))
    state = os.path.join(base, "state")
    env = dict(os.environ, VIRTKIT_STATE_ROOT=state, VKL_ROOT=str(root),
               VIRTKIT_LXC_SHUTDOWN_TIMEOUT="5",
               PYTHONPATH=os.pathsep.join(filter(None, [str(HERE),
                                                        os.environ.get("PYTHONPATH")])))
    cmd = ["unshare", "--net", sys.executable, "-m", "virtkit_conformance", "lxc:///system",
           "--only", GROUPS, "--json", str(outdir / "result.json"),
           "--junit", str(outdir / "junit.xml"), "--report", str(outdir / "report.md"), "-q",
           "--", "-p", "certify_root", "--virtkit-event-timeout", "20"]
    try:
        return subprocess.call(cmd, env=env)
    finally:
        _reap(state)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
