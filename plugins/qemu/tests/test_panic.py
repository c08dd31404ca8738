"""pvpanic: a guest kernel panic becomes CRASHED/PANICKED, then on_crash applies."""

from __future__ import annotations

from pathlib import Path

import tinyguest
from conftest import Console, Events, wait_state

import virtkit
from virtkit.sdk.states import DomainState as S
from virtkit.sdk.states import EventType as E


def test_guest_panic_is_crashed_then_destroyed(conn: virtkit.Connection,
                                               tiny: tuple[Path, Path]) -> None:
    ev = Events(conn)
    xml = tinyguest.domain_xml("panic1", *tiny, devices="<panic model='isa'/>",
                               extra="<on_crash>destroy</on_crash>")
    dom = conn.define_xml(xml)
    dom.create()
    console = Console(dom)
    try:
        console.wait_for(tinyguest.READY)
        console.stream.send(b"panic\r")
        assert wait_state(dom, S.SHUTOFF, 60) == (S.SHUTOFF, 3), "on_crash=destroy: CRASHED"
        got = ev.wait(dom.uuid, 4)
        assert got[-2:] == [(E.CRASHED, 0), (E.STOPPED, 2)], got
    finally:
        console.close()
