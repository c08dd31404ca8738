"""Network filters and bindings of the test driver through the facade; the documents it writes
are checked with libvirt's own RelaxNG schemas (nwfilter.rng, nwfilterbinding.rng)."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

import virtkit
from virtkit.sdk.errors import ErrorCode, VirtError

SCHEMAS = Path("/usr/share/libvirt/schemas")


def libvirt_valid(schema: str, text: str) -> None:
    rng = etree.RelaxNG(etree.parse(str(SCHEMAS / schema)))
    assert rng.validate(etree.fromstring(text.encode())), f"{schema} rejects:\n{text}\n" \
        f"{rng.error_log}"


def filter_xml(name: str, uuid: str = "", ref: str = "", chain: str = "ipv4") -> str:
    u = f"<uuid>{uuid}</uuid>" if uuid else ""
    r = f"<filterref filter='{ref}'><parameter name='IP' value='10.0.0.1'/></filterref>" \
        if ref else ""
    return (f"<filter name='{name}' chain='{chain}' priority='-700'>{u}{r}"
            f"<rule action='drop' direction='out' priority='500'>"
            f"<ip match='no' srcipaddr='$IP'/></rule></filter>")


def binding_xml(port: str, filt: str) -> str:
    return (f"<filterbinding><owner><name>test</name>"
            f"<uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid></owner>"
            f"<portdev name='{port}'/><mac address='AA:BB:CC:DD:EE:FF'/>"
            f"<filterref filter='{filt}'><parameter name='IP' value='192.168.122.3'/>"
            f"</filterref></filterbinding>")


@pytest.fixture
def conn() -> Iterator[virtkit.Connection]:
    c = virtkit.open("test:///default")
    yield c
    for b in c.list_all_nwfilter_bindings():
        b.delete()
    for _ in range(3):  # referenced filters go after those referencing them
        for f in c.list_all_nwfilters():
            try:
                f.undefine()
            except VirtError:
                pass
    c.close()


@pytest.mark.hook("nwfilter_define_xml", "nwfilter_list", "nwfilter_lookup_by_name",
                  "nwfilter_lookup_by_uuid", "nwfilter_get_xml", "nwfilter_undefine")
def test_define_lookup_list_undefine(conn: virtkit.Connection) -> None:
    uuid = str(uuidlib.uuid4())
    f = conn.nwfilter_define_xml(filter_xml("no-ip-spoofing", uuid.upper()))
    assert (f.name, f.uuid) == ("no-ip-spoofing", uuid)
    assert conn.nwfilter_lookup_by_name("no-ip-spoofing") == f
    assert conn.nwfilter_lookup_by_uuid_string(uuid) == f
    assert conn.nwfilter_lookup_by_uuid(uuidlib.UUID(uuid).bytes) == f
    assert conn.list_nwfilters() == ["no-ip-spoofing"] and conn.num_of_nwfilters() == 1
    xml = f.xml_desc()
    libvirt_valid("nwfilter.rng", xml)
    assert f"<uuid>{uuid}</uuid>" in xml and "srcipaddr='$IP'" in xml
    assert xml.startswith("<filter name='no-ip-spoofing' chain='ipv4' priority='-700'>")
    # redefinition keeps the uuid and replaces the rules
    again = conn.nwfilter_define_xml(filter_xml("no-ip-spoofing", uuid, chain="root"))
    assert again == f and "chain='root'" in f.xml_desc()
    f.undefine()
    for call in (lambda: conn.nwfilter_lookup_by_name("no-ip-spoofing"),
                 lambda: conn.nwfilter_lookup_by_uuid(uuid), f.xml_desc, f.undefine):
        with pytest.raises(VirtError) as exc:
            call()
        assert exc.value.code == ErrorCode.NO_NWFILTER


def test_bad_definitions_change_nothing(conn: virtkit.Connection) -> None:
    conn.nwfilter_define_xml(filter_xml("a", ref="b"))
    b = conn.nwfilter_define_xml(filter_xml("b"))
    before = conn.nwfilter_lookup_by_name("a").xml_desc()
    with pytest.raises(VirtError) as exc:  # b -> a -> b
        conn.nwfilter_define_xml(filter_xml("b", b.uuid, ref="a"))
    assert exc.value.code == ErrorCode.INVALID_NWFILTER and "b -> a -> b" in exc.value.message
    with pytest.raises(VirtError) as exc:  # another filter's uuid under a new name
        conn.nwfilter_define_xml(filter_xml("c", b.uuid))
    assert exc.value.code == ErrorCode.OPERATION_FAILED and "'b'" in exc.value.message
    with pytest.raises(VirtError) as exc:  # the name with another uuid
        conn.nwfilter_define_xml(filter_xml("b", str(uuidlib.uuid4())))
    assert exc.value.code == ErrorCode.OPERATION_FAILED
    for bad in ("<filter name='x' chain='warp'/>", "<filter name='a b'/>", "<rule/>",
                "<filter name='x'><rule action='drop'/></filter>",
                "<filter name='x'><filterref filter='x'/></filter>", "<filter"):
        with pytest.raises(VirtError) as exc:
            conn.nwfilter_define_xml(bad)
        assert exc.value.code == ErrorCode.XML_ERROR, bad
    with pytest.raises(VirtError) as exc:  # b is referenced by a
        b.undefine()
    assert exc.value.code == ErrorCode.OPERATION_INVALID and "a" in exc.value.message
    assert conn.list_nwfilters() == ["a", "b"]
    assert conn.nwfilter_lookup_by_name("a").xml_desc() == before


@pytest.mark.hook("nwfilter_binding_create_xml", "nwfilter_binding_list",
                  "nwfilter_binding_lookup_by_port_dev", "nwfilter_binding_get_xml",
                  "nwfilter_binding_delete")
def test_bindings(conn: virtkit.Connection) -> None:
    with pytest.raises(VirtError) as exc:
        conn.nwfilter_binding_create_xml(binding_xml("vnet0", "clean"))
    assert exc.value.code == ErrorCode.NO_NWFILTER
    clean = conn.nwfilter_define_xml(filter_xml("clean"))
    b = conn.nwfilter_binding_create_xml(binding_xml("vnet0", "clean"))
    assert (b.port_dev(), b.filter_name(), b.name) == ("vnet0", "clean", "vnet0")
    assert conn.nwfilter_binding_lookup_by_port_dev("vnet0") == b
    assert conn.list_all_nwfilter_bindings() == [b]
    xml = b.xml_desc()
    libvirt_valid("nwfilterbinding.rng", xml)
    assert "<portdev name='vnet0'/>" in xml and "<mac address='aa:bb:cc:dd:ee:ff'/>" in xml
    with pytest.raises(VirtError) as exc:
        conn.nwfilter_binding_create_xml(binding_xml("vnet0", "clean"))
    assert exc.value.code == ErrorCode.OPERATION_FAILED and "vnet0" in exc.value.message
    with pytest.raises(VirtError) as exc:
        clean.undefine()
    assert exc.value.code == ErrorCode.OPERATION_INVALID and "vnet0" in exc.value.message
    b.delete()
    for call in (lambda: conn.nwfilter_binding_lookup_by_port_dev("vnet0"), b.xml_desc,
                 b.delete):
        with pytest.raises(VirtError) as exc:
            call()
        assert exc.value.code == ErrorCode.NO_NWFILTER_BINDING
    clean.undefine()
    for bad in ("<filterbinding/>", binding_xml("vnet1", "c").replace("AA:BB", "ZZ:BB"),
                binding_xml("", "c")):
        with pytest.raises(VirtError) as exc:
            conn.nwfilter_binding_create_xml(bad)
        assert exc.value.code == ErrorCode.XML_ERROR


def test_read_only_connection_refuses_changes(conn: virtkit.Connection) -> None:
    f = conn.nwfilter_define_xml(filter_xml("ro"))
    ro = virtkit.open("test:///default", read_only=True)
    try:
        rf = ro.nwfilter_lookup_by_name("ro")
        assert rf.xml_desc() == f.xml_desc()
        for attempt in (lambda: ro.nwfilter_define_xml(filter_xml("x")), rf.undefine,
                        lambda: ro.nwfilter_binding_create_xml(binding_xml("v", "ro"))):
            with pytest.raises(VirtError) as exc:
                attempt()
            assert exc.value.code == ErrorCode.OPERATION_DENIED
    finally:
        ro.close()
