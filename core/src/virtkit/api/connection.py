"""Opening connections and the :class:`Connection` handle.

``virtkit.open(uri)`` resolves the URI (default, aliases), loads exactly the driver its scheme
names,
builds the connection's plugin manager (the driver plus every cross-cutting plugin), and opens it.
:meth:`Connection.call` is the one dispatch point: it refuses changes on a read-only connection,
raises NO_SUPPORT for a hook the driver lacks, and turns anything but a VirtError that escapes a
driver into INTERNAL_ERROR naming the driver and the operation.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import operator
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from virtkit.api.connection_objects import ObjectsMixin
from virtkit.api.domain import Domain
from virtkit.api.host import HostMethods
from virtkit.api.nodedev import NodeDeviceMethods
from virtkit.api.nwfilter import NWFilterMethods
from virtkit.api.secret import SecretMethods
from virtkit.runtime import registry
from virtkit.runtime.config import load_config, resolve_alias
from virtkit.runtime.dispatch import Dispatcher, class_impls
from virtkit.runtime.events import EventBus
from virtkit.runtime.hooks import Hooks
from virtkit.sdk import checks as args
from virtkit.sdk.driver import AuthCallback, DriverContext, Identity
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError, invalid_arg
from virtkit.sdk.records import DomainSummary, Event, NodeInfo
from virtkit.sdk.states import DomainState
from virtkit.sdk.uri import URI, parse_uri

log = logging.getLogger("virtkit")

REMOTE_SCHEME = registry.REMOTE_SCHEME
@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a listing builds its records: every object it
    allocates stays alive until it returns, so a collection could free nothing, yet the
    allocations (two or three per domain) would start collections that walk every tracked
    object of the process, many times per listing of 100,000 domains. A collector the caller
    disabled stays disabled."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


_BY_ID = operator.attrgetter("id")
_BY_NAME = operator.attrgetter("name")
#: libvirt's virConnectCloseReason values
CLOSE_REASON_ERROR, CLOSE_REASON_EOF, CLOSE_REASON_KEEPALIVE, CLOSE_REASON_CLIENT = 0, 1, 2, 3
FALLBACK_URI = "test:///default"


def default_uri() -> str:
    """``VIRTKIT_DEFAULT_URI``, else the configuration's ``uri_default``, else a probe of the
    installed drivers: a local hypervisor driver that can run here first, ``test:///default``
    last."""
    env = os.environ.get("VIRTKIT_DEFAULT_URI")
    if env:
        return env
    configured = load_config().uri_default
    if configured:
        return configured
    for entry in registry.drivers():
        if entry.broken or entry.scheme in ("test", REMOTE_SCHEME):
            continue
        found = _probe(entry.scheme)
        if found:
            return found
    return FALLBACK_URI


def _probe(scheme: str) -> str | None:
    cls = registry.load_driver(scheme)
    context = DriverContext(parse_uri(f"{scheme}:///system"), True, lambda _ev: None)
    try:
        if "virtkit_connect_probe" not in class_impls(cls, "driver"):
            return None
        result: str | None = cls(context).virtkit_connect_probe()
    except VirtError:
        return None
    except Exception:
        log.exception("driver '%s' failed while probing", scheme)
        return None
    return result


def resolve_uri(name: str | None) -> str:
    """The URI text to open for what the user gave: None (the default), an alias, or a URI."""
    if name is None or name == "":
        name = default_uri()
    if "://" not in name:
        target = resolve_alias(name, load_config())
        if target is None:
            raise invalid_arg(f"no connection URI or alias '{name}' (aliases come from the "
                              f"uri_aliases list of the configuration file)")
        return target
    return name


def open(  # noqa: A001
    uri: str | None = None,
    read_only: bool = False,
    *,
    auth: AuthCallback | None = None,
    identity: Identity | None = None,
    call_timeout: float | None = None,
) -> Connection:
    """Open a connection to the hypervisor that ``uri`` names (None: the default URI).

    :param read_only: refuse every change (OPERATION_DENIED) before any driver code runs.
    :param auth: a credential callback, as libvirt's openAuth takes (see
        :data:`virtkit.sdk.driver.AuthCallback`), for drivers that log in somewhere.
    :param identity: who is calling (the daemon passes its client's); default: this process.
    :param call_timeout: wait at most this many seconds for any one call, then raise
        OPERATION_TIMEOUT (the driver may go on working); None waits as long as it takes.
    :raises VirtError: INVALID_ARG for a malformed URI or unknown alias; NO_CONNECT when no driver
        serves the scheme, the driver fails to load, or the driver cannot connect.
    """
    if uri is not None and not isinstance(uri, str):
        raise invalid_arg(f"a connection URI must be a string, not {type(uri).__name__}")
    text = resolve_uri(uri)
    parsed = parse_uri(text)
    driver_cls = registry.driver_for(parsed)
    services = registry.service_classes(getattr(driver_cls, "host_services", ()))
    return Connection(
        text, parsed, read_only, driver_cls, registry.plugin_classes(),
        services=services, auth=auth, identity=identity, call_timeout=call_timeout,
    )


class Connection(ObjectsMixin, NodeDeviceMethods, SecretMethods, HostMethods,
                 NWFilterMethods):
    """An open connection: its driver, the host services the driver declares, and the
    cross-cutting plugins that wrap them (see :mod:`virtkit.runtime.dispatch`)."""

    #: the close callback and its opaque value (register_close_callback)
    _close_cb: tuple[Callable[[Connection, int, Any], Any], Any] | None = None

    def __init__(
        self,
        uri_text: str,
        uri: URI,
        read_only: bool,
        driver_cls: Any,
        plugin_classes: tuple[Any, ...] = (),
        *,
        services: tuple[Any, ...] = (),
        auth: AuthCallback | None = None,
        identity: Identity | None = None,
        call_timeout: float | None = None,
    ) -> None:
        self._uri_text = uri_text
        self.parsed_uri = uri
        self.read_only = read_only
        self.events = EventBus()
        self._lock = threading.Lock()
        context = DriverContext(
            uri, read_only, self.events.emit, identity or Identity.of_process(), auth,
            call=lambda op, kwargs: self._dispatch.call(op, dict(kwargs)),
            watch_events=self.events.watch,
        )
        self._dispatch = dispatch = Dispatcher(
            uri_text, context, driver_cls, services, plugin_classes
        )
        if call_timeout is not None:
            if isinstance(call_timeout, bool) or not isinstance(call_timeout, (int, float)) \
                    or call_timeout <= 0:
                raise invalid_arg(f"call_timeout {call_timeout!r} must be a positive number")
            dispatch.timeout = float(call_timeout)
        self.driver = dispatch.driver
        #: every operation as a typed method, checked as :meth:`call` is
        self._caller = dispatch.caller()
        self.hooks = Hooks(self._caller)
        self.hooks.connect_open(uri=uri_text, read_only=read_only)
        dispatch.opened()
        self.driver_name: str = dispatch.driver_name

    # -- dispatch -----------------------------------------------------------------------------

    @property
    def capabilities(self) -> dict[str, Any]:
        """The driver's declared capability flags (what the conformance suite reads)."""
        caps: dict[str, Any] = getattr(self.driver, "capabilities", {}) or {}
        return caps

    def implements(self, op: str) -> bool:
        """Whether a provider of this connection implements ``op`` (``"domain_suspend"``)."""
        return op in self._dispatch.implemented

    def call(self, op: str, /, **kwargs: Any) -> Any:
        """Call operation ``op`` (hook ``virtkit_<op>``) with every check: closed, read-only,
        unsupported, the arguments, the result (see :mod:`virtkit.runtime.dispatch`)."""
        return self._dispatch.call(op, kwargs)

    def call_with(self, op: str, kwargs: dict[str, Any], /) -> Any:
        """:meth:`call` with the arguments as a dict that the caller gives up (it is checked,
        and its values may be replaced, in place): one copy less for a caller that builds a
        fresh dict per call anyway (virtkitd, from each call's message)."""
        return self._caller(op, kwargs)

    # -- the connection itself ----------------------------------------------------------------

    @property
    def uri(self) -> str:
        return self._uri_text

    def close(self) -> None:
        """Close the connection; further calls raise INVALID_CONN. Closing twice is harmless."""
        with self._lock:
            if self._dispatch.closed:
                return
            try:
                if self.implements("connect_close"):
                    self.hooks.connect_close()
            except VirtError as exc:
                log.warning("closing '%s': %s", self._uri_text, exc.message)
            finally:
                self._dispatch.close()  # later calls: INVALID_CONN; services closed
                self.events.close()
                self._run_close_callback(CLOSE_REASON_CLIENT)

    def is_alive(self) -> bool:
        return not self._dispatch.closed

    def is_encrypted(self) -> bool:
        """Whether the connection's traffic is encrypted (libvirt's isEncrypted): a remote
        connection over TLS (the default with a host) or SSH; a local one has no traffic."""
        uri = self.parsed_uri
        if not uri.is_remote:
            return False
        transport = uri.transport or ("tls" if uri.host else "unix")
        return transport in ("tls", "ssh")

    def is_secure(self) -> bool:
        """Whether the connection cannot be snooped (libvirt's isSecure): encrypted, or local
        (in process, or a UNIX socket on this host)."""
        uri = self.parsed_uri
        return self.is_encrypted() or not uri.host or (uri.transport or "") == "unix"

    def register_close_callback(
        self, cb: Callable[[Connection, int, Any], Any], opaque: Any = None
    ) -> int:
        """Call ``cb(conn, reason, opaque)`` once when the connection closes (libvirt's
        virConnectRegisterCloseCallback; reason CLOSE_REASON_CLIENT when :meth:`close` closed
        it). One callback per connection; returns 0."""
        if self._close_cb is not None:
            raise invalid_arg("the connection already has a close callback")
        if self._dispatch.closed:
            raise VirtError(ErrorCode.INVALID_CONN, f"the connection to '{self._uri_text}' is "
                                                   f"closed", ErrorDomain.NONE)
        self._close_cb = (cb, opaque)
        return 0

    def unregister_close_callback(self) -> int:
        if self._close_cb is None:
            raise invalid_arg("the connection has no close callback")
        self._close_cb = None
        return 0

    def _run_close_callback(self, reason: int) -> None:
        found, self._close_cb = self._close_cb, None
        if found is not None:
            try:
                found[0](self, reason, found[1])
            except Exception:
                log.exception("close callback of '%s' failed", self._uri_text)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        ro = ", read_only" if self.read_only else ""
        return f"<virtkit.Connection {self._uri_text!r}{ro}>"

    # -- host ---------------------------------------------------------------------------------

    def get_capabilities(self) -> str:
        return self.hooks.connect_get_capabilities()

    def get_domain_capabilities(
        self,
        emulator: str | None = None,
        arch: str | None = None,
        machine: str | None = None,
        virttype: str | None = None,
    ) -> str:
        return self.hooks.connect_get_domain_capabilities(
            emulator=emulator, arch=arch, machine=machine, virttype=virttype
        )

    def domain_xml_from_native(self, native_format: str, native_config: str) -> str:
        """Domain XML from the hypervisor's own configuration (virsh domxml-from-native)."""
        return self.hooks.connect_domain_xml_from_native(
            native_format=native_format, native_config=native_config
        )

    def domain_xml_to_native(self, native_format: str, xml: str) -> str:
        """The hypervisor's own configuration for domain XML (virsh domxml-to-native)."""
        return self.hooks.connect_domain_xml_to_native(
            native_format=native_format, xml=args.xml_text(xml)
        )

    def get_hostname(self) -> str:
        return self.hooks.connect_get_hostname()

    def get_version(self) -> int:
        return self.hooks.connect_get_version()

    def get_lib_version(self) -> int:
        from virtkit.version import lib_version

        return lib_version()

    def get_type(self) -> str:
        return self.driver_name

    def node_info(self) -> NodeInfo:
        return self.hooks.node_get_info()

    def node_free_memory(self) -> int:
        return self.hooks.node_get_free_memory()

    def node_cells_free_memory(self, start_cell: int = 0, max_cells: int = 1) -> list[int]:
        if start_cell < 0 or max_cells < 1:
            raise invalid_arg(f"cells {start_cell}..+{max_cells} is not a valid range")
        return self.hooks.node_get_cells_free_memory(
            start_cell=start_cell, max_cells=max_cells
        )

    # -- domains ------------------------------------------------------------------------------

    def _domain(self, ref: Any) -> Domain:
        return Domain(self, ref)

    def list_domains(
        self,
        *,
        active: bool | None = None,
        persistent: bool | None = None,
        autostart: bool | None = None,
        managed_save: bool | None = None,
        has_snapshot: bool | None = None,
        states: tuple[DomainState, ...] | None = None,
    ) -> list[Domain]:
        """Domains matching every filter given (libvirt's listAllDomains with its flags).

        ``active=True`` only running ones, ``False`` only inactive; ``persistent``, ``autostart``,
        ``managed_save``, ``has_snapshot`` likewise; ``states`` keeps those in the given states.
        Active domains come first by id, then inactive ones by name.
        """
        with _collector_paused():
            return self._list_domains(active, persistent, autostart, managed_save,
                                      has_snapshot, states)

    def _list_domains(
        self,
        active: bool | None,
        persistent: bool | None,
        autostart: bool | None,
        managed_save: bool | None,
        has_snapshot: bool | None,
        states: tuple[DomainState, ...] | None,
    ) -> list[Domain]:
        summaries: list[DomainSummary] = self.hooks.domain_list()
        if (active, persistent, autostart, managed_save, has_snapshot, states) == (None,) * 6:
            picked = summaries
        else:
            picked = [
                s
                for s in summaries
                if (active is None or s.active == active)
                and (persistent is None or s.persistent == persistent)
                and (autostart is None or s.autostart == autostart)
                and (managed_save is None or s.managed_save == managed_save)
                and (has_snapshot is None or (s.snapshots > 0) == has_snapshot)
                and (states is None or s.state in states)
            ]
        # two sorts by plain keys (no key tuple per domain: at 100,000 domains those tuples
        # alone would push the collector into full passes)
        running = [s.ref for s in picked if s.ref.id != -1]
        running.sort(key=_BY_ID)
        stopped = [s.ref for s in picked if s.ref.id == -1]
        stopped.sort(key=_BY_NAME)
        return [Domain(self, ref) for ref in running + stopped]

    def list_domain_summaries(self) -> list[DomainSummary]:
        """Every domain's list entry in one call (what ``list_domains`` filters)."""
        with _collector_paused():
            return self.hooks.domain_list()

    def lookup_by_name(self, name: str) -> Domain:
        return self._domain(self.hooks.domain_lookup_by_name(name=args.name(name, "domain")))

    def lookup_by_uuid(self, uuid: str) -> Domain:
        return self._domain(self.hooks.domain_lookup_by_uuid(uuid=args.canonical_uuid(uuid)))

    def lookup_by_id(self, id: int) -> Domain:
        if not isinstance(id, int) or id < 0:
            raise invalid_arg(f"domain id {id!r} must be a non-negative integer")
        return self._domain(self.hooks.domain_lookup_by_id(id=id))

    def define_xml(self, xml: str, validate: bool = False) -> Domain:
        return self._domain(
            self.hooks.domain_define_xml(xml=args.xml_text(xml), validate=validate)
        )

    def create_xml(self, xml: str, paused: bool = False, validate: bool = False) -> Domain:
        return self._domain(
            self.hooks.domain_create_xml(xml=args.xml_text(xml), paused=paused, validate=validate)
        )

    def restore_params(self, params: dict[str, Any], start_state: str | None = None) -> Domain:
        """libvirt's ``restoreParams``: :meth:`restore` with its arguments as typed parameters,
        ``{"file": PATH, "dxml": XML}``."""
        from virtkit.api.domain import save_image_params

        path, xml = save_image_params(params, "restore_params")
        return self.restore(path, xml, start_state)

    def restore(self, path: str, xml: str | None = None, start_state: str | None = None) -> Domain:
        args.start_state(start_state)
        return self._domain(
            self.hooks.domain_restore(path=os.fspath(path), xml=xml, start_state=start_state)
        )

    def save_image_get_xml_desc(self, path: str, security_info: bool = False) -> str:
        """The definition stored in the save image at ``path`` (what :meth:`restore` runs)."""
        return self.hooks.domain_save_image_get_xml(path=os.fspath(path),
                                                    security_info=security_info)

    def save_image_define_xml(self, path: str, xml: str, start_state: str | None = None) -> None:
        """Replace the definition stored in the save image at ``path`` (same guest: name,
        uuid, maximum memory and vcpus), and with ``start_state`` (``running`` or ``paused``)
        how :meth:`restore` starts it."""
        args.start_state(start_state)
        self.hooks.domain_save_image_define_xml(path=os.fspath(path), xml=xml,
                                                start_state=start_state)

    # -- events -------------------------------------------------------------------------------

    def event_register(
        self, kind: str, callback: Callable[[Event], Any], obj: Any = None
    ) -> int:
        """Call ``callback(event)`` for events of ``kind`` (``domain-lifecycle``,
        ``domain-reboot``, ``network-lifecycle``, ``pool-lifecycle``... see
        ``virtkit.sdk.records.EVENT_KINDS``), optionally only those of ``obj`` (a handle:
        Domain, Network, StoragePool, NodeDevice, Secret...). Returns an id for
        :meth:`event_deregister`."""
        match = None
        if obj is not None:
            # an object's identity record: by uuid where it has one, else by name (node devices)
            key = "uuid" if getattr(obj.ref, "uuid", None) else "name"
            want = getattr(obj.ref, key)
            match = lambda ev: getattr(ev.obj, key, None) == want  # noqa: E731
        return self.events.register(kind, callback, match)

    def event_deregister(self, callback_id: int) -> None:
        self.events.deregister(callback_id)

    def get_all_domain_stats(
        self, stats: list[str] | None = None, **filters: bool
    ) -> list[tuple[Domain, dict[str, Any]]]:
        """libvirt's bulk statistics: ``[(dom, {"state.state": 1, ...}), ...]`` for the
        domains the filters keep (``active=True``, ``running=True``... as libvirt's
        GET_ALL_DOMAINS_STATS flags); ``stats`` lists groups (``state``, ``cpu-total``,
        ``balloon``, ``vcpu``, ``interface``, ``block``, ``perf``), None for all."""
        from virtkit.api.domain_tuning import get_all_domain_stats

        return get_all_domain_stats(self, stats, filters)

    def domain_list_get_stats(
        self, doms: list[Domain], stats: list[str] | None = None
    ) -> list[tuple[Domain, dict[str, Any]]]:
        """As :meth:`get_all_domain_stats` for the given domains, in their order."""
        from virtkit.api.domain_tuning import domain_list_get_stats

        return domain_list_get_stats(self, doms, stats)

    def domain_event_register_any(
        self, dom: Any, event_id: int, callback: Callable[..., Any], opaque: Any = None
    ) -> int:
        """libvirt-python's form: ``callback(conn, dom, *args, opaque)`` with the arguments of
        libvirt's domain event ``event_id`` (0-26, ``virtkit.sdk.domain_events``), for ``dom``
        only unless it is None."""
        from virtkit.api.domain_events import register_any

        return register_any(self, dom, event_id, callback, opaque)

    def domain_event_deregister_any(self, callback_id: int) -> None:
        self.events.deregister(callback_id)

    def event_stream(self, kind: str) -> AsyncIterator[Event]:
        """The asyncio form: ``async for event in conn.event_stream("domain-lifecycle")``."""
        return self.events.stream(kind)

