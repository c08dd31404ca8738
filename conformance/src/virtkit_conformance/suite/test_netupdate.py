"""Network updates (group ``networks``): a DHCP host added to the persistent config and removed
again, a duplicate refused, the network left as it was."""

from __future__ import annotations

import random
from typing import ClassVar

import pytest

from virtkit.sdk.errors import ErrorCode as C

from ..kit import Kit, expect_error, remove_network
from .test_objects import NET_OPS, net_xml


class TestNetworkUpdate:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("networks"), pytest.mark.ops(*NET_OPS, "network_update")]

    def test_dhcp_host_add_and_delete(self, vk: Kit) -> None:
        name = vk.name("upd")
        third = random.randint(1, 250)
        net = vk.conn.network_define_xml(net_xml(name, third))
        vk.track(lambda: remove_network(net, vk.prefix))
        host = f"<host mac='52:54:00:12:34:56' ip='10.254.{third}.50'/>"
        net.update("add-last", "ip-dhcp-host", 0, host, 2)
        assert "52:54:00:12:34:56" in net.xml_desc(inactive=True)
        expect_error(C.OPERATION_INVALID, net.update, "add-last", "ip-dhcp-host", 0, host, 2)
        net.update("delete", "ip-dhcp-host", 0, "<host mac='52:54:00:12:34:56'/>", 2)
        assert "52:54:00:12:34:56" not in net.xml_desc(inactive=True)
