"""Host interfaces (iface-*) through netlink, in a namespace of the test's own."""

from __future__ import annotations

import pytest

from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.sdk.records import InterfaceRef

BRIDGE = """
<interface type='bridge' name='br9'>
  <mtu size='1400'/>
  <protocol family='ipv4'><ip address='192.0.2.9' prefix='24'/></protocol>
  <bridge stp='off'>
    <interface type='ethernet' name='veth0'/>
    {extra}
  </bridge>
</interface>
"""


def veth(ns, a: str = "veth0", b: str = "veth1") -> None:
    ns.run("ip", "link", "add", a, "type", "veth", "peer", "name", b)


@pytest.mark.hook("interface_list", "interface_lookup_by_name", "interface_lookup_by_mac",
                  "interface_get_xml", "interface_get_summary")
def test_list_shows_links_with_mac_state_and_addresses(host) -> None:
    ns, svc = host
    veth(ns)
    ns.run("ip", "link", "set", "veth0", "address", "52:54:00:9a:00:01", "up")
    ns.run("ip", "addr", "add", "198.51.100.4/24", "dev", "veth0")
    listed = {s.ref.name: s for s in svc.call("interface_list")}
    assert listed["lo"].active and listed["veth0"].active and not listed["veth1"].active
    assert listed["veth0"].ref == InterfaceRef("veth0", "52:54:00:9a:00:01")
    assert svc.call("interface_lookup_by_mac", mac="52:54:00:9A:00:01").name == "veth0"
    ref = svc.call("interface_lookup_by_name", name="veth0")
    assert svc.call("interface_get_summary", iface=ref) == listed["veth0"]
    live = svc.call("interface_get_xml", iface=ref, inactive=False)
    assert "type=\"ethernet\"" in live and "198.51.100.4" in live and "52:54:00:9a:00:01" in live
    with pytest.raises(VirtError) as err:
        svc.call("interface_lookup_by_name", name="nope0")
    assert err.value.code == ErrorCode.NO_INTERFACE and "'nope0'" in err.value.message


@pytest.mark.hook("interface_define_xml", "interface_create", "interface_destroy",
                  "interface_undefine")
def test_a_bridge_is_built_with_its_port_and_address_and_removed_exactly(host) -> None:
    ns, svc = host
    veth(ns)
    before = ns.links()
    ref = svc.call("interface_define_xml", xml=BRIDGE.format(extra=""))
    assert ref.name == "br9"
    assert svc.call("interface_create", iface=ref) is True
    link = ns.run("ip", "-d", "link", "show", "br9")
    assert "mtu 1400" in link and "stp_state 0" in link
    assert "master br9" in ns.run("ip", "link", "show", "veth0")
    assert "192.0.2.9/24" in ns.run("ip", "addr", "show", "br9")
    live = svc.call("interface_get_xml", iface=ref, inactive=False)
    assert "<bridge>" in live and "veth0" in live
    with pytest.raises(VirtError) as err:
        svc.call("interface_undefine", iface=ref)
    assert err.value.code == ErrorCode.OPERATION_INVALID and "'br9'" in err.value.message
    assert svc.call("interface_destroy", iface=ref) is True
    assert ns.links() == before
    assert svc.call("interface_undefine", iface=ref) is True
    assert "br9" not in {s.ref.name for s in svc.call("interface_list")}


@pytest.mark.hook("interface_create")
def test_a_failed_start_is_rolled_back(host) -> None:
    ns, svc = host
    veth(ns)
    before = ns.links()
    ref = svc.call("interface_define_xml",
                   xml=BRIDGE.format(extra="<interface type='ethernet' name='missing0'/>"))
    with pytest.raises(VirtError) as err:
        svc.call("interface_create", iface=ref)
    assert "missing0" in err.value.message
    # The bridge made and the port enslaved before the failure are undone.
    assert ns.links() == before


@pytest.mark.parametrize("xml,kind", [
    ("<interface type='vlan' name='veth0.5'><vlan tag='5'><interface name='veth0'/></vlan>"
     "</interface>", "vlan"),
    ("<interface type='bond' name='bond7'><bond mode='active-backup'>"
     "<interface type='ethernet' name='veth0'/></bond></interface>", "bond"),
])
@pytest.mark.hook("interface_create", "interface_destroy")
def test_vlans_and_bonds_are_made_or_refused_without_leftovers(host, xml: str, kind: str) -> None:
    ns, svc = host
    veth(ns)
    before = ns.links()
    ref = svc.call("interface_define_xml", xml=xml)
    try:
        svc.call("interface_create", iface=ref)
    except VirtError as exc:
        # A kernel without 8021q or bonding (as on some CI machines) refuses: clearly, and
        # nothing is left behind.
        assert f"cannot create {kind} interface '{ref.name}'" in exc.message
        assert ns.links() == before
        return
    assert kind in ns.run("ip", "-d", "link", "show", ref.name)
    svc.call("interface_destroy", iface=ref)
    assert ns.links() == before


@pytest.mark.hook("interface_change_begin", "interface_change_commit",
                  "interface_change_rollback")
def test_begin_commit_and_rollback(host) -> None:
    ns, svc = host
    veth(ns)
    with pytest.raises(VirtError) as err:
        svc.call("interface_change_commit")
    assert err.value.code == ErrorCode.OPERATION_INVALID
    before = ns.links()
    svc.call("interface_change_begin")
    with pytest.raises(VirtError):
        svc.call("interface_change_begin")
    ref = svc.call("interface_define_xml", xml=BRIDGE.format(extra=""))
    svc.call("interface_create", iface=ref)
    assert svc.call("interface_change_rollback") is True
    # Back to the snapshot: the bridge is down and gone, its definition too.
    assert ns.links() == before
    assert "br9" not in {s.ref.name for s in svc.call("interface_list")}
    svc.call("interface_change_begin")
    ref = svc.call("interface_define_xml", xml=BRIDGE.format(extra=""))
    assert svc.call("interface_change_commit") is True
    assert "br9" in {s.ref.name for s in svc.call("interface_list")}
    with pytest.raises(VirtError):
        svc.call("interface_change_rollback")


@pytest.mark.hook("interface_define_xml")
def test_interface_names_are_checked(host) -> None:
    _ns, svc = host
    with pytest.raises(VirtError) as err:
        svc.call("interface_define_xml",
                 xml="<interface type='bridge' name='bridge-name-too-long'><bridge/></interface>")
    assert "bridge-name-too-long" in err.value.message


@pytest.mark.parametrize("xml,what", [
    ("<interface type='ethernet' name='veth0'><protocol family='ipv4'>"
     "<ip address='300.1.1.1' prefix='24'/></protocol></interface>", "300.1.1.1"),
    ("<interface type='ethernet' name='veth0'><protocol family='ipv4'>"
     "<ip address='10.0.0.1' prefix='40'/></protocol></interface>", "prefix 40"),
    ("<interface type='vlan' name='veth0.5000'><vlan tag='5000'><interface name='veth0'/>"
     "</vlan></interface>", "5000"),
])
@pytest.mark.hook("interface_define_xml")
def test_bad_addresses_and_vlan_tags_are_refused_at_define(host, xml: str, what: str) -> None:
    _ns, svc = host
    with pytest.raises(VirtError) as err:
        svc.call("interface_define_xml", xml=xml)
    assert err.value.code == ErrorCode.XML_ERROR and what in err.value.message


@pytest.mark.hook("interface_create", "interface_destroy")
def test_an_existing_bridge_is_brought_up_and_down_but_never_deleted(host) -> None:
    ns, svc = host
    veth(ns)
    ns.run("ip", "link", "add", "br9", "type", "bridge")
    before = ns.run("ip", "-br", "link")  # name, state, MAC, flags (the kernel recomputes the
    # bridge id and offload sizes of a bridge that had a port; those are not settings)
    ref = svc.call("interface_define_xml", xml=BRIDGE.format(extra=""))
    svc.call("interface_create", iface=ref)
    assert "master br9" in ns.run("ip", "link", "show", "veth0")
    assert "192.0.2.9/24" in ns.run("ip", "addr", "show", "br9")
    assert "mtu 1400" in ns.run("ip", "link", "show", "br9")
    svc.call("interface_destroy", iface=ref)
    assert ns.run("ip", "-br", "link") == before
    assert "mtu 1500" in ns.run("ip", "link", "show", "br9")
    assert "192.0.2.9" not in ns.run("ip", "addr", "show", "br9")
    assert "master" not in ns.run("ip", "link", "show", "veth0")
