"""The virtkitd server: clients, authentication, limits and dispatch to drivers.

Threads, not an event loop, so that a reply needs no thread switch: one thread at a time reads
each client's frames. When a frame is a hook call, that thread runs the call itself, writes the
reply and reads on, so a short call costs no thread switch at all. A call that is still running
after :data:`TAKEOVER` seconds (a start, a save, a driver waiting on a lock) has the reading of
its client taken over by another thread of the pool (the takeover thread watches the calls run
this way), so that the client's next call, an ``abort_job`` say, and its keepalive answers are
read at once; when the long call ends, its thread writes the reply and leaves.

At most ``max_workers`` calls run at once, plus ``prio_workers`` more for destroy, lookups and other
quick reads when every ordinary worker is busy. Each client has one connection (opened by the
``@open`` procedure with the client's identity) and at most ``max_client_requests`` calls in flight:
at the limit its reader waits until a reply goes before reading on. Events of a client's connection
go out as EVENT frames from that connection's own event thread; a client whose socket stays full (it
does not read) is disconnected, which slows nobody else.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import os
import queue
import select
import socket
import threading
import time
from typing import Any

import attrs

from virtkit.daemon import auth
from virtkit.daemon.config import Config
from virtkit.remote import procedures as procs
from virtkit.remote.protocol import (
    BARE_RESULTS,
    HEADER_SIZE,
    PING,
    PONG,
    Header,
    ProtocolError,
    Status,
    Type,
    decode_body,
    encode,
    frame,
    pack_body,
    parse_header,
)
from virtkit.remote.protocol import VERSION as PROTOCOL_VERSION
from virtkit.sdk.driver import Identity
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import PREFIX, all_specs
from virtkit.sdk.records import RECORD_TYPES, Event, to_plain
from virtkit.sdk.uri import parse_uri

log = logging.getLogger("virtkitd")

#: How long a call runs in its client's reading thread before another thread reads on.
TAKEOVER = 0.02

REPLY = int(Type.REPLY)
#: Bytes asked of a client's socket per read. Python allocates the whole size for every recv
#: before the kernel fills it: at 256 KiB glibc may serve each with mmap and munmap (a loop of
#: small messages measured 37 us a recv here, against 4.5 us at 64 KiB, from the heap).
READ_SIZE = 65536

#: Operations served by the priority workers when every ordinary worker is busy.
PRIORITY_OPS = frozenset(
    op[len(PREFIX):] for op in all_specs()
    if "_lookup_by_" in op or op.endswith(("_get_info", "_get_state", "_get_job_info"))
) | {"domain_destroy", "domain_abort_job", "connect_close", "domain_list", "connect_get_hostname"}


class Link:
    """A client's byte stream: ``recv`` by the one thread that reads, ``send`` whole frames from
    any thread (under the client's write lock), ``close`` from any thread."""

    def __init__(self, sock: socket.socket | None = None) -> None:
        self.sock = sock
        if sock is not None and type(self).recv is Link.recv:
            self.recv = sock.recv  # type: ignore[method-assign, assignment]  # the socket's own, one call less

    def recv(self, size: int) -> bytes:
        assert self.sock is not None
        return self.sock.recv(size)

    #: The longest wait for the peer to take more before trying again (TLS: a write may wait
    #: for the peer's data as well, which select on writability does not see).
    RETRY = float("inf")

    def send(self, data: bytes, timeout: float) -> None:
        """Write all of ``data``; TimeoutError when the peer takes nothing for ``timeout``."""
        sent = self.write_some(data)
        if sent == len(data):
            return  # the usual case: the peer took it all at once
        view = memoryview(data)[sent:]
        deadline = time.monotonic() + timeout
        while view:
            sent = self.write_some(view)
            if sent:
                view = view[sent:]
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            select.select([], [self.writable()], [], min(left, self.RETRY))

    def write_some(self, view: bytes | memoryview) -> int:
        """Write what the peer takes now, without waiting (0 when it takes nothing)."""
        assert self.sock is not None
        try:
            return self.sock.send(view, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return 0

    def writable(self) -> Any:
        """What select() waits on until the peer takes more."""
        return self.sock

    def close(self) -> None:
        if self.sock is None:
            return
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def release(self) -> None:
        if self.sock is not None:
            self.sock.close()


class TlsLink(Link):
    """TLS: OpenSSL's connection object must not be used by two threads at once, so reads and
    writes share a lock and the reader waits for data with select() outside it."""

    def __init__(self, sock: Any) -> None:
        super().__init__(sock)
        self._lock = threading.Lock()
        self._closed = False
        sock.setblocking(False)

    def recv(self, size: int) -> bytes:
        import ssl

        sock: Any = self.sock
        while not self._closed:
            if not sock.pending():
                select.select([sock], [], [], 1.0)
            with self._lock:
                try:
                    return bytes(sock.recv(size))
                except (ssl.SSLWantReadError, BlockingIOError):
                    continue
                except ssl.SSLZeroReturnError:
                    return b""
        return b""

    RETRY = 0.05

    def write_some(self, view: bytes | memoryview) -> int:
        import ssl

        sock: Any = self.sock
        with self._lock:
            try:
                return int(sock.send(view))
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                return 0

    def close(self) -> None:
        self._closed = True
        super().close()


class PipeLink(Link):
    """Standard input and output (``virtkitd --stdio`` under ssh)."""

    def __init__(self, rfd: int, wfd: int) -> None:
        super().__init__(None)
        self.rfd, self.wfd = rfd, wfd
        os.set_blocking(wfd, False)  # a peer that reads nothing must not hold a writer forever

    def recv(self, size: int) -> bytes:
        return os.read(self.rfd, size)

    def write_some(self, view: bytes | memoryview) -> int:
        try:
            return os.write(self.wfd, view)
        except BlockingIOError:
            return 0

    def writable(self) -> Any:
        return self.wfd

    def close(self) -> None:
        for fd in (self.rfd, self.wfd):
            try:
                os.close(fd)
            except OSError:
                pass


class _InlineRun:
    """A call a client's reading thread runs itself: since when, and whether the reading was
    taken over meanwhile (then the thread leaves after its reply; the next reader has its own).
    Its fields are class attributes until set, so that making one runs no Python code."""

    since = 0.0
    taken = False


class Slots:
    """``size`` worker slots: ``take`` without waiting, or ``wait`` for one; ``give`` one back.

    The slots are tokens in a ``queue.SimpleQueue``, whose ``get_nowait`` and ``put`` are one C
    call each: the call path takes and gives with ``tokens.get_nowait()`` (``queue.Empty``
    when none is free) and ``tokens.put(None)`` directly (a BoundedSemaphore's Python-level
    condition costs several times more, a counter under a lock two Python calls a call)."""

    __slots__ = ("size", "tokens")

    def __init__(self, size: int) -> None:
        self.size = size
        self.tokens: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(size):
            self.tokens.put(None)

    @property
    def busy(self) -> int:
        return self.size - self.tokens.qsize()

    def take(self) -> bool:
        try:
            self.tokens.get_nowait()
        except queue.Empty:
            return False
        return True

    def wait(self) -> None:
        self.tokens.get()

    def give(self) -> None:
        self.tokens.put(None)


@attrs.define(eq=False)
class Client:
    """One connected client."""

    id: int
    transport: str  # unix-rw, unix-ro, tcp, tls, stdio
    link: Link
    identity: Identity
    read_only: bool
    authenticated: bool
    auth_scheme: str
    admin: bool = False
    connected_since: float = attrs.field(factory=time.time)
    last_rx: float = attrs.field(factory=time.monotonic)
    uri: str | None = None
    conn: Any = None
    scram: auth.ScramSession | None = None
    closed: bool = False
    in_flight: int = 0
    buf: bytearray = attrs.field(factory=bytearray)
    wlock: threading.Lock = attrs.field(factory=threading.Lock)
    #: the reader waits for a call to end (it has max_client_requests in flight)
    reader_waits: bool = False
    #: guards ``in_flight`` and ``inline``; ``cond`` (on the same lock) is waited on while the
    #: client has ``max_client_requests`` calls in flight
    lock: threading.Lock = attrs.field(factory=threading.Lock)
    cond: threading.Condition = attrs.field(
        default=attrs.Factory(lambda self: threading.Condition(self.lock), takes_self=True))
    #: event kind -> the id of the callback relaying it (the kinds the client asked for)
    events: dict[str, int] = attrs.field(factory=dict)
    done: threading.Event = attrs.field(factory=threading.Event)
    # The call the reading thread runs itself, if any (under ``cond``); see Server.takeover.
    inline: _InlineRun | None = None

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
    """The daemon's state: configuration, clients, the thread pool and worker slots."""

    def __init__(self, config: Config, *, session: bool = False) -> None:
        self.config = config
        self.session = session
        self.clients: dict[int, Client] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        # readers and calls share one pool; worker slots bound how many calls run at once
        self.pool = concurrent.futures.ThreadPoolExecutor(
            config.max_clients + config.max_workers + config.prio_workers + 8,
            thread_name_prefix="virtkitd")
        self.slots = Slots(config.max_workers)
        self.prio_slots = Slots(max(1, config.prio_workers))
        self.send_timeout = self._send_timeout(config)
        self.users = auth.load_users(config.scram_users_file)
        self.idle_since = time.monotonic()
        self.hostname = socket.gethostname()
        self.stopping = threading.Event()
        self._names = procs.by_number()

    # -- configuration -------------------------------------------------------------------------

    def reload(self, config: Config) -> None:
        """SIGHUP: new limits, TLS DN list, users and log level; listeners and pools stay."""
        self.config = config
        self.send_timeout = self._send_timeout(config)
        self.users = auth.load_users(config.scram_users_file)
        log.warning("configuration reloaded from %s", config.source or "defaults")

    @property
    def busy(self) -> int:
        """Ordinary worker slots taken."""
        return self.slots.busy

    @staticmethod
    def _send_timeout(config: Config) -> float:
        """How long a client's socket may stay full before the client is dropped."""
        return float(max(1, config.keepalive_interval))

    # -- admission -----------------------------------------------------------------------------

    def anonymous(self) -> int:
        return sum(1 for c in list(self.clients.values()) if not c.authenticated)

    def admit(self, sock: socket.socket, transport: str, auth_scheme: str = "none") -> None:
        """A connection accepted by a listener: checks, then its reader in the pool."""
        self.pool.submit(self._admit, sock, transport, auth_scheme)

    def _admit(self, sock: socket.socket, transport: str, auth_scheme: str) -> None:
        cfg = self.config
        link: Link
        target: Any = sock
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF,
                            min(cfg.max_client_backlog, 2**30))
            if transport == "tls":
                sock.settimeout(10)
                target = self.tls_context.wrap_socket(sock, server_side=True)
                target.settimeout(None)
                link = TlsLink(target)
            else:
                if transport == "tcp":
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                link = Link(sock)
            identity = self._identify(link, transport)
            if len(self.clients) >= cfg.max_clients:
                raise VirtError(ErrorCode.RPC, f"too many clients: the daemon serves at most "
                                f"{cfg.max_clients}", ErrorDomain.RPC)
            needs_auth = auth_scheme != "none"
            if needs_auth and self.anonymous() >= cfg.max_anonymous_clients:
                raise VirtError(ErrorCode.RPC, f"too many unauthenticated clients "
                                f"(max_anonymous_clients {cfg.max_anonymous_clients})",
                                ErrorDomain.RPC)
        except VirtError as exc:
            log.warning("refused a %s client: %s", transport, exc.message)
            self._refuse(target, exc)
            return
        except (OSError, ValueError) as exc:  # a failed TLS handshake, a vanished peer
            log.warning("refused a %s client: %s", transport, exc)
            sock.close()
            return
        self.serve(link, transport, identity, auth_scheme)

    def serve(self, link: Link, transport: str, identity: Identity,
              auth_scheme: str = "none") -> Client:
        """Register a client and start reading it (in this thread)."""
        client = Client(
            id=next(self._ids), transport=transport, link=link, identity=identity,
            read_only=transport == "unix-ro", authenticated=auth_scheme == "none",
            auth_scheme=auth_scheme,
            admin=transport in ("unix-rw", "stdio") and identity.uid in (0, os.geteuid()),
        )
        with self._lock:
            self.clients[client.id] = client
        log.info("client %d connected over %s (uid %s)", client.id, transport, identity.uid)
        self._read(client)
        return client

    def _identify(self, link: Link, transport: str) -> Identity:
        if transport == "stdio":
            return auth.process_identity()
        sock: Any = link.sock
        if transport.startswith("unix"):
            ident = auth.peer_identity(sock)
            if self.session and ident.uid != os.geteuid():
                raise VirtError(ErrorCode.AUTH_FAILED, f"this session daemon serves only uid "
                                f"{os.geteuid()}, not uid {ident.uid}", ErrorDomain.RPC)
            return ident
        if transport == "tls":
            der = sock.getpeercert(binary_form=True)
            if not der:
                raise VirtError(ErrorCode.AUTH_FAILED, "the client sent no certificate",
                                ErrorDomain.RPC)
            dname = auth.distinguished_name(der)
            if not auth.dn_allowed(dname, self.config.tls_allowed_dn_list):
                raise VirtError(ErrorCode.AUTH_FAILED, f"client certificate '{dname}' is not in "
                                f"tls_allowed_dn_list", ErrorDomain.RPC)
            return Identity(x509_dname=dname)
        return Identity()

    def _refuse(self, sock: Any, exc: VirtError) -> None:
        """Tell a refused client why (an unsolicited error reply, serial 0), then close."""
        try:
            sock.setblocking(True)
            sock.settimeout(2)
            sock.sendall(encode(Header(0, Type.REPLY, 0, Status.ERROR), exc.to_dict()))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        finally:
            sock.close()

    # -- reading -------------------------------------------------------------------------------

    def _read(self, client: Client) -> None:
        """Read the client's frames until it goes, or until a hook call: then hand the reading
        on to another thread and run the call here."""
        try:
            while not client.closed:
                if client.in_flight >= self.config.max_client_requests:
                    # (only this thread adds calls in flight: below the limit, no need to lock)
                    with client.lock:
                        while client.in_flight >= self.config.max_client_requests:
                            client.reader_waits = True
                            client.cond.wait()
                        client.reader_waits = False
                header, payload = self._next_frame(client)
                client.last_rx = time.monotonic()
                call = self._frame(client, header, payload)
                if call is not None and not self._run_inline(client, header, call):
                    return  # another thread reads this client now
        except (EOFError, ConnectionError, OSError):
            pass
        except ProtocolError as exc:
            self.disconnect(client, str(exc))
        except Exception:  # a bug here must not kill the daemon
            log.exception("client %d: reading failed", client.id)
        self._drop(client)

    def _run_inline(self, client: Client, header: Header, call: tuple[Any, ...]) -> bool:
        """Run a call in the reading thread (:meth:`_run`); False when the reading was taken
        over meanwhile (this thread then leaves once its reply is sent)."""
        run = _InlineRun()
        run.since = time.monotonic()
        with client.lock:
            client.in_flight += 1
            client.inline = run
        try:
            self._run(client, header, *call)
        finally:
            with client.lock:
                if client.inline is run:
                    client.inline = None
                client.in_flight -= 1
                if client.reader_waits:
                    client.cond.notify_all()
        # read only now: until ``inline`` was cleared above, the takeover could still set it
        return not run.taken

    def _run(self, client: Client, header: Header, name: str, fn: Any, args: tuple[Any, ...]
             ) -> None:
        """Run one call in a worker slot (a priority slot for quick reads when every ordinary
        one is taken) and send its reply (the caller counts it in flight until then)."""
        tokens = self.slots.tokens
        try:
            tokens.get_nowait()
        except queue.Empty:
            if name in PRIORITY_OPS and self.prio_slots.take():
                tokens = self.prio_slots.tokens
            else:
                tokens.get()
        try:
            result = fn(*args)
        except VirtError as exc:
            self._error(client, header, exc)
            return
        except Exception as exc:  # a bug here must not kill the daemon
            log.exception("procedure %d failed", header.procedure)
            self._error(client, header, VirtError(
                ErrorCode.INTERNAL_ERROR, f"internal error: {type(exc).__name__}: {exc}",
                ErrorDomain.RPC))
            return
        finally:
            tokens.put(None)
        cls = type(result)
        if cls is _Reply:
            body = {"r": result.result, "w": result.warnings}
        elif cls is _Opened:
            if client.closed:
                _close_quietly(result.conn)
                return
            self._opened(client, result)
            body = {"r": result.reply}
        elif cls in BARE_RESULTS or RECORD_TYPES.get(cls.__name__) is cls:
            body = result  # a record or a scalar travels bare (see virtkit.remote.protocol)
        else:
            body = {"r": result}
        if client.closed:
            return
        try:
            data = frame(header.procedure, REPLY, header.serial, 0, pack_body(body))
        except VirtError as exc:  # a result too large for one frame, or not plain data
            data = encode(Header(header.procedure, Type.REPLY, header.serial, Status.ERROR),
                          exc.to_dict())
        self._write(client, data)

    def takeover(self) -> None:
        """Hand the reading of a client whose reading thread has run a call for longer than
        :data:`TAKEOVER` to another thread (runs in its own thread until the daemon stops).
        It looks every half :data:`TAKEOVER` while clients are connected, so a call costs it
        nothing, and sleeps while none is."""
        while not self.stopping.is_set():
            if not self.clients:
                self.stopping.wait(0.2)
                continue
            self.stopping.wait(TAKEOVER / 2)
            now = time.monotonic()
            for client in list(self.clients.values()):
                run = client.inline  # read without the lock: checked again under it
                if run is None or now - run.since < TAKEOVER:
                    continue
                with client.lock:
                    if client.inline is not run or client.closed:
                        continue
                    run.taken = True
                    client.inline = None  # the next reader's own call is its own run
                self.pool.submit(self._read, client)

    def _next_frame(self, client: Client) -> tuple[Header, bytes]:
        buf = client.buf
        if not buf:
            # the usual case: one read brings exactly one frame, parsed where it lies
            chunk = client.link.recv(READ_SIZE)
            if not chunk:
                raise EOFError
            if len(chunk) >= HEADER_SIZE:
                size, header = parse_header(chunk)
                if len(chunk) == HEADER_SIZE + size:
                    return header, chunk[HEADER_SIZE:]
            buf += chunk
        while len(buf) < HEADER_SIZE:
            buf += self._recv(client)
        size, header = parse_header(buf)
        need = HEADER_SIZE + size
        while len(buf) < need:
            buf += self._recv(client)
        payload = bytes(buf[HEADER_SIZE:need])
        del buf[:need]
        return header, payload

    @staticmethod
    def _recv(client: Client) -> bytes:
        chunk = client.link.recv(READ_SIZE)
        if not chunk:
            raise EOFError
        return chunk

    def _frame(self, client: Client, header: Header, payload: bytes) -> tuple[Any, ...] | None:
        """Handle one frame; a hook call (or a slow protocol procedure) is returned as
        ``(name, function, args)`` for the caller to run."""
        if header.type == Type.KEEPALIVE:
            if header.procedure == PING:
                self._send(client, Header(PONG, Type.KEEPALIVE, header.serial))
            return None
        if header.type != Type.CALL:
            raise ProtocolError(f"a {Type(header.type).name} frame was sent as a request")
        if header.version != PROTOCOL_VERSION:
            self._error(client, header, VirtError(
                ErrorCode.RPC, f"protocol version {header.version} is not supported by this "
                f"daemon (it speaks version {PROTOCOL_VERSION})", ErrorDomain.RPC))
            return None
        name = self._names.get(header.procedure)
        if name is None:
            self._send(client, Header(header.procedure, Type.REPLY, header.serial,
                                      Status.UNKNOWN_PROCEDURE), {"procedure": header.procedure})
            return None
        if not client.authenticated and name not in procs.AUTH_PROCEDURES:
            self._error(client, header, VirtError(
                ErrorCode.AUTH_FAILED, f"authentication required before {name.lstrip('@')}",
                ErrorDomain.RPC))
            return None
        try:
            body = decode_body(payload)
        except ProtocolError as exc:
            self._error(client, header, VirtError(ErrorCode.RPC, f"{name.lstrip('@')}: {exc}",
                                                  ErrorDomain.RPC))
            return None
        if name.startswith("@"):
            return self._protocol_call(client, header, name, body)
        conn = client.conn
        if conn is None:
            self._error(client, header, VirtError(
                ErrorCode.INVALID_CONN, f"no connection is open: call {name} after open",
                ErrorDomain.RPC))
            return None
        return (name, _hook_call, (conn, name, body))

    # -- running calls -------------------------------------------------------------------------

    def _send(self, client: Client, header: Header, body: Any = None) -> None:
        if client.closed:
            return
        try:
            data = encode(header, body)
        except VirtError as exc:  # a result too large for one frame, or not plain data
            if header.type == Type.EVENT:
                log.error("an event could not be sent: %s", exc.message)
                return
            data = encode(Header(header.procedure, Type.REPLY, header.serial, Status.ERROR),
                          exc.to_dict())
        self._write(client, data)

    def _write(self, client: Client, data: bytes) -> None:
        try:
            with client.wlock:
                client.link.send(data, self.send_timeout)
        except TimeoutError:
            self.disconnect(client, f"it reads nothing (its socket stayed full for "
                            f"{self.send_timeout:.0f} s)")
        except OSError:
            self.disconnect(client, "its connection is gone")

    def _error(self, client: Client, header: Header, exc: VirtError) -> None:
        self._send(client, Header(header.procedure, Type.REPLY, header.serial, Status.ERROR),
                   exc.to_dict())

    def disconnect(self, client: Client, why: str) -> None:
        if client.closed:
            return
        log.warning("disconnecting client %d: %s", client.id, why)
        client.closed = True
        client.link.close()

    def _drop(self, client: Client) -> None:
        """The reader ended: forget the client, close its connection (guests keep running)."""
        client.closed = True
        client.link.close()
        with self._lock:
            if self.clients.pop(client.id, None) is None:
                return
            if not self.clients:
                self.idle_since = time.monotonic()
        conn, client.conn = client.conn, None
        if conn is not None:
            _close_quietly(conn)
        client.link.release()
        client.done.set()
        log.info("client %d disconnected", client.id)

    # -- protocol procedures ------------------------------------------------------------------

    def _protocol_call(self, client: Client, header: Header, name: str, body: Any
                       ) -> tuple[Any, ...] | None:
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
                return (name, self._open, (client, body))
            elif name == procs.EVENTS:
                reply = self._events(client, body)
            elif name == procs.CLOSE:
                conn, client.conn = client.conn, None
                client.events.clear()
                if conn is not None:
                    return (name, _close_quietly, (conn,))
                reply = True
            else:
                reply = self._admin(client, name, body)
        except VirtError as exc:
            self._error(client, header, exc)
            return None
        self._send(client, Header(header.procedure, Type.REPLY, header.serial), {"r": reply})
        return None

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
        """Open the client's connection with its identity."""
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

    def _events(self, client: Client, body: Any) -> bool:
        """Relay exactly the event kinds the client asks for (@events), as libvirt's daemon
        sends a client only the events it registered for: a client with no callbacks costs
        no event frames."""
        from virtkit.runtime.events import KINDS

        kinds = body.get("kinds") if isinstance(body, dict) else None
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            raise VirtError(ErrorCode.RPC, "events: expected a list of event kinds",
                            ErrorDomain.RPC)
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: unknown event kind "
                            f"'{unknown[0]}' (known: {', '.join(KINDS)})", ErrorDomain.RPC)
        conn = client.conn
        if conn is None:
            raise VirtError(ErrorCode.INVALID_CONN, "no connection is open: call events after "
                            "open", ErrorDomain.RPC)

        def relay(event: Event) -> None:
            self._send(client, Header(0, Type.EVENT, 0), event)

        for kind in set(client.events) - set(kinds):
            conn.event_deregister(client.events.pop(kind))
        for kind in kinds:
            if kind not in client.events:
                client.events[kind] = conn.event_register(kind, relay)
        return True

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
            return [c.info() for c in list(self.clients.values())]
        if name == "@admin_client_close":
            wanted = body.get("id") if isinstance(body, dict) else None
            target = self.clients.get(wanted) if isinstance(wanted, int) else None
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

    # -- keepalive and shutdown ----------------------------------------------------------------

    def keepalive(self) -> None:
        """Ping clients that were quiet for an interval; drop those quiet for count of them."""
        while not self.stopping.is_set():
            interval = self.config.keepalive_interval
            if self.stopping.wait(interval if interval > 0 else 1.0) or interval <= 0:
                continue
            now = time.monotonic()
            for client in list(self.clients.values()):
                quiet = now - client.last_rx
                if quiet > interval * max(1, self.config.keepalive_count):
                    self.disconnect(client, f"no answer to keepalive for {quiet:.0f} s")
                elif quiet >= interval:
                    self.pool.submit(self._send, client, Header(PING, Type.KEEPALIVE, 0))

    def close_all(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        clients = list(self.clients.values())
        for client in clients:
            self.disconnect(client, "the daemon is shutting down")
        deadline = time.monotonic() + timeout
        for client in clients:
            client.done.wait(max(0.0, deadline - time.monotonic()))
        self.pool.shutdown(wait=False, cancel_futures=True)

    tls_context: Any = None


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


@attrs.define
class _Reply:
    result: Any
    warnings: list[str]


def _hook_call(conn: Any, op: str, body: Any) -> Any:
    """One hook call with its arguments (records already decoded); the result, and the
    warnings logged while it ran. The body is the call's own fresh map: it goes to the
    dispatcher as the arguments (:meth:`~virtkit.api.connection.Connection.call_with`)."""
    if type(body) is not dict:
        raise VirtError(ErrorCode.RPC, f"{op}: the arguments must be a map of names",
                        ErrorDomain.RPC)
    sink: list[str] = []
    WARNINGS.local.sink = sink
    try:
        try:
            result = conn.call_with(op, body)
        except (VirtError, TypeError) as exc:
            # a key that is not a name (msgpack lets bytes through) is the message's fault, not
            # an argument the hook refuses (and the dispatcher cannot sort it into its message)
            if any(type(k) is not str for k in body):
                raise VirtError(ErrorCode.RPC, f"{op}: the arguments must be a map of names",
                                ErrorDomain.RPC) from None
            raise exc
    finally:
        WARNINGS.local.sink = None
        # the events this call caused go out before its reply, as they reach in-process
        # callbacks before the call returns
        if conn.events.pending:
            conn.events.wait_idle(5.0)
    return _Reply(result, sink) if sink else result


def _close_quietly(conn: Any) -> bool:
    try:
        conn.close()
    except VirtError as exc:
        log.warning("closing a client's connection: %s", exc.message)
    return True
