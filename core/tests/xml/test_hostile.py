"""Hostile documents: each refused with XML_ERROR, a message that says why, and fast."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.xml.domain import Domain
from virtkit.xml.network import Network
from virtkit.xml.parser import MAX_SIZE, parse_document
from virtkit.xml.storage import StorageVolume

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<domain type='kvm'><name>&lol9;</name><memory>1024</memory><os><type>hvm</type></os></domain>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE domain [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<domain type='kvm'><name>x</name><description>&xxe;</description><memory>1024</memory>
<os><type>hvm</type></os></domain>"""

XXE_PARAM = b"""<?xml version="1.0"?>
<!DOCTYPE domain [<!ENTITY % ext SYSTEM "http://example.org/evil.dtd"> %ext;]>
<domain type='kvm'><name>x</name><memory>1024</memory><os><type>hvm</type></os></domain>"""

DTD = b"""<?xml version="1.0"?>
<!DOCTYPE domain SYSTEM "http://example.org/domain.dtd">
<domain type='kvm'><name>x</name><memory>1024</memory><os><type>hvm</type></os></domain>"""

UNDEFINED_ENTITY = b"""<domain type='kvm'><name>&passwd;</name><memory>1024</memory>
<os><type>hvm</type></os></domain>"""

HUGE = b"<domain type='kvm'><description>" + b"A" * (100 * 1024 * 1024) + b"</description>"
DEEP = (b"<domain type='kvm'><metadata>" + b"<a>" * 10_000 + b"</a>" * 10_000
        + b"</metadata></domain>")
BAD_UTF8 = b"<domain type='kvm'><name>caf\xc3\x28</name><memory>1024</memory></domain>"
UNKNOWN_UNIT = b"""<domain type='kvm'><name>x</name><memory unit='parsecs'>1024</memory>
<os><type>hvm</type></os></domain>"""
NEGATIVE_MEMORY = b"""<domain type='kvm'><name>x</name><memory unit='KiB'>-1024</memory>
<os><type>hvm</type></os></domain>"""
OVERFLOW_MEMORY = b"""<domain type='kvm'><name>x</name><memory unit='EiB'>99999</memory>
<os><type>hvm</type></os></domain>"""
NOT_XML = b"<domain type='kvm'><name>x</name>"
EMPTY = b""

HOSTILE: dict[str, tuple[bytes | str, str]] = {
    "billion laughs": (BILLION_LAUGHS, "DOCTYPE"),
    "external entity /etc/passwd": (XXE, "DOCTYPE"),
    "external parameter entity": (XXE_PARAM, "DOCTYPE"),
    "DTD": (DTD, "DOCTYPE"),
    "undefined entity": (UNDEFINED_ENTITY, "entity"),
    "100 MB of text": (HUGE, "too large"),
    "100 MB of text (str)": (HUGE.decode(), "too large"),
    "nesting 10,000 deep": (DEEP, "nested too deeply"),
    "invalid UTF-8": (BAD_UTF8, "not valid UTF-8"),
    "unknown unit": (UNKNOWN_UNIT, "unknown unit 'parsecs'"),
    "negative memory": (NEGATIVE_MEMORY, "negative value '-1024'"),
    "memory overflow": (OVERFLOW_MEMORY, "value too large"),
    "not well-formed": (NOT_XML, "not well-formed"),
    "empty": (EMPTY, "empty"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_domain_refused(name: str) -> None:
    doc, reason = HOSTILE[name]
    start = time.perf_counter()
    with pytest.raises(VirtError) as info:
        Domain.from_xml(doc)
    elapsed = time.perf_counter() - start
    err = info.value
    assert err.code == ErrorCode.XML_ERROR
    assert err.domain == ErrorDomain.XML
    assert reason in err.message, err.message
    assert "domain" in err.message
    assert elapsed < 0.05 or name.startswith("100 MB"), f"{name} took {elapsed * 1000:.1f} ms"


def test_hostile_refusals_are_fast() -> None:
    """The whole corpus, timed after warm-up: each refusal under 50 ms."""
    for name, (doc, _) in HOSTILE.items():
        best = min(_time(lambda doc=doc: Domain.from_xml(doc)) for _ in range(3))  # type: ignore
        assert best < 0.05, f"{name}: {best * 1000:.1f} ms"


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    try:
        fn()
    except VirtError:
        pass
    return time.perf_counter() - start


def test_xxe_never_reads_the_file() -> None:
    with pytest.raises(VirtError) as info:
        parse_document(XXE, "domain")
    assert "root:" not in info.value.message


def test_size_cap_is_exact() -> None:
    pad = MAX_SIZE - len(b"<a></a>")
    assert parse_document(b"<a>" + b" " * (pad - 1) + b"x</a>", "domain").tag == "a"
    with pytest.raises(VirtError, match="too large"):
        parse_document(b"<a>" + b" " * pad + b"x</a>", "domain")


def test_depth_cap() -> None:
    ok = b"<a>" * 200 + b"</a>" * 200
    assert parse_document(ok, "network").tag == "a"
    with pytest.raises(VirtError, match="network document is nested too deeply"):
        parse_document(b"<a>" * 300 + b"</a>" * 300, "network")


@pytest.mark.parametrize("cls", [Network, StorageVolume])
def test_other_documents_use_the_same_parser(cls: type) -> None:
    with pytest.raises(VirtError) as info:
        cls.from_xml(XXE.replace(b"domain", cls.TAG.encode()))  # type: ignore[attr-defined]
    assert info.value.code == ErrorCode.XML_ERROR
    assert cls.WHAT in info.value.message  # type: ignore[attr-defined]


def test_wrong_root_element() -> None:
    with pytest.raises(VirtError, match="expected root element <domain>, found <network>"):
        Domain.from_xml("<network><name>x</name></network>")


def test_str_with_encoding_declaration() -> None:
    text = "<?xml version='1.0' encoding='UTF-8'?>\n<a>caf\u00e9</a>"
    assert parse_document(text, "domain").text == "caf\u00e9"


def test_lone_surrogate_in_str_refused() -> None:
    with pytest.raises(VirtError, match="not valid UTF-8"):
        parse_document("<a>\ud800</a>", "domain")
