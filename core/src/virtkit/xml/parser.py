"""The one hardened XML parser every virtkit document goes through.

It refuses, with ``XML_ERROR`` and a message that says why: documents over 4 MiB (checked before
any parsing), invalid UTF-8, any DOCTYPE (so no DTD, no entity declarations, no external entities),
undefined entity references, nesting deeper than 256 levels, and plain syntax errors. It never
touches the network or the file system, and never expands entities.
"""

from __future__ import annotations

import re
import threading

from lxml import etree

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError

__all__ = ["MAX_DEPTH", "MAX_SIZE", "parse_document", "xml_error"]

#: Largest document accepted, in bytes (in characters for ``str`` input, whose UTF-8 form is
#: never smaller).
MAX_SIZE = 4 * 1024 * 1024
#: Deepest element nesting accepted (libxml2's own limit without XML_PARSE_HUGE).
MAX_DEPTH = 256

_local = threading.local()
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)


def xml_error(message: str) -> VirtError:
    """The error every refusal of a document raises: ``XML_ERROR`` in the XML error domain."""
    return VirtError(ErrorCode.XML_ERROR, f"XML error: {message}", ErrorDomain.XML)


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            remove_blank_text=True,
            collect_ids=False,
            attribute_defaults=False,
        )
        _local.parser = parser
    return parser


def parse_document(text: str | bytes, what: str) -> etree._Element:
    """Parse ``text`` as a ``what`` document (e.g. "domain") and return its root element.

    Raises :class:`VirtError` ``XML_ERROR`` naming ``what`` and the reason for every refusal.
    """
    if isinstance(text, str):
        if len(text) > MAX_SIZE:
            raise xml_error(
                f"{what} document too large: {len(text)} characters, the limit is {MAX_SIZE} bytes"
            )
        m = _XML_DECL.match(text)
        if m is not None:
            text = text[m.end() :]
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise xml_error(f"{what} document is not valid UTF-8 text: {exc.reason}") from None
    elif isinstance(text, (bytes, bytearray, memoryview)):
        data = bytes(text)
    else:
        raise xml_error(f"{what} document must be str or bytes, not {type(text).__name__}")
    if len(data) > MAX_SIZE:
        raise xml_error(f"{what} document too large: {len(data)} bytes, the limit is {MAX_SIZE}")
    if not data.strip():
        raise xml_error(f"{what} document is empty")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise xml_error(
            f"{what} document is not valid UTF-8: {exc.reason} at byte {exc.start}"
        ) from None
    if _DOCTYPE.search(data) is not None:
        # A DOCTYPE can only appear in the prolog; refusing it before parsing means no DTD and no
        # entity declaration is ever read (billion laughs, external entities).
        raise xml_error(
            f"{what} document contains a DOCTYPE: DTDs and entity declarations are refused"
        )
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        msg = str(exc)
        if "Excessive depth" in msg or ("depth" in msg.lower() and "exceed" in msg.lower()):
            raise xml_error(
                f"{what} document is nested too deeply (more than {MAX_DEPTH} levels)"
            ) from None
        if "Entity" in msg and "not defined" in msg:
            raise xml_error(f"{what} document uses an entity, which is refused: {msg}") from None
        raise xml_error(f"{what} document is not well-formed: {msg}") from None
    except ValueError as exc:  # e.g. encoding declaration problems
        raise xml_error(f"{what} document cannot be parsed: {exc}") from None
    if root.getroottree().docinfo.internalDTD is not None:  # pragma: no cover - refused above
        raise xml_error(f"{what} document contains a DOCTYPE: DTDs are refused")
    return root
