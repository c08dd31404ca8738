"""Checks the API facade applies to arguments before any driver sees them, each raising a
VirtError that says what was wrong (INVALID_ARG, or XML_ERROR for an undecodable document)."""

from __future__ import annotations

import uuid as uuidlib

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
