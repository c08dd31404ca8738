"""The guest console as a stream: the first serial port (or virtio console), reached through its
unix socket or pty; one client at a time unless ``force`` takes it over.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import socket
import termios
import tty
from typing import TYPE_CHECKING, Any

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef
from virtkit_qemu.host import Guest, failed, invalid

if TYPE_CHECKING:
    from virtkit_qemu.host import QemuHost

MAX_CHUNK = 1024 * 1024
_ids = itertools.count(1)


def invalid_stream(stream: int) -> VirtError:
    return VirtError(ErrorCode.INVALID_STREAM,
                     f"stream {stream} is not open (unknown, finished or aborted)",
                     ErrorDomain.STREAMS)


class ConsoleStream:
    """A connection to one guest's console chardev."""

    def __init__(self, guest: Guest, fd: int, sock: socket.socket | None) -> None:
        self.guest = guest
        self.fd = fd
        self.sock = sock
        self.closed = False

    def recv(self, stream: int, nbytes: int, timeout: float | None) -> bytes:
        if self.closed:
            raise invalid_stream(stream)
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            raise VirtError(ErrorCode.OPERATION_TIMEOUT,
                            f"no console output from domain '{self.guest.name}' within "
                            f"{timeout:g}s", ErrorDomain.STREAMS)
        try:
            return os.read(self.fd, min(nbytes, MAX_CHUNK))
        except OSError:
            return b""  # the guest's end closed: end of stream

    def send(self, stream: int, data: bytes) -> int:
        if self.closed:
            raise invalid_stream(stream)
        view = memoryview(data)
        try:
            while view:
                n = os.write(self.fd, view)
                view = view[n:]
        except OSError as exc:
            raise VirtError(ErrorCode.INVALID_STREAM,
                            f"stream {stream}: the console of domain '{self.guest.name}' "
                            f"closed ({exc.strerror})", ErrorDomain.STREAMS) from None
        return len(data)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.sock is not None:
            self.sock.close()
        else:
            with contextlib.suppress(OSError):
                os.close(self.fd)
        if self.guest.console_owner is self:
            self.guest.console_owner = None


class ConsoleMixin:
    _streams: dict[int, Any]

    if TYPE_CHECKING:  # provided by the driver
        @property
        def host(self) -> QemuHost: ...

        def _find(self, ref: DomainRef) -> Guest: ...

        def _active_monitor(self, g: Guest) -> Any: ...

    def close_streams(self) -> None:
        for s in list(self._streams.values()):
            s.close()
        self._streams.clear()

    @hookimpl
    def virtkit_domain_open_console(self, dom: DomainRef, device: str | None,
                                    force: bool) -> int:
        host = self.host
        with host.lock:
            g = self._find(dom)
            if not g.status.active:
                raise invalid(f"domain '{g.name}' is not running")
            mon = self._active_monitor(g)
            alias = device or "serial0"
            chardevs = {c["label"]: c["filename"] for c in mon.execute("query-chardev")}
            target = chardevs.get(f"char{alias}")
            if target is None and device is None:
                target = chardevs.get("charconsole1")
            if target is None:
                raise VirtError(ErrorCode.DEVICE_MISSING,
                                f"domain '{g.name}' has no console device "
                                f"'{alias}'", ErrorDomain.QEMU)
            if g.console_owner is not None and not g.console_owner.closed:
                if not force:
                    raise failed(f"the console of domain '{g.name}' is in use by another "
                                 f"client")
                g.console_owner.close()
            sock = None
            if target.startswith("pty:"):
                fd = os.open(target[4:], os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
                with contextlib.suppress(termios.error):
                    tty.setraw(fd)
            elif target.startswith("unix:"):
                path = target[5:].split(",", 1)[0]
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(path)
                fd = sock.fileno()
            else:
                raise VirtError(ErrorCode.OPERATION_UNSUPPORTED,
                                f"console '{alias}' of domain '{g.name}' is a '{target}' "
                                f"device, which has no stream", ErrorDomain.QEMU)
            stream = ConsoleStream(g, fd, sock)
            g.console_owner = stream
            sid = next(_ids)
            self._streams[sid] = stream
            return sid

    def _stream(self, stream: int) -> ConsoleStream:
        s = self._streams.get(stream)
        if s is None:
            raise invalid_stream(stream)
        return s  # type: ignore[no-any-return]

    @hookimpl
    def virtkit_stream_recv(self, stream: int, nbytes: int, timeout: float | None) -> bytes:
        s = self._stream(stream)
        if s.closed:
            return b""  # the console was taken over or the guest stopped: end of stream
        return s.recv(stream, nbytes, timeout)

    @hookimpl
    def virtkit_stream_send(self, stream: int, data: bytes) -> int:
        s = self._stream(stream)
        if s.closed:
            raise VirtError(ErrorCode.INVALID_STREAM,
                            f"stream {stream} was closed: the console of domain "
                            f"'{s.guest.name}' was taken over or the guest stopped",
                            ErrorDomain.STREAMS)
        return s.send(stream, data)

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
