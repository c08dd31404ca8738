"""Event delivery: callbacks per event kind, in order, from any thread.

Drivers emit :class:`~virtkit.records.Event` records into a connection's :class:`EventBus` from
whatever thread they run in. A single delivery thread per bus hands them to the registered
callbacks in the order they were emitted, so a callback may call back into the API without
deadlocking the driver that emitted. A callback that raises is logged and delivery goes on.
:meth:`EventBus.stream` is the asyncio form.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.sdk.records import EVENT_KINDS, Event

log = logging.getLogger("virtkit.runtime.events")

KINDS = EVENT_KINDS

Callback = Callable[[Event], Any]

_STOP = object()


class EventBus:
    """Register and deregister callbacks per event kind; deliver emitted events in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: dict[int, tuple[str, Callback, Callable[[Event], bool] | None]] = {}
        self._ids = itertools.count(1)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        #: events emitted and not yet delivered (read without the lock: a hint, see wait_idle)
        self.pending = 0
        self._idle = threading.Condition(self._lock)
        # who is told which kinds have callbacks (see watch), and what they were last told
        self._watchers: list[Callable[[frozenset[str]], None]] = []
        self._told: frozenset[str] = frozenset()
        self._interest = threading.Lock()

    # -- registration ------------------------------------------------------------------------

    def register(
        self,
        kind: str,
        callback: Callback,
        match: Callable[[Event], bool] | None = None,
    ) -> int:
        """Call ``callback(event)`` for each event of ``kind``; returns an id for deregister.

        ``match`` narrows delivery (for example to one domain).
        """
        if kind not in KINDS:
            raise VirtError(
                ErrorCode.INVALID_ARG,
                f"invalid argument: unknown event kind '{kind}' (known: {', '.join(KINDS)})",
            )
        with self._lock:
            cid = next(self._ids)
            self._callbacks[cid] = (kind, callback, match)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="virtkit-events", daemon=True
                )
                self._thread.start()
        if self._watchers:
            try:
                self._tell_watchers()
            except BaseException:
                with self._lock:
                    self._callbacks.pop(cid, None)
                raise
        return cid

    def deregister(self, callback_id: int) -> None:
        with self._lock:
            if self._callbacks.pop(callback_id, None) is None:
                raise VirtError(
                    ErrorCode.INVALID_ARG,
                    f"invalid argument: no event callback with id {callback_id}",
                )
        if self._watchers:
            try:
                self._tell_watchers()
            except Exception as exc:  # the callback is gone here either way
                log.warning("telling the driver that fewer events are wanted: %s", exc)

    @property
    def has_callbacks(self) -> bool:
        return bool(self._callbacks)

    def wanted(self) -> frozenset[str]:
        """The event kinds that have at least one callback now."""
        with self._lock:
            return frozenset(kind for kind, _cb, _match in self._callbacks.values())

    def watch(self, watcher: Callable[[frozenset[str]], None]) -> None:
        """Call ``watcher(kinds)`` whenever the set of kinds with callbacks changes (from the
        thread that registers or deregisters, before that call returns; changes are told one
        at a time and in order). What it raises on a register makes the register fail."""
        self._watchers.append(watcher)

    def _tell_watchers(self) -> None:
        with self._interest:
            kinds = self.wanted()
            if kinds == self._told:
                return
            for watcher in self._watchers:
                watcher(kinds)
            self._told = kinds

    # -- emission and delivery ---------------------------------------------------------------

    def emit(self, event: Event) -> None:
        """Queue ``event`` for delivery; returns at once. Safe from any thread.

        Something that is not an :class:`Event`, or an event of a kind virtkit does not know, is
        dropped with a logged error: a driver's bad event never stops delivery of the others.
        """
        if not isinstance(event, Event) or event.kind not in KINDS:
            log.error("dropped a bad event (not an Event of a known kind): %r", event)
            return
        if not self._callbacks:
            return
        with self._lock:
            self.pending += 1
        self._queue.put(event)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until every event emitted so far has been delivered; False on timeout."""
        if not self.pending:
            return True  # nothing queued (what this thread emitted was counted before now)
        with self._idle:
            return self._idle.wait_for(lambda: self.pending == 0, timeout)

    def close(self) -> None:
        """Stop the delivery thread after the events already queued."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._callbacks.clear()
        if thread is not None:
            self._queue.put(_STOP)
            if thread is not threading.current_thread():
                thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            with self._lock:
                targets = [
                    (cb, match)
                    for kind, cb, match in self._callbacks.values()
                    if kind == getattr(item, "kind", None)
                ]
            for cb, match in targets:
                try:
                    if match is None or match(item):
                        cb(item)
                except Exception:
                    log.exception("event callback %r failed on %r", cb, item)
            with self._idle:
                self.pending -= 1
                if self.pending == 0:
                    self._idle.notify_all()

    # -- asyncio ------------------------------------------------------------------------------

    async def stream(
        self, kind: str, match: Callable[[Event], bool] | None = None
    ) -> AsyncIterator[Event]:
        """Yield events of ``kind`` in the running asyncio loop until the iterator is closed."""
        import asyncio  # only here: the command line must not pay for it at start

        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[Event] = asyncio.Queue()
        cid = self.register(kind, lambda ev: loop.call_soon_threadsafe(inbox.put_nowait, ev), match)
        try:
            while True:
                yield await inbox.get()
        finally:
            try:
                self.deregister(cid)
            except VirtError:
                pass
