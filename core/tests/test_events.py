from __future__ import annotations

import asyncio
import logging
import threading

import pytest

import virtkit
from virtkit.runtime.events import EventBus
from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.sdk.records import DomainRef, Event
from virtkit.sdk.states import EventType


def _ev(n: int) -> Event:
    return Event("domain-lifecycle", DomainRef(f"d{n}", f"u{n}", -1), n, 0)


def test_events_delivered_in_order_from_many_threads() -> None:
    bus = EventBus()
    got: list[tuple[int, int]] = []
    bus.register("domain-lifecycle", lambda ev: got.append((ev.obj.id, ev.event)))

    def produce(thread: int) -> None:
        for i in range(200):
            bus.emit(Event("domain-lifecycle", DomainRef("x", "u", thread), i, 0))

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bus.wait_idle()
    assert len(got) == 800
    for thread in range(4):
        mine = [e for t, e in got if t == thread]
        assert mine == list(range(200)), "each producer's events arrive in emission order"
    bus.close()


def test_failing_callback_is_logged_and_delivery_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    seen: list[int] = []

    def bad(ev: Event) -> None:
        raise RuntimeError("callback bug")

    bus.register("domain-lifecycle", bad)
    bus.register("domain-lifecycle", lambda ev: seen.append(ev.event))
    with caplog.at_level(logging.ERROR, logger="virtkit.runtime.events"):
        for n in range(3):
            bus.emit(_ev(n))
        assert bus.wait_idle()
    assert seen == [0, 1, 2]
    assert "callback bug" in caplog.text
    bus.close()


def test_deregister_and_unknown_kind() -> None:
    bus = EventBus()
    seen: list[int] = []
    cid = bus.register("domain-lifecycle", lambda ev: seen.append(ev.event))
    bus.emit(_ev(1))
    assert bus.wait_idle()
    bus.deregister(cid)
    bus.emit(_ev(2))
    assert bus.wait_idle()
    assert seen == [1]
    with pytest.raises(VirtError) as info:
        bus.deregister(cid)
    assert info.value.code == ErrorCode.INVALID_ARG
    with pytest.raises(VirtError) as info:
        bus.register("volcano-eruption", print)
    assert "unknown event kind 'volcano-eruption'" in info.value.message
    bus.close()


def test_callback_may_call_back_into_the_api() -> None:
    conn = virtkit.open("test:///default")
    states: list[tuple[int, int]] = []

    def cb(ev: Event) -> None:
        states.append(conn.lookup_by_uuid(ev.obj.uuid).state())

    conn.event_register("domain-lifecycle", cb)
    dom = conn.lookup_by_name("test")
    dom.suspend()
    assert conn.events.wait_idle()
    assert states == [(3, 1)]
    conn.close()


def test_lifecycle_events_reach_every_connection_of_the_node() -> None:
    a = virtkit.open("test:///default")
    b = virtkit.open("test:///default")
    got: list[tuple[str, int, int]] = []
    b.event_register("domain-lifecycle", lambda ev: got.append((ev.obj.name, ev.event, ev.detail)))
    dom = a.lookup_by_name("test")
    dom.destroy()
    dom.create(paused=True)
    assert b.events.wait_idle()
    assert got == [
        ("test", EventType.STOPPED, 1),
        ("test", EventType.STARTED, 0),
        ("test", EventType.SUSPENDED, 0),
    ]
    a.close()
    b.close()


def test_event_filter_by_object() -> None:
    conn = virtkit.open("test:///default")
    other = conn.define_xml("<domain type='test'><name>other</name><memory>1024</memory><os><type>hvm</type></os></domain>")
    got: list[str] = []
    conn.event_register("domain-lifecycle", lambda ev: got.append(ev.obj.name), obj=other)
    conn.lookup_by_name("test").suspend()
    other.create()
    assert conn.events.wait_idle()
    assert got == ["other"]
    conn.close()


def test_asyncio_stream() -> None:
    conn = virtkit.open("test:///default")

    async def main() -> list[int]:
        stream = conn.event_stream("domain-lifecycle")
        first = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0)  # the stream registers on its first step
        await asyncio.sleep(0.01)
        conn.lookup_by_name("test").suspend()
        ev = await asyncio.wait_for(first, 5)
        await stream.aclose()  # type: ignore[attr-defined]
        return [ev.event, ev.detail]

    assert asyncio.run(main()) == [EventType.SUSPENDED, 0]
    assert not conn.events.has_callbacks
    conn.close()
