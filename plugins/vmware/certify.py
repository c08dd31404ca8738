#!/usr/bin/env python3
"""Certify virtkit-vmware: start govmomi's simulator (ESX and vCenter models), run virtkit-certify
against both URI forms, stop the simulators, exit non-zero unless both are certified.

    python plugins/vmware/certify.py OUTDIR

Writes OUTDIR/esx/{result.json,junit.xml,report.md} and OUTDIR/vpx/... for each URI form.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from virtkit_vmware.vcsim import Simulator, SimulatorUnavailable

#: The groups this driver supports. Left out: resources (vSphere has one configuration, so a
#: live-only vcpu change cannot leave the persistent one as it was), devices (the suite's disks
#: are local image files and its NICs join a network 'default'; vSphere needs datastore paths
#: and port groups: tests/test_objects.py covers them), storage and networks (datastores and
#: switches are not defined or started through this driver).
GROUPS = ("connection", "definition", "lifecycle", "save-restore", "snapshots", "readonly",
          "concurrency", "bad-input", "stateful")


def certify(model: str, path: str, outdir: Path) -> int:
    outdir.mkdir(parents=True, exist_ok=True)
    with Simulator(model) as sim:
        uri = sim.uri(path=path)
        print(f"certifying {uri}", flush=True)
        env = {**os.environ, "VIRTKIT_PASSWORD": sim.password}
        env.pop("VIRTKIT_AUTH_FILE", None)
        cmd = [sys.executable, "-m", "virtkit_conformance", uri,  # virtkit-certify
               "--json", str(outdir / "result.json"), "--junit", str(outdir / "junit.xml"),
               "--report", str(outdir / "report.md"), "-q", *(f"--only={g}" for g in GROUPS),
               "--note", f"against govmomi's vSphere simulator ({model} model; no ESX or "
               "vCenter host was available; see docs/vmware.md)"]
        return subprocess.run(cmd, env=env).returncode


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[1])
    try:
        codes = {"esx": certify("esx", "/", out / "esx"),
                 "vpx": certify("vpx", "/DC0/DC0_C0", out / "vpx")}
    except SimulatorUnavailable as exc:
        print(f"cannot certify: {exc}", file=sys.stderr)
        return 2
    for form, code in codes.items():
        print(f"{form}: {'certified' if code == 0 else f'NOT certified (exit {code})'}")
    return 0 if all(c == 0 for c in codes.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
