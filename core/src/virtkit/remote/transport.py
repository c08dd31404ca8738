"""Reaching virtkitd: unix sockets, TCP, TLS, and ``virtkitd --stdio`` through ssh or a command.

Each transport gives a :class:`Channel` (send whole frames, receive bytes, close) that the RPC
client runs its frames over. URI parameters are libvirt's: ``socket=`` (unix), ``pkipath=`` and
``no_verify=`` (TLS), ``keyfile=``, ``no_verify=``, ``known_hosts=`` and ``command=`` (ssh; the
command run on the far host, default ``virtkitd --stdio``), ``command=`` (ext).
"""

from __future__ import annotations

import os
import select
import shlex
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.uri import URI

TCP_PORT = 16609
TLS_PORT = 16614
SYSTEM_SOCK_DIR = "/run/virtkit"


def _no_connect(uri: URI, why: str) -> VirtError:
    return VirtError(ErrorCode.NO_CONNECT, f"cannot connect to the daemon for '{uri}': {why}",
                     ErrorDomain.REMOTE)


class Channel:
    """A byte stream to the daemon: ``send`` whole frames from any thread, ``recv`` from one."""

    def send(self, data: bytes) -> None:
        raise NotImplementedError

    def recv(self, size: int) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def fileno(self) -> int:
        """What select() waits on for incoming data."""
        raise NotImplementedError

    def pending(self) -> int:
        """Bytes already received but not yet returned by recv (TLS buffers some)."""
        return 0


class SocketChannel(Channel):
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._send_lock = threading.Lock()
        self.recv = sock.recv  # type: ignore[method-assign, assignment]  # one call less a read

    def send(self, data: bytes) -> None:
        with self._send_lock:
            self.sock.sendall(data)

    def recv(self, size: int) -> bytes:
        return self.sock.recv(size)

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class TlsChannel(Channel):
    """TLS: OpenSSL's connection object must not be used by two threads at once, so reads and
    writes share one lock and the reader waits for data with select() outside it."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self._lock = threading.Lock()
        self._closed = False

    def send(self, data: bytes) -> None:
        with self._lock:
            self.sock.sendall(data)

    def recv(self, size: int) -> bytes:
        import ssl

        while not self._closed:
            if not self.sock.pending():
                select.select([self.sock], [], [], 1.0)
            with self._lock:
                self.sock.setblocking(False)
                try:
                    return bytes(self.sock.recv(size))
                except (ssl.SSLWantReadError, BlockingIOError):
                    continue
                except ssl.SSLZeroReturnError:
                    return b""
                finally:
                    if not self._closed:
                        self.sock.setblocking(True)
        return b""

    def fileno(self) -> int:
        return int(self.sock.fileno())

    def pending(self) -> int:
        try:
            return int(self.sock.pending())
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        self._closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class ProcessChannel(Channel):
    """Frames over a child process's standard input and output (ssh, ext)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self._send_lock = threading.Lock()
        assert proc.stdin is not None and proc.stdout is not None
        self._in = proc.stdin.fileno()
        self._out = proc.stdout.fileno()

    def send(self, data: bytes) -> None:
        with self._send_lock:
            view = memoryview(data)
            while view:
                n = os.write(self._in, view)
                view = view[n:]

    def recv(self, size: int) -> bytes:
        return os.read(self._out, size)

    def fileno(self) -> int:
        return self._out

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def stderr_text(self) -> str:
        if self.proc.stderr is None:
            return ""
        try:
            self.proc.wait(timeout=2)
            return self.proc.stderr.read().decode(errors="replace").strip()
        except (subprocess.TimeoutExpired, OSError, ValueError):
            return ""


def default_socket(uri: URI, read_only: bool) -> str:
    """The daemon's socket for a unix URI without ``socket=``: the system daemon's for root
    (its read-only socket for a read-only connection), else the user's session daemon's."""
    if os.geteuid() == 0 and uri.path != "/session":
        return os.path.join(SYSTEM_SOCK_DIR, "virtkit-sock-ro" if read_only else "virtkit-sock")
    runtime = os.environ.get("XDG_RUNTIME_DIR") or os.path.expanduser("~/.cache")
    return os.path.join(runtime, "virtkit", "virtkit-sock")


def connect(uri: URI, read_only: bool) -> Channel:
    """Open the channel that ``uri``'s transport names (tls when a host is given without one,
    unix when there is no host)."""
    transport = uri.transport or ("tls" if uri.host else "unix")
    try:
        if transport == "unix":
            path = uri.param("socket") or default_socket(uri, read_only)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(path)
            except OSError as exc:
                sock.close()
                raise _no_connect(uri, f"socket '{path}': {exc.strerror or exc}") from None
            return SocketChannel(sock)
        if transport == "tcp":
            return SocketChannel(_tcp(uri, TCP_PORT))
        if transport == "tls":
            return _tls(uri)
        if transport in ("ssh", "libssh", "libssh2"):
            return _spawn(uri, ssh_command(uri))
        if transport == "ext":
            command = uri.param("command")
            if not command:
                raise _no_connect(uri, "an ext transport needs command=PROGRAM")
            return _spawn(uri, shlex.split(command))
    except VirtError:
        raise
    except OSError as exc:
        raise _no_connect(uri, str(exc)) from None
    raise _no_connect(uri, f"unknown transport '{transport}'")


def _tcp(uri: URI, default_port: int) -> socket.socket:
    if not uri.host:
        raise _no_connect(uri, "a tcp or tls URI needs a host")
    port = uri.port or default_port
    try:
        sock = socket.create_connection((uri.host, port), timeout=30)
    except OSError as exc:
        raise _no_connect(uri, f"{uri.host} port {port}: {exc.strerror or exc}") from None
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def pki_files(uri: URI) -> tuple[str, str, str]:
    """(CA certificate, client certificate, client key): from ``pkipath=`` when given, else
    ~/.pki/virtkit for a user and /etc/pki for root, as libvirt lays them out."""
    pkipath = uri.param("pkipath")
    if pkipath:
        base = Path(pkipath)
        return (str(base / "cacert.pem"), str(base / "clientcert.pem"),
                str(base / "clientkey.pem"))
    user = Path.home() / ".pki" / "virtkit"
    if os.geteuid() != 0 and (user / "clientcert.pem").exists():
        return (str(user / "cacert.pem"), str(user / "clientcert.pem"),
                str(user / "clientkey.pem"))
    return ("/etc/pki/CA/cacert.pem", "/etc/pki/virtkit/clientcert.pem",
            "/etc/pki/virtkit/private/clientkey.pem")


def _tls(uri: URI) -> Channel:
    import ssl

    ca, cert, key = pki_files(uri)
    for what, path in (("CA certificate", ca), ("client certificate", cert),
                       ("client key", key)):
        if not Path(path).is_file():
            raise _no_connect(uri, f"{what} '{path}' does not exist (see 'virtkit pki')")
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    ctx.load_cert_chain(cert, key)
    if uri.param("no_verify") == "1":
        ctx.check_hostname = False
    raw = _tcp(uri, TLS_PORT)
    try:
        sock = ctx.wrap_socket(raw, server_hostname=uri.host)
    except (ssl.SSLError, OSError) as exc:
        raw.close()
        raise VirtError(ErrorCode.AUTH_FAILED, f"TLS handshake with {uri.host} failed: {exc}",
                        ErrorDomain.REMOTE) from None
    return TlsChannel(sock)


def ssh_command(uri: URI) -> list[str]:
    """The system ssh client's command line for ``uri`` (libvirt's URI parameters)."""
    if not uri.host:
        raise _no_connect(uri, "an ssh URI needs a host")
    cmd = ["ssh", "-T", "-e", "none", "-o", "BatchMode=yes"]
    if uri.port:
        cmd += ["-p", str(uri.port)]
    if uri.user:
        cmd += ["-l", uri.user]
    keyfile = uri.param("keyfile")
    if keyfile:
        cmd += ["-i", keyfile, "-o", "IdentitiesOnly=yes"]
    known = uri.param("known_hosts")
    if known:
        cmd += ["-o", f"UserKnownHostsFile={known}"]
    if uri.param("no_verify") == "1":
        cmd += ["-o", "StrictHostKeyChecking=no"]
    remote = uri.param("command") or "virtkitd --stdio"
    return [*cmd, "--", uri.host, remote]


def _spawn(uri: URI, argv: list[str]) -> Channel:
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise _no_connect(uri, f"cannot run '{argv[0]}': {exc.strerror or exc}") from None
    return ProcessChannel(proc)
