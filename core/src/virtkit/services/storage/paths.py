"""Paths inside a pool's target, checked so that nothing outside the target is touched.

A volume's path is ``TARGET/NAME`` with a checked name (no ``/``, no ``..``). A path that resolves
outside the target through a symlink is refused with INVALID_ARG; new files are made under a
temporary name with ``O_EXCL | O_NOFOLLOW`` and linked to their final name only when complete,
so a failed create leaves no partial file and never follows a planted symlink.
"""

from __future__ import annotations

import contextlib
import os
import secrets

from virtkit.sdk.checks import check_volume_name
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.services.storage.errors import bad_arg

#: prefix of the temporary files a create or clone makes; refresh removes stale ones.
TMP_PREFIX = ".virtkit-tmp-"


def vol_path(target: str, name: str) -> str:
    return os.path.join(target, check_volume_name(name))


def is_inside(target: str, path: str) -> bool:
    """Whether ``path`` resolves (following symlinks) to ``target`` or below it."""
    root = os.path.realpath(target)
    real = os.path.realpath(path)
    return real == root or real.startswith(root.rstrip("/") + "/")


def check_inside(target: str, path: str, pool: str) -> str:
    """``path`` if it resolves inside ``target``; INVALID_ARG naming the pool if not."""
    if not is_inside(target, path):
        raise bad_arg(
            f"path '{path}' resolves to '{os.path.realpath(path)}', outside the target "
            f"'{target}' of storage pool '{pool}'"
        )
    return path


def new_temp(directory: str, mode: int = 0o600) -> tuple[int, str]:
    """A new empty file in ``directory``, opened for writing, under a temporary name."""
    for _ in range(16):
        path = os.path.join(directory, TMP_PREFIX + secrets.token_hex(8))
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         mode)
        except FileExistsError:
            continue
        return fd, path
    raise VirtError(ErrorCode.INTERNAL_ERROR, f"cannot make a temporary file in '{directory}'",
                    ErrorDomain.STORAGE)


def publish(temp: str, final: str, pool: str) -> None:
    """Give the complete file ``temp`` its final name; STORAGE_VOL_EXIST if that name is taken
    (by anything, a symlink included: nothing is replaced)."""
    try:
        os.link(temp, final, follow_symlinks=False)
    except FileExistsError:
        raise VirtError(
            ErrorCode.STORAGE_VOL_EXIST,
            f"storage volume '{os.path.basename(final)}' exists already in storage pool "
            f"'{pool}'",
            ErrorDomain.STORAGE,
        ) from None
    finally:
        discard(temp)


def discard(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def fsync_dir(directory: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_name(name: str) -> str:
    """A volume name as the core checks it (INVALID_ARG for ``/``, ``..``...)."""
    return check_volume_name(name)
