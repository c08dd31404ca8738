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
from pathlib import Path
from typing import Any

import attrs

from virtkit.sdk.store import StateStore
from virtkit.xml.network import Network

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
        self._cache: dict[Path, tuple[tuple[int, int], Any]] = {}

    def _cached(self, path: Path, parse: Any) -> Any:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self._cache.pop(path, None)
            return None
        key = (st.st_ino, st.st_mtime_ns)
        hit = self._cache.get(path)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = parse(path.read_bytes())
        self._cache[path] = (key, value)
        return value

    # -- definitions ---------------------------------------------------------------------------

    def definition(self, name: str) -> Network | None:
        return self._cached(self.config._path(NETWORKS, name), _parse_network)  # type: ignore[no-any-return]

    def write_definition(self, net: Network) -> None:
        self.config.write(NETWORKS, net.name, net.to_xml().encode())

    def delete_definition(self, name: str) -> None:
        self.config.delete(NETWORKS, name)
        self.config.delete(AUTOSTART, name)

    def autostart(self, name: str) -> bool:
        return self.config._path(AUTOSTART, name).exists()

    def set_autostart(self, name: str, on: bool) -> None:
        if on:
            self.config.write(AUTOSTART, name, b"")
        else:
            self.config.delete(AUTOSTART, name)

    # -- status --------------------------------------------------------------------------------

    def status_of(self, name: str) -> Status | None:
        data = self._cached(self.status._path(NETWORKS, name), lambda b: b)
        return None if data is None else Status.from_json(data)

    def write_status(self, st: Status) -> None:
        self.status.write(NETWORKS, st.name, st.to_json())

    def delete_status(self, name: str) -> None:
        self.status.delete(NETWORKS, name)

    def names(self) -> list[str]:
        return sorted(set(self.config.names(NETWORKS)) | set(self.status.names(NETWORKS)))


def _parse_network(data: bytes) -> Network:
    return Network.from_xml(data)
