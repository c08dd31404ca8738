"""What the network service keeps on disk: definitions, autostart marks and runtime status.

Definitions (``<network>`` XML) live in the instance's config directory, the status of each active
network (its live XML and every host object its start made: bridge, addresses, routes, nftables
table, dnsmasq pid, ports) as JSON in the run directory. Each file is written atomically through
the SDK's :class:`~virtkit.sdk.store.StateStore`, so a process killed at any point leaves a
status that the next process can act on. Parsed files are cached by (inode, mtime) so that a
listing of many networks reads no file twice.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import attrs

from virtkit.sdk.store import StateStore, check_name
from virtkit.xml.network import Network

#: A directory whose mtime is older than this (ns) has settled: a later change gets a new mtime
#: even with the kernel's coarse file timestamps.
SETTLED_NS = 100_000_000
NETWORKS = "networks"
AUTOSTART = "autostart"
INTERFACES = "interfaces"


@attrs.define
class Status:
    """A started (or starting) network and everything its start made on the host."""

    name: str
    uuid: str
    xml: str
    persistent: bool
    state: str = "starting"  # "starting" until every step is done, then "active"
    bridge: str = ""
    made_bridge: bool = False
    addresses: list[list[Any]] = attrs.field(factory=list)  # [address, prefix]
    routes: list[list[str]] = attrs.field(factory=list)  # [destination, gateway]
    table: str = ""
    dnsmasq_pid: int = 0
    started_at: int = 0
    ports: dict[str, dict[str, Any]] = attrs.field(factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(attrs.asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Status:
        return cls(**json.loads(data))


class Files:
    """The service's stores for one instance, with a parse cache."""

    def __init__(self, config: Path, run: Path) -> None:
        self.config = StateStore(config)
        self.status = StateStore(run, suffix=".json")
        self.run_dir = Path(run)
        self.dnsmasq_dir = Path(run) / "dnsmasq"
        self._defs = str(Path(config) / NETWORKS)
        self._auto = str(Path(config) / AUTOSTART)
        self._stats = str(Path(run) / NETWORKS)
        self._cache: dict[str, tuple[tuple[int, int], Any]] = {}
        self._dirs: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}
        self._listing: tuple[tuple[int, int, int], list[Any]] | None = None

    def _cached(self, path: str, parse: Any, st: os.stat_result | None = None) -> Any:
        if st is None:
            try:
                st = os.stat(path)
            except FileNotFoundError:
                self._cache.pop(path, None)
                return None
        key = (st.st_ino, st.st_mtime_ns)
        hit = self._cache.get(path)
        if hit is not None and hit[0] == key:
            return hit[1]
        with open(path, "rb") as f:
            value = parse(f.read())
        self._cache[path] = (key, value)
        return value

    # -- definitions ---------------------------------------------------------------------------

    def definition(self, name: str) -> Network | None:
        check_name(name)
        return self._cached(f"{self._defs}/{name}.xml", _parse_network)  # type: ignore[no-any-return]

    def write_definition(self, net: Network) -> None:
        self.config.write(NETWORKS, net.name, net.to_xml().encode())

    def delete_definition(self, name: str) -> None:
        self.config.delete(NETWORKS, name)
        self.config.delete(AUTOSTART, name)

    def autostart(self, name: str) -> bool:
        check_name(name)
        return os.path.exists(f"{self._auto}/{name}.xml")

    def set_autostart(self, name: str, on: bool) -> None:
        if on:
            self.config.write(AUTOSTART, name, b"")
        else:
            self.config.delete(AUTOSTART, name)

    # -- status --------------------------------------------------------------------------------

    def status_of(self, name: str) -> Status | None:
        """The status of ``name`` (a fresh copy the caller may change and write back)."""
        check_name(name)
        data = self._cached(f"{self._stats}/{name}.json", _parse_status)
        return None if data is None else Status.from_json(data[0])

    def write_status(self, st: Status) -> None:
        self.status.write(NETWORKS, st.name, st.to_json())

    def delete_status(self, name: str) -> None:
        self.status.delete(NETWORKS, name)

    def names(self) -> list[str]:
        return sorted(set(self.config.names(NETWORKS)) | set(self.status.names(NETWORKS)))

    def listing(self) -> list[tuple[str, Network | None, Status | None, bool]]:
        """Every network: name, definition, status (shared: do not change it), autostart.

        Every write renames a file into its directory, which changes the directory's mtime, so
        an unchanged directory (older than :data:`SETTLED_NS`, against coarse timestamps) is
        not scanned again."""
        defs = self._dir(self._defs, ".xml", _parse_network)
        stats = self._dir(self._stats, ".json", _parse_status)
        auto = self._dir(self._auto, ".xml", None)
        if self._listing is not None and self._listing[0] == (id(defs), id(stats), id(auto)):
            return self._listing[1]
        out = []
        for name in sorted(defs.keys() | stats.keys()):
            data = stats.get(name)
            out.append((name, defs.get(name), None if data is None else data[1], name in auto))
        self._listing = ((id(defs), id(stats), id(auto)), out)
        return out

    def _dir(self, directory: str, suffix: str, parse: Any) -> dict[str, Any]:
        try:
            st = os.stat(directory)
        except FileNotFoundError:
            return _EMPTY
        key = (st.st_ino, st.st_mtime_ns)
        hit = self._dirs.get(directory)
        if hit is not None and hit[0] == key:
            return hit[1]
        entries = _scan(directory, suffix)
        values = {
            name: self._cached(e.path, parse, e.stat()) if parse is not None else True
            for name, e in entries.items()
        }
        if time.time_ns() - st.st_mtime_ns > SETTLED_NS:
            self._dirs[directory] = (key, values)
        else:
            self._dirs.pop(directory, None)
        return values


_EMPTY: dict[str, Any] = {}


def _scan(directory: str, suffix: str) -> dict[str, os.DirEntry[str]]:
    n = len(suffix)
    try:
        with os.scandir(directory) as it:
            return {e.name[:-n]: e for e in it if e.name.endswith(suffix)
                    and not e.name.startswith(".")}
    except FileNotFoundError:
        return {}


def _parse_status(data: bytes) -> tuple[bytes, Status]:
    return data, Status.from_json(data)


def _parse_network(data: bytes) -> Network:
    return Network.from_xml(data)
