"""libvirt-python's form of domain event callbacks: ``conn.domain_event_register_any(dom,
event_id, callback, opaque)`` calls ``callback(conn, dom, *args, opaque)`` with the arguments
libvirt's callback for that event id receives (:mod:`virtkit.sdk.domain_events` lists them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from virtkit.sdk.domain_events import BY_ID, callback_args
from virtkit.sdk.errors import invalid_arg

if TYPE_CHECKING:
    from virtkit.api.connection import Connection
    from virtkit.api.domain import Domain
    from virtkit.sdk.records import Event


def register_any(
    conn: Connection, dom: Domain | None, event_id: int, callback: Callable[..., Any],
    opaque: Any = None,
) -> int:
    """Register ``callback`` for libvirt's domain event ``event_id`` (0-26), of ``dom`` only
    when given; returns the id :meth:`Connection.event_deregister` takes."""
    from virtkit.api.domain import Domain

    spec = BY_ID.get(event_id) if isinstance(event_id, int) else None
    if spec is None:
        raise invalid_arg(f"unknown domain event id {event_id!r} (libvirt's are 0-26)")

    def deliver(event: Event) -> None:
        callback(conn, Domain(conn, event.obj), *callback_args(event), opaque)

    return conn.event_register(spec.kind, deliver, dom)
