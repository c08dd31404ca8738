"""A whole disk (or loop device) with a partition table; volumes are its partitions
(``<pool type='disk'>``, with parted, sfdisk and wipefs).

Build writes an empty ``dos`` (msdos) or ``gpt`` table (``<source><format type=...>``); a disk
that has a table already is refused unless ``overwrite``. On a gpt disk a volume's name is its
partition's name; on a dos disk partitions have no names, so a volume is named after its device
node (``sdb1``, ``loop0p1``) and a new volume must take the next free one. Partitions start on
1 MiB boundaries; capacity is the partition's size.
"""

from __future__ import annotations

import json
import os
import re
import time

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.services.storage.backends.base import (
    Backend,
    NewVolume,
    VolEntry,
    VolFacts,
    device_size,
)
from virtkit.services.storage.errors import bad_arg, failed

ALIGN = 1024 * 1024
_GPT_NAME = re.compile(r"^[A-Za-z0-9._+-]{1,36}$")


class DiskBackend(Backend):
    vol_type = "block"
    formats = ("raw",)

    def device(self) -> str:
        src = self.pool.source
        if src is None or not src.devices:
            raise bad_arg(f"storage pool '{self.name}' needs a <source><device path=...>")
        return src.devices[0].path

    def label(self) -> str:
        src = self.pool.source
        fmt = src.format.type if src is not None and src.format is not None else "dos"
        if fmt not in ("dos", "gpt"):
            raise bad_arg(f"storage pool '{self.name}': partition table format '{fmt}' is not "
                          f"supported (dos or gpt)")
        return fmt

    # -- the table ------------------------------------------------------------------------------

    def _table(self) -> dict[str, object] | None:
        result = self.runner.run(["sfdisk", "--json", self.device()], check=False)
        if result.returncode != 0 or not result.stdout.strip():
            return None
        try:
            table = json.loads(result.stdout)["partitiontable"]
        except (ValueError, KeyError):
            return None
        return table if isinstance(table, dict) else None

    def _partitions(self) -> tuple[str, int, list[dict[str, object]]]:
        table = self._table()
        if table is None:
            raise failed(f"storage pool '{self.name}': device '{self.device()}' has no "
                         f"partition table (build the pool)")
        sector = int(table.get("sectorsize", 512))  # type: ignore[call-overload]
        parts = table.get("partitions") or []
        return str(table.get("label", "")), sector, list(parts)  # type: ignore[call-overload]

    def _free(self) -> list[tuple[int, int]]:
        """Free extents (start, end inclusive) in bytes, from parted."""
        out = self.runner.run(
            ["parted", "-m", "-s", self.device(), "unit", "B", "print", "free"],
            what=f"cannot read storage pool '{self.name}'",
        ).stdout
        free = []
        for line in out.splitlines():
            fields = line.rstrip(";").split(":")
            if len(fields) >= 5 and fields[4] == "free":
                free.append((int(fields[1].rstrip("B")), int(fields[2].rstrip("B"))))
        return free

    @staticmethod
    def _number(node: str) -> int:
        m = re.search(r"(\d+)$", node)
        return int(m.group(1)) if m else 0

    def _node(self, number: int) -> str:
        dev = self.device()
        sep = "p" if dev[-1].isdigit() else ""
        return f"{dev}{sep}{number}"

    def _vol_name(self, label: str, part: dict[str, object]) -> str:
        name = part.get("name")
        if label == "gpt" and isinstance(name, str) and name:
            return name
        return os.path.basename(str(part["node"]))

    # -- the pool -------------------------------------------------------------------------------

    def built(self) -> bool:
        return self._table() is not None

    def build(self, overwrite: bool, no_overwrite: bool) -> None:
        device = self.device()
        if not os.path.exists(device):
            raise failed(f"{self.what('build')}: device '{device}' does not exist")
        if self._table() is not None and not overwrite:
            raise VirtError(
                ErrorCode.STORAGE_POOL_BUILT,
                f"storage pool '{self.name}': device '{device}' already has a partition table "
                f"(build with overwrite to replace it)",
                ErrorDomain.STORAGE,
            )
        label = "msdos" if self.label() == "dos" else "gpt"
        self.runner.run(["parted", "-s", device, "mklabel", label], what=self.what("build"))

    def delete(self) -> None:
        self.runner.run(["wipefs", "-a", self.device()], what=self.what("delete"))

    def start(self) -> None:
        if not os.path.exists(self.device()):
            raise failed(f"{self.what('start')}: device '{self.device()}' does not exist")
        self._partitions()

    def is_up(self) -> bool:
        return os.path.exists(self.device())

    def info(self) -> tuple[int, int, int]:
        _, sector, parts = self._partitions()
        capacity = device_size(self.device())
        allocation = sum(int(p["size"]) * sector for p in parts)  # type: ignore[call-overload]
        available = sum(max(0, _aligned_len(s, e)) for s, e in self._free())
        return capacity, allocation, available

    # -- volumes --------------------------------------------------------------------------------

    def scan(self) -> dict[str, VolEntry]:
        label, sector, parts = self._partitions()
        found = {}
        for p in parts:
            size = int(p["size"]) * sector  # type: ignore[call-overload]
            found[self._vol_name(label, p)] = VolEntry(
                str(p["node"]), VolFacts("block", size, size, size)
            )
        return found

    def check_new(self, vol: NewVolume) -> None:
        if vol.capacity <= 0:
            raise bad_arg(f"storage volume '{vol.name}' needs a capacity above 0")
        if self.label() == "gpt" and not _GPT_NAME.match(vol.name):
            raise bad_arg(f"storage volume name '{vol.name}' cannot be a gpt partition "
                          f"name (letters, digits, '.', '_', '+', '-', at most 36)")

    def create_volume(self, vol: NewVolume) -> str:
        self.check_new(vol)
        label, _, parts = self._partitions()
        used = {self._number(str(p["node"])) for p in parts}
        if label == "dos":
            free_numbers = [n for n in range(1, 5) if n not in used]
            if not free_numbers:
                raise failed(f"storage pool '{self.name}': its dos partition table has no "
                             f"free primary partition for volume '{vol.name}'")
            expected = os.path.basename(self._node(free_numbers[0]))
            if vol.name != expected:
                raise bad_arg(
                    f"volumes of disk pool '{self.name}' (a dos partition table) are named "
                    f"after their partition: the next one is '{expected}', not '{vol.name}'"
                )
            part_name = "primary"
        else:
            if not _GPT_NAME.match(vol.name):
                raise bad_arg(f"storage volume name '{vol.name}' cannot be a gpt partition "
                              f"name (letters, digits, '.', '_', '+', '-', at most 36)")
            part_name = vol.name
        if vol.capacity <= 0:
            raise bad_arg(f"storage volume '{vol.name}' needs a capacity above 0")
        size = -(-vol.capacity // ALIGN) * ALIGN
        start = None
        for s, e in self._free():
            a = -(-s // ALIGN) * ALIGN
            if a + size - 1 <= e:
                start = a
                break
        if start is None:
            raise failed(f"not enough free space in storage pool '{self.name}' for volume "
                         f"'{vol.name}': no free extent of {size} bytes")
        self.runner.run(
            ["parted", "-s", "-a", "none", self.device(), "unit", "B", "mkpart", part_name,
             str(start), str(start + size - 1)],
            what=f"cannot create storage volume '{vol.name}'",
        )
        _, sector, parts = self._partitions()
        node = next((str(p["node"]) for p in parts
                     if int(p["start"]) * sector == start), None)  # type: ignore[call-overload]
        if node is None:
            raise failed(f"storage volume '{vol.name}': the new partition is not in the table")
        self._wait_node(node)
        if vol.mode is not None:
            os.chmod(node, vol.mode)
        if vol.owner is not None or vol.group is not None:
            os.chown(node, -1 if vol.owner is None else vol.owner,
                     -1 if vol.group is None else vol.group)
        return node

    def _wait_node(self, node: str) -> None:
        deadline = time.monotonic() + 10
        while not os.path.exists(node):
            if time.monotonic() > deadline:
                self.runner.run(["partx", "-u", self.device()], check=False)
                if os.path.exists(node):
                    return
                raise failed(f"storage pool '{self.name}': partition node '{node}' did not "
                             f"appear")
            time.sleep(0.05)

    def delete_volume(self, name: str, path: str) -> None:
        number = self._number(path)
        self.runner.run(["parted", "-s", self.device(), "rm", str(number)],
                        what=f"cannot delete storage volume '{name}'")

    def resize_volume(
        self, name: str, path: str, fmt: str, capacity: int, allocate: bool, shrink: bool
    ) -> None:
        if shrink:
            raise bad_arg(f"partition volume '{name}' of storage pool '{self.name}' cannot be "
                          f"shrunk safely")
        _, sector, parts = self._partitions()
        part = next((p for p in parts if str(p["node"]) == path), None)
        if part is None:
            raise failed(f"storage volume '{name}' is not in the partition table")
        start = int(part["start"]) * sector  # type: ignore[call-overload]
        end = start + int(part["size"]) * sector  # type: ignore[call-overload]
        size = -(-capacity // ALIGN) * ALIGN
        room = next((e + 1 - s for s, e in self._free() if s == end), 0)
        if start + size > end + room:
            raise failed(
                f"not enough free space after partition volume '{name}' in storage pool "
                f"'{self.name}' to grow it to {size} bytes ({room} bytes follow it)"
            )
        self.runner.run(
            ["parted", "-s", self.device(), "unit", "B", "resizepart", str(self._number(path)),
             str(start + size - 1)],
            what=f"cannot resize storage volume '{name}'",
        )


def _aligned_len(start: int, end: int) -> int:
    a = -(-start // ALIGN) * ALIGN
    return (end + 1 - a) // ALIGN * ALIGN
