"""One XenAPI session per ``xenapi://`` connection: the URI's settings, the login through
virtkit's credential chain, XenAPI failures turned into VirtErrors, and Async tasks waited for.

URIs, as libvirt's xenapi driver writes them::

    xenapi://[user@]host[:port]/[?transport=https|http&no_verify=0|1&timeout=SECONDS]

``transport`` defaults to https (port 443, or 80 for http); ``no_verify=1`` accepts a
certificate that does not verify. ``timeout`` bounds every socket operation (default 30 s).
The password comes from ``virtkit.sdk.auth`` (auth file, ``VIRTKIT_PASSWORD``, the connection's
credential callback, a terminal prompt), service name ``xenapi``.
"""

from __future__ import annotations

import http.client
import logging
import re
import socket
import ssl
import threading
import time
import xmlrpc.client
from typing import Any

import attrs

from virtkit.sdk.auth import lookup_credentials
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.uri import URI

log = logging.getLogger("virtkit_xen.xenapi")

NULL = "OpaqueRef:NULL"


def xerr(code: ErrorCode, message: str) -> VirtError:
    return VirtError(code, message, ErrorDomain.XENAPI)


@attrs.frozen
class Endpoint:
    host: str
    port: int
    transport: str
    no_verify: bool
    timeout: float
    user: str | None

    @classmethod
    def from_uri(cls, uri: URI) -> Endpoint:
        if not uri.host:
            raise xerr(ErrorCode.INVALID_ARG,
                       f"invalid argument: '{uri}' names no host: write xenapi://[USER@]HOST/")
        known = {"transport", "no_verify", "timeout"}
        for key, _ in uri.params:
            if key not in known:
                raise xerr(ErrorCode.INVALID_ARG,
                           f"invalid argument: unknown query parameter '{key}' in '{uri}'")
        transport = uri.param("transport", "https") or "https"
        if transport not in ("http", "https"):
            raise xerr(ErrorCode.INVALID_ARG,
                       f"invalid argument: query parameter 'transport' has unexpected value "
                       f"'{transport}' (expected 'http' or 'https')")
        no_verify = uri.param("no_verify", "0") or "0"
        if no_verify not in ("0", "1"):
            raise xerr(ErrorCode.INVALID_ARG,
                       f"invalid argument: query parameter 'no_verify' has unexpected value "
                       f"'{no_verify}' (expected '0' or '1')")
        text = uri.param("timeout", "30") or "30"
        try:
            timeout = float(text)
            if not 0 < timeout <= 3600:
                raise ValueError
        except ValueError:
            raise xerr(ErrorCode.INVALID_ARG, f"invalid argument: query parameter 'timeout' "
                       f"must be seconds in (0, 3600], not '{text}'") from None
        if uri.path not in ("", "/"):
            raise xerr(ErrorCode.INVALID_ARG, f"invalid argument: a xenapi URI has no path "
                       f"('{uri.path}')")
        port = uri.port or (80 if transport == "http" else 443)
        return cls(uri.host, port, transport, no_verify == "1", timeout, uri.user)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}://{host}:{self.port}/"

    @property
    def where(self) -> str:
        return f"XenAPI host '{self.host}:{self.port}'"


class _Transport(xmlrpc.client.Transport):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        conn = super().make_connection(host)
        conn.timeout = self.timeout
        return conn


class _SafeTransport(xmlrpc.client.SafeTransport):
    def __init__(self, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(context=context)
        self.timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPSConnection:
        conn = super().make_connection(host)
        conn.timeout = self.timeout
        return conn


#: XenAPI error codes and the virtkit codes they become.
_CODES: dict[str, ErrorCode] = {
    "SESSION_AUTHENTICATION_FAILED": ErrorCode.AUTH_FAILED,
    "VM_BAD_POWER_STATE": ErrorCode.OPERATION_INVALID,
    "OTHER_OPERATION_IN_PROGRESS": ErrorCode.OPERATION_FAILED,
    "OPERATION_NOT_ALLOWED": ErrorCode.OPERATION_INVALID,
    "VM_IS_TEMPLATE": ErrorCode.OPERATION_INVALID,
    "VM_LACKS_FEATURE": ErrorCode.OPERATION_UNSUPPORTED,
    "MESSAGE_METHOD_UNKNOWN": ErrorCode.OPERATION_UNSUPPORTED,
    "SR_OPERATION_NOT_SUPPORTED": ErrorCode.OPERATION_UNSUPPORTED,
    "MEMORY_CONSTRAINT_VIOLATION": ErrorCode.INVALID_ARG,
    "VCPU_CONSTRAINT_VIOLATION": ErrorCode.INVALID_ARG,
    "FIELD_TYPE_ERROR": ErrorCode.INVALID_ARG,
    "TASK_CANCELLED": ErrorCode.OPERATION_ABORTED,
    "SR_FULL": ErrorCode.OPERATION_FAILED,
    "VDI_IN_USE": ErrorCode.OPERATION_INVALID,
    "DEVICE_ALREADY_ATTACHED": ErrorCode.OPERATION_INVALID,
    "DEVICE_ALREADY_DETACHED": ErrorCode.OPERATION_INVALID,
    "DEVICE_ALREADY_EXISTS": ErrorCode.OPERATION_FAILED,
    "DEVICE_DETACH_REJECTED": ErrorCode.OPERATION_FAILED,
    "VBD_NOT_REMOVABLE_MEDIA": ErrorCode.OPERATION_UNSUPPORTED,
    "VBD_NOT_EMPTY": ErrorCode.OPERATION_INVALID,
    "VBD_IS_EMPTY": ErrorCode.OPERATION_INVALID,
}
_MISSING: dict[str, tuple[ErrorCode, ErrorDomain, str]] = {
    "VM": (ErrorCode.NO_DOMAIN, ErrorDomain.DOMAIN, "Domain not found"),
    "SR": (ErrorCode.NO_STORAGE_POOL, ErrorDomain.STORAGE, "Storage pool not found"),
    "VDI": (ErrorCode.NO_STORAGE_VOL, ErrorDomain.STORAGE, "Storage volume not found"),
    "network": (ErrorCode.NO_NETWORK, ErrorDomain.NETWORK, "Network not found"),
}


def failure_error(details: list[str], what: str) -> VirtError:
    """The VirtError for a XenAPI failure ``[CODE, params...]`` during ``what``."""
    code = str(details[0]) if details else "UNKNOWN"
    params = ", ".join(str(d) for d in details[1:])
    if code in ("HANDLE_INVALID", "UUID_INVALID") and len(details) > 1:
        vcode, dom, label = _MISSING.get(str(details[1]), (ErrorCode.OPERATION_FAILED,
                                                           ErrorDomain.XENAPI, "Not found"))
        return VirtError(vcode, f"{label}: {what}: the {details[1]} is gone", dom)
    vcode = _CODES.get(code, ErrorCode.OPERATION_FAILED)
    return xerr(vcode, f"{what}: XenAPI {code}" + (f" ({params})" if params else ""))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


_VALUE = re.compile(r"^\s*<value>(.*)</value>\s*$", re.S)


def task_result(text: str) -> Any:
    """A task's ``result``: an XML-RPC ``<value>`` element as text (empty for none)."""
    if not text or not _VALUE.match(text):
        return text
    params, _ = xmlrpc.client.loads(
        f"<methodResponse><params><param>{text.strip()}</param></params></methodResponse>")
    return params[0]


class XapiSession:
    """A logged-in ``XenAPI.Session``; ``call("VM.start", ref, False, False, what=...)``.

    One HTTP connection carries one call at a time, so calls are serialised; the event
    watcher logs in a session of its own (:meth:`clone`).
    """

    def __init__(self, endpoint: Endpoint, auth: Any = None) -> None:
        self.endpoint = endpoint
        self._auth = auth
        self._lock = threading.Lock()
        self._user = ""
        self._password = ""
        self.proxy: Any = None

    def _proxy(self) -> Any:
        import XenAPI  # type: ignore[import-untyped]  # the XenAPI SDK (PyPI "XenAPI")

        ep = self.endpoint
        if ep.transport == "https":
            ctx = ssl.create_default_context()
            if ep.no_verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            transport: xmlrpc.client.Transport = _SafeTransport(ep.timeout, ctx)
        else:
            transport = _Transport(ep.timeout)
        return XenAPI.Session(ep.url, transport=transport)

    def login(self) -> None:
        import XenAPI

        ep = self.endpoint
        if not self._password:
            creds = lookup_credentials("xenapi", ep.host, user=ep.user, auth=self._auth,
                                       default_user="root")
            if creds.password is None:
                raise xerr(ErrorCode.AUTH_FAILED, f"authentication failed: no password for "
                           f"{creds.username}@{ep.host} (give one in the auth file, "
                           f"VIRTKIT_PASSWORD, a credential callback or on a terminal)")
            self._user, self._password = creds.username or "root", creds.password
        proxy = self._proxy()
        try:
            proxy.xenapi.login_with_password(self._user, self._password, "2.21", "virtkit")
        except XenAPI.Failure as f:
            if f.details and f.details[0] == "SESSION_AUTHENTICATION_FAILED":
                raise xerr(ErrorCode.AUTH_FAILED, f"authentication failed: {ep.where} refused "
                           f"the login of '{self._user}'") from None
            raise failure_error(f.details, f"logging in to {ep.where}") from None
        except (OSError, http.client.HTTPException, xmlrpc.client.ProtocolError) as exc:
            raise xerr(ErrorCode.NO_CONNECT,
                       f"cannot connect to {ep.where}: {_reason(exc)}") from None
        self.proxy = proxy

    @property
    def ref(self) -> str:
        """The session's reference (``OpaqueRef:...``), as XenAPI's HTTP handlers (the
        console's ``CONNECT``) take it in ``session_id``."""
        if self.proxy is None:
            raise xerr(ErrorCode.NO_CONNECT, f"not logged in to {self.endpoint.where}")
        return str(self.proxy.handle)

    def clone(self) -> XapiSession:
        """A second session with the same credentials (no new prompt)."""
        other = XapiSession(self.endpoint, self._auth)
        other._user, other._password = self._user, self._password
        other.login()
        return other

    def call(self, method: str, *args: Any, what: str = "") -> Any:
        """``CLASS.method(session, *args)``; failures become VirtErrors naming ``what``."""
        import XenAPI

        what = what or method
        fn: Any = self.proxy.xenapi
        for part in method.split("."):
            fn = getattr(fn, part)
        try:
            with self._lock:
                return fn(*args)
        except XenAPI.Failure as f:
            raise failure_error(list(f.details), what) from None
        except xmlrpc.client.Fault as exc:
            raise xerr(ErrorCode.RPC, f"{what}: XML-RPC fault {exc.faultCode}: "
                       f"{exc.faultString}") from None
        except (OSError, http.client.HTTPException, xmlrpc.client.ProtocolError) as exc:
            raise xerr(ErrorCode.NO_CONNECT,
                       f"{what}: connection to {self.endpoint.where} lost: {_reason(exc)}"
                       ) from None

    def run(self, method: str, *args: Any, what: str = "", timeout: float = 3600) -> Any:
        """``Async.CLASS.method``: start the task, wait for it, return its result."""
        task = self.call(f"Async.{method}", *args, what=what or method)
        deadline = time.monotonic() + timeout
        delay = 0.005
        try:
            while True:
                status = self.call("task.get_status", task, what=what)
                if status == "success":
                    return task_result(self.call("task.get_result", task, what=what))
                if status in ("failure", "cancelled"):
                    info = self.call("task.get_error_info", task, what=what)
                    raise failure_error(list(info) or ["TASK_CANCELLED"], what or method)
                if time.monotonic() > deadline:
                    self.call("task.cancel", task, what=what)
                    raise xerr(ErrorCode.OPERATION_TIMEOUT, f"{what or method}: the XenAPI "
                               f"task did not finish in {timeout:.0f} s")
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        finally:
            try:
                self.call("task.destroy", task)
            except VirtError as exc:  # a task left behind expires on the host by itself
                log.debug("destroying task %s: %s", task, exc.message)

    def logout(self) -> None:
        if self.proxy is None:
            return
        try:
            with self._lock:
                self.proxy.xenapi.session.logout()
        except Exception as exc:  # closing never raises: the session expires on its own
            log.debug("logout from %s: %s", self.endpoint.where, exc)
        self.proxy = None
