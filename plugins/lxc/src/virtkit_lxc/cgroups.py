"""A container's control groups: v1 (one directory per controller, as on hosts with the legacy
hierarchy) or v2 (one unified directory). Limits, the freezer and counters, through files only.

A container's cgroup is created under the creating process's own cgroup of each v1 controller
(``.../virtkit-lxc/NAME``), or under the v2 hierarchy's root (``virtkit-lxc/NAME``). Its paths
are recorded so another process finds it again (:meth:`Cgroup.from_dict`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from typing import Any

ROOT = "/sys/fs/cgroup"
V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "cpuset", "pids", "blkio", "freezer", "devices")


class CgroupError(Exception):
    """A cgroup file could not be written (the message names it)."""


def _write(path: str, value: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise CgroupError(f"cannot open {path}: {exc.strerror}") from None
    try:
        os.write(fd, value.encode())
    except OSError as exc:
        raise CgroupError(f"cannot write '{value}' to {path}: {exc.strerror}") from None
    finally:
        os.close(fd)


def _read(path: str) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # not open(): five syscalls fewer per read
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode().strip()


def v2_root() -> str | None:
    """Where the unified (v2) hierarchy is mounted, or None."""
    with open("/proc/self/mounts") as f:
        mounts = [line.split() for line in f]
    for m in mounts:
        if m[2] == "cgroup2" and m[1] == ROOT:
            return ROOT
    for m in mounts:
        if m[2] == "cgroup2":
            return m[1]
    return None


def v1_mounts() -> dict[str, str]:
    """Controller -> mount point of each v1 hierarchy holding one of ours."""
    found: dict[str, str] = {}
    with open("/proc/self/mounts") as f:
        for line in f:
            _dev, where, fstype, opts = line.split()[:4]
            if fstype != "cgroup":
                continue
            for opt in opts.split(","):
                if opt in V1_CONTROLLERS:
                    found[opt] = where
    return found


def _own_v1_paths() -> dict[str, str]:
    own: dict[str, str] = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            for c in ctrls.split(","):
                if c:
                    own[c] = path
    return own


def default_version() -> int:
    """1 when the v1 memory and freezer controllers are mounted (legacy or hybrid hosts), else 2."""
    mounts = v1_mounts()
    return 1 if "memory" in mounts and "freezer" in mounts else 2


class Cgroup:
    """One container's cgroup (either version)."""

    def __init__(self, version: int, paths: dict[str, str]) -> None:
        self.version = version
        self.paths = paths  # v1: controller -> directory; v2: {"unified": directory}

    # -- creation and persistence ----------------------------------------------------------

    @classmethod
    def create(cls, name: str, version: int | None = None, *, v2root: str | None = None) -> Cgroup:
        """Make (or reuse) ``name``'s cgroup. ``v2root``: the unified hierarchy's mount point
        (default: the one mounted; tests pass a directory laid out as one)."""
        version = version or default_version()
        if version == 1:
            mounts, own = v1_mounts(), _own_v1_paths()
            paths = {}
            for ctrl, where in mounts.items():
                parent = os.path.join(where, own.get(ctrl, "/").lstrip("/"), "virtkit-lxc")
                paths[ctrl] = os.path.join(parent, name)
                for d in (parent, paths[ctrl]):
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(d, 0o755)
                    if ctrl == "cpuset":
                        for key in ("cpuset.cpus", "cpuset.mems"):
                            if not _read(os.path.join(d, key)):
                                _write(os.path.join(d, key),
                                       _read(os.path.join(os.path.dirname(d), key)))
            return cls(1, paths)
        root = v2root or v2_root()
        if root is None:
            raise CgroupError("no cgroup v2 hierarchy is mounted")
        parent = os.path.join(root, "virtkit-lxc")
        path = os.path.join(parent, name)
        for d in (parent, path):
            with contextlib.suppress(FileExistsError):
                os.mkdir(d, 0o755)
        # enable what the hierarchy offers for the containers below
        for d in (root, parent):
            avail = _read(os.path.join(d, "cgroup.controllers")).split()
            for ctrl in avail:
                with contextlib.suppress(CgroupError):
                    _write(os.path.join(d, "cgroup.subtree_control"), f"+{ctrl}")
        return cls(2, {"unified": path})

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "paths": self.paths}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cgroup:
        return cls(int(data["version"]), dict(data["paths"]))

    def _file(self, ctrl: str, key: str) -> str:
        if self.version == 2:
            return os.path.join(self.paths["unified"], key)
        if ctrl not in self.paths:
            raise CgroupError(f"the cgroup v1 controller '{ctrl}' is not mounted")
        return os.path.join(self.paths[ctrl], key)

    def has(self, ctrl: str, key: str) -> bool:
        try:
            return os.path.exists(self._file(ctrl, key))
        except CgroupError:
            return False

    # -- membership ------------------------------------------------------------------------

    def attach(self, pid: int) -> None:
        """Move ``pid`` into every controller's directory."""
        for path in self.paths.values():
            _write(os.path.join(path, "cgroup.procs"), str(pid))

    def pids(self) -> list[int]:
        path = next(iter(self.paths.values())) if self.version == 2 else \
            self.paths.get("freezer") or next(iter(self.paths.values()))
        try:
            return [int(p) for p in _read(os.path.join(path, "cgroup.procs")).split()]
        except OSError:
            return []

    def remove(self, timeout: float = 5.0) -> None:
        """Kill what is left inside, then remove the directories."""
        deadline = time.monotonic() + timeout
        with contextlib.suppress(CgroupError, OSError):
            self.thaw()
        for path in self.paths.values():
            while True:
                for pid in self.pids():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                        break
                    time.sleep(0.02)

    # -- limits ----------------------------------------------------------------------------

    def set_memory(self, limit_bytes: int) -> None:
        if self.version == 2:
            _write(self._file("memory", "memory.max"), str(limit_bytes))
            with contextlib.suppress(CgroupError):
                _write(self._file("memory", "memory.swap.max"), "0")
            return
        memsw = self._file("memory", "memory.memsw.limit_in_bytes")
        cur = self._file("memory", "memory.limit_in_bytes")
        if os.path.exists(memsw) and int(_read(memsw)) < limit_bytes:
            _write(memsw, str(limit_bytes))  # raise the total first, it must stay >= the RAM one
            _write(cur, str(limit_bytes))
        else:
            _write(cur, str(limit_bytes))
            if os.path.exists(memsw):
                _write(memsw, str(limit_bytes))

    def set_cpu_shares(self, shares: int) -> None:
        if self.version == 2:  # as libvirt: the shares are the weight, which v2 bounds
            if not 1 <= shares <= 10000:
                raise CgroupError(f"cannot write {shares} to "
                                  f"{self._file('cpu', 'cpu.weight')}: <shares> must be in "
                                  f"1..10000 on cgroup v2")
            _write(self._file("cpu", "cpu.weight"), str(shares))
        else:
            _write(self._file("cpu", "cpu.shares"), str(shares))

    def set_cpu_quota(self, quota_us: int, period_us: int) -> None:
        if self.version == 2:
            _write(self._file("cpu", "cpu.max"),
                   f"{quota_us if quota_us > 0 else 'max'} {period_us}")
        else:
            _write(self._file("cpu", "cpu.cfs_period_us"), str(period_us))
            _write(self._file("cpu", "cpu.cfs_quota_us"), str(quota_us if quota_us > 0 else -1))

    def set_pids(self, limit: int) -> None:
        _write(self._file("pids", "pids.max"), str(limit) if limit > 0 else "max")

    def set_blkio_weight(self, weight: int) -> None:
        if self.version == 2:
            for key in ("io.bfq.weight", "io.weight"):
                if self.has("io", key):
                    _write(self._file("io", key), str(weight))
                    return
            raise CgroupError("this host's cgroup v2 io controller has no weight file")
        for key in ("blkio.weight", "blkio.bfq.weight"):
            if self.has("blkio", key):
                _write(self._file("blkio", key), str(weight))
                return
        raise CgroupError("this host's blkio controller has no weight file (no BFQ scheduler)")

    def allow_devices(self, rules: tuple[str, ...]) -> None:
        """Deny every device, then allow ``rules`` (``c 1:3 rwm``...): v1's devices controller,
        or on v2 an eBPF device program attached to the cgroup (devfilter.py)."""
        if self.version == 2:
            from virtkit_lxc import devfilter

            try:
                devfilter.attach(self.paths["unified"], rules)
            except devfilter.DeviceFilterError as exc:
                raise CgroupError(str(exc)) from None
            return
        if "devices" not in self.paths:
            return
        _write(self._file("devices", "devices.deny"), "a")
        for rule in rules:
            _write(self._file("devices", "devices.allow"), rule)

    def set_cpuset(self, cpus: str) -> None:
        _write(self._file("cpuset", "cpuset.cpus"), cpus)

    def cpuset(self) -> str:
        return _read(self._file("cpuset", "cpuset.cpus" if self.version == 1
                                else "cpuset.cpus.effective"))

    # -- freezer ---------------------------------------------------------------------------

    def freeze(self, timeout: float = 5.0) -> None:
        self._set_frozen(True, timeout)

    def thaw(self, timeout: float = 5.0) -> None:
        self._set_frozen(False, timeout)

    def frozen(self) -> bool:
        if self.version == 2:
            events = _read(self._file("freezer", "cgroup.events"))
            return "frozen 1" in events.splitlines()
        return _read(self._file("freezer", "freezer.state")) == "FROZEN"

    def _set_frozen(self, frozen: bool, timeout: float) -> None:
        if self.version == 2:
            _write(self._file("freezer", "cgroup.freeze"), "1" if frozen else "0")
        else:
            _write(self._file("freezer", "freezer.state"), "FROZEN" if frozen else "THAWED")
            if not frozen:
                return  # v1 thaws within the write (freezing goes through FREEZING: polled)
        deadline = time.monotonic() + timeout
        pause = 0.0002  # a few processes freeze within a millisecond: look soon, then less
        while self.frozen() != frozen:
            if time.monotonic() > deadline:
                raise CgroupError(f"the freezer did not {'freeze' if frozen else 'thaw'} "
                                  f"within {timeout:g}s")
            time.sleep(pause)
            pause = min(pause * 2, 0.01)

    # -- counters --------------------------------------------------------------------------

    def cpu_time_ns(self) -> int:
        if self.version == 2:
            for line in _read(self._file("cpu", "cpu.stat")).splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) * 1000
            return 0
        return int(_read(self._file("cpuacct", "cpuacct.usage")))

    def memory_usage(self) -> int | None:
        key = "memory.current" if self.version == 2 else "memory.usage_in_bytes"
        try:
            return int(_read(self._file("memory", key)))
        except (OSError, CgroupError):
            return None

    def memory_stat(self) -> dict[str, int]:
        try:
            text = _read(self._file("memory", "memory.stat"))
        except (OSError, CgroupError):
            return {}
        out = {}
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                out[key] = int(value)
        return out
