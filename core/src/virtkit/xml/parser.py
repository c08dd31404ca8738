"""The one hardened XML parser every virtkit document goes through.

It refuses, with ``XML_ERROR`` and a message that says why: documents over 4 MiB, with more than
5,000 elements, 12,500 attributes, 50,000 character or entity references or 256 namespace
declarations, or a namespace name over 256 bytes (all checked before any parsing, on the bytes),
invalid UTF-8, any DOCTYPE (so no DTD, no entity declarations, no external entities), undefined
entity references, nesting deeper than 256 levels, and plain syntax errors. It never touches the
network or the file system, and never expands entities.

The budgets bound the work every later step does (building models, the
schema check, formatting), so that any document is accepted or refused in time linear in its size
and small in absolute terms. The counts are upper bounds read from the bytes: every element starts
with a ``<`` not followed by ``/``, every attribute has an ``=``, every reference an ``&`` and
every namespace declaration an ``xmlns``; the same characters inside comments, CDATA sections
and text count too, which only matters for documents near the budgets.
"""

from __future__ import annotations

import re
import threading

from lxml import etree

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError

__all__ = [
    "MAX_ATTRIBUTES",
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "MAX_ELEMENT_ATTRIBUTES",
    "MAX_HOST_ELEMENTS",
    "MAX_NAMESPACES",
    "MAX_NAMESPACE_URI",
    "MAX_REFERENCES",
    "MAX_SIZE",
    "parse_document",
    "too_many_attributes",
    "xml_error",
]

#: Largest document accepted, in bytes (in characters for ``str`` input, whose UTF-8 form is
#: never smaller).
MAX_SIZE = 4 * 1024 * 1024
#: Deepest element nesting accepted (libxml2's own limit without XML_PARSE_HUGE).
MAX_DEPTH = 256
#: Most elements a document may hold (an upper bound counted before parsing: the ``<`` that are
#: not ``</``). About 35 times the richest real domain definition; what keeps building models
#: and the schema check of any document within tens of milliseconds.
MAX_ELEMENTS = 5_000
#: Most attributes a document may hold (an upper bound counted before parsing: the ``=``).
MAX_ATTRIBUTES = 12_500
#: The element budget of the documents a driver writes about its host (capabilities, domain
#: capabilities), which list every CPU, cache and machine type of a large host; their
#: attribute budget is 2.5 times it.
MAX_HOST_ELEMENTS = 50_000
#: Most character and entity references (``&amp;``, ``&#38;``) a document may hold (an upper
#: bound counted before parsing: the ``&``); libxml2 splits text at each one.
MAX_REFERENCES = 50_000
#: Most namespace declarations (``xmlns='...'``, ``xmlns:p='...'``) a document may hold, counted
#: before parsing; every element that uses a prefix looks through those in scope.
MAX_NAMESPACES = 256
#: Longest namespace name (URI) accepted: lxml spells every element's tag with its namespace
#: name, so one long name declared once would be copied for every element that uses it.
MAX_NAMESPACE_URI = 256
#: Most attributes one element that virtkit reads may have (lxml reads an element's attribute
#: values in time quadratic in their number); checked by the models and the schema check.
MAX_ELEMENT_ATTRIBUTES = 256

_local = threading.local()
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
# the start of a namespace declaration's value (found in C; the value is measured with find)
_NS_DECL = re.compile(rb"xmlns(?::[^\s=>/]*)?\s*=\s*(['\"])")


def xml_error(message: str) -> VirtError:
    """The error every refusal of a document raises: ``XML_ERROR`` in the XML error domain."""
    return VirtError(ErrorCode.XML_ERROR, f"XML error: {message}", ErrorDomain.XML)


def too_many_attributes(what: str, el: etree._Element, count: int) -> VirtError:
    """The refusal of an element with more than :data:`MAX_ELEMENT_ATTRIBUTES` attributes."""
    return xml_error(
        f"{what}: element <{el.tag}> has {count} attributes, the limit is "
        f"{MAX_ELEMENT_ATTRIBUTES} at {el.getroottree().getpath(el)}"
    )


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


def parse_document(
    text: str | bytes, what: str, *, max_elements: int = MAX_ELEMENTS
) -> etree._Element:
    """Parse ``text`` as a ``what`` document (e.g. "domain") and return its root element.

    Raises :class:`VirtError` ``XML_ERROR`` naming ``what`` and the reason for every refusal.
    ``max_elements`` raises the element budget (and the attribute budget with it) for the
    documents a driver writes about its host (:data:`MAX_HOST_ELEMENTS`).
    """
    max_attributes = max_elements * MAX_ATTRIBUTES // MAX_ELEMENTS
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
    # Budgets, counted in C over the bytes (a few milliseconds for 4 MiB, nothing for a small
    # document, which cannot exceed them): elements and attributes bound everything done after
    # parsing, and parsing itself.
    if len(data) > max_elements:
        elements = data.count(b"<")
        if elements > max_elements:
            elements -= data.count(b"</")
            if elements > max_elements:
                raise xml_error(
                    f"{what} document has too many elements: about {elements}, the limit is "
                    f"{max_elements}"
                )
    if len(data) > max_attributes:
        attributes = data.count(b"=")
        if attributes > max_attributes:
            raise xml_error(
                f"{what} document has too many attributes: up to {attributes}, the limit is "
                f"{max_attributes}"
            )
    if len(data) > MAX_REFERENCES:
        references = data.count(b"&")
        if references > MAX_REFERENCES:
            raise xml_error(
                f"{what} document has too many character or entity references: up to "
                f"{references}, the limit is {MAX_REFERENCES}"
            )
    # namespace declarations, counted and measured in one pass of a regular expression (which
    # finds its literal start in C; bytes.count of a word can be slow on repetitive text)
    namespaces = 0
    for decl in _NS_DECL.finditer(data):
        namespaces += 1
        if namespaces > MAX_NAMESPACES:
            raise xml_error(
                f"{what} document has too many namespace declarations: more than "
                f"{MAX_NAMESPACES}"
            )
        start = decl.end()
        length = data.find(decl.group(1), start) - start
        if length > MAX_NAMESPACE_URI:
            raise xml_error(
                f"{what} document declares a namespace name of {length} bytes, the "
                f"limit is {MAX_NAMESPACE_URI}"
            )
    if not isinstance(text, str):  # a str that encoded is valid UTF-8
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
        # exc.msg names line and column once; str(exc) adds "(<string>, line N)" again
        msg = exc.msg or str(exc)
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
