"""Running libvirt's five migration phases between two connections.

begin (source) → prepare (destination) → perform (source) → finish (destination) →
confirm (source). A failure before finish cancels on both sides; a failure in finish resumes the
source; so the guest always runs on exactly one host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from virtkit.sdk.errors import ErrorCode, VirtError

if TYPE_CHECKING:
    from virtkit.api.connection import Connection
    from virtkit.api.domain import Domain


def migrate(dom: Domain, dest: Connection, params: dict[str, Any], xml: str | None) -> Domain:
    if dest is dom.connection:
        raise VirtError(ErrorCode.OPERATION_INVALID,
                        f"cannot migrate domain '{dom.name}' to the connection it is on")
    src = dom.connection
    begun = src.hooks.migrate_begin(dom=dom.ref, xml=xml, params=params)
    prepared = dest.hooks.migrate_prepare(xml=begun["xml"], cookie=begun["cookie"],
                         params=params)
    name = params.get("dname") or dom.name
    try:
        performed = src.hooks.migrate_perform(dom=dom.ref, uri=prepared["uri"],
                             cookie=prepared["cookie"], params=params)
    except VirtError:
        _quietly(dest.call, "migrate_finish", name=name, cookie=prepared["cookie"],
                 params=params, cancelled=True)
        _quietly(src.call, "migrate_confirm", dom=dom.ref, cookie=prepared["cookie"],
                 params=params, cancelled=True)
        raise
    try:
        ref = dest.hooks.migrate_finish(name=name, cookie=performed["cookie"], params=params,
                        cancelled=False)
    except VirtError:
        _quietly(src.call, "migrate_confirm", dom=dom.ref, cookie=performed["cookie"],
                 params=params, cancelled=True)
        raise
    src.hooks.migrate_confirm(dom=dom.ref, cookie=performed["cookie"], params=params,
             cancelled=False)
    return dest._domain(ref)


def _quietly(call: Any, op: str, **kwargs: Any) -> None:
    try:
        call(op, **kwargs)
    except VirtError:
        pass  # the original failure is what the caller must see
