"""An LVM volume group; volumes are its logical volumes (``<pool type='logical'>``, lvm2).

Build: ``pvcreate`` on each source device, then ``vgcreate``; start ``vgchange -aay``; stop
``vgchange -aan``; delete ``vgremove -f`` then ``pvremove``; info from ``vgs``; volumes from
``lvs``, made with ``lvcreate``, removed with ``lvremove``, resized with ``lvresize``. Sizes are
passed and read in bytes (``--units b --nosuffix``).
"""

from __future__ import annotations

import os
import re

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.services.storage.backends.base import Backend, NewVolume, VolEntry, VolFacts
from virtkit.services.storage.errors import bad_arg

_LV_NAME = re.compile(r"^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}$")
_REPORT = ["--noheadings", "--units", "b", "--nosuffix", "--separator", "#"]


class LogicalBackend(Backend):
    vol_type = "block"
    formats = ("raw",)

    def vg(self) -> str:
        src = self.pool.source
        return (src.name if src is not None and src.name else None) or self.name

    def devices(self) -> list[str]:
        src = self.pool.source
        return [d.path for d in src.devices] if src is not None else []

    def built(self) -> bool:
        return self.runner.run(["vgs", "--noheadings", "-o", "vg_name", self.vg()],
                               check=False).returncode == 0

    def build(self, overwrite: bool, no_overwrite: bool) -> None:
        devices = self.devices()
        if not devices:
            raise bad_arg(f"storage pool '{self.name}': building a logical pool needs "
                          f"<source><device path=...>")
        for dev in devices:
            if no_overwrite:
                found = self.runner.run(["blkid", "-p", "-o", "value", "-s", "TYPE", dev],
                                        check=False).stdout.strip()
                if found:
                    raise VirtError(
                        ErrorCode.STORAGE_POOL_BUILT,
                        f"storage pool '{self.name}': device '{dev}' already holds '{found}'",
                        ErrorDomain.STORAGE,
                    )
            argv = ["pvcreate", "-ff", "-y", dev] if overwrite else ["pvcreate", dev]
            self.runner.run(argv, what=self.what("build"))
        self.runner.run(["vgcreate", self.vg(), *devices], what=self.what("build"))

    def delete(self) -> None:
        self.runner.run(["vgremove", "-f", self.vg()], what=self.what("delete"))
        for dev in self.devices():
            self.runner.run(["pvremove", dev], what=self.what("delete"))

    def start(self) -> None:
        self.runner.run(["vgchange", "-aay", self.vg()], what=self.what("start"))

    def stop(self) -> None:
        self.runner.run(["vgchange", "-aan", self.vg()], what=self.what("stop"))

    def is_up(self) -> bool:
        return self.built()

    def info(self) -> tuple[int, int, int]:
        out = self.runner.run(["vgs", *_REPORT, "-o", "vg_size,vg_free", self.vg()],
                              what=f"cannot read storage pool '{self.name}'").stdout
        size, free = (int(x) for x in out.strip().split("#")[:2])
        return size, size - free, free

    def scan(self) -> dict[str, VolEntry]:
        out = self.runner.run(
            ["lvs", *_REPORT, "-o", "lv_name,lv_uuid,lv_size,lv_attr", self.vg()],
            what=f"cannot read storage pool '{self.name}'",
        ).stdout
        found = {}
        for line in out.splitlines():
            fields = line.strip().split("#")
            if len(fields) < 4 or fields[0].startswith("[") or fields[3][:1] in ("t", "V"):
                continue  # hidden, thin-pool and virtual volumes are not volumes
            size = int(fields[2])
            found[fields[0]] = VolEntry(f"/dev/{self.vg()}/{fields[0]}",
                                        VolFacts("block", size, size, size))
        return found

    def check_new(self, vol: NewVolume) -> None:
        if not _LV_NAME.match(vol.name) or vol.name in ("snapshot", "pvmove"):
            raise bad_arg(f"storage volume name '{vol.name}' is not a valid logical volume "
                          f"name (letters, digits, '+', '_', '.', '-')")
        if vol.capacity <= 0:
            raise bad_arg(f"storage volume '{vol.name}' needs a capacity above 0")

    def create_volume(self, vol: NewVolume) -> str:
        self.check_new(vol)
        self.runner.run(
            ["lvcreate", "--yes", "--name", vol.name, "-L", f"{vol.capacity}b", self.vg()],
            what=f"cannot create storage volume '{vol.name}'",
        )
        path = f"/dev/{self.vg()}/{vol.name}"
        if os.path.exists(path):
            if vol.mode is not None:
                os.chmod(path, vol.mode)
            if vol.owner is not None or vol.group is not None:
                os.chown(path, -1 if vol.owner is None else vol.owner,
                         -1 if vol.group is None else vol.group)
        return path

    def delete_volume(self, name: str, path: str) -> None:
        self.runner.run(["lvremove", "-f", f"{self.vg()}/{name}"],
                        what=f"cannot delete storage volume '{name}'")

    def resize_volume(
        self, name: str, path: str, fmt: str, capacity: int, allocate: bool, shrink: bool
    ) -> None:
        argv = ["lvresize", "-L", f"{capacity}b", f"{self.vg()}/{name}"]
        if shrink:
            argv.insert(1, "-f")
        self.runner.run(argv, what=f"cannot resize storage volume '{name}'")


