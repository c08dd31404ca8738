#!/usr/bin/env python3
"""Start several tiny PV guests at once on the real Xen run and look for damage in dom0: boots
dom0 once (QEMU's CPU ``--cpu``, default the real run's), then ``xl create``s ``--guests``
guests of 128 MiB one after another through the channel (nothing else runs meanwhile) and
prints, per guest, ``xl create``'s exit status, time and messages and whether the next
``xl list`` listed every guest so far; at the end dom0's segfaults and traps (``dmesg``), the
Xen log's faults and every guest's monitoring log (``/var/log/xen/xl-NAME.log``).

    python tests_real/several_guests.py [--guests 6] [--cpu max]

Not a test (pytest does not collect it): it is how the cause of the certification failures with
several guests was found (docs/xen.md). Exits 1 when anything failed or dom0 logged a fault."""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from pathlib import Path

from virtkit_xen.realrun import CPU, GUEST_INITRD, GUEST_KERNEL, Dom0, build_image

FAULT = re.compile(r"segfault|general protection|traps:|Aborted", re.I)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--guests", type=int, default=6)
    ap.add_argument("--cpu", default=CPU)
    args = ap.parse_args()
    cache = Path(os.environ.get("VIRTKIT_XEN_CACHE", Path.home() / ".cache/virtkit-xen-real"))
    image = build_image(cache)
    bad = 0
    with tempfile.TemporaryDirectory(prefix="vk-xen-several-") as tmp, \
            Dom0(image, Path(tmp), memory_mib=6144, dom0_mib=2048, cpu=args.cpu) as dom0:
        print(f"-cpu {args.cpu}: dom0 ready after {dom0.boot_seconds:.1f} s", flush=True)
        r = dom0.runner()
        for i in range(args.guests):
            cfg = (f'name="g{i}"\ntype="pv"\nmemory=128\nvcpus=1\nkernel="{GUEST_KERNEL}"\n'
                   f'ramdisk="{GUEST_INITRD}"\ncmdline="console=hvc0 quiet"\n')
            r.run(["sh", "-c", f"cat > /tmp/g{i}.cfg"], input=cfg.encode())
            t = time.monotonic()
            res = r.run(["xl", "create", f"/tmp/g{i}.cfg"], timeout=300)
            took = time.monotonic() - t
            listed = r.run(["xl", "list"], timeout=120).stdout
            missing = [f"g{j}" for j in range(i + 1) if f"g{j} " not in listed]
            msg = " | ".join(x for x in res.stderr.splitlines() if not x.startswith("Parsing"))
            print(f"g{i}: xl create exit {res.rc} in {took:.1f} s {msg}; "
                  f"xl list misses {missing or 'none'}", flush=True)
            bad += res.rc != 0 or bool(missing)
        logs = r.run(["sh", "-c", "dmesg; xl dmesg"], timeout=120).stdout
        faults = [x for x in logs.splitlines() if FAULT.search(x)]
        print(f"dom0 faults: {len(faults)}", *faults, sep="\n  ", flush=True)
        mon = r.run(["sh", "-c", "tail -n 5 /var/log/xen/xl-*.log"], timeout=120).stdout
        print(mon, flush=True)
        bad += len(faults) + mon.count("%s")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
