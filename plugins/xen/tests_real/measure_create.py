#!/usr/bin/env python3
"""Time ``xl create`` of the tiny PV guest on the real Xen run, one line per variant (kernel,
initramfs, memory): boots dom0 once (``--accel tcg|kvm``), then creates and destroys each
variant ``--rounds`` times through the channel, timing each ``xl create`` as the host sees it.

    python tests_real/measure_create.py [--accel kvm] [--rounds 2]

Not a test (pytest does not collect it): the numbers go into docs/xen.md by hand."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from virtkit_xen.realrun import Dom0, build_image

VARIANTS = [  # (label, kernel, ramdisk, MiB)
    ("bzImage + gzip initramfs, 128 MiB", "/guest/vmlinuz", "/guest/initrd.gz", 128),
    ("ELF vmlinux + gzip initramfs, 128 MiB", "/guest/vmlinux", "/guest/initrd.gz", 128),
    ("ELF vmlinux + plain initramfs, 128 MiB", "/guest/vmlinux", "/guest/initrd.cpio", 128),
    ("ELF vmlinux + plain initramfs, 96 MiB", "/guest/vmlinux", "/guest/initrd.cpio", 96),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    cache = Path(os.environ.get("VIRTKIT_XEN_CACHE", Path.home() / ".cache/virtkit-xen-real"))
    image = build_image(cache)
    with tempfile.TemporaryDirectory(prefix="vk-xen-measure-") as tmp, \
            Dom0(image, Path(tmp), accel=args.accel) as dom0:
        print(f"accel {args.accel}: dom0 ready after {dom0.boot_seconds:.1f} s", flush=True)
        r = dom0.runner()
        t = time.monotonic()
        r.run(["xl", "info"])
        print(f"xl info {time.monotonic() - t:.1f} s", flush=True)
        for label, kernel, ramdisk, mib in VARIANTS:
            cfg = (f'name="m"\ntype="pv"\nkernel="{kernel}"\nramdisk="{ramdisk}"\n'
                   f'memory={mib}\ncmdline="console=hvc0 quiet"\non_poweroff="destroy"\n')
            r.run(["sh", "-c", "cat > /tmp/m.cfg"], input=cfg.encode())
            for _ in range(args.rounds):
                t = time.monotonic()
                res = r.run(["xl", "create", "/tmp/m.cfg"], timeout=300)
                took = time.monotonic() - t
                print(f"{label}: xl create {took:.1f} s (rc {res.rc}"
                      f"{', ' + res.stderr.strip()[:1500] if res.rc else ''})", flush=True)
                r.run(["xl", "destroy", "m"], timeout=120)
        print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
