"""Writes virtkit's own RelaxNG schemas (``virtkit/schemas/*.rng``) from the models.

The schemas are generated from the same field declarations that drive parsing, so they accept
exactly what the models read. Run ``python -m virtkit.xml._rnggen`` after changing a model; a test
checks the packaged files are current.
"""

from __future__ import annotations

import sys
from pathlib import Path
from xml.sax.saxutils import quoteattr

from virtkit.xml._model import (
    ATTR,
    CHILD,
    CHILD_TEXT,
    CHILD_TEXTS,
    CHILDREN,
    FLAG,
    RAW,
    TEXT,
    UNIT,
    UNIT_TEXT,
    FieldPlan,
    Model,
    plan_of,
)

__all__ = ["ROOTS", "generate", "main"]

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

_PATTERNS = {
    "name": r"[^/\n]+",
    "path": r"/[^\n]*",
    "dev": r"[a-zA-Z0-9_.\-:/@+]+",
    "uuid": r"[a-fA-F0-9]{8}-?[a-fA-F0-9]{4}-?[a-fA-F0-9]{4}-?[a-fA-F0-9]{4}-?[a-fA-F0-9]{12}",
    "mac": r"[a-fA-F0-9]{1,2}(:[a-fA-F0-9]{1,2}){5}",
    "ip": r"[0-9a-fA-F.:]+(%[a-zA-Z0-9_.\-]+)?",
    "host": r"[^\s]+",
    "hex": r"(0x[0-9a-fA-F]+)|([0-9]+)",
}
UNIT_PATTERN = r"([bB]([yY][tT][eE][sS]?)?)|([kKmMgGtTpPeE]([iI]?[bB])?)"


def ROOTS() -> dict[str, type[Model]]:
    """Schema name -> root model."""
    from virtkit.xml.capabilities import Capabilities, DomainCapabilities, NodeInfo
    from virtkit.xml.domain import Domain
    from virtkit.xml.interface import HostInterface
    from virtkit.xml.network import Network
    from virtkit.xml.snapshot import DomainSnapshot
    from virtkit.xml.storage import StoragePool, StorageVolume

    return {
        "domain": Domain,
        "network": Network,
        "pool": StoragePool,
        "volume": StorageVolume,
        "interface": HostInterface,
        "snapshot": DomainSnapshot,
        "capabilities": Capabilities,
        "domaincaps": DomainCapabilities,
        "nodeinfo": NodeInfo,
    }


def _datatype(fp: FieldPlan) -> str:
    spec = fp.spec
    if spec.choices is not None:
        return "<choice>" + "".join(f"<value>{v}</value>" for v in spec.choices) + "</choice>"
    kind = spec.conv.kind if spec.conv is not None else "str"
    if kind == "int":
        return '<data type="integer"/>'
    if kind == "uint":
        return '<data type="nonNegativeInteger"/>'
    if kind == "yesno":
        return "<choice><value>yes</value><value>no</value></choice>"
    if kind == "onoff":
        return "<choice><value>on</value><value>off</value></choice>"
    pattern = _PATTERNS.get(kind)
    if pattern is not None:
        return f'<data type="string"><param name="pattern">{pattern}</param></data>'
    return "<text/>"


def _content(cls: type[Model]) -> str:
    plan = plan_of(cls)
    items: list[str] = []
    attr_items: list[str] = []
    for fp in plan.order:
        kind = fp.spec.kind
        req = fp.spec.required
        x = fp.xml
        if kind == ATTR:
            pat = f"<attribute name={quoteattr(x)}>{_datatype(fp)}</attribute>"
            attr_items.append(pat if req else f"<optional>{pat}</optional>")
            continue
        elif kind == TEXT:
            pat = _datatype(fp) if fp.spec.choices or (fp.spec.conv and fp.spec.conv.kind
                                                      != "str") else "<text/>"
            if not plan.kids:
                # typed text may not sit in an interleave with elements
                pat = pat if req else f"<optional>{pat}</optional>"
                items.append(pat)
                continue
            pat = "<text/>"
        elif kind == UNIT_TEXT:
            attr_items.append(
                '<optional><attribute name="unit"><data type="string"><param name="pattern">'
                f"{UNIT_PATTERN}</param></data></attribute></optional>"
            )
            pat = '<data type="nonNegativeInteger"/>'
        elif kind == CHILD_TEXT:
            dt = _datatype(fp)
            pat = f"<element name={quoteattr(x)}>{dt}</element>"
        elif kind == FLAG:
            pat = f"<element name={quoteattr(x)}><empty/></element>"
        elif kind in (CHILD, CHILDREN):
            pat = f"<element name={quoteattr(x)}><ref name={quoteattr(fp.cls.__name__)}/></element>"
        elif kind == CHILD_TEXTS:
            pat = f"<element name={quoteattr(x)}>{_datatype(fp)}</element>"
        elif kind == RAW:
            pat = (f"<element name={quoteattr(x)}><zeroOrMore><ref name=\"anyElement\"/>"
                   "</zeroOrMore></element>")
        elif kind == UNIT:
            pat = (
                f"<element name={quoteattr(x)}><optional><attribute name=\"unit\">"
                f"<data type=\"string\"><param name=\"pattern\">{UNIT_PATTERN}</param></data>"
                "</attribute></optional><data type=\"nonNegativeInteger\"/></element>"
            )
        else:  # pragma: no cover
            raise AssertionError(kind)
        if kind in (CHILDREN, CHILD_TEXTS):
            pat = f"<zeroOrMore>{pat}</zeroOrMore>"
        elif not req:
            pat = f"<optional>{pat}</optional>"
        items.append(pat)
    if not items and not attr_items:
        return "<empty/>"
    if len(items) <= 1:
        return "\n      ".join(attr_items + items)
    head = "\n      ".join([*attr_items, "<interleave>"])
    return head + "\n        " + "\n        ".join(items) + "\n      </interleave>"


def _classes(root: type[Model]) -> list[type[Model]]:
    seen: list[type[Model]] = []
    todo = [root]
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.append(cls)
        for fp in plan_of(cls).order:
            if fp.spec.kind in (CHILD, CHILDREN):
                todo.append(fp.cls)
    return seen


def generate(name: str) -> str:
    """The RelaxNG schema text for schema ``name`` (a key of :func:`ROOTS`)."""
    root = ROOTS()[name]
    out = [
        '<?xml version="1.0"?>',
        "<!-- virtkit's own schema for the "
        f"{root.WHAT} document, generated from virtkit.xml models by virtkit.xml._rnggen. -->",
        '<grammar xmlns="http://relaxng.org/ns/structure/1.0" '
        'datatypeLibrary="http://www.w3.org/2001/XMLSchema-datatypes">',
        f'  <start><element name="{root.TAG}"><ref name="{root.__name__}"/></element></start>',
    ]
    names: dict[str, type[Model]] = {}
    for cls in _classes(root):
        if cls.__name__ in names and names[cls.__name__] is not cls:  # pragma: no cover
            raise AssertionError(f"two models named {cls.__name__}")
        names[cls.__name__] = cls
    for cls_name in sorted(names):
        out.append(f'  <define name="{cls_name}">\n      {_content(names[cls_name])}\n  </define>')
    out.append(
        '  <define name="anyElement"><element><anyName/><zeroOrMore><choice>'
        "<attribute><anyName/></attribute><text/><ref name=\"anyElement\"/>"
        "</choice></zeroOrMore></element></define>"
    )
    out.append("</grammar>\n")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    SCHEMA_DIR.mkdir(exist_ok=True)
    for name in ROOTS():
        (SCHEMA_DIR / f"{name}.rng").write_text(generate(name), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
