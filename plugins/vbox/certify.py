"""Certify the vbox driver against the fake VBoxManage (recorded VirtualBox outputs).

    python plugins/vbox/certify.py OUTDIR [--version 7.0.14|6.1.50]

No VirtualBox runs here: the fake ``VBoxManage`` from ``tests/fake`` goes first on PATH, with a
temporary HOME for its machine registry, and ``virtkit-certify vbox:///session`` runs against
it. The result records the driver's ``capabilities["backend"] == "recorded"``, so the support
matrix reports it as certified against a recorded backend, never as a real run. Exits non-zero
unless certified.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "tests" / "fake"))

import launcher  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--version", default="7.0.14",
                        help="VirtualBox version the fake answers as (6.1.50, 7.0.14, 7.1.4)")
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="vkcert-vbox-"))
    try:
        env = dict(os.environ)
        env.update(launcher.environment(root, args.version))
        env.pop("FAKE_VBOX_LOG", None)  # no call log: the suite makes thousands of calls
        certify = shutil.which("virtkit-certify", path=os.path.dirname(sys.executable)) \
            or shutil.which("virtkit-certify") or "virtkit-certify"
        cmd = [certify, "vbox:///session",
               "--json", str(args.outdir / "result.json"),
               "--junit", str(args.outdir / "junit.xml"),
               "--report", str(args.outdir / "report.md")]
        print("fake VirtualBox", args.version, "under", root, flush=True)
        return subprocess.run(cmd, env=env, check=False).returncode
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
