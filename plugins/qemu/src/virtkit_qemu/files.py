"""Checks made before a guest starts: every file it needs exists and has the right kind.

A missing kernel, initrd, loader or disk image is refused with OPERATION_FAILED naming the
file and the device, before QEMU is started.
"""

from __future__ import annotations

import os
import stat

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.xml.domain import Domain
from virtkit_qemu.argv import disk_source


def _missing(name: str, what: str, path: str, why: str) -> VirtError:
    return VirtError(
        ErrorCode.OPERATION_FAILED,
        f"cannot start domain '{name}': {what} '{path}' {why}",
        ErrorDomain.QEMU,
    )


def check_file(name: str, what: str, path: str, *, block: bool = False) -> None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise _missing(name, what, path, "does not exist") from None
    except OSError as exc:
        raise _missing(name, what, path, f"cannot be read: {exc.strerror}") from None
    if block and not stat.S_ISBLK(st.st_mode):
        raise _missing(name, what, path, "is not a block device")
    if not block and not stat.S_ISREG(st.st_mode):
        raise _missing(name, what, path, "is not a regular file")
    if not os.access(path, os.R_OK):
        raise _missing(name, what, path, "is not readable")


def check_domain_files(dom: Domain) -> None:
    """Raise naming the first file ``dom`` needs that is missing or of the wrong kind."""
    os_ = dom.os
    for what, path in (("kernel", os_.kernel), ("initrd", os_.initrd), ("dtb", os_.dtb)):
        if path:
            check_file(dom.name, what, path)
    if os_.loader is not None and os_.loader.path:
        check_file(dom.name, "firmware loader", os_.loader.path)
    if dom.devices is None:
        return
    for disk in dom.devices.disks:
        path = disk_source(disk)
        if path is None:
            continue
        startup = disk.source.startup_policy if disk.source is not None else None
        if startup == "optional" and not os.path.exists(path):
            continue
        check_file(dom.name, f"disk '{disk.target.dev}' source", path,
                   block=disk.type == "block")
