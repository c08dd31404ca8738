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
#: libvirt's virStreamEventType bits
READABLE, WRITABLE, ERROR, HANGUP = 1, 2, 4, 8
#: a hole of a sparse volume stream is a run of whole pages that read as zeros
PAGE = 4096
_ZERO_PAGE = bytes(PAGE)


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

    # sparse streams and readiness: a stream without holes reads its data as they are

    def recv_data(self, stream: int, nbytes: int, timeout: float | None) -> bytes:
        return self.recv(stream, nbytes, timeout)

    def recv_hole(self, stream: int) -> int:
        return 0  # a stream without holes

    def send_hole(self, stream: int, length: int) -> None:
        raise invalid_stream(stream, "cannot take holes: it is not a volume upload stream")

    def poll(self, stream: int, timeout: float) -> int:
        """libvirt's stream event bits that hold now (1 readable, 2 writable, 8 hang-up)."""
        return READABLE | WRITABLE


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


class SparseVolumeStream(VolumeStream):
    """A volume stream whose holes move as lengths: runs of whole pages (page-aligned) that
    read as zeros, and everything past the data written so far."""

    def _hole_at(self, pos: int) -> int:
        """The length of the hole starting at ``pos`` (0 at data, at the end, or off a page
        boundary)."""
        end = min(self.end, self.vol.capacity)
        if pos >= end or pos % PAGE:
            return 0
        data = self.vol.data
        if pos >= len(data):
            return end - pos
        p = pos
        while p < end:
            if p >= len(data):
                return end - pos
            page = data[p : min(p + PAGE, end)]
            if page.count(0) != len(page):
                break
            p += len(page)
        return p - pos

    def _data_until(self, pos: int) -> int:
        """Where the data starting at ``pos`` ends: the next hole's start, or the end."""
        end = min(self.end, self.vol.capacity)
        p = (pos // PAGE + 1) * PAGE
        while p < end:
            if self._hole_at(p):
                return p
            p += PAGE
        return end

    def recv_data(self, stream: int, nbytes: int, timeout: float | None) -> bytes:
        if self.upload:
            return super().recv(stream, nbytes, timeout)
        with self.node.lock:
            self._check_alive(stream)
            if self._hole_at(self.pos):
                return b""
            n = min(nbytes, self._data_until(self.pos) - self.pos)
            if n <= 0:
                return b""
            chunk = self.vol.read(self.pos, n)
            self.pos += n
            return chunk

    def recv_hole(self, stream: int) -> int:
        if self.upload:
            raise invalid_stream(stream, "cannot be read: it is an upload stream")
        with self.node.lock:
            self._check_alive(stream)
            hole = self._hole_at(self.pos)
            self.pos += hole
            return hole

    def send_hole(self, stream: int, length: int) -> None:
        if not self.upload:
            super().send_hole(stream, length)
        with self.node.lock:
            self._check_alive(stream)
            limit = min(self.end, self.vol.capacity)
            if self.pos + length > limit:
                raise _stream_arg(f"a hole of {length} bytes at offset {self.pos} of volume "
                                  f"'{self.vol.name}' goes past the end of the upload range "
                                  f"({limit} bytes)")
            data = self.vol.data
            stop = min(self.pos + length, len(data))
            if stop > self.pos:
                data[self.pos:stop] = bytes(stop - self.pos)
            self.pos += length

    def poll(self, stream: int, timeout: float) -> int:
        return WRITABLE if self.upload else READABLE


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

    @hookimpl
    def virtkit_stream_recv_data(self, stream: int, nbytes: int,
                                 timeout: float | None) -> bytes:
        if not 1 <= nbytes <= MAX_CHUNK:
            raise _stream_arg(f"cannot receive {nbytes!r} bytes from stream {stream} "
                              f"(1 .. {MAX_CHUNK})")
        return self._stream(stream).recv_data(stream, nbytes, timeout)

    @hookimpl
    def virtkit_stream_recv_hole(self, stream: int) -> int:
        return self._stream(stream).recv_hole(stream)

    @hookimpl
    def virtkit_stream_send_hole(self, stream: int, length: int) -> bool:
        self._stream(stream).send_hole(stream, length)
        return True

    @hookimpl
    def virtkit_stream_poll(self, stream: int, timeout: float) -> int:
        return self._stream(stream).poll(stream, max(0.0, min(timeout, 60.0)))
