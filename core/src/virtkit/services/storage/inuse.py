"""Which running guests use a volume: QEMU processes that hold its file or device open.

The host service does not know the hypervisor drivers' guests, so it asks the kernel: every
process whose open files include the volume (same device and inode, or the same block device)
and whose command is a QEMU emulator is a guest using it, named by QEMU's ``-name`` argument
(``-name guest=NAME,...`` or ``-name NAME``). Processes we cannot read (another user's, gone
meanwhile) are skipped.
"""

from __future__ import annotations

import os
import stat

_QEMU = ("qemu-system-", "qemu-kvm", "kvm")


def _guest_name(pid: str) -> str | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return None
    if not argv or not os.path.basename(argv[0].decode(errors="replace")).startswith(_QEMU):
        return None
    for i, arg in enumerate(argv[:-1]):
        if arg == b"-name":
            value = argv[i + 1].decode(errors="replace")
            for part in value.split(","):
                if part.startswith("guest="):
                    return part[len("guest="):]
            return value.split(",")[0]
    return f"pid {pid}"


def guests_using(path: str) -> list[str]:
    """Names of the QEMU guests that have ``path`` open (sorted, without repeats)."""
    try:
        target = os.stat(path)
    except OSError:
        return []
    block = stat.S_ISBLK(target.st_mode)
    found: set[str] = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid == str(os.getpid()):
            continue
        name = _guest_name(pid)
        if name is None:
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                st = os.stat(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if (block and stat.S_ISBLK(st.st_mode) and st.st_rdev == target.st_rdev) or \
                    (not block and st.st_ino == target.st_ino and st.st_dev == target.st_dev):
                found.add(name)
                break
    return sorted(found)
