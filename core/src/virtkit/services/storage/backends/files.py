"""Pools of image files in a directory: ``dir``, ``fs`` (a mounted block device or image file)
and ``netfs`` (a mounted NFS export).

Capacity, allocation and available bytes are the filesystem's (``statvfs`` of the target). A
volume is a regular file in the target; symlinks count only when they resolve inside it. Raw
volumes get their facts from ``stat``; other formats from ``qemu-img info`` with the declared
format, cached while the file's size and modification time stay the same.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import time

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.services.storage import images
from virtkit.services.storage.backends.base import Backend, NewVolume, VolEntry, VolFacts
from virtkit.services.storage.errors import bad_arg, failed
from virtkit.services.storage.paths import (
    TMP_PREFIX,
    check_inside,
    discard,
    new_temp,
    publish,
    vol_path,
)

_INFO_CACHE: dict[tuple[str, int, int, int, str], int] = {}
_INFO_LOCK = threading.Lock()
_INFO_MAX = 20000
#: a temporary file of a create that crashed is removed by refresh after this many seconds.
STALE_TEMP_SECONDS = 60.0


def _mode(text: str | None, default: int) -> int:
    if text is None:
        return default
    try:
        mode = int(text, 8)
    except ValueError:
        raise bad_arg(f"permission mode '{text}' is not an octal number") from None
    if not 0 <= mode <= 0o7777:
        raise bad_arg(f"permission mode '{text}' is out of range")
    return mode


class DirBackend(Backend):
    """A directory of image files (``<pool type='dir'>``)."""

    formats = images.FILE_FORMATS

    # -- the pool -------------------------------------------------------------------------------

    def built(self) -> bool:
        return os.path.isdir(self.target)

    def build(self, overwrite: bool, no_overwrite: bool) -> None:
        self._make_target(no_overwrite)

    def _make_target(self, no_overwrite: bool) -> None:
        perms = self.pool.target.permissions if self.pool.target is not None else None
        mode = _mode(perms.mode if perms else None, 0o755)
        if os.path.lexists(self.target) and not os.path.isdir(self.target):
            raise failed(f"{self.what('build')}: '{self.target}' exists and is not a directory")
        if os.path.isdir(self.target) and no_overwrite and self.pool.type == "dir":
            raise VirtError(
                ErrorCode.STORAGE_POOL_BUILT,
                f"storage pool '{self.name}' is already built at '{self.target}'",
                ErrorDomain.STORAGE,
            )
        os.makedirs(self.target, mode=mode, exist_ok=True)
        os.chmod(self.target, mode)
        if perms is not None and (perms.owner is not None or perms.group is not None):
            os.chown(self.target, -1 if perms.owner is None else perms.owner,
                     -1 if perms.group is None else perms.group)

    def delete(self) -> None:
        try:
            os.rmdir(self.target)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise failed(f"{self.what('delete')}: '{self.target}': {exc.strerror} "
                         f"(delete its volumes first)") from None

    def start(self) -> None:
        if not os.path.isdir(self.target):
            raise failed(f"{self.what('start')}: its target '{self.target}' does not exist "
                         f"(build the pool first)")

    def is_up(self) -> bool:
        return os.path.isdir(self.target)

    def info(self) -> tuple[int, int, int]:
        st = os.statvfs(self.target)
        capacity = st.f_frsize * st.f_blocks
        return capacity, capacity - st.f_frsize * st.f_bfree, st.f_frsize * st.f_bavail

    # -- volumes --------------------------------------------------------------------------------

    def scan(self) -> dict[str, VolEntry]:
        found: dict[str, VolEntry] = {}
        root = os.path.realpath(self.target) + "/"
        try:
            entries = os.scandir(self.target)
        except OSError as exc:
            raise failed(f"cannot read storage pool '{self.name}' at '{self.target}': "
                         f"{exc.strerror}") from None
        with entries:
            for entry in entries:
                name = entry.name
                if name.startswith(TMP_PREFIX) or ".." in name:
                    continue
                try:
                    if entry.is_symlink():
                        if not os.path.realpath(entry.path).startswith(root):
                            continue  # resolves outside the pool: never a volume
                    if not entry.is_file():
                        continue
                except OSError:
                    continue
                found[name] = VolEntry(entry.path)
        return found

    def find(self, name: str) -> VolEntry | None:
        path = self.path_of(name)
        if name.startswith(TMP_PREFIX):
            return None
        try:
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                check_inside(self.target, path, self.name)
                st = os.stat(path)
        except FileNotFoundError:
            return None
        return VolEntry(path) if stat.S_ISREG(st.st_mode) else None

    def cleanup(self) -> None:
        now = time.time()
        with contextlib.suppress(OSError), os.scandir(self.target) as entries:
            for entry in entries:
                if not entry.name.startswith(TMP_PREFIX):
                    continue
                with contextlib.suppress(OSError):
                    st = entry.stat(follow_symlinks=False)
                    if now - st.st_mtime > STALE_TEMP_SECONDS:
                        discard(entry.path)

    def path_of(self, name: str) -> str:
        return vol_path(self.target, name)

    def facts(self, name: str, path: str, fmt: str) -> VolFacts:
        check_inside(self.target, path, self.name)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise VirtError(
                ErrorCode.NO_STORAGE_VOL,
                f"Storage volume not found: storage vol '{name}' of storage pool "
                f"'{self.name}' vanished",
                ErrorDomain.STORAGE,
            ) from None
        allocation = st.st_blocks * 512
        if fmt == "raw":
            return VolFacts("file", st.st_size, allocation, st.st_size)
        key = (path, st.st_ino, st.st_size, st.st_mtime_ns, fmt)
        with _INFO_LOCK:
            capacity = _INFO_CACHE.get(key)
        if capacity is None:
            data = images.info(self.runner, path, fmt,
                               what=f"cannot read storage volume '{name}'")
            capacity = int(data.get("virtual-size", 0))
            with _INFO_LOCK:
                if len(_INFO_CACHE) >= _INFO_MAX:
                    _INFO_CACHE.clear()
                _INFO_CACHE[key] = capacity
        return VolFacts("file", capacity, allocation, st.st_size)

    def _finish_file(self, fd: int, vol: NewVolume) -> None:
        os.fchmod(fd, vol.mode if vol.mode is not None else 0o600)
        if vol.owner is not None or vol.group is not None:
            os.fchown(fd, -1 if vol.owner is None else vol.owner,
                      -1 if vol.group is None else vol.group)

    def create_volume(self, vol: NewVolume) -> str:
        final = self.path_of(vol.name)
        if os.path.lexists(final):
            raise _exists(vol.name, self.name)
        fd, temp = new_temp(self.target)
        try:
            try:
                if vol.format == "raw":
                    images.create_raw(fd, vol.capacity, vol.allocation)
                else:
                    images.create(self.runner, temp, vol.format, vol.capacity,
                                  backing=vol.backing,
                                  what=f"cannot create storage volume '{vol.name}'")
                self._finish_file(fd, vol)
            finally:
                os.close(fd)
            publish(temp, final, self.name)
        except BaseException:
            discard(temp)
            raise
        return final

    def clone_volume(
        self, vol: NewVolume, src_path: str, src_fmt: str, src_capacity: int
    ) -> str:
        final = self.path_of(vol.name)
        if os.path.lexists(final):
            raise _exists(vol.name, self.name)
        fd, temp = new_temp(self.target)
        try:
            try:
                images.convert(self.runner, src_path, src_fmt, temp, vol.format,
                               what=f"cannot clone into storage volume '{vol.name}'")
                if vol.capacity > src_capacity:
                    if vol.format == "raw":
                        with open(temp, "r+b") as f:
                            f.truncate(vol.capacity)
                    else:
                        images.resize(self.runner, temp, vol.format, vol.capacity,
                                      shrink=False)
                self._finish_file(fd, vol)
            finally:
                os.close(fd)
            publish(temp, final, self.name)
        except BaseException:
            discard(temp)
            raise
        return final

    def delete_volume(self, name: str, path: str) -> None:
        if path != self.path_of(name):
            raise bad_arg(f"storage volume '{name}' is not at '{path}'")
        try:
            os.unlink(path)  # a symlink itself, never what it points to
        except FileNotFoundError:
            return

    def resize_volume(
        self, name: str, path: str, fmt: str, capacity: int, allocate: bool, shrink: bool
    ) -> None:
        check_inside(self.target, path, self.name)
        if fmt != "raw":
            images.resize(self.runner, path, fmt, capacity, shrink=shrink,
                          what=f"cannot resize storage volume '{name}'")
            return
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.ftruncate(fd, capacity)
            if allocate:
                images.allocate(fd, capacity)
            os.fsync(fd)
        finally:
            os.close(fd)


def _exists(name: str, pool: str) -> VirtError:
    return VirtError(
        ErrorCode.STORAGE_VOL_EXIST,
        f"storage volume '{name}' exists already in storage pool '{pool}'",
        ErrorDomain.STORAGE,
    )


# -- mounted pools ---------------------------------------------------------------------------


def _unescape(field: str) -> str:
    """A mountinfo path with its octal escapes (``\\040`` for a space) decoded."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1:i + 4].isdigit() and i + 3 < len(field):
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounted_at(target: str) -> tuple[str, str] | None:
    """The (source, fstype) mounted on ``target``, or None."""
    real = os.path.realpath(target)
    found = None
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 10 or _unescape(fields[4]) != real:
                continue
            sep = fields.index("-")
            found = (_unescape(fields[sep + 2]), fields[sep + 1])
    return found


class MountedBackend(DirBackend):
    """A directory pool whose target is a mount point while the pool is active."""

    def fstype(self) -> str:
        raise NotImplementedError

    def source_spec(self) -> str:
        raise NotImplementedError

    def mount_options(self) -> list[str]:
        return ["-o", "nodev,nosuid"]

    def build(self, overwrite: bool, no_overwrite: bool) -> None:
        self._make_target(False)

    def start(self) -> None:
        if not os.path.isdir(self.target):
            raise failed(f"{self.what('start')}: its mount point '{self.target}' does not "
                         f"exist (build the pool first)")
        current = mounted_at(self.target)
        if current is not None:
            return  # already mounted (state reloaded after a crash)
        self.runner.run(
            ["mount", "-t", self.fstype(), *self.mount_options(), self.source_spec(),
             self.target],
            what=self.what("start"),
        )

    def stop(self) -> None:
        if mounted_at(self.target) is None:
            return
        self.runner.run(["umount", self.target], what=self.what("stop"))

    def is_up(self) -> bool:
        return mounted_at(self.target) is not None

    def info(self) -> tuple[int, int, int]:
        if not self.is_up():
            raise failed(f"storage pool '{self.name}': nothing is mounted on '{self.target}'")
        return super().info()


class FsBackend(MountedBackend):
    """A block device or image file holding a filesystem (``<pool type='fs'>``).

    Build formats the device with mkfs (``no_overwrite``: refused when a filesystem is there;
    neither flag: only when none is), start mounts it (image files through a loop device),
    stop unmounts it, delete removes the mount point.
    """

    def device(self) -> str:
        src = self.pool.source
        if src is None or not src.devices:
            raise bad_arg(f"storage pool '{self.name}' needs a <source><device path=...>")
        return src.devices[0].path

    def fstype(self) -> str:
        src = self.pool.source
        fmt = src.format.type if src is not None and src.format is not None else "auto"
        return fmt

    def source_spec(self) -> str:
        return self.device()

    def mount_options(self) -> list[str]:
        opts = "nodev,nosuid"
        if os.path.isfile(self.device()):
            opts += ",loop"
        return ["-o", opts]

    def _existing_fs(self) -> str | None:
        result = self.runner.run(["blkid", "-p", "-o", "value", "-s", "TYPE", self.device()],
                                 check=False)
        text = result.stdout.strip()
        return text or None

    def build(self, overwrite: bool, no_overwrite: bool) -> None:
        device = self.device()
        if not os.path.exists(device):
            raise failed(f"{self.what('build')}: its source device '{device}' does not exist")
        existing = self._existing_fs()
        if existing is not None and no_overwrite:
            raise VirtError(
                ErrorCode.STORAGE_POOL_BUILT,
                f"storage pool '{self.name}': device '{device}' already holds a '{existing}' "
                f"filesystem",
                ErrorDomain.STORAGE,
            )
        self._make_target(False)
        if existing is None or overwrite:
            fstype = self.fstype()
            if fstype == "auto":
                fstype = "ext4"
            argv = ["mkfs", "-t", fstype]
            if fstype.startswith("ext"):
                argv += ["-F", "-q"]
            elif fstype in ("xfs", "btrfs"):
                argv.append("-f")
            self.runner.run([*argv, device], what=self.what("build"))


class NetfsBackend(MountedBackend):
    """A network filesystem export mounted on the target (``<pool type='netfs'>``, NFS by
    default: ``mount -t nfs HOST:DIR TARGET``)."""

    def fstype(self) -> str:
        src = self.pool.source
        fmt = src.format.type if src is not None and src.format is not None else "auto"
        return "nfs" if fmt == "auto" else fmt

    def source_spec(self) -> str:
        src = self.pool.source
        if src is None or not src.hosts or src.dir is None:
            raise bad_arg(f"storage pool '{self.name}' needs <source><host name=...> and "
                          f"<dir path=...>")
        return f"{src.hosts[0].name}:{src.dir.path}"

    def mount_options(self) -> list[str]:
        opts = "nodev,nosuid"
        src = self.pool.source
        if src is not None and src.hosts and src.hosts[0].port:
            opts += f",port={src.hosts[0].port}"
        return ["-o", opts]

