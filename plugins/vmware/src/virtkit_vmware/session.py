"""One vSphere session per connection: the URI's settings, logging in through pyvmomi, logging in
again when the session expired, and vSphere faults turned into VirtErrors.

URIs, as libvirt's esx driver writes them::

    esx://[user@]host[:port]/[?transport=https|http&no_verify=0|1&timeout=SECONDS]
    vpx://[user@]vcenter[:port]/DATACENTER[/CLUSTER-OR-COMPUTE-RESOURCE[/HOST]][?...]

``transport`` defaults to https (port 443, or 80 for http); ``no_verify=1`` accepts a
certificate that does not verify. ``timeout`` bounds every socket operation (default 30 s;
connection set-up included), so an unreachable host is NO_CONNECT in bounded time.
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from virtkit.sdk.auth import lookup_credentials
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.uri import URI

log = logging.getLogger("virtkit_vmware")

T = TypeVar("T")

#: Exceptions that mean the endpoint is gone (refused, reset, closed mid-reply, timed out).
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    http.client.HTTPException,
    socket.timeout,
)


def esx_error(code: ErrorCode, message: str) -> VirtError:
    return VirtError(code, message, ErrorDomain.ESX)


@attrs.frozen
class Endpoint:
    """Where and how to reach the vSphere API, from the URI."""

    scheme: str  # esx or vpx
    host: str
    port: int
    transport: str
    no_verify: bool
    timeout: float
    user: str | None
    path: tuple[str, ...]  # vpx: datacenter, compute resource, host

    @classmethod
    def from_uri(cls, uri: URI) -> Endpoint:
        if not uri.host:
            raise esx_error(
                ErrorCode.INVALID_ARG,
                f"invalid argument: '{uri}' names no host: write {uri.driver}://HOST/",
            )
        transport = uri.param("transport", "https") or "https"
        if transport not in ("http", "https"):
            raise esx_error(
                ErrorCode.INVALID_ARG,
                f"invalid argument: query parameter 'transport' has unexpected value "
                f"'{transport}' (expected 'http' or 'https')",
            )
        no_verify_text = uri.param("no_verify", "0") or "0"
        if no_verify_text not in ("0", "1"):
            raise esx_error(
                ErrorCode.INVALID_ARG,
                f"invalid argument: query parameter 'no_verify' has unexpected value "
                f"'{no_verify_text}' (expected '0' or '1')",
            )
        timeout_text = uri.param("timeout", "30") or "30"
        try:
            timeout = float(timeout_text)
            if not 0 < timeout <= 3600:
                raise ValueError
        except ValueError:
            raise esx_error(
                ErrorCode.INVALID_ARG,
                f"invalid argument: query parameter 'timeout' must be seconds in (0, 3600], "
                f"not '{timeout_text}'",
            ) from None
        known = {"transport", "no_verify", "timeout", "auto_answer", "proxy"}
        for key, _ in uri.params:
            if key not in known:
                raise esx_error(
                    ErrorCode.INVALID_ARG,
                    f"invalid argument: unknown query parameter '{key}' in '{uri}'",
                )
        path = tuple(p for p in uri.path.split("/") if p)
        if uri.driver == "esx" and path:
            raise esx_error(
                ErrorCode.INVALID_ARG,
                f"invalid argument: an esx URI has no path ('{uri.path}'); "
                f"use vpx://vcenter/DATACENTER/... for a vCenter",
            )
        port = uri.port or (80 if transport == "http" else 443)
        return cls(uri.driver, uri.host, port, transport, no_verify_text == "1", timeout,
                   uri.user, path)

    @property
    def where(self) -> str:
        return f"{self.scheme} host '{self.host}:{self.port}'"


def fault_error(exc: BaseException, what: str) -> VirtError:
    """The VirtError for a vSphere fault or a transport failure during ``what``."""
    from pyVmomi import vim, vmodl

    if isinstance(exc, VirtError):
        return exc
    if isinstance(exc, vim.fault.InvalidLogin):
        return esx_error(ErrorCode.AUTH_FAILED, f"authentication failed: {what}: invalid login")
    if isinstance(exc, vim.fault.NotAuthenticated):
        return esx_error(ErrorCode.AUTH_FAILED, f"{what}: the session is not authenticated")
    if isinstance(exc, vmodl.fault.ManagedObjectNotFound) and \
            isinstance(getattr(exc, "obj", None), vim.VirtualMachine):
        return VirtError(ErrorCode.NO_DOMAIN, f"Domain not found: {what}: the virtual machine "
                         f"is gone", ErrorDomain.DOMAIN)
    if isinstance(exc, vim.fault.InvalidPowerState):
        return esx_error(ErrorCode.OPERATION_INVALID, f"{what}: {_msg(exc)}")
    if isinstance(exc, (vim.fault.DuplicateName, vim.fault.AlreadyExists)):
        return esx_error(ErrorCode.OPERATION_FAILED, f"{what}: already exists: {_msg(exc)}")
    if isinstance(exc, vim.fault.FileAlreadyExists):
        return esx_error(ErrorCode.STORAGE_VOL_EXIST, f"{what}: file already exists: {_msg(exc)}")
    if isinstance(exc, vim.fault.FileNotFound):
        return esx_error(ErrorCode.NO_STORAGE_VOL, f"{what}: file not found: {_msg(exc)}")
    if isinstance(exc, vim.fault.ToolsUnavailable):
        return esx_error(
            ErrorCode.OPERATION_FAILED, f"{what}: VMware Tools are not running in the guest"
        )
    if isinstance(exc, vmodl.fault.RequestCanceled):
        return esx_error(ErrorCode.OPERATION_ABORTED, f"{what}: the task was cancelled")
    if isinstance(exc, (vmodl.fault.NotImplemented, vmodl.fault.MethodNotFound,
                        vmodl.fault.NotSupported)):
        return esx_error(
            ErrorCode.OPERATION_UNSUPPORTED, f"{what}: the vSphere endpoint does not support it"
        )
    if isinstance(exc, vmodl.fault.InvalidArgument):
        return esx_error(ErrorCode.INVALID_ARG, f"invalid argument: {what}: {_msg(exc)}")
    if isinstance(exc, vmodl.MethodFault):
        return esx_error(ErrorCode.OPERATION_FAILED, f"{what}: {type(exc).__name__}: {_msg(exc)}")
    if isinstance(exc, CONNECTION_ERRORS):
        return esx_error(ErrorCode.NO_CONNECT, f"{what}: connection lost: {_reason(exc)}")
    return esx_error(ErrorCode.INTERNAL_ERROR, f"{what}: {type(exc).__name__}: {exc}")


def _msg(exc: Any) -> str:
    msg = getattr(exc, "msg", None) or ""
    return msg or type(exc).__name__.rsplit(".", 1)[-1]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


class Session:
    """A logged-in pyvmomi ServiceInstance for one connection, re-logged in on expiry.

    ``call(what, fn)`` runs ``fn()`` and turns every failure into a VirtError naming ``what``;
    a NotAuthenticated fault (the server dropped the session) logs in again once and retries.
    """

    def __init__(self, endpoint: Endpoint, auth: Any = None) -> None:
        self.endpoint = endpoint
        self._auth = auth
        self._lock = threading.Lock()
        self._user: str | None = None
        self._password: str | None = None
        self.si: Any = None
        self.content: Any = None
        #: called after a new login: session-scoped objects (views, collectors) are remade
        self.on_relogin: list[Callable[[], None]] = []

    def login(self) -> None:
        """Log in: find the credentials through the chain, then SmartConnect."""
        from pyVim.connect import SmartConnect
        from pyVmomi import vim

        ep = self.endpoint
        creds = lookup_credentials(ep.scheme, ep.host, user=ep.user, auth=self._auth,
                                   default_user="root")
        if creds.password is None:
            raise esx_error(
                ErrorCode.AUTH_FAILED,
                f"authentication failed: no password for {creds.username}@{ep.host} (give one "
                f"in the auth file, VIRTKIT_PASSWORD, a credential callback or on a terminal)",
            )
        self._user, self._password = creds.username, creds.password
        context = None
        if ep.transport == "https":
            context = ssl.create_default_context()
            if ep.no_verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        where = f"connecting to {ep.where} as '{creds.username}'"
        old = socket.getdefaulttimeout()
        try:
            self.si = SmartConnect(
                protocol=ep.transport, host=ep.host, port=ep.port, user=creds.username or "",
                pwd=creds.password, sslContext=context, httpConnectionTimeout=ep.timeout,
                disableSslCertValidation=ep.no_verify and ep.transport == "https",
            )
        except vim.fault.InvalidLogin:
            raise esx_error(
                ErrorCode.AUTH_FAILED,
                f"authentication failed: {ep.where} refused the login of '{creds.username}'",
            ) from None
        except Exception as exc:
            err = fault_error(exc, where)
            if err.code == ErrorCode.NO_CONNECT or isinstance(exc, CONNECTION_ERRORS):
                raise esx_error(ErrorCode.NO_CONNECT,
                                f"cannot connect to {ep.where}: {_reason(exc)}") from None
            raise err from None
        finally:
            socket.setdefaulttimeout(old)
        self.content = self.si.RetrieveContent()
        log.debug("logged in to %s as %s (password from %s)", ep.where, creds.username,
                  creds.password_source)

    def relogin(self) -> None:
        from pyVmomi import vim

        with self._lock:
            manager = self.content.sessionManager
            if self._logged_in():
                return  # another thread logged in again already
            try:
                manager.Login(self._user, self._password)
            except vim.fault.InvalidLogin:
                raise esx_error(ErrorCode.AUTH_FAILED,
                                f"authentication failed: {self.endpoint.where} refused a "
                                f"new login of '{self._user}'") from None
            for callback in self.on_relogin:
                callback()

    def _logged_in(self) -> bool:
        from pyVmomi import vim

        try:
            return self.content.sessionManager.currentSession is not None
        except vim.fault.NotAuthenticated:
            return False

    def call(self, what: str, fn: Callable[[], T]) -> T:
        from pyVmomi import vim, vmodl

        try:
            try:
                return fn()
            except vim.fault.NotAuthenticated:
                log.debug("session expired on %s; logging in again", self.endpoint.where)
                self.relogin()
                return fn()
            except vmodl.fault.ManagedObjectNotFound:
                # a session-scoped object (a view) is gone with an expired session: vcsim says
                # so instead of NotAuthenticated
                if self._logged_in():
                    raise
                log.debug("session expired on %s; logging in again", self.endpoint.where)
                self.relogin()
                return fn()
        except VirtError:
            raise
        except Exception as exc:
            raise fault_error(exc, what) from None

    def logout(self) -> None:
        if self.si is None:
            return
        try:
            self.content.sessionManager.Logout()
        except Exception as exc:  # closing never raises: the session times out on its own
            log.debug("logout from %s: %s", self.endpoint.where, exc)
        self.si = None
