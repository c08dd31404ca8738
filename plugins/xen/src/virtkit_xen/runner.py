"""Where xl runs: the runner abstraction of the xl backend.

A runner runs one command in a Xen dom0 and returns its exit status and output:

- :class:`LocalRunner`: a subprocess, for virtkit running in dom0 itself (the usual case, also
  for a virtkitd in dom0 that remote clients reach through ``xen+ssh://host/system``);
- :class:`SshRunner`: ``ssh [user@]host COMMAND``, for a dom0 without Python (no virtkitd);
- :class:`ChannelRunner`: a line protocol over a byte stream (a QEMU serial port into a dom0
  booted under QEMU, served by the loop in :data:`CHANNEL_LOOP`).

``runner_from_spec("local" | "ssh:[user@]host[:port]" | "channel:/path/to/socket")`` picks one;
the driver reads the spec from the URI's ``runner`` parameter or ``VIRTKIT_XEN_RUNNER``.
Every runner can record what it ran (``Recording``), which is how the transcripts the default
tests replay were taken from the real Xen run.
"""

from __future__ import annotations

import base64
import json
import shlex
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError

__all__ = ["CHANNEL_LOOP", "ChannelRunner", "LocalRunner", "Recording", "RunResult", "Runner",
           "SshRunner", "runner_from_spec"]

#: The command loop a dom0 runs on its end of a channel: one request line
#: ``ID BASE64(script) BASE64(stdin)|-``, one answer line ``VKOUT ID RC xBASE64(out) xBASE64(err)``.
CHANNEL_LOOP = r"""
while read -r id cmd inp; do
  echo "$cmd" | base64 -d > /tmp/vk.c
  if [ "$inp" = "-" ]; then : > /tmp/vk.i; else echo "$inp" | base64 -d > /tmp/vk.i; fi
  sh /tmp/vk.c < /tmp/vk.i > /tmp/vk.o 2> /tmp/vk.e
  rc=$?
  printf 'VKOUT %s %s x%s x%s\n' "$id" "$rc" "$(base64 /tmp/vk.o | tr -d '\n')" \
    "$(base64 /tmp/vk.e | tr -d '\n')"
done
"""


@attrs.frozen
class RunResult:
    rc: int
    stdout: str
    stderr: str


class Runner(Protocol):
    """Runs a command in dom0."""

    def run(self, argv: Sequence[str], *, input: bytes | None = None,
            timeout: float = 120.0) -> RunResult: ...

    def close(self) -> None: ...


def _timeout(argv: Sequence[str], timeout: float) -> VirtError:
    return VirtError(ErrorCode.OPERATION_TIMEOUT,
                     f"'{shlex.join(argv)}' did not finish within {timeout:g} s", ErrorDomain.LIBXL)


def spawn(runner: Runner, argv: Sequence[str]) -> subprocess.Popen[bytes]:
    """A long-running command with its stdin and stdout as pipes (``xl console``), through a
    runner that can stream; OPERATION_UNSUPPORTED through one that cannot (the channel, a
    replay)."""
    fn = getattr(runner, "spawn", None)
    if fn is None:
        raise VirtError(ErrorCode.OPERATION_UNSUPPORTED, f"the {type(runner).__name__} cannot "
                        f"stream '{shlex.join(argv)}' (use the local or ssh runner)",
                        ErrorDomain.LIBXL)
    proc: subprocess.Popen[bytes] = fn(argv)
    return proc


class LocalRunner:
    """Commands as local subprocesses (virtkit runs in dom0)."""

    def spawn(self, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        try:
            return subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except FileNotFoundError:
            raise VirtError(ErrorCode.NO_CONNECT, f"'{argv[0]}' is not installed: this host "
                            "is not a Xen dom0", ErrorDomain.LIBXL) from None

    def run(self, argv: Sequence[str], *, input: bytes | None = None,
            timeout: float = 120.0) -> RunResult:
        try:
            p = subprocess.run(list(argv), input=input, capture_output=True, timeout=timeout)
        except FileNotFoundError as e:
            raise VirtError(ErrorCode.NO_CONNECT, f"'{argv[0]}' is not installed: this host "
                            "is not a Xen dom0 with the xl toolstack", ErrorDomain.LIBXL) from e
        except subprocess.TimeoutExpired as e:
            raise _timeout(argv, timeout) from e
        return RunResult(p.returncode, p.stdout.decode(errors="replace"),
                         p.stderr.decode(errors="replace"))

    def close(self) -> None:
        pass


class SshRunner:
    """Commands through ``ssh`` (keys from the user's ssh configuration; BatchMode, so a
    missing key fails instead of prompting)."""

    def __init__(self, host: str, port: int | None = None) -> None:
        self.host, self.port = host, port

    def run(self, argv: Sequence[str], *, input: bytes | None = None,
            timeout: float = 120.0) -> RunResult:
        cmd = ["ssh", "-o", "BatchMode=yes", *(["-p", str(self.port)] if self.port else []),
               self.host, shlex.join(argv)]
        result = LocalRunner().run(cmd, input=input, timeout=timeout)
        if result.rc == 255:
            raise VirtError(ErrorCode.NO_CONNECT, f"ssh to dom0 '{self.host}' failed: "
                            f"{result.stderr.strip()}", ErrorDomain.LIBXL)
        return result

    def spawn(self, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        """``ssh -tt``: xl console wants a terminal on the far side."""
        return LocalRunner().spawn(["ssh", "-tt", "-o", "BatchMode=yes",
                                    *(["-p", str(self.port)] if self.port else []),
                                    self.host, shlex.join(argv)])

    def close(self) -> None:
        pass


class _Channel:
    """One connection to a channel socket, shared by every runner of that path in this process
    (QEMU serves one client at a time), one command at a time."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.sock: socket.socket | None = None
        self.buf = b""
        self.seq = 0
        self.users = 0

    def _connect(self) -> socket.socket:
        if self.sock is None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.path)
            except OSError as e:
                s.close()
                raise VirtError(ErrorCode.NO_CONNECT, f"cannot reach the dom0 command channel "
                                f"'{self.path}': {e.strerror}", ErrorDomain.LIBXL) from e
            self.sock = s
        return self.sock

    def run(self, argv: Sequence[str], input: bytes | None, timeout: float) -> RunResult:
        script = shlex.join(argv)
        with self.lock:
            s = self._connect()
            self.seq += 1
            ident = f"{self.seq}-{time.monotonic_ns()}"
            inp = base64.b64encode(input).decode() if input else "-"
            line = f"{ident} {base64.b64encode(script.encode()).decode()} {inp}\n"
            s.sendall(line.encode())
            deadline = time.monotonic() + timeout
            prefix = f"VKOUT {ident} ".encode()
            while True:
                while b"\n" in self.buf:
                    one, self.buf = self.buf.split(b"\n", 1)
                    one = one.strip(b"\r")
                    if one.startswith(prefix):
                        rc, out, err = one[len(prefix):].split(b" ")
                        return RunResult(int(rc), base64.b64decode(out[1:]).decode(
                            errors="replace"), base64.b64decode(err[1:]).decode(
                            errors="replace"))
                left = deadline - time.monotonic()
                if left <= 0:
                    self.disconnect()  # a late answer is skipped: it carries another id
                    raise _timeout(argv, timeout)
                s.settimeout(left)
                try:
                    chunk = s.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    self.disconnect()
                    raise VirtError(ErrorCode.NO_CONNECT, "the dom0 command channel "
                                    f"'{self.path}' closed", ErrorDomain.LIBXL)
                self.buf += chunk

    def disconnect(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock, self.buf = None, b""


_channels: dict[str, _Channel] = {}
_channels_lock = threading.Lock()


class ChannelRunner:
    """Commands over a stream socket to a dom0 running :data:`CHANNEL_LOOP` (a QEMU
    ``-chardev socket`` serial port in the tests). Runners of one path share its connection."""

    def __init__(self, path: str) -> None:
        with _channels_lock:
            self.chan = _channels.setdefault(path, _Channel(path))
            self.chan.users += 1
        self.path = path
        self.closed = False

    def run(self, argv: Sequence[str], *, input: bytes | None = None,
            timeout: float = 120.0) -> RunResult:
        return self.chan.run(argv, input, timeout)

    def close(self) -> None:
        with _channels_lock:
            if self.closed:
                return
            self.closed = True
            self.chan.users -= 1
            if self.chan.users == 0:
                self.chan.disconnect()
                _channels.pop(self.path, None)


class Recording:
    """A runner that records every command, its result and how long it took (``seconds``, as
    the caller saw it; a replay ignores it) as JSON lines while another runs them."""

    def __init__(self, inner: Runner, path: str | Path) -> None:
        self.inner, self.path = inner, Path(path)
        self.lock = threading.Lock()

    def run(self, argv: Sequence[str], *, input: bytes | None = None,
            timeout: float = 120.0) -> RunResult:
        start = time.monotonic()
        r = self.inner.run(argv, input=input, timeout=timeout)
        took = round(time.monotonic() - start, 2)
        with self.lock, self.path.open("a") as f:
            f.write(json.dumps({"argv": list(argv), "input": input.decode() if input else None,
                                "rc": r.rc, "stdout": r.stdout, "stderr": r.stderr,
                                "seconds": took}) + "\n")
        return r

    def spawn(self, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        return spawn(self.inner, argv)  # a stream is not recorded

    def close(self) -> None:
        self.inner.close()


def runner_from_spec(spec: str) -> Runner:
    """``local``, ``ssh:[user@]host[:port]`` or ``channel:PATH``."""
    kind, _, arg = spec.partition(":")
    if kind == "local" and not arg:
        return LocalRunner()
    if kind == "ssh" and arg:
        host, _, port = arg.rpartition(":") if arg.count(":") == 1 else (arg, "", "")
        return SshRunner(host or arg, int(port) if port.isdigit() else None)
    if kind == "channel" and arg:
        return ChannelRunner(arg)
    if kind == "replay" and arg:
        from virtkit_xen.replay import shared_replay

        return shared_replay(arg)
    raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: xen runner '{spec}': expected "
                    "local, ssh:[user@]host[:port], channel:PATH or replay:PATH")
