"""Data streams of the test driver: volume upload and download (and any other stream kind).

Each driver instance (one per connection) keeps its own table of open streams keyed by int ids,
so a connection can only use the streams it opened. An operation that opens a stream builds a
:class:`TestStream` and registers it with :func:`open_stream`; the stream hooks below look it up
and move its data.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from typing import TYPE_CHECKING

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl

if TYPE_CHECKING:
    from virtkit.drivers.test.node import TestNode, TestPool, TestVolume

MAX_CHUNK = 1024 * 1024
MAX_OPEN_STREAMS = 64


def invalid_stream(
    stream: int, why: str = "is not open (unknown, finished or aborted)"
) -> VirtError:
    return VirtError(ErrorCode.INVALID_STREAM, f"stream {stream} {why}", ErrorDomain.STREAMS)


def _stream_arg(message: str) -> VirtError:
    return VirtError(ErrorCode.INVALID_ARG, f"invalid argument: {message}", ErrorDomain.STREAMS)


class TestStream:
    """One open stream; subclasses implement the directions they support."""

    __test__ = False

    def send(self, stream: int, data: bytes) -> int:
        raise invalid_stream(stream, "cannot be written: it is a download stream")

    def recv(self, stream: int, nbytes: int, timeout: float | None) -> bytes:
        raise invalid_stream(stream, "cannot be read: it is an upload stream")

    def finish(self, stream: int) -> None:
        """Complete normally."""

    def abort(self, stream: int) -> None:
        """Abandon."""


class VolumeStream(TestStream):
    """Reads or writes the bytes ``[pos, end)`` of an in-memory volume, under the node's lock."""

    def __init__(
        self, node: TestNode, pool: TestPool, vol: TestVolume, upload: bool, offset: int, end: int
    ) -> None:
        self.node = node
        self.pool = pool
        self.vol = vol
        self.upload = upload
        self.pos = offset
        self.end = end

    def _check_alive(self, stream: int) -> None:
        pool, vol = self.pool, self.vol
        if (
            not pool.active
            or self.node.pools.get(pool.name) is not pool
            or pool.volumes.get(vol.name) is not vol
        ):
            raise invalid_stream(
                stream,
                f"is broken: volume '{vol.name}' of storage pool '{pool.name}' was deleted "
                f"or its pool stopped",
            )

    def send(self, stream: int, data: bytes) -> int:
        if not self.upload:
            return super().send(stream, data)
        with self.node.lock:
            self._check_alive(stream)
            limit = min(self.end, self.vol.capacity)
            if self.pos + len(data) > limit:
                raise _stream_arg(
                    f"writing {len(data)} bytes at offset {self.pos} of volume "
                    f"'{self.vol.name}' goes past the end of the upload range ({limit} bytes)"
                )
            self.vol.write(self.pos, data)
            self.pos += len(data)
            return len(data)

    def recv(self, stream: int, nbytes: int, timeout: float | None) -> bytes:
        if self.upload:
            return super().recv(stream, nbytes, timeout)
        with self.node.lock:
            self._check_alive(stream)
            n = min(nbytes, min(self.end, self.vol.capacity) - self.pos)
            if n <= 0:
                return b""
            chunk = self.vol.read(self.pos, n)
            self.pos += n
            return chunk


class _Table:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.streams: dict[int, TestStream] = {}
        self.ids = itertools.count(1)


_TABLES: weakref.WeakKeyDictionary[object, _Table] = weakref.WeakKeyDictionary()
_TABLES_LOCK = threading.Lock()


def _table(driver: object) -> _Table:
    with _TABLES_LOCK:
        table = _TABLES.get(driver)
        if table is None:
            table = _TABLES[driver] = _Table()
        return table


def open_stream(driver: object, stream: TestStream) -> int:
    """Register ``stream`` in ``driver``'s table; returns its new id."""
    table = _table(driver)
    with table.lock:
        if len(table.streams) >= MAX_OPEN_STREAMS:
            raise VirtError(
                ErrorCode.OPERATION_FAILED,
                f"too many open streams on this connection (at most {MAX_OPEN_STREAMS})",
                ErrorDomain.STREAMS,
            )
        sid = next(table.ids)
        table.streams[sid] = stream
        return sid


def close_streams(driver: object) -> None:
    """Abort and forget every stream ``driver`` opened (when its connection closes)."""
    table = _table(driver)
    with table.lock:
        streams = list(table.streams.items())
        table.streams.clear()
    for sid, st in streams:
        try:
            st.abort(sid)
        except VirtError:
            pass


class StreamMixin:
    """Stream hooks of :class:`~virtkit.drivers.test.driver.TestDriver`."""

    def _stream(self, stream: int) -> TestStream:
        table = _table(self)
        with table.lock:
            st = table.streams.get(stream)
        if st is None:
            raise invalid_stream(stream)
        return st

    def _close_stream(self, stream: int) -> TestStream:
        table = _table(self)
        with table.lock:
            st = table.streams.pop(stream, None)
        if st is None:
            raise invalid_stream(stream)
        return st

    @hookimpl
    def virtkit_stream_recv(self, stream: int, nbytes: int, timeout: float | None) -> bytes:
        if not isinstance(nbytes, int) or not 1 <= nbytes <= MAX_CHUNK:
            raise _stream_arg(f"cannot receive {nbytes!r} bytes from stream {stream} "
                              f"(1 .. {MAX_CHUNK})")
        return self._stream(stream).recv(stream, nbytes, timeout)

    @hookimpl
    def virtkit_stream_send(self, stream: int, data: bytes) -> int:
        if not isinstance(data, bytes):
            raise _stream_arg(f"data sent to stream {stream} must be bytes")
        if len(data) > MAX_CHUNK:
            raise _stream_arg(
                f"cannot send {len(data)} bytes to stream {stream} at once (at most {MAX_CHUNK})"
            )
        return self._stream(stream).send(stream, data)

    @hookimpl
    def virtkit_stream_finish(self, stream: int) -> bool:
        self._close_stream(stream).finish(stream)
        return True

    @hookimpl
    def virtkit_stream_abort(self, stream: int) -> bool:
        self._close_stream(stream).abort(stream)
        return True
