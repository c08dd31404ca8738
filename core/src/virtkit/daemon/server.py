"""The virtkitd server: listeners, clients, authentication, limits and dispatch to drivers.

One asyncio loop reads and writes every client's frames; hook calls run on a pool of
``max_workers`` threads, with ``prio_workers`` more for destroy, lookups and other quick reads
when every ordinary worker is busy. Each client has one connection (opened by the ``@open``
procedure with the client's identity) and at most ``max_client_requests`` calls in flight: the
daemon stops reading a client at its limit until a reply goes. Events of a client's connection
go out as EVENT frames; a client whose unsent data passes ``max_client_backlog`` is disconnected
so that it cannot slow the others.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import os
import socket
import threading
import time
from typing import Any

import attrs

from virtkit.daemon import auth
from virtkit.daemon.config import Config
from virtkit.remote import procedures as procs
from virtkit.remote.protocol import (
    HEADER_SIZE,
    PING,
    PONG,
    Header,
    ProtocolError,
    Status,
    Type,
    check_length,
    decode_body,
    decode_header,
    encode,
)
from virtkit.remote.protocol import VERSION as PROTOCOL_VERSION
from virtkit.sdk.driver import Identity
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import PREFIX, all_specs
from virtkit.sdk.records import Event, to_plain
from virtkit.sdk.uri import parse_uri

log = logging.getLogger("virtkitd")

#: Operations served by the priority workers when every ordinary worker is busy.
PRIORITY_OPS = frozenset(
    op[len(PREFIX):] for op in all_specs()
    if "_lookup_by_" in op or op.endswith(("_get_info", "_get_state", "_get_job_info"))
) | {"domain_destroy", "domain_abort_job", "connect_close", "domain_list", "connect_get_hostname"}


@attrs.define(eq=False)
class Client:
    """One connected client."""

    id: int
    transport: str  # unix-rw, unix-ro, tcp, tls, stdio
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    identity: Identity
    read_only: bool
    authenticated: bool
    auth_scheme: str
    admin: bool = False
    connected_since: float = attrs.field(factory=time.time)
    last_rx: float = attrs.field(factory=time.monotonic)
    uri: str | None = None
    conn: Any = None
    slots: asyncio.Semaphore | None = None
    scram: auth.ScramSession | None = None
    closed: bool = False
    in_flight: int = 0
    event_ids: list[int] = attrs.field(factory=list)

    def info(self) -> dict[str, Any]:
        ident = self.identity
        return {
            "id": self.id, "transport": self.transport, "readonly": self.read_only,
            "connected_since": int(self.connected_since), "uri": self.uri,
            "authenticated": self.authenticated, "auth": self.auth_scheme,
            "uid": ident.uid, "gid": ident.gid, "pid": ident.pid, "user": ident.user,
            "x509_dname": ident.x509_dname, "sasl_user": ident.sasl_user,
            "in_flight": self.in_flight,
        }


class Server:
    """The daemon's state: configuration, clients, worker pools."""

    def __init__(self, config: Config, *, session: bool = False) -> None:
        self.config = config
        self.session = session
        self.clients: dict[int, Client] = {}
        self._ids = itertools.count(1)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.workers = concurrent.futures.ThreadPoolExecutor(
            config.max_workers, thread_name_prefix="virtkitd-worker")
        self.prio = concurrent.futures.ThreadPoolExecutor(
            max(1, config.prio_workers), thread_name_prefix="virtkitd-prio")
        self.busy = 0
        self.users = auth.load_users(config.scram_users_file)
        self.servers: list[asyncio.base_events.Server] = []
        self.idle_since = time.monotonic()
        self.hostname = socket.gethostname()

    # -- configuration -------------------------------------------------------------------------

    def reload(self, config: Config) -> None:
        """SIGHUP: new limits, TLS DN list, users and log level; listeners stay."""
        self.config = config
        self.users = auth.load_users(config.scram_users_file)
        if config.max_workers != self.workers._max_workers:
            old, self.workers = self.workers, concurrent.futures.ThreadPoolExecutor(
                config.max_workers, thread_name_prefix="virtkitd-worker")
            old.shutdown(wait=False)
        log.warning("configuration reloaded from %s", config.source or "defaults")

    # -- clients -------------------------------------------------------------------------------

    def anonymous(self) -> int:
        return sum(1 for c in self.clients.values() if not c.authenticated)

    async def accept(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        transport: str,
        auth_scheme: str = "none",
    ) -> None:
        """Serve one client until it goes: admission, then its frames."""
        cfg = self.config
        try:
            identity = self._identify(writer, transport)
        except VirtError as exc:
            log.warning("refused a %s client: %s", transport, exc.message)
            await self._refuse(writer, exc)
            return
        if len(self.clients) >= cfg.max_clients:
            log.warning("refused a %s client: max_clients (%d) reached", transport,
                        cfg.max_clients)
            await self._refuse(writer, VirtError(
                ErrorCode.RPC, f"too many clients: the daemon serves at most {cfg.max_clients}",
                ErrorDomain.RPC))
            return
        needs_auth = auth_scheme != "none"
        if needs_auth and self.anonymous() >= cfg.max_anonymous_clients:
            await self._refuse(writer, VirtError(
                ErrorCode.RPC, f"too many unauthenticated clients (max_anonymous_clients "
                f"{cfg.max_anonymous_clients})", ErrorDomain.RPC))
            return
        client = Client(
            id=next(self._ids), transport=transport, reader=reader, writer=writer,
            identity=identity, read_only=transport == "unix-ro", authenticated=not needs_auth,
            auth_scheme=auth_scheme,
            admin=transport in ("unix-rw", "stdio") and identity.uid in (0, os.geteuid()),
            slots=asyncio.Semaphore(cfg.max_client_requests),
        )
        self.clients[client.id] = client
        log.info("client %d connected over %s (uid %s)", client.id, transport, identity.uid)
        try:
            await self._serve(client)
        finally:
            await self._drop(client)

    def _identify(self, writer: asyncio.StreamWriter, transport: str) -> Identity:
        if transport == "stdio":
            return auth.process_identity()
        sock = writer.get_extra_info("socket")
        if transport.startswith("unix"):
            ident = auth.peer_identity(sock)
            if self.session and ident.uid != os.geteuid():
                raise VirtError(ErrorCode.AUTH_FAILED, f"this session daemon serves only uid "
                                f"{os.geteuid()}, not uid {ident.uid}", ErrorDomain.RPC)
            return ident
        if transport == "tls":
            ssl_object = writer.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
            if not der:
                raise VirtError(ErrorCode.AUTH_FAILED, "the client sent no certificate",
                                ErrorDomain.RPC)
            dname = auth.distinguished_name(der)
            if not auth.dn_allowed(dname, self.config.tls_allowed_dn_list):
                raise VirtError(ErrorCode.AUTH_FAILED, f"client certificate '{dname}' is not in "
                                f"tls_allowed_dn_list", ErrorDomain.RPC)
            return Identity(x509_dname=dname)
        return Identity()

    async def _refuse(self, writer: asyncio.StreamWriter, exc: VirtError) -> None:
        """Tell a refused client why (an unsolicited error reply, serial 0), then close."""
        try:
            writer.write(encode(Header(0, Type.REPLY, 0, Status.ERROR), exc.to_dict()))
            await asyncio.wait_for(writer.drain(), 2)
        except (TimeoutError, OSError):
            pass
        finally:
            writer.close()

    async def _drop(self, client: Client) -> None:
        client.closed = True
        self.clients.pop(client.id, None)
        if not self.clients:
            self.idle_since = time.monotonic()
        try:
            client.writer.close()
        except Exception:  # the transport may already be gone
            pass
        conn, client.conn = client.conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(self.prio, _close_quietly, conn)
        log.info("client %d disconnected", client.id)

    def disconnect(self, client: Client, why: str) -> None:
        if client.closed:
            return
        log.warning("disconnecting client %d: %s", client.id, why)
        client.closed = True
        transport = client.writer.transport
        transport.abort()

    # -- frames --------------------------------------------------------------------------------

    async def _serve(self, client: Client) -> None:
        reader = client.reader
        assert client.slots is not None
        while not client.closed:
            await client.slots.acquire()
            try:
                first = await reader.readexactly(HEADER_SIZE)
                size = check_length(first[:4])
                header = decode_header(first)
                payload = await reader.readexactly(size) if size else b""
            except (asyncio.IncompleteReadError, ConnectionError, OSError):
                return
            except ProtocolError as exc:
                self.disconnect(client, str(exc))
                return
            client.last_rx = time.monotonic()
            if not self._frame(client, header, payload):
                client.slots.release()
            if client.writer.transport.get_write_buffer_size() > self.config.max_client_backlog:
                await client.writer.drain()

    def _frame(self, client: Client, header: Header, payload: bytes) -> bool:
        """Handle one frame; True when a call went to a worker (its slot is released later)."""
        if header.type == Type.KEEPALIVE:
            if header.procedure == PING:
                self._send(client, Header(PONG, Type.KEEPALIVE, header.serial))
            return False
        if header.type != Type.CALL:
            self.disconnect(client, f"a {Type(header.type).name} frame was sent as a request")
            return False
        if header.version != PROTOCOL_VERSION:
            self._error(client, header, VirtError(
                ErrorCode.RPC, f"protocol version {header.version} is not supported by this "
                f"daemon (it speaks version {PROTOCOL_VERSION})", ErrorDomain.RPC))
            return False
        name = procs.by_number().get(header.procedure)
        if name is None:
            self._send(client, Header(header.procedure, Type.REPLY, header.serial,
                                      Status.UNKNOWN_PROCEDURE), {"procedure": header.procedure})
            return False
        if not client.authenticated and name not in procs.AUTH_PROCEDURES:
            self._error(client, header, VirtError(
                ErrorCode.AUTH_FAILED, f"authentication required before {name.lstrip('@')}",
                ErrorDomain.RPC))
            return False
        try:
            body = decode_body(payload)
        except ProtocolError as exc:
            self._error(client, header, VirtError(ErrorCode.RPC, f"{name.lstrip('@')}: {exc}",
                                                  ErrorDomain.RPC))
            return False
        if name.startswith("@"):
            return self._protocol_call(client, header, name, body)
        if client.conn is None:
            self._error(client, header, VirtError(
                ErrorCode.INVALID_CONN, f"no connection is open: call {name} after open",
                ErrorDomain.RPC))
            return False
        self._dispatch(client, header, name, _hook_call, client.conn, name, body)
        return True

    def _dispatch(self, client: Client, header: Header, name: str, fn: Any, *args: Any) -> None:
        assert self.loop is not None
        priority = name in PRIORITY_OPS and self.busy >= self.config.max_workers
        pool = self.prio if priority else self.workers
        if not priority:
            self.busy += 1
        client.in_flight += 1
        future = self.loop.run_in_executor(pool, fn, *args)
        future.add_done_callback(
            lambda f: self._done(client, header, f, not priority))

    def _done(self, client: Client, header: Header, future: Any, ordinary: bool) -> None:
        if ordinary:
            self.busy -= 1
        client.in_flight -= 1
        assert client.slots is not None
        client.slots.release()
        if client.closed:
            return
        try:
            result = future.result()
        except VirtError as exc:
            self._error(client, header, exc)
            return
        except Exception as exc:  # a bug here must not kill the daemon
            log.exception("procedure %d failed", header.procedure)
            self._error(client, header, VirtError(
                ErrorCode.INTERNAL_ERROR, f"internal error: {type(exc).__name__}: {exc}",
                ErrorDomain.RPC))
            return
        if isinstance(result, _Opened):
            self._opened(client, result)
            result = result.reply
        if isinstance(result, _Reply):
            body = {"r": result.result, "w": result.warnings}
        else:
            body = {"r": result}
        self._send(client, Header(header.procedure, Type.REPLY, header.serial), body)

    def _send(self, client: Client, header: Header, body: Any = None) -> None:
        if client.closed:
            return
        try:
            client.writer.write(encode(header, body))
        except VirtError as exc:  # a result too large for one frame, or not plain data
            if header.type == Type.EVENT:
                log.error("an event could not be sent: %s", exc.message)
                return
            client.writer.write(encode(Header(header.procedure, Type.REPLY, header.serial,
                                              Status.ERROR), exc.to_dict()))
        except (RuntimeError, OSError):
            self.disconnect(client, "its transport is closed")

    def _error(self, client: Client, header: Header, exc: VirtError) -> None:
        self._send(client, Header(header.procedure, Type.REPLY, header.serial, Status.ERROR),
                   exc.to_dict())

    # -- protocol procedures ------------------------------------------------------------------

    def _protocol_call(self, client: Client, header: Header, name: str, body: Any) -> bool:
        try:
            if name == procs.AUTH_LIST:
                reply: Any = {"authenticated": client.authenticated,
                              "mechanisms": [] if client.authenticated else [auth.MECHANISM]}
            elif name == procs.AUTH_SCRAM_START:
                reply = self._scram_start(client, body)
            elif name == procs.AUTH_SCRAM_STEP:
                reply = self._scram_step(client, body)
            elif name == procs.OPEN:
                if client.conn is not None:
                    raise VirtError(ErrorCode.OPERATION_INVALID, "a connection is already open "
                                    "on this client", ErrorDomain.RPC)
                self._dispatch(client, header, name, self._open, client, body)
                return True
            elif name == procs.CLOSE:
                conn, client.conn = client.conn, None
                if conn is not None:
                    self._dispatch(client, header, name, _close_quietly, conn)
                    return True
                reply = True
            else:
                reply = self._admin(client, name, body)
        except VirtError as exc:
            self._error(client, header, exc)
            return False
        self._send(client, Header(header.procedure, Type.REPLY, header.serial), {"r": reply})
        return False

    def _scram_start(self, client: Client, body: Any) -> dict[str, str]:
        if client.authenticated:
            raise VirtError(ErrorCode.OPERATION_INVALID, "already authenticated", ErrorDomain.RPC)
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, str):
            raise auth.failed()
        client.scram = auth.ScramSession(self.users)
        return {"message": client.scram.start(message)}

    def _scram_step(self, client: Client, body: Any) -> dict[str, str]:
        session, client.scram = client.scram, None
        message = body.get("message") if isinstance(body, dict) else None
        if session is None or not isinstance(message, str):
            raise auth.failed()
        final = session.finish(message)
        client.authenticated = True
        client.identity = attrs.evolve(client.identity, sasl_user=session.user,
                                       user=client.identity.user or session.user)
        log.info("client %d authenticated as '%s'", client.id, session.user)
        return {"message": final}

    def _open(self, client: Client, body: Any) -> _Opened:
        """In a worker: open the client's connection with its identity."""
        from virtkit.api.connection import open as open_connection

        if not isinstance(body, dict) or not isinstance(body.get("uri"), str):
            raise VirtError(ErrorCode.RPC, "open: expected a URI", ErrorDomain.RPC)
        parsed = parse_uri(body["uri"])
        if parsed.is_remote:
            raise VirtError(ErrorCode.NO_CONNECT, f"the daemon does not forward connections to "
                            f"another host or transport: '{body['uri']}'", ErrorDomain.REMOTE)
        read_only = client.read_only or bool(body.get("read_only"))
        conn = open_connection(body["uri"], read_only=read_only, identity=client.identity)
        ops = sorted(h[len(PREFIX):] for h in all_specs() if conn.implements(h[len(PREFIX):]))
        caps = to_plain(dict(getattr(conn.driver, "capabilities", {}) or {}))
        reply = {
            "driver": conn.driver_name, "operations": ops, "capabilities": caps,
            "read_only": read_only, "hostname": self.hostname, "protocol": PROTOCOL_VERSION,
            "procedures": max(procs.by_number()),
        }
        return _Opened(conn, reply, body["uri"])

    def _opened(self, client: Client, opened: _Opened) -> None:
        client.conn = opened.conn
        client.uri = opened.uri
        loop = self.loop
        assert loop is not None

        def relay(event: Event) -> None:
            loop.call_soon_threadsafe(self._event, client, event)

        from virtkit.runtime.events import KINDS

        client.event_ids = [opened.conn.event_register(kind, relay) for kind in KINDS]

    def _event(self, client: Client, event: Event) -> None:
        if client.closed:
            return
        transport = client.writer.transport
        limit = self.config.max_client_backlog
        if transport.get_write_buffer_size() > limit:
            self.disconnect(client, f"it does not read its events (more than {limit} bytes "
                            f"unsent)")
            return
        self._send(client, Header(0, Type.EVENT, 0), event)

    # -- administration ------------------------------------------------------------------------

    def _admin(self, client: Client, name: str, body: Any) -> Any:
        if not client.admin:
            raise VirtError(ErrorCode.OPERATION_DENIED, f"operation forbidden: {name.lstrip('@')} "
                            f"is for the daemon's owner on its read-write socket",
                            ErrorDomain.RPC)
        cfg = self.config
        if name == "@admin_server_info":
            return {
                "clients": len(self.clients), "anonymous": self.anonymous(),
                "max_clients": cfg.max_clients,
                "max_anonymous_clients": cfg.max_anonymous_clients,
                "max_workers": cfg.max_workers, "prio_workers": cfg.prio_workers,
                "busy_workers": self.busy, "max_client_requests": cfg.max_client_requests,
                "keepalive_interval": cfg.keepalive_interval,
                "keepalive_count": cfg.keepalive_count, "session": self.session,
            }
        if name == "@admin_client_list":
            return [c.info() for c in self.clients.values()]
        if name == "@admin_client_close":
            target = self.clients.get(body.get("id") if isinstance(body, dict) else None)
            if target is None:
                raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: no client with id "
                                f"{body.get('id') if isinstance(body, dict) else body!r}")
            self.disconnect(target, f"closed by client {client.id}")
            return True
        if name == "@admin_set_limits":
            if not isinstance(body, dict):
                raise VirtError(ErrorCode.INVALID_ARG, "invalid argument: expected limits")
            for key in ("max_clients", "max_anonymous_clients", "max_client_requests"):
                if key in body:
                    value = body[key]
                    if not isinstance(value, int) or value < 1:
                        raise VirtError(ErrorCode.INVALID_ARG,
                                        f"invalid argument: {key} must be a positive integer")
                    setattr(cfg, key, value)
            return True
        raise VirtError(ErrorCode.RPC, f"unknown procedure {name}", ErrorDomain.RPC)

    # -- keepalive -----------------------------------------------------------------------------

    async def keepalive(self) -> None:
        """Ping clients that were quiet for an interval; drop those quiet for count of them."""
        while True:
            interval = self.config.keepalive_interval
            if interval <= 0:
                await asyncio.sleep(1)
                continue
            await asyncio.sleep(interval)
            now = time.monotonic()
            for client in list(self.clients.values()):
                quiet = now - client.last_rx
                if quiet > interval * max(1, self.config.keepalive_count):
                    self.disconnect(client, f"no answer to keepalive for {quiet:.0f} s")
                elif quiet >= interval:
                    self._send(client, Header(PING, Type.KEEPALIVE, 0))

    async def close_all(self) -> None:
        for client in list(self.clients.values()):
            self.disconnect(client, "the daemon is shutting down")
        for _ in range(50):
            if not self.clients:
                break
            await asyncio.sleep(0.02)
        self.workers.shutdown(wait=False, cancel_futures=True)
        self.prio.shutdown(wait=False, cancel_futures=True)


@attrs.define
class _Opened:
    conn: Any
    reply: dict[str, Any]
    uri: str


class _Warnings(logging.Handler):
    """Collects WARNING and above logged by the thread that runs a call (a driver's way of
    saying it ignored part of a document), so that the reply carries them to the client."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        sink = getattr(self.local, "sink", None)
        if sink is not None and not record.name.startswith("virtkitd"):
            try:
                sink.append(record.getMessage())
            except Exception:
                pass


WARNINGS = _Warnings()
logging.getLogger().addHandler(WARNINGS)


def _hook_call(conn: Any, op: str, body: Any) -> Any:
    """In a worker: one hook call with its plain-data arguments; the plain-data result, and
    the warnings logged while it ran (``{"r": result, "w": [messages]}``)."""
    sink: list[str] = []
    WARNINGS.local.sink = sink
    try:
        result = _hook_call_inner(conn, op, body)
    finally:
        WARNINGS.local.sink = None
    return _Reply(result, sink) if sink else result


@attrs.define
class _Reply:
    result: Any
    warnings: list[str]


def _hook_call_inner(conn: Any, op: str, body: Any) -> Any:
    if not isinstance(body, dict) or not all(isinstance(k, str) for k in body):
        raise VirtError(ErrorCode.RPC, f"{op}: the arguments must be a map of names",
                        ErrorDomain.RPC)
    try:
        return conn.call(op, **body)
    finally:
        # the events this call caused go out before its reply, as they reach in-process
        # callbacks before the call returns
        conn.events.wait_idle(5.0)


def _close_quietly(conn: Any) -> bool:
    try:
        conn.close()
    except VirtError as exc:
        log.warning("closing a client's connection: %s", exc.message)
    return True
