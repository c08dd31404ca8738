"""The stream hooks of both backends' consoles (``xl console`` for ``xen:///system``, XenAPI's
console connection for ``xenapi://``): a connection's open console streams by stream id, each an
object with ``recv(stream, nbytes, timeout)``, ``send(stream, data)`` and ``close()``."""

from __future__ import annotations

from typing import Any, Protocol

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl


class Stream(Protocol):
    name: str
    closed: bool

    def recv(self, stream: int, nbytes: int, timeout: float | None) -> bytes: ...
    def send(self, stream: int, data: bytes) -> int: ...
    def close(self) -> None: ...


def no_output(name: str, timeout: float | None) -> VirtError:
    """A console read that waited ``timeout`` seconds for nothing."""
    return VirtError(ErrorCode.OPERATION_TIMEOUT, f"no console output from domain '{name}' "
                     f"within {timeout:g}s", ErrorDomain.STREAMS)


def taken_over(stream: int, name: str) -> VirtError:
    """A write to a console stream another client took over (with ``force``)."""
    return VirtError(ErrorCode.INVALID_STREAM, f"stream {stream} was closed: the console of "
                     f"domain '{name}' was taken over", ErrorDomain.STREAMS)


def console_closed(stream: int, name: str, why: object) -> VirtError:
    """A write to a console whose far end went away (``why``: the error's text)."""
    return VirtError(ErrorCode.INVALID_STREAM, f"stream {stream}: the console of domain "
                     f"'{name}' closed ({why})", ErrorDomain.STREAMS)


class ConsoleStreamHooks:
    """Mixed into each backend's console hooks: the table of open streams and the four stream
    hooks (a finished or aborted stream is closed and leaves the table; a stream taken over by
    another console client stays in it, closed, until then)."""

    def _consoles(self: Any) -> dict[int, Any]:
        if not hasattr(self, "_console_streams"):
            self._console_streams: dict[int, Any] = {}
        streams: dict[int, Any] = self._console_streams
        return streams

    def close_consoles(self: Any) -> None:
        for s in list(self._consoles().values()):
            s.close()
        self._consoles().clear()

    def _stream(self: Any, stream: int) -> Stream:
        s: Stream | None = self._consoles().get(stream)
        if s is None:
            raise VirtError(ErrorCode.INVALID_STREAM, f"stream {stream} is not open (unknown, "
                            "finished or aborted)", ErrorDomain.STREAMS)
        return s

    @hookimpl
    def virtkit_stream_recv(self: Any, stream: int, nbytes: int,
                            timeout: float | None) -> bytes:
        data: bytes = self._stream(stream).recv(stream, nbytes, timeout)
        return data

    @hookimpl
    def virtkit_stream_send(self: Any, stream: int, data: bytes) -> int:
        n: int = self._stream(stream).send(stream, data)
        return n

    @hookimpl
    def virtkit_stream_finish(self: Any, stream: int) -> bool:
        self._stream(stream).close()
        self._consoles().pop(stream, None)
        return True

    @hookimpl
    def virtkit_stream_abort(self: Any, stream: int) -> bool:
        self._stream(stream).close()
        self._consoles().pop(stream, None)
        return True
