"""The client side of the wire: calls matched to replies by serial, events, keepalive.

Any number of threads may call at once: each call gets a serial, its frame is written whole, and
a reader thread hands each reply to the call that waits for it. EVENT frames go to
``on_event``. Keepalive: after ``interval`` seconds without a frame from the daemon the client
pings; after ``count`` intervals it gives the daemon up, closes the channel and fails every
waiting call.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from virtkit.remote import procedures as procs
from virtkit.remote.protocol import (
    HEADER,
    HEADER_SIZE,
    PING,
    PONG,
    Header,
    ProtocolError,
    Status,
    Type,
    check_length,
    decode_body,
    decode_header,
    encode,
    error_from_body,
)
from virtkit.remote.transport import Channel
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError

log = logging.getLogger("virtkit.remote")


class _Waiter:
    __slots__ = ("body", "latch", "status")

    def __init__(self) -> None:
        self.latch = threading.Lock()
        self.latch.acquire()
        self.status = Status.OK
        self.body: Any = None


class RpcClient:
    """Frames over one channel to one daemon named ``host`` (used in error messages)."""

    def __init__(
        self,
        channel: Channel,
        host: str,
        on_event: Callable[[Any], None] | None = None,
        keepalive_interval: float = 5.0,
        keepalive_count: int = 5,
    ) -> None:
        self.channel = channel
        self.host = host
        self.on_event = on_event
        self._serials = itertools.count(1)
        self._waiting: dict[int, _Waiter] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._lost: VirtError | None = None
        self.last_rx = time.monotonic()
        self._wake = threading.Event()
        self._reader = threading.Thread(target=self._read_loop, name="virtkit-remote-reader",
                                        daemon=True)
        self._reader.start()
        self._keepalive: threading.Thread | None = None
        if keepalive_interval > 0:
            self._keepalive = threading.Thread(
                target=self._keepalive_loop, args=(keepalive_interval, keepalive_count),
                name="virtkit-remote-keepalive", daemon=True)
            self._keepalive.start()

    # -- calls ---------------------------------------------------------------------------------

    def call(self, name: str, body: Any = None) -> Any:
        """Call procedure ``name``; returns the reply's ``r`` (or the whole body); raises the
        far side's VirtError."""
        number = procs.table()[name]
        return self.call_number(number, name, body)

    def call_number(self, number: int, name: str, body: Any = None) -> Any:
        waiter = _Waiter()
        with self._lock:
            if self._lost is not None:
                raise self._lost
            serial = next(self._serials) & 0xFFFFFFFF
            self._waiting[serial] = waiter
        try:
            self.channel.send(encode(Header(number, Type.CALL, serial), body))
        except OSError as exc:
            with self._lock:
                self._waiting.pop(serial, None)
            raise self._gone(f"sending {name.lstrip('@')}: {exc}") from None
        waiter.latch.acquire()
        if waiter.status == Status.OK:
            reply = waiter.body
            if not isinstance(reply, dict):
                return reply
            for message in reply.get("w", ()):
                log.warning("%s (daemon at %s)", message, self.host)
            return reply.get("r")
        if waiter.status == Status.UNKNOWN_PROCEDURE:
            raise VirtError(
                ErrorCode.NO_SUPPORT,
                f"the daemon at {self.host} is older than this client: it lacks "
                f"{name.lstrip('@')}",
                ErrorDomain.REMOTE,
            )
        if waiter.status == -1:
            assert isinstance(waiter.body, VirtError)
            raise waiter.body
        raise error_from_body(waiter.body)

    # -- the reader ----------------------------------------------------------------------------

    def _read_loop(self) -> None:
        buf = bytearray()
        need = HEADER_SIZE
        header: Header | None = None
        why = "the daemon closed the connection"
        try:
            while True:
                while len(buf) < need:
                    chunk = self.channel.recv(max(65536, need - len(buf)))
                    if not chunk:
                        raise EOFError
                    buf += chunk
                    self.last_rx = time.monotonic()
                if header is None:
                    size = check_length(bytes(buf[:4]))
                    header = decode_header(bytes(buf[:HEADER_SIZE]))
                    need = HEADER_SIZE + size
                    if len(buf) < need:
                        continue
                payload = bytes(buf[HEADER_SIZE:need])
                del buf[:need]
                self._frame(header, payload)
                header, need = None, HEADER_SIZE
        except EOFError:
            pass
        except ProtocolError as exc:
            why = f"the daemon broke the protocol: {exc}"
        except (OSError, ValueError) as exc:
            why = f"the connection failed: {exc}"
        self._fail(self._gone(why))

    def _frame(self, header: Header, payload: bytes) -> None:
        kind = header.type
        if kind == Type.REPLY:
            body = decode_body(payload)
            if header.serial == 0 and header.status == Status.ERROR:
                # the daemon refused this client before any call (limits, credentials)
                self._fail(error_from_body(body))
                return
            with self._lock:
                waiter = self._waiting.pop(header.serial, None)
            if waiter is None:
                raise ProtocolError(f"a reply for serial {header.serial}, which was not called")
            waiter.status = Status(header.status) if header.status in (0, 1, 2) else Status.ERROR
            waiter.body = body
            waiter.latch.release()
        elif kind == Type.EVENT:
            if self.on_event is not None:
                try:
                    self.on_event(decode_body(payload))
                except Exception:
                    log.exception("delivering an event from %s", self.host)
        elif kind == Type.KEEPALIVE:
            if header.procedure == PING:
                try:
                    self.channel.send(encode(Header(PONG, Type.KEEPALIVE, header.serial)))
                except OSError:
                    pass
        else:
            raise ProtocolError(f"unexpected {Type(kind).name} frame from the daemon")

    def _gone(self, why: str) -> VirtError:
        return VirtError(ErrorCode.RPC, f"the connection to the daemon at {self.host} was lost: "
                         f"{why}", ErrorDomain.REMOTE)

    def _fail(self, error: VirtError) -> None:
        with self._lock:
            if self._lost is None:
                self._lost = error
            waiting, self._waiting = self._waiting, {}
        for waiter in waiting.values():
            waiter.status = -1  # type: ignore[assignment]
            waiter.body = error
            waiter.latch.release()
        self._wake.set()
        if not self._closed:
            self._closed = True
            try:
                self.channel.close()
            except OSError:
                pass

    # -- keepalive and close -------------------------------------------------------------------

    def _keepalive_loop(self, interval: float, count: int) -> None:
        while not self._wake.wait(interval):
            quiet = time.monotonic() - self.last_rx
            if quiet > interval * max(1, count):
                self._fail(self._gone(f"no keepalive answer for {quiet:.0f} s"))
                return
            if quiet >= interval:
                try:
                    self.channel.send(encode(Header(PING, Type.KEEPALIVE, 0)))
                except OSError:
                    pass

    @property
    def alive(self) -> bool:
        return self._lost is None

    def close(self) -> None:
        """Close the channel; waiting calls fail; the reader thread ends."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            if self._lost is None:
                self._lost = VirtError(ErrorCode.INVALID_CONN, f"the connection to the daemon at "
                                       f"{self.host} is closed", ErrorDomain.REMOTE)
        self._wake.set()
        try:
            self.channel.close()
        except OSError:
            pass
        if self._reader is not threading.current_thread():
            self._reader.join(timeout=5)
        if self._keepalive is not None and self._keepalive is not threading.current_thread():
            self._keepalive.join(timeout=5)


__all__ = ["HEADER", "RpcClient"]
