"""Network ports and host-interface transactions on the test driver."""

from __future__ import annotations

import pytest

import virtkit
from virtkit.sdk.errors import ErrorCode, VirtError

PORT = (
    "<networkport><owner><name>web1</name>"
    "<uuid>11111111-2222-3333-4444-555555555555</uuid></owner>"
    "<mac address='52:54:00:AA:BB:CC'/></networkport>"
)


@pytest.mark.hook("network_port_create_xml", "network_port_lookup_by_uuid", "network_list_ports",
                  "network_port_get_xml", "network_port_get_plug", "network_port_delete")
def test_port_lifecycle_on_the_default_network() -> None:
    conn = virtkit.open("test:///default")
    net = conn.network_lookup_by_name("default")
    port = net.port_create_xml(PORT)
    assert net.list_ports() == [port]
    assert net.port_lookup_by_uuid(port.uuid) == port
    plug = port.plug()
    assert (plug.plug_type, plug.bridge, plug.mac) == ("network", "virbr0", "52:54:00:aa:bb:cc")
    assert (plug.owner_name, plug.ref) == ("web1", port.ref)
    xml = port.xml_desc()
    assert "<name>web1</name>" in xml and "bridge=\"virbr0\"" in xml.replace("'", '"')
    port.delete()
    assert net.list_ports() == []
    with pytest.raises(VirtError) as info:
        port.xml_desc()
    assert info.value.code == ErrorCode.NO_NETWORK_PORT and port.uuid in info.value.message


def test_ports_need_an_active_network_and_go_when_it_stops() -> None:
    conn = virtkit.open("test:///default")
    net = conn.network_lookup_by_name("default")
    port = net.port_create_xml(PORT)
    with pytest.raises(VirtError) as info:
        net.port_create_xml(PORT.replace("<networkport>", f"<networkport><uuid>{port.uuid}</uuid>"))
    assert info.value.code == ErrorCode.NETWORK_PORT_EXIST
    net.destroy()
    assert net.list_ports() == []
    with pytest.raises(VirtError) as info:
        net.port_create_xml(PORT)
    assert info.value.code == ErrorCode.OPERATION_INVALID and "'default'" in info.value.message


@pytest.mark.parametrize("xml, words", [
    ("<networkport/>", "<owner><name> is required"),
    ("<networkport><owner><name>a</name></owner></networkport>", "<mac address"),
    ("<networkport><owner><name>a</name></owner><mac address='01:00:00:00:00:01'/>"
     "</networkport>", "multicast"),
    ("<network/>", "expected <networkport>"),
])
def test_bad_port_xml_is_refused(xml: str, words: str) -> None:
    net = virtkit.open("test:///default").network_lookup_by_name("default")
    with pytest.raises(VirtError) as info:
        net.port_create_xml(xml)
    assert info.value.code == ErrorCode.XML_ERROR and words in info.value.message
    assert net.list_ports() == []


def test_a_read_only_connection_may_list_ports_but_not_create_them() -> None:
    virtkit.open("test:///default").network_lookup_by_name("default").port_create_xml(PORT)
    ro = virtkit.open("test:///default", read_only=True)
    net = ro.network_lookup_by_name("default")
    assert len(net.list_ports()) == 1
    with pytest.raises(VirtError) as info:
        net.port_create_xml(PORT)
    assert info.value.code == ErrorCode.OPERATION_DENIED


@pytest.mark.hook("interface_change_begin", "interface_change_commit", "interface_change_rollback")
def test_interface_transactions() -> None:
    conn = virtkit.open("test:///default")
    with pytest.raises(VirtError) as info:
        conn.interface_change_commit()
    assert info.value.code == ErrorCode.OPERATION_INVALID
    conn.interface_change_begin()
    with pytest.raises(VirtError):
        conn.interface_change_begin()
    eth1 = conn.interface_lookup_by_name("eth1")
    eth1.destroy()
    eth1.undefine()
    assert [i.name for i in conn.list_interfaces()] == []
    conn.interface_change_rollback()
    assert [i.name for i in conn.list_interfaces()] == ["eth1"]
    assert conn.interface_lookup_by_name("eth1").is_active()
    conn.interface_change_begin()
    eth1.destroy()
    conn.interface_change_commit()
    assert not conn.interface_lookup_by_name("eth1").is_active()
    with pytest.raises(VirtError):
        conn.interface_change_rollback()
