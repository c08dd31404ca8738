"""The client side of the wire: calls matched to replies by serial, events, keepalive.

Any number of threads may call at once: each call gets a serial, its frame is written whole, and
the reply goes to the call that waits for it (see :class:`RpcClient`). EVENT frames go to
``on_event``. Keepalive: after ``interval`` seconds without a frame from the daemon the client
pings; after ``count`` intervals it gives the daemon up, closes the channel and fails every
waiting call.
"""

from __future__ import annotations

import itertools
import logging
import select
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
    PROGRAM,
    Header,
    ProtocolError,
    Status,
    Type,
    decode_body,
    encode,
    error_from_body,
    frame,
    pack_body,
    parse_header,
)
from virtkit.remote.transport import Channel
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError

log = logging.getLogger("virtkit.remote")

# plain ints on the call path (an IntEnum compares and builds slower)
CALL, REPLY = int(Type.CALL), int(Type.REPLY)
OK, ERROR, UNKNOWN_PROCEDURE = int(Status.OK), int(Status.ERROR), int(Status.UNKNOWN_PROCEDURE)
_STATUSES = frozenset((OK, ERROR, UNKNOWN_PROCEDURE))
_unpack_header = HEADER.unpack_from


class _Waiter:
    """One call's reply, once ``done``. Its defaults are class attributes, so that making one
    runs no Python code."""

    done = False
    status = OK
    body: Any = None
    lost: VirtError | None = None


class RpcClient:
    """Frames over one channel to one daemon named ``host`` (used in error messages).

    There is no reader thread on the way of a reply: a calling thread reads the channel itself
    while it waits (one thread at a time holds the reading role and hands other callers their
    replies), so a reply reaches its caller without a thread switch. A background thread reads
    only while nobody calls: events and keepalive pings of an idle connection.
    """

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
        # one lock: ``_lock`` for the short sections (a plain lock's with-statement costs far
        # less than a Condition's), ``_cond`` on the same lock to sleep on
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._reading = False
        self._sleepers = 0  # callers waiting on _cond for a reply or the reading role
        self._buf = bytearray()
        self._closed = False
        self._lost: VirtError | None = None
        self.last_rx = time.monotonic()
        self._interval = keepalive_interval
        self._count = keepalive_count
        self._wake = threading.Event()
        self._idle = threading.Thread(target=self._idle_loop, name="virtkit-remote-idle",
                                      daemon=True)
        self._idle.start()

    # -- calls ---------------------------------------------------------------------------------

    def call(self, name: str, body: Any = None) -> Any:
        """Call procedure ``name``; returns the reply's ``r`` (or the whole body); raises the
        far side's VirtError."""
        number = procs.table()[name]
        return self.call_number(number, name, body)

    def call_number(self, number: int, name: str, body: Any = None) -> Any:
        # the whole frame first: a body that is not plain data or too large for a frame
        # raises here, before the call is registered (and the reading role taken)
        serial = next(self._serials) & 0xFFFFFFFF  # (one C call, atomic)
        data = frame(number, CALL, serial, 0, pack_body(body))
        waiter = _Waiter()
        with self._lock:
            if self._lost is not None:
                raise self._lost
            self._waiting[serial] = waiter
            # the reading role, if nobody holds it: then this thread reads its own reply
            reading = not self._reading
            if reading:
                self._reading = True
        try:
            self.channel.send(data)
        except OSError as exc:
            with self._lock:
                self._waiting.pop(serial, None)
            if reading:
                self._give_up_reading()
            raise self._gone(f"sending {name.lstrip('@')}: {exc}") from None
        if reading:
            self._read_until(waiter)
        else:
            self._wait(waiter)
        if waiter.lost is not None:
            raise waiter.lost
        status = waiter.status
        if status == OK:
            reply = waiter.body
            if type(reply) is not dict:
                return reply
            if "w" in reply:
                for message in reply["w"]:
                    log.warning("%s (daemon at %s)", message, self.host)
            return reply.get("r")
        if status == UNKNOWN_PROCEDURE:
            raise VirtError(
                ErrorCode.NO_SUPPORT,
                f"the daemon at {self.host} is older than this client: it lacks "
                f"{name.lstrip('@')}",
                ErrorDomain.REMOTE,
            )
        raise error_from_body(waiter.body)

    def _wait(self, waiter: _Waiter) -> None:
        """Until ``waiter`` has its reply: read the channel if nobody else does, else sleep until
        the reader hands the reply over (or gives up the reading role)."""
        with self._cond:
            while not waiter.done:
                if not self._reading:
                    self._reading = True
                    break
                self._sleepers += 1
                self._cond.wait()
                self._sleepers -= 1
            else:
                return
        self._read_until(waiter)

    def _read_until(self, waiter: _Waiter) -> None:
        """Holding the reading role: read frames until ``waiter`` has its reply, then give the
        role up."""
        recv = self.channel.recv
        try:
            while not waiter.done:
                if not self._buf:
                    # the usual case: one read brings exactly one frame, parsed where it lies
                    chunk = recv(65536)
                    if not chunk:
                        raise EOFError
                    self.last_rx = time.monotonic()
                    if len(chunk) >= HEADER_SIZE:
                        # a whole reply (parse_header's checks: a length that is the chunk's
                        # is within bounds, and a REPLY is a known type)
                        length, program, _, _, kind, serial, status = _unpack_header(chunk)
                        if length == len(chunk) and kind == REPLY and program == PROGRAM \
                                and serial:
                            self._reply(serial, status, decode_body(chunk[HEADER_SIZE:]))
                            continue
                        size, header = parse_header(chunk)
                        if len(chunk) == HEADER_SIZE + size:
                            self._frame(header, chunk[HEADER_SIZE:])
                            continue
                    self._buf += chunk
                self._read_one()
        except Exception as exc:
            self._fail(self._gone(self._why(exc)))
        finally:
            self._give_up_reading()

    def _give_up_reading(self) -> None:
        with self._lock:
            self._reading = False
            if self._sleepers:
                self._cond.notify_all()

    # -- reading -------------------------------------------------------------------------------

    def _read_one(self) -> None:
        """Read one whole frame and act on it (only the holder of the reading role calls)."""
        buf = self._buf
        if not buf:
            # the usual case: one read brings exactly one frame, which is parsed where it lies
            chunk = self._recv()
            if len(chunk) >= HEADER_SIZE:
                size, header = parse_header(chunk)
                if len(chunk) == HEADER_SIZE + size:
                    self._frame(header, chunk[HEADER_SIZE:])
                    return
            buf += chunk
        while len(buf) < HEADER_SIZE:
            buf += self._recv()
        size, header = parse_header(buf)
        need = HEADER_SIZE + size
        while len(buf) < need:
            buf += self._recv()
        payload = bytes(buf[HEADER_SIZE:need])
        del buf[:need]
        self._frame(header, payload)

    def _recv(self) -> bytes:
        chunk = self.channel.recv(65536)
        if not chunk:
            raise EOFError
        self.last_rx = time.monotonic()
        return chunk

    @staticmethod
    def _why(exc: BaseException) -> str:
        if isinstance(exc, EOFError):
            return "the daemon closed the connection"
        if isinstance(exc, ProtocolError):
            return f"the daemon broke the protocol: {exc}"
        return f"the connection failed: {exc}"

    def _frame(self, header: Header, payload: bytes) -> None:
        kind = header.type
        if kind == REPLY:
            body = decode_body(payload)
            serial, status = header.serial, header.status
            if serial == 0 and status == ERROR:
                # the daemon refused this client before any call (limits, credentials)
                self._fail(error_from_body(body))
                return
            self._reply(serial, status, body)
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

    def _reply(self, serial: int, status: int, body: Any) -> None:
        """Hand a call's reply to its waiter."""
        with self._lock:
            waiter = self._waiting.pop(serial, None)
            if waiter is None:
                raise ProtocolError(f"a reply for serial {serial}, which was not called")
            waiter.status = status if status in _STATUSES else ERROR
            waiter.body = body
            waiter.done = True
            if self._sleepers:
                self._cond.notify_all()

    def _gone(self, why: str) -> VirtError:
        return VirtError(ErrorCode.RPC, f"the connection to the daemon at {self.host} was lost: "
                         f"{why}", ErrorDomain.REMOTE)

    def _fail(self, error: VirtError) -> None:
        with self._cond:
            if self._lost is None:
                self._lost = error
            waiting, self._waiting = self._waiting, {}
            for waiter in waiting.values():
                waiter.lost = error
                waiter.done = True
            self._cond.notify_all()
        self._wake.set()
        if not self._closed:
            self._closed = True
            try:
                self.channel.close()
            except OSError:
                pass

    # -- idle reading, keepalive and close ---------------------------------------------------

    def _idle_loop(self) -> None:
        """While nobody calls: read events and pings; ping a quiet daemon every interval and
        give it up after ``count`` quiet intervals."""
        interval, count = self._interval, self._count
        last_ping = time.monotonic()
        while not self._wake.is_set():
            if self._reading or self._waiting:
                # a caller reads; look again soon (callers do not wake this thread, so that a
                # call costs no thread switch)
                self._wake.wait(min(0.1, interval / 4) if interval > 0 else 0.1)
                readable = False
            else:
                readable = self.channel.pending() > 0
            if not readable and not (self._reading or self._waiting):
                try:
                    readable = bool(select.select([self.channel], [], [], 0.25)[0])
                except (OSError, ValueError):
                    return
            if self._wake.is_set():
                return
            if readable:
                with self._cond:
                    if self._reading or self._waiting:
                        continue  # a caller reads (or is about to)
                    self._reading = True
                try:
                    self._read_one()
                except Exception as exc:
                    self._fail(self._gone(self._why(exc)))
                    return
                finally:
                    self._give_up_reading()
            if interval <= 0:
                continue
            now = time.monotonic()
            quiet = now - self.last_rx
            if quiet > interval * max(1, count):
                self._fail(self._gone(f"no keepalive answer for {quiet:.0f} s"))
                return
            if quiet >= interval and now - last_ping >= interval:
                last_ping = now
                try:
                    self.channel.send(encode(Header(PING, Type.KEEPALIVE, 0)))
                except OSError:
                    pass

    @property
    def alive(self) -> bool:
        return self._lost is None

    def close(self) -> None:
        """Close the channel; waiting calls fail; the idle thread ends."""
        if self._closed:
            return
        self._closed = True
        with self._cond:
            if self._lost is None:
                self._lost = VirtError(ErrorCode.INVALID_CONN, f"the connection to the daemon at "
                                       f"{self.host} is closed", ErrorDomain.REMOTE)
        self._wake.set()
        try:
            self.channel.close()
        except OSError:
            pass
        if self._idle is not threading.current_thread():
            self._idle.join(timeout=5)


__all__ = ["HEADER", "RpcClient"]
