"""libvirt's 27 domain event ids: the registry knows every kind, events carry libvirt's
arguments, libvirt-python-style callbacks receive them in order, and virsh's texts."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import virtkit
from virtkit.cli.event import EVENTS, format_event
from virtkit.runtime.events import KINDS
from virtkit.sdk import domain_events as ev
from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.sdk.records import DomainRef, Event, from_plain, to_plain

REF = DomainRef("web1", "6695eb01-f6a4-8304-79aa-97f2502e193f", 3)

#: one sample event per id and the line virsh prints for it
SAMPLES: dict[str, tuple[dict[str, Any], str]] = {
    "domain-lifecycle": ({"event": 5, "detail": 1}, ": Stopped Destroyed"),
    "domain-reboot": ({}, ""),
    "domain-rtc-change": ({"utcoffset": -3600}, ": -3600"),
    "domain-watchdog": ({"action": 2}, ": reset"),
    "domain-io-error": ({"src_path": "/img/a", "dev_alias": "virtio-disk0", "action": 1},
                        ": /img/a (virtio-disk0) pause"),
    "domain-graphics": ({"phase": 0, "local": {"family": 0, "node": "127.0.0.1",
                                               "service": "5900"},
                         "remote": {"family": 0, "node": "10.0.0.9", "service": "41000"},
                         "auth_scheme": "vnc", "subject": [["x509dname", "CN=a"]]},
                        ": connect local[IPv4 127.0.0.1 5900] remote[IPv4 10.0.0.9 41000] vnc "
                        "x509dname=CN=a"),
    "domain-io-error-reason": ({"src_path": "/img/a", "dev_alias": "d0", "action": 2,
                                "reason": "enospc"}, ": /img/a (d0) report due to enospc"),
    "domain-control-error": ({}, ""),
    "domain-block-job": ({"disk": "/img/a.qcow2", "type": 2, "status": 3},
                         ": Block Copy for /img/a.qcow2 ready"),
    "domain-disk-change": ({"old_src_path": "/a.iso", "new_src_path": None,
                            "dev_alias": "sata0-0-0", "reason": 1}, ""),
    "domain-tray-change": ({"dev_alias": "sata0-0-0", "reason": 0}, ""),
    "domain-pm-wakeup": ({"reason": 0}, ""),
    "domain-pm-suspend": ({"reason": 0}, ""),
    "domain-balloon-change": ({"actual": 524288}, ": 524288KiB"),
    "domain-pm-suspend-disk": ({"reason": 0}, ""),
    "domain-device-removed": ({"dev_alias": "net1"}, ": net1"),
    "domain-block-job-2": ({"dst": "vda", "type": 1, "status": 0},
                           ": Block Pull for vda completed"),
    "domain-tunable": ({"params": {"cputune.vcpupin0": "0-1"}}, ":\n\tcputune.vcpupin0: 0-1"),
    "domain-agent-lifecycle": ({"state": 1, "reason": 1},
                               ": state: 'connected' reason: 'domain started'"),
    "domain-device-added": ({"dev_alias": "net1"}, ": net1"),
    "domain-migration-iteration": ({"iteration": 2}, ": iteration: '2'"),
    "domain-job-completed": ({"params": {"type": 3}}, ":\n\ttype: 3"),
    "domain-device-removal-failed": ({"dev_alias": "hostdev0"}, ": hostdev0"),
    "domain-metadata-change": ({"type": 2, "nsuri": "http://example.org/app"},
                               ": type element, uri http://example.org/app"),
    "domain-block-threshold": ({"dev": "vda", "path": "/img/a", "threshold": 100,
                                "excess": 5}, ": dev: vda(/img/a) 100 5"),
    "domain-memory-failure": ({"recipient": 1, "action": 1, "flags": 1},
                              ":\nrecipient: guest\naction: inject\nflags:\n"
                              "\taction required: 1\n\trecursive: 0"),
    "domain-memory-device-size-change": ({"alias": "virtiomem0", "size": 1024},
                                         ":\nalias: virtiomem0\nsize: 1024"),
}
TEXT_SPECIAL = {
    "domain-disk-change": "event 'disk-change' for domain 'web1' disk sata0-0-0: /a.iso -> "
                          "<null>: dropped\n",
    "domain-tray-change": "event 'tray-change' for domain 'web1' disk sata0-0-0: opened\n",
}


def test_all_27_ids_are_known_kinds_in_libvirt_order() -> None:
    assert [e.id for e in ev.DOMAIN_EVENT_IDS] == list(range(27))
    assert all(e.kind in KINDS for e in ev.DOMAIN_EVENT_IDS)
    assert set(SAMPLES) == {e.kind for e in ev.DOMAIN_EVENT_IDS}
    assert list(EVENTS) == [e.virsh for e in ev.DOMAIN_EVENT_IDS]


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_each_event_crosses_the_wire_and_prints_as_virsh(kind: str) -> None:
    params, tail = SAMPLES[kind]
    event = ev.domain_event(kind, REF, **params)
    assert from_plain(to_plain(event)) == event
    virsh = ev.BY_KIND[kind].virsh
    expected = TEXT_SPECIAL.get(kind, f"event '{virsh}' for domain 'web1'{tail}\n")
    assert format_event(event) == expected
    assert ev.callback_args(event) == tuple(params[p] for p in ev.BY_KIND[kind].params)


def test_domain_event_refuses_wrong_arguments() -> None:
    with pytest.raises(ValueError):
        ev.domain_event("domain-rtc-change", REF)
    with pytest.raises(ValueError):
        ev.domain_event("domain-rtc-change", REF, utcoffset=1, extra=2)
    with pytest.raises(ValueError):
        ev.domain_event("network-lifecycle", REF)


def test_register_any_delivers_libvirt_arguments_for_one_domain() -> None:
    conn = virtkit.open("test:///default")
    dom = conn.lookup_by_name("test")
    got: list[tuple[Any, ...]] = []
    done = threading.Event()

    def cb(c: Any, d: Any, event: int, detail: int, opaque: Any) -> None:
        got.append((c is conn, d.name, event, detail, opaque))
        done.set()

    cid = conn.domain_event_register_any(dom, 0, cb, {"mine": 1})
    dom.suspend()
    assert done.wait(5)
    dom.resume()
    conn.domain_event_deregister_any(cid)
    assert got[0] == (True, "test", 3, 0, {"mine": 1})
    with pytest.raises(VirtError) as info:
        conn.domain_event_register_any(dom, 27, cb)
    assert info.value.code == ErrorCode.INVALID_ARG
    # a bad event from a driver is dropped, not delivered
    conn.events.emit(Event("domain-no-such-kind", dom.ref))
