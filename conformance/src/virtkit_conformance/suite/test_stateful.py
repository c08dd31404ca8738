"""Group ``stateful``: Hypothesis drives random sequences of lifecycle and device operations
against a reference model of the lifecycle transition table, checking state, reason, persistence,
events and error codes after every step. A failure is shrunk to a minimal sequence, which the
report shows."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from lxml import etree

from virtkit.api.domain import Domain
from virtkit.sdk.errors import ErrorCode as C
from virtkit.sdk.errors import VirtError
from virtkit.sdk.records import DomainRef
from virtkit.sdk.states import DomainState as S
from virtkit.sdk.states import EventType as E
from virtkit.sdk.states import (
    PausedReason,
    ResumedDetail,
    RunningReason,
    ShutoffReason,
    StartedDetail,
    StoppedDetail,
    SuspendedDetail,
)

from ..kit import EventRecorder, Kit, disk_xml
from ..requirements import Requirements

SLOTS = 3
DISKS = ("vdb", "vdc")


@attrs.define
class Model:
    state: int = S.SHUTOFF
    reason: int = ShutoffReason.UNKNOWN
    persistent: bool = True
    managed_save: bool = False
    disks: set[str] = attrs.field(factory=set)

    @property
    def active(self) -> bool:
        return self.state != S.SHUTOFF


def make_machine(vk: Kit, req: Requirements) -> type[RuleBasedStateMachine]:
    names = [vk.name("s") for _ in range(SLOTS)]
    uuids = [vk.new_uuid() for _ in range(SLOTS)]
    for n in names:
        vk.track_domain(vk.conn, n)
    conn = vk.conn
    slot = st.integers(0, SLOTS - 1)

    class Lifecycle(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.model: dict[int, Model] = {}
            self.expected: list[tuple[str, int, int]] = []
            self.rec = EventRecorder(conn, timeout=0.5)
            for i in range(SLOTS):  # start clean: a previous example may have left them
                try:
                    dom = conn.lookup_by_name(names[i])
                except VirtError:
                    continue
                from ..kit import remove_domain

                remove_domain(dom, vk.prefix)
            conn.events.wait_idle()
            self.rec.take(0)

        def teardown(self) -> None:
            self.rec.close()

        # -- helpers --------------------------------------------------------------------------

        def dom(self, i: int) -> Domain:
            return Domain(conn, DomainRef(names[i], uuids[i], -1))

        def xml(self, i: int) -> str:
            return vk.xml(names[i], uuid=uuids[i])

        def event(self, i: int, ev: int, detail: int) -> None:
            self.expected.append((uuids[i], int(ev), int(detail)))

        def attempt(self, error: C | None, fn: Any, *args: Any, **kwargs: Any) -> bool:
            """Run ``fn``; it must raise ``error`` (or succeed when None). True on success."""
            try:
                fn(*args, **kwargs)
            except VirtError as exc:
                assert error is not None, f"unexpected {exc.code.name}: {exc.message}"
                assert exc.code == error, f"expected {error.name}, got {exc.code.name}: " \
                                          f"{exc.message}"
                return False
            assert error is None, f"expected {error.name}, but the call succeeded"
            return True

        def stop(self, i: int, reason: int, detail: int) -> None:
            m = self.model[i]
            self.event(i, E.STOPPED, detail)
            if m.persistent:
                m.state, m.reason = S.SHUTOFF, reason
            else:
                del self.model[i]

        # -- rules ----------------------------------------------------------------------------

        @rule(i=slot)
        def define(self, i: int) -> None:
            self.attempt(None, conn.define_xml, self.xml(i))
            m = self.model.get(i)
            if m is None:
                self.model[i] = Model()
                self.event(i, E.DEFINED, 0)
            else:
                m.persistent = True
                m.disks = set()  # the new definition replaces the old one, disks and all
                self.event(i, E.DEFINED, 1)

        @precondition(lambda self: req.supports("domain_create_xml")
                      and req.has("transient_domains"))
        @rule(i=slot)
        def create_transient(self, i: int) -> None:
            m = self.model.get(i)
            if m is not None and m.active:
                self.attempt(C.OPERATION_INVALID, conn.create_xml, self.xml(i))
                return
            self.attempt(None, conn.create_xml, self.xml(i))
            if m is None:
                m = self.model[i] = Model(persistent=False)
            m.state, m.reason, m.managed_save = S.RUNNING, RunningReason.BOOTED, False
            self.event(i, E.STARTED, StartedDetail.BOOTED)

        @rule(i=slot)
        def start(self, i: int) -> None:
            m = self.model.get(i)
            if m is None:
                self.attempt(C.NO_DOMAIN, self.dom(i).create)
            elif m.active:
                self.attempt(C.OPERATION_INVALID, self.dom(i).create)
            else:
                self.attempt(None, self.dom(i).create)
                if m.managed_save:
                    m.state, m.reason = S.RUNNING, RunningReason.RESTORED
                    self.event(i, E.STARTED, StartedDetail.RESTORED)
                else:
                    m.state, m.reason = S.RUNNING, RunningReason.BOOTED
                    self.event(i, E.STARTED, StartedDetail.BOOTED)
                m.managed_save = False

        @rule(i=slot)
        def destroy(self, i: int) -> None:
            m = self.model.get(i)
            if m is None:
                self.attempt(C.NO_DOMAIN, self.dom(i).destroy)
            elif not m.active:
                self.attempt(C.OPERATION_INVALID, self.dom(i).destroy)
            else:
                self.attempt(None, self.dom(i).destroy)
                self.stop(i, ShutoffReason.DESTROYED, StoppedDetail.DESTROYED)

        @precondition(lambda self: req.supports("domain_suspend"))
        @rule(i=slot)
        def suspend(self, i: int) -> None:
            m = self.model.get(i)
            if m is None:
                self.attempt(C.NO_DOMAIN, self.dom(i).suspend)
            elif not m.active:
                self.attempt(C.OPERATION_INVALID, self.dom(i).suspend)
            else:
                self.attempt(None, self.dom(i).suspend)
                if m.state != S.PAUSED:
                    m.state, m.reason = S.PAUSED, PausedReason.USER
                    self.event(i, E.SUSPENDED, SuspendedDetail.PAUSED)

        @precondition(lambda self: req.supports("domain_resume"))
        @rule(i=slot)
        def resume(self, i: int) -> None:
            m = self.model.get(i)
            if m is None:
                self.attempt(C.NO_DOMAIN, self.dom(i).resume)
            elif m.state != S.PAUSED:
                self.attempt(C.OPERATION_INVALID, self.dom(i).resume)
            else:
                self.attempt(None, self.dom(i).resume)
                m.state, m.reason = S.RUNNING, RunningReason.UNPAUSED
                self.event(i, E.RESUMED, ResumedDetail.UNPAUSED)

        @rule(i=slot)
        def undefine(self, i: int) -> None:
            m = self.model.get(i)
            if m is None:
                self.attempt(C.NO_DOMAIN, self.dom(i).undefine, managed_save=True)
            elif not m.persistent:
                self.attempt(C.OPERATION_INVALID, self.dom(i).undefine, managed_save=True)
            else:
                self.attempt(None, self.dom(i).undefine, managed_save=True)
                self.event(i, E.UNDEFINED, 0)
                if m.active:
                    m.persistent, m.managed_save = False, False
                else:
                    del self.model[i]

        @precondition(lambda self: req.supports("domain_managed_save"))
        @rule(i=slot)
        def managed_save(self, i: int) -> None:
            m = self.model.get(i)
            if m is None:
                self.attempt(C.NO_DOMAIN, self.dom(i).managed_save)
            elif not m.active or not m.persistent:
                self.attempt(C.OPERATION_INVALID, self.dom(i).managed_save)
            else:
                self.attempt(None, self.dom(i).managed_save)
                m.managed_save = True
                self.stop(i, ShutoffReason.SAVED, StoppedDetail.SAVED)

        @precondition(lambda self: req.supports("domain_attach_device")
                      and req.has("coldplug:disk"))
        @rule(i=slot, dev=st.sampled_from(DISKS))
        def attach_disk(self, i: int, dev: str) -> None:
            m = self.model.get(i)
            xml = disk_xml(dev, vk.path(f"{dev}.img"))
            if m is None:
                self.attempt(C.NO_DOMAIN, self.dom(i).attach_device, xml, config=True)
            elif not m.persistent:
                self.attempt(C.OPERATION_INVALID, self.dom(i).attach_device, xml, config=True)
            elif dev in m.disks:
                self.attempt(C.OPERATION_FAILED, self.dom(i).attach_device, xml, config=True)
            else:
                self.attempt(None, self.dom(i).attach_device, xml, config=True)
                m.disks.add(dev)

        @precondition(lambda self: req.supports("domain_detach_device")
                      and req.has("coldplug:disk"))
        @rule(i=slot, dev=st.sampled_from(DISKS))
        def detach_disk(self, i: int, dev: str) -> None:
            m = self.model.get(i)
            xml = disk_xml(dev, vk.path(f"{dev}.img"))
            if m is None:
                self.attempt(C.NO_DOMAIN, self.dom(i).detach_device, xml, config=True)
            elif not m.persistent:
                self.attempt(C.OPERATION_INVALID, self.dom(i).detach_device, xml, config=True)
            elif dev not in m.disks:
                self.attempt(C.DEVICE_MISSING, self.dom(i).detach_device, xml, config=True)
            else:
                self.attempt(None, self.dom(i).detach_device, xml, config=True)
                m.disks.discard(dev)

        # -- checks after every step ----------------------------------------------------------

        @invariant()
        def matches_model(self) -> None:
            for i in range(SLOTS):
                m = self.model.get(i)
                if m is None:
                    try:
                        conn.lookup_by_uuid(uuids[i])
                    except VirtError as exc:
                        assert exc.code == C.NO_DOMAIN
                    else:
                        raise AssertionError(f"domain {names[i]} should not exist")
                    continue
                s = self.dom(i).summary()
                assert (s.state, s.reason) == (m.state, m.reason), (
                    f"{names[i]}: state {(s.state, s.reason)}, model {(m.state, m.reason)}")
                assert s.persistent == m.persistent, f"{names[i]}: persistent {s.persistent}"
                assert s.managed_save == m.managed_save, f"{names[i]}: managed save"
                assert (s.ref.id > 0) == m.active, f"{names[i]}: id {s.ref.id}"
                if m.persistent and req.has("coldplug:disk"):
                    root = etree.fromstring(self.dom(i).xml_desc(inactive=True).encode())
                    got = {str(t.get("dev")) for t in root.iterfind("devices/disk/target")}
                    assert got & set(DISKS) == m.disks, f"{names[i]}: disks {got}"

        @invariant()
        def events_match(self) -> None:
            mine = set(uuids)
            self.rec.wait_for(len(self.expected))
            got = [(e.obj.uuid, e.event, e.detail) for e in list(self.rec.events)
                   if getattr(e.obj, "uuid", None) in mine]
            self.rec.take(0)
            expected, self.expected = self.expected, []
            assert got == expected, f"events {got}, expected {expected}"

    return Lifecycle


class TestStateful:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.group("stateful"),
                  pytest.mark.ops("domain_define_xml", "domain_create", "domain_destroy",
                                  "domain_undefine", "domain_get_summary")]

    def test_random_lifecycle_sequences(self, vk: Kit,
                                        virtkit_requirements: Requirements) -> None:
        machine = make_machine(vk, virtkit_requirements)
        machine.TestCase.settings = settings(
            max_examples=40, stateful_step_count=25, deadline=None, database=None,
            derandomize=True, suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
        )
        machine.TestCase().runTest()
