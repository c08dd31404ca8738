"""The service registered by the core's dispatcher, as a connection registers it: hook names and
signatures validated, arguments and results checked against the specs."""

from __future__ import annotations

import pytest

NET = """<network><name>disp</name><forward mode='nat'/><bridge name='vkd'/>
<ip address='10.90.0.1' prefix='24'><dhcp><range start='10.90.0.10' end='10.90.0.20'/></dhcp>
</ip></network>"""


@pytest.mark.hook("network_define_xml", "network_create", "network_list",
                  "network_port_create_xml", "network_port_get_plug")
def test_the_service_through_the_dispatcher(netns, agents) -> None:
    ns = netns()
    svc = agents(ns, "--dispatcher")
    net = svc.call("network_define_xml", xml=NET)
    assert svc.call("network_create", net=net) is True
    (summary,) = svc.call("network_list")
    assert summary.active and summary.bridge == "vkd"
    port = svc.call("network_port_create_xml", net=net, xml=(
        "<networkport><owner><name>vm</name></owner><mac address='52:54:00:01:02:03'/>"
        "</networkport>"))
    assert svc.call("network_port_get_plug", port=port).bridge == "vkd"
    assert svc.call("network_destroy", net=net) is True
    assert "vkd" not in ns.run("ip", "link")
