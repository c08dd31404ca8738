"""virtkitd's configuration file: libvirtd.conf's syntax and, where they apply, its key names.

The file holds ``key = value`` lines; a value is a quoted string, an integer or a list of quoted
strings in brackets (which may span lines); ``#`` starts a comment. Anything wrong is refused at
start with the file, the line and the key named (``CONF_SYNTAX``). Keys virtkit adds to libvirt's
set: ``scram_users_file`` (the SCRAM-SHA-256 credentials, see ``virtkit admin passwd``) and
``access_rules_file`` (the access-control rules, see docs/daemon.md) and ``max_client_backlog``
(the send buffer of a client's socket).
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError

AUTH_SCHEMES = ("none", "scram")
LOG_LEVELS = {1: "DEBUG", 2: "INFO", 3: "WARNING", 4: "ERROR"}


def _perms(value: str) -> int:
    if not re.fullmatch(r"0?[0-7]{3,4}", value):
        raise ValueError(f"'{value}' is not an octal permission such as \"0770\"")
    return int(value, 8)


@attrs.define
class Config:
    """Every setting virtkitd reads, with libvirtd's defaults where they make sense here."""

    listen_tcp: bool = False
    listen_tls: bool = True
    listen_addr: str = "0.0.0.0"
    tcp_port: int = 16609
    tls_port: int = 16614
    unix_sock_dir: str = ""
    unix_sock_group: str = ""
    unix_sock_ro_perms: str = "0777"
    unix_sock_rw_perms: str = "0700"
    auth_unix_rw: str = "none"
    auth_unix_ro: str = "none"
    auth_tcp: str = "scram"
    auth_tls: str = "none"
    #: None admits every certificate the CA signed; an empty list admits nobody.
    tls_allowed_dn_list: list[str] | None = None
    key_file: str = "/etc/pki/virtkit/private/serverkey.pem"
    cert_file: str = "/etc/pki/virtkit/servercert.pem"
    ca_file: str = "/etc/pki/CA/cacert.pem"
    max_clients: int = 5000
    max_anonymous_clients: int = 20
    max_queued_clients: int = 1000
    max_workers: int = 20
    min_workers: int = 5
    prio_workers: int = 5
    max_client_requests: int = 5
    keepalive_interval: int = 5
    keepalive_count: int = 5
    log_level: int = 3
    log_outputs: str = ""
    scram_users_file: str = ""
    access_rules_file: str = ""
    #: The send buffer of a client's socket (SO_SNDBUF; the kernel caps it). A client whose
    #: socket stays full for keepalive_interval seconds is disconnected.
    max_client_backlog: int = 8 * 1024 * 1024
    #: Where the file was read from (None: defaults only).
    source: str | None = None


_TYPES: dict[str, type] = {
    "listen_tcp": bool, "listen_tls": bool, "listen_addr": str, "tcp_port": int,
    "tls_port": int, "unix_sock_dir": str, "unix_sock_group": str, "unix_sock_ro_perms": str,
    "unix_sock_rw_perms": str, "auth_unix_rw": str, "auth_unix_ro": str, "auth_tcp": str,
    "auth_tls": str, "tls_allowed_dn_list": list, "key_file": str, "cert_file": str,
    "ca_file": str, "max_clients": int, "max_anonymous_clients": int, "max_workers": int,
    "max_queued_clients": int,
    "min_workers": int, "prio_workers": int, "max_client_requests": int,
    "keepalive_interval": int, "keepalive_count": int, "log_level": int, "log_outputs": str,
    "scram_users_file": str, "access_rules_file": str, "max_client_backlog": int,
}

#: libvirtd keys that virtkitd accepts and ignores (they have no meaning here), so that a
#: libvirtd.conf can be reused.
_IGNORED = frozenset({
    "unix_sock_admin_perms", "listen_tls_priority", "tls_priority", "mdns_adv", "mdns_name",
    "crl_file", "tls_no_sanity_certificate", "tls_no_verify_certificate",
    "sasl_allowed_username_list",
    "access_drivers", "host_uuid", "host_uuid_source", "audit_level", "audit_logging",
    "log_filters", "admin_max_workers", "admin_min_workers", "admin_max_clients",
    "admin_max_queued_clients", "admin_max_client_requests", "admin_keepalive_interval",
    "admin_keepalive_count", "ovs_timeout", "prio_workers_max",
    "keepalive_required", "tcp_min_ssf", "auth_unix_admin",
})

_TOKEN = re.compile(
    r"""[ \t\r]*(?:
        (?P<str>"(?:[^"\\\n]|\\.)*")
      | (?P<int>[+-]?[0-9]+)
      | (?P<open>\[)
      | (?P<close>\])
      | (?P<comma>,)
      | (?P<comment>\#[^\n]*)
      | (?P<nl>\n)
    )""",
    re.VERBOSE,
)
_KEY = re.compile(r"[ \t\r]*([A-Za-z_][A-Za-z0-9_]*)[ \t\r]*=")


def _bad(path: str, line: int, key: str | None, why: str) -> VirtError:
    where = f"{path}:{line}"
    what = f" key '{key}'" if key else ""
    return VirtError(
        ErrorCode.CONF_SYNTAX, f"configuration file syntax error: {where}:{what}: {why}",
        ErrorDomain.CONF,
    )


def _unquote(token: str) -> str:
    return re.sub(r"\\(.)", r"\1", token[1:-1])


def parse_text(text: str, path: str = "<config>") -> dict[str, tuple[int, Any]]:
    """The file's settings: key -> (line, value as written: str, int or list of str)."""
    out: dict[str, tuple[int, Any]] = {}
    pos, line = 0, 1
    while pos < len(text):
        # blank lines and comments between settings
        m = re.compile(r"[ \t\r]*(#[^\n]*)?\n").match(text, pos)
        if m:
            pos, line = m.end(), line + 1
            continue
        if not text[pos:].strip():
            break
        km = _KEY.match(text, pos)
        if not km:
            snippet = text[pos:].split("\n", 1)[0].strip()
            raise _bad(path, line, None, f"expected 'key = value', found '{snippet[:40]}'")
        key, start_line = km.group(1), line
        pos = km.end()
        value: Any = None
        items: list[str] | None = None
        while True:
            if pos >= len(text):
                if items is not None:
                    raise _bad(path, start_line, key, "unterminated list")
                if value is None:
                    raise _bad(path, start_line, key, "missing value")
                break
            tm = _TOKEN.match(text, pos)
            if tm is None:
                snippet = text[pos:].split("\n", 1)[0].strip()
                raise _bad(path, line, key, f"cannot read the value at '{snippet[:40]}'")
            pos = tm.end()
            kind = tm.lastgroup
            if kind == "comment":
                continue
            if kind == "nl":
                line += 1
                if items is None:
                    if value is None:
                        raise _bad(path, start_line, key, "missing value")
                    break
                continue
            if kind == "open" and value is None and items is None:
                items = []
            elif kind == "close" and items is not None:
                value, items = items, None
                continue
            elif kind == "comma" and items is not None:
                continue
            elif kind == "str" and items is not None:
                items.append(_unquote(tm.group("str")))
            elif kind == "str" and value is None:
                value = _unquote(tm.group("str"))
            elif kind == "int" and value is None and items is None:
                value = int(tm.group("int"))
            else:
                raise _bad(path, line, key, f"unexpected '{tm.group(0).strip()}'")
            if pos >= len(text) and items is None and value is not None:
                break
        if items is not None:
            raise _bad(path, start_line, key, "unterminated list")
        out[key] = (start_line, value)
    return out


def load(path: str | os.PathLike[str] | None) -> Config:
    """Read ``path`` (None: the defaults); VirtError(CONF_SYNTAX) naming file, line and key."""
    config = Config()
    if path is None:
        return config
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise VirtError(ErrorCode.CONF_SYNTAX, f"cannot read configuration file '{name}': {exc}",
                        ErrorDomain.CONF) from None
    for key, (line, value) in parse_text(text, name).items():
        if key in _IGNORED:
            continue
        kind = _TYPES.get(key)
        if kind is None:
            raise _bad(name, line, key, "unknown key")
        try:
            setattr(config, key, _convert(key, kind, value))
        except ValueError as exc:
            raise _bad(name, line, key, str(exc)) from None
    config.source = name
    try:
        validate(config)
    except _Invalid as exc:
        line = parse_text(text, name).get(exc.key, (0, None))[0]
        raise _bad(name, line, exc.key, exc.why) from None
    return config


def _convert(key: str, kind: type, value: Any) -> Any:
    if kind is bool:
        if value not in (0, 1):
            raise ValueError(f"expected 0 or 1, not {value!r}")
        return bool(value)
    if kind is int:
        if not isinstance(value, int):
            raise ValueError(f"expected an integer, not {value!r}")
        return value
    if kind is list:
        if not isinstance(value, list):
            raise ValueError(f"expected a list of strings such as [\"a\", \"b\"], not {value!r}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a quoted string, not {value!r}")
    if key.endswith("_perms"):
        _perms(value)
    return value


class _Invalid(Exception):
    def __init__(self, key: str, why: str) -> None:
        super().__init__(why)
        self.key, self.why = key, why


def validate(config: Config) -> None:
    """Checks across keys; raises _Invalid naming the key at fault."""
    for key in ("auth_unix_rw", "auth_unix_ro", "auth_tcp", "auth_tls"):
        if getattr(config, key) not in AUTH_SCHEMES:
            raise _Invalid(key, f"unknown scheme '{getattr(config, key)}' (known: "
                                f"{', '.join(AUTH_SCHEMES)})")
    for key in ("tcp_port", "tls_port"):
        if not 0 <= getattr(config, key) < 65536:
            raise _Invalid(key, f"port {getattr(config, key)} is not 0..65535")
    for key in ("max_clients", "max_workers", "max_client_requests", "max_client_backlog",
                "max_queued_clients"):
        if getattr(config, key) < 1:
            raise _Invalid(key, "must be at least 1")
    for key in ("max_anonymous_clients", "prio_workers", "keepalive_count", "min_workers"):
        if getattr(config, key) < 0:
            raise _Invalid(key, "must not be negative")
    if config.log_level not in LOG_LEVELS:
        raise _Invalid("log_level", "must be 1 (debug), 2 (info), 3 (warning) or 4 (error)")
    if config.listen_tcp and config.auth_tcp == "none" and not is_loopback(config.listen_addr):
        raise _Invalid("auth_tcp", f"auth_tcp = \"none\" is allowed only when listen_addr is a "
                                   f"loopback address, not '{config.listen_addr}'")
    if config.auth_tcp == "scram" and config.listen_tcp and not config.scram_users_file:
        raise _Invalid("scram_users_file", "auth_tcp = \"scram\" needs scram_users_file")
    try:
        parse_log_outputs(config.log_outputs)
    except ValueError as exc:
        raise _Invalid("log_outputs", str(exc)) from None


def is_loopback(addr: str) -> bool:
    if addr == "localhost":
        return True
    try:
        return ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return False


def parse_log_outputs(text: str) -> list[tuple[int, str, str]]:
    """libvirt's ``"LEVEL:stderr LEVEL:file:PATH LEVEL:syslog:NAME LEVEL:journald"``."""
    outputs = []
    for item in text.split():
        level_s, _, rest = item.partition(":")
        if not level_s.isdigit() or int(level_s) not in LOG_LEVELS:
            raise ValueError(f"'{item}': the level must be 1..4")
        kind, _, arg = rest.partition(":")
        if kind not in ("stderr", "file", "syslog", "journald"):
            raise ValueError(f"'{item}': unknown output '{kind}' (stderr, file, syslog, journald)")
        if kind == "file" and not arg.startswith("/"):
            raise ValueError(f"'{item}': a file output needs an absolute path")
        outputs.append((int(level_s), kind, arg))
    return outputs
