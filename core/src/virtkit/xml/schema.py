"""The schema check (libvirt's VALIDATE flag) against virtkit's own RelaxNG schemas.

The schemas in ``virtkit/schemas/*.rng`` are generated from the models (``virtkit.xml._rnggen``).
``validate`` enforces exactly what they say, but not through libxml2's RelaxNG engine: that engine
takes time quadratic in the number of sibling elements (an interleave or a ``zeroOrMore`` with
many children: minutes for a few megabytes). It walks the document once instead, driven by the
same model declarations the schemas are generated from, so the check costs time linear in the
document. ``core/tests/xml/test_schema.py`` proves it accepts and refuses the same documents as
libxml2 with the packaged ``.rng`` files.

``validate`` raises ``XML_INVALID_SCHEMA`` naming the element (its line and XPath) and the
problem, in the words libxml2 uses ("Extra element smartcard in interleave", "Invalid attribute
foo for element disk", "Expecting an element os, got nothing"). A driver's own domain and OS types
are accepted through ``choices`` (see ``virtkit.xml.domain.type_choices``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lxml import etree

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.xml.parser import MAX_ELEMENT_ATTRIBUTES, parse_document, too_many_attributes

__all__ = ["KINDS", "SCHEMA_DIR", "relaxng", "schema_path", "validate"]

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

Choices = Mapping[tuple[type, str], tuple[str, ...]]

# compiled checkers: (schema name, open choices) -> root checker; filled lazily
_cache: dict[tuple[str, Any], tuple[str, _Element]] = {}
_lock = threading.Lock()
_CACHE_MAX = 64


def schema_path(kind: str) -> Path:
    """The packaged schema file for document ``kind``."""
    try:
        return SCHEMA_DIR / f"{KINDS[kind]}.rng"
    except KeyError:
        raise VirtError(
            ErrorCode.INTERNAL_ERROR, f"no schema for XML document kind '{kind}'", ErrorDomain.XML
        ) from None


def relaxng(kind: str) -> etree.RelaxNG:
    """libxml2's RelaxNG validator for the packaged schema of ``kind``. Not used by
    :func:`validate` (it is quadratic in sibling counts); the tests compare the two."""
    return etree.RelaxNG(etree.parse(str(schema_path(kind))))


# ---------------------------------------------------------------- value checks

_WS = re.compile(r"[ \t\n\r]+")
_XML_WS = " \t\n\r"


def _collapse(v: str) -> str:
    """XML Schema's whitespace collapse (the ``token`` type of RelaxNG ``<value>``)."""
    return _WS.sub(" ", v).strip(" ")


def _token_in(choices: frozenset[str]) -> Callable[[str], bool]:
    if any(_WS.search(c) for c in choices):  # pragma: no cover - enumerations are single words
        def slow(v: str) -> bool:
            return v in choices or _collapse(v) in choices

        return slow

    def check(v: str) -> bool:
        # no choice holds whitespace, so the collapsed value is one of them exactly when the
        # value stripped of XML whitespace is
        return v in choices or v.strip(_XML_WS) in choices

    return check


def _digits_ok(digits: str) -> bool:
    # ASCII digits only (str.isdigit walks Unicode tables: slow on megabytes)
    return digits.isascii() and digits.encode("ascii").isdigit()


def _integer(v: str) -> bool:
    s = v.strip(_XML_WS)
    return _digits_ok(s[1:] if s[:1] in ("+", "-") else s)


def _non_negative(v: str) -> bool:
    s = v.strip(_XML_WS)
    if s[:1] == "-":
        return _digits_ok(s[1:]) and not s[1:].strip("0")
    return _digits_ok(s[1:] if s[:1] == "+" else s)


def _anything(v: str) -> bool:
    return True


def _pattern(p: str) -> Callable[[str], bool]:
    # XML Schema's \s is the four XML whitespace characters; patterns are implicitly anchored
    rx = re.compile(p.replace(r"\s", r" \t\n\r"))

    def check(v: str) -> bool:
        return rx.fullmatch(v) is not None

    return check


def _only(allowed: str) -> Callable[[str], bool]:
    """Non-empty and made of ``allowed`` ASCII characters only (C speed on long values)."""
    table = allowed.encode("ascii")

    def check(v: str) -> bool:
        return bool(v) and v.isascii() and not v.encode("ascii").translate(None, table)

    return check


_HEX = "0123456789abcdefABCDEF"
_dev = _only("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-:/@+")
_ip_head = _only(_HEX + ".:")
_ip_zone = _only("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_hex_digits = _only(_HEX)


def _ip(v: str) -> bool:
    head, sep, zone = v.partition("%")
    return _ip_head(head) and (not sep or _ip_zone(zone))


def _bounded(p: str, longest: int) -> Callable[[str], bool]:
    rx = _pattern(p)

    def check(v: str) -> bool:
        return len(v) <= longest and rx(v)

    return check


def _fast_checks() -> dict[str, Callable[[str], bool]]:
    """The data patterns of ``_rnggen._PATTERNS`` as string operations: a regular expression
    walks a long value a character at a time in Python's engine, which is too slow for a
    4 MiB attribute. ``test_schema`` checks each against its pattern."""
    from virtkit.xml._rnggen import _PATTERNS

    return {
        "name": lambda v: bool(v) and "/" not in v and "\n" not in v,
        "path": lambda v: v[:1] == "/" and "\n" not in v,
        "dev": _dev,
        "uuid": _bounded(_PATTERNS["uuid"], 36),
        "mac": _bounded(_PATTERNS["mac"], 17),
        "ip": _ip,
        "host": lambda v: bool(v) and not any(c in v for c in _XML_WS),
        "hex": lambda v: (v[:2] == "0x" and _hex_digits(v[2:])) or (
            v.isascii() and v.encode("ascii").isdigit()),
    }


_FAST: dict[str, Callable[[str], bool]] = {}


# ---------------------------------------------------------------- compiled element checkers

# text content modes
_TEXT_NONE = 0  # whitespace only
_TEXT_ANY = 1  # mixed content
_TEXT_VALUE = 2  # one typed value, no child elements


class _Element:
    """What one element may hold, compiled from a model (or a leaf field) declaration."""

    __slots__ = (
        "any_children", "attrs", "interleave", "kids", "model", "once", "required_attrs",
        "required_kids", "text", "text_check", "text_required",
    )

    def __init__(self) -> None:
        self.attrs: dict[str, Callable[[str], bool]] = {}
        self.required_attrs: tuple[str, ...] = ()
        # child tag -> checker
        self.kids: dict[str, _Element] = {}
        # child tags that may appear at most once / must appear
        self.once: frozenset[str] = frozenset()
        self.required_kids: tuple[str, ...] = ()
        self.text = _TEXT_NONE
        self.text_check: Callable[[str], bool] = _anything
        self.text_required = False
        self.interleave = False
        self.any_children = False  # <metadata>: any elements, unchecked
        self.model = ""


def _value_check(fp: Any, choices: Choices | None) -> Callable[[str], bool]:
    from virtkit.xml._rnggen import _PATTERNS

    spec = fp.spec
    allowed = spec.choices
    if choices is not None:
        owner = fp.owner
        allowed = choices.get((owner, fp.name), allowed)
    if allowed is not None:
        return _token_in(frozenset(allowed))
    kind = spec.conv.kind if spec.conv is not None else "str"
    if kind == "int":
        return _integer
    if kind == "uint":
        return _non_negative
    if kind == "yesno":
        return _token_in(frozenset(("yes", "no")))
    if kind == "onoff":
        return _token_in(frozenset(("on", "off")))
    if not _FAST:
        _FAST.update(_fast_checks())
    fast = _FAST.get(kind)
    if fast is not None:
        return fast
    pattern = _PATTERNS.get(kind)
    if pattern is not None:  # pragma: no cover - every pattern has a fast check
        return _pattern(pattern)
    return _anything


def _leaf(text_check: Callable[[str], bool] | None, required: bool = True,
          attrs: dict[str, Callable[[str], bool]] | None = None) -> _Element:
    el = _Element()
    if text_check is not None:
        el.text = _TEXT_VALUE
        el.text_check = text_check
        el.text_required = required
    if attrs:
        el.attrs = attrs
    return el


def _compile(cls: type, choices: Choices | None, memo: dict[type, _Element]) -> _Element:
    """The checker of model ``cls``: the same rules ``_rnggen._content`` writes as RelaxNG."""
    from virtkit.xml import _model as m
    from virtkit.xml._rnggen import UNIT_PATTERN

    hit = memo.get(cls)
    if hit is not None:
        return hit
    el = memo[cls] = _Element()
    el.model = cls.__name__
    plan = m.plan_of(cls)
    unit_attr = _pattern(UNIT_PATTERN)
    required_attrs: list[str] = []
    required_kids: list[str] = []
    once: set[str] = set()
    items = 0
    for plain in plan.order:
        fp = _Owned(plain, cls)
        spec = fp.spec
        kind = spec.kind
        x = fp.xml
        if kind == m.ATTR:
            el.attrs[x] = _value_check(fp, choices)
            if spec.required:
                required_attrs.append(x)
            continue
        items += 1
        if kind == m.TEXT:
            if plan.kids:
                el.text = _TEXT_ANY
            else:
                el.text = _TEXT_VALUE
                el.text_check = _value_check(fp, choices)
                el.text_required = spec.required
            continue
        if kind == m.UNIT_TEXT:
            if plan.kids:  # pragma: no cover - no model mixes them; the schema could not say it
                raise AssertionError(f"{cls.__name__}: a scaled text beside child elements")
            el.attrs["unit"] = unit_attr
            el.text = _TEXT_VALUE
            el.text_check = _non_negative
            el.text_required = spec.required
            continue
        if kind in (m.CHILD, m.CHILDREN):
            sub = _compile(fp.cls, choices, memo)
        elif kind in (m.CHILD_TEXT, m.CHILD_TEXTS):
            sub = _leaf(_value_check(fp, choices))
        elif kind == m.FLAG:
            sub = _leaf(None)
        elif kind == m.UNIT:
            sub = _leaf(_non_negative, True, {"unit": unit_attr})
        elif kind == m.RAW:
            sub = _Element()
            sub.any_children = True
        else:  # pragma: no cover
            raise AssertionError(kind)
        el.kids[x] = sub
        if kind not in (m.CHILDREN, m.CHILD_TEXTS):
            once.add(x)
            if spec.required:
                required_kids.append(x)
    el.required_attrs = tuple(required_attrs)
    el.required_kids = tuple(required_kids)
    el.once = frozenset(once)
    el.interleave = items > 1
    return el


class _Owned:
    """A field plan with the model class it belongs to (open choices are keyed by both)."""

    __slots__ = ("cls", "name", "owner", "spec", "xml")

    def __init__(self, fp: Any, owner: type) -> None:
        self.name: str = fp.name
        self.spec = fp.spec
        self.xml: str = fp.xml
        self.cls = fp.cls
        self.owner = owner


def _root(kind: str, choices: Choices | None) -> tuple[str, _Element]:
    from virtkit.xml._rnggen import ROOTS

    name = KINDS.get(kind)
    if name is None:
        schema_path(kind)  # raises
        raise AssertionError(kind)  # pragma: no cover
    key = (name, tuple(sorted(choices.items(), key=lambda kv: (kv[0][0].__qualname__, kv[0][1])))
           if choices else None)
    hit = _cache.get(key)
    if hit is None:
        with _lock:
            hit = _cache.get(key)
            if hit is None:
                model = ROOTS()[name]
                hit = (model.TAG, _compile(model, choices, {}))
                if len(_cache) >= _CACHE_MAX:
                    _cache.clear()
                _cache[key] = hit
    return hit


# ---------------------------------------------------------------- the walk


class _Invalid(Exception):
    def __init__(self, el: Any, message: str) -> None:
        super().__init__(message)
        self.el = el
        self.message = message


class _TooMany(Exception):
    def __init__(self, el: Any, count: int) -> None:
        super().__init__(count)
        self.el = el
        self.count = count


def _short(v: str, limit: int = 64) -> str:
    v = v if len(v) <= limit else f"{v[:limit]}... ({len(v)} characters)"
    return v.replace("\n", "\\n")


def _check(el: Any, c: _Element) -> None:
    tag = el.tag
    n = len(el.attrib)
    if n:
        if n > MAX_ELEMENT_ATTRIBUTES:
            raise _TooMany(el, n)
        attrs = c.attrs
        for name, value in el.items():
            check = attrs.get(name)
            if check is None:
                raise _Invalid(el, f"Invalid attribute {_local(name)} for element {tag}")
            if not check(value):
                raise _Invalid(el, f"Invalid value '{_short(value)}' for attribute {name} of "
                                   f"element {tag}")
    if c.required_attrs:
        for name in c.required_attrs:
            if el.get(name) is None:
                raise _Invalid(el, f"Element {tag} failed to validate attributes: missing "
                                   f"attribute {name}")
    mode = c.text
    nkids = len(el)
    if mode == _TEXT_VALUE:
        if nkids:
            for ch in el:
                if isinstance(ch.tag, str):
                    raise _Invalid(ch, f"Element {tag} has extra content: element {ch.tag}")
        txt = el.text
        if not txt or _blank(txt):
            if not c.text_required:
                return
            txt = txt or ""
        if not c.text_check(txt):
            raise _Invalid(el, f"Invalid value '{_short(txt)}' for the text of element {tag}")
        return
    if mode == _TEXT_NONE:
        txt = el.text
        if txt and not _blank(txt):
            raise _Invalid(el, f"Element {tag} has extra content: text")
    if not nkids:
        if c.required_kids:
            raise _Invalid(el, f"Expecting an element {c.required_kids[0]}, got nothing (in "
                               f"element {tag})")
        return
    if c.any_children:
        if mode == _TEXT_NONE:
            for ch in el:
                txt = ch.tail
                if txt and not _blank(txt):
                    raise _Invalid(el, f"Element {tag} has extra content: text")
        return
    kids = c.kids
    once = c.once
    seen: set[str] = set()
    for ch in el:
        if mode == _TEXT_NONE:
            txt = ch.tail
            if txt and not _blank(txt):
                raise _Invalid(el, f"Element {tag} has extra content: text")
        ctag = ch.tag
        sub = kids.get(ctag)
        if sub is None:
            if not isinstance(ctag, str):
                continue
            where = "in interleave" if c.interleave else f"in element {tag}"
            raise _Invalid(ch, f"Extra element {_local(ctag)} {where}")
        if ctag in once:
            if ctag in seen:
                where = "in interleave" if c.interleave else f"in element {tag}"
                raise _Invalid(ch, f"Extra element {_local(ctag)} {where}")
            seen.add(ctag)
        _check(ch, sub)
    if c.required_kids:
        for need in c.required_kids:
            if need not in seen:
                raise _Invalid(el, f"Expecting an element {need}, got nothing (in element "
                                   f"{tag})")


def _blank(s: str) -> bool:
    """Only XML whitespace (space, tab, newline, carriage return): the other characters
    ``isspace`` knows are not allowed in XML 1.0 text or are not ASCII. Fast on long text."""
    return s.isspace() and s.isascii()


def _local(name: str) -> str:
    return name[name.index("}") + 1:] if name[:1] == "{" else name


def validate(
    root_or_text: etree._Element | str | bytes, kind: str, *, choices: Choices | None = None
) -> None:
    """Validate a document (text, or an element from :func:`parse_document`) against virtkit's
    schema for ``kind``; raise ``XML_INVALID_SCHEMA`` naming the element and the problem.

    ``choices`` opens enumerations, e.g. a driver's own domain types (from
    ``virtkit.xml.domain.type_choices``). Time linear in the document.
    """
    if isinstance(root_or_text, (str, bytes)):
        root = parse_document(root_or_text, kind)
    else:
        root = root_or_text
    tag, checker = _root(kind, choices)
    try:
        if root.tag != tag:
            raise _Invalid(root, f"Expecting element {tag}, got {_local(str(root.tag))}")
        _check(root, checker)
    except _TooMany as exc:
        raise too_many_attributes(kind, exc.el, exc.count) from None
    except _Invalid as exc:
        el = exc.el
        where = f"line {el.sourceline}, {el.getroottree().getpath(el)}"
        raise VirtError(
            ErrorCode.XML_INVALID_SCHEMA,
            f"XML document failed to validate against schema: Unable to validate doc against "
            f"{schema_path(kind)}: {exc.message} ({where})",
            ErrorDomain.XML,
        ) from None
