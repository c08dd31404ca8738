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
import time
from typing import Any

START_TIMEOUT = 30.0
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class RunnerError(Exception):
    """The supervisor failed or did not answer (the message says why)."""


def spawn(cfg: dict[str, Any], cfg_path: str, log_path: str) -> dict[str, Any]:
    """Write ``cfg``, start the supervisor, and wait for it to report the container running."""
    fd = os.open(cfg_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(cfg["exit_file"])
    r, w = os.pipe()
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    try:
        # -S: no site initialisation (the supervisor needs only the standard library and this
        # package, whose directory goes on PYTHONPATH): it starts in a fraction of the time
        env = dict(os.environ, PYTHONPATH=_PACKAGE_DIR)
        proc = subprocess.Popen(
            [sys.executable, "-S", "-m", "virtkit_lxc.supervisor", cfg_path, str(w)],
            pass_fds=(w,), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True, close_fds=True, env=env)
    finally:
        os.close(w)
        os.close(log)
    try:
        proc.wait(timeout=START_TIMEOUT)  # it forks the real supervisor and exits at once
        buf = b""
        deadline = time.monotonic() + START_TIMEOUT
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([r], [], [], left)[0]:
                raise RunnerError(f"the supervisor of '{cfg['name']}' did not report within "
                                  f"{START_TIMEOUT:g}s")
            chunk = os.read(r, 65536)
            if not chunk:
                break
            buf += chunk
    except subprocess.TimeoutExpired:
        raise RunnerError("the supervisor did not detach") from None
    finally:
        os.close(r)
    if not buf:
        raise RunnerError(f"the supervisor of '{cfg['name']}' exited without a report "
                          f"(see {log_path})")
    msg: dict[str, Any] = json.loads(buf)
    if "error" in msg:
        raise RunnerError(msg["error"])
    return msg


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


def is_supervisor(pid: int, cfg_path: str) -> bool:
    """Whether ``pid`` is still the supervisor started with ``cfg_path`` (pids are reused)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return b"virtkit_lxc.supervisor" in argv and cfg_path.encode() in argv and alive(pid)


def kill_supervisor(pid: int, cfg_path: str) -> None:
    """Last resort when the supervisor does not answer."""
    if pid > 0 and is_supervisor(pid, cfg_path):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
