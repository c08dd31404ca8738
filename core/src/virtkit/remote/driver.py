"""The remote driver: every hook of the far driver, forwarded to virtkitd without per-hook code.

``virtkit.open()`` picks it for a URI with a host or a transport (``test+unix:///default``,
``qemu+ssh://host/system``). On start it connects (:mod:`virtkit.remote.transport`),
authenticates when the daemon asks (SCRAM-SHA-256 with the URI's user and a password from the
SDK's credential chain: auth file, ``VIRTKIT_PASSWORD``, callback, prompt), and opens the far
connection, learning the far driver's name, the operations it implements and its capability
flags, which it then presents as its own so that NO_SUPPORT, ``conn.implements()`` and the
conformance suite answer as in-process. One hookimpl per hookspec is generated: it sends the
operation's keyword arguments in their plain-data form (records as tagged maps, see
:func:`virtkit.remote.protocol.encode`) and returns the result as records;
a far VirtError is raised here with the same code, domain and message. Far events arrive as EVENT
frames and are emitted on this connection.
"""

from __future__ import annotations

import getpass
import inspect
from collections.abc import Callable
from typing import Any, ClassVar

from virtkit.remote import procedures as procs
from virtkit.remote.client import RpcClient
from virtkit.remote.transport import connect
from virtkit.sdk.driver import Driver, DriverContext
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import PREFIX, all_specs, hookimpl
from virtkit.sdk.records import Event
from virtkit.sdk.uri import URI, format_uri

#: Parameters read here, never passed to the far driver.
CLIENT_PARAMS = frozenset({
    "socket", "keyfile", "no_verify", "known_hosts", "command", "pkipath", "name", "no_tty",
    "netcat", "mode", "proxy", "tls_priority", "sshauth", "known_hosts_verify",
    "keepalive_interval", "keepalive_count",
})
#: Hooks with local meaning only: the far connection is opened by the daemon, and probing picks
#: a local driver.
_LOCAL = frozenset({"connect_open", "connect_close", "connect_probe"})


def far_uri(uri: URI) -> str:
    """What the daemon opens: the URI without transport, user, host, port and client-side
    parameters; ``name=`` when given (as libvirt's remote driver)."""
    explicit = uri.param("name")
    if explicit:
        return explicit
    params = tuple((k, v) for k, v in uri.params if k not in CLIENT_PARAMS)
    return format_uri(URI(driver=uri.driver, path=uri.path or "/", params=params))


def _forwarder(hook: str, argnames: tuple[str, ...]) -> Callable[..., Any]:
    # pluggy reads a hookimpl's argument names from its code object, so each forwarder is
    # compiled with its spec's own parameter names (from our hookspecs, never from input).
    # The procedure number is looked up once, here (None: this client has none for it).
    op = hook[len(PREFIX):]
    number = procs.table().get(op)
    params = "".join(f", {a}" for a in argnames)
    args = ", ".join(f"{a!r}: {a}" for a in argnames)
    # with a number, straight to the client's call_number (self._call); without, _forward
    # refuses
    target = "_forward" if number is None else "_call"
    source = (f"def {hook}(self{params}):\n"
              f"    return self.{target}({number!r}, {op!r}, {{{args}}})\n")
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<virtkit remote {hook}>", "exec"), namespace)
    return hookimpl(namespace[hook])  # type: ignore[no-any-return]


def _forward_every_hook(cls: type[RemoteDriver]) -> type[RemoteDriver]:
    for hook, spec in all_specs().items():
        if hook[len(PREFIX):] in _LOCAL or hook in vars(cls):
            continue
        setattr(cls, hook, _forwarder(hook, tuple(inspect.signature(spec).parameters)))
    return cls


@_forward_every_hook
class RemoteDriver(Driver):
    """The client side of virtkitd; ``name`` and ``capabilities`` become the far driver's."""

    name = "remote"
    error_domain = ErrorDomain.REMOTE
    capabilities: ClassVar[dict[str, Any]] = {}

    def __init__(self, context: DriverContext) -> None:
        super().__init__(context)
        uri = context.uri
        self.host = uri.host or "localhost"
        interval = _number(uri, "keepalive_interval", 5.0)
        count = int(_number(uri, "keepalive_count", 5))
        channel = connect(uri, context.read_only)
        self.client = RpcClient(channel, self.host, self._event, interval, count)
        #: what every forwarder with a procedure number calls
        self._call = self.client.call_number
        try:
            self._authenticate()
            info = self.client.call(procs.OPEN, {"uri": far_uri(uri),
                                                 "read_only": context.read_only})
        except VirtError as exc:
            self.client.close()
            stderr = getattr(channel, "stderr_text", None)
            detail = stderr() if stderr is not None and exc.code == ErrorCode.RPC else ""
            if detail:
                raise VirtError(exc.code, f"{exc.message}: {detail}", exc.domain) from None
            raise
        self.name = str(info["driver"])  # type: ignore[misc]
        self.capabilities = dict(info.get("capabilities") or {})  # type: ignore[misc]
        self._operations = frozenset(str(op) for op in info["operations"])
        self.far_read_only = bool(info.get("read_only"))
        self.daemon_hostname = str(info.get("hostname", ""))
        # the daemon relays only the event kinds this connection has callbacks for
        context.watch_events(self._events_wanted)

    # -- what the far side serves ------------------------------------------------------------

    def implemented_operations(self) -> frozenset[str] | None:
        return self._operations

    # -- authentication ----------------------------------------------------------------------

    def _authenticate(self) -> None:
        state = self.client.call(procs.AUTH_LIST)
        if state.get("authenticated"):
            return
        if "SCRAM-SHA-256" not in state.get("mechanisms", ()):
            raise VirtError(ErrorCode.AUTH_FAILED, f"the daemon at {self.host} offers no "
                            f"authentication this client knows", ErrorDomain.REMOTE)
        from scramp import ScramClient  # type: ignore[import-untyped, unused-ignore]

        user, password = self._credentials()
        scram = ScramClient(["SCRAM-SHA-256"], user, password)
        reply = self.client.call(procs.AUTH_SCRAM_START, {"message": scram.get_client_first()})
        try:
            scram.set_server_first(reply["message"])
            final = scram.get_client_final()
        except Exception as exc:
            raise VirtError(ErrorCode.AUTH_FAILED, f"authentication with {self.host} failed: "
                            f"{exc}", ErrorDomain.REMOTE) from None
        reply = self.client.call(procs.AUTH_SCRAM_STEP, {"message": final})
        try:
            scram.set_server_final(reply["message"])
        except Exception:
            raise VirtError(ErrorCode.AUTH_FAILED, f"the daemon at {self.host} could not prove "
                            f"it knows the password", ErrorDomain.REMOTE) from None

    def _credentials(self) -> tuple[str, str]:
        """The SDK's credential chain for service ``virtkit`` on this host: the URI's user, the
        auth file, VIRTKIT_PASSWORD, the connection's callback, a terminal prompt."""
        from virtkit.sdk.auth import lookup_credentials

        found = lookup_credentials(
            "virtkit", self.host, user=self.context.uri.user,
            auth=getattr(self.context, "auth", None), default_user=getpass.getuser(),
        )
        user = found.username or getpass.getuser()
        if found.password is None:
            raise VirtError(ErrorCode.AUTH_FAILED, f"the daemon at {self.host} asks for "
                            f"{user}'s password and none was given (auth file, VIRTKIT_PASSWORD, "
                            f"a credential callback or a terminal)", ErrorDomain.REMOTE)
        return user, found.password

    # -- forwarding ----------------------------------------------------------------------------

    def _forward(self, number: int | None, op: str, kwargs: dict[str, Any]) -> Any:
        if number is None:
            raise VirtError(ErrorCode.NO_SUPPORT, f"this client has no procedure number for "
                            f"{op}", ErrorDomain.REMOTE)
        return self.client.call_number(number, op, kwargs)

    def _events_wanted(self, kinds: frozenset[str]) -> None:
        self.client.call(procs.EVENTS, {"kinds": sorted(kinds)})

    def _event(self, body: Any) -> None:
        if isinstance(body, Event):
            self.context.emit(body)

    # -- the connection ------------------------------------------------------------------------

    @hookimpl
    def virtkit_connect_probe(self) -> str | None:
        return None

    @hookimpl
    def virtkit_connect_open(self, uri: str, read_only: bool) -> bool:
        return True  # the daemon opened the far connection when this driver started

    @hookimpl
    def virtkit_connect_close(self) -> bool:
        try:
            if self.client.alive:
                self.client.call(procs.CLOSE)
        except VirtError:
            pass
        finally:
            self.client.close()
        return True


def _number(uri: URI, key: str, default: float) -> float:
    text = uri.param(key)
    if text is None:
        return default
    try:
        return float(text)
    except ValueError:
        raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: URI parameter {key}="
                        f"'{text}' is not a number", ErrorDomain.REMOTE) from None
