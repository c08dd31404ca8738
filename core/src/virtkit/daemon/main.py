"""``virtkitd``: the daemon that serves every installed driver to local and remote clients.

``virtkitd [--listen] [--config FILE] [--stdio] [--timeout SECS] [--pid-file FILE] [--session]``

Run as root it is the system daemon (sockets in /run/virtkit, configuration
/etc/virtkit/virtkitd.conf); run as a user, or with ``--session``, the per-user one (sockets in
$XDG_RUNTIME_DIR/virtkit, configuration ~/.config/virtkit/virtkitd.conf), which admits only its own
user. ``--listen`` adds TCP and TLS listeners as ``listen_tcp``/``listen_tls`` say. ``--stdio``
serves one client on standard input and output (what ``+ssh`` URIs run on the far host). SIGHUP
reloads the configuration; SIGTERM closes every client's connection and exits, leaving guests
running. Socket activation by systemd (LISTEN_FDS) is used when present.
"""

from __future__ import annotations

import argparse
import contextlib
import grp
import logging
import logging.handlers
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from virtkit.daemon import auth
from virtkit.daemon.config import LOG_LEVELS, Config, load, parse_log_outputs
from virtkit.daemon.server import PipeLink, Server
from virtkit.sdk.errors import VirtError

log = logging.getLogger("virtkitd")

RW_SOCKET = "virtkit-sock"
RO_SOCKET = "virtkit-sock-ro"
SYSTEM_CONFIG = "/etc/virtkit/virtkitd.conf"
SYSTEM_SOCK_DIR = "/run/virtkit"


def session_sock_dir() -> str:
    runtime = os.environ.get("XDG_RUNTIME_DIR") or os.path.expanduser("~/.cache")
    return os.path.join(runtime, "virtkit")


def session_config() -> str:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return os.path.join(base, "virtkit", "virtkitd.conf")


def socket_dir(config: Config, session: bool) -> str:
    if config.unix_sock_dir:
        return config.unix_sock_dir
    return session_sock_dir() if session else SYSTEM_SOCK_DIR


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="virtkitd", description="Serve virtkit's drivers to local and remote clients.")
    parser.add_argument("-l", "--listen", action="store_true",
                        help="listen for TCP/TLS connections as listen_tcp/listen_tls say")
    parser.add_argument("-f", "--config", metavar="FILE", help="configuration file")
    parser.add_argument("--stdio", action="store_true",
                        help="serve one client on standard input and output (for ssh)")
    parser.add_argument("-t", "--timeout", type=float, metavar="SECS",
                        help="exit after SECS seconds without clients")
    parser.add_argument("-p", "--pid-file", metavar="FILE", help="write the daemon's pid here")
    parser.add_argument("--session", action="store_true",
                        help="run as the per-user session daemon even as root")
    return parser.parse_args(argv)


def setup_logging(config: Config, stdio: bool) -> None:
    root = logging.getLogger("virtkitd")
    for old in list(root.handlers):
        root.removeHandler(old)
    level = LOG_LEVELS[config.log_level if not stdio else max(config.log_level, 4)]
    root.setLevel(level)
    outputs = parse_log_outputs(config.log_outputs) or [(config.log_level, "stderr", "")]
    fmt = logging.Formatter("%(asctime)s virtkitd[%(process)d]: %(levelname)s: %(message)s")
    for out_level, kind, arg in outputs:
        handler: logging.Handler
        if kind == "file":
            handler = logging.FileHandler(arg)
        elif kind in ("syslog", "journald"):
            handler = logging.handlers.SysLogHandler("/dev/log")
        else:
            handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(LOG_LEVELS[out_level])
        handler.setFormatter(fmt)
        root.addHandler(handler)


def _bind_unix(path: str, perms: int, group: str, backlog: int) -> socket.socket:
    Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    with contextlib.suppress(FileNotFoundError):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except ConnectionRefusedError:
            os.unlink(path)  # left by a daemon that died
        else:
            raise VirtError(38, f"another daemon is already listening on '{path}'")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o077)
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    if group:
        os.chown(path, -1, grp.getgrnam(group).gr_gid)
    os.chmod(path, perms)
    sock.listen(backlog)
    return sock


def _activated() -> dict[str, socket.socket]:
    """Sockets systemd passed (LISTEN_FDS), by their FileDescriptorName (rw, ro, tcp, tls)."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return {}
    count = int(os.environ.get("LISTEN_FDS", "0"))
    names = os.environ.get("LISTEN_FDNAMES", "").split(":")
    found = {}
    for i in range(count):
        name = names[i] if i < len(names) else str(i)
        found[name] = socket.socket(fileno=3 + i)
    return found


def _listen(server: Server, lsock: socket.socket, transport: str, scheme: str) -> None:
    """Accept connections on ``lsock`` until the daemon stops."""
    lsock.settimeout(0.5)
    while not server.stopping.is_set():
        try:
            sock, _addr = lsock.accept()
        except TimeoutError:
            continue
        except OSError:
            if server.stopping.is_set():
                return
            time.sleep(0.05)  # out of file descriptors, say: try again
            continue
        sock.settimeout(None)
        server.admit(sock, transport, scheme)


def _tcp_socket(addr: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((addr, port))
    sock.listen(backlog)
    return sock


def serve(args: argparse.Namespace, config: Config, session: bool) -> int:
    server = Server(config, session=session)
    stop = threading.Event()
    created: list[str] = []
    threading.Thread(target=server.keepalive, name="virtkitd-keepalive", daemon=True).start()
    threading.Thread(target=server.takeover, name="virtkitd-takeover", daemon=True).start()

    if args.stdio:
        out = os.dup(1)
        os.dup2(2, 1)  # a stray print must not corrupt the frames on stdout
        client = server.serve(PipeLink(0, out), "stdio", auth.process_identity())
        client.done.wait()  # its reading may have moved to another thread
        server.close_all()
        return 0

    activated = _activated()
    sock_dir = socket_dir(config, session)
    backlog = config.max_queued_clients
    listeners: list[tuple[socket.socket, str, str]] = []
    rw = activated.pop("rw", None)
    if rw is None:
        path = os.path.join(sock_dir, RW_SOCKET)
        rw = _bind_unix(path, int(config.unix_sock_rw_perms, 8), config.unix_sock_group,
                        backlog)
        created.append(path)
    listeners.append((rw, "unix-rw", config.auth_unix_rw))
    ro = activated.pop("ro", None)
    if ro is None and not session:
        path = os.path.join(sock_dir, RO_SOCKET)
        ro = _bind_unix(path, int(config.unix_sock_ro_perms, 8), "", backlog)
        created.append(path)
    if ro is not None:
        listeners.append((ro, "unix-ro", config.auth_unix_ro))
    tcp_sock, tls_sock = activated.pop("tcp", None), activated.pop("tls", None)
    if (args.listen and config.listen_tcp) or tcp_sock is not None:
        sock = tcp_sock or _tcp_socket(config.listen_addr, config.tcp_port, backlog)
        listeners.append((sock, "tcp", config.auth_tcp))
    if (args.listen and config.listen_tls) or tls_sock is not None:
        server.tls_context = auth.server_tls_context(config.cert_file, config.key_file,
                                                     config.ca_file)
        sock = tls_sock or _tcp_socket(config.listen_addr, config.tls_port, backlog)
        listeners.append((sock, "tls", config.auth_tls))

    reload_asked = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: reload_asked.set())
    threads = []
    for lsock, transport, scheme in listeners:
        log.info("listening on %s", lsock.getsockname())
        thread = threading.Thread(target=_listen, args=(server, lsock, transport, scheme),
                                  name=f"virtkitd-listen-{transport}", daemon=True)
        thread.start()
        threads.append(thread)
    print_ready()
    while not stop.wait(0.25):
        if reload_asked.is_set():
            reload_asked.clear()
            try:
                new = load(config.source)
            except VirtError as exc:
                log.error("not reloading: %s", exc.message)
            else:
                setup_logging(new, False)
                server.reload(new)
        if (args.timeout and not server.clients
                and time.monotonic() - server.idle_since >= args.timeout):
            log.info("no clients for %s s: exiting", args.timeout)
            break
    log.info("shutting down: closing %d client(s); guests keep running", len(server.clients))
    server.stopping.set()
    for thread in threads:
        thread.join(2)
    for lsock, _t, _s in listeners:
        lsock.close()
    server.close_all()
    for path in created:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return 0


def print_ready() -> None:
    """Tell systemd (Type=notify) that the daemon is ready, when it asked."""
    target = os.environ.get("NOTIFY_SOCKET")
    if not target:
        return
    addr = "\0" + target[1:] if target.startswith("@") else target
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(b"READY=1", addr)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    session = args.session or os.geteuid() != 0
    path = args.config
    if path is None:
        default = session_config() if session else SYSTEM_CONFIG
        path = default if os.path.exists(default) else None
    try:
        config = load(path)
        setup_logging(config, args.stdio)
    except VirtError as exc:
        print(f"virtkitd: {exc.message}", file=sys.stderr)
        return 1
    if config.access_rules_file:
        os.environ["VIRTKIT_ACCESS_RULES"] = config.access_rules_file
    if args.pid_file:
        Path(args.pid_file).write_text(f"{os.getpid()}\n")
    try:
        return serve(args, config, session)
    except VirtError as exc:
        print(f"virtkitd: {exc.message}", file=sys.stderr)
        return 1
    finally:
        if args.pid_file:
            with contextlib.suppress(OSError):
                os.unlink(args.pid_file)


if __name__ == "__main__":
    sys.exit(main())
