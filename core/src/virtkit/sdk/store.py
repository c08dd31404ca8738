"""The state store: persistent definitions and runtime status as files, never half written.

Every write goes to a temporary file in the same directory and is renamed over the old file; a
crash at any point, of the process or of the host, leaves the old file or the new one, and a write
that returned survives a crash of the host. On the journaling filesystems that commit a file's
new name with the file (ext3, ext4, XFS, btrfs, f2fs: an fsync of a renamed file makes the rename
durable, which their crash tests check) that takes one flush of the disk, as libvirt's writes do:
the data is written out to the device first (``sync_file_range``, no flush), then the file is
renamed, then fsynced, which commits its data, its metadata and its name at once; a crash before
that commit leaves the old file, as its data was on the device before the rename could be
committed. Elsewhere (another filesystem, no ``sync_file_range``) the file is fsynced, renamed,
and the directory fsynced: two flushes. A delete is durable too (see :meth:`StateStore.delete`).
A store of runtime status (``StateStore(dirs.run, durable=False)``) skips the fsyncs: its writes
are still atomic against a crash of the process (the rename), and a crash of the host ends every
guest whose status it holds, so nothing there needs to reach the disk.

A lock file serialises writers across processes (``fcntl.flock``), so two processes using the
same driver state do not lose each other's work: take :meth:`StateStore.locked` around a
read-check-write sequence.

Locations, as libvirt's:

- ``DRIVER:///system``: definitions under ``/var/lib/virtkit/DRIVER``, status under
  ``/run/virtkit/DRIVER``;
- ``DRIVER:///session``: definitions under ``$XDG_CONFIG_HOME/virtkit/DRIVER``, status under
  ``$XDG_RUNTIME_DIR/virtkit/DRIVER`` (falling back to ``$XDG_CACHE_HOME/virtkit/run/DRIVER``).

``VIRTKIT_STATE_ROOT`` moves both under one directory (tests and unprivileged experiments).
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import itertools
import os
import queue
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from virtkit.sdk.errors import ErrorCode, VirtError

_NAME = re.compile(r"^[^/\x00]{1,255}$")


@attrs.frozen
class StateDirs:
    config: Path
    run: Path


def state_dirs(driver: str, instance: str) -> StateDirs:
    """Where ``driver``'s ``system`` or ``session`` instance keeps its state."""
    root = os.environ.get("VIRTKIT_STATE_ROOT")
    if root:
        base = Path(root) / instance / driver
        return StateDirs(base / "config", base / "run")
    if instance == "system":
        return StateDirs(Path("/var/lib/virtkit") / driver, Path("/run/virtkit") / driver)
    home = os.path.expanduser("~")
    cfg = Path(os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"))
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    run = (
        Path(runtime) / "virtkit" / driver
        if runtime
        else Path(os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache"))
        / "virtkit"
        / "run"
        / driver
    )
    return StateDirs(cfg / "virtkit" / driver, run)


def check_name(name: str, what: str = "object") -> str:
    """Refuse names that could escape a directory: '/', NUL, '.', '..', empty, too long."""
    if not isinstance(name, str) or not _NAME.match(name) or name in (".", ".."):
        raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: invalid {what} name {name!r}")
    return name


def atomic_write(path: Path | str, data: bytes, mode: int = 0o600, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old content or the new, and a
    write that returned is on the disk (see the module's docstring for how).

    ``durable=False`` leaves out the fsyncs: atomic against a crash of the process, not of the
    host (for runtime status, which a crash of the host makes moot)."""
    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    fd, tmp = _create_temp(directory, os.path.basename(path))
    one_flush = False
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if durable:
            one_flush = _written_out(fd, directory)
            if not one_flush:
                os.fsync(fd)
        os.replace(tmp, path)
        if one_flush:
            os.fsync(fd)  # the data, the inode and the new name: one commit
        os.close(fd)
        fd = -1
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable and not one_flush:
        _fsync_dir(directory)


#: the filesystems where an fsync of a renamed file commits its new name (their journal commits
#: the rename with the inode; xfstests' power-failure tests check it)
ONE_FLUSH_FILESYSTEMS = frozenset({"ext3", "ext4", "xfs", "btrfs", "f2fs"})
_SYNC_FILE_RANGE_ALL = 1 | 2 | 4  # WAIT_BEFORE | WRITE | WAIT_AFTER
_one_flush_devs: dict[int, bool] = {}
_sync_file_range: Any = None  # libc's, loaded on the first durable write (False: none)


def _written_out(fd: int, directory: str) -> bool:
    """Write ``fd``'s data out to the device (no flush of its cache) and say True, when the
    filesystem holding ``directory`` commits a renamed file's name with its fsync; else False
    (nothing done: the caller fsyncs the file and the directory)."""
    global _sync_file_range
    dev = os.fstat(fd).st_dev
    ok = _one_flush_devs.get(dev)
    if ok is None:
        ok = _one_flush_devs[dev] = _fstype(dev) in ONE_FLUSH_FILESYSTEMS
    if not ok:
        return False
    if _sync_file_range is None:
        _sync_file_range = _load_sync_file_range()
    if _sync_file_range is False:
        return False
    if _sync_file_range(fd, 0, 0, _SYNC_FILE_RANGE_ALL) != 0:
        import ctypes

        err = ctypes.get_errno()
        if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ESPIPE):
            _one_flush_devs[dev] = False
            return False
        raise OSError(err, f"cannot write out {directory}: {os.strerror(err)}")
    return True


def _load_sync_file_range() -> Any:
    try:
        import ctypes

        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def _fstype(dev: int) -> str:
    """The type of the filesystem mounted from device ``dev`` (``/proc/self/mountinfo``), or ""."""
    want = f"{os.major(dev)}:{os.minor(dev)}"
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 2 and fields[2] == want and " - " in line:
                return line.split(" - ", 1)[1].split()[0]
    return ""


_temp_serial = itertools.count()


def _create_temp(directory: str, name: str) -> tuple[int, str]:
    """A new file ``DIR/.NAME.PID-N.tmp`` of this process alone (``O_EXCL``, no symlink
    followed), and its path: as ``tempfile.mkstemp`` makes, without its random names (a pid and
    a counter are unique among the live processes; a name left by a dead one is skipped)."""
    pid = os.getpid()
    while True:
        tmp = os.path.join(directory, f".{name}.{pid}-{next(_temp_serial)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            continue
        return fd, tmp


def _fsync_dir(directory: Path | str) -> None:
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class StateStore:
    """Files of one kind of record (``domains``, ``networks``...) for one driver instance.

    ``write(kind, name, data)``, ``read(kind, name)``, ``names(kind)``, ``delete(kind, name)``.
    Names are checked with :func:`check_name`; files are ``ROOT/KIND/NAME.SUFFIX``.
    ``durable=False`` for runtime status (the run directory): writes and deletes skip the fsyncs
    (see the module's docstring). ``lock_with=OTHER``: this store has no lock of its own and
    takes ``OTHER``'s (for a status store whose every change is made under the definitions'
    store's lock anyway: one lock, taken once, instead of a second one nested in it).
    """

    def __init__(self, root: Path, suffix: str = ".xml", *, durable: bool = True,
                 lock_with: StateStore | None = None) -> None:
        self.root = Path(root)
        self.suffix = suffix
        self.durable = durable
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        owner = lock_with._lock_owner if lock_with is not None else self
        self._lock_owner: StateStore = owner
        self._thread_lock: threading.RLock = (
            threading.RLock() if owner is self else owner._thread_lock)
        self._lock_depth = 0
        self._lock_fd = -1
        self._lock_gen = -1
        self._lock_path = os.path.join(owner.root, ".lock")
        self._made: set[str] = set()  # kind directories known to exist (no mkdir per write)
        self._dirs: dict[str, str] = {}  # kind -> its directory's path (the kind checked)

    def _path(self, kind: str, name: str) -> str:
        directory = self._dirs.get(kind)
        if directory is None:
            directory = self._dirs[kind] = os.path.join(self.root, check_name(kind,
                                                                              "record kind"))
        return f"{directory}/{check_name(name)}{self.suffix}"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock (threads of this process and other processes) for a sequence."""
        if self._lock_owner is not self:
            with self._lock_owner.locked():
                yield
            return
        with self._thread_lock:
            if self._lock_gen != _fork_gen:
                # a child process (forked, perhaps inside a locked sequence) holds nothing and
                # opens its own lock file: an flock belongs to the open file, which forks share
                self._lock_depth, self._lock_fd = 0, -1
            if self._lock_depth == 0:
                # the lock file is opened once and kept: a lock costs no open
                if self._lock_fd < 0:
                    self._lock_fd = os.open(self._lock_path,
                                            os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                    self._lock_gen = _fork_gen
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
                if self._lock_depth == 0:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the kept lock file (a later lock opens it again)."""
        with self._thread_lock:
            if self._lock_fd >= 0 and self._lock_gen == _fork_gen and self._lock_depth == 0:
                os.close(self._lock_fd)
            self._lock_fd = -1

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def write(self, kind: str, name: str, data: bytes) -> None:
        """Replace the record, atomically and durably (see :func:`atomic_write`)."""
        path = self._path(kind, name)
        with self.locked():
            if kind not in self._made:
                Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                _sweep(os.path.dirname(path))
                self._made.add(kind)
            try:
                atomic_write(path, data, durable=self.durable)
            except FileNotFoundError:  # the directory was removed meanwhile: make it again
                self._made.discard(kind)
                Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                atomic_write(path, data, durable=self.durable)

    def read(self, kind: str, name: str) -> bytes | None:
        try:
            fd = os.open(self._path(kind, name), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:  # os.read, not open(): a record is small, and a file object costs five syscalls
            chunk = os.read(fd, _READ)
            if len(chunk) < _READ:
                return chunk  # a short read of a regular file is its end: no read to see it
            chunks = [chunk]
            while chunk := os.read(fd, _READ):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def exists(self, kind: str, name: str) -> bool:
        """Whether the record is there, without reading it (where records are mostly missing,
        as a name looked up for a new object: a failed ``read`` raises and catches an error
        inside, about six times the cost of this check)."""
        return os.access(self._path(kind, name), os.F_OK)

    def names(self, kind: str) -> list[str]:
        directory = self.root / check_name(kind, "record kind")
        try:
            entries = os.listdir(directory)
        except FileNotFoundError:
            return []
        n = len(self.suffix)
        return sorted(e[:-n] for e in entries if e.endswith(self.suffix))

    def delete(self, kind: str, name: str, *, wait: bool = True) -> bool:
        """Remove the record; False if there was none. Durable: on the filesystems of
        :data:`ONE_FLUSH_FILESYSTEMS` the file is renamed to a hidden name and fsynced (one
        flush, the rename committed with it), and unlinked by a background thread (freeing its
        blocks costs as much as the flush); elsewhere unlinked and the directory fsynced. A
        hidden file a crash left is removed by the next write of the kind.

        ``wait=False``: return once the record is gone (atomically: renamed or unlinked) and
        leave its flush to the background thread, which makes it at once: a crash of the host
        before that flush ends (about one flush's time after the return) brings the record
        back, whole. That is libvirt's guarantee for an undefine, whose window is the
        filesystem's commit interval (5 s on ext4) instead."""
        path = self._path(kind, name)
        with self.locked():
            try:
                one_flush = self.durable and _one_flush(path)
            except FileNotFoundError:  # no record of this kind yet
                return False
            if one_flush:
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                except FileNotFoundError:
                    return False
                try:
                    gone = _gone_name(path)
                    os.rename(path, gone)
                    if wait:
                        os.fsync(fd)
                except BaseException:
                    os.close(fd)
                    raise
                if wait:
                    os.close(fd)
                    _later(_unlink, gone)
                else:
                    _later(_flush_and_unlink, fd, gone)
                return True
            try:
                os.unlink(path)
            except FileNotFoundError:
                return False
            if self.durable:
                if wait:
                    _fsync_dir(os.path.dirname(path))
                else:
                    _later(_fsync_dir, os.path.dirname(path))
            return True


_READ = 1 << 16
_GONE = ".gone"  # a deleted record's hidden name ends so: never a record's (it starts with '.')


def _gone_name(path: str) -> str:
    head, tail = os.path.split(path)
    return os.path.join(head, f".{tail}.{os.getpid()}-{next(_temp_serial)}{_GONE}")


def _one_flush(path: str) -> bool:
    """Whether the filesystem holding ``path`` commits a renamed file's name with its fsync."""
    dev = os.stat(os.path.dirname(path) or ".").st_dev
    ok = _one_flush_devs.get(dev)
    if ok is None:
        ok = _one_flush_devs[dev] = _fstype(dev) in ONE_FLUSH_FILESYSTEMS
    return ok


_jobs: queue.SimpleQueue[tuple[Any, tuple[Any, ...]]] = queue.SimpleQueue()
_reaper: threading.Thread | None = None
_reaper_lock = threading.Lock()


def _later(fn: Any, *args: Any) -> None:
    """Run ``fn(*args)`` in the background (one daemon thread per process, in order; what is
    left at the interpreter's exit is run then)."""
    global _reaper
    _jobs.put((fn, args))
    if _reaper is None:
        with _reaper_lock:
            if _reaper is None:
                _reaper = threading.Thread(target=_reap, name="virtkit-store-reaper",
                                           daemon=True)
                _reaper.start()


def _reap() -> None:
    while True:
        fn, args = _jobs.get()
        with contextlib.suppress(Exception):  # the thread outlives any job
            fn(*args)


def _finish() -> None:
    """At exit: run the jobs the thread has not taken yet."""
    with contextlib.suppress(queue.Empty):
        while True:
            fn, args = _jobs.get_nowait()
            with contextlib.suppress(Exception):
                fn(*args)


def _unlink(path: str) -> None:
    os.unlink(path)


def _flush_and_unlink(fd: int, path: str) -> None:
    try:
        os.fsync(fd)  # commits the rename to the hidden name: the record's removal
    finally:
        os.close(fd)
    os.unlink(path)


def _sweep(directory: str) -> None:
    """Remove the deleted records' hidden files a crash left in ``directory``."""
    with contextlib.suppress(OSError):
        for entry in os.listdir(directory):
            if entry.startswith(".") and entry.endswith(_GONE):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(directory, entry))


_fork_gen = 0  # one more in each child process: its stores open their lock files anew


def _after_fork_in_child() -> None:
    global _jobs, _reaper, _fork_gen
    _jobs, _reaper = queue.SimpleQueue(), None  # the parent's thread is not in the child
    _fork_gen += 1


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_finish)
