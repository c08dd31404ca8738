"""The :class:`Stream` handle: moves data of a volume upload or download (or a console).

A stream is opened by :meth:`StorageVolume.upload` / :meth:`StorageVolume.download`; it crosses
the hook boundary as an int id. Use it as a context manager: leaving the block normally finishes
the stream, an exception aborts it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from virtkit.sdk.errors import invalid_arg

if TYPE_CHECKING:
    from virtkit.api.connection import Connection

__all__ = [
    "EVENT_ERROR", "EVENT_HANGUP", "EVENT_READABLE", "EVENT_WRITABLE", "MAX_CHUNK",
    "RECV_STOP_AT_HOLE", "Stream",
]

#: The most one send or recv moves (the hookspec's limit).
MAX_CHUNK = 1024 * 1024
#: libvirt's virStreamEventType bits
EVENT_READABLE, EVENT_WRITABLE, EVENT_ERROR, EVENT_HANGUP = 1, 2, 4, 8
#: libvirt's virStreamRecvFlagsValues
RECV_STOP_AT_HOLE = 1
#: what recv_flags returns at a hole, and a non-blocking recv with nothing to read (libvirt's)
AT_HOLE, WOULD_BLOCK = -3, -2


class Stream:
    """One open stream on a connection; ``id`` is the driver's stream id."""

    __slots__ = ("_closed", "_conn", "_hole", "_id", "_watch", "direction", "nonblocking")

    def __init__(self, conn: Connection, stream_id: int, direction: str = "") -> None:
        self._conn = conn
        self._id = stream_id
        self._closed = False
        self.direction = direction
        #: recv returns -2 instead of waiting when nothing can be read (libvirt's NONBLOCK)
        self.nonblocking = False
        self._hole = 0  # a hole recv_flags stopped at, for recv_hole
        self._watch: _Watch | None = None

    @property
    def connection(self) -> Connection:
        return self._conn

    @property
    def id(self) -> int:
        return self._id

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<virtkit.Stream {self._id} {self.direction}{state}>"

    # -- data ---------------------------------------------------------------------------------

    def send(self, data: bytes) -> int:
        """Write ``data`` (at most 1 MiB); returns the number of bytes taken."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise invalid_arg(f"stream data must be bytes, not {type(data).__name__}")
        chunk = bytes(data)
        if len(chunk) > MAX_CHUNK:
            raise invalid_arg(f"cannot send {len(chunk)} bytes at once (at most {MAX_CHUNK})")
        return self._conn.hooks.stream_send(stream=self._id, data=chunk)

    def recv(self, nbytes: int = MAX_CHUNK, timeout: float | None = None) -> bytes:
        """Read up to ``nbytes`` (1 .. 1 MiB); ``b""`` at the end of the stream."""
        if not isinstance(nbytes, int) or isinstance(nbytes, bool) or not 1 <= nbytes <= MAX_CHUNK:
            raise invalid_arg(f"cannot receive {nbytes!r} bytes (1 .. {MAX_CHUNK})")
        data: bytes = self._conn.hooks.stream_recv(stream=self._id, nbytes=nbytes, timeout=timeout
        )
        return data

    def send_all(self, data: bytes | Iterable[bytes]) -> int:
        """Send ``data`` (bytes, or an iterable of bytes chunks) in pieces of at most 1 MiB;
        returns the total sent. Does not finish the stream."""
        if isinstance(data, (bytes, bytearray, memoryview)):
            chunks: Iterable[bytes] = [bytes(data)]
        elif isinstance(data, str) or not isinstance(data, Iterable):
            raise invalid_arg(f"stream data must be bytes or chunks, not {type(data).__name__}")
        else:
            chunks = data
        total = 0
        for chunk in chunks:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise invalid_arg(f"stream data chunks must be bytes, not {type(chunk).__name__}")
            view = memoryview(bytes(chunk))
            for start in range(0, len(view), MAX_CHUNK):
                total += self.send(view[start : start + MAX_CHUNK].tobytes())
        return total

    def recv_all(self) -> bytes:
        """Read until the end of the stream; returns everything read. Does not finish it."""
        parts: list[bytes] = []
        while True:
            chunk = self.recv(MAX_CHUNK)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)

    # -- closing ------------------------------------------------------------------------------

    # -- sparse streams ---------------------------------------------------------------------

    def recv_flags(self, nbytes: int = MAX_CHUNK, flags: int = 0) -> bytes | int:
        """As :meth:`recv`; with ``RECV_STOP_AT_HOLE`` it stops before a hole and returns -3
        there (then :meth:`recv_hole` gives its length). A non-blocking stream returns -2 when
        nothing can be read now."""
        if flags & ~RECV_STOP_AT_HOLE:
            raise invalid_arg(f"unsupported stream recv flags {flags!r}")
        if not isinstance(nbytes, int) or isinstance(nbytes, bool) or not 1 <= nbytes <= MAX_CHUNK:
            raise invalid_arg(f"cannot receive {nbytes!r} bytes (1 .. {MAX_CHUNK})")
        if not flags & RECV_STOP_AT_HOLE:
            return self._recv_now(nbytes)
        if self._hole:
            return AT_HOLE
        data: bytes = self._conn.hooks.stream_recv_data(
            stream=self._id, nbytes=nbytes, timeout=0.0 if self.nonblocking else None)
        if data:
            return data
        self._hole = self._conn.hooks.stream_recv_hole(stream=self._id)
        return AT_HOLE if self._hole else b""

    def _recv_now(self, nbytes: int) -> bytes | int:
        if not self.nonblocking:
            return self.recv(nbytes)
        from virtkit.sdk.errors import ErrorCode, VirtError

        try:
            return self.recv(nbytes, timeout=0.0)
        except VirtError as exc:
            if exc.code == ErrorCode.OPERATION_TIMEOUT:
                return WOULD_BLOCK
            raise

    def recv_hole(self, flags: int = 0) -> int:
        """The length of the hole the stream is at (after ``recv_flags`` returned -3), skipped;
        0 at data."""
        if flags:
            raise invalid_arg(f"unsupported flags {flags!r}")
        hole, self._hole = self._hole, 0
        return hole or self._conn.hooks.stream_recv_hole(stream=self._id)

    def send_hole(self, length: int, flags: int = 0) -> None:
        """Write a hole of ``length`` bytes (reads back as zeros, moves no data)."""
        if flags:
            raise invalid_arg(f"unsupported flags {flags!r}")
        self._conn.hooks.stream_send_hole(stream=self._id, length=length)

    def sparse_recv_all(
        self, handler: Callable[[Stream, bytes, Any], int],
        hole_handler: Callable[[Stream, int, Any], int], opaque: Any = None,
    ) -> None:
        """Read to the end: ``handler(stream, data, opaque)`` for data,
        ``hole_handler(stream, length, opaque)`` for each hole; a handler returning a negative
        number aborts the stream (libvirt-python's sparseRecvAll)."""
        while True:
            got = self.recv_flags(MAX_CHUNK, RECV_STOP_AT_HOLE)
            if got == AT_HOLE:
                result = hole_handler(self, self.recv_hole(), opaque)
            elif isinstance(got, bytes) and got:
                result = handler(self, got, opaque)
            else:
                return
            if result is not None and result < 0:
                self.abort()
                raise invalid_arg("a sparse_recv_all handler asked to abort the stream")

    def sparse_send_all(
        self, handler: Callable[[Stream, int, Any], bytes],
        hole_handler: Callable[[Stream, Any], tuple[bool, int]],
        skip_handler: Callable[[Stream, int, Any], int], opaque: Any = None,
    ) -> None:
        """Send until ``hole_handler(stream, opaque)`` says ``(False, 0)``: for
        ``(True, n)`` up to n bytes from ``handler(stream, nbytes, opaque)``, for ``(False,
        n)`` ``skip_handler(stream, n, opaque)`` then a hole of n bytes (libvirt-python's
        sparseSendAll). Does not finish the stream."""
        while True:
            in_data, length = hole_handler(self, opaque)
            if not in_data and length == 0:
                return
            if not in_data:
                if skip_handler(self, length, opaque) < 0:
                    self.abort()
                    raise invalid_arg("a sparse_send_all skip handler asked to abort")
                self.send_hole(length)
                continue
            while length > 0:
                data = handler(self, min(length, MAX_CHUNK), opaque)
                if not data:
                    return
                self.send(data)
                length -= len(data)

    # -- event callbacks (non-blocking use) ---------------------------------------------------

    def event_add_callback(
        self, events: int, cb: Callable[[Stream, int, Any], Any], opaque: Any = None
    ) -> None:
        """Call ``cb(stream, events_now, opaque)`` from a watcher thread whenever some of
        ``events`` (EVENT_READABLE, EVENT_WRITABLE, EVENT_ERROR, EVENT_HANGUP) hold; one
        callback per stream, as libvirt's."""
        if self._watch is not None:
            raise invalid_arg(f"stream {self._id} already has an event callback")
        self._watch = _Watch(self, events, cb, opaque)
        self._watch.thread.start()

    def event_update_callback(self, events: int) -> None:
        if self._watch is None:
            raise invalid_arg(f"stream {self._id} has no event callback")
        self._watch.events = events

    def event_remove_callback(self) -> None:
        if self._watch is None:
            raise invalid_arg(f"stream {self._id} has no event callback")
        self._watch.stop()
        self._watch = None

    def finish(self) -> None:
        """Complete the stream normally (an upload's data is committed)."""
        self._unwatch()
        self._conn.hooks.stream_finish(stream=self._id)
        self._closed = True

    def abort(self) -> None:
        """Abandon the stream."""
        self._unwatch()
        self._conn.hooks.stream_abort(stream=self._id)
        self._closed = True

    def _unwatch(self) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._closed:
            return
        if exc_type is None:
            self.finish()
        else:
            self.abort()


class _Watch:
    """The watcher thread of a stream's event callback: polls the stream's readiness through
    the ``stream_poll`` hook and calls the callback while the asked events hold."""

    def __init__(self, stream: Stream, events: int,
                 cb: Callable[[Stream, int, Any], Any], opaque: Any) -> None:
        self.stream = stream
        self.events = events
        self.cb = cb
        self.opaque = opaque
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"virtkit-stream-{stream.id}",
                                       daemon=True)

    def _run(self) -> None:
        import logging

        from virtkit.sdk.errors import VirtError

        hooks = self.stream.connection.hooks
        while not self._stop.is_set():
            try:
                ready = hooks.stream_poll(stream=self.stream.id, timeout=0.1)
            except VirtError:
                ready = EVENT_ERROR | EVENT_HANGUP
            wanted = ready & (self.events | EVENT_ERROR | EVENT_HANGUP)
            if wanted and not self._stop.is_set():
                try:
                    self.cb(self.stream, wanted, self.opaque)
                except Exception:
                    logging.getLogger("virtkit").exception("stream event callback failed")
                if ready & (EVENT_ERROR | EVENT_HANGUP):
                    return
            if not wanted:
                self._stop.wait(0.01)

    def stop(self) -> None:
        self._stop.set()
        if self.thread is not threading.current_thread():
            self.thread.join(timeout=5)
