"""Where the driver keeps what: definitions, status records, sockets, logs, caches, images.

``qemu:///system``: definitions under ``/var/lib/virtkit/qemu``, status and sockets under
``/run/virtkit/qemu``, logs under ``/var/log/virtkit/qemu``, the capability cache under
``/var/cache/virtkit/qemu``. ``qemu:///session``: the user's XDG directories
(``$XDG_CONFIG_HOME/virtkit/qemu``, ``$XDG_RUNTIME_DIR/virtkit/qemu``,
``$XDG_CACHE_HOME/virtkit/qemu/{log,capabilities}``). ``VIRTKIT_STATE_ROOT`` moves all of them
under one directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs

from virtkit.sdk.store import StateDirs


@attrs.frozen
class Paths:
    config: Path  # definitions, autostart marks, snapshot metadata, managed-save images
    run: Path  # status records, per-guest socket directories
    log: Path
    cache: Path

    @classmethod
    def for_instance(cls, dirs: StateDirs, instance: str) -> Paths:
        root = os.environ.get("VIRTKIT_STATE_ROOT")
        if root:
            base = Path(root) / instance / "qemu"
            return cls(dirs.config, dirs.run, base / "log", Path(root) / "cache" / "qemu")
        if instance == "system":
            return cls(dirs.config, dirs.run, Path("/var/log/virtkit/qemu"),
                       Path("/var/cache/virtkit/qemu"))
        home = os.path.expanduser("~")
        cache = Path(os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache"))
        return cls(dirs.config, dirs.run, cache / "virtkit" / "qemu" / "log",
                   cache / "virtkit" / "qemu")

    def make(self) -> None:
        for d in (self.config, self.run, self.log, self.cache, self.save_dir):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)

    @property
    def save_dir(self) -> Path:
        return self.config / "save"

    def managed_save(self, name: str) -> Path:
        return self.save_dir / f"{name}.save"

    def guest_dir(self, uuid: str) -> Path:
        """The guest's private socket directory (0700): short, so socket paths fit 108 bytes."""
        return self.run / "g" / uuid.replace("-", "")[:16]

    def snapshot_dir(self, uuid: str) -> Path:
        return self.config / "snapshot-state" / uuid

    def log_file(self, name: str) -> Path:
        return self.log / f"{name}.log"
