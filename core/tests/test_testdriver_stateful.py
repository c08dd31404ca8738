"""A hypothesis state machine drives random operation sequences against the test driver and
checks state, reason, events and error codes after each step against a reference model written
from REFERENCE.md's table (independently of virtkit.states)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import virtkit
from virtkit.drivers.test.node import reset_default_node
from virtkit.sdk.errors import ErrorCode, VirtError

# states and reasons (libvirt numbers)
RUNNING, PAUSED, SHUTOFF = 1, 3, 5
BOOTED, RESTORED, UNPAUSED = 1, 3, 5
USER = 1
SHUTDOWN_R, DESTROYED, SAVED = 1, 2, 5
# events (type, detail)
DEFINED_ADDED, DEFINED_UPDATED, UNDEFINED = (0, 0), (0, 1), (1, 0)
STARTED_BOOTED, STARTED_RESTORED = (2, 0), (2, 2)
SUSPENDED_PAUSED, RESUMED_UNPAUSED = (3, 0), (4, 0)
STOPPED_SHUTDOWN, STOPPED_DESTROYED, STOPPED_SAVED = (5, 0), (5, 1), (5, 4)
SHUTDOWN_FINISHED = (6, 0)

NAMES = st.sampled_from(["a", "b", "c"])


@attrs.define
class Ref:
    state: int
    reason: int
    persistent: bool
    managed_save: bool = False
    uuid: str = ""
    saved_paused: bool = False  # the managed-save image was taken of a paused guest


def xml(name: str) -> str:
    return (f"<domain type='test'><name>{name}</name><memory>1024</memory>"
            f"<os><type>hvm</type></os></domain>")


class LifecycleMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        reset_default_node()
        self.conn = virtkit.open("test:///default")
        self.conn.lookup_by_name("test").destroy()
        self.conn.lookup_by_name("test").undefine()
        self.events: list[tuple[str, int, int]] = []
        self.conn.event_register(
            "domain-lifecycle", lambda ev: self.events.append((ev.obj.name, ev.event, ev.detail))
        )
        self.conn.events.wait_idle()
        self.events.clear()
        self.model: dict[str, Ref] = {}
        self.saved: dict[str, tuple[Path, str]] = {}
        self.tmp = Path(tempfile.mkdtemp(prefix="vk-sm-"))
        self.expected: list[tuple[str, int, int]] = []
        self.expected_error: ErrorCode | None = None

    def teardown(self) -> None:
        self.conn.close()

    # -- helpers ------------------------------------------------------------------------------

    def _do(self, fn, error: ErrorCode | None) -> None:  # type: ignore[no-untyped-def]
        try:
            fn()
        except VirtError as exc:
            assert error is not None, f"unexpected {exc!r}"
            assert exc.code == error, f"expected {error.name}, got {exc!r}"
        else:
            assert error is None, f"expected {error.name}, but it succeeded"

    def _dom(self, name: str):  # type: ignore[no-untyped-def]
        return self.conn.lookup_by_name(name)

    def _emit(self, name: str, *events: tuple[int, int]) -> None:
        self.expected += [(name, e, d) for e, d in events]

    def _stop(self, name: str, reason: int, event: tuple[int, int]) -> None:
        ref = self.model[name]
        if ref.persistent:
            ref.state, ref.reason = SHUTOFF, reason
        else:
            del self.model[name]
        self._emit(name, event)

    # -- rules --------------------------------------------------------------------------------

    @rule(name=NAMES)
    def define(self, name: str) -> None:
        ref = self.model.get(name)
        uuid = None if ref is None else self._dom(name).uuid
        body = xml(name) if uuid is None else xml(name).replace(
            "</name>", f"</name><uuid>{uuid}</uuid>")
        self._do(lambda: self.conn.define_xml(body), None)
        if ref is None:
            self.model[name] = Ref(SHUTOFF, 0, True, uuid=self._dom(name).uuid)
            self._emit(name, DEFINED_ADDED)
        else:
            ref.persistent = True
            self._emit(name, DEFINED_UPDATED)

    @rule(name=NAMES, paused=st.booleans())
    def create_xml(self, name: str, paused: bool) -> None:
        ref = self.model.get(name)
        if ref is not None:
            return  # a different uuid would clash; covered by unit tests
        self._do(lambda: self.conn.create_xml(xml(name), paused=paused), None)
        self.model[name] = Ref(PAUSED if paused else RUNNING, USER if paused else BOOTED, False,
                               uuid=self._dom(name).uuid)
        self._emit(name, STARTED_BOOTED, *([SUSPENDED_PAUSED] if paused else []))

    @rule(name=NAMES)
    def start(self, name: str) -> None:
        ref = self.model.get(name)
        if ref is None:
            return
        if ref.state != SHUTOFF:
            self._do(lambda: self._dom(name).create(), ErrorCode.OPERATION_INVALID)
            return
        self._do(lambda: self._dom(name).create(), None)
        if ref.managed_save and ref.saved_paused:  # the image restores the guest paused
            ref.state, ref.reason, ref.managed_save = PAUSED, USER, False
            self._emit(name, STARTED_RESTORED, SUSPENDED_PAUSED)
        elif ref.managed_save:
            ref.state, ref.reason, ref.managed_save = RUNNING, RESTORED, False
            self._emit(name, STARTED_RESTORED)
        else:
            ref.state, ref.reason = RUNNING, BOOTED
            self._emit(name, STARTED_BOOTED)

    @rule(name=NAMES)
    def shutdown(self, name: str) -> None:
        ref = self.model.get(name)
        if ref is None:
            return
        if ref.state == SHUTOFF:
            self._do(lambda: self._dom(name).shutdown(), ErrorCode.OPERATION_INVALID)
            return
        self._do(lambda: self._dom(name).shutdown(), None)
        self._emit(name, SHUTDOWN_FINISHED)
        self._stop(name, SHUTDOWN_R, STOPPED_SHUTDOWN)

    @rule(name=NAMES)
    def destroy(self, name: str) -> None:
        ref = self.model.get(name)
        if ref is None:
            return
        if ref.state == SHUTOFF:
            self._do(lambda: self._dom(name).destroy(), ErrorCode.OPERATION_INVALID)
            return
        self._do(lambda: self._dom(name).destroy(), None)
        self._stop(name, DESTROYED, STOPPED_DESTROYED)

    @rule(name=NAMES)
    def suspend(self, name: str) -> None:
        ref = self.model.get(name)
        if ref is None:
            return
        if ref.state == SHUTOFF:
            self._do(lambda: self._dom(name).suspend(), ErrorCode.OPERATION_INVALID)
            return
        self._do(lambda: self._dom(name).suspend(), None)
        if ref.state == RUNNING:
            ref.state, ref.reason = PAUSED, USER
            self._emit(name, SUSPENDED_PAUSED)

    @rule(name=NAMES)
    def resume(self, name: str) -> None:
        ref = self.model.get(name)
        if ref is None:
            return
        if ref.state != PAUSED:
            self._do(lambda: self._dom(name).resume(), ErrorCode.OPERATION_INVALID)
            return
        self._do(lambda: self._dom(name).resume(), None)
        ref.state, ref.reason = RUNNING, UNPAUSED
        self._emit(name, RESUMED_UNPAUSED)

    @rule(name=NAMES)
    def save(self, name: str) -> None:
        ref = self.model.get(name)
        if ref is None:
            return
        path = self.tmp / f"{name}.save"
        if ref.state == SHUTOFF:
            self._do(lambda: self._dom(name).save(str(path)), ErrorCode.OPERATION_INVALID)
            return
        self._do(lambda: self._dom(name).save(str(path)), None)
        self.saved[name] = (path, ref.uuid)
        self._stop(name, SAVED, STOPPED_SAVED)

    @rule(name=NAMES)
    def restore(self, name: str) -> None:
        if name not in self.saved:
            return
        path, uuid = self.saved[name]
        ref = self.model.get(name)
        if ref is not None and ref.uuid != uuid:
            # the name now belongs to another domain: libvirt's "already exists with uuid"
            self._do(lambda: self.conn.restore(str(path)), ErrorCode.OPERATION_FAILED)
            return
        if ref is not None and ref.state != SHUTOFF:
            self._do(lambda: self.conn.restore(str(path)), ErrorCode.OPERATION_INVALID)
            return
        self._do(lambda: self.conn.restore(str(path), start_state="running"), None)
        if ref is None:
            self.model[name] = ref = Ref(RUNNING, RESTORED, False, uuid=uuid)
        # a managed-save image is stale once the guest runs from another image: discarded
        ref.state, ref.reason, ref.managed_save = RUNNING, RESTORED, False
        self._emit(name, STARTED_RESTORED)

    @rule(name=NAMES)
    def managed_save(self, name: str) -> None:
        ref = self.model.get(name)
        if ref is None:
            return
        if ref.state == SHUTOFF or not ref.persistent:
            self._do(lambda: self._dom(name).managed_save(), ErrorCode.OPERATION_INVALID)
            return
        self._do(lambda: self._dom(name).managed_save(), None)
        ref.saved_paused = ref.state == PAUSED
        ref.state, ref.reason, ref.managed_save = SHUTOFF, SAVED, True
        self._emit(name, STOPPED_SAVED)

    @rule(name=NAMES)
    def undefine(self, name: str) -> None:
        ref = self.model.get(name)
        if ref is None:
            self._do(lambda: self._dom(name), ErrorCode.NO_DOMAIN)
            return
        if not ref.persistent:
            self._do(lambda: self._dom(name).undefine(), ErrorCode.OPERATION_INVALID)
            return
        self._do(lambda: self._dom(name).undefine(managed_save=True), None)
        self._emit(name, UNDEFINED)
        if ref.state == SHUTOFF:
            del self.model[name]
        else:
            ref.persistent, ref.managed_save = False, False

    # -- checks -------------------------------------------------------------------------------

    @invariant()
    def matches_the_model(self) -> None:
        listed = {s.ref.name: s for s in self.conn.list_domain_summaries()}
        assert set(listed) == set(self.model)
        for name, ref in self.model.items():
            s = listed[name]
            assert (s.state, s.reason) == (ref.state, ref.reason), name
            assert s.persistent == ref.persistent and s.managed_save == ref.managed_save, name
            assert (s.ref.id > 0) == (ref.state != SHUTOFF), name
        assert self.conn.events.wait_idle()
        assert self.events == self.expected
        self.events.clear()
        self.expected.clear()


LifecycleMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=30,
                                              deadline=None)
test_lifecycle_against_reference_model = LifecycleMachine.TestCase
