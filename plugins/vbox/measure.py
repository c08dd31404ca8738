"""What the vbox driver costs in VBoxManage processes, measured against the fake VBoxManage.

    python plugins/vbox/measure.py

Prints the median wall time of one fake ``VBoxManage list vms`` call and of a whole domain
lifecycle through the API (define, start, suspend, resume, destroy, undefine). The fake runs
under a temporary HOME, removed afterwards. These are the driver's own costs, not VirtualBox's.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "tests" / "fake"))

import launcher


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="vbox-measure-"))
    try:
        env = launcher.environment(root)
        env.pop("FAKE_VBOX_LOG")
        os.environ.update(env)
        import virtkit

        calls = []
        for _ in range(10):
            start = time.perf_counter()
            subprocess.run(["VBoxManage", "list", "vms"], capture_output=True, check=True)
            calls.append(time.perf_counter() - start)
        print(f"one fake VBoxManage call: median {statistics.median(calls) * 1000:.0f} ms "
              f"(min {min(calls) * 1000:.0f}, max {max(calls) * 1000:.0f}), 10 runs")
        conn = virtkit.open("vbox:///session")
        xml = ("<domain type='vbox'><name>m{}</name><memory unit='MiB'>128</memory>"
               "<os><type>hvm</type></os></domain>")
        cycles = []
        for i in range(5):
            start = time.perf_counter()
            dom = conn.define_xml(xml.format(i))
            dom.create()
            dom.suspend()
            dom.resume()
            dom.destroy()
            dom.undefine()
            cycles.append(time.perf_counter() - start)
        conn.close()
        print(f"define+start+suspend+resume+destroy+undefine: median "
              f"{statistics.median(cycles):.2f} s (min {min(cycles):.2f}, "
              f"max {max(cycles):.2f}), 5 runs")
        print("load average while measured: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
