"""The :class:`Stream` handle: moves data of a volume upload or download (or a console).

A stream is opened by :meth:`StorageVolume.upload` / :meth:`StorageVolume.download`; it crosses
the hook boundary as an int id. Use it as a context manager: leaving the block normally finishes
the stream, an exception aborts it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from virtkit.sdk.errors import invalid_arg

if TYPE_CHECKING:
    from virtkit.api.connection import Connection

__all__ = ["MAX_CHUNK", "Stream"]

#: The most one send or recv moves (the hookspec's limit).
MAX_CHUNK = 1024 * 1024


class Stream:
    """One open stream on a connection; ``id`` is the driver's stream id."""

    __slots__ = ("_closed", "_conn", "_id", "direction")

    def __init__(self, conn: Connection, stream_id: int, direction: str = "") -> None:
        self._conn = conn
        self._id = stream_id
        self._closed = False
        self.direction = direction

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

    def finish(self) -> None:
        """Complete the stream normally (an upload's data is committed)."""
        self._conn.hooks.stream_finish(stream=self._id)
        self._closed = True

    def abort(self) -> None:
        """Abandon the stream."""
        self._conn.hooks.stream_abort(stream=self._id)
        self._closed = True

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._closed:
            return
        if exc_type is None:
            self.finish()
        else:
            self.abort()
