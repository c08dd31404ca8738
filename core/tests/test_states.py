"""The domain state machine: the REFERENCE.md table, and no sequence escapes it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.sdk.states import (
    ACTIVE_STATES,
    REASONS,
    DomainState,
    DomainStatus,
    EventType,
    Op,
    PausedReason,
    RunningReason,
    ShutoffReason,
    StoppedDetail,
    transition,
)

S = DomainState
RUNNING = DomainStatus(S.RUNNING, RunningReason.BOOTED, True)
SHUTOFF = DomainStatus()


def test_define_new_and_redefine() -> None:
    t = transition(Op.DEFINE, "web1", None)
    assert t.status == DomainStatus(S.SHUTOFF, ShutoffReason.UNKNOWN, True)
    assert t.events == ((EventType.DEFINED, 0),)
    transient = DomainStatus(S.RUNNING, RunningReason.BOOTED, False)
    t = transition(Op.DEFINE, "web1", transient)
    assert t.status is not None and t.status.persistent and t.status.state is S.RUNNING
    assert t.events == ((EventType.DEFINED, 1),)


@pytest.mark.parametrize(
    "op, status, message",
    [
        (Op.CREATE, RUNNING, "domain 'web1' is already running"),
        (Op.DESTROY, SHUTOFF, "domain 'web1' is not running"),
        (Op.SHUTDOWN, SHUTOFF, "domain 'web1' is not running"),
        (Op.SUSPEND, SHUTOFF, "domain 'web1' is not running"),
        (Op.SAVE, SHUTOFF, "domain 'web1' is not running"),
        (Op.REBOOT, SHUTOFF, "domain 'web1' is not running"),
        (Op.RESUME, RUNNING, "domain 'web1' is not paused"),
        (Op.SUSPEND, DomainStatus(S.PMSUSPENDED, 0, True), "domain 'web1' is pmsuspended"),
        (Op.UNDEFINE, DomainStatus(S.RUNNING, 1, False), "cannot undefine transient domain"),
        (Op.MANAGED_SAVE, DomainStatus(S.RUNNING, 1, False), "transient domain 'web1'"),
        (Op.CREATE_XML, RUNNING, "domain 'web1' is already active"),
    ],
)
def test_refused_transitions(op: Op, status: DomainStatus, message: str) -> None:
    with pytest.raises(VirtError) as info:
        transition(op, "web1", status)
    assert info.value.code == ErrorCode.OPERATION_INVALID
    assert message in info.value.message


def test_transient_vanishes_when_stopped() -> None:
    transient = DomainStatus(S.RUNNING, RunningReason.BOOTED, False)
    for op, detail in [
        (Op.DESTROY, StoppedDetail.DESTROYED),
        (Op.SAVE, StoppedDetail.SAVED),
        (Op.CRASH, StoppedDetail.CRASHED),
        (Op.MIGRATE_OUT, StoppedDetail.MIGRATED),
    ]:
        t = transition(op, "t", transient)
        assert t.vanished
        assert t.events[-1] == (EventType.STOPPED, detail)


def test_managed_save_then_start_restores() -> None:
    t = transition(Op.MANAGED_SAVE, "w", RUNNING)
    assert t.status == DomainStatus(S.SHUTOFF, ShutoffReason.SAVED, True, True)
    t2 = transition(Op.CREATE, "w", t.status)
    assert t2.status == DomainStatus(S.RUNNING, RunningReason.RESTORED, True, False)
    assert t2.events == ((EventType.STARTED, 2),)
    t3 = transition(Op.CREATE, "w", t.status, force_boot=True)
    assert t3.status is not None and t3.status.reason == RunningReason.BOOTED
    assert not t3.status.has_managed_save


def test_start_paused_emits_started_then_suspended() -> None:
    t = transition(Op.CREATE, "w", SHUTOFF, paused=True)
    assert t.status == DomainStatus(S.PAUSED, PausedReason.USER, True)
    assert t.events == ((EventType.STARTED, 0), (EventType.SUSPENDED, 0))


def test_shutdown_emits_shutdown_then_stopped() -> None:
    t = transition(Op.SHUTDOWN, "w", RUNNING)
    assert t.events == ((EventType.SHUTDOWN, 0), (EventType.STOPPED, 0))
    assert t.status == DomainStatus(S.SHUTOFF, ShutoffReason.SHUTDOWN, True)


# -- property: no sequence of operations reaches a state the table does not allow ------------------

_OPS = list(Op)


@settings(max_examples=300)
@given(
    persistent=st.booleans(),
    steps=st.lists(st.tuples(st.sampled_from(_OPS), st.booleans(), st.booleans()), max_size=40),
)
def test_no_sequence_escapes_the_table(persistent: bool, steps: list[tuple[Op, bool, bool]]) -> None:
    status: DomainStatus | None = (
        transition(Op.DEFINE, "d", None).status
        if persistent
        else transition(Op.CREATE_XML, "d", None).status
    )
    for op, paused, force in steps:
        try:
            t = transition(op, "d", status, paused=paused, force_boot=force)
        except VirtError as exc:
            assert exc.code in (ErrorCode.OPERATION_INVALID, ErrorCode.NO_DOMAIN)
            if exc.code == ErrorCode.NO_DOMAIN:
                assert status is None
            continue
        new = t.status
        if new is None:
            # only a transient domain that stopped, or an undefined inactive one, vanishes
            assert status is None or not status.persistent or op is Op.UNDEFINE
            assert status is None or not (status.persistent and status.active)
        else:
            assert new.reason in set(REASONS[new.state])  # a reason of that state
            if not new.persistent:
                assert new.state in ACTIVE_STATES, "a transient domain exists only while active"
            if new.has_managed_save:
                assert new.state is S.SHUTOFF and new.persistent
            for event_type, detail in t.events:
                assert event_type in EventType
                assert detail >= 0
            if new.active and (status is None or not status.active):
                assert any(e[0] is EventType.STARTED for e in t.events)
            if status is not None and status.active and not new.active:
                assert t.events and t.events[-1][0] is EventType.STOPPED
        status = new
