"""Network definition and lifecycle, forward modes and the safety checks, in a namespace."""

from __future__ import annotations

import pytest

from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.sdk.records import NetworkRef
from virtkit.sdk.states import NetworkEventLifecycle as Ev


def net_xml(name: str, mode: str | None = "nat", bridge: str | None = None,
            ip: str | None = "10.20.0.1", prefix: int = 24, extra: str = "") -> str:
    fwd = f"<forward mode='{mode}'/>" if mode else ""
    br = f"<bridge name='{bridge}'/>" if bridge else ""
    addr = f"<ip address='{ip}' prefix='{prefix}'/>" if ip else ""
    return f"<network><name>{name}</name>{fwd}{br}{extra}{addr}</network>"


def events(svc) -> list[tuple[str, int]]:
    return [(e.obj.name, e.event) for e in svc.call("events")]


@pytest.mark.hook("network_define_xml", "network_lookup_by_name", "network_lookup_by_uuid",
                  "network_get_xml", "network_get_autostart", "network_set_autostart",
                  "network_undefine", "network_list", "network_create", "network_destroy")
def test_define_start_stop_undefine_and_their_events(host) -> None:
    ns, svc = host
    ref = svc.call("network_define_xml", xml=net_xml("web", extra="<mtu size='1400'/>"))
    assert svc.call("network_lookup_by_name", name="web") == ref
    assert svc.call("network_lookup_by_uuid", uuid=ref.uuid) == ref
    (s,) = svc.call("network_list")
    assert (s.ref, s.active, s.persistent, s.autostart, s.bridge) == (ref, False, True, False,
                                                                       "virbr0")
    inactive = svc.call("network_get_xml", net=ref, inactive=True)
    assert "<bridge name='virbr0'" in inactive and ref.uuid in inactive
    assert svc.call("network_get_autostart", net=ref) is False
    svc.call("network_set_autostart", net=ref, autostart=True)
    assert svc.call("network_get_autostart", net=ref) is True

    svc.call("network_create", net=ref)
    assert "mtu 1400" in ns.run("ip", "link", "show", "virbr0")
    assert "10.20.0.1/24" in ns.run("ip", "addr", "show", "virbr0")
    with pytest.raises(VirtError) as err:
        svc.call("network_create", net=ref)
    assert err.value.code == ErrorCode.OPERATION_INVALID and "'web'" in err.value.message

    # Undefining an active network makes it transient; stopping it then makes it vanish.
    svc.call("network_undefine", net=ref)
    (s,) = svc.call("network_list")
    assert s.active and not s.persistent and not s.autostart
    with pytest.raises(VirtError) as err:
        svc.call("network_undefine", net=ref)
    assert err.value.code == ErrorCode.OPERATION_INVALID and "transient" in err.value.message
    svc.call("network_destroy", net=ref)
    assert svc.call("network_list") == []
    with pytest.raises(VirtError) as err:
        svc.call("network_lookup_by_name", name="web")
    assert err.value.code == ErrorCode.NO_NETWORK and "'web'" in err.value.message
    with pytest.raises(VirtError) as err:
        svc.call("network_destroy", net=ref)
    assert err.value.code == ErrorCode.NO_NETWORK
    assert events(svc) == [("web", Ev.DEFINED), ("web", Ev.STARTED), ("web", Ev.UNDEFINED),
                           ("web", Ev.STOPPED)]


@pytest.mark.hook("network_create_xml", "network_get_xml", "network_destroy")
@pytest.mark.hook("network_get_summary")
def test_a_transient_network_vanishes_when_stopped(host) -> None:
    ns, svc = host
    ref = svc.call("network_create_xml", xml=net_xml("tmp", mode=None, bridge="vktmp"))
    summary = svc.call("network_get_summary", net=ref)
    assert (summary.ref, summary.active, summary.persistent, summary.bridge) == (
        ref, True, False, "vktmp")
    assert "<bridge name='vktmp'" in svc.call("network_get_xml", net=ref, inactive=False)
    # isolated: guests may talk to each other and to the host, never beyond.
    rules = ns.ruleset()
    assert 'iifname "vktmp" oifname "vktmp" accept' in rules
    assert 'iifname "vktmp" reject' in rules and "masquerade" not in rules
    svc.call("network_destroy", net=ref)
    assert svc.call("network_list") == []
    assert "vktmp" not in ns.run("ip", "link")


@pytest.mark.hook("network_create_xml")
def test_route_open_and_bridge_modes(host) -> None:
    ns, svc = host
    ns.run("ip", "link", "add", "hostbr", "type", "bridge")
    before = ns.links()
    routed = svc.call("network_create_xml", xml=net_xml(
        "routed", "route", "vkr", "10.30.0.1",
        extra="<route address='10.99.0.0' prefix='24' gateway='10.30.0.5'/>"))
    assert "10.99.0.0/24 via 10.30.0.5 dev vkr" in ns.run("ip", "route")
    rules = ns.ruleset()
    assert 'oifname "vkr" ip daddr 10.30.0.0/24 accept' in rules and "masquerade" not in rules
    opened = svc.call("network_create_xml", xml=net_xml("opened", "open", "vko", "10.31.0.1"))
    assert "vko" not in ns.ruleset() and "vko" in ns.run("ip", "link")
    # bridge mode: an existing host bridge, nothing made and nothing removed.
    bridged = svc.call("network_create_xml", xml=net_xml("bridged", "bridge", "hostbr", None))
    port = svc.call("network_port_create_xml", net=bridged, xml="""
        <networkport><owner><name>g</name></owner><mac address='52:54:00:aa:00:01'/>
        </networkport>""")
    plug = svc.call("network_port_get_plug", port=port)
    assert (plug.plug_type, plug.bridge) == ("bridge", "hostbr")
    for ref in (routed, opened, bridged):
        svc.call("network_destroy", net=ref)
    assert ns.links() == before and "hostbr" in ns.run("ip", "link")
    assert "10.99.0.0" not in ns.run("ip", "route")
    assert "virtkit" not in ns.ruleset()
    with pytest.raises(VirtError) as err:
        svc.call("network_create_xml", xml=net_xml("gone", "bridge", "nosuchbr", None))
    assert "host bridge 'nosuchbr' does not exist" in err.value.message


@pytest.mark.hook("network_define_xml")
def test_two_networks_may_not_share_a_bridge_or_overlapping_subnets(host) -> None:
    _ns, svc = host
    svc.call("network_define_xml", xml=net_xml("one", bridge="vkone", ip="10.40.0.1"))
    with pytest.raises(VirtError) as err:
        svc.call("network_define_xml", xml=net_xml("two", bridge="vkone", ip="10.41.0.1"))
    assert err.value.code == ErrorCode.OPERATION_FAILED
    assert "'two'" in err.value.message and "'one'" in err.value.message
    assert "vkone" in err.value.message
    with pytest.raises(VirtError) as err:
        svc.call("network_define_xml", xml=net_xml("three", ip="10.40.0.129", prefix=25))
    msg = err.value.message
    assert "'three'" in msg and "'one'" in msg and "10.40.0.128/25" in msg and "10.40.0.0/24" in msg
    with pytest.raises(VirtError) as err:
        svc.call("network_define_xml", xml=net_xml("one", ip="10.40.0.1").replace(
            "<name>one</name>", "<name>one</name><uuid>00000000-0000-4000-8000-000000000001</uuid>"))
    assert "already exists with uuid" in err.value.message


@pytest.mark.hook("network_define_xml", "network_create")
def test_names_and_unsupported_modes_are_refused_clearly(host) -> None:
    ns, svc = host
    with pytest.raises(VirtError) as err:
        svc.call("network_define_xml", xml=net_xml("long", bridge="a-very-long-bridge0"))
    assert err.value.code == ErrorCode.INVALID_ARG and "a-very-long-bridge0" in err.value.message
    with pytest.raises(VirtError) as err:
        svc.call("network_define_xml", xml=net_xml("bad", bridge="br$x"))
    assert err.value.code in (ErrorCode.INVALID_ARG, ErrorCode.XML_ERROR)
    with pytest.raises(VirtError) as err:
        svc.call("network_define_xml", xml="<network><name>pt</name>"
                 "<forward mode='passthrough' dev='eth0'/></network>")
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED and "passthrough" in err.value.message
    # A subnet the host already uses is refused at start, naming the interface that has it.
    ns.run("ip", "link", "add", "taken0", "type", "bridge")
    ns.run("ip", "addr", "add", "10.50.0.7/24", "dev", "taken0")
    ref = svc.call("network_define_xml", xml=net_xml("clash", ip="10.50.0.1"))
    with pytest.raises(VirtError) as err:
        svc.call("network_create", net=ref)
    assert "'clash'" in err.value.message and "taken0" in err.value.message
    # An existing link of the network's bridge name is never taken over.
    ns.run("ip", "link", "add", "vkmine", "type", "bridge")
    ref = svc.call("network_define_xml", xml=net_xml("mine", bridge="vkmine", ip="10.51.0.1"))
    with pytest.raises(VirtError) as err:
        svc.call("network_create", net=ref)
    assert "'vkmine' already exists" in err.value.message


@pytest.mark.hook("network_list")
def test_the_drivers_own_hookimpl_wins_over_the_service(netns, agents) -> None:
    ns = netns()
    plain = agents(ns)
    plain.call("network_define_xml", xml=net_xml("seen", ip="10.60.0.1"))
    assert [s.ref.name for s in plain.call("network_list")] == ["seen"]
    listing = agents(ns, "--driver-lists-networks")
    assert listing.call("network_list") == []
    assert listing.call("network_lookup_by_name", name="seen") == NetworkRef(
        "seen", plain.call("network_lookup_by_name", name="seen").uuid)


@pytest.mark.hook("network_get_dhcp_leases")
def test_leases_of_an_inactive_network_are_refused(host) -> None:
    _ns, svc = host
    ref = svc.call("network_define_xml", xml=net_xml("idle", ip="10.61.0.1"))
    with pytest.raises(VirtError) as err:
        svc.call("network_get_dhcp_leases", net=ref, mac=None)
    assert err.value.code == ErrorCode.OPERATION_INVALID and "'idle'" in err.value.message


@pytest.mark.hook("network_set_autostart")
def test_autostart_networks_start_once_per_boot(netns, agents, tmp_path) -> None:
    ns = netns()
    first = agents(ns)
    ref = first.call("network_define_xml", xml=net_xml("auto", bridge="vkauto", ip="10.62.0.1"))
    first.call("network_set_autostart", net=ref, autostart=True)
    first.close()
    # A new boot: the run directory is empty. The next service to start brings it up.
    run = tmp_path / "state" / "system" / "network" / "run"
    (run / "autostarted").unlink(missing_ok=True)
    second = agents(ns)
    (s,) = second.call("network_list")
    assert s.active and s.autostart
    second.call("network_destroy", net=ref)
    # Within the same boot a stopped autostart network stays stopped.
    third = agents(ns)
    assert not third.call("network_list")[0].active


@pytest.mark.hook("network_define_xml", "network_create", "network_undefine")
def test_an_unprivileged_session_defines_networks_and_is_told_why_start_fails(
    netns, agents
) -> None:
    ns = netns()
    svc = agents(ns, uri="tiny:///session", user=65534)
    ref = svc.call("network_define_xml", xml=net_xml("mine", bridge="vkuser", ip="10.63.0.1"))
    assert [s.ref for s in svc.call("network_list")] == [ref]
    before = ns.links()
    with pytest.raises(VirtError) as err:
        svc.call("network_create", net=ref)
    assert err.value.code == ErrorCode.OPERATION_FAILED
    assert "vkuser" in err.value.message and "CAP_NET_ADMIN" in err.value.message
    assert ns.links() == before and not svc.call("network_list")[0].active
    svc.call("network_undefine", net=ref)
    assert svc.call("network_list") == []


@pytest.mark.hook("network_define_xml")
def test_two_processes_defining_at_once_get_distinct_bridges(netns, agents) -> None:
    ns = netns()
    a, b = agents(ns), agents(ns)
    for i in range(6):
        a.send("network_define_xml", xml=net_xml(f"a{i}", ip=f"10.64.{i}.1"))
        b.send("network_define_xml", xml=net_xml(f"b{i}", ip=f"10.65.{i}.1"))
    for _ in range(6):
        a.receive()
        b.receive()
    listed = a.call("network_list")
    assert len(listed) == 12
    assert len({s.bridge for s in listed}) == 12


@pytest.mark.hook("network_create_xml")
def test_nat_to_one_device_and_ipv6_nat(host) -> None:
    ns, svc = host
    ns.run("ip", "link", "add", "wan0", "type", "bridge")
    ref = svc.call("network_create_xml", xml="""
        <network><name>wan</name><forward mode='nat' dev='wan0'><nat ipv6='yes'/></forward>
          <bridge name='vkw'/>
          <ip address='10.66.0.1' prefix='24'/>
          <ip family='ipv6' address='fd66::1' prefix='64'/>
        </network>""")
    rules = ns.ruleset()
    assert 'iifname "vkw" oifname "wan0" ip saddr 10.66.0.0/24 accept' in rules
    assert 'ip saddr 10.66.0.0/24 ip daddr != 10.66.0.0/24 oifname "wan0" masquerade' in rules
    assert 'ip6 saddr fd66::/64 ip6 daddr != fd66::/64 oifname "wan0" masquerade' in rules
    svc.call("network_destroy", net=ref)
    assert "virtkit" not in ns.ruleset()
