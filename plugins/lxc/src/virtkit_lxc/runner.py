"""Starting and stopping a container's supervisor from the managing process, and talking to it
over its unix socket."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

START_TIMEOUT = 30.0
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class RunnerError(Exception):
    """The supervisor failed or did not answer (the message says why)."""


class ForkServer:
    """A driver instance's fork server (see forkserver.py), started on first use."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.lock = threading.Lock()

    def _ensure(self) -> subprocess.Popen[bytes]:
        if self.proc is None or self.proc.poll() is not None:
            # -S: no site initialisation (only the standard library and this package, whose
            # directory goes on PYTHONPATH, are needed)
            self.proc = subprocess.Popen(
                [sys.executable, "-S", "-m", "virtkit_lxc.forkserver"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                start_new_session=True, close_fds=True,
                env=dict(os.environ, PYTHONPATH=_PACKAGE_DIR))
        return self.proc

    def spawn(self, cfg: dict[str, Any], cfg_path: str, log_path: str) -> dict[str, Any]:
        """Write ``cfg``, start its supervisor, and wait for it to report the container
        running (or why it is not)."""
        fd = os.open(cfg_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(cfg, f)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(cfg["exit_file"])
        with self.lock:
            proc = self._ensure()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write((json.dumps({"cfg": cfg_path, "log": log_path}) + "\n")
                                 .encode())
                proc.stdin.flush()
            except OSError as exc:
                self.close()
                raise RunnerError(f"the fork server is gone: {exc}") from None
            out = proc.stdout.fileno()
            buf = b""
            deadline = time.monotonic() + START_TIMEOUT
            while not buf.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([out], [], [], left)[0]:
                    self.close()
                    raise RunnerError(f"the supervisor of '{cfg['name']}' did not report "
                                      f"within {START_TIMEOUT:g}s")
                chunk = os.read(out, 65536)
                if not chunk:
                    self.close()
                    raise RunnerError(f"the fork server exited (see {log_path})")
                buf += chunk
        msg: dict[str, Any] = json.loads(buf)
        if "error" in msg:
            raise RunnerError(msg["error"])
        return msg

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            proc.stdin.close()  # type: ignore[union-attr]
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        with contextlib.suppress(OSError):
            proc.stdout.close()  # type: ignore[union-attr]


def request(sock_path: str, req: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall((json.dumps(req) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    except OSError as exc:
        raise RunnerError(f"supervisor at {sock_path}: {exc}") from None
    finally:
        s.close()
    if not buf:
        raise RunnerError(f"supervisor at {sock_path} closed the connection")
    reply: dict[str, Any] = json.loads(buf)
    return reply


def open_console(sock_path: str, force: bool) -> socket.socket:
    """A socket carrying the console, or RunnerError("busy")."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5.0)
    try:
        s.connect(sock_path)
        s.sendall((json.dumps({"op": "console", "force": force}) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            c = s.recv(1)
            if not c:
                break
            buf += c
    except OSError as exc:
        s.close()
        raise RunnerError(str(exc)) from None
    reply = json.loads(buf or b"{}")
    if not reply.get("ok"):
        s.close()
        raise RunnerError(reply.get("error", "no answer"))
    s.settimeout(None)
    return s


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def read_exit(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as f:
            data: dict[str, Any] = json.load(f)
            return data
    except (OSError, ValueError):
        return None


def wait_exit(path: str, supervisor_pid: int, timeout: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = read_exit(path)
        if data is not None:
            return data
        if not alive(supervisor_pid):
            return read_exit(path)
        time.sleep(0.01)
    return None


def start_time(pid: int) -> int | None:
    """The start time of ``pid`` (clock ticks since boot), which tells a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def is_supervisor(pid: int, started: int | None) -> bool:
    """Whether ``pid`` is still the supervisor that reported ``started`` as its start time."""
    return pid > 0 and started is not None and start_time(pid) == started and alive(pid)


def kill_supervisor(pid: int, started: int | None) -> None:
    """Last resort when the supervisor does not answer."""
    if is_supervisor(pid, started):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
