"""The text console of a running ``xenapi://`` VM as a stream.

XenAPI's console protocol: the VM's ``consoles`` are ``console`` records, each with a
``protocol`` (``vt100`` for a text console, ``rfb`` for VNC, ``rdp``) and a ``location``, a URL
such as ``https://HOST/console?ref=OpaqueRef:...``. The client makes an HTTP ``CONNECT`` to that
path with its session (``&session_id=OpaqueRef:...``) on the host the URL names; after the
``200`` answer the connection carries the console's bytes both ways with no further HTTP. The
driver uses the ``vt100`` console (a PV guest's text console); a VM that offers only ``rfb``
(an HVM guest, or a host that turns PV text consoles into VNC with ``vncterm``) has no text
console to give (DEVICE_MISSING naming the protocols it has).

One stream per domain on a connection; ``force`` closes the one open and takes over (the
stream taken over ends: ``recv`` gives ``b""``, ``send`` is INVALID_STREAM). The
connection uses the URI's transport settings (``no_verify``, ``timeout``) for the console host.
"""

from __future__ import annotations

import contextlib
import itertools
import select
import socket
import ssl
import urllib.parse
from typing import Any

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef
from virtkit_xen.streamhooks import ConsoleStreamHooks, console_closed, no_output, taken_over
from virtkit_xen.xapi import xerr

MAX_CHUNK = 1024 * 1024
_ids = itertools.count(1)
#: the console devices a XenAPI VM has: its one text console
DEVICES = (None, "console0", "serial0")


class ConsoleStream:
    """One console connection: the socket after the ``CONNECT``, and bytes already read past
    the HTTP answer."""

    def __init__(self, name: str, sock: socket.socket, pending: bytes) -> None:
        self.name, self.sock, self.pending = name, sock, pending
        self.closed = False

    def recv(self, stream: int, nbytes: int, timeout: float | None) -> bytes:
        if self.pending:
            data, self.pending = self.pending[:nbytes], self.pending[nbytes:]
            return data
        if self.closed:
            return b""
        ready = select.select([self.sock], [], [], timeout)[0]
        if not ready and not (isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()):
            raise no_output(self.name, timeout)
        try:
            return self.sock.recv(min(nbytes, MAX_CHUNK))
        except OSError:
            return b""

    def send(self, stream: int, data: bytes) -> int:
        if self.closed:
            raise taken_over(stream, self.name)
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise console_closed(stream, self.name, exc.strerror or exc) from None
        return len(data)

    def close(self) -> None:
        self.closed, self.pending = True, b""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()


def connect(location: str, session: str, timeout: float, no_verify: bool,
            what: str) -> tuple[socket.socket, bytes]:
    """``CONNECT`` to a console ``location`` with ``session``: the socket after the ``200``
    answer and any bytes read past it."""
    url = urllib.parse.urlsplit(location)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise xerr(ErrorCode.OPERATION_FAILED, f"{what}: XenAPI gave the console location "
                   f"'{location}', not an http(s) URL")
    port = url.port or (443 if url.scheme == "https" else 80)
    query = "&".join(q for q in (url.query, "session_id=" + urllib.parse.quote(session)) if q)
    try:
        sock = socket.create_connection((url.hostname, port), timeout=timeout)
        if url.scheme == "https":
            ctx = ssl.create_default_context()
            if no_verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(sock, server_hostname=url.hostname)
        sock.sendall(f"CONNECT {url.path or '/'}?{query} HTTP/1.0\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
            if len(head) > 65536:
                break
    except OSError as exc:
        raise xerr(ErrorCode.OPERATION_FAILED, f"{what}: cannot connect to the console at "
                   f"{url.hostname}:{port}: {exc.strerror or exc}") from None
    status, _, rest = head.partition(b"\r\n\r\n")
    line = status.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or parts[1] != "200":
        with contextlib.suppress(OSError):
            sock.close()
        raise xerr(ErrorCode.OPERATION_FAILED, f"{what}: the console at {url.hostname}:{port} "
                   f"answered '{line or 'nothing'}'")
    sock.settimeout(None)
    return sock, rest


class ConsoleHooks(ConsoleStreamHooks):
    """Mixed into :class:`~virtkit_xen.xenapi.XenApiDriver`."""

    @hookimpl
    def virtkit_domain_open_console(self: Any, dom: DomainRef, device: str | None,
                                    force: bool) -> int:
        with self.lock:
            vm = self._find(dom)
            if not vm.status.active:
                raise VirtError(ErrorCode.OPERATION_INVALID,
                                f"domain '{vm.name}' is not running", ErrorDomain.DOMAIN)
            if device not in DEVICES:
                raise VirtError(ErrorCode.DEVICE_MISSING, f"domain '{vm.name}' has no "
                                f"console device '{device}' (XenAPI gives one text console)",
                                ErrorDomain.XENAPI)
            what = f"opening the console of domain '{vm.name}'"
            consoles = [self.session.call("console.get_record", c, what=what)
                        for c in self.session.call("VM.get_consoles", vm.ref, what=what)]
            text = [c for c in consoles if c["protocol"] == "vt100"]
            if not text:
                have = ", ".join(sorted({str(c["protocol"]) for c in consoles})) or "none"
                raise VirtError(ErrorCode.DEVICE_MISSING, f"domain '{vm.name}' has no text "
                                f"(vt100) console on XenAPI (its consoles: {have})",
                                ErrorDomain.XENAPI)
            streams = self._consoles()
            held = [sid for sid, s in streams.items() if s.name == vm.name and not s.closed]
            if held and not force:
                raise VirtError(ErrorCode.OPERATION_FAILED, f"the console of domain "
                                f"'{vm.name}' is in use by another client", ErrorDomain.XENAPI)
            for sid in held:  # taken over: its stream ends (recv gives b""), finish and
                streams[sid].close()  # abort still close it

            ep = self.endpoint
            sock, rest = connect(str(text[0]["location"]), self.session.ref, ep.timeout,
                                 ep.no_verify, what)
            sid = next(_ids)
            streams[sid] = ConsoleStream(vm.name, sock, rest)
            return sid
