"""Who a client is: unix peer credentials, TLS client certificates, SCRAM-SHA-256 logins.

SCRAM-SHA-256 runs through the ``scramp`` library. The users file holds one line per user,
``NAME:ITERATIONS:SALT:STORED_KEY:SERVER_KEY`` (base64), written by ``virtkit admin passwd``, so
the daemon never stores a password.
"""

from __future__ import annotations

import base64
import fnmatch
import os
import socket
import struct
from pathlib import Path
from typing import Any

from virtkit.sdk.driver import Identity
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError

MECHANISM = "SCRAM-SHA-256"


def _names(uid: int, gid: int) -> tuple[str | None, tuple[str, ...]]:
    import grp
    import pwd

    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        return None, ()
    names = set()
    for g in os.getgrouplist(user, gid):
        try:
            names.add(grp.getgrgid(g).gr_name)
        except KeyError:
            continue
    return user, tuple(sorted(names))


def peer_identity(sock: socket.socket) -> Identity:
    """The identity of a unix socket's peer, from SO_PEERCRED (pid, uid, gid)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    user, groups = _names(uid, gid)
    return Identity(uid=uid, gid=gid, user=user, groups=groups, pid=pid)


def process_identity() -> Identity:
    """This process's identity (the stdio bridge: ssh already authenticated the user)."""
    uid, gid = os.getuid(), os.getgid()
    user, groups = _names(uid, gid)
    return Identity(uid=uid, gid=gid, user=user, groups=groups, pid=os.getpid())


# -- TLS ------------------------------------------------------------------------------------------


def server_tls_context(cert_file: str, key_file: str, ca_file: str) -> Any:
    """A TLS server context that requires a client certificate signed by ``ca_file``."""
    import ssl

    for what, path in (("cert_file", cert_file), ("key_file", key_file), ("ca_file", ca_file)):
        if not Path(path).is_file():
            raise VirtError(ErrorCode.CONF_SYNTAX, f"{what} '{path}' does not exist (create the "
                            f"certificates with 'virtkit pki')", ErrorDomain.CONF)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=ca_file)
    ctx.load_cert_chain(cert_file, key_file)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def distinguished_name(der: bytes) -> str:
    """A certificate's subject as libvirt writes it, in certificate order:
    ``C=GB,O=Example,CN=client1``."""
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    parts = []
    for rdn in cert.subject.rdns:
        for attr in rdn:
            parts.append(attr.rfc4514_string())
    return ",".join(parts)


def dn_allowed(dname: str, allowed: list[str] | None) -> bool:
    """Whether ``dname`` matches a pattern of ``tls_allowed_dn_list`` (``*`` wildcards);
    None (the key unset) admits every certificate; an empty list admits nobody."""
    if allowed is None:
        return True
    return any(fnmatch.fnmatchcase(dname, pattern) for pattern in allowed)


# -- SCRAM ----------------------------------------------------------------------------------------


def make_credentials(user: str, password: str, iterations: int = 4096) -> str:
    """One users-file line for ``user`` (what ``virtkit admin passwd`` writes)."""
    from scramp import ScramMechanism  # type: ignore[import-untyped, unused-ignore]

    if not user or ":" in user or "\n" in user:
        raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: user name '{user}' must be "
                        f"non-empty and contain no ':'")
    salt, stored, server, count = ScramMechanism(MECHANISM).make_auth_info(
        password, iteration_count=iterations
    )
    return f"{user}:{count}:{_b64(salt)}:{_b64(stored)}:{_b64(server)}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def load_users(path: str) -> dict[str, tuple[bytes, bytes, bytes, int]]:
    """The users file: name -> (salt, stored key, server key, iterations)."""
    users: dict[str, tuple[bytes, bytes, bytes, int]] = {}
    if not path:
        return users
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise VirtError(ErrorCode.CONF_SYNTAX, f"cannot read scram_users_file '{path}': {exc}",
                        ErrorDomain.CONF) from None
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            name, count, salt, stored, server = line.split(":")
            users[name] = (base64.b64decode(salt), base64.b64decode(stored),
                           base64.b64decode(server), int(count))
        except ValueError:
            raise VirtError(ErrorCode.CONF_SYNTAX,
                            f"{path}:{n}: expected NAME:ITERATIONS:SALT:STORED_KEY:SERVER_KEY",
                            ErrorDomain.CONF) from None
    return users


class ScramSession:
    """The server side of one SCRAM-SHA-256 exchange (two steps)."""

    def __init__(self, users: dict[str, tuple[bytes, bytes, bytes, int]]) -> None:
        from scramp import ScramMechanism  # type: ignore[import-untyped, unused-ignore]

        self._users = users
        self._server = ScramMechanism(MECHANISM).make_server(self._lookup)
        self.user: str | None = None

    def _lookup(self, name: str) -> tuple[bytes, bytes, bytes, int]:
        found = self._users.get(name)
        if found is None:
            raise KeyError(name)
        self.user = name
        return found

    def start(self, client_first: str) -> str:
        try:
            self._server.set_client_first(client_first)
        except Exception:
            raise failed() from None
        result: str = self._server.get_server_first()
        return result

    def finish(self, client_final: str) -> str:
        try:
            self._server.set_client_final(client_final)
        except Exception:
            raise failed() from None
        result: str = self._server.get_server_final()
        return result


def failed() -> VirtError:
    """The one answer to a wrong user or password (it does not say which)."""
    return VirtError(ErrorCode.AUTH_FAILED, "authentication failed: wrong user name or password",
                     ErrorDomain.RPC)
