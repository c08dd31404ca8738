"""Network ports: what a hypervisor driver asks for and gets back as plain data."""

from __future__ import annotations

import json

import pytest

from virtkit.sdk.errors import VirtError
from virtkit.sdk.records import NetworkPortPlug, NetworkPortRef, from_plain, to_plain

NET = """
<network>
  <name>lan</name>
  <forward mode='nat'/>
  <bridge name='vklan'/>
  <mtu size='1450'/>
  <vlan><tag id='7'/></vlan>
  <portgroup name='eng' default='yes'><vlan><tag id='42'/></vlan></portgroup>
  <portgroup name='trunk'><vlan trunk='yes'><tag id='10'/><tag id='11' nativeMode='untagged'/>
  </vlan></portgroup>
  <portgroup name='plain'/>
  <ip address='10.70.0.1' prefix='24'/>
</network>
"""


def port_xml(mac: str, group: str = "", uuid: str = "") -> str:
    return (
        "<networkport>"
        + (f"<uuid>{uuid}</uuid>" if uuid else "")
        + "<owner><name>vm1</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid></owner>"
        + (f"<group>{group}</group>" if group else "")
        + f"<mac address='{mac}'/></networkport>"
    )


@pytest.mark.hook("network_port_create_xml", "network_port_lookup_by_uuid",
                  "network_list_ports", "network_port_delete", "network_port_get_xml",
                  "network_port_get_plug")
def test_ports_give_bridge_mtu_and_vlan_and_go_with_the_network(host) -> None:
    _ns, svc = host
    net = svc.call("network_define_xml", xml=NET)
    with pytest.raises(VirtError) as err:
        svc.call("network_port_create_xml", net=net, xml=port_xml("52:54:00:00:00:01"))
    assert "network 'lan' is not active" in err.value.message
    svc.call("network_create", net=net)

    default = svc.call("network_port_create_xml", net=net, xml=port_xml("52:54:00:00:00:01"))
    plug = svc.call("network_port_get_plug", port=default)
    assert plug == NetworkPortPlug(
        ref=default, plug_type="network", bridge="vklan", mac="52:54:00:00:00:01", mtu=1450,
        vlan_tags=[42], portgroup="eng", owner_name="vm1",
        owner_uuid="c7a5fdbd-edaf-9455-926a-d65c16db1809",
    )
    # The plug is plain data: it survives the remote form and JSON unchanged.
    assert from_plain(json.loads(json.dumps(to_plain(plug)))) == plug

    trunk = svc.call("network_port_create_xml", net=net,
                     xml=port_xml("52:54:00:00:00:02", "trunk"))
    t = svc.call("network_port_get_plug", port=trunk)
    assert (t.vlan_tags, t.vlan_trunk, t.vlan_native) == ([10, 11], True, 11)
    plain = svc.call("network_port_create_xml", net=net,
                     xml=port_xml("52:54:00:00:00:03", "plain"))
    assert svc.call("network_port_get_plug", port=plain).vlan_tags == [7]

    assert "connections='3'" in svc.call("network_get_xml", net=net, inactive=False)
    assert "connections" not in svc.call("network_get_xml", net=net, inactive=True)
    xml = svc.call("network_port_get_xml", port=trunk)
    assert "<group>trunk</group>" in xml and "bridge=\"vklan\"" in xml
    assert "52:54:00:00:00:02" in xml and "<tag id=\"11\" nativeMode=\"untagged\"/>" in xml

    assert sorted(p.uuid for p in svc.call("network_list_ports", net=net)) == sorted(
        p.uuid for p in (default, trunk, plain))
    assert svc.call("network_port_lookup_by_uuid", net=net, uuid=trunk.uuid) == trunk

    with pytest.raises(VirtError) as err:
        svc.call("network_port_create_xml", net=net, xml=port_xml("52:54:00:00:00:04", "ops"))
    assert "no portgroup 'ops'" in err.value.message and "'lan'" in err.value.message
    with pytest.raises(VirtError) as err:
        svc.call("network_port_create_xml", net=net,
                 xml=port_xml("52:54:00:00:00:05", uuid=trunk.uuid))
    assert err.value.code == 106 and trunk.uuid in err.value.message
    with pytest.raises(VirtError) as err:
        svc.call("network_port_create_xml", net=net, xml=port_xml("01:00:5e:00:00:01"))
    assert err.value.code == 27 and "multicast" in err.value.message

    assert svc.call("network_port_delete", port=trunk) is True
    with pytest.raises(VirtError) as err:
        svc.call("network_port_get_plug", port=trunk)
    assert err.value.code == 107 and trunk.uuid in err.value.message
    with pytest.raises(VirtError) as err:
        svc.call("network_port_lookup_by_uuid", net=net, uuid=trunk.uuid)
    assert err.value.code == 107

    # Ports live with the active network: a stop takes them.
    svc.call("network_destroy", net=net)
    assert svc.call("network_list_ports", net=net) == []
    with pytest.raises(VirtError) as err:
        svc.call("network_port_delete", port=NetworkPortRef(net, default.uuid))
    assert err.value.code == 107
