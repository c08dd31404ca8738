"""Network updates (net-update) of the test driver through the facade, every section; results
checked with libvirt's network schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from vktest import error_code as code

import virtkit
from virtkit.sdk.errors import ErrorCode

from .xml.xml_oracle import assert_libvirt_valid

LIVE, CONFIG = 1, 2
ADD_LAST, ADD_FIRST, DELETE, MODIFY = 3, 4, 2, 1


@pytest.fixture
def net() -> Iterator[virtkit.Network]:
    from virtkit.drivers.test.node import reset_default_node

    reset_default_node()
    conn = virtkit.open("test:///default")
    yield conn.network_lookup_by_name("default")
    conn.close()
    reset_default_node()




@pytest.mark.hook("network_update")
def test_dhcp_hosts_and_ranges_live_and_config(net: virtkit.Network) -> None:
    host = "<host mac='00:11:22:33:44:55' name='web' ip='192.168.122.10'/>"
    net.update(ADD_LAST, 4, -1, host, LIVE | CONFIG)
    for inactive in (False, True):
        xml = net.xml_desc(inactive=inactive)
        assert_libvirt_valid("network", xml)
        assert host in xml
    # current = live on an active network
    net.update("modify", "ip-dhcp-host",
               0, "<host mac='00:11:22:33:44:55' name='web' ip='192.168.122.11'/>")
    assert "ip='192.168.122.11'" in net.xml_desc()
    assert "ip='192.168.122.10'" in net.xml_desc(inactive=True)
    net.update(ADD_FIRST, "ip-dhcp-range", 0,
               "<range start='192.168.122.100' end='192.168.122.110'/>", CONFIG)
    cfg = net.xml_desc(inactive=True)
    assert cfg.index("192.168.122.100") < cfg.index("192.168.122.2'")
    net.update(DELETE, "ip-dhcp-host", -1, "<host mac='00:11:22:33:44:55'/>", LIVE | CONFIG)
    assert "00:11:22:33:44:55" not in net.xml_desc() + net.xml_desc(inactive=True)


def test_dns_forward_portgroup_bridge(net: virtkit.Network) -> None:
    net.update("add-last", "dns-host", -1,
               "<host ip='192.168.122.5'><hostname>db</hostname></host>", CONFIG)
    net.update("add-last", "dns-txt", -1, "<txt name='ex' value='hello'/>", CONFIG)
    net.update("add-last", "dns-srv", -1,
               "<srv service='http' protocol='tcp' target='web' port='80'/>", CONFIG)
    net.update("add-last", "portgroup", -1, "<portgroup name='web'/>", CONFIG)
    net.update("modify", "bridge", -1, "<bridge name='virbr0' stp='off' delay='0'/>", CONFIG)
    xml = net.xml_desc(inactive=True)
    assert_libvirt_valid("network", xml)
    for part in ("<hostname>db</hostname>", "<txt name='ex' value='hello'/>",
                 "service='http'", "<portgroup name='web'/>", "stp='off'"):
        assert part in xml, part
    net.update("delete", "dns-txt", -1, "<txt name='ex'/>", CONFIG)
    assert "<txt" not in net.xml_desc(inactive=True)


def test_refusals_change_nothing(net: virtkit.Network) -> None:
    before = (net.xml_desc(), net.xml_desc(inactive=True))
    cases = [
        (("delete", "ip-dhcp-host", -1, "<host mac='52:54:00:00:00:01'/>"),
         ErrorCode.OPERATION_INVALID),
        (("add-last", "ip-dhcp-range", 0,
          "<range start='192.168.122.2' end='192.168.122.254'/>"), ErrorCode.OPERATION_INVALID),
        (("add-last", "ip-dhcp-host", 5, "<host mac='52:54:00:00:00:01'/>"),
         ErrorCode.OPERATION_INVALID),
        (("modify", "ip", -1, "<ip address='10.0.0.1'/>"), ErrorCode.CONFIG_UNSUPPORTED),
        (("add-last", "bridge", -1, "<bridge name='x'/>"), ErrorCode.CONFIG_UNSUPPORTED),
        (("add-last", "ip-dhcp-host", -1, "<range start='1' end='2'/>"), ErrorCode.XML_ERROR),
        (("add-last", "ip-dhcp-host", -1, "<host mac='not-a-mac'/>"), ErrorCode.XML_ERROR),
        (("frob", "dns-host", -1, "<host/>"), ErrorCode.INVALID_ARG),
        (("add-last", "warp", -1, "<host/>"), ErrorCode.INVALID_ARG),
    ]
    for args, want in cases:
        assert code(net.update, *args) == want, args
    assert (net.xml_desc(), net.xml_desc(inactive=True)) == before
    net.destroy()
    assert code(net.update, "add-last", "portgroup", -1, "<portgroup name='x'/>",
                LIVE) == ErrorCode.OPERATION_INVALID
    ro = virtkit.open("test:///default", read_only=True)
    try:
        assert code(ro.network_lookup_by_name("default").update, "add-last", "portgroup", -1,
                    "<portgroup name='x'/>") == ErrorCode.OPERATION_DENIED
    finally:
        ro.close()
