"""The container's filesystem, set up from the host side without ever following a path the
container controls: every target inside the root is opened one component at a time with
O_NOFOLLOW relative to the root (a symlink is refused), and mounts go onto the opened
descriptor (``/proc/self/fd/N``), so a symlink planted in the root can never redirect a mount
onto the host. Then the root is pivoted and the host's mounts are detached.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from virtkit_lxc import sysc

#: The safe device set: no disks, no memory, no kernel message device.
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


class RootfsError(Exception):
    """The root or a mount target cannot be set up safely (the message names it)."""


def _components(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise RootfsError(f"container path '{path}' contains '..'")
    return parts


def open_inside(rootfd: int, path: str, *, directory: bool = True, create: bool = True) -> int:
    """An O_PATH descriptor for ``path`` inside the root, refusing symlinks at every step;
    missing components are created (directories, or an empty file for a file target)."""
    parts = _components(path)
    fd = os.dup(rootfd)
    try:
        for i, comp in enumerate(parts):
            last = i == len(parts) - 1
            as_dir = directory or not last
            flags = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_DIRECTORY if as_dir else 0)
            try:
                nfd = os.open(comp, flags, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                if as_dir:
                    os.mkdir(comp, 0o755, dir_fd=fd)
                else:
                    os.close(os.open(comp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                                     | os.O_CLOEXEC, 0o644, dir_fd=fd))
                nfd = os.open(comp, flags, dir_fd=fd)
            except OSError as exc:
                raise RootfsError(f"container path '{path}': '{comp}' is a symlink or not a "
                                  f"{'directory' if as_dir else 'file'} ({exc.strerror}); "
                                  f"refusing to follow it") from None
            if stat.S_ISLNK(os.fstat(nfd).st_mode):
                os.close(nfd)
                raise RootfsError(f"container path '{path}': '{comp}' is a symlink; "
                                  f"refusing to follow it")
            os.close(fd)
            fd = nfd
        return fd
    except BaseException:
        os.close(fd)
        raise


def _fdpath(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


def mount_at(rootfd: int, target: str, source: str | None, fstype: str | None, flags: int = 0,
             data: str | None = None, *, directory: bool = True) -> None:
    fd = open_inside(rootfd, target, directory=directory)
    try:
        sysc.mount(source, _fdpath(fd), fstype, flags, data)
    finally:
        os.close(fd)


def bind_at(rootfd: int, target: str, source_fd: int, readonly: bool) -> None:
    is_dir = stat.S_ISDIR(os.fstat(source_fd).st_mode)
    fd = open_inside(rootfd, target, directory=is_dir)
    try:
        sysc.mount(_fdpath(source_fd), _fdpath(fd), None, sysc.MS_BIND | sysc.MS_REC)
    finally:
        os.close(fd)
    if readonly:
        _remount_readonly(rootfd, target, is_dir)
    elif is_dir:  # a bound directory's device nodes open nothing either
        fd = open_inside(rootfd, target, create=False)
        try:
            sysc.mount(None, _fdpath(fd), None, sysc.MS_BIND | sysc.MS_REMOUNT | sysc.MS_NODEV)
        finally:
            os.close(fd)


def _remount_readonly(rootfd: int, target: str, is_dir: bool = True, extra: int = 0) -> None:
    # reopened: a descriptor taken before the mount names what lies under it
    fd = open_inside(rootfd, target, directory=is_dir, create=False)
    try:
        sysc.mount(None, _fdpath(fd), None, sysc.MS_BIND | sysc.MS_REMOUNT | sysc.MS_RDONLY
                   | sysc.MS_NOSUID | sysc.MS_NODEV | extra)
    finally:
        os.close(fd)


def setup(root: str, binds: list[dict[str, Any]], console_fd: int,
          root_readonly: bool = False) -> None:
    """In the container's fresh mount namespace: make the root, mount the binds, /proc, /sys
    and /dev into it, pivot into it and detach the host's mounts."""
    sysc.mount(None, "/", None, sysc.MS_REC | sysc.MS_PRIVATE)
    sysc.mount(root, root, None, sysc.MS_BIND | sysc.MS_REC)
    # nodev: a device node in the root (from an image, say) opens nothing
    sysc.mount(None, root, None, sysc.MS_BIND | sysc.MS_REMOUNT | sysc.MS_NODEV
               | (sysc.MS_RDONLY if root_readonly else 0))
    rootfd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for b in binds:  # host sources are the administrator's: opened as given
            if "ram_kib" in b:
                mount_at(rootfd, str(b["target"]), "tmpfs", "tmpfs",
                         sysc.MS_NOSUID | sysc.MS_NODEV, f"size={int(b['ram_kib'])}k,mode=755")
                continue
            src = os.open(str(b["source"]), os.O_PATH | os.O_CLOEXEC)
            try:
                bind_at(rootfd, str(b["target"]), src, bool(b.get("readonly")))
            finally:
                os.close(src)
        nosx = sysc.MS_NOSUID | sysc.MS_NODEV | sysc.MS_NOEXEC
        mount_at(rootfd, "proc", "proc", "proc", nosx)
        fd = open_inside(rootfd, "proc/sys", create=False)  # /proc/sys read-only
        try:
            sysc.mount(_fdpath(fd), _fdpath(fd), None, sysc.MS_BIND)
        finally:
            os.close(fd)
        _remount_readonly(rootfd, "proc/sys", extra=nosx)
        mount_at(rootfd, "sys", "sysfs", "sysfs", nosx | sysc.MS_RDONLY)
        _setup_dev(rootfd, console_fd)
        os.fchdir(rootfd)
    finally:
        os.close(rootfd)
    sysc.pivot_root(".", ".")
    sysc.umount2(".", sysc.MNT_DETACH)
    os.chdir("/")


def _setup_dev(rootfd: int, console_fd: int) -> None:
    mount_at(rootfd, "dev", "tmpfs", "tmpfs", sysc.MS_NOSUID | sysc.MS_NOEXEC,
             "mode=755,size=65536k")
    devfd = open_inside(rootfd, "dev", create=False)
    try:
        for name in DEVICES:  # bind the host's nodes: works in a user namespace too
            src = os.open(f"/dev/{name}", os.O_PATH | os.O_CLOEXEC)
            try:
                bind_at(devfd, name, src, False)
            finally:
                os.close(src)
        # the pty was opened before this mount namespace existed: a bind needs a source in
        # this namespace, so reopen it by its (host) name
        src = os.open(os.ttyname(console_fd), os.O_PATH | os.O_CLOEXEC)
        try:
            bind_at(devfd, "console", src, False)
        finally:
            os.close(src)
        mount_at(devfd, "pts", "devpts", "devpts", sysc.MS_NOSUID | sysc.MS_NOEXEC,
                 "newinstance,ptmxmode=0666,mode=0620")
        mount_at(devfd, "shm", "tmpfs", "tmpfs", sysc.MS_NOSUID | sysc.MS_NODEV,
                 "mode=1777,size=65536k")
        for link, to in (("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"),
                         ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
            os.symlink(to, link, dir_fd=devfd)
    finally:
        os.close(devfd)
