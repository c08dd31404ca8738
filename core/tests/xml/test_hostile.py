"""Hostile documents: each refused with XML_ERROR and a message that says why; and large
documents of every shape near the caps (many siblings, many devices, deep nesting, long values,
many attributes, large text), each accepted or refused as it should be.

How long each takes is measured by bench/xml_parse.py (which imports HOSTILE and SHAPES from
here), not asserted in tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
DEEP = (b"<domain type='kvm'><metadata>" + b"<a>" * 1_000 + b"</a>" * 1_000
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
    "nesting 1,000 deep": (DEEP, "nested too deeply"),
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
    with pytest.raises(VirtError) as info:
        Domain.from_xml(doc)
    err = info.value
    assert err.code == ErrorCode.XML_ERROR
    assert err.domain == ErrorDomain.XML
    assert reason in err.message, err.message
    assert "domain" in err.message
    assert len(err.message) < 1000, "a refusal names the problem, not the whole document"


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


# ---------------------------------------------------------------- large documents of every shape
#
# Each shape sits near a cap (4 MiB, 5,000 elements, 12,500 attributes, 256 levels, 256
# attributes per element) and is accepted or refused as it should be, with validation and
# without. bench/xml_parse.py times them against libvirt doing the same work.

_HEAD = ("<domain type='test'><name>big</name><memory unit='KiB'>1048576</memory>"
         "<os><type>hvm</type></os>")
_N = 4_900  # elements of one kind, under MAX_ELEMENTS with the rest of the document
_BIG = MAX_SIZE - 1024  # bytes of one value, under MAX_SIZE with the rest of the document

OK = None
#: (code, text in the message) of a refusal
Refusal = tuple[ErrorCode, str]


class Shape:
    """A large document, what it must give without and with validation, and a check of the
    model when it is accepted."""

    def __init__(
        self,
        doc: str,
        plain: Refusal | None = OK,
        validated: Refusal | None = OK,
        check: Callable[[Any], object] | None = None,
        kind: str = "domain",
    ) -> None:
        self.doc = doc
        self.plain = plain
        self.validated = validated
        self.check = check
        self.kind = kind


def _domain(body: str, head: str = _HEAD) -> str:
    return head + body + "</domain>"


def _disks(n: int) -> str:
    return "".join(
        f"<disk type='file' device='disk'><source file='/var/lib/images/d{i}.img'/>"
        f"<target dev='vd{i}' bus='virtio'/></disk>" for i in range(n)
    )


def _interfaces(n: int) -> str:
    return "".join(
        f"<interface type='network'><mac address='52:54:00:{i >> 8 & 255:02x}:{i & 255:02x}:01'/>"
        f"<source network='default'/><model type='virtio'/></interface>" for i in range(n)
    )


def _dhcp_hosts(n: int) -> str:
    hosts = "".join(
        f"<host mac='52:54:00:00:{i >> 8 & 255:02x}:{i & 255:02x}' ip='10.1.{i >> 8 & 255}."
        f"{(i & 255) or 1}'/>" for i in range(n)
    )
    return (f"<network><name>big</name><ip address='10.1.0.1' prefix='16'><dhcp>{hosts}</dhcp>"
            "</ip></network>")


X = ErrorCode.XML_ERROR
S = ErrorCode.XML_INVALID_SCHEMA

SHAPES: dict[str, Shape] = {
    "metadata: 4,900 siblings": Shape(
        _domain("<metadata xmlns:m='urn:x'>" + "<m:e k='v'>t</m:e>" * _N + "</metadata>"),
        check=lambda d: len(d.metadata) == _N and d.metadata[0] == '<m:e xmlns:m="urn:x" k="v">t</m:e>'),
    "metadata: 4,900 siblings in 8 long-named namespaces": Shape(
        _domain("<metadata " + " ".join(f"xmlns:m{i}='urn:{i}:{'u' * 240}'" for i in range(8))
                + ">" + "".join(f"<m{i % 8}:e/>" for i in range(_N)) + "</metadata>"),
        check=lambda d: len(d.metadata) == _N and d.metadata[9].count("xmlns") == 1),
    "metadata: 256 siblings each declaring its namespace": Shape(
        _domain("<metadata>" + "".join(f"<m:e xmlns:m='urn:{i}'/>" for i in range(256))
                + "</metadata>"),
        check=lambda d: len(d.metadata) == 256),
    "300 namespace declarations": Shape(
        _domain("<metadata>" + "".join(f"<m:e xmlns:m='urn:{i}'/>" for i in range(300))
                + "</metadata>"),
        (X, "too many namespace declarations"), (X, "too many namespace declarations")),
    "a namespace name of 300 bytes": Shape(
        _domain(f"<metadata><m:e xmlns:m='urn:{'u' * 296}'/></metadata>"),
        (X, "namespace name of 300 bytes"), (X, "namespace name of 300 bytes")),
    "metadata: 4,900 children of one": Shape(
        _domain("<metadata><m:r xmlns:m='urn:x'>" + "<m:i/>" * _N + "</m:r></metadata>"),
        check=lambda d: len(d.metadata) == 1 and d.metadata[0].count("<m:i/>") == _N),
    "metadata: nesting 250 deep": Shape(
        _domain("<metadata>" + "<a>" * 250 + "</a>" * 250 + "</metadata>"),
        check=lambda d: d.metadata[0].count("<a>") == 249),
    "metadata: nesting 300 deep": Shape(
        _domain("<metadata>" + "<a>" * 300 + "</a>" * 300 + "</metadata>"),
        (X, "nested too deeply"), (X, "nested too deeply")),
    "metadata: 12,000 attributes on one element": Shape(
        _domain("<metadata><m:r xmlns:m='urn:x' "
                + " ".join(f"a{i}='v'" for i in range(12_000)) + "/></metadata>"),
        check=lambda d: d.metadata[0].count('="v"') == 12_000),
    "devices: 1,600 disks": Shape(
        _domain("<devices>" + _disks(1_600) + "</devices>"),
        check=lambda d: len(d.devices.disks) == 1_600),
    "devices: 1,200 interfaces": Shape(
        _domain("<devices>" + _interfaces(1_200) + "</devices>"),
        check=lambda d: len({i.mac.address for i in d.devices.interfaces}) == 1_200),
    "devices: 4,900 inputs": Shape(
        _domain("<devices>" + "<input type='tablet' bus='usb'/>" * _N + "</devices>"),
        check=lambda d: len(d.devices.inputs) == _N),
    "devices: 4,900 unknown elements": Shape(
        _domain("<devices>" + "<smartcard mode='host'/>" * _N + "</devices>"),
        OK, (S, "Extra element smartcard in interleave"),
        check=lambda d: d.devices.to_xml("devices") == "<devices/>\n"),
    "devices: 4,900 unknown namespaced elements": Shape(
        _domain("<devices xmlns:x='urn:x'>" + "<x:gizmo/>" * _N + "</devices>"),
        OK, (S, "Extra element gizmo")),
    "devices: 300 attributes on a disk": Shape(
        _domain("<devices><disk type='file' "
                + " ".join(f"a{i}='v'" for i in range(300))
                + "><target dev='vda'/></disk></devices>"),
        (X, "has 301 attributes, the limit is 256"), (X, "has 301 attributes")),
    "cpu: 4,900 features": Shape(
        _domain("<cpu mode='custom'>" + "".join(f"<feature name='f{i}' policy='require'/>"
                                                 for i in range(_N)) + "</cpu>"),
        check=lambda d: len(d.cpu.features) == _N),
    "4 MiB attribute value (a path)": Shape(
        _domain(f"<devices><disk type='file'><source file='/{'p' * _BIG}'/>"
                "<target dev='vda'/></disk></devices>"),
        check=lambda d: len(d.devices.disks[0].source.file) == _BIG + 1),
    "4 MiB attribute value (an unknown type)": Shape(
        _domain(f"<devices><disk type='{'f' * _BIG}'><target dev='vda'/></disk></devices>"),
        (X, "unknown value 'ffff"), (S, "Invalid value 'ffff")),
    "4 MiB domain type": Shape(
        _domain("", _HEAD.replace("type='test'", f"type='{'t' * _BIG}'")),
        (X, "unknown value 'tttt"), (S, "Invalid value 'tttt")),
    "4 MiB name": Shape(
        _domain("", _HEAD.replace("<name>big</name>", f"<name>{'n' * _BIG}</name>")),
        check=lambda d: len(d.name) == _BIG),
    "4 MiB name with a slash": Shape(
        _domain("", _HEAD.replace("<name>big</name>", f"<name>{'n' * _BIG}/</name>")),
        (X, "cannot contain '/'"), (S, "Invalid value 'nnnn")),
    "4 MiB text (description)": Shape(
        _domain(f"<description>{'d' * _BIG}</description>"),
        check=lambda d: len(d.description) == _BIG),
    "4 MiB uuid": Shape(
        _domain(f"<uuid>{'0' * _BIG}</uuid>"),
        (X, "expected a UUID"), (S, "Invalid value '0000")),
    "4 MiB memory size": Shape(
        _domain("", _HEAD.replace("1048576", "1" * _BIG)),
        (X, "value too large"), (X, "value too large")),
    "49,000 character references": Shape(
        _domain(f"<description>{'&amp;x' * 49_000}</description>"),
        check=lambda d: d.description == "&x" * 49_000),
    "800,000 character references": Shape(
        _domain(f"<description>{'&amp;' * 800_000}</description>"),
        (X, "too many character or entity references"),
        (X, "too many character or entity references")),
    "4 MiB of blanks between elements": Shape(
        _domain(" " * _BIG + "<on_reboot>restart</on_reboot>" + " " * 64),
        check=lambda d: d.on_reboot == "restart"),
    "too many elements": Shape(
        _domain("<devices>" + "<input type='tablet'/>" * 5_000 + "</devices>"),
        (X, "too many elements"), (X, "too many elements")),
    "too many attributes": Shape(
        _domain("<metadata>" + "<m:e xmlns:m='urn:x' a='1' b='2' c='3'/>" * 3_500
                + "</metadata>"),
        (X, "too many attributes"), (X, "too many attributes")),
    "network: 2,000 DHCP hosts": Shape(
        _dhcp_hosts(2_000), kind="network",
        check=lambda n: len(n.ips[0].dhcp.hosts) == 2_000),
}


def load(shape: Shape, validate: bool) -> Any:
    """Parse a shape as ``define_xml`` does (the document kind's ``from_xml``)."""
    cls = Network if shape.kind == "network" else Domain
    return cls.from_xml(shape.doc, validate=validate)  # type: ignore[attr-defined]


@pytest.mark.parametrize("validate", [False, True], ids=["plain", "validate"])
@pytest.mark.parametrize("name", list(SHAPES))
def test_large_shape(name: str, validate: bool) -> None:
    shape = SHAPES[name]
    assert len(shape.doc.encode()) <= MAX_SIZE, "every shape is within the size cap"
    expected = shape.validated if validate else shape.plain
    if expected is OK:
        model = load(shape, validate)
        if shape.check is not None:
            assert shape.check(model), name
        return
    code, text = expected
    with pytest.raises(VirtError) as info:
        load(shape, validate)
    assert info.value.code == code, info.value.message
    assert text in info.value.message, info.value.message
    assert len(info.value.message) < 1000, "the message names the problem, not the document"


def test_many_unknown_elements_are_named_briefly() -> None:
    doc = SHAPES["devices: 4,900 unknown elements"].doc
    _, ignored = Domain.parse(doc)
    assert len(ignored) == _N
    assert ignored[:2] == ["/domain/devices/smartcard[1]", "/domain/devices/smartcard[2]"]
    assert ignored[-1] == f"/domain/devices/smartcard[{_N}]"
    with pytest.raises(VirtError) as info:
        Domain.from_xml(doc, strict=True)
    assert info.value.code == ErrorCode.XML_ERROR
    assert "/domain/devices/smartcard[20]" in info.value.message
    assert f"and {_N - 20} more" in info.value.message
    assert len(info.value.message) < 2000


def test_ignored_xpaths_are_lxmls() -> None:
    """Unmodelled items are named by the XPath lxml's getpath gives (computed in one pass)."""
    from virtkit.xml._model import xpaths

    doc = (
        "<domain xmlns:p='urn:p' xmlns:q='urn:q'><a/><a/><b/><p:a/><p:a/><q:a/>"
        "<c xmlns='urn:d'><x/><x/></c><c xmlns='urn:e'/><a><a/><b/><b/><p:x/></a>"
        "<d><e xmlns='urn:f'/></d><p:a><q:a/></p:a></domain>"
    )
    root = parse_document(doc, "domain")
    els = list(root.iter())
    tree = root.getroottree()
    assert xpaths([(e, None) for e in els]) == [tree.getpath(e) for e in els]
    assert xpaths([(els[1], "k")]) == [tree.getpath(els[1]) + "/@k"]


def test_host_documents_have_a_larger_element_budget() -> None:
    """Capabilities list every CPU of a large host: they may hold ten times the elements of a
    definition, and no more."""
    from virtkit.xml import capabilities as cx

    def caps(n: int) -> str:
        cpus = tuple(cx.CellCpu(id=i) for i in range(n))
        cell = cx.Cell(id=0, cpus=cx.CellCpus(num=n, cpus=cpus))
        host = cx.HostCaps(cpu=cx.HostCpu(arch="x86_64"),
                           topology=cx.HostTopology(cells=cx.Cells(num=1, cells=(cell,))))
        return cx.Capabilities(host=host).to_xml()

    big = caps(20_000)
    parsed = cx.Capabilities.from_xml(big)
    assert parsed.host.topology.cells.cells[0].cpus.num == 20_000  # type: ignore[union-attr]
    with pytest.raises(VirtError, match="too many elements"):
        parse_document(big, "domain")  # a definition of that size is refused
    with pytest.raises(VirtError, match="too many elements: about 55"):
        cx.Capabilities.from_xml(caps(55_000))


def test_metadata_children_carry_the_namespaces_they_use() -> None:
    """Each kept child declares what it uses, and only that, wherever it was declared."""
    doc = (
        "<domain type='kvm' xmlns:u='urn:unused' xmlns:p='urn:p'><name>x</name>"
        "<memory>1024</memory><os><type>hvm</type></os><metadata xmlns:q='urn:q'>"
        "<p:x a='1'><q:y/></p:x><z xmlns='urn:d'/><w/></metadata></domain>"
    )
    dom = Domain.from_xml(doc)
    assert dom.metadata == (
        '<p:x xmlns:p="urn:p" xmlns:q="urn:q" a="1"><q:y/></p:x>', '<z xmlns="urn:d"/>', "<w/>",
    )
    again = Domain.from_xml(dom.to_xml())
    assert again.metadata == dom.metadata
