"""Events derived from state changes seen by polling, and the poller thread's life."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import virtkit
from virtkit.sdk.states import DomainState as S
from virtkit.sdk.states import EventType as E
from virtkit_vbox.events import Poller, derive_events


def test_derive_events() -> None:
    off, run, paused = (S.SHUTOFF, 0, True, "d"), (S.RUNNING, 1, True, "d"), (S.PAUSED, 1, True, "d")
    assert derive_events(None, off) == [(E.DEFINED, 0)]
    assert derive_events(off, run) == [(E.STARTED, 0)]
    assert derive_events(run, paused) == [(E.SUSPENDED, 0)]
    assert derive_events(paused, run) == [(E.RESUMED, 0)]
    assert derive_events(run, (S.SHUTOFF, 1, True, "d")) == [(E.SHUTDOWN, 0), (E.STOPPED, 0)]
    assert derive_events(run, (S.SHUTOFF, 3, True, "d")) == [(E.STOPPED, 2)]
    assert derive_events(off, None) == [(E.UNDEFINED, 0)]
    assert derive_events(run, None) == [(E.STOPPED, 1), (E.UNDEFINED, 0)]
    assert derive_events(run, run) == []


def test_poller_keeps_its_interval_and_survives_errors() -> None:
    class Target:
        calls = 0

        def poll_once(self) -> None:
            Target.calls += 1
            raise RuntimeError("a bad round")

    p = Poller(Target(), 0.05)
    p.start()
    time.sleep(0.4)
    p.stop()
    assert not p.alive
    assert 3 <= Target.calls <= 9, Target.calls  # bounded: about one call per interval


def test_another_connection_hears_about_changes(fake: Path) -> None:
    a = virtkit.open("vbox:///session?poll_interval=0.05")
    b = virtkit.open("vbox:///session?poll_interval=0.05")
    try:
        got: list[tuple[str, int, int]] = []
        lock = threading.Lock()

        def record(ev: object) -> None:
            with lock:
                got.append((ev.obj.name, ev.event, ev.detail))  # type: ignore[attr-defined]

        b.event_register("domain-lifecycle", record)
        dom = a.define_xml("<domain type='vbox'><name>shared</name><memory>131072</memory>"
                           "<os><type>hvm</type></os></domain>")
        dom.create()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and ("shared", E.STARTED, 0) not in got:
            time.sleep(0.05)
        assert ("shared", E.DEFINED, 0) in got and ("shared", E.STARTED, 0) in got
        assert b.lookup_by_name("shared").is_active()
    finally:
        a.close()
        b.close()
