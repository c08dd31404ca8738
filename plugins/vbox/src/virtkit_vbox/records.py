"""What the driver remembers of each VirtualBox machine that VirtualBox does not: the libvirt
state and reason, the domain id, whether the domain is transient, the live vcpu count, and the
snapshots' libvirt metadata. Kept in the driver's state store as one JSON file per machine uuid,
so every connection and process sees the same.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from virtkit.sdk.states import DomainState, DomainStatus
from virtkit.sdk.store import StateStore

KIND = "machines"


@attrs.define
class MachineRecord:
    uuid: str
    name: str
    state: int = int(DomainState.SHUTOFF)
    reason: int = 0
    persistent: bool = True
    managed_save: bool = False
    id: int = -1
    live_vcpus: int | None = None
    snapshots: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    #: the machine's ``virtkit/`` extra data as last written (None: not read yet)
    extradata: dict[str, str] | None = None
    #: a definition given while the machine ran, applied when it stops
    pending_xml: str | None = None
    #: bumped on every save: a reader that queried VirtualBox before a writer's change sees it
    gen: int = 0

    @property
    def status(self) -> DomainStatus:
        return DomainStatus(DomainState(self.state), self.reason, self.persistent,
                            self.managed_save)

    def set_status(self, status: DomainStatus) -> None:
        self.state = int(status.state)
        self.reason = int(status.reason)
        self.persistent = status.persistent
        self.managed_save = status.has_managed_save


def load(store: StateStore, uuid: str) -> MachineRecord | None:
    raw = store.read(KIND, uuid)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return MachineRecord(**data)
    except (ValueError, TypeError):
        return None  # a damaged record: rebuilt from VirtualBox's state


def save(store: StateStore, rec: MachineRecord) -> None:
    rec.gen += 1
    store.write(KIND, rec.uuid, json.dumps(attrs.asdict(rec)).encode())


def delete(store: StateStore, uuid: str) -> None:
    store.delete(KIND, uuid)


def next_id(store: StateStore) -> int:
    """A domain id no other domain of this store holds (ids only grow)."""
    raw = store.read("counters", "ids")
    n = 1
    if raw is not None:
        try:
            n = int(json.loads(raw)["next"])
        except (ValueError, KeyError, TypeError):
            n = 1
    store.write("counters", "ids", json.dumps({"next": n + 1}).encode())
    return n
