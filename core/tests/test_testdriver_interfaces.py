"""Host interfaces of the test driver through the Python API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import virtkit
from virtkit import ErrorCode, VirtError
from virtkit.api.connection import Connection

NODE_FILE = Path(__file__).parent / "data" / "nodes" / "objects.xml"

ETH2 = """<interface type='ethernet' name='eth2'>
  <start mode='onboot'/>
  <mac address='52:54:00:12:34:56'/>
  <protocol family='ipv4'>
    <dhcp/>
  </protocol>
</interface>"""


@pytest.fixture
def conn() -> Iterator[Connection]:
    c = virtkit.open("test:///default")
    yield c
    c.close()


def _err(exc: pytest.ExceptionInfo[VirtError], code: ErrorCode, *words: str) -> None:
    assert exc.value.code == code, exc.value
    for w in words:
        assert w in exc.value.message, exc.value.message


@pytest.mark.hook("interface_list", "interface_lookup_by_name", "interface_get_xml")
def test_eth1_is_preloaded(conn: Connection) -> None:
    assert [i.name for i in conn.list_interfaces()] == ["eth1"]
    eth1 = conn.interface_lookup_by_name("eth1")
    assert eth1.mac == "aa:bb:cc:dd:ee:ff"
    assert eth1.is_active()
    xml = eth1.xml_desc()
    assert "<interface type='ethernet' name='eth1'>" in xml
    assert "<mac address='aa:bb:cc:dd:ee:ff'/>" in xml
    assert eth1.xml_desc(inactive=True) == xml


@pytest.mark.hook("interface_lookup_by_name", "interface_lookup_by_mac")
def test_lookups_and_their_errors(conn: Connection) -> None:
    assert conn.interface_lookup_by_mac("AA:BB:CC:DD:EE:FF").name == "eth1"
    with pytest.raises(VirtError) as exc:
        conn.interface_lookup_by_name("eth7")
    _err(exc, ErrorCode.NO_INTERFACE, "Interface not found: no interface with matching name 'eth7'")
    with pytest.raises(VirtError) as exc:
        conn.interface_lookup_by_mac("52:54:00:00:00:01")
    _err(exc, ErrorCode.NO_INTERFACE, "no interface with matching MAC '52:54:00:00:00:01'")
    with pytest.raises(VirtError) as exc:
        conn.interface_lookup_by_mac("not-a-mac")
    _err(exc, ErrorCode.INVALID_ARG, "not-a-mac")


@pytest.mark.hook("interface_define_xml", "interface_create", "interface_destroy",
                  "interface_undefine", "interface_list")
def test_define_start_stop_undefine(conn: Connection) -> None:
    eth2 = conn.interface_define_xml(ETH2)
    assert eth2.name == "eth2" and eth2.mac == "52:54:00:12:34:56"
    assert not eth2.is_active()
    assert [i.name for i in conn.list_interfaces(active=False)] == ["eth2"]
    eth2.create()
    assert eth2.is_active()
    assert [i.name for i in conn.list_interfaces(active=True)] == ["eth1", "eth2"]
    with pytest.raises(VirtError) as exc:
        eth2.create()
    _err(exc, ErrorCode.OPERATION_INVALID, "interface 'eth2' is already active")
    with pytest.raises(VirtError) as exc:
        eth2.undefine()
    _err(exc, ErrorCode.OPERATION_INVALID, "interface 'eth2' is active")
    eth2.destroy()
    with pytest.raises(VirtError) as exc:
        eth2.destroy()
    _err(exc, ErrorCode.OPERATION_INVALID, "interface 'eth2' is not active")
    eth2.undefine()
    with pytest.raises(VirtError) as exc:
        eth2.is_active()
    _err(exc, ErrorCode.NO_INTERFACE, "'eth2'")
    with pytest.raises(VirtError) as exc:
        eth2.create()
    _err(exc, ErrorCode.NO_INTERFACE, "'eth2'")


@pytest.mark.hook("interface_define_xml", "interface_get_xml")
def test_redefine_and_mac_clash(conn: Connection) -> None:
    conn.interface_define_xml(ETH2)
    eth2 = conn.interface_define_xml(ETH2.replace("onboot", "none"))
    assert "<start mode='none'/>" in eth2.xml_desc()
    clash = ETH2.replace("eth2", "eth3").replace("52:54:00:12:34:56", "aa:bb:cc:dd:ee:ff")
    with pytest.raises(VirtError) as exc:
        conn.interface_define_xml(clash)
    _err(exc, ErrorCode.OPERATION_FAILED, "interface 'eth1'", "aa:bb:cc:dd:ee:ff")
    for bad in ("<interface type='ethernet'/>", "<interface", "<network><name>x</name></network>",
                "<interface type='ethernet' name='a/b'/>"):
        with pytest.raises(VirtError) as exc:
            conn.interface_define_xml(bad)
        assert exc.value.code == ErrorCode.XML_ERROR, exc.value
    assert [i.name for i in conn.list_interfaces()] == ["eth1", "eth2"]


@pytest.mark.hook("interface_define_xml", "interface_create", "interface_destroy",
                  "interface_undefine", "interface_list", "interface_get_xml",
                  "interface_lookup_by_mac")
def test_read_only_connection_refuses_changes() -> None:
    ro = virtkit.open("test:///default", read_only=True)
    eth1 = ro.interface_lookup_by_mac("aa:bb:cc:dd:ee:ff")
    for attempt in (lambda: ro.interface_define_xml(ETH2), eth1.create, eth1.destroy,
                    eth1.undefine):
        with pytest.raises(VirtError) as exc:
            attempt()
        _err(exc, ErrorCode.OPERATION_DENIED, "read only")
    assert eth1.is_active() and [i.name for i in ro.list_interfaces()] == ["eth1"]
    assert "eth1" in eth1.xml_desc()
    ro.close()


@pytest.mark.hook("interface_list")
def test_node_file_interfaces() -> None:
    c = virtkit.open(f"test://{NODE_FILE}")
    state = {i.name: i.is_active() for i in c.list_interfaces()}
    assert state == {"eth0": True, "eth9": False}
    assert c.interface_lookup_by_mac("52:54:00:aa:00:09").name == "eth9"
    c.close()


@pytest.mark.hook("interface_list")
def test_bad_node_file_interface(tmp_path: Path) -> None:
    path = tmp_path / "node.xml"
    path.write_text("<node><interface type='ethernet' name='e0'/>"
                    "<interface type='ethernet' name='e0'/></node>")
    with pytest.raises(VirtError) as exc:
        virtkit.open(f"test://{path}")
    _err(exc, ErrorCode.NO_CONNECT, str(path), "interface 'e0' appears twice")
