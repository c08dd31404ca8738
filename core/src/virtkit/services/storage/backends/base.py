"""What every pool backend provides: build, start, stop, delete, info, and its volumes."""

from __future__ import annotations

import os
from collections.abc import Callable

import attrs

from virtkit.services.storage.commands import Runner
from virtkit.services.storage.errors import failed, unsupported
from virtkit.xml.storage import StoragePool

#: checks between chunks of long work; raises OPERATION_ABORTED when the work was aborted.
Progress = Callable[[int, int], None]


@attrs.frozen
class VolFacts:
    """What the storage says about a volume, in bytes."""

    type: str  # "file" or "block"
    capacity: int
    allocation: int
    physical: int


@attrs.frozen
class VolEntry:
    """A volume found by a scan: its path, and its facts when the scan had them for free."""

    path: str
    facts: VolFacts | None = None


@attrs.frozen
class NewVolume:
    """A volume to make, checked by the service."""

    name: str
    format: str
    capacity: int
    allocation: int
    backing: tuple[str, str] | None = None
    mode: int | None = None
    owner: int | None = None
    group: int | None = None


class Backend:
    """One pool's storage. Subclasses: dir, fs, netfs, disk, logical, iscsi."""

    #: libvirt's volume type of this backend's volumes.
    vol_type = "file"
    #: the formats its volumes may have; the first is the default.
    formats: tuple[str, ...] = ("raw",)
    #: whether volumes can be made and deleted (an iSCSI target's LUNs cannot).
    makes_volumes = True

    def __init__(self, pool: StoragePool, runner: Runner) -> None:
        self.pool = pool
        self.name = pool.name
        self.runner = runner
        path = pool.target.path if pool.target is not None else None
        self.target = (path or "").rstrip("/") or "/"

    def what(self, action: str) -> str:
        return f"cannot {action} storage pool '{self.name}'"

    # -- the pool -------------------------------------------------------------------------------

    def built(self) -> bool:
        """Whether the underlying storage exists (a build would not be needed)."""
        return True

    def build(self, overwrite: bool, no_overwrite: bool) -> None:
        raise unsupported(f"storage pool '{self.name}' of type '{self.pool.type}' cannot be built")

    def delete(self) -> None:
        raise unsupported(
            f"storage pool '{self.name}' of type '{self.pool.type}' cannot be deleted"
        )

    def start(self) -> None:
        """Make the storage usable (mount, log in, activate)."""

    def stop(self) -> None:
        """Release the storage (unmount, log out, deactivate); the data stays."""

    def is_up(self) -> bool:
        """Whether the storage is usable now (checked when state is reloaded after a crash)."""
        return True

    def info(self) -> tuple[int, int, int]:
        """Capacity, allocation and available bytes."""
        raise NotImplementedError

    # -- volumes --------------------------------------------------------------------------------

    def scan(self) -> dict[str, VolEntry]:
        """The pool's volumes by name."""
        raise NotImplementedError

    def find(self, name: str) -> VolEntry | None:
        """The volume ``name``, or None."""
        return self.scan().get(name)

    def cleanup(self) -> None:
        """Remove what crashed work left behind (called by refresh)."""

    def facts(self, name: str, path: str, fmt: str) -> VolFacts:
        raise NotImplementedError

    def check_new(self, vol: NewVolume) -> None:
        """INVALID_ARG when ``vol`` cannot be made here (its name, its size), before any work."""
        if not self.makes_volumes:
            raise self._no_volumes("create volumes in")

    def create_volume(self, vol: NewVolume) -> str:
        """Make the volume; returns its path. Nothing is left behind when it fails."""
        raise self._no_volumes("create volumes in")

    def clone_volume(
        self, vol: NewVolume, src_path: str, src_fmt: str, src_capacity: int
    ) -> str:
        """Make ``vol`` holding a copy of the image at ``src_path``; returns its path."""
        from virtkit.services.storage import images

        path = self.create_volume(vol)
        try:
            images.convert(self.runner, src_path, src_fmt, path, vol.format, existing=True,
                           what=f"cannot clone into storage volume '{vol.name}'")
        except BaseException:
            self.delete_volume(vol.name, path)
            raise
        return path

    def delete_volume(self, name: str, path: str) -> None:
        raise self._no_volumes("delete volumes of")

    def resize_volume(
        self, name: str, path: str, fmt: str, capacity: int, allocate: bool, shrink: bool
    ) -> None:
        raise unsupported(
            f"volumes of storage pool '{self.name}' of type '{self.pool.type}' cannot be resized"
        )

    def _no_volumes(self, action: str) -> Exception:
        return unsupported(
            f"cannot {action} storage pool '{self.name}': a '{self.pool.type}' pool's volumes "
            f"are given by its storage"
        )


def device_size(path: str) -> int:
    """The size in bytes of a block device (or file) at ``path``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise failed(f"cannot open '{path}': {exc.strerror}") from None
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)
