"""Disk images with qemu-img: create, info, convert (clone), resize.

The declared format is always passed with ``-f``: an image is never probed, so a raw volume whose
first bytes look like a qcow2 header stays raw. Raw files are made and resized here directly
(sparse, with ``fallocate`` for the allocation asked for); the other formats by qemu-img.
"""

from __future__ import annotations

import errno
import json
import os
from typing import Any

from virtkit.services.storage.commands import Runner
from virtkit.services.storage.errors import bad_arg, failed
from virtkit.xml.poolcaps import FILE_VOLUME_FORMATS

#: the formats a file volume may have (those qemu-img creates and libvirt lists for files).
FILE_FORMATS = FILE_VOLUME_FORMATS
#: formats whose images qemu-img cannot resize.
FIXED_SIZE_FORMATS = ("vmdk", "vdi")
#: formats that may sit on a backing store.
BACKING_FORMATS = ("qcow2", "qed", "vmdk")


def check_format(fmt: str, volume: str) -> str:
    if fmt not in FILE_FORMATS:
        raise bad_arg(
            f"format '{fmt}' of storage volume '{volume}' is not supported "
            f"(use one of {', '.join(FILE_FORMATS)})"
        )
    return fmt


def allocate(fd: int, length: int) -> None:
    """Reserve ``length`` bytes of ``fd`` from its start (OPERATION_FAILED when out of space)."""
    if length <= 0:
        return
    try:
        os.posix_fallocate(fd, 0, length)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL):
            return  # a filesystem without fallocate (NFS v3): the file stays sparse
        raise failed(f"cannot allocate {length} bytes: {exc.strerror}") from None


def create_raw(fd: int, capacity: int, allocation: int) -> None:
    """Size an open, empty file to ``capacity`` with ``allocation`` bytes reserved."""
    os.ftruncate(fd, capacity)
    allocate(fd, min(allocation, capacity))


def create(
    runner: Runner,
    path: str,
    fmt: str,
    capacity: int,
    *,
    backing: tuple[str, str] | None = None,
    what: str = "",
) -> None:
    """Make a ``fmt`` image of ``capacity`` bytes at ``path`` (an empty file we own)."""
    argv = ["qemu-img", "create", "-q", "-f", fmt]
    if backing is not None:
        argv += ["-b", backing[0], "-F", backing[1]]
    argv += [path, str(capacity)]
    runner.run(argv, what=what)


def info(runner: Runner, path: str, fmt: str, *, what: str = "") -> dict[str, Any]:
    """``qemu-img info --output=json -f FMT`` of ``path`` (never probed; shared lock)."""
    result = runner.run(
        ["qemu-img", "info", "-U", "--output=json", "-f", fmt, path], what=what
    )
    try:
        data: dict[str, Any] = json.loads(result.stdout)
    except ValueError:
        raise failed(f"{what}: qemu-img info gave unreadable output") from None
    return data


def convert(
    runner: Runner,
    src: str,
    src_fmt: str,
    dst: str,
    dst_fmt: str,
    *,
    existing: bool = False,
    what: str = "",
) -> None:
    """Copy ``src`` (declared ``src_fmt``) into ``dst`` as ``dst_fmt`` (``existing``: into an
    image or device that exists already, keeping its size)."""
    argv = ["qemu-img", "convert", "-f", src_fmt, "-O", dst_fmt]
    if existing:
        argv.append("-n")
    argv += [src, dst]
    runner.run(argv, what=what)


def resize(
    runner: Runner, path: str, fmt: str, capacity: int, *, shrink: bool, what: str = ""
) -> None:
    """Change a non-raw image's virtual size."""
    argv = ["qemu-img", "resize", "-q", "-f", fmt]
    if shrink:
        argv.append("--shrink")
    argv += [path, str(capacity)]
    runner.run(argv, what=what)
