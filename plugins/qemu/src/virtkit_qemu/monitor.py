"""A blocking facade over ``qemu.qmp``: one QMP connection per guest, events handed to a callback.

``qemu.qmp`` is asyncio; virtkit's hooks are synchronous. One event-loop thread per process runs
every guest's :class:`qemu.qmp.QMPClient`; :class:`Monitor` submits commands to it and waits.
Events (and the end of the connection, reported as ``("EOF", None)``) are handed to the guest's
callback on that loop thread: the callback must only queue them, never block.

Replies are capped (QEMU is guest-facing): a line longer than 10 MiB ends the connection.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError

log = logging.getLogger("virtkit_qemu.monitor")

MAX_REPLY = 10 * 1024 * 1024

EventCallback = Callable[[str, dict[str, Any] | None], None]

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def loop() -> asyncio.AbstractEventLoop:
    """The process's QMP event loop (a daemon thread, started on first use)."""
    global _loop
    with _loop_lock:
        if _loop is None:
            new = asyncio.new_event_loop()
            thread = threading.Thread(target=new.run_forever, name="virtkit-qemu-qmp",
                                      daemon=True)
            thread.start()
            _loop = new
        return _loop


def _run(coro: Any, timeout: float | None) -> Any:
    fut = asyncio.run_coroutine_threadsafe(coro, loop())
    try:
        return fut.result(timeout)
    except concurrent.futures.TimeoutError:
        fut.cancel()
        raise


class MonitorError(Exception):
    """QEMU answered a command with an error (``cls`` and ``desc`` from QMP)."""

    def __init__(self, command: str, cls: str, desc: str) -> None:
        super().__init__(f"{command}: {desc}")
        self.command = command
        self.cls = cls
        self.desc = desc


class Monitor:
    """The QMP connection of one guest."""

    def __init__(self, name: str, path: str, on_event: EventCallback) -> None:
        self.name = name
        self.path = path
        self.on_event = on_event
        self._client: Any = None
        self._watch: asyncio.Task[None] | None = None
        self.closed = False

    def connect(self, timeout: float = 5.0) -> None:
        """Connect and negotiate; raises VirtError OPERATION_FAILED naming the guest."""
        try:
            _run(self._connect(), timeout)
        except Exception as exc:
            raise VirtError(
                ErrorCode.OPERATION_FAILED,
                f"cannot connect to the monitor of domain '{self.name}' ({self.path}): "
                f"{exc or type(exc).__name__}",
                ErrorDomain.QEMU,
            ) from None

    async def _connect(self) -> None:
        from qemu.qmp import QMPClient

        client = QMPClient(self.name)
        client.readbuflen = MAX_REPLY  # the stream reader's line limit
        await client.connect(self.path)
        self._client = client
        self._watch = asyncio.get_running_loop().create_task(self._pump(client))

    async def _pump(self, client: Any) -> None:
        from qemu.qmp import Runstate

        listener_cm = client.listener()
        listener = listener_cm.__enter__()
        events = asyncio.ensure_future(self._events(listener))
        try:
            while client.runstate not in (Runstate.DISCONNECTING, Runstate.IDLE):
                await client.runstate_changed()
        finally:
            # let events that arrived before the end reach the callback first
            await asyncio.sleep(0)
            events.cancel()
            for msg in listener.clear():
                self._deliver(msg)
            with contextlib.suppress(Exception):
                listener_cm.__exit__(None, None, None)
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await client.disconnect()
            if not self.closed:
                self.closed = True
                self.on_event("EOF", None)

    async def _events(self, listener: Any) -> None:
        async for msg in listener:
            self._deliver(msg)

    def _deliver(self, msg: Any) -> None:
        try:
            self.on_event(str(msg["event"]), dict(msg.get("data") or {}))
        except Exception:  # a callback bug must not stop the pump
            log.exception("event callback failed for domain '%s'", self.name)

    def execute(self, command: str, args: dict[str, Any] | None = None,
                timeout: float = 30.0) -> Any:
        """Run one QMP command; MonitorError for QEMU's error, VirtError when disconnected."""
        from qemu.qmp import ExecuteError

        if self._client is None or self.closed:
            raise self._gone()
        try:
            return _run(self._client.execute(command, args), timeout)
        except ExecuteError as exc:
            err = exc.error.error
            raise MonitorError(command, str(err.class_), str(err.desc)) from None
        except concurrent.futures.TimeoutError:
            raise VirtError(
                ErrorCode.OPERATION_TIMEOUT,
                f"domain '{self.name}': the monitor did not answer '{command}' in {timeout:g}s",
                ErrorDomain.QEMU,
            ) from None
        except (EOFError, ConnectionError, OSError, Exception) as exc:
            if isinstance(exc, VirtError):
                raise
            raise self._gone() from None

    def send_fd(self, fd: int, fdname: str) -> None:
        """Pass ``fd`` to QEMU under ``fdname`` (QMP ``getfd``)."""
        if self._client is None or self.closed:
            raise self._gone()

        async def go() -> None:
            self._client.send_fd_scm(fd)
            await self._client.execute("getfd", {"fdname": fdname})

        _run(go(), 10.0)

    def _gone(self) -> VirtError:
        return VirtError(
            ErrorCode.OPERATION_INVALID,
            f"domain '{self.name}' is not running (its monitor is closed)",
            ErrorDomain.QEMU,
        )

    def close(self) -> None:
        """Disconnect without reporting EOF (the guest keeps running)."""
        if self._client is None or self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            _run(self._client.disconnect(), 5.0)
