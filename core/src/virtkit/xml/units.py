"""Scaled integers as libvirt reads them: ``<memory unit='MiB'>512</memory>``.

libvirt's ``virScaleInteger`` rules, kept exactly:

* no unit: the element's default scale (KiB for domain memory, bytes for storage sizes);
* ``b``, ``byte``, ``bytes``: 1 (any case);
* one letter ``k m g t p e`` or that letter followed by ``iB``: powers of 1024 (any case);
* that letter followed by ``B`` (``KB``, ``MB``, ...): powers of 1000 (any case);
* anything else: refused. Values are non-negative decimal integers; a value whose scaled form
  exceeds the limit is refused.

Domain memory is kept in KiB, rounded *up* to a whole KiB (libvirt's ``VIR_DIV_UP``); storage
sizes are kept in bytes.
"""

from __future__ import annotations

__all__ = [
    "KIB",
    "MEMORY_LIMIT",
    "SIZE_LIMIT",
    "UnitError",
    "parse_uint",
    "scale_factor",
    "scale_integer",
    "to_kib",
]

KIB = 1024
#: libvirt's bound for domain memory in bytes on 64-bit hosts (``LLONG_MAX``).
MEMORY_LIMIT = 2**63 - 1
#: libvirt's bound for storage sizes in bytes (``ULLONG_MAX``).
SIZE_LIMIT = 2**64 - 1

_BINARY: dict[str, int] = {c: 1024 ** (i + 1) for i, c in enumerate("kmgtpe")}
_DECIMAL: dict[str, int] = {c: 1000 ** (i + 1) for i, c in enumerate("kmgtpe")}


class UnitError(ValueError):
    """A unit or value libvirt would refuse; the message says why."""


def scale_factor(unit: str | None, default: int) -> int:
    """The multiplier for ``unit`` (``None`` or empty: ``default``)."""
    if not unit:
        return default
    low = unit.lower()
    if low in ("b", "byte", "bytes"):
        return 1
    first = low[0]
    if first in _BINARY:
        rest = low[1:]
        if rest == "" or rest == "ib":
            return _BINARY[first]
        if rest == "b":
            return _DECIMAL[first]
    raise UnitError(f"unknown unit '{_short(unit)}'")


def parse_uint(value: str | None) -> int:
    """A non-negative decimal integer as libvirt's ``virStrToLong_ullp`` accepts it."""
    if value is None:
        raise UnitError("missing value")
    s = value.strip()
    if s.startswith("+"):
        s = s[1:]
    if not (s.isascii() and s.encode("ascii").isdigit()):  # str.isdigit is slow on megabytes
        if s.startswith("-") and s[1:].isascii() and s[1:].encode("ascii").isdigit():
            raise UnitError(f"negative value '{_short(value)}'")
        raise UnitError(f"invalid value '{_short(value)}': expected a non-negative integer")
    if len(s) > 40 and len(s.lstrip("0")) > 40:  # far beyond any limit; int() would be slow
        raise UnitError(f"value too large: {_short(value)}")
    return int(s)


def _short(value: str, limit: int = 64) -> str:
    return value if len(value) <= limit else f"{value[:limit]}... ({len(value)} characters)"


def scale_integer(value: str | None, unit: str | None, default: int, limit: int) -> int:
    """``value`` scaled by ``unit`` to a number of bytes, refusing it above ``limit``."""
    number = parse_uint(value)
    scale = scale_factor(unit, default)
    if number and number > limit // scale:
        raise UnitError(f"value too large: {number}{unit or ''}")
    return number * scale


def to_kib(value: str | None, unit: str | None, limit: int = MEMORY_LIMIT) -> int:
    """Memory as libvirt's ``virDomainParseMemory`` keeps it: KiB, rounded up."""
    return -(-scale_integer(value, unit, KIB, limit) // KIB)
