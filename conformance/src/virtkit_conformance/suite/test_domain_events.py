"""Group ``domain-events``: libvirt's 27 domain event ids can be registered for, and a
lifecycle event reaches a libvirt-python-style callback with libvirt's arguments."""

from __future__ import annotations

import queue
from typing import Any, ClassVar

import pytest

from virtkit.sdk.domain_events import DOMAIN_EVENT_IDS
from virtkit.sdk.errors import ErrorCode as C
from virtkit.sdk.states import EventType as E
from virtkit.sdk.states import SuspendedDetail

from ..kit import Kit, expect_error


class TestDomainEvents:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("domain-events"),
        pytest.mark.ops("domain_define_xml", "domain_create", "domain_suspend",
                        "domain_resume")]

    def test_every_event_id_registers_and_lifecycle_arrives(self, vk: Kit) -> None:
        dom = vk.running()
        got: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        ids = [vk.conn.domain_event_register_any(
            dom, e.id, lambda conn, d, *args: got.put((d.uuid, *args)), e.id)
            for e in DOMAIN_EVENT_IDS]
        try:
            assert len(set(ids)) == 27
            dom.suspend()
            while True:
                uuid, *args, opaque = got.get(timeout=vk.event_timeout)
                if opaque == 0:  # the lifecycle callback: (event, detail) as libvirt's
                    break
            assert uuid == dom.uuid
            assert tuple(args) == (E.SUSPENDED, SuspendedDetail.PAUSED)
            dom.resume()
        finally:
            for cid in ids:
                vk.conn.domain_event_deregister_any(cid)
        expect_error(C.INVALID_ARG, vk.conn.domain_event_register_any, dom, 27,
                     lambda *a: None)
