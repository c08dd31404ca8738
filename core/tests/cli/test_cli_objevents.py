"""net-event and pool-event: event types, virsh's text for each event, and a pool refresh
seen through the test driver's events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import virtkit
from virtkit.cli.objevents import format_net_event, format_pool_event
from virtkit.sdk.records import Event, NetworkRef, PoolRef

Run = Callable[..., Any]  # the ``run`` fixture of conftest.py
DEFAULT = ("-c", "test:///default")


def test_event_lists_and_timeout(run: Run) -> None:
    assert run(*DEFAULT, "pool-event", "--list").stdout == "lifecycle\nrefresh\n\n"
    assert run(*DEFAULT, "net-event", "--list").stdout == "lifecycle\n\n"
    r = run(*DEFAULT, "pool-event", "--event", "warp")
    assert r.status == 2 and "unknown event type 'warp'" in r.stderr
    r = run(*DEFAULT, "net-event", "--timeout", "1", "--loop")
    assert "events received: 0" in r.stdout


def test_virsh_text_of_each_event() -> None:
    pool, net = PoolRef("default-pool", "u"), NetworkRef("default", "u")
    assert format_pool_event(Event("pool-refresh", pool)) == \
        "event 'refresh' for storage pool default-pool\n"
    assert format_pool_event(Event("pool-lifecycle", pool, 2)) == \
        "event 'lifecycle' for storage pool default-pool: Started\n"
    assert format_pool_event(Event("pool-lifecycle", pool, 5)) == \
        "event 'lifecycle' for storage pool default-pool: Deleted\n"
    assert format_net_event(Event("network-lifecycle", net, 3)) == \
        "event 'lifecycle' for network default: Stopped\n"


def test_pool_refresh_emits_an_event() -> None:
    conn = virtkit.open("test:///default")
    try:
        seen: list[Event] = []
        pool = conn.storage_pool_lookup_by_name("default-pool")
        conn.event_register("pool-refresh", seen.append, pool)
        pool.refresh()
        conn.events.wait_idle()
        assert [(e.kind, e.obj.name) for e in seen] == [("pool-refresh", "default-pool")]
    finally:
        conn.close()
