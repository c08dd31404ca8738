"""Parsers for what ``VBoxManage`` prints: ``--machinereadable`` key/value output and the plain
``list`` formats.

``showvminfo --machinereadable`` (and ``snapshot list --machinereadable``) print one
``key="value"`` per line. Keys that contain ``=`` or start with a controller name are quoted
(``"SATA-0-0"="/vm/disk.vdi"``); numbers are written bare (``memory=1024``); a value never set is
``<not set>``. Inside quotes, ``\\`` and ``"`` are escaped with a backslash, and a value may run
over several lines (a description with newlines).
"""

from __future__ import annotations

import re

__all__ = ["parse_hostonlyifs", "parse_list", "parse_machinereadable", "parse_media_list"]


def _quoted(text: str, i: int) -> tuple[str, int]:
    """The quoted string starting at ``text[i] == '"'``, and the index after its closing quote."""
    out: list[str] = []
    i += 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "\\\"":
            out.append(text[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise ValueError("unterminated quoted string in VBoxManage output")


def parse_machinereadable(text: str) -> dict[str, str]:
    """``key="value"`` lines as a dict (later keys win, as a reader of the output would see)."""
    result: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            break
        if text[i] == '"':
            key, i = _quoted(text, i)
        else:
            j = text.find("=", i)
            eol = text.find("\n", i)
            if j < 0 or (0 <= eol < j):  # a line without '=': not key/value output, skip it
                i = n if eol < 0 else eol + 1
                continue
            key, i = text[i:j], j
        if i >= n or text[i] != "=":
            eol = text.find("\n", i)
            i = n if eol < 0 else eol + 1
            continue
        i += 1
        if i < n and text[i] == '"':
            value, i = _quoted(text, i)
            eol = text.find("\n", i)  # trailing text (``VideoMode="..."@0,0 1``) is ignored
            i = n if eol < 0 else eol + 1
        else:
            eol = text.find("\n", i)
            end = n if eol < 0 else eol
            value = text[i:end].strip()
            i = end + 1
        result[key] = value
    return result


_LIST_LINE = re.compile(r'^"(?P<name>.*)" \{(?P<uuid>[0-9a-fA-F-]{36})\}\s*$')


def parse_list(text: str) -> list[tuple[str, str]]:
    """``list vms`` / ``list runningvms``: ``"name" {uuid}`` lines as (name, uuid) pairs."""
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        m = _LIST_LINE.match(line)
        if m is not None:
            out.append((m.group("name"), m.group("uuid").lower()))
    return out


def _blocks(text: str) -> list[dict[str, str]]:
    """Blank-line separated ``Key:   value`` blocks (``list hostonlyifs``, ``list hdds``)."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        current[key.strip()] = value.strip()
    if current:
        blocks.append(current)
    return blocks


def parse_hostonlyifs(text: str) -> list[dict[str, str]]:
    """``list hostonlyifs``: one dict per interface (Name, GUID, DHCP, IPAddress, NetworkMask,
    IPV6Address, IPV6NetworkMaskPrefixLength, HardwareAddress, MediumType, Wireless, Status,
    VBoxNetworkName)."""
    return [b for b in _blocks(text) if "Name" in b]


def parse_media_list(text: str) -> list[dict[str, str]]:
    """``list hdds`` (and ``list dvds``): one dict per medium (UUID, Parent UUID, State, Type,
    Location, Storage format, Capacity, Encryption)."""
    return [b for b in _blocks(text) if "UUID" in b]
