"""Credentials for drivers that log in somewhere (esx, vpx, xenapi): the auth file and the chain.

A driver that needs a user name or a password asks :func:`lookup_credentials`, which tries, in
order:

1. the URI's user name (user names only: a password never goes in a URI);
2. the auth file, in libvirt's ``auth.conf`` format (below), at ``$VIRTKIT_AUTH_FILE``, else
   ``$XDG_CONFIG_HOME/virtkit/auth.conf`` (``~/.config/virtkit/auth.conf``), else
   ``/etc/virtkit/auth.conf``;
3. the environment variable ``VIRTKIT_PASSWORD`` (passwords only; for scripts);
4. the connection's credential callback, the ``auth=`` the API user gave ``virtkit.open`` (as
   libvirt's ``virConnectOpenAuth``);
5. an interactive prompt on the controlling terminal, only when stdin is a terminal.

The auth file groups credentials and says which host and service use them::

    [credentials-lab]
    authname=root
    password=secret

    [auth-esx-192.168.1.10]
    credentials=lab

    [auth-vpx-default]
    credentials=lab

A host's own ``auth-SERVICE-HOST`` group wins over ``auth-SERVICE-default``. Lines starting with
``#`` or ``;`` are comments. A malformed file is an error (CONF_SYNTAX naming the file and line),
never silently ignored.

The callback's contract (:data:`virtkit.sdk.driver.AuthCallback`): it is called with a list of
requests in their plain-data form, ``Credential.to_dict()``: ``{"type": "username" |
"password", "prompt": str, "default": str | None}``, and returns a list of the same length with
each answer (a string) or None where it has none. A callback that raises or returns a list of the
wrong length is an AUTH_FAILED error naming the connection.

Passwords are never logged: records that hold one print it as ``'***'``, and the log says only
where a credential came from.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError

if TYPE_CHECKING:
    from virtkit.sdk.driver import AuthCallback

log = logging.getLogger("virtkit.auth")

#: The credential kinds a driver asks for.
USERNAME = "username"
PASSWORD = "password"

#: Keys of a ``credentials-NAME`` group, as libvirt names them, per credential kind.
_FILE_KEYS = {USERNAME: ("authname", "username"), PASSWORD: ("password",)}

@attrs.frozen
class Credential:
    """One request to a credential callback: what kind (``username`` or ``password``), the
    prompt to show (naming the user and host), and a default answer or None."""

    type: str
    prompt: str
    default: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The plain-data form the callback receives."""
        return {"type": self.type, "prompt": self.prompt, "default": self.default}


def _hidden(value: str | None) -> str:
    return "None" if value is None else "'***'"


@attrs.frozen
class Credentials:
    """What the chain found: the user name, the password, and where each came from (``uri``,
    ``auth-file:PATH``, ``environment``, ``callback``, ``prompt``). The password never shows in
    ``repr``."""

    username: str | None
    password: str | None = attrs.field(repr=_hidden)
    username_source: str = ""
    password_source: str = ""


# -- the auth file ---------------------------------------------------------------------------


def _syntax(path: Path, line: int, why: str) -> VirtError:
    return VirtError(
        ErrorCode.CONF_SYNTAX, f"auth file {path}, line {line}: {why}", ErrorDomain.AUTH
    )


@attrs.frozen
class AuthFile:
    """A parsed auth file: its groups, each a dict of keys to values."""

    path: Path
    groups: dict[str, dict[str, str]]

    @classmethod
    def parse(cls, text: str, path: Path | str = "<string>") -> AuthFile:
        """Parse libvirt's key-file format; CONF_SYNTAX naming the line for anything else."""
        path = Path(path)
        groups: dict[str, dict[str, str]] = {}
        current: dict[str, str] | None = None
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                if not line.endswith("]") or len(line) < 3:
                    raise _syntax(path, number, f"malformed group header {line!r}")
                name = line[1:-1].strip()
                if name in groups:
                    raise _syntax(path, number, f"group [{name}] appears twice")
                current = groups[name] = {}
                continue
            key, eq, value = line.partition("=")
            if not eq or not key.strip():
                raise _syntax(path, number, "expected 'key=value' or '[group]'")
            if current is None:
                raise _syntax(path, number, "a key before the first [group]")
            current[key.strip()] = value.strip()
        return cls(path, groups)

    @classmethod
    def load(cls, path: Path | str) -> AuthFile:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise _syntax(path, 0, "not UTF-8 text") from None
        except OSError as exc:
            raise VirtError(
                ErrorCode.SYSTEM_ERROR,
                f"cannot read auth file {path}: {exc.strerror or exc}",
                ErrorDomain.AUTH,
            ) from None
        return cls.parse(text, path)

    def lookup(self, service: str, host: str, kind: str) -> str | None:
        """The credential ``kind`` for ``service`` on ``host`` (``auth-SERVICE-HOST``, else
        ``auth-SERVICE-default``), or None when the file has none for them."""
        for group in (f"auth-{service}-{host}", f"auth-{service}-default"):
            entry = self.groups.get(group)
            if entry is None:
                continue
            name = entry.get("credentials")
            if not name:
                raise VirtError(
                    ErrorCode.CONF_SYNTAX,
                    f"auth file {self.path}: group [{group}] has no 'credentials' key",
                    ErrorDomain.AUTH,
                )
            creds = self.groups.get(f"credentials-{name}")
            if creds is None:
                raise VirtError(
                    ErrorCode.CONF_SYNTAX,
                    f"auth file {self.path}: group [{group}] names missing group "
                    f"[credentials-{name}]",
                    ErrorDomain.AUTH,
                )
            for key in _FILE_KEYS[kind]:
                if key in creds:
                    return creds[key]
            return None
        return None


def auth_file_path(env: Mapping[str, str] | None = None) -> Path | None:
    """The auth file virtkit reads: ``$VIRTKIT_AUTH_FILE`` (which must exist), else the user's
    ``$XDG_CONFIG_HOME/virtkit/auth.conf``, else ``/etc/virtkit/auth.conf``; None when none
    exists."""
    env = os.environ if env is None else env
    explicit = env.get("VIRTKIT_AUTH_FILE")
    if explicit:
        return Path(explicit)
    config = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    for candidate in (Path(config) / "virtkit" / "auth.conf", Path("/etc/virtkit/auth.conf")):
        if candidate.is_file():
            return candidate
    return None


# -- the chain -------------------------------------------------------------------------------


def _ask_callback(
    callback: AuthCallback, requests: list[Credential], where: str
) -> list[str | None]:
    try:
        answers = callback([r.to_dict() for r in requests])
    except VirtError:
        raise
    except Exception as exc:  # the API user's code: report it, never let it escape raw
        raise VirtError(
            ErrorCode.AUTH_FAILED,
            f"authentication failed for {where}: the credential callback raised "
            f"{type(exc).__name__}",
            ErrorDomain.AUTH,
        ) from None
    if not isinstance(answers, (list, tuple)) or len(answers) != len(requests):
        raise VirtError(
            ErrorCode.AUTH_FAILED,
            f"authentication failed for {where}: the credential callback must return a list of "
            f"{len(requests)} answer(s)",
            ErrorDomain.AUTH,
        )
    return [a if isinstance(a, str) and a != "" else None for a in answers]


def _prompt_tty(request: Credential) -> str | None:
    """Ask on the terminal when stdin is one; None otherwise (never blocks a script)."""
    try:
        if not sys.stdin or not sys.stdin.isatty():
            return None
    except (ValueError, OSError):
        return None
    try:
        if request.type == PASSWORD:
            import getpass

            answer = getpass.getpass(f"{request.prompt}: ")
        else:
            suffix = f" [{request.default}]" if request.default else ""
            answer = input(f"{request.prompt}{suffix}: ")
    except (EOFError, KeyboardInterrupt):
        raise VirtError(
            ErrorCode.AUTH_CANCELLED, f"{request.prompt}: cancelled", ErrorDomain.AUTH
        ) from None
    return answer or request.default or None


def lookup_credentials(
    service: str,
    host: str,
    *,
    user: str | None = None,
    auth: AuthCallback | None = None,
    env: Mapping[str, str] | None = None,
    interactive: bool = True,
    default_user: str | None = None,
) -> Credentials:
    """Find the user name and password to log in to ``service`` (``esx``, ``vpx``...) on
    ``host``, through the chain above.

    :param user: the URI's user name, if any (it wins over everything else).
    :param auth: the connection's credential callback, if any.
    :param env: the environment to read (default ``os.environ``).
    :param interactive: allow a terminal prompt as the last resort.
    :param default_user: offered as the default answer when asking for a user name.
    :return: :class:`Credentials`; a field is None when nothing in the chain knew it (the driver
        then raises AUTH_FAILED naming what is missing).
    :raises VirtError: CONF_SYNTAX / SYSTEM_ERROR for a broken auth file, AUTH_FAILED for a
        misbehaving callback, AUTH_CANCELLED when the user cancels a prompt.
    """
    env = os.environ if env is None else env
    where = f"{service} host '{host}'"
    path = auth_file_path(env)
    authfile = AuthFile.load(path) if path is not None else None

    username, username_source = user, "uri" if user else ""
    if username is None and authfile is not None:
        username = authfile.lookup(service, host, USERNAME)
        username_source = f"auth-file:{authfile.path}" if username else ""
    password: str | None = None
    password_source = ""
    if authfile is not None:
        password = authfile.lookup(service, host, PASSWORD)
        password_source = f"auth-file:{authfile.path}" if password else ""
    if password is None and env.get("VIRTKIT_PASSWORD"):
        password, password_source = env["VIRTKIT_PASSWORD"], "environment"

    missing: list[Credential] = []
    if username is None:
        missing.append(Credential(USERNAME, f"Enter username for {host}", default_user))
    if password is None:
        missing.append(
            Credential(PASSWORD, f"Enter {username or 'the user'}'s password for {host}")
        )
    if missing and auth is not None:
        answers = _ask_callback(auth, missing, where)
        still: list[Credential] = []
        for request, answer in zip(missing, answers, strict=True):
            if answer is None:
                still.append(request)
            elif request.type == USERNAME:
                username, username_source = answer, "callback"
            else:
                password, password_source = answer, "callback"
        missing = still
    if missing and interactive:
        for request in missing:
            if request.type == PASSWORD and username is not None:
                request = attrs.evolve(request, prompt=f"Enter {username}'s password for {host}")
            answer = _prompt_tty(request)
            if answer is None:
                continue
            if request.type == USERNAME:
                username, username_source = answer, "prompt"
            else:
                password, password_source = answer, "prompt"
    if username is None and default_user is not None:
        username, username_source = default_user, "default"
    log.debug(
        "credentials for %s: user from %s, password from %s",
        where, username_source or "nowhere", password_source or "nowhere",
    )
    return Credentials(username, password, username_source, password_source)
