"""The guest console of ``xen:///system`` as a stream: ``xl console [-t pv|serial] NAME``
through the runner (a local subprocess in dom0, or ``ssh -tt`` to it), its stdin and stdout
relayed. One stream per domain in this driver; ``force`` closes the one open and takes over
(the stream taken over ends: ``recv`` gives ``b""``, ``send`` is INVALID_STREAM, ``finish``
and ``abort`` still close it). The channel runner cannot stream (OPERATION_UNSUPPORTED)."""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import subprocess
from typing import Any

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef
from virtkit_xen.runner import spawn
from virtkit_xen.streamhooks import ConsoleStreamHooks, console_closed, no_output, taken_over

MAX_CHUNK = 1024 * 1024
_ids = itertools.count(1)
#: console devices and ``xl console -t`` types
DEVICES = {None: "pv", "console0": "pv", "serial0": "serial"}


class ConsoleStream:
    def __init__(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        self.name, self.proc = name, proc
        self.closed = False

    def recv(self, stream: int, nbytes: int, timeout: float | None) -> bytes:
        if self.closed:
            return b""
        out = self.proc.stdout
        assert out is not None
        ready, _, _ = select.select([out], [], [], timeout)
        if not ready:
            raise no_output(self.name, timeout)
        try:
            return os.read(out.fileno(), min(nbytes, MAX_CHUNK))
        except OSError:
            return b""

    def send(self, stream: int, data: bytes) -> int:
        if self.closed:
            raise taken_over(stream, self.name)
        inp = self.proc.stdin
        assert inp is not None
        try:
            inp.write(data)
            inp.flush()
        except OSError as exc:
            raise console_closed(stream, self.name, exc.strerror) from None
        return len(data)

    def close(self) -> None:
        self.closed = True
        for f in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if f is not None:
                    f.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class XlConsoleHooks(ConsoleStreamHooks):
    """Mixed into the xl driver."""

    @hookimpl
    def virtkit_domain_open_console(self: Any, dom: DomainRef, device: str | None,
                                    force: bool) -> int:
        self._sync()
        with self.lock:
            g = self._find(dom)
            if not g.status.active:
                raise VirtError(ErrorCode.OPERATION_INVALID,
                                f"domain '{g.dom.name}' is not running", ErrorDomain.DOMAIN)
            if device not in DEVICES:
                raise VirtError(ErrorCode.DEVICE_MISSING, f"domain '{g.dom.name}' has no "
                                f"console device '{device}'", ErrorDomain.LIBXL)
            streams = self._consoles()
            held = [sid for sid, s in streams.items()
                    if s.name == g.dom.name and not s.closed and s.proc.poll() is None]
            if held and not force:
                raise VirtError(ErrorCode.OPERATION_FAILED, f"the console of domain "
                                f"'{g.dom.name}' is in use by another client", ErrorDomain.LIBXL)
            for sid in held:  # taken over: its stream ends (recv gives b""), finish and
                streams[sid].close()  # abort still close it
            proc = spawn(self.runner, ["xl", "console", "-t", DEVICES[device], g.dom.name])
            sid = next(_ids)
            streams[sid] = ConsoleStream(g.dom.name, proc)
            return sid
