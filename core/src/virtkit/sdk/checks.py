"""Argument checks, applied by the core where it dispatches a hook, before any driver code runs.

Every hook call is checked the same way whether it comes from the facade, a test or the wire:

1. the arguments given are exactly the hookspec's (INVALID_ARG naming a missing or unknown one);
2. each argument has its annotated type (``DomainRef``, ``str``, ``int`` but not ``bool``,
   ``X | None``, ``list[X]``...);
3. arguments named ``xml``, ``uuid``, ``name`` and ``id`` get their usual checks (an XML document
   is decoded to text, a uuid is put in canonical form, a name must be non-empty, an id >= 0);
4. the checks the hookspec declares with ``spec(checks=...)`` (sizes, modes, volume names...).

Each raises a VirtError that says what was wrong (INVALID_ARG, or XML_ERROR for an undecodable
document). The functions below are also the building blocks drivers may use themselves.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from collections.abc import Callable
from typing import Any

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError, invalid_arg


def xml_text(xml: object) -> str:
    """An XML document as text: str as is, bytes decoded as UTF-8."""
    if isinstance(xml, bytes):
        try:
            return xml.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise VirtError(
                ErrorCode.XML_ERROR, f"XML document is not valid UTF-8: {exc}", ErrorDomain.XML
            ) from None
    if not isinstance(xml, str):
        raise invalid_arg(f"an XML document must be a string, not {type(xml).__name__}")
    return xml


def name(value: object, what: str) -> str:
    """A non-empty name of a ``what`` ("network", "storage pool"...)."""
    if not isinstance(value, str) or not value:
        raise invalid_arg(f"a {what} name must be a non-empty string")
    return value


def shorten(value: str, limit: int = 64) -> str:
    """``value`` for a message: at most ``limit`` characters (documents may hold megabytes)."""
    return value if len(value) <= limit else f"{value[:limit]}... ({len(value)} characters)"


_CONTROL = re.compile(r"[\x00-\x1f]")
_C0 = bytes(range(32))


def name_problem(name: str) -> str | None:
    """What makes ``name`` unusable as an object's ``<name>`` (empty, a '/', control
    characters), or None when it is usable. The XML layer refuses such a name in a document
    with XML_ERROR; a hookspec that takes a new name checks it with this too."""
    if not name or not name.strip():
        return "the name must not be empty"
    if "/" in name:
        return f"name '{shorten(name)}' cannot contain '/'"
    if len(name) < 512:
        bad = not name.isprintable() and _CONTROL.search(name) is not None
    else:  # C0 controls are single bytes in UTF-8; deleting them shows whether there were any
        raw = name.encode("utf-8", "surrogatepass")
        bad = len(raw.translate(None, _C0)) != len(raw)
    if bad:
        return f"name {shorten(name)!r} cannot contain control characters"
    return None


def canonical_uuid(text: object) -> str:
    """A uuid in its canonical lower-case 36-character form."""
    try:
        if isinstance(text, str):
            return str(uuidlib.UUID(text))
    except ValueError:
        pass
    raise invalid_arg(f"'{text}' is not a valid uuid")


def start_state(value: str | None) -> None:
    """How a restored guest starts: None (as saved), ``running`` or ``paused``."""
    if value not in (None, "running", "paused"):
        raise invalid_arg(f"start state must be 'running' or 'paused', not {value!r}")


#: libvirt's wipe algorithm names (virStorageVolWipeAlgorithm), by value.
WIPE_ALGORITHMS = (
    "zero", "nnsa", "dod", "bsi", "gutmann", "schneier", "pfitzner7", "pfitzner33", "random",
    "trim",
)


def check_volume_name(name: object) -> str:
    """``name`` if it is a safe volume name, else INVALID_ARG saying why.

    A volume name becomes a file name inside the pool's directory, so it must not contain ``/``
    or ``..`` (which could reach outside the pool), a NUL or other control characters, and must
    not be empty, ``.`` or longer than 255 bytes.
    """
    if not isinstance(name, str) or not name:
        raise invalid_arg("a storage volume name must be a non-empty string")
    if "/" in name:
        raise invalid_arg(f"storage volume name '{name}' cannot contain '/'")
    if ".." in name or name == ".":
        raise invalid_arg(f"storage volume name '{name}' cannot contain '..' or be '.'")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise invalid_arg(f"storage volume name {name!r} cannot contain control characters")
    if len(name.encode("utf-8", "surrogatepass")) > 255:
        raise invalid_arg(f"storage volume name '{name[:32]}...' is longer than 255 bytes")
    return name


#: How a guest may be asked to shut down or reboot (libvirt's flags, by name).
SHUTDOWN_MODES = ("acpi", "agent", "initctl", "signal", "paravirt")

#: Where a guest's interface addresses may come from.
ADDRESS_SOURCES = ("lease", "agent", "arp")


# -- checks in the form hookspecs declare them: (value, op) -> value ----------------------------


def positive(what: str) -> Callable[[Any, str], Any]:
    """An integer >= 1 (``what`` names it in the message: "memory size in KiB")."""

    def check(value: Any, op: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise invalid_arg(f"{op}: {what} {value!r} must be an integer >= 1")
        return value

    return check


def non_negative(what: str) -> Callable[[Any, str], Any]:
    """An integer >= 0."""

    def check(value: Any, op: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise invalid_arg(f"{op}: {what} {value!r} must be a non-negative integer")
        return value

    return check


def one_of(
    what: str, allowed: tuple[str, ...], optional: bool = False
) -> Callable[[Any, str], Any]:
    """One of ``allowed`` (or None when ``optional``)."""

    def check(value: Any, op: str) -> Any:
        if value is None and optional:
            return value
        if value not in allowed:
            raise invalid_arg(f"{op}: unknown {what} {value!r} (known: {', '.join(allowed)})")
        return value

    return check


def path(value: Any, op: str) -> Any:
    """A non-empty file path without NUL characters."""
    if not isinstance(value, str) or not value or "\0" in value:
        raise invalid_arg(f"{op}: {value!r} is not a usable file path")
    return value


#: libvirt's lifecycle events (virDomainLifecycle) and actions (virDomainLifecycleAction), each
#: in the order of libvirt's numbers; the coredump actions apply to ``crash`` only.
LIFECYCLE_EVENTS = ("poweroff", "reboot", "crash")
LIFECYCLE_ACTIONS = ("destroy", "restart", "rename-restart", "preserve", "coredump-destroy",
                     "coredump-restart")


#: How a restored guest starts: as saved (None), running or paused.
#: libvirt's storage pool types (``<pool type=...>``), whether or not a driver supports them.
POOL_TYPES = (
    "dir", "fs", "netfs", "logical", "disk", "iscsi", "iscsi-direct", "scsi", "mpath", "rbd",
    "sheepdog", "gluster", "zfs", "vstorage",
)

START_STATE = one_of("start state", ("running", "paused"), optional=True)


def volume_name(value: Any, op: str) -> Any:
    """A safe storage volume name (see :func:`check_volume_name`)."""
    return check_volume_name(value)


def _xml(value: Any, op: str) -> Any:
    return xml_text(value)


def _uuid(value: Any, op: str) -> Any:
    return canonical_uuid(value)


def _name(value: Any, op: str) -> Any:
    if not isinstance(value, str) or not value:
        raise invalid_arg(f"{op}: a name must be a non-empty string, not {value!r}")
    if "\0" in value:
        raise invalid_arg(f"{op}: name {value!r} contains a NUL character")
    return value


def _id(value: Any, op: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid_arg(f"{op}: id {value!r} must be a non-negative integer")
    return value


#: Checks every hook gets for an argument of this name (before the spec's own checks).
BY_NAME: dict[str, Callable[[Any, str], Any]] = {
    "xml": _xml,
    "uuid": _uuid,
    "name": _name,
    "id": _id,
}
#: The type each check of :data:`BY_NAME` guarantees of what it returns (the dispatcher does
#: not check an argument so annotated a second time).
BY_NAME_TYPES: dict[str, type] = {"xml": str, "uuid": str, "name": str, "id": int}


# -- type checks from annotations ----------------------------------------------------------------


def type_check(hint: Any, where: str) -> Callable[[Any, str], Any] | None:
    """A check that a value has the annotated type ``hint``, or None where anything goes."""
    import types
    import typing

    if hint is Any or hint is object:
        return None
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        members = typing.get_args(hint)
        optional = type(None) in members
        rest = [m for m in members if m is not type(None)]
        inner = [type_check(m, where) for m in rest]
        if any(c is None for c in inner):
            return None
        simple = all(typing.get_origin(m) is None for m in rest)
        kinds = tuple(rest) + ((int,) if float in rest else ())  # an int is a fine float
        label = " or ".join(_label(m) for m in rest) + (" or None" if optional else "")

        def union(value: Any, op: str) -> Any:
            if value is None and optional:
                return value
            if simple:
                if isinstance(value, kinds) and not (
                    isinstance(value, bool) and bool not in rest
                ):
                    return value
            else:
                for check in inner:
                    try:
                        return check(value, op)  # type: ignore[misc]
                    except VirtError:
                        continue
            raise _wrong(op, where, label, value)

        return union
    if origin in (list, tuple):
        args = typing.get_args(hint)
        item = type_check(args[0], f"an item of {where}") if args else None

        def sequence(value: Any, op: str) -> Any:
            if not isinstance(value, (list, tuple)):
                raise _wrong(op, where, "a list", value)
            if item is not None:
                for element in value:
                    item(element, op)
            return value

        return sequence
    if origin is dict:

        def mapping(value: Any, op: str) -> Any:
            if not isinstance(value, dict):
                raise _wrong(op, where, "a dict", value)
            return value

        return mapping
    if isinstance(hint, type):
        label = _label(hint)
        if hint is int:

            def integer(value: Any, op: str) -> Any:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise _wrong(op, where, label, value)
                return value

            return integer
        if hint is float:

            def number(value: Any, op: str) -> Any:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise _wrong(op, where, label, value)
                return value

            return number

        def plain(value: Any, op: str) -> Any:
            if not isinstance(value, hint):
                raise _wrong(op, where, label, value)
            return value

        return plain
    return None


def _label(hint: Any) -> str:
    return getattr(hint, "__name__", str(hint))


def _wrong(op: str, where: str, expected: str, value: Any) -> VirtError:
    return invalid_arg(f"{op}: {where} must be {expected}, not {type(value).__name__}")
