"""The storage state of one instance (``system`` or ``session``), shared by every driver.

Files, through :class:`~virtkit.sdk.store.StateStore` (atomic writes, one lock across
processes), under ``state_dirs("storage", INSTANCE)``:

- ``CONFIG/pools/NAME.xml``: persistent pool definitions;
- ``CONFIG/autostart/NAME.xml``: present (empty) when the pool autostarts;
- ``CONFIG/volumes/POOL-UUID/NAME.json``: what a volume was declared as (format, backing
  store) — the storage itself is the truth for which volumes exist. These are replaced
  atomically (rename) but not fsynced, like the image files they describe (qemu-img does not
  fsync either): a process killed at any point leaves the old declaration or the new one; after
  a power loss a lost declaration makes its volume raw (never probed), and a declaration whose
  volume was lost is dropped by the next refresh;
- ``RUN/pools/NAME.xml``: the live definition of each active pool (transient ones included);
- ``RUN/autostarted``: made when the first connection of this boot started autostart pools.

So ``qemu:///system`` and ``lxc:///system`` see the same pools, in one process or several, and a
pool survives kill -9 of the process that started it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import attrs

from virtkit.sdk.store import StateDirs, StateStore, check_name, state_dirs
from virtkit.services.storage.commands import Runner
from virtkit.xml.storage import StoragePool

POOLS = "pools"
AUTOSTART = "autostart"


@attrs.define
class Pool:
    """A pool as the state files say: its definition, live definition and flags."""

    name: str
    config: StoragePool | None  # the persistent definition
    live: StoragePool | None  # the running definition (active pools)
    autostart: bool = False

    @property
    def active(self) -> bool:
        return self.live is not None

    @property
    def persistent(self) -> bool:
        return self.config is not None

    @property
    def current(self) -> StoragePool:
        model = self.live if self.live is not None else self.config
        assert model is not None
        return model

    @property
    def uuid(self) -> str:
        return self.current.uuid or ""


class Host:
    """The state files of one instance, and parsed-XML and volume caches for this process."""

    def __init__(self, dirs: StateDirs) -> None:
        self.dirs = dirs
        self.defs = StateStore(dirs.config)
        self.meta = VolumeDeclarations(dirs.config / "volumes")
        self.live = StateStore(dirs.run)
        self.runner = Runner()
        self._parsed: dict[bytes, StoragePool] = {}
        self._parsed_lock = threading.Lock()
        self._reserved: set[str] = set()

    def locked(self) -> Any:
        """The instance's lock (threads and processes): hold it around read-check-write."""
        return self.defs.locked()

    # -- pools ----------------------------------------------------------------------------------

    def _model(self, data: bytes | None) -> StoragePool | None:
        if data is None:
            return None
        with self._parsed_lock:
            model = self._parsed.get(data)
        if model is None:
            model = StoragePool.from_xml(data)
            with self._parsed_lock:
                if len(self._parsed) > 1000:
                    self._parsed.clear()
                self._parsed[data] = model
        return model

    def names(self) -> list[str]:
        return sorted(set(self.defs.names(POOLS)) | set(self.live.names(POOLS)))

    def load(self, name: str) -> Pool | None:
        try:
            config = self._model(self.defs.read(POOLS, name))
            live = self._model(self.live.read(POOLS, name))
        except OSError:
            return None
        if config is None and live is None:
            return None
        autostart = config is not None and self.defs.read(AUTOSTART, name) is not None
        return Pool(name, config, live, autostart)

    def pools(self) -> list[Pool]:
        return [p for p in (self.load(n) for n in self.names()) if p is not None]

    def save_config(self, model: StoragePool) -> None:
        self.defs.write(POOLS, model.name, model.to_xml().encode())

    def drop_config(self, name: str) -> None:
        self.defs.delete(POOLS, name)
        self.defs.delete(AUTOSTART, name)

    def save_live(self, model: StoragePool) -> None:
        self.live.write(POOLS, model.name, model.to_xml().encode())

    def drop_live(self, name: str) -> None:
        self.live.delete(POOLS, name)

    def set_autostart(self, name: str, on: bool) -> None:
        if on:
            self.defs.write(AUTOSTART, name, b"")
        else:
            self.defs.delete(AUTOSTART, name)

    # -- volume declarations ----------------------------------------------------------------------

    def vol_meta(self, pool_uuid: str, name: str) -> dict[str, Any]:
        try:
            data = self.meta.read(pool_uuid, name)
        except OSError:
            data = None
        if not data:
            return {}
        try:
            value = json.loads(data)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def all_meta(self, pool_uuid: str) -> list[str]:
        return self.meta.names(pool_uuid)

    def save_vol_meta(self, pool_uuid: str, name: str, meta: dict[str, Any]) -> None:
        self.meta.write(pool_uuid, name, json.dumps(meta, sort_keys=True).encode())

    def drop_vol_meta(self, pool_uuid: str, name: str) -> None:
        self.meta.delete(pool_uuid, name)

    def drop_all_meta(self, pool_uuid: str) -> None:
        for name in self.meta.names(pool_uuid):
            self.meta.delete(pool_uuid, name)

    # -- volumes being made ------------------------------------------------------------------------

    def _reservation(self, pool_uuid: str, name: str) -> Path:
        return Path(self.dirs.run) / "creating" / check_name(pool_uuid, "pool uuid") / \
            check_name(name)

    def reserve(self, pool_uuid: str, name: str) -> bool:
        """Mark volume ``name`` as being made by this process (call under :meth:`locked`);
        False when a live process is making it already."""
        path = self._reservation(pool_uuid, name)
        try:
            owner = int(path.read_text() or "0")
        except (FileNotFoundError, ValueError):
            owner = 0
        if owner and owner != os.getpid() and _alive(owner):
            return False
        if owner == os.getpid() and name in self._reserved:
            return False
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(str(os.getpid()))
        self._reserved.add(name)
        return True

    def release(self, pool_uuid: str, name: str) -> None:
        self._reserved.discard(name)
        with contextlib.suppress(FileNotFoundError):
            self._reservation(pool_uuid, name).unlink()

    # -- autostart once per boot -------------------------------------------------------------------

    def first_open(self) -> bool:
        """True once per boot (per instance): the caller starts the autostart pools."""
        marker = Path(self.dirs.run) / "autostarted"
        marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        os.close(fd)
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class VolumeDeclarations:
    """``ROOT/POOL-UUID/NAME.json`` files, each replaced atomically by a rename."""

    suffix = ".json"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, pool: str, name: str) -> Path:
        return self.root / check_name(pool, "pool uuid") / (check_name(name) + self.suffix)

    def read(self, pool: str, name: str) -> bytes | None:
        try:
            return self._path(pool, name).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, pool: str, name: str, data: bytes) -> None:
        path = self._path(pool, name)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def delete(self, pool: str, name: str) -> bool:
        try:
            self._path(pool, name).unlink()
        except FileNotFoundError:
            return False
        return True

    def names(self, pool: str) -> list[str]:
        try:
            entries = os.listdir(self.root / check_name(pool, "pool uuid"))
        except FileNotFoundError:
            return []
        n = len(self.suffix)
        return sorted(e[:-n] for e in entries if e.endswith(self.suffix) and
                      not e.startswith("."))


_HOSTS: dict[tuple[Path, Path], Host] = {}
_HOSTS_LOCK = threading.Lock()


def host_for(instance: str) -> Host:
    """The shared :class:`Host` of ``instance`` in this process."""
    dirs = state_dirs("storage", instance)
    key = (dirs.config, dirs.run)
    with _HOSTS_LOCK:
        host = _HOSTS.get(key)
        if host is None:
            host = _HOSTS[key] = Host(dirs)
        return host
