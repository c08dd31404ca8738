"""Migration between two test hosts in one process, through libvirt's five phases.

The destination's prepare registers an incoming slot under a random token and answers a URI
naming it; the source's perform hands the guest's memory to that slot; finish creates the guest
on the destination; confirm ends (or, when cancelled, resumes) it on the source. A failure in any
phase leaves the guest running on exactly one host.
"""

from __future__ import annotations

import secrets
import threading
from typing import TYPE_CHECKING, Any

import attrs

from virtkit.drivers.test.domxml import DomainDef, from_model, parse_domain
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef, JobInfo
from virtkit.sdk.states import Op, transition

if TYPE_CHECKING:
    from virtkit.drivers.test.node import TestDomain, TestNode
    from virtkit.sdk.states import Transition

SCHEME = "test-migrate:"


@attrs.define
class Incoming:
    node: TestNode
    definition: DomainDef
    memory: int | None = None
    paused: bool = False


_INCOMING: dict[str, Incoming] = {}
_LOCK = threading.Lock()


def _failed(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_FAILED, f"migration failed: {message}", ErrorDomain.TEST)


def _incoming(token: str) -> Incoming:
    with _LOCK:
        slot = _INCOMING.get(token)
    if slot is None:
        raise _failed(f"no incoming migration '{token}' is prepared")
    return slot


class MigrationMixin:
    """The five migration hooks of the test driver."""

    if TYPE_CHECKING:

        @property
        def _node(self) -> TestNode: ...

        def _apply(self, dom: TestDomain, t: Transition) -> None: ...
        def _check_unique(self, new: DomainDef) -> TestDomain | None: ...
        def _place(self, definition: DomainDef, existing: TestDomain | None) -> TestDomain: ...
        def _precopy(self, ref: DomainRef, params: dict[str, Any]) -> None: ...

    @hookimpl
    def virtkit_migrate_begin(
        self, dom: DomainRef, xml: str | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        with self._node.lock:
            d = self._node.find(dom)
            if not d.status.active and not params.get("offline"):
                raise VirtError(ErrorCode.OPERATION_INVALID,
                                f"domain '{d.name}' is not running (use offline migration)",
                                ErrorDomain.TEST)
            definition = d.current if xml is None else parse_domain(xml)
            if definition.uuid != d.uuid:
                raise VirtError(ErrorCode.INVALID_ARG,
                                f"invalid argument: the XML for migrating '{d.name}' names "
                                f"another domain", ErrorDomain.TEST)
            return {"xml": definition.xml, "cookie": {"source": id(self._node)}}

    @hookimpl
    def virtkit_migrate_prepare(
        self, xml: str, cookie: dict[str, Any], params: dict[str, Any]
    ) -> dict[str, Any]:
        if cookie.get("source") == id(self._node):
            raise VirtError(ErrorCode.OPERATION_INVALID,
                            "operation invalid: attempt to migrate a guest to the same host",
                            ErrorDomain.TEST)
        definition = parse_domain(xml)
        if params.get("dname"):
            definition = from_model(attrs.evolve(definition.model, name=params["dname"]))
        with self._node.lock:
            existing = self._check_unique(definition)
            if existing is not None and existing.status.active:
                raise _failed(f"domain '{definition.name}' is already active on the destination")
        token = secrets.token_hex(8)
        with _LOCK:
            _INCOMING[token] = Incoming(self._node, definition)
        return {"uri": SCHEME + token, "cookie": {"token": token}}

    @hookimpl
    def virtkit_migrate_perform(
        self, dom: DomainRef, uri: str, cookie: dict[str, Any], params: dict[str, Any]
    ) -> dict[str, Any]:
        if not uri.startswith(SCHEME):
            raise _failed(f"the test driver cannot send a guest to '{uri}'")
        slot = _incoming(uri[len(SCHEME):])
        self._precopy(dom, params)
        with self._node.lock:
            d = self._node.find(dom)
            if d.status.active:
                paused = d.status.state.name == "PAUSED"
                self._apply(d, transition(Op.MIGRATE_PAUSE, d.name, d.status))
                slot.memory, slot.paused = d.memory, paused
        return {"cookie": {"token": uri[len(SCHEME):]}}

    @hookimpl
    def virtkit_migrate_finish(
        self, name: str, cookie: dict[str, Any], params: dict[str, Any], cancelled: bool
    ) -> DomainRef | None:
        token = cookie.get("token", "")
        slot = _incoming(token)
        with _LOCK:
            _INCOMING.pop(token, None)
        if cancelled:
            return None
        node = self._node
        with node.lock:
            existing = self._check_unique(slot.definition)
            if slot.memory is None:  # offline: only the definition moves
                t = transition(Op.DEFINE, slot.definition.name,
                               None if existing is None else existing.status)
                d = self._place(slot.definition, existing)
                d.definition = slot.definition
                self._apply(d, t)
                return d.ref
            t = transition(Op.MIGRATE_IN, slot.definition.name,
                           None if existing is None else existing.status, paused=slot.paused)
            d = self._place(slot.definition, existing)
            self._apply(d, t)
            d.live, d.memory = slot.definition, slot.memory
            if params.get("persistent"):
                d.definition = slot.definition
                self._apply(d, transition(Op.DEFINE, d.name, d.status))
            d.last_job = JobInfo(3, operation="migration in")
            return d.ref

    @hookimpl
    def virtkit_migrate_confirm(
        self, dom: DomainRef, cookie: dict[str, Any], params: dict[str, Any], cancelled: bool
    ) -> bool:
        with self._node.lock:
            d = self._node.find(dom)
            if cancelled:
                self._apply(d, transition(Op.MIGRATE_CANCEL, d.name, d.status))
                return True
            if d.status.active:
                self._apply(d, transition(Op.MIGRATE_OUT, d.name, d.status))
            if params.get("undefine_source") and d.uuid in self._node.domains and (
                d.status.persistent
            ):
                self._apply(d, transition(Op.UNDEFINE, d.name, d.status))
            d.last_job = JobInfo(3, operation="migration out")
            return True
