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
import asyncio
import contextlib
import grp
import logging
import logging.handlers
import os
import signal
import socket
import sys
import time
from pathlib import Path

from virtkit.daemon import auth
from virtkit.daemon.config import LOG_LEVELS, Config, load, parse_log_outputs
from virtkit.daemon.server import Server
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
    for handler in list(root.handlers):
        root.removeHandler(handler)
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


async def serve(args: argparse.Namespace, config: Config, session: bool) -> int:
    loop = asyncio.get_running_loop()
    server = Server(config, session=session)
    server.loop = loop
    stop = asyncio.Event()
    created: list[str] = []

    if args.stdio:
        reader = asyncio.StreamReader(limit=2**16)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        out = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)  # a stray print must not corrupt the frames on stdout
        wtransport, wprotocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, out)
        writer = asyncio.StreamWriter(wtransport, wprotocol, reader, loop)
        keepalive = asyncio.create_task(server.keepalive())
        await server.accept(reader, writer, "stdio")
        keepalive.cancel()
        await server.close_all()
        return 0

    activated = _activated()
    sock_dir = socket_dir(config, session)
    rw = activated.pop("rw", None)
    if rw is None:
        path = os.path.join(sock_dir, RW_SOCKET)
        rw = _bind_unix(path, int(config.unix_sock_rw_perms, 8), config.unix_sock_group,
                        config.max_queued_clients)
        created.append(path)
    ro = activated.pop("ro", None)
    if ro is None and not session:
        path = os.path.join(sock_dir, RO_SOCKET)
        ro = _bind_unix(path, int(config.unix_sock_ro_perms, 8), "", config.max_queued_clients)
        created.append(path)

    def handler(transport: str, scheme: str):  # type: ignore[no-untyped-def]
        async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.accept(reader, writer, transport, scheme)
        return run

    backlog = config.max_queued_clients
    server.servers.append(await asyncio.start_unix_server(
        handler("unix-rw", config.auth_unix_rw), sock=rw, backlog=backlog))
    if ro is not None:
        server.servers.append(await asyncio.start_unix_server(
            handler("unix-ro", config.auth_unix_ro), sock=ro, backlog=backlog))
    tcp_sock, tls_sock = activated.pop("tcp", None), activated.pop("tls", None)
    if (args.listen and config.listen_tcp) or tcp_sock is not None:
        kw = {"sock": tcp_sock} if tcp_sock else {"host": config.listen_addr,
                                                  "port": config.tcp_port}
        server.servers.append(await asyncio.start_server(
            handler("tcp", config.auth_tcp), reuse_address=True, backlog=backlog, **kw))  # type: ignore[arg-type]
    if (args.listen and config.listen_tls) or tls_sock is not None:
        ctx = auth.server_tls_context(config.cert_file, config.key_file, config.ca_file)
        kw = {"sock": tls_sock} if tls_sock else {"host": config.listen_addr,
                                                  "port": config.tls_port}
        server.servers.append(await asyncio.start_server(
            handler("tls", config.auth_tls), ssl=ctx, reuse_address=True, backlog=backlog,
            ssl_handshake_timeout=10, **kw))  # type: ignore[arg-type]

    def reload() -> None:
        try:
            new = load(config.source)
        except VirtError as exc:
            log.error("not reloading: %s", exc.message)
            return
        setup_logging(new, False)
        server.reload(new)

    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload)
    tasks = [asyncio.create_task(server.keepalive())]
    if args.timeout:
        async def idle_exit() -> None:
            while True:
                await asyncio.sleep(min(1.0, args.timeout))
                if not server.clients and time.monotonic() - server.idle_since >= args.timeout:
                    log.info("no clients for %s s: exiting", args.timeout)
                    stop.set()
                    return
        tasks.append(asyncio.create_task(idle_exit()))
    for srv in server.servers:
        for sock in srv.sockets:
            log.info("listening on %s", sock.getsockname())
    print_ready()
    await stop.wait()
    log.info("shutting down: closing %d client(s); guests keep running", len(server.clients))
    for srv in server.servers:
        srv.close()
    for task in tasks:
        task.cancel()
    await server.close_all()
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
        return asyncio.run(serve(args, config, session))
    except VirtError as exc:
        print(f"virtkitd: {exc.message}", file=sys.stderr)
        return 1
    finally:
        if args.pid_file:
            with contextlib.suppress(OSError):
                os.unlink(args.pid_file)


if __name__ == "__main__":
    sys.exit(main())
