"""The declarative machinery behind every virtkit XML model.

A model is an ``attrs.frozen(kw_only=True)`` class whose fields say, through the helpers below,
where they live in the XML: an attribute (:func:`attr`), the element's own text (:func:`text`),
a child's text (:func:`child_text`), an empty flag element (:func:`flag`), a child model
(:func:`child`), repeated children (:func:`children`, :func:`child_texts`), a scaled integer
(:func:`unit`, :func:`unit_text`) or verbatim XML (:func:`raw`). One compiled plan per class
drives parsing, formatting, the generated RelaxNG schemas and the test strategies.

Elements and attributes a model does not know are not dropped silently: parsing records each as
an XPath in ``ParseContext.ignored``; the model's ``from_xml`` exposes them (see docs/xml.md).
"""

from __future__ import annotations

import copy
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypeVar

import attrs
from lxml import etree

from virtkit.sdk.checks import shorten
from virtkit.xml.parser import (
    MAX_ELEMENT_ATTRIBUTES,
    MAX_SIZE,
    parse_document,
    too_many_attributes,
    xml_error,
)
from virtkit.xml.units import MEMORY_LIMIT, UnitError, scale_integer

__all__ = [
    "Conv",
    "Model",
    "ParseContext",
    "attr",
    "child",
    "child_text",
    "child_texts",
    "children",
    "flag",
    "format_model",
    "parse_model",
    "raw",
    "text",
    "unit",
    "unit_text",
]

M = TypeVar("M", bound="Model")

# Field kinds.
ATTR = 1
TEXT = 2
CHILD_TEXT = 3
FLAG = 4
CHILD = 5
CHILDREN = 6
CHILD_TEXTS = 7
RAW = 8
UNIT = 9
UNIT_TEXT = 10

_KEY = "virtkit.xml"


@attrs.frozen
class Conv:
    """How a string in the XML becomes a Python value and back. ``kind`` names it for the
    generated schema and for test strategies."""

    kind: str
    parse: Callable[[str], Any]
    format: Callable[[Any], str]


def _digits(s: str) -> bool:
    """Non-empty and ASCII digits only (str.isdigit walks Unicode tables: slow on megabytes)."""
    return s.isascii() and s.encode("ascii").isdigit()


# Integers in documents are bounded far below this many digits (int() is quadratic in them).
_MAX_DIGITS = 40


def _parse_int(s: str) -> int:
    s2 = s.strip()
    digits = s2[1:] if s2[:1] in ("+", "-") else s2
    if not _digits(digits):
        raise ValueError("expected an integer")
    if len(digits) > _MAX_DIGITS and len(digits.lstrip("0")) > _MAX_DIGITS:
        raise ValueError("integer too large")
    return int(s2)


def _parse_uint(s: str) -> int:
    s2 = s.strip()
    if not _digits(s2):
        raise ValueError("expected a non-negative integer")
    if len(s2) > _MAX_DIGITS and len(s2.lstrip("0")) > _MAX_DIGITS:
        raise ValueError("integer too large")
    return int(s2)


def _parse_yesno(s: str) -> bool:
    if s == "yes":
        return True
    if s == "no":
        return False
    raise ValueError("expected 'yes' or 'no'")


def _parse_onoff(s: str) -> bool:
    if s == "on":
        return True
    if s == "off":
        return False
    raise ValueError("expected 'on' or 'off'")


_UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)
_MAC_RE = re.compile(r"[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}")


def _parse_uuid(s: str) -> str:
    s2 = s.strip()
    if len(s2) > 36 or not _UUID_RE.fullmatch(s2):
        raise ValueError("expected a UUID such as 4dea22b3-1d52-d8f3-2516-782e98ab3fa0")
    h = s2.replace("-", "").lower()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _parse_mac(s: str) -> str:
    s2 = s.strip()
    if len(s2) > 17 or not _MAC_RE.fullmatch(s2):
        raise ValueError("expected a MAC address such as 52:54:00:12:34:56")
    return ":".join(f"{int(p, 16):02x}" for p in s2.split(":"))


def _ident(s: str) -> str:
    return s


def _str(v: Any) -> str:
    return str(v)


STR = Conv("str", _ident, _ident)
NAME = Conv("name", _ident, _ident)  # object names: no '/', no leading '.'
PATH = Conv("path", _ident, _ident)  # absolute paths
DEV = Conv("dev", _ident, _ident)  # device names such as vda, eth0, virbr0
HOST = Conv("host", _ident, _ident)  # host names or addresses
IP = Conv("ip", _ident, _ident)  # IPv4 / IPv6 addresses
HEX = Conv("hex", _ident, _ident)  # 0x-prefixed or decimal address parts, kept verbatim
INT = Conv("int", _parse_int, _str)
UINT = Conv("uint", _parse_uint, _str)
YESNO = Conv("yesno", _parse_yesno, lambda v: "yes" if v else "no")
ONOFF = Conv("onoff", _parse_onoff, lambda v: "on" if v else "off")
UUID = Conv("uuid", _parse_uuid, _ident)
MAC = Conv("mac", _parse_mac, _ident)


@attrs.frozen
class Spec:
    kind: int
    xml: str | None
    conv: Conv | None = None
    cls: Any = None
    choices: tuple[str, ...] | None = None
    required: bool = False
    default_scale: int = 1024
    store_scale: int = 1024
    out_unit: str = "KiB"
    limit: int = MEMORY_LIMIT


def _field(spec: Spec, default: Any, required: bool) -> Any:
    if required:
        return attrs.field(metadata={_KEY: spec})
    if default is _EMPTY_TUPLE:
        return attrs.field(default=(), metadata={_KEY: spec}, converter=tuple)
    return attrs.field(default=default, metadata={_KEY: spec})


_EMPTY_TUPLE = object()


def attr(
    xml: str | None = None,
    conv: Conv = STR,
    *,
    choices: Iterable[str] | None = None,
    required: bool = False,
    default: Any = None,
) -> Any:
    """An XML attribute of the element."""
    ch = tuple(choices) if choices is not None else None
    return _field(Spec(ATTR, xml, conv, choices=ch, required=required), default, required)


def text(conv: Conv = STR, *, choices: Iterable[str] | None = None, required: bool = False) -> Any:
    """The element's own text."""
    ch = tuple(choices) if choices is not None else None
    return _field(Spec(TEXT, None, conv, choices=ch, required=required), None, required)


def child_text(
    xml: str | None = None,
    conv: Conv = STR,
    *,
    choices: Iterable[str] | None = None,
    required: bool = False,
) -> Any:
    """The text of a child element: ``<name>web1</name>``."""
    ch = tuple(choices) if choices is not None else None
    return _field(Spec(CHILD_TEXT, xml, conv, choices=ch, required=required), None, required)


def flag(xml: str | None = None) -> Any:
    """An empty child element whose presence is the value: ``<readonly/>``."""
    return _field(Spec(FLAG, xml), False, False)


def child(cls: Any, xml: str | None = None, *, required: bool = False) -> Any:
    """A child element described by model ``cls`` (or its name, for recursive models)."""
    return _field(Spec(CHILD, xml, cls=cls, required=required), None, required)


def children(cls: Any, xml: str) -> Any:
    """Repeated child elements described by model ``cls``, kept as a tuple in document order."""
    return _field(Spec(CHILDREN, xml, cls=cls), _EMPTY_TUPLE, False)


def child_texts(xml: str, conv: Conv = STR) -> Any:
    """Repeated child elements' texts, as a tuple."""
    return _field(Spec(CHILD_TEXTS, xml, conv), _EMPTY_TUPLE, False)


def raw(xml: str | None = None) -> Any:
    """A container element whose children are kept verbatim (libvirt's ``<metadata>``): a tuple
    of serialized child elements."""
    return _field(Spec(RAW, xml), _EMPTY_TUPLE, False)


def unit(
    xml: str | None = None,
    *,
    required: bool = False,
    default_scale: int = 1024,
    store_scale: int = 1024,
    out_unit: str = "KiB",
    limit: int = MEMORY_LIMIT,
) -> Any:
    """A scaled integer child: ``<memory unit='MiB'>512</memory>``, kept as a count of
    ``store_scale`` (KiB for memory), rounded up, formatted with ``out_unit``."""
    spec = Spec(
        UNIT, xml, required=required, default_scale=default_scale, store_scale=store_scale,
        out_unit=out_unit, limit=limit,
    )
    return _field(spec, None, required)


def unit_text(
    *,
    required: bool = False,
    default_scale: int = 1024,
    store_scale: int = 1024,
    out_unit: str = "KiB",
    limit: int = MEMORY_LIMIT,
) -> Any:
    """The element's own text as a scaled integer, with its ``unit`` attribute."""
    spec = Spec(
        UNIT_TEXT, None, required=required, default_scale=default_scale,
        store_scale=store_scale, out_unit=out_unit, limit=limit,
    )
    return _field(spec, None, required)


class ParseContext:
    """State of one parse: the document kind (for messages), what was not understood, and the
    open enumerations (``choices``: ``(model class, field name)`` -> the values accepted there
    in place of the declared ones, e.g. a driver's own domain types)."""

    __slots__ = ("_nodes", "_paths", "choices", "choices_key", "open_classes", "what")

    def __init__(
        self, what: str, choices: Mapping[tuple[type, str], tuple[str, ...]] | None = None
    ) -> None:
        self.what = what
        # what was not understood: (element, attribute name or None), turned into XPaths on
        # demand, all at once, in time linear in the document (see :func:`xpaths`)
        self._nodes: list[tuple[Any, str | None]] = []
        self._paths: list[str] | None = None
        self.choices: dict[tuple[type, str], dict[str, None]] | None = None
        self.open_classes: frozenset[type] = frozenset()
        self.choices_key: frozenset[Any] | None = None
        if not choices:
            return
        # made once per set of open enumerations (a driver's, on each of its parses) and
        # shared: the contexts only read them
        key = tuple(choices.items())
        try:
            made = _contexts_made.get(key)
        except TypeError:  # values that are not tuples: made for this context alone
            made = _context_choices(choices)
        else:
            if made is None:
                made = _context_choices(choices)
                if len(_contexts_made) < 64:
                    _contexts_made[key] = made
        self.choices, self.open_classes, self.choices_key = made

    @property
    def ignored(self) -> list[str]:
        """XPaths of the elements (``/domain/devices/smartcard``) and attributes
        (``/domain/devices/disk/@foo``) the models did not understand, in document order."""
        if self._paths is None or len(self._paths) != len(self._nodes):
            self._paths = xpaths(self._nodes)
        return self._paths

    def ignore(self, el: Any, attribute: str | None = None) -> None:
        """Record an element (or one of its attributes) the model does not understand."""
        self._nodes.append((el, attribute))

    def fail(self, el: etree._Element, problem: str) -> Exception:
        path = el.getroottree().getpath(el)
        return xml_error(f"{self.what}: {problem} at {path}")


def _context_choices(choices: Mapping[tuple[type, str], Iterable[str]]) -> tuple[Any, ...]:
    """A context's open enumerations (for membership), the classes they apply to, and what
    makes a parse under them differ from one under others (an interned inner model is reused
    under the same ones only)."""
    table = {k: dict.fromkeys(v) for k, v in choices.items()}
    return table, frozenset(c for c, _ in table), frozenset((k, tuple(v)) for k, v in
                                                              table.items())


_contexts_made: dict[tuple[Any, ...], tuple[Any, ...]] = {}


def _step_name(el: Any) -> tuple[str, bool]:
    """The name libxml2 uses for ``el`` in an XPath and whether it is the generic ``*`` (an
    element in a default namespace, which XPath cannot name)."""
    tag: str = el.tag
    if tag[0] != "{":
        return tag, False
    prefix = el.prefix
    if prefix is None:
        return "*", True
    return f"{prefix}:{tag[tag.index('}') + 1:]}", False


def _steps(parent: Any) -> dict[Any, str]:
    """The last XPath step of every child element of ``parent``, computed in one pass (lxml's
    ``getpath`` scans the siblings for every call, which is quadratic for many siblings)."""
    kids = [c for c in parent if isinstance(c.tag, str)]
    names = [_step_name(c) for c in kids]
    counts: dict[str, int] = {}
    for name, generic in names:
        if not generic:
            counts[name] = counts.get(name, 0) + 1
    seen: dict[str, int] = {}
    out: dict[Any, str] = {}
    total = len(kids)
    for i, (c, (name, generic)) in enumerate(zip(kids, names, strict=True)):
        if generic:
            out[c] = f"/*[{i + 1}]" if total > 1 else "/*"
            continue
        n = seen[name] = seen.get(name, 0) + 1
        out[c] = f"/{name}[{n}]" if counts[name] > 1 else f"/{name}"
    return out


def xpaths(nodes: Iterable[tuple[Any, str | None]]) -> list[str]:
    """XPaths of ``(element, attribute name or None)`` pairs, exactly as lxml's ``getpath``
    writes them, in time linear in the number of elements involved."""
    memo: dict[Any, str] = {}
    steps: dict[Any, dict[Any, str]] = {}

    def path(el: Any) -> str:
        p = memo.get(el)
        if p is None:
            parent = el.getparent()
            if parent is None:
                p = "/" + _step_name(el)[0]
            else:
                st = steps.get(parent)
                if st is None:
                    st = steps[parent] = _steps(parent)
                p = path(parent) + st[el]
            memo[el] = p
        return p

    return [path(el) if a is None else f"{path(el)}/@{a}" for el, a in nodes]


@attrs.frozen
class FieldPlan:
    name: str
    spec: Spec
    xml: str
    cls: Any


class Plan:
    """The compiled form of one model class: lookup tables for parsing, ordered lists for
    formatting."""

    __slots__ = (
        "amap", "cls", "fattrs", "fkids", "kids", "kmap", "leaf", "order", "required", "root",
        "subtree", "text", "text_choices", "tuples",
    )

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.kids: dict[str, FieldPlan] = {}
        self.text: FieldPlan | None = None
        self.order: list[FieldPlan] = []
        # parsing: attribute name -> (field, parse or None, choices, kind, plan)
        self.amap: dict[str, tuple[str, Any, Any, int, FieldPlan]] = {}
        # parsing: child tag -> (kind, field, model class, parse or None, choices, plan)
        self.kmap: dict[str, tuple[int, str, Any, Any, Any, FieldPlan]] = {}
        self.required: list[FieldPlan] = []
        self.tuples: list[str] = []
        # formatting: (field, xml name, format or None)
        self.fattrs: list[tuple[str, str, Any]] = []
        # formatting: (kind, field, xml name, format or None, unit)
        self.fkids: list[tuple[int, str, str, Any, str]] = []
        module = sys.modules[cls.__module__]
        for f in attrs.fields(cls):
            spec: Spec | None = f.metadata.get(_KEY)
            if spec is None:
                continue
            xml = spec.xml if spec.xml is not None else f.name.rstrip("_")
            sub = spec.cls
            if isinstance(sub, str):
                sub = getattr(module, sub)
            fp = FieldPlan(f.name, spec, xml, sub)
            self.order.append(fp)
            conv = spec.conv
            parse = None if conv is None or conv.parse is _ident else conv.parse
            fmt = None if conv is None or conv.format is _ident else conv.format
            if spec.required:
                self.required.append(fp)
            kind = spec.kind
            if kind == ATTR:
                self.amap[xml] = (f.name, parse, _ordered(spec.choices), kind, fp)
                self.fattrs.append((f.name, xml, fmt))
            elif kind in (TEXT, UNIT_TEXT):
                self.text = fp
                if kind == UNIT_TEXT:
                    self.amap["unit"] = (f.name, None, None, kind, fp)
            else:
                self.kids[xml] = fp
                self.kmap[xml] = (kind, f.name, sub, parse, _ordered(spec.choices), fp)
                self.fkids.append((kind, f.name, xml, fmt, spec.out_unit))
                if kind in (CHILDREN, CHILD_TEXTS, RAW):
                    self.tuples.append(f.name)
        # Leaf models (attributes and plain text only) are interned: equal elements parse to the
        # same frozen instance, which is safe because models are immutable.
        self.leaf = not self.kmap and (self.text is None or self.text.spec.kind == TEXT)
        self.text_choices = _ordered(self.text.spec.choices) if self.text is not None else None
        # A document's root (``TAG``) and the models with children directly under it
        # (``<os>``, ``<devices>``): those are interned by their element's serialization, and
        # their formatted text kept, so a definition made again, or from the same template,
        # parses and formats only the parts that differ (``_parse_inner``).
        self.root = bool(getattr(cls, "TAG", ""))
        self.subtree = bool(self.kmap) and not self.root


def _ordered(choices: tuple[str, ...] | None) -> dict[str, None] | None:
    """Choices as a dict: membership in constant time, the declared order for messages."""
    return None if choices is None else dict.fromkeys(choices)


_plans: dict[type, Plan] = {}
_interned: dict[tuple[Any, ...], Any] = {}
_formatted: dict[int, tuple[Any, str, str, str]] = {}
_INTERN_MAX = 4096
#: the models with children directly under a document's root, by (class, open enumerations,
#: serialized element), and their formatted text by id (see ``Plan.subtree``); only elements
#: this small and with this few children are interned (a key is the element's serialization)
_subtrees: dict[tuple[Any, ...], Any] = {}
_subtree_text: dict[int, tuple[Any, str, str, str]] = {}
_SUBTREE_MAX_CHARS = 2048
_SUBTREE_MAX_KIDS = 16


_field_names: dict[type, tuple[str, ...]] = {}
_set_field = object.__setattr__


def replace(obj: M, **changes: Any) -> M:
    """``attrs.evolve`` for a model, in a third of its time: a copy of ``obj`` with
    ``changes``, which must be values of their fields' types (no converter is run)."""
    cls = type(obj)
    names = _field_names.get(cls)
    if names is None:
        names = _field_names[cls] = tuple(f.name for f in attrs.fields(cls))  # type: ignore[arg-type]
    new = object.__new__(cls)
    set_field = _set_field.__get__(new)  # bound once, as attrs' __init__ does: cheaper calls
    for name in names:
        set_field(name, changes[name] if name in changes else getattr(obj, name))
    return new


def plan_of(cls: type) -> Plan:
    p = _plans.get(cls)
    if p is None:
        p = _plans[cls] = Plan(cls)
    return p


def _bad_choice(ctx: ParseContext, el: Any, value: str, where: str, choices: Any) -> Exception:
    return ctx.fail(
        el, f"unknown value '{shorten(value)}' for {where}: expected one of {', '.join(choices)}"
    )


def _bad_value(ctx: ParseContext, el: Any, value: str, where: str, exc: Exception) -> Exception:
    return ctx.fail(el, f"invalid value '{shorten(value)}' for {where}: {exc}")


def _scaled(ctx: ParseContext, el: etree._Element, fp: FieldPlan) -> int:
    spec = fp.spec
    try:
        b = scale_integer(el.text, el.get("unit"), spec.default_scale, spec.limit)
    except UnitError as exc:
        raise ctx.fail(el, f"invalid <{el.tag}>: {exc}") from None
    return -(-b // spec.store_scale)


#: Most characters the verbatim children of one container (``<metadata>``) may take once
#: serialized: each child carries the namespace declarations it uses, which can repeat.
MAX_VERBATIM = MAX_SIZE


def _verbatim(ctx: ParseContext, container: Any) -> list[str]:
    """The child elements of ``container``, each serialized on its own with the namespace
    declarations it needs (libvirt keeps ``<metadata>`` children so)."""
    kids = list(container.iterchildren(etree.Element))  # elements only, tags not spelt out
    if not kids:
        return []
    # lxml's tostring of an element declares every namespace in scope from its ancestors, used
    # or not, checking each against those already declared: quadratic, and amplifying (a
    # document can declare hundreds, with long names, and have thousands of children). When
    # the container has namespaces in scope, the children are taken out of a copy of it one by
    # one, which declares on each only the namespaces it uses, in time linear in its size.
    if container.nsmap:
        holder = copy.deepcopy(container)
        kids = list(holder.iterchildren(etree.Element))
        for node in kids:
            holder.remove(node)
    out: list[str] = []
    total = 0
    for node in kids:
        s = etree.tostring(node, encoding="unicode", with_tail=False)
        total += len(s)
        if total > MAX_VERBATIM:
            raise ctx.fail(container, f"the children of <{container.tag}> take more than "
                           f"{MAX_VERBATIM} characters once serialized")
        out.append(s)
    return out


def parse_model(cls: type[M], el: etree._Element, ctx: ParseContext) -> M:
    """Build ``cls`` from element ``el``."""
    plan = _plans.get(cls) or plan_of(cls)
    kw: dict[str, Any] = {}
    e: Any = el
    n = len(e.attrib)
    if n:
        if n > MAX_ELEMENT_ATTRIBUTES:
            raise too_many_attributes(ctx.what, el, n)
        items = e.items()
    else:
        items = ()
    nkids = len(e)
    key: tuple[Any, ...] | None = None
    # open enumerations (a driver's own domain types) apply to a few classes only
    ov = ctx.choices if cls in ctx.open_classes else None
    if plan.leaf and not nkids and ov is None:
        key = (cls, e.text, *items)
        hit = _interned.get(key)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        mark = len(ctx._nodes)
    if items:
        amap = plan.amap
        for name, value in items:
            a = amap.get(name)
            if a is None:
                ctx._nodes.append((el, name))
                continue
            field, parse, choices, kind, _ = a
            if kind != ATTR:
                continue
            if ov is not None:
                choices = ov.get((cls, field), choices)
            if choices is not None and value not in choices:
                raise _bad_choice(ctx, el, value, f"attribute '{name}' of <{e.tag}>", choices)
            if parse is None:
                kw[field] = value
            else:
                try:
                    kw[field] = parse(value)
                except ValueError as exc:
                    raise _bad_value(ctx, el, value, f"attribute '{name}' of <{e.tag}>",
                                     exc) from None
    tp = plan.text
    if tp is not None:
        txt = e.text
        spec = tp.spec
        if spec.kind == UNIT_TEXT:
            if txt is not None or spec.required:
                kw[tp.name] = _scaled(ctx, el, tp)
        elif txt is not None:
            choices = plan.text_choices if ov is None else ov.get((cls, tp.name),
                                                                   plan.text_choices)
            if choices is not None and txt not in choices:
                raise _bad_choice(ctx, el, txt, f"the text of <{e.tag}>", choices)
            conv = spec.conv
            if conv is None or conv.parse is _ident:
                kw[tp.name] = txt
            else:
                try:
                    kw[tp.name] = conv.parse(txt)
                except ValueError as exc:
                    raise _bad_value(ctx, el, txt, f"the text of <{e.tag}>", exc) from None
    if nkids:
        kmap = plan.kmap
        inner = _parse_inner if plan.root else parse_model
        for ch in e:
            tag = ch.tag
            k = kmap.get(tag) if isinstance(tag, str) else None
            if k is None:
                if isinstance(tag, str):
                    ctx._nodes.append((ch, None))
                continue
            kind, field, sub, parse, choices, fp = k
            if kind == CHILD:
                if field in kw:
                    ctx._nodes.append((ch, None))
                else:
                    kw[field] = inner(sub, ch, ctx)
            elif kind == CHILDREN:
                lst = kw.get(field)
                if lst is None:
                    kw[field] = [inner(sub, ch, ctx)]
                else:
                    lst.append(inner(sub, ch, ctx))
            elif kind == CHILD_TEXT or kind == CHILD_TEXTS:
                if len(ch.attrib):
                    for name in ch.keys():
                        ctx._nodes.append((ch, name))
                txt = ch.text or ""
                if ov is not None:
                    choices = ov.get((cls, field), choices)
                if choices is not None and txt not in choices:
                    raise _bad_choice(ctx, ch, txt, f"<{tag}>", choices)
                if parse is not None:
                    try:
                        txt = parse(txt)
                    except ValueError as exc:
                        raise _bad_value(ctx, ch, txt, f"<{tag}>", exc) from None
                if kind == CHILD_TEXT:
                    kw[field] = txt
                else:
                    kw.setdefault(field, []).append(txt)
            elif kind == FLAG:
                kw[field] = True
            elif kind == UNIT:
                for name in ch.keys():
                    if name != "unit":
                        ctx._nodes.append((ch, name))
                kw[field] = _scaled(ctx, ch, fp)
            elif kind == RAW:
                kw.setdefault(field, []).extend(_verbatim(ctx, ch))
        for field in plan.tuples:
            v = kw.get(field)
            if v is not None:
                kw[field] = tuple(v)
    if plan.required:
        for fp in plan.required:
            if fp.name not in kw:
                sk = fp.spec.kind
                if sk == ATTR:
                    problem = f"missing attribute '{fp.xml}' of <{e.tag}>"
                elif sk in (TEXT, UNIT_TEXT):
                    problem = f"missing text of <{e.tag}>"
                else:
                    problem = f"missing element <{fp.xml}> in <{e.tag}>"
                raise ctx.fail(el, problem)
    obj = cls(**kw)
    if key is not None and len(ctx._nodes) == mark:
        if len(_interned) >= _INTERN_MAX:
            _interned.clear()
        _interned[key] = obj
    return obj


def _parse_inner(cls: type[M], el: etree._Element, ctx: ParseContext) -> M:
    """:func:`parse_model` for a child of a document's root: a model with children
    (``<os>``, ``<devices>``) is interned by its element's serialization (see ``Plan.subtree``)."""
    plan = _plans.get(cls) or plan_of(cls)
    if not plan.subtree or not 0 < len(el) <= _SUBTREE_MAX_KIDS:
        return parse_model(cls, el, ctx)
    raw = etree.tostring(el, with_tail=False)
    if len(raw) > _SUBTREE_MAX_CHARS:
        return parse_model(cls, el, ctx)
    key = (cls, ctx.choices_key, raw)
    hit = _subtrees.get(key)
    if hit is not None:
        return hit  # type: ignore[no-any-return]
    mark = len(ctx._nodes)
    obj = parse_model(cls, el, ctx)
    if len(ctx._nodes) == mark:  # nothing in it left out: the same parse every time
        if len(_subtrees) >= _INTERN_MAX:
            _subtrees.clear()
        _subtrees[key] = obj
    return obj


_ESC_RE = re.compile(r"[&<>'\"\n\r\t]")
_esc_regex = _ESC_RE.search


def _esc_search(s: str) -> bool:
    """Whether ``s`` holds a character to escape: a regular expression for short values, one C
    search per character for long ones (the expression walks them in Python's engine)."""
    if len(s) < 512:
        return _esc_regex(s) is not None
    return any(c in s for c in "&<>'\"\n\r\t")
_ATTR_TABLE = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&apos;", '"': "&quot;",
     "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
)
_TEXT_TABLE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def esc_attr(s: str) -> str:
    return s.translate(_ATTR_TABLE) if _esc_search(s) else s


def esc_text(s: str) -> str:
    return s.translate(_TEXT_TABLE) if _esc_search(s) else s


def format_model(obj: Model, tag: str, indent: str, out: list[str]) -> None:
    """Append ``obj`` as element ``tag`` to ``out``, libvirt style (two-space indents, single
    quotes)."""
    plan = _plans.get(type(obj)) or plan_of(type(obj))
    if plan.leaf:
        # Leaf models are immutable and often shared (interned): reuse their formatted line.
        # The entry holds the object itself, so its id cannot be reused while cached.
        hit = _formatted.get(id(obj))
        if hit is not None and hit[0] is obj and hit[1] == tag and hit[2] == indent:
            out.append(hit[3])
            return
        mark = len(out)
    elif plan.subtree and indent == "  ":  # a child of the root: perhaps interned
        hit = _subtree_text.get(id(obj))
        if hit is not None and hit[0] is obj and hit[1] == tag and hit[2] == indent:
            out.append(hit[3])
            return
        mark = len(out)
    head = indent + "<" + tag
    for field, xml, fmt in plan.fattrs:
        v = getattr(obj, field)
        if v is not None:
            if fmt is not None:
                v = fmt(v)
            head += f" {xml}='{v.translate(_ATTR_TABLE) if _esc_search(v) else v}'"
    tp = plan.text
    body: str | None = None
    if tp is not None:
        v = getattr(obj, tp.name)
        if v is not None:
            if tp.spec.kind == UNIT_TEXT:
                head += f" unit='{tp.spec.out_unit}'"
                body = str(v)
            else:
                conv = tp.spec.conv
                body = esc_text(v if conv is None or conv.format is _ident else conv.format(v))
    start = len(out)
    inner = indent + "  "
    for kind, field, xml, fmt, out_unit in plan.fkids:
        v = getattr(obj, field)
        if kind == CHILD:
            if v is not None:
                format_model(v, xml, inner, out)
        elif kind == CHILDREN:
            for item in v:
                format_model(item, xml, inner, out)
        elif kind == CHILD_TEXT:
            if v is not None:
                if fmt is not None:
                    v = fmt(v)
                if v == "":
                    out.append(f"{inner}<{xml}/>\n")
                else:
                    out.append(f"{inner}<{xml}>{esc_text(v)}</{xml}>\n")
        elif kind == FLAG:
            if v:
                out.append(f"{inner}<{xml}/>\n")
        elif kind == UNIT:
            if v is not None:
                out.append(f"{inner}<{xml} unit='{out_unit}'>{v}</{xml}>\n")
        elif kind == CHILD_TEXTS:
            for item in v:
                s = item if fmt is None else fmt(item)
                out.append(f"{inner}<{xml}>{esc_text(s)}</{xml}>\n")
        elif kind == RAW:
            if v:
                out.append(f"{inner}<{xml}>\n")
                for item in v:
                    out.append(f"{inner}  {item}\n")
                out.append(f"{inner}</{xml}>\n")
    if len(out) > start:
        out.insert(start, head + ">\n")
        out.append(f"{indent}</{tag}>\n")
    elif body:
        out.append(f"{head}>{body}</{tag}>\n")
    else:
        out.append(head + "/>\n")
    if plan.leaf:
        if len(out) == mark + 1:
            if len(_formatted) >= _INTERN_MAX:
                _formatted.clear()
            _formatted[id(obj)] = (obj, tag, indent, out[-1])
    elif plan.subtree and indent == "  ":
        text = "".join(out[mark:])
        if len(text) <= 2 * _SUBTREE_MAX_CHARS:
            del out[mark:]
            out.append(text)
            if len(_subtree_text) >= _INTERN_MAX:
                _subtree_text.clear()
            _subtree_text[id(obj)] = (obj, tag, indent, text)  # holds obj: its id not reused


class Model:
    """Base of every XML model. Root models set ``TAG`` (the document element) and ``WHAT``
    (the document kind named in messages)."""

    __slots__ = ()
    TAG: ClassVar[str] = ""
    WHAT: ClassVar[str] = ""

    @classmethod
    def from_element(cls: type[M], el: etree._Element, ctx: ParseContext | None = None) -> M:
        """Build the model from an already parsed element."""
        what = cls.WHAT or cls.TAG or cls.__name__
        if ctx is None:
            ctx = ParseContext(what)
        if cls.TAG and el.tag != cls.TAG:
            raise xml_error(f"{what}: expected root element <{cls.TAG}>, found <{el.tag}>")
        return parse_model(cls, el, ctx)

    @classmethod
    def parse(cls: type[M], text: str | bytes) -> tuple[M, list[str]]:
        """Parse a document; return the model and the XPaths of what it did not understand."""
        what = cls.WHAT or cls.TAG
        root = parse_document(text, what)
        ctx = ParseContext(what)
        return cls.from_element(root, ctx), ctx.ignored

    def to_xml(self, tag: str | None = None) -> str:
        """The model as an XML document (libvirt's layout: two-space indent, single quotes)."""
        out: list[str] = []
        format_model(self, tag or self.TAG, "", out)
        return "".join(out)
