"""Validation against virtkit's own RelaxNG schemas (packaged in ``virtkit/schemas``).

Schemas load lazily, on first use. ``validate`` raises ``XML_INVALID_SCHEMA`` with the schema's
message, as libvirt does for its VALIDATE flag.
"""

from __future__ import annotations

import threading
from pathlib import Path

from lxml import etree

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.xml.parser import parse_document

__all__ = ["KINDS", "SCHEMA_DIR", "schema_path", "validate"]

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
#: Document kinds that have a schema, and the names they are also known by.
KINDS = {
    "domain": "domain",
    "network": "network",
    "pool": "pool",
    "storage pool": "pool",
    "storagepool": "pool",
    "volume": "volume",
    "storage volume": "volume",
    "storagevol": "volume",
    "interface": "interface",
    "snapshot": "snapshot",
    "domain snapshot": "snapshot",
    "domainsnapshot": "snapshot",
    "capabilities": "capabilities",
    "domaincaps": "domaincaps",
    "domain capabilities": "domaincaps",
    "nodeinfo": "nodeinfo",
    "node info": "nodeinfo",
}

_cache: dict[str, etree.RelaxNG] = {}
_lock = threading.Lock()


def schema_path(kind: str) -> Path:
    """The packaged schema file for document ``kind``."""
    try:
        return SCHEMA_DIR / f"{KINDS[kind]}.rng"
    except KeyError:
        raise VirtError(
            ErrorCode.INTERNAL_ERROR, f"no schema for XML document kind '{kind}'", ErrorDomain.XML
        ) from None


def _schema(kind: str) -> etree.RelaxNG:
    name = KINDS.get(kind, kind)
    rng = _cache.get(name)
    if rng is None:
        with _lock:
            rng = _cache.get(name)
            if rng is None:
                path = schema_path(kind)
                rng = etree.RelaxNG(etree.parse(str(path)))
                _cache[name] = rng
    return rng


def validate(root_or_text: etree._Element | str | bytes, kind: str) -> None:
    """Validate a document (text, or an element from :func:`parse_document`) against virtkit's
    schema for ``kind``; raise ``XML_INVALID_SCHEMA`` with the schema's message."""
    if isinstance(root_or_text, (str, bytes)):
        root = parse_document(root_or_text, kind)
    else:
        root = root_or_text
    rng = _schema(kind)
    if rng.validate(root):
        return
    errors = [f"{e.message} (line {e.line})" for e in rng.error_log]
    detail = "; ".join(errors[-3:]) if errors else "unknown error"
    raise VirtError(
        ErrorCode.XML_INVALID_SCHEMA,
        f"XML document failed to validate against schema: Unable to validate doc against "
        f"{schema_path(kind)}: {detail}",
        ErrorDomain.XML,
    )
