"""A container root for tests, the certification run and the benchmark: busybox-static and its
applets, a passwd with root and a user 1000, and a symlink to the host's /etc (which must never
expose it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

BUSYBOX = "/bin/busybox"


def build(root: Path) -> Path:
    """Make (or reuse) a busybox tree at ``root``."""
    if (root / "bin" / "busybox").exists():
        return root
    for d in ("bin", "sbin", "etc", "tmp", "proc", "sys", "dev", "root", "home/user"):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for a in applets:
        if a != "busybox":
            (root / "bin" / a).symlink_to("busybox")
    (root / "sbin" / "init").symlink_to("/bin/busybox")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                         "user:x:1000:1000:user:/home/user:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\nuser:x:1000:\n")
    (root / "hostetc").symlink_to("/etc")
    return root
