"""Snapshots of test-driver domains: a tree of saved definitions and states, with a current one."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import attrs

from virtkit.drivers.test.domxml import DomainDef, from_model
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef, SnapshotRef, SnapshotSummary
from virtkit.sdk.states import DomainState, Op, transition
from virtkit.xml.snapshot import DomainSnapshot, SnapshotParent

if TYPE_CHECKING:
    from virtkit.drivers.test.node import TestDomain, TestNode
    from virtkit.sdk.states import Transition

_STATE_NAMES = {
    DomainState.RUNNING: "running",
    DomainState.BLOCKED: "blocked",
    DomainState.PAUSED: "paused",
    DomainState.SHUTDOWN: "shutdown",
    DomainState.SHUTOFF: "shutoff",
    DomainState.CRASHED: "crashed",
    DomainState.PMSUSPENDED: "pmsuspended",
    DomainState.NOSTATE: "nostate",
}


@attrs.define
class Snapshot:
    name: str
    parent: str | None
    state: str
    creation_time: int
    description: str | None
    definition: DomainDef
    memory: int


def no_snapshot(name: str) -> VirtError:
    return VirtError(
        ErrorCode.NO_DOMAIN_SNAPSHOT,
        f"Domain snapshot not found: no domain snapshot with matching name '{name}'",
        ErrorDomain.TEST,
    )


def _find(dom: TestDomain, name: str) -> Snapshot:
    snap: Snapshot | None = dom.snapshots.get(name)
    if snap is None:
        raise no_snapshot(name)
    return snap


def _children(dom: TestDomain, name: str) -> list[str]:
    return [s.name for s in dom.snapshots.values() if s.parent == name]


def _descendants(dom: TestDomain, name: str) -> list[str]:
    out: list[str] = []
    todo = _children(dom, name)
    while todo:
        child = todo.pop(0)
        out.append(child)
        todo.extend(_children(dom, child))
    return out


class SnapshotMixin:
    """Snapshot hooks of :class:`~virtkit.drivers.test.driver.TestDriver`."""

    if TYPE_CHECKING:

        @property
        def _node(self) -> TestNode: ...

        def _apply(self, dom: TestDomain, t: Transition) -> None: ...

    @hookimpl
    def virtkit_snapshot_create_xml(
        self, dom: DomainRef, xml: str, redefine: bool
    ) -> str:
        doc = DomainSnapshot.from_xml(xml)
        node = self._node
        with node.lock:
            d = node.find(dom)
            name = doc.name or str(int(time.time()))
            while doc.name is None and name in d.snapshots:
                name = str(int(name) + 1)
            if name in d.snapshots and not redefine:
                raise VirtError(
                    ErrorCode.OPERATION_INVALID,
                    f"domain snapshot '{name}' already exists for domain '{d.name}'",
                    ErrorDomain.TEST,
                )
            if redefine:
                if doc.domain is None:
                    raise VirtError(ErrorCode.INVALID_ARG,
                                    f"invalid argument: redefining snapshot '{name}' needs its "
                                    f"<domain> element", ErrorDomain.TEST)
                definition = from_model(doc.domain)
                parent = doc.parent.name if doc.parent is not None else None
                if parent is not None and parent not in d.snapshots:
                    raise no_snapshot(parent)
                state = doc.state or "shutoff"
                created = doc.creation_time or int(time.time())
            else:
                definition = d.current
                parent = d.current_snapshot
                state = _STATE_NAMES[d.status.state]
                created = int(time.time())
            d.snapshots[name] = Snapshot(
                name, parent, state, created, doc.description, definition, d.memory
            )
            d.current_snapshot = name
            return name

    @hookimpl
    def virtkit_snapshot_list(self, dom: DomainRef) -> list[SnapshotSummary]:
        node = self._node
        with node.lock:
            d = node.find(dom)
            return [
                SnapshotSummary(
                    SnapshotRef(d.ref, s.name), s.parent, s.state, s.creation_time,
                    s.name == d.current_snapshot, len(_children(d, s.name)),
                )
                for s in d.snapshots.values()
            ]

    @hookimpl
    def virtkit_snapshot_get_xml(self, dom: DomainRef, name: str, security_info: bool) -> str:
        node = self._node
        with node.lock:
            snap = _find(node.find(dom), name)
            doc = DomainSnapshot(
                name=snap.name,
                description=snap.description,
                state=snap.state,
                parent=None if snap.parent is None else SnapshotParent(name=snap.parent),
                creation_time=snap.creation_time,
                domain=snap.definition.model if security_info
                else snap.definition.model.without_secrets(),
            )
            return doc.to_xml()

    @hookimpl
    def virtkit_snapshot_current(self, dom: DomainRef) -> str:
        node = self._node
        with node.lock:
            d = node.find(dom)
            if d.current_snapshot is None:
                raise VirtError(
                    ErrorCode.NO_DOMAIN_SNAPSHOT,
                    f"Domain snapshot not found: domain '{d.name}' has no current snapshot",
                    ErrorDomain.TEST,
                )
            return d.current_snapshot

    @hookimpl
    def virtkit_snapshot_revert(
        self, dom: DomainRef, name: str, running: bool, paused: bool
    ) -> bool:
        node = self._node
        with node.lock:
            d = node.find(dom)
            snap = _find(d, name)
            if running and paused:
                raise VirtError(ErrorCode.INVALID_ARG,
                                "invalid argument: running and paused are mutually exclusive",
                                ErrorDomain.TEST)
            target = snap.state
            if running:
                target = "running"
            elif paused:
                target = "paused"
            op = {"running": Op.REVERT_RUNNING, "paused": Op.REVERT_PAUSED}.get(
                target, Op.REVERT_SHUTOFF
            )
            t = transition(op, d.name, d.status)
            if d.status.persistent:
                d.definition = snap.definition
            was_active = d.status.active
            self._apply(d, t)
            if t.status is not None and t.status.active:
                d.live = snap.definition
                d.memory = snap.memory if was_active or snap.memory else d.memory
            if t.status is not None:
                d.current_snapshot = name
            return True

    @hookimpl
    def virtkit_snapshot_delete(
        self, dom: DomainRef, name: str, children: bool, children_only: bool,
        metadata_only: bool,
    ) -> bool:
        node = self._node
        with node.lock:
            d = node.find(dom)
            snap = _find(d, name)
            doomed = _descendants(d, name) if (children or children_only) else []
            if not children_only:
                doomed.append(name)
                for child in _children(d, name):
                    if child not in doomed:
                        d.snapshots[child].parent = snap.parent
            for gone in doomed:
                del d.snapshots[gone]
            if d.current_snapshot in doomed:
                d.current_snapshot = name if children_only else snap.parent
            return True
