"""The warm command-line server behind :mod:`virtkit.cli.launch` (``-m virtkit.cli.warm PATH``).

It imports the command line, its commands and the drivers' modules once, then waits on a unix
socket (0600, in a 0700 directory of the user's). For each client of the same user it receives
the client's standard streams, environment, working directory, umask and arguments, forks, and the
fork becomes the command: it takes those streams as 0, 1 and 2, that environment, directory and
umask, runs the command line's ``main`` and exits with its status. The server tells the client the
fork's pid (for signals) and, once it has reaped it, how it ended. A client that goes away takes
its command with it (SIGTERM to the fork).

The server answers "refused" (the client runs the command itself) to a client whose key differs
from its own and when a file it imported, or a directory of its path, changed since it started:
then it stops accepting, lets running commands finish and exits, and the client starts a new one.
It exits after ``VIRTKIT_CLI_SERVER_IDLE`` seconds (default 600) without a command, and on SIGTERM.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import signal
import socket
import struct
import sys
import time
from typing import Any

from virtkit._userdirs import private_dir
from virtkit.cli.launch import (
    MSG_EXIT,
    MSG_PID,
    MSG_REFUSED,
    MSG_SIGNAL,
    server_key,
    server_path,
)

MAX_REQUEST = 4 << 20  # arguments and environment: far more than any real command line


def _preload() -> None:
    """Import what commands need, so that each fork starts with it done."""
    import importlib

    from virtkit.cli.main import COMMANDS  # the command table (and click)
    from virtkit.runtime import registry

    for name in sorted(set(COMMANDS.values())):  # every command's module
        with contextlib.suppress(ImportError):
            importlib.import_module(f"virtkit.cli.{name}")
    for scheme in ("test", "remote"):  # the embedded driver and the daemon's client
        with contextlib.suppress(Exception):
            registry.load_driver(scheme)
    with contextlib.suppress(Exception):
        _rehearse()


def _rehearse() -> None:
    """Run one read-only command on the embedded test driver, its output thrown away, so that
    what a first connection builds (dispatch tables, lazily imported modules) is built; then
    leave the test driver's per-process state as a new process finds it."""
    from virtkit.cli.main import _main
    from virtkit.drivers.test.node import reset_default_node, shared_default_node

    saved = sys.stdout, sys.stderr
    try:
        with open(os.devnull, "w", encoding="utf-8") as null:
            sys.stdout = sys.stderr = null
            _main(["-c", "test:///default", "list", "--all"])
    finally:
        sys.stdout, sys.stderr = saved
        reset_default_node()
    shared_default_node()  # built now, so that each fork has it already, untouched


def _stamps() -> dict[str, tuple[int, int]]:
    """Size and mtime of every imported file and every directory of the path."""
    found: dict[str, tuple[int, int]] = {}
    paths = [getattr(m, "__file__", None) for m in list(sys.modules.values())] + list(sys.path)
    for path in paths:
        if not path or path in found:
            continue
        try:
            st = os.stat(path)
        except OSError:
            continue
        found[path] = (st.st_size, st.st_mtime_ns)
    return found


def _changed(stamps: dict[str, tuple[int, int]]) -> bool:
    for path, stamp in stamps.items():
        try:
            st = os.stat(path)
        except OSError:
            return True
        if (st.st_size, st.st_mtime_ns) != stamp:
            return True
    return False


class Server:
    def __init__(self, path: str, key: str) -> None:
        self.path = path
        self.key = key
        self.idle = float(os.environ.get("VIRTKIT_CLI_SERVER_IDLE") or 600)
        self.children: dict[int, socket.socket] = {}
        self.stamps: dict[str, tuple[int, int]] = {}
        self.accepting = True
        self.stop = False
        self.listener: socket.socket | None = None

    # -- setting up -------------------------------------------------------------------------

    def bind(self) -> bool:
        """Own the socket path, unless a live server already does (then this one leaves)."""
        lock = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(self.path)
                return False  # someone answers there
            except OSError:
                pass
            finally:
                probe.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            old = os.umask(0o177)
            try:
                listener.bind(self.path)
            finally:
                os.umask(old)
            listener.listen(64)
            self.listener = listener
            with open(self.path + ".pid", "w", encoding="ascii") as f:
                f.write(f"{os.getpid()}\n")
            return True
        finally:
            os.close(lock)

    def cleanup(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None
            for name in (self.path, self.path + ".pid"):
                with contextlib.suppress(OSError):
                    os.unlink(name)

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> None:
        assert self.listener is not None
        rfd, wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wfd)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGHUP, self._on_term)
        sel = selectors.DefaultSelector()
        sel.register(self.listener, selectors.EVENT_READ, "accept")
        sel.register(rfd, selectors.EVENT_READ, "signal")
        last = time.monotonic()
        try:
            while not (self.stop and not self.children):
                timeout = None if self.children else max(0.0, last + self.idle - time.monotonic())
                events = sel.select(timeout)
                if not events and not self.children:
                    break  # idle long enough
                for key, _mask in events:
                    if key.data == "accept":
                        with contextlib.suppress(OSError):
                            conn, _ = self.listener.accept()
                            self.handle(conn, sel, rfd, wfd)
                            last = time.monotonic()
                    elif key.data == "signal":
                        with contextlib.suppress(OSError):
                            os.read(rfd, 4096)
                    else:  # a client's connection: readable means it went away
                        pid = key.data
                        with contextlib.suppress(OSError):
                            os.kill(pid, signal.SIGTERM)
                        sel.unregister(key.fileobj)
                self.reap(sel)
                if self.stop and self.listener is not None:
                    sel.unregister(self.listener)
                    self.cleanup()
        finally:
            self.cleanup()

    def _on_term(self, *_: Any) -> None:
        self.stop = True

    def reap(self, sel: selectors.BaseSelector) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            if conn is None:
                continue
            with contextlib.suppress(KeyError, ValueError):
                sel.unregister(conn)
            if os.WIFSIGNALED(status):
                reply = MSG_SIGNAL + struct.pack(">i", os.WTERMSIG(status))
            else:
                reply = MSG_EXIT + struct.pack(">i", os.waitstatus_to_exitcode(status))
            with contextlib.suppress(OSError):
                conn.sendall(reply)
            conn.close()

    def handle(self, conn: socket.socket, sel: selectors.BaseSelector, rfd: int, wfd: int) -> None:
        fds: list[int] = []
        try:
            creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            _pid, uid, _gid = struct.unpack("3i", creds)
            if uid != os.geteuid():
                conn.close()  # another user's client: nothing is said to it
                return
            request, fds = self._receive(conn)
            ours = request is not None and len(fds) == 3 and request.get("key") == self.key
            if ours and self.accepting and _changed(self.stamps):
                self.accepting = False  # our code changed: finish and leave
                self.stop = True
            if request is None or not (ours and self.accepting):
                conn.sendall(MSG_REFUSED + b"\0\0\0\0")
                conn.close()
                return
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the fork runs the command and never returns
                self._become_command(request, fds, conn, rfd, wfd)
            self.children[pid] = conn
            conn.sendall(MSG_PID + struct.pack(">i", pid))
            sel.register(conn, selectors.EVENT_READ, pid)
        except (OSError, ValueError, struct.error):
            conn.close()
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)

    @staticmethod
    def _receive(conn: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
        import array
        import marshal

        conn.settimeout(5)
        fds = array.array("i")
        data, ancdata, _flags, _addr = conn.recvmsg(65536, socket.CMSG_LEN(3 * fds.itemsize))
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
        if len(data) < 4:
            return None, list(fds)
        size = int.from_bytes(data[:4], "big")
        if size > MAX_REQUEST:
            return None, list(fds)
        body = data[4:]
        while len(body) < size:
            chunk = conn.recv(size - len(body))
            if not chunk:
                return None, list(fds)
            body += chunk
        conn.settimeout(None)
        request = marshal.loads(body)
        return (request if isinstance(request, dict) else None), list(fds)

    def _become_command(self, request: dict[str, Any], fds: list[int], conn: socket.socket,
                        rfd: int, wfd: int) -> None:
        status = 70
        try:
            signal.set_wakeup_fd(-1)
            for fd in (rfd, wfd):
                os.close(fd)
            if self.listener is not None:
                self.listener.close()
            for other in self.children.values():
                other.close()
            conn.close()
            for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
                if fd > 2:
                    os.close(fd)
            os.chdir(request["cwd"])
            os.umask(int(request["umask"]))
            os.environ.clear()
            os.environ.update({str(k): str(v) for k, v in request["env"].items()})
            _standard_streams()
            sys.argv = ["virtkit", *[str(a) for a in request["argv"]]]
            from virtkit.cli.main import main

            status = main()  # ends the process itself (its fast exit)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            import traceback

            with contextlib.suppress(Exception):
                traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(status)


def _standard_streams() -> None:
    """sys.stdin/stdout/stderr anew over fds 0-2, buffered as Python buffers a process's own."""
    import io

    made = []
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        old = getattr(sys, name)
        tty = os.isatty(fd)
        if fd == 0:
            buffer: Any = io.BufferedReader(io.FileIO(0, "rb", closefd=False))
        else:
            buffer = io.BufferedWriter(io.FileIO(fd, "wb", closefd=False))
        stream = io.TextIOWrapper(
            buffer, encoding=getattr(old, "encoding", None) or "utf-8",
            errors=getattr(old, "errors", None) or ("backslashreplace" if fd == 2 else "strict"),
            line_buffering=tty or fd == 2, write_through=fd == 2)
        made.append(stream)
    sys.stdin, sys.stdout, sys.stderr = made
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = made  # type: ignore[misc]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m virtkit.cli.warm SOCKET-PATH", file=sys.stderr)
        return 2
    key = server_key(sys.path)  # started with -P: nothing was put first
    path = server_path(key)
    if path != args[0] or not private_dir(os.path.dirname(path)):
        return 1  # started for another environment, or an unsafe directory: serve nobody
    if os.fork():
        os._exit(0)  # the starting command collects this first process; the server goes on
    os.chdir("/")  # hold no client's directory
    server = Server(path, key)
    if not server.bind():
        return 0
    try:
        _preload()
        server.stamps = _stamps()
        import threading

        if threading.active_count() != 1:
            return 1  # something started a thread: forking it would be unsafe
        server.run()
    finally:
        server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
