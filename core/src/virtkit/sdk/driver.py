"""What a driver receives from the core, and the base class driver authors start from.

A driver is a class registered under the entry-point group ``virtkit.drivers`` with its URI scheme
as the name. The core instantiates it once per connection as ``DriverClass(context)``, registers
the instance in that connection's plugin manager (with the host services it declares, then the
cross-cutting plugins), and calls its ``@hookimpl`` methods. The :class:`DriverContext` carries
the connection's parsed URI, whether it is read-only, who is calling, where the driver keeps
state, the caller's credential callback, and ``emit`` to publish events.

Threading: the core may call one driver instance from several threads at once (an API user's
threads, the daemon's workers), so a driver guards its own shared state. ``emit`` is safe from any
thread, and a driver may run threads of its own (to watch a hypervisor's events); it stops them in
``virtkit_connect_close``, which the core calls exactly once when the connection closes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import attrs

from virtkit.sdk.errors import ErrorDomain
from virtkit.sdk.records import Event
from virtkit.sdk.store import StateDirs, state_dirs
from virtkit.sdk.uri import URI


@attrs.frozen
class Identity:
    """Who is calling: filled by the daemon from the client's socket credentials, certificate or
    SASL login; for in-process use, the current process's uid and user. Every field is optional
    because each transport knows only some of them."""

    uid: int | None = None
    gid: int | None = None
    user: str | None = None
    groups: tuple[str, ...] = ()
    x509_dname: str | None = None
    sasl_user: str | None = None
    pid: int | None = None

    @classmethod
    def of_process(cls) -> Identity:
        """The identity of this process (its uid, gid, user name and groups)."""
        import os

        uid, gid = os.getuid(), os.getgid()
        try:
            import grp
            import pwd

            user: str | None = pwd.getpwuid(uid).pw_name
            groups = tuple(sorted({grp.getgrgid(g).gr_name for g in [*os.getgroups(), gid]}))
        except (KeyError, ImportError):
            user, groups = None, ()
        return cls(uid=uid, gid=gid, user=user, groups=groups, pid=os.getpid())


#: A credential callback, as libvirt's openAuth takes: called with a list of requests (each a
#: dict with ``type`` ("username", "password", "passphrase"...), ``prompt`` and ``default``),
#: returns the answers in the same order (None where it has none).
AuthCallback = Callable[[list[dict[str, Any]]], list[str | None]]


@attrs.frozen
class DriverContext:
    uri: URI
    read_only: bool
    emit: Callable[[Event], None]
    identity: Identity | None = None
    auth: AuthCallback | None = None
    #: ``call(op, kwargs)``: call an operation of this same connection, through every check, as
    #: a user would (a hypervisor driver asks the host storage service to translate a volume
    #: disk, or the network service for a port). Answers what that operation answers.
    call: Callable[[str, dict[str, Any]], Any] = attrs.field(default=None, repr=False)
    #: ``watch_events(watcher)``: have ``watcher(kinds)`` called with the set of event kinds
    #: (``"domain-lifecycle"``...) that the connection's user has callbacks for, each time that
    #: set changes (in the registering thread, before the registration returns). A driver whose
    #: events cost something to produce (a forwarding driver, a watcher thread polling the
    #: hypervisor) can produce only the kinds somebody waits for; ``emit`` is still the way to
    #: deliver them. An exception from the watcher makes that registration fail.
    watch_events: Callable[[Callable[[frozenset[str]], None]], None] = attrs.field(
        default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.call is None:
            object.__setattr__(self, "call", _no_connection)
        if self.watch_events is None:
            object.__setattr__(self, "watch_events", _no_watch)

    @property
    def instance(self) -> str:
        """``system`` or ``session`` (the URI path without its slash), else the raw path."""
        return self.uri.path.strip("/")

    def state_dirs(self) -> StateDirs:
        """Where this driver keeps state for this instance: ``/var/lib/virtkit/DRIVER`` and
        ``/run/virtkit/DRIVER`` for ``system``, the user's XDG data and runtime directories for
        ``session`` (see :func:`virtkit.sdk.store.state_dirs`)."""
        return state_dirs(self.uri.driver, self.instance)


def _no_watch(watcher: Callable[[frozenset[str]], None]) -> None:
    """Without a connection nobody registers callbacks: nothing to watch."""


def _no_connection(op: str, kwargs: dict[str, Any]) -> Any:
    from virtkit.sdk.errors import ErrorCode, VirtError

    raise VirtError(ErrorCode.NO_CONNECT, f"{op}: this driver context has no connection")


class Driver:
    """Base class for drivers: keeps the context and names the driver in errors.

    Class attributes a driver sets:

    - ``name``: the driver's name (its scheme), used in NO_SUPPORT and INTERNAL_ERROR messages;
    - ``error_domain``: the :class:`ErrorDomain` of the errors it raises (a third-party driver
      without one of its own uses ``ErrorDomain.NONE``);
    - ``capabilities``: declared capability flags, read by the conformance suite and the support
      matrix;
    - ``host_services``: names of host services (entry-point group ``virtkit.services``, such as
      ``"storage"`` and ``"network"``) the core registers in each connection after the driver.
      The driver's own hookimpls win over a service's for the same hook;
    - ``takes_host_uris``: True for a client-side driver that talks to a remote API itself (esx,
      vpx, xenapi): a URI of its scheme with a host reaches it, not the remote driver;
    - ``domain_types`` and ``os_types``: the values ``<domain type=...>`` and ``<os><type>`` may
      take on this driver, which it passes to every parse (``Domain.from_xml(xml,
      domain_types=self.domain_types, os_types=self.os_types)``); None: libvirt's built-in sets.
    """

    name: ClassVar[str] = "driver"
    error_domain: ClassVar[ErrorDomain] = ErrorDomain.NONE
    capabilities: ClassVar[dict[str, Any]] = {}
    host_services: ClassVar[tuple[str, ...]] = ()
    takes_host_uris: ClassVar[bool] = False
    domain_types: ClassVar[tuple[str, ...] | None] = None
    os_types: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, context: DriverContext) -> None:
        self.context = context

    def emit(self, event: Event) -> None:
        self.context.emit(event)

    def implemented_operations(self) -> frozenset[str] | None:
        """The operations (``"domain_suspend"``...) this driver serves, or None for "what my
        hookimpls implement" (the default). A forwarding driver, like the remote one, returns the
        set its far side serves so that NO_SUPPORT answers the same as in-process."""
        return None
