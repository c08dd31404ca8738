"""What every suite test uses: prefixed names, tracked objects cleaned up after the test, event
recorders, XML builders, and error assertions.

Everything the suite creates carries the prefix (``vkcert-`` by default). Clean-up deletes only
objects whose name carries it, so the suite never touches other guests, pools or networks.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from virtkit.sdk.errors import ErrorCode, VirtError

if TYPE_CHECKING:
    from virtkit.api.connection import Connection
    from virtkit.api.domain import Domain
    from virtkit.api.network import Network
    from virtkit.api.storage import StoragePool
    from virtkit.sdk.records import Event

log = logging.getLogger("virtkit_conformance")

_counter = itertools.count(1)
_run_tag = f"{os.getpid() % 10000:04d}"


def domain_xml(
    name: str,
    *,
    uuid: str | None = None,
    memory_mib: int = 128,
    current_mib: int | None = None,
    vcpus: int = 1,
    max_vcpus: int | None = None,
    devices: str = "",
    description: str | None = None,
) -> str:
    """A small ``<domain>`` document every driver should accept, with ``{type}`` and ``{os}``
    left for the driver's domain and OS type (:meth:`Kit.xml` fills them)."""
    parts = [f"<name>{name}</name>"]
    if uuid:
        parts.append(f"<uuid>{uuid}</uuid>")
    if description is not None:
        parts.append(f"<description>{description}</description>")
    parts.append(f"<memory unit='MiB'>{memory_mib}</memory>")
    if current_mib is not None:
        parts.append(f"<currentMemory unit='MiB'>{current_mib}</currentMemory>")
    if max_vcpus is not None:
        parts.append(f"<vcpu current='{vcpus}'>{max_vcpus}</vcpu>")
    else:
        parts.append(f"<vcpu>{vcpus}</vcpu>")
    parts.append("<os><type>{os}</type></os>")
    if devices:
        parts.append(f"<devices>{devices}</devices>")
    return f"<domain type='{{type}}'>{''.join(parts)}</domain>"


def disk_xml(dev: str, source: str, device: str = "disk", bus: str = "virtio") -> str:
    return (f"<disk type='file' device='{device}'><source file='{source}'/>"
            f"<target dev='{dev}' bus='{bus}'/></disk>")


def nic_xml(mac: str, network: str = "default") -> str:
    return (f"<interface type='network'><mac address='{mac}'/>"
            f"<source network='{network}'/></interface>")


def expect_error(codes: ErrorCode | tuple[ErrorCode, ...], fn: Callable[..., Any], *args: Any,
                 **kwargs: Any) -> VirtError:
    """Call ``fn``; it must raise a VirtError with one of ``codes`` (NO_SUPPORT passes through
    so that the plugin can report "not supported")."""
    wanted = codes if isinstance(codes, tuple) else (codes,)
    try:
        result = fn(*args, **kwargs)
    except VirtError as exc:
        if exc.code == ErrorCode.NO_SUPPORT and ErrorCode.NO_SUPPORT not in wanted:
            raise
        names = ", ".join(c.name for c in wanted)
        assert exc.code in wanted, (
            f"{getattr(fn, '__name__', fn)} raised {exc.code.name} ({exc.message!r}), "
            f"expected {names}"
        )
        return exc
    names = ", ".join(c.name for c in wanted)
    raise AssertionError(f"{getattr(fn, '__name__', fn)} returned {result!r}, expected {names}")


class LogCapture(logging.Handler):
    """Collects the messages logged at WARNING or above anywhere while it is open (a driver's
    way to warn that it ignored part of a document)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.messages.append(record.getMessage())

    def __enter__(self) -> LogCapture:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self)

    def mentions(self, word: str) -> bool:
        """Whether a message names ``word`` as a word of its own."""
        found = re.compile(rf"(?<![\w-]){re.escape(word)}(?![\w-])")
        return any(found.search(m) for m in self.messages)


class EventRecorder:
    """Records events of one kind (optionally of one object) on a connection."""

    def __init__(self, conn: Connection, kind: str = "domain-lifecycle", obj: Any = None,
                 timeout: float = 2.0) -> None:
        self.conn = conn
        self.kind = kind
        self.timeout = timeout
        self.events: list[Event] = []
        self._lock = threading.Lock()
        self._id = conn.event_register(kind, self._got, obj)

    def _got(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def pairs(self, uuid: str | None = None) -> list[tuple[int, int]]:
        """(event, detail) pairs received so far, all or those of the object ``uuid``."""
        with self._lock:
            return [(e.event, e.detail) for e in self.events
                    if uuid is None or getattr(e.obj, "uuid", None) == uuid]

    def wait_for(self, count: int) -> list[tuple[int, int]]:
        """The (event, detail) pairs once ``count`` arrived (or the timeout passed)."""
        deadline = time.monotonic() + self.timeout
        self.conn.events.wait_idle(self.timeout)
        while len(self.pairs()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        # give a driver that emits too many a moment to show it
        self.conn.events.wait_idle(0.2)
        return self.pairs()

    def take(self, count: int) -> list[tuple[int, int]]:
        """Wait for ``count`` events, return them all and start afresh."""
        got = self.wait_for(count)
        with self._lock:
            self.events.clear()
        return got

    def close(self) -> None:
        with contextlib.suppress(VirtError):
            self.conn.event_deregister(self._id)


def _quiet(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    try:
        fn(*args, **kwargs)
    except VirtError as exc:
        log.debug("clean-up: %s", exc.message)


def remove_domain(dom: Domain, prefix: str) -> None:
    """Destroy and undefine ``dom`` (with every flag); refuses a name without ``prefix``."""
    if not dom.name.startswith(prefix):
        raise ValueError(f"refusing to remove domain '{dom.name}': it lacks the prefix {prefix!r}")
    with contextlib.suppress(VirtError):
        if dom.is_active():
            _quiet(dom.destroy)
    with contextlib.suppress(VirtError):
        for snap in dom.list_all_snapshots():
            _quiet(snap.delete, metadata_only=True)
    with contextlib.suppress(VirtError):
        if dom.is_persistent():
            _quiet(dom.undefine, managed_save=True, snapshots_metadata=True, nvram=True)


def remove_network(net: Network, prefix: str) -> None:
    if not net.name.startswith(prefix):
        raise ValueError(f"refusing to remove network '{net.name}': it lacks the prefix")
    with contextlib.suppress(VirtError):
        if net.is_active():
            _quiet(net.destroy)
    with contextlib.suppress(VirtError):
        if net.is_persistent():
            _quiet(net.undefine)


def remove_pool(pool: StoragePool, prefix: str) -> None:
    if not pool.name.startswith(prefix):
        raise ValueError(f"refusing to remove storage pool '{pool.name}': it lacks the prefix")
    with contextlib.suppress(VirtError):
        if pool.is_active():
            for vol in pool.list_volumes():
                _quiet(vol.delete)
            _quiet(pool.destroy)
    with contextlib.suppress(VirtError):
        _quiet(pool.delete)
        _quiet(pool.undefine)


def sweep(conn: Connection, prefix: str) -> int:
    """Remove every object whose name starts with ``prefix`` (leftovers of a crashed run);
    returns how many were found. Volumes with the prefix in pools without it are removed too."""
    found = 0
    with contextlib.suppress(VirtError):
        for dom in conn.list_domains():
            if dom.name.startswith(prefix):
                found += 1
                remove_domain(dom, prefix)
    with contextlib.suppress(VirtError):
        for net in conn.list_networks():
            if net.name.startswith(prefix):
                found += 1
                remove_network(net, prefix)
    with contextlib.suppress(VirtError):
        for pool in conn.list_storage_pools():
            if pool.name.startswith(prefix):
                found += 1
                remove_pool(pool, prefix)
    with contextlib.suppress(VirtError):
        for pool in conn.list_storage_pools(active=True):
            with contextlib.suppress(VirtError):
                for vol in pool.list_volumes():
                    if vol.name.startswith(prefix):
                        found += 1
                        _quiet(vol.delete)
    with contextlib.suppress(VirtError):
        for iface in conn.list_interfaces():
            if iface.name.startswith(prefix):
                found += 1
                with contextlib.suppress(VirtError):
                    if iface.is_active():
                        _quiet(iface.destroy)
                _quiet(iface.undefine)
    return found


class Kit:
    """Per-test helper: names with the prefix, tracked objects, event recorders.

    ``domain_type`` and ``os_type`` fill ``<domain type>`` and ``<os><type>`` of generated
    domain XML (what the connection's capabilities name).
    """

    def __init__(self, conn: Connection, prefix: str, workdir: str, event_timeout: float,
                 domain_type: str, os_type: str = "hvm") -> None:
        self.conn = conn
        self.prefix = prefix
        self.workdir = workdir
        self.event_timeout = event_timeout
        self.domain_type = domain_type
        self.os_type = os_type
        self._cleanups: list[Callable[[], None]] = []
        self._recorders: list[EventRecorder] = []

    # -- names --------------------------------------------------------------------------------

    def name(self, what: str = "d") -> str:
        return f"{self.prefix}{what}{_run_tag}{next(_counter)}"

    @staticmethod
    def new_uuid() -> str:
        return str(uuidlib.uuid4())

    @staticmethod
    def mac(n: int | None = None) -> str:
        n = next(_counter) if n is None else n
        return f"52:54:00:7c:{(n >> 8) & 0xff:02x}:{n & 0xff:02x}"

    def path(self, name: str) -> str:
        return os.path.join(self.workdir, name)

    def xml(self, name: str, **kwargs: Any) -> str:
        return self.fill(domain_xml(name, **kwargs))

    def fill(self, template: str) -> str:
        """``template`` with ``{type}`` and ``{os}`` replaced by the driver's types."""
        return template.replace("{type}", self.domain_type).replace("{os}", self.os_type)

    # -- tracked objects ----------------------------------------------------------------------

    def track(self, fn: Callable[[], None]) -> None:
        self._cleanups.append(fn)

    def track_domain(self, conn: Connection, name: str) -> None:
        def cleanup() -> None:
            try:
                dom = conn.lookup_by_name(name)
            except VirtError:
                return
            remove_domain(dom, self.prefix)

        self.track(cleanup)

    def define(self, name: str | None = None, conn: Connection | None = None,
               **kwargs: Any) -> Domain:
        """Define a persistent ``vkcert-`` domain, removed after the test."""
        conn = conn or self.conn
        name = name or self.name()
        self.track_domain(conn, name)
        return conn.define_xml(self.xml(name, **kwargs))

    def create(self, name: str | None = None, conn: Connection | None = None,
               paused: bool = False, **kwargs: Any) -> Domain:
        """Create a transient, running ``vkcert-`` domain, removed after the test."""
        conn = conn or self.conn
        name = name or self.name()
        self.track_domain(conn, name)
        return conn.create_xml(self.xml(name, **kwargs), paused=paused)

    def running(self, **kwargs: Any) -> Domain:
        """A persistent domain, started."""
        dom = self.define(**kwargs)
        dom.create()
        return dom

    def recorder(self, obj: Any = None, kind: str = "domain-lifecycle",
                 conn: Connection | None = None) -> EventRecorder:
        rec = EventRecorder(conn or self.conn, kind, obj, self.event_timeout)
        self._recorders.append(rec)
        return rec

    def wait_state(self, dom: Domain, state: int, timeout: float) -> tuple[int, int]:
        """Poll until ``dom`` reaches ``state`` (a guest may take its time to shut down)."""
        deadline = time.monotonic() + timeout
        while True:
            got = dom.state()
            if got[0] == state or time.monotonic() >= deadline:
                return got
            time.sleep(0.05)

    def close(self) -> None:
        for rec in self._recorders:
            rec.close()
        for fn in reversed(self._cleanups):
            try:
                fn()
            except Exception:  # clean-up must go on whatever one step does
                log.exception("conformance clean-up step failed")
        self._cleanups.clear()


@contextlib.contextmanager
def kit_for(conn: Connection, prefix: str, workdir: str, event_timeout: float,
            domain_type: str, os_type: str = "hvm") -> Iterator[Kit]:
    kit = Kit(conn, prefix, workdir, event_timeout, domain_type, os_type)
    try:
        yield kit
    finally:
        kit.close()


def pool_xml(name: str, path: str) -> str:
    return f"<pool type='dir'><name>{name}</name><target><path>{path}</path></target></pool>"


def vol_xml(name: str, capacity: int = 1024 * 1024, fmt: str = "raw") -> str:
    return (f"<volume><name>{name}</name><capacity>{capacity}</capacity>"
            f"<target><format type='{fmt}'/></target></volume>")
