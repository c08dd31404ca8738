"""The ``virtkit`` command's entry point: hand the command to a warm command-line server.

Starting Python and importing the command line costs several times what virsh, a C program,
takes for a whole short command. As Mercurial's chg does for hg, the command is handed to a server
of the user's own (:mod:`virtkit.cli.warm`) that has everything imported already: it forks, the
fork takes this process's standard input, output and error (passed over the socket), environment,
working directory, umask and arguments, runs the command exactly as it would run here, and its exit
status becomes this process's. Signals this process receives are passed on to the fork. Nothing
is shared between commands: each runs in a fresh fork, so ``test:///default`` starts from its
default state every time, as in a process of its own.

When no server answers (the first command, or after one stopped), the command runs here, in this
process, as before, and a server is started in the background for the next command. A server
serves one user, one interpreter and one set of relevant environment variables (the socket's name
is derived from them), refuses other users (``SO_PEERCRED``), exits when its own code changed on
disk, and exits after ``VIRTKIT_CLI_SERVER_IDLE`` seconds without a command (default 600).
``VIRTKIT_CLI_SERVER=0`` turns all of this off.

This module imports only what the interpreter has built in: it is the client's whole cost.
"""

from __future__ import annotations

import os
import sys

from virtkit._userdirs import cache_home, private_dir

# Environment variables a server's imports may depend on: a server answers only clients whose
# values are the same (its socket's name is derived from them). The rest of the environment is
# the client's own in every command.
ENV_PREFIXES = ("VIRTKIT_", "PYTHON", "XDG_", "LC_", "LIBVIRT_")
ENV_NAMES = ("HOME", "LANG", "LANGUAGE", "TERM", "PATH")

# Messages from the server: one type byte and a signed 32-bit integer.
MSG_PID = b"P"  # the fork running the command
MSG_EXIT = b"X"  # it exited with this status
MSG_SIGNAL = b"S"  # it was killed by this signal
MSG_REFUSED = b"R"  # this server cannot run it (other key, changed code): run it here

# What runs in the client's own process when standard input is a terminal: the interactive
# shell (no command), the console and the editors. A fork of the server has no controlling
# terminal, which an editor's job control and the console's raw mode want.
TERMINAL_COMMANDS = frozenset({"console", "shell"})

FORWARDED_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH",
                     "SIGCONT", "SIGALRM")


def server_key(path: list[str]) -> str:
    """What a server must share with a client: interpreter, module path (without the entry
    the interpreter put first for the script), user and the environment its imports may read."""
    env = sorted(f"{k}={v}" for k, v in os.environ.items()
                 if k.startswith(ENV_PREFIXES) or k in ENV_NAMES)
    groups = ",".join(str(g) for g in sorted(os.getgroups()))
    return "\0".join([sys.executable, *path, f"{os.getuid()}:{os.getgid()}:{groups}", *env])


def server_dir() -> str:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "virtkit")
    return os.path.join(cache_home(), "virtkit", "run")


def server_path(key: str) -> str | None:
    """The server's socket for ``key``, or None where no server can be (a path too long for a
    unix socket)."""
    import zlib

    digest = zlib.crc32(key.encode("utf-8", "surrogateescape"))
    path = os.path.join(server_dir(), f"cli-{digest:08x}.sock")
    return path if len(path.encode("utf-8", "surrogateescape")) < 100 else None


def _recv_exact(sock: object, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))  # type: ignore[attr-defined]
        if not chunk:
            raise ConnectionError("server closed the connection")
        data += chunk
    return data


def command_of(argv: list[str]) -> str | None:
    """The command word of ``argv`` (after the global options; ``-c``/``--connect`` take a
    value), or None."""
    value_next = False
    for arg in argv:
        if value_next:
            value_next = False
        elif arg in ("-c", "--connect"):
            value_next = True
        elif not arg.startswith("-"):
            return arg
    return None


def wants_terminal(argv: list[str]) -> bool:
    """The command needs this process's terminal (see TERMINAL_COMMANDS)."""
    if not os.isatty(0):
        return False
    command = command_of(argv)
    return command is None or command in TERMINAL_COMMANDS or command == "edit" \
        or command.endswith("-edit")


def run_through_server(argv: list[str]) -> int | None:
    """Run the command in a warm server's fork; its status, or None to run it here instead
    (after starting a server for the next command, where one can be)."""
    if os.environ.get("VIRTKIT_CLI_SERVER", "1") == "0" or wants_terminal(argv):
        return None
    key = server_key(sys.path[1:])  # sys.path[0] is the script's directory
    path = server_path(key)
    if path is None or not private_dir(os.path.dirname(path)):
        if path is not None:
            start_server(path)
        return None
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)  # a closed standard stream: run here, where Python handles it
        cwd = os.getcwd()
    except OSError:
        return None
    import _socket
    import array
    import marshal

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        try:
            sock.connect(path)
        except OSError:
            start_server(path)
            return None
        umask = os.umask(0o022)
        os.umask(umask)
        body = marshal.dumps({"key": key, "argv": argv, "env": dict(os.environ), "cwd": cwd,
                              "umask": umask})
        message = len(body).to_bytes(4, "big") + body
        fds = array.array("i", [0, 1, 2]).tobytes()
        sent = sock.sendmsg([message], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
        if sent < len(message):
            sock.sendall(message[sent:])
        return _follow(sock)
    except (OSError, ValueError, ConnectionError):
        return None
    finally:
        sock.close()


def _follow(sock: object) -> int | None:
    """Relay signals to the fork until the server reports how it ended."""
    import _signal  # type: ignore[import-not-found]  # signal without enum's import cost

    while True:
        reply = _recv_exact(sock, 5)
        kind, value = reply[:1], int.from_bytes(reply[1:], "big", signed=True)
        if kind == MSG_REFUSED:
            return None
        if kind == MSG_PID:
            _forward_signals(_signal, value)
        elif kind == MSG_EXIT:
            return value
        elif kind == MSG_SIGNAL:
            # die of the same signal, as the command would have here
            _signal.signal(value, _signal.SIG_DFL)
            sys.stdout.flush()
            os.kill(os.getpid(), value)
            return 128 + value


def _forward_signals(_signal: object, pid: int) -> None:
    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except OSError:
            pass

    def stop(signum: int, _frame: object) -> None:
        forward(signum, _frame)
        os.kill(os.getpid(), _signal.SIGSTOP)  # type: ignore[attr-defined]

    for name in FORWARDED_SIGNALS:
        _signal.signal(getattr(_signal, name), forward)  # type: ignore[attr-defined]
    _signal.signal(_signal.SIGTSTP, stop)  # type: ignore[attr-defined]


def start_server(path: str) -> None:
    """Start a server for ``path`` in the background; this command does not wait for it."""
    if not private_dir(os.path.dirname(path), create=True):
        return
    null = os.devnull
    try:
        pid = os.posix_spawn(
            # -P: no script or working directory first on its path (the client's path less its
            # script's directory, which is what the key holds)
            sys.executable, [sys.executable, "-P", "-m", "virtkit.cli.warm", path], os.environ,
            file_actions=[(os.POSIX_SPAWN_OPEN, 0, null, os.O_RDONLY, 0),
                          (os.POSIX_SPAWN_OPEN, 1, null, os.O_WRONLY, 0),
                          (os.POSIX_SPAWN_OPEN, 2, null, os.O_WRONLY, 0)],
            setsid=True)
    except OSError:
        return
    import atexit

    # The server forks at once and its first process exits: collect it when this one ends.
    atexit.register(_reap, pid)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except OSError:
        pass


def main() -> None:
    """The ``virtkit`` console script."""
    status = run_through_server(sys.argv[1:])
    if status is not None:
        try:
            sys.stdout.flush()
        finally:
            os._exit(status)
    from virtkit.cli.main import main as run_here

    sys.exit(run_here())
