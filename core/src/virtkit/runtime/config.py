"""Client configuration: the default URI and URI aliases, as libvirt's libvirt.conf has them.

The file is ``$XDG_CONFIG_HOME/virtkit/virtkit.conf`` (``~/.config/virtkit/virtkit.conf``) for a
normal user and ``/etc/virtkit/virtkit.conf`` for root, or the path in ``VIRTKIT_CONFIG``. Its
syntax is libvirt's, which is also TOML::

    uri_default = "qemu:///system"
    uri_aliases = [
      "hail=qemu+ssh://root@hail.example.com/system",
      "sleet=qemu+ssh://root@sleet.example.com/system",
    ]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.uri import is_alias_name, parse_uri


@attrs.frozen
class ClientConfig:
    uri_default: str | None = None
    uri_aliases: dict[str, str] = attrs.field(factory=dict)


def config_path() -> Path:
    explicit = os.environ.get("VIRTKIT_CONFIG")
    if explicit:
        return Path(explicit)
    if os.geteuid() == 0:
        return Path("/etc/virtkit/virtkit.conf")
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "virtkit" / "virtkit.conf"


def _conf_error(path: Path, why: str) -> VirtError:
    return VirtError(ErrorCode.CONF_SYNTAX, f"configuration file '{path}': {why}", ErrorDomain.CONF)


def _syntax_error(path: Path, line: int | None, why: str) -> VirtError:
    """libvirt's wording: ``configuration file syntax error: FILE:LINE: WHY``."""
    where = f"{path}:{line}" if line is not None else str(path)
    return VirtError(ErrorCode.CONF_SYNTAX, f"configuration file syntax error: {where}: {why}",
                     ErrorDomain.CONF)


def _toml_error(path: Path, exc: Exception) -> VirtError:
    """A TOML error as libvirt words a syntax error, with the file and the line."""
    import re

    text = str(exc)
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", text)
    if found is None:
        return _syntax_error(path, None, text)
    why = text[: found.start()]
    return _syntax_error(path, int(found.group(1)),
                         f"{why[:1].lower()}{why[1:]} (column {found.group(2)})")


def load_config(path: Path | None = None) -> ClientConfig:
    """Read the client configuration; a missing file is an empty configuration (the command
    line refuses a missing file that ``VIRTKIT_CONFIG`` names). Syntax errors are CONF_SYNTAX
    in libvirt's words: ``configuration file syntax error: FILE:LINE: ...``."""
    path = path or config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ClientConfig()
    except OSError as exc:
        raise _conf_error(path, f"cannot read: {exc.strerror}") from None
    import tomllib

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _syntax_error(path, raw[: exc.start].count(b"\n") + 1, "not UTF-8 text") from None
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(path, exc) from None
    default = data.get("uri_default")
    if default is not None and not isinstance(default, str):
        raise _conf_error(path, "uri_default must be a string")
    aliases: dict[str, str] = {}
    entries = data.get("uri_aliases", [])
    if not isinstance(entries, list):
        raise _conf_error(path, "uri_aliases must be a list of strings 'name=uri'")
    for entry in entries:
        if not isinstance(entry, str) or "=" not in entry:
            raise _conf_error(path, f"malformed alias {entry!r}: expected 'name=uri'")
        name, _, target = entry.partition("=")
        if not is_alias_name(name):
            raise _conf_error(path, f"malformed alias name '{name}': use letters, digits, _ . -")
        parse_uri(target)  # a bad alias target is an error in the file, said now
        aliases.setdefault(name, target)  # libvirt: the first match wins
    return ClientConfig(uri_default=default, uri_aliases=aliases)


def resolve_alias(name: str, config: ClientConfig) -> str | None:
    """The URI an alias names, or None when ``name`` is not an alias."""
    if "://" in name or not is_alias_name(name):
        return None
    return config.uri_aliases.get(name)
