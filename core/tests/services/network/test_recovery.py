"""Start is all or nothing, stop removes exactly what start made, and a running network survives
kill -9 of the process that manages it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from virtkit.sdk.errors import VirtError

NET = """
<network>
  <name>{name}</name>
  <forward mode='nat'/>
  <bridge name='{bridge}'/>
  <ip address='{prefix}.1' netmask='255.255.255.0'>
    <dhcp><range start='{prefix}.10' end='{prefix}.20'/></dhcp>
  </ip>
</network>
"""


def dnsmasq_pids(ns) -> list[int]:
    out = []
    for pid in ns.pids():
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "dnsmasq":
                out.append(pid)
        except OSError:
            pass
    return out


@pytest.mark.hook("network_create", "network_destroy", "network_list")
def test_kill_9_then_a_new_process_finds_the_network_and_stops_it_cleanly(netns, agents) -> None:
    ns = netns()
    # Something virtkit did not make, which must be left exactly as it is.
    ns.run("ip", "link", "add", "keepbr", "type", "bridge")
    ns.run("nft", "add", "table", "inet", "mine")
    ns.run("nft", "add", "chain", "inet", "mine", "myforward",
           "{ type filter hook forward priority 0; policy accept; }")
    links_before, rules_before = ns.links(), ns.ruleset()

    first = agents(ns)
    net = first.call("network_define_xml", xml=NET.format(name="n1", bridge="vk1",
                                                          prefix="10.11.0"))
    first.call("network_create", net=net)
    (pid,) = dnsmasq_pids(ns)
    assert "virtkit_vk1" in ns.ruleset()
    first.kill9()

    # Everything is still there after the managing process died...
    assert dnsmasq_pids(ns) == [pid]
    assert "vk1" in ns.run("ip", "link")
    second = agents(ns)
    (summary,) = second.call("network_list")
    assert summary.active and summary.bridge == "vk1"
    # ... and the new process stops it: dnsmasq reaped, rules and bridge gone, nothing else.
    assert second.call("network_destroy", net=net) is True
    assert dnsmasq_pids(ns) == []
    assert not os.path.exists(f"/proc/{pid}/cmdline") or pid not in ns.pids()
    assert ns.links() == links_before
    assert ns.ruleset() == rules_before


@pytest.mark.hook("network_create")
def test_a_failed_start_undoes_the_bridge_and_addresses_it_made(host) -> None:
    ns, svc = host
    # A table of that name that virtkit did not make: the firewall step must fail...
    ns.run("nft", "add", "table", "inet", "virtkit_vk2")
    links_before, rules_before = ns.links(), ns.ruleset()
    net = svc.call("network_define_xml", xml=NET.format(name="n2", bridge="vk2",
                                                        prefix="10.12.0"))
    with pytest.raises(VirtError) as err:
        svc.call("network_create", net=net)
    assert err.value.code == 63  # BUILD_FIREWALL
    assert "virtkit_vk2" in err.value.message and "n2" in err.value.message
    # ... after the bridge and its address were made: both are gone, the table is untouched.
    assert ns.links() == links_before
    assert ns.ruleset() == rules_before
    assert dnsmasq_pids(ns) == []
    (summary,) = svc.call("network_list")
    assert not summary.active


@pytest.mark.hook("network_create")
def test_a_dnsmasq_that_cannot_start_undoes_the_whole_start(netns, agents, tmp_path) -> None:
    ns = netns()
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "dnsmasq").write_text("#!/bin/sh\necho 'dnsmasq: refusing for the test' >&2\nexit 3\n")
    (fake / "dnsmasq").chmod(0o755)
    svc = agents(ns, env={"PATH": f"{fake}:{os.environ['PATH']}"})
    links_before, rules_before = ns.links(), ns.ruleset()
    net = svc.call("network_define_xml", xml=NET.format(name="n3", bridge="vk3",
                                                        prefix="10.13.0"))
    with pytest.raises(VirtError) as err:
        svc.call("network_create", net=net)
    assert "dnsmasq failed to start for network 'n3'" in err.value.message
    assert "refusing for the test" in err.value.message
    # The bridge, its address and the firewall table made before dnsmasq are all gone.
    assert ns.links() == links_before
    assert ns.ruleset() == rules_before
    assert not svc.call("network_list")[0].active


@pytest.mark.hook("network_list", "network_destroy")
def test_a_new_process_puts_back_a_dead_dnsmasq_and_a_deleted_table(netns, agents) -> None:
    ns = netns()
    first = agents(ns)
    net = first.call("network_create_xml", xml=NET.format(name="n4", bridge="vk4",
                                                          prefix="10.14.0"))
    first.close()
    (pid,) = dnsmasq_pids(ns)
    os.kill(pid, 9)
    ns.run("nft", "delete", "table", "inet", "virtkit_vk4")
    second = agents(ns)
    assert second.call("network_list")[0].active
    (new_pid,) = dnsmasq_pids(ns)
    assert new_pid != pid
    assert "table inet virtkit_vk4" in ns.ruleset()
    second.call("network_destroy", net=net)
    assert dnsmasq_pids(ns) == [] and "virtkit" not in ns.ruleset()


@pytest.mark.hook("network_list")
def test_a_network_whose_bridge_vanished_is_cleaned_up_and_inactive(netns, agents) -> None:
    ns = netns()
    first = agents(ns)
    net = first.call("network_define_xml", xml=NET.format(name="n5", bridge="vk5",
                                                          prefix="10.15.0"))
    first.call("network_create", net=net)
    first.kill9()
    ns.run("ip", "link", "del", "vk5")  # as after a reboot, or someone deleting it
    second = agents(ns)
    (summary,) = second.call("network_list")
    assert not summary.active and summary.persistent
    assert dnsmasq_pids(ns) == [] and "virtkit" not in ns.ruleset()
