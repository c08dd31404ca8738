"""One migration of a tiny PV guest between two xl hosts through the xen driver: refusals, an
``xl migrate`` that fails, then one that succeeds. The same calls write the synthetic
transcripts (data/make_xl_migrate.py, against a model of two dom0s) and replay them
(test_migrate.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from scenario import GUEST  # the real run's tiny PV guest: one definition for both scenarios

import virtkit
from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.sdk.states import (
    DefinedDetail,
    DomainState,
    EventType,
    RunningReason,
    StartedDetail,
    StoppedDetail,
    SuspendedDetail,
)

#: the lifecycle events of each side: the source defined, started, then (the failed attempt
#: emits none) suspended and stopped for the migration, undefined (undefine_source); the
#: destination started (migrated), then defined (persistent)
SOURCE_EVENTS = [(EventType.DEFINED, DefinedDetail.ADDED), (EventType.STARTED, 0),
                 (EventType.SUSPENDED, SuspendedDetail.MIGRATED),
                 (EventType.STOPPED, StoppedDetail.MIGRATED), (EventType.UNDEFINED, 0)]
DEST_EVENTS = [(EventType.STARTED, StartedDetail.MIGRATED),
               (EventType.DEFINED, DefinedDetail.UPDATED)]


def _refused(code: ErrorCode, call: Callable[..., Any], *args: Any, **kw: Any) -> str:
    try:
        call(*args, **kw)
    except VirtError as e:
        assert e.code == code, (e.code, e.message)
        return e.message
    raise AssertionError(f"{call} was not refused")


def _wait(events: list[tuple[int, int]], n: int) -> None:
    deadline = time.monotonic() + 10
    while len(events) < n and time.monotonic() < deadline:
        time.sleep(0.01)


def migration(open_source: Callable[[], virtkit.Connection],
              open_dest: Callable[[], virtkit.Connection]) -> dict[str, Any]:
    """Run the scenario; return both sides' events and what the failed attempt said."""
    src_events: list[tuple[int, int]] = []
    dst_events: list[tuple[int, int]] = []
    src = open_source()
    dst = open_dest()
    try:
        src.event_register("domain-lifecycle",
                           lambda ev: src_events.append((ev.event, ev.detail)))
        dst.event_register("domain-lifecycle",
                           lambda ev: dst_events.append((ev.event, ev.detail)))
        dom = src.define_xml(GUEST)
        msg = _refused(ErrorCode.OPERATION_INVALID, dom.migrate, dst, live=True)
        assert "vk-tiny" in msg and "not running" in msg
        dom.create()
        refusals = {
            "offline": _refused(ErrorCode.ARGUMENT_UNSUPPORTED, dom.migrate, dst, offline=True),
            "postcopy": _refused(ErrorCode.ARGUMENT_UNSUPPORTED, dom.migrate3, dst,
                                 live=True, postcopy=True),
            "dname": _refused(ErrorCode.ARGUMENT_UNSUPPORTED, dom.migrate, dst, live=True,
                              dname="vk-other"),
            "xml": _refused(ErrorCode.ARGUMENT_UNSUPPORTED, dom.migrate, dst, live=True,
                            xml=GUEST),
        }
        failed = _refused(ErrorCode.OPERATION_FAILED, dom.migrate, dst, live=True)
        assert dom.state() == (DomainState.RUNNING, RunningReason.BOOTED)
        assert dst.list_domain_summaries() == []
        moved = dom.migrate(dst, live=True, persistent=True, undefine_source=True)
        assert moved.connection is dst and moved.uuid == dom.uuid
        assert moved.state() == (DomainState.RUNNING, RunningReason.MIGRATED)
        assert moved.is_persistent() and moved.id > 0
        assert _refused(ErrorCode.NO_DOMAIN, src.lookup_by_uuid, dom.uuid)
        _wait(src_events, len(SOURCE_EVENTS))
        _wait(dst_events, len(DEST_EVENTS))
    finally:
        src.close()
        dst.close()
    return {"source": src_events, "dest": dst_events, "failed": failed, "refusals": refusals}
