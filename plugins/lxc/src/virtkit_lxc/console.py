"""The container console as a stream: a connection to the supervisor, which relays the pty;
one client at a time unless ``force`` takes it over."""

from __future__ import annotations

import contextlib
import itertools
import select
import socket
from typing import Any

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef
from virtkit_lxc import runner

MAX_CHUNK = 1024 * 1024
_ids = itertools.count(1)


def invalid_stream(stream: int) -> VirtError:
    return VirtError(ErrorCode.INVALID_STREAM,
                     f"stream {stream} is not open (unknown, finished or aborted)",
                     ErrorDomain.STREAMS)


class ConsoleStream:
    def __init__(self, name: str, sock: socket.socket) -> None:
        self.name = name
        self.sock = sock

    def recv(self, stream: int, nbytes: int, timeout: float | None) -> bytes:
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            raise VirtError(ErrorCode.OPERATION_TIMEOUT,
                            f"no console output from domain '{self.name}' within "
                            f"{timeout:g}s", ErrorDomain.STREAMS)
        try:
            return self.sock.recv(min(nbytes, MAX_CHUNK))
        except OSError:
            return b""

    def send(self, stream: int, data: bytes) -> int:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise VirtError(ErrorCode.INVALID_STREAM,
                            f"stream {stream}: the console of domain '{self.name}' closed "
                            f"({exc.strerror})", ErrorDomain.STREAMS) from None
        return len(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class ConsoleMixin:
    _streams: dict[int, Any]
    lock: Any

    def _active(self, dom: DomainRef) -> Any: ...

    def close_streams(self) -> None:
        for s in list(self._streams.values()):
            s.close()
        self._streams.clear()

    @hookimpl
    def virtkit_domain_open_console(self, dom: DomainRef, device: str | None,
                                    force: bool) -> int:
        with self.lock:
            c = self._active(dom)
            if device not in (None, "console0", "serial0"):
                raise VirtError(ErrorCode.DEVICE_MISSING,
                                f"domain '{c.name}' has no console device '{device}'",
                                ErrorDomain.LXC)
            try:
                sock = runner.open_console(c.run["socket"], force)
            except runner.RunnerError as exc:
                if str(exc) == "busy":
                    raise VirtError(ErrorCode.OPERATION_FAILED,
                                    f"the console of domain '{c.name}' is in use by another "
                                    f"client", ErrorDomain.LXC) from None
                raise VirtError(ErrorCode.OPERATION_FAILED,
                                f"cannot open the console of domain '{c.name}': {exc}",
                                ErrorDomain.LXC) from None
            sid = next(_ids)
            self._streams[sid] = ConsoleStream(c.name, sock)
            return sid

    def _stream(self, stream: int) -> ConsoleStream:
        s = self._streams.get(stream)
        if s is None:
            raise invalid_stream(stream)
        return s  # type: ignore[no-any-return]

    @hookimpl
    def virtkit_stream_recv(self, stream: int, nbytes: int, timeout: float | None) -> bytes:
        return self._stream(stream).recv(stream, nbytes, timeout)

    @hookimpl
    def virtkit_stream_send(self, stream: int, data: bytes) -> int:
        return self._stream(stream).send(stream, data)

    @hookimpl
    def virtkit_stream_finish(self, stream: int) -> bool:
        self._stream(stream).close()
        self._streams.pop(stream, None)
        return True

    @hookimpl
    def virtkit_stream_abort(self, stream: int) -> bool:
        self._stream(stream).close()
        self._streams.pop(stream, None)
        return True
