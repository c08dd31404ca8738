"""Live migration for ``xen:///system`` with ``xl migrate``, through libvirt's five phases.

``xl migrate [-s SSHCMD] [--debug] [-p] NAME HOST`` does the whole transfer itself: it runs
``xl migrate-receive`` on HOST over ssh (or over SSHCMD), sends the guest's memory there, and
when the receiver has it running destroys the source domain; on failure the guest keeps
running at the source. So the phases here only check and record around that one command:

- begin (source): refuses what xl cannot do (offline, post-copy, a new name, a destination
  XML: ARGUMENT_UNSUPPORTED naming the domain and the flag) and an inactive guest
  (OPERATION_INVALID); sends the running definition;
- prepare (destination): refuses a different guest of that name or uuid (OPERATION_FAILED), an
  active one of that name, the source host itself, and a guest this dom0 cannot run; answers
  ``xl://HOST``, HOST being the destination connection's ``migrate_host`` parameter or else the
  host name ``xl info`` reports;
- perform (source): once the guest's kernel declares ``feature-suspend`` (xl suspends it for
  the last pass, as ``xl save`` does), ``xl migrate`` (``-p`` for a paused guest, so it stays
  paused); the SSHCMD is the source connection's ``migrate_ssh`` parameter or
  ``VIRTKIT_XEN_MIGRATE_SSH``, ``--debug`` its ``migrate_debug=1``; then PAUSED/MIGRATION;
- finish (destination): records the guest xl received (RUNNING or PAUSED/MIGRATED, event
  STARTED/MIGRATED), persistent with ``persistent``;
- confirm (source): SHUTOFF/MIGRATED (event STOPPED/MIGRATED), undefined with
  ``undefine_source``; when cancelled the guest was never stopped (xl resumes it).

xl always migrates live (it has no non-live mode), so ``live=False`` migrates live too.
"""

from __future__ import annotations

import os
from typing import Any

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef
from virtkit.sdk.states import DomainState, DomainStatus, Op, PausedReason, transition
from virtkit.xml.domain import Domain

SCHEME = "xl://"

#: migration flags xl cannot honour: the parameter and what to call it in the refusal
_REFUSED = (("offline", "offline migration (xl moves running guests only)"),
            ("postcopy", "post-copy migration (xl migrates by pre-copy only)"),
            ("dname", "a new name on the destination (xl keeps the guest's name)"))


def migrating_out(status: DomainStatus) -> bool:
    """The guest has been handed to ``xl migrate`` and waits for confirm (the source domain is
    gone from xl's list by then: not a guest that stopped on its own)."""
    return status.state == DomainState.PAUSED and status.reason == PausedReason.MIGRATION


def _not_migrating(g: Any) -> None:
    if migrating_out(g.status):
        raise VirtError(ErrorCode.OPERATION_INVALID, f"operation invalid: domain "
                        f"'{g.dom.name}' is being migrated already", ErrorDomain.LIBXL)


def _param(driver: Any, key: str) -> str | None:
    return next((v for k, v in driver.context.uri.params if k == key), None)


class XlMigrationHooks:
    """Mixed into the xl driver."""

    @hookimpl
    def virtkit_migrate_begin(self: Any, dom: DomainRef, xml: str | None,
                              params: dict[str, Any]) -> dict[str, Any]:
        self._sync()
        with self.store.locked(), self.lock:
            g = self._find(dom)
            name = g.dom.name
            for key, what in _REFUSED:
                if params.get(key):
                    raise VirtError(ErrorCode.ARGUMENT_UNSUPPORTED, f"argument unsupported: "
                                    f"cannot migrate domain '{name}': {what} is not supported "
                                    "by xl", ErrorDomain.LIBXL)
            if xml is not None:
                raise VirtError(ErrorCode.ARGUMENT_UNSUPPORTED, f"argument unsupported: cannot "
                                f"migrate domain '{name}': a destination XML is not supported "
                                "by xl (it sends the running configuration)", ErrorDomain.LIBXL)
            if not g.status.active:
                raise VirtError(ErrorCode.OPERATION_INVALID, f"domain '{name}' is not running "
                                "(xl has no offline migration)", ErrorDomain.LIBXL)
            _not_migrating(g)
            live = attrs.evolve(g.dom, id=None)
            return {"xml": live.to_xml(), "cookie": {
                "source_host": self.xl.info().get("host", ""),
                "paused": g.status.state == DomainState.PAUSED}}

    def _migrate_host(self: Any) -> str:
        host = _param(self, "migrate_host") or self.xl.info().get("host", "")
        if not host or host == "(none)":
            raise VirtError(ErrorCode.OPERATION_FAILED, "operation failed: this dom0 has no "
                            "host name to receive a migration at: give the destination "
                            "connection a 'migrate_host' parameter", ErrorDomain.LIBXL)
        return str(host)

    @hookimpl
    def virtkit_migrate_prepare(self: Any, xml: str, cookie: dict[str, Any],
                                params: dict[str, Any]) -> dict[str, Any]:
        new = Domain.from_xml(xml, **self._types)
        self._check_device_model(new)
        host = self._migrate_host()
        if host == cookie.get("source_host"):
            raise VirtError(ErrorCode.OPERATION_INVALID, f"operation invalid: cannot migrate "
                            f"domain '{new.name}' to the host it runs on ('{host}')",
                            ErrorDomain.LIBXL)
        self._sync()
        with self.store.locked(), self.lock:
            g = self._place(new)  # OPERATION_FAILED for another guest of that name or uuid
            if g is not None and g.status.active:
                raise VirtError(ErrorCode.OPERATION_FAILED, f"operation failed: domain "
                                f"'{new.name}' is already active on '{host}'", ErrorDomain.LIBXL)
        return {"uri": SCHEME + host, "cookie": {"xml": xml, "host": host,
                                                 "paused": bool(cookie.get("paused"))}}

    @hookimpl
    def virtkit_migrate_perform(self: Any, dom: DomainRef, uri: str, cookie: dict[str, Any],
                                params: dict[str, Any]) -> dict[str, Any]:
        if not uri.startswith(SCHEME) or not uri[len(SCHEME):]:
            raise VirtError(ErrorCode.OPERATION_FAILED, f"operation failed: cannot migrate "
                            f"domain '{dom.name}' to '{uri}': xl migrates to {SCHEME}HOST",
                            ErrorDomain.LIBXL)
        host = uri[len(SCHEME):]
        ssh = _param(self, "migrate_ssh") or os.environ.get("VIRTKIT_XEN_MIGRATE_SSH")
        debug = _param(self, "migrate_debug") in ("1", "yes", "true")
        self._sync()
        with self.store.locked(), self.lock:
            g = self._find(dom)
            transition(Op.MIGRATE_PAUSE, g.dom.name, g.status)  # refuse before touching xl
            _not_migrating(g)
            paused = g.status.state == DomainState.PAUSED
            if not paused:  # xl suspends the guest for the last pass, as xl save does
                self.xl.wait_control(g.dom.name, "feature-suspend")
            self.xl.migrate(g.dom.name, host, ssh=ssh, debug=debug, paused=paused)
            self._apply(g, Op.MIGRATE_PAUSE)
        return {"cookie": {**cookie, "paused": paused}}

    @hookimpl
    def virtkit_migrate_finish(self: Any, name: str, cookie: dict[str, Any],
                               params: dict[str, Any], cancelled: bool) -> DomainRef | None:
        if cancelled:
            return None  # nothing is held here: xl's receiver cleans up a failed incoming guest
        new = Domain.from_xml(cookie["xml"], **self._types)
        domid = self.xl.domid(name)
        with self.store.locked(), self.lock:
            from virtkit_xen.driver import Guest

            g = self._place(new)
            fresh = g is None
            if g is None:
                g = Guest(None, DomainStatus(persistent=False))
            paused = bool(cookie.get("paused"))
            transition(Op.MIGRATE_IN, new.name, None if fresh else g.status, paused=paused)
            g.id, g.live = domid, new
            ref: DomainRef = self._apply(g, Op.MIGRATE_IN, new=fresh, paused=paused)
            if params.get("persistent"):
                g.config = new
                ref = self._apply(g, Op.DEFINE)
            return ref

    @hookimpl
    def virtkit_migrate_confirm(self: Any, dom: DomainRef, cookie: dict[str, Any],
                                params: dict[str, Any], cancelled: bool) -> bool:
        with self.store.locked(), self.lock:
            g = self._find(dom)
            if cancelled:
                self._apply(g, Op.MIGRATE_CANCEL)  # only a guest xl had taken: it runs again
                return True
            if g.status.active:
                self._apply(g, Op.MIGRATE_OUT)
            g = self._load(g.dom.name)
            if g is not None and params.get("undefine_source") and g.status.persistent:
                self._apply(g, Op.UNDEFINE)
            return True
