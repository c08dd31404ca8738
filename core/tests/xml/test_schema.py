"""virtkit's own RelaxNG schemas: current, loaded lazily, VALIDATE semantics."""

from __future__ import annotations

import subprocess
import sys

import pytest

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.xml import _rnggen, schema
from virtkit.xml.domain import Domain


@pytest.mark.parametrize("name", sorted(_rnggen.ROOTS()))
def test_packaged_schema_is_current(name: str) -> None:
    packaged = (schema.SCHEMA_DIR / f"{name}.rng").read_text(encoding="utf-8")
    assert packaged == _rnggen.generate(name), (
        f"{name}.rng is stale: run python -m virtkit.xml._rnggen"
    )


def test_validate_flag_reports_schema_message() -> None:
    doc = ("<domain type='kvm'><name>x</name><memory>1024</memory><os><type>hvm</type></os>"
           "<devices><smartcard mode='host'/></devices></domain>")
    Domain.from_xml(doc)  # without VALIDATE the unknown element is only reported
    with pytest.raises(VirtError) as info:
        Domain.from_xml(doc, validate=True)
    err = info.value
    assert err.code == ErrorCode.XML_INVALID_SCHEMA
    assert err.domain == ErrorDomain.XML
    assert "failed to validate against schema" in err.message
    assert "domain.rng" in err.message
    assert "smartcard" in err.message or "devices" in err.message


def test_validate_text_and_element() -> None:
    schema.validate("<network><name>n</name></network>", "network")
    with pytest.raises(VirtError) as info:
        schema.validate("<network><nom>n</nom></network>", "network")
    assert info.value.code == ErrorCode.XML_INVALID_SCHEMA


def test_validate_uses_hardened_parser() -> None:
    with pytest.raises(VirtError) as info:
        schema.validate('<!DOCTYPE x [<!ENTITY a "b">]><network/>', "network")
    assert info.value.code == ErrorCode.XML_ERROR


def test_unknown_kind() -> None:
    with pytest.raises(VirtError, match="no schema"):
        schema.validate("<x/>", "nonsense")


def test_import_is_cheap() -> None:
    code = (
        "import sys, virtkit.xml, virtkit.xml.domain\n"
        "assert 'hypothesis' not in sys.modules\n"
        "from virtkit.xml import schema\n"
        "assert not schema._cache, 'schemas must load lazily'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- the linear check is the schema
#
# ``validate`` does not run libxml2's RelaxNG engine (quadratic in sibling counts); it walks the
# document once, driven by the model declarations the packaged .rng files are generated from.
# These tests prove the two accept and refuse the same documents: the corpus, and mutations of
# it at every element (unknown, duplicated and missing children and attributes, odd values and
# text), compared against libxml2 with the packaged schema.

import copy  # noqa: E402
import random  # noqa: E402
from pathlib import Path  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from lxml import etree  # noqa: E402
from xml_oracle import DATA  # noqa: E402

from virtkit.xml.parser import parse_document  # noqa: E402

CORPUS = sorted(DATA.glob("*/*.xml"))
_rng: dict[str, etree.RelaxNG] = {}

ODD_VALUES = [
    "", " ", "x y", "-1", "+5", "-0", "0x1g", "0x1f", "12", "007", " 12 ", "/abs/path", "rel",
    "a/b", "a\tb", "  kvm  ", "kvm", "hvm", "yes", " no ", "on", "1" * 30, "0" * 30 + "1",
    "52:54:00:12:34:56", "4dea22b3-1d52-d8f3-2516-782e98ab3fa0", "4dea22b31d52d8f32516782e98ab3fa0",
    "192.168.1.1", "fe80::1%eth0", "fe80::1%", "vda", "sd@0", "é", "KiB", "MB", "parsecs",
]


def _libxml2_ok(kind: str, root: etree._Element) -> bool:
    if kind not in _rng:
        _rng[kind] = schema.relaxng(kind)
    return bool(_rng[kind].validate(root))


def _ours_ok(kind: str, root: etree._Element) -> bool:
    try:
        schema.validate(root, kind)
    except VirtError as exc:
        assert exc.code == ErrorCode.XML_INVALID_SCHEMA, exc.message
        return False
    return True


def _agree(kind: str, text: bytes) -> None:
    try:
        root = parse_document(text, kind)
    except VirtError:
        return  # not a document at all: neither check sees it
    ours, theirs = _ours_ok(kind, root), _libxml2_ok(kind, root)
    assert ours == theirs, (
        f"virtkit says {'valid' if ours else 'invalid'}, libxml2 says "
        f"{'valid' if theirs else 'invalid'}:\n{text.decode()}\n{_rng[kind].error_log}"
    )


def _mutate(root: etree._Element, r: random.Random) -> None:
    els = [e for e in root.iter() if isinstance(e.tag, str)]
    el = r.choice(els)
    op = r.randrange(11)
    value = r.choice(ODD_VALUES)
    if op == 0:
        el.set(r.choice(["foo", "type", "name", "unit", "{urn:x}type"]), value)
    elif op == 1 and el.attrib:
        el.set(r.choice(list(el.attrib)), value)
    elif op == 2 and el.attrib:
        del el.attrib[r.choice(list(el.attrib))]
    elif op == 3:
        etree.SubElement(el, r.choice(["gizmo", "name", "target", "{urn:x}name"]))
    elif op == 4 and len(el):
        kid = r.choice(list(el))
        el.append(copy.deepcopy(kid))  # a duplicate (with its tail)
    elif op == 5 and len(el):
        el.remove(r.choice(list(el)))
    elif op == 6:
        el.text = value if not len(el) else (el.text or "") + value
    elif op == 7 and len(el):
        r.choice(list(el)).tail = value
    elif op == 8:
        for kid in list(el):
            el.remove(kid)
        el.text = value
    elif op == 9 and el.getparent() is not None:
        el.tag = r.choice(["gizmo", "source", "target", "type", "boot"])
    else:
        el.set("foo", value)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_linear_check_agrees_with_libxml2_on_the_corpus(path: Path) -> None:
    kind = path.parent.name
    text = path.read_bytes()
    _agree(kind, text)
    r = random.Random(path.name)
    for _ in range(150):
        root = parse_document(text, kind)
        for _ in range(r.randrange(1, 3)):
            _mutate(root, r)
        _agree(kind, etree.tostring(root))


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(CORPUS), st.integers(0, 2**32))
def test_linear_check_agrees_with_libxml2_on_random_mutations(path: Path, seed: int) -> None:
    kind = path.parent.name
    root = parse_document(path.read_bytes(), kind)
    r = random.Random(seed)
    for _ in range(r.randrange(1, 4)):
        _mutate(root, r)
    _agree(kind, etree.tostring(root))


@pytest.mark.parametrize("kind", ["name", "path", "dev", "uuid", "mac", "ip", "host", "hex"])
def test_fast_value_checks_match_their_patterns(kind: str) -> None:
    """Each data pattern of the schemas is checked with string operations (a regular expression
    is too slow on a 4 MiB value); each answers as the pattern does."""
    from virtkit.xml._rnggen import _PATTERNS

    fast = schema._fast_checks()[kind]
    slow = schema._pattern(_PATTERNS[kind])
    r = random.Random(kind)
    alphabet = "aF09x:./%-_@+ \t\n\r/é0x"
    samples = [*ODD_VALUES, "0x", "0x0", "x0", ":", "%", "a%b", "::1%lo", "/", "//", "a b"]
    samples += ["".join(r.choice(alphabet) for _ in range(r.randrange(0, 12))) for _ in range(3000)]
    for v in samples:
        assert fast(v) == slow(v), (kind, v)
