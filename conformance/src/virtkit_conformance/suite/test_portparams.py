"""Network port bandwidth parameters (group ``networks``)."""

from __future__ import annotations

import random
from typing import ClassVar

import pytest

from ..kit import Kit, remove_network
from .test_objects import NET_OPS, net_xml


class TestNetworkPortParameters:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("networks"),
        pytest.mark.ops(*NET_OPS, "network_port_create_xml", "network_port_delete",
                        "network_port_get_parameters", "network_port_set_parameters")]

    def test_bandwidth_round_trip(self, vk: Kit) -> None:
        name = vk.name("pp")
        net = vk.conn.network_define_xml(net_xml(name, random.randint(1, 250)))
        vk.track(lambda: remove_network(net, vk.prefix))
        net.create()
        port = net.port_create_xml(
            f"<networkport><owner><name>{vk.name('o')}</name>"
            f"<uuid>{vk.new_uuid()}</uuid></owner>"
            "<mac address='52:54:00:77:00:01'/></networkport>")
        try:
            port.set_parameters({"inbound.average": 1000, "outbound.average": 2000})
            params = port.parameters()
            assert params["inbound.average"] == 1000 and params["outbound.average"] == 2000
        finally:
            port.delete()
