"""Volume upload and download streams of the host storage service.

A stream is an open file descriptor on the volume's file or device (opened with ``O_NOFOLLOW``),
a position and an end. Stream ids come from one counter per process starting at 2**32, apart from
the small ids a hypervisor driver gives its own streams (consoles), so that the dispatcher can
route a stream call to the provider that opened it; each service instance (one per connection)
keeps its own table, and an id that is not in it is INVALID_STREAM. Progress is the stream's
position; abort closes the file (an upload's data written so far stays, as in libvirt).
"""

from __future__ import annotations

import itertools
import os
import threading
import weakref

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl

MAX_CHUNK = 1024 * 1024
MAX_OPEN_STREAMS = 64
_IDS = itertools.count(1 << 32)
_IDS_LOCK = threading.Lock()


def _arg(message: str) -> VirtError:
    return VirtError(ErrorCode.INVALID_ARG, f"invalid argument: {message}", ErrorDomain.STREAMS)


def _invalid(stream: int, why: str) -> VirtError:
    return VirtError(ErrorCode.INVALID_STREAM, f"stream {stream} {why}", ErrorDomain.STREAMS)


class VolumeStream:
    """Reads or writes bytes ``[pos, end)`` of a volume (``end`` None: no end for uploads of
    image formats, whose files grow)."""

    def __init__(self, fd: int, volume: str, upload: bool, offset: int, end: int | None) -> None:
        self.fd = fd
        self.volume = volume
        self.upload = upload
        self.start = offset
        self.pos = offset
        self.end = end
        self.lock = threading.Lock()
        self.closed = False
        # a stream its connection never finished: the file closes when the stream is collected
        self._finalizer = weakref.finalize(self, os.close, fd)

    @property
    def transferred(self) -> int:
        return self.pos - self.start

    def send(self, stream: int, data: bytes) -> int:
        if not self.upload:
            raise _invalid(stream, "cannot be written: it is a download stream")
        with self.lock:
            if self.end is not None and self.pos + len(data) > self.end:
                raise _arg(
                    f"writing {len(data)} bytes at offset {self.pos} of volume "
                    f"'{self.volume}' goes past the end of the upload range ({self.end} bytes)"
                )
            view = memoryview(data)
            while view:
                n = os.pwrite(self.fd, view, self.pos)
                self.pos += n
                view = view[n:]
            return len(data)

    def recv(self, stream: int, nbytes: int) -> bytes:
        if self.upload:
            raise _invalid(stream, "cannot be read: it is an upload stream")
        with self.lock:
            end = self.end if self.end is not None else self.pos + nbytes
            n = min(nbytes, end - self.pos)
            if n <= 0:
                return b""
            chunk = os.pread(self.fd, n, self.pos)
            self.pos += len(chunk)
            return chunk

    def close(self, commit: bool) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
            try:
                if commit and self.upload:
                    os.fsync(self.fd)
            finally:
                self._finalizer()


class StreamHooks:
    """The ``virtkit_stream_*`` hooks for the volume streams this service opened."""

    def __init__(self) -> None:
        self._streams: dict[int, VolumeStream] = {}
        self._streams_lock = threading.Lock()

    def _open_stream(self, st: VolumeStream) -> int:
        with self._streams_lock:
            if len(self._streams) >= MAX_OPEN_STREAMS:
                st.close(False)
                raise VirtError(
                    ErrorCode.OPERATION_FAILED,
                    f"too many open streams on this connection (at most {MAX_OPEN_STREAMS})",
                    ErrorDomain.STREAMS,
                )
            with _IDS_LOCK:
                sid = next(_IDS)
            self._streams[sid] = st
            return sid

    def stream_progress(self, stream: int) -> tuple[int, int | None] | None:
        """Bytes moved so far and the total (None: open-ended) of one of our streams."""
        with self._streams_lock:
            st = self._streams.get(stream)
        if st is None:
            return None
        return st.transferred, None if st.end is None else st.end - st.start

    def close_streams(self) -> None:
        """Abort every stream this service opened (the connection is closing)."""
        with self._streams_lock:
            streams = list(self._streams.values())
            self._streams.clear()
        for st in streams:
            st.close(False)

    def _get(self, stream: int) -> VolumeStream:
        st = self._streams.get(stream)
        if st is None:
            raise _invalid(stream, "is not open (unknown, finished or aborted)")
        return st

    def _pop(self, stream: int) -> VolumeStream:
        with self._streams_lock:
            st = self._streams.pop(stream, None)
        if st is None:
            raise _invalid(stream, "is not open (unknown, finished or aborted)")
        return st

    @hookimpl
    def virtkit_stream_recv(self, stream: int, nbytes: int, timeout: float | None) -> bytes:
        st = self._get(stream)
        if not isinstance(nbytes, int) or not 1 <= nbytes <= MAX_CHUNK:
            raise _arg(f"cannot receive {nbytes!r} bytes from stream {stream} (1 .. {MAX_CHUNK})")
        return st.recv(stream, nbytes)

    @hookimpl
    def virtkit_stream_send(self, stream: int, data: bytes) -> int:
        st = self._get(stream)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise _arg(f"data sent to stream {stream} must be bytes")
        if len(data) > MAX_CHUNK:
            raise _arg(f"cannot send {len(data)} bytes to stream {stream} at once "
                       f"(at most {MAX_CHUNK})")
        return st.send(stream, bytes(data))

    @hookimpl
    def virtkit_stream_finish(self, stream: int) -> bool:
        self._pop(stream).close(True)
        return True

    @hookimpl
    def virtkit_stream_abort(self, stream: int) -> bool:
        self._pop(stream).close(False)
        return True
