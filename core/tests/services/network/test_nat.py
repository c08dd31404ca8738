"""A NAT network for real: a guest gets a lease, resolves names through the network's dnsmasq
and reaches an address beyond the NAT.

Three namespaces: the host (the service, the network's bridge), the guest (a veth peer plugged
into the bridge through a network port, running busybox udhcpc) and the outside (reachable from
the host only; it has no route back to the guest's subnet, so an answer proves masquerading).
"""

from __future__ import annotations

import ipaddress
import textwrap
from pathlib import Path

import pytest

NAT = """
<network>
  <name>default</name>
  <forward mode='nat'/>
  <domain name='vk.test'/>
  <dns>
    <host ip='10.77.0.50'><hostname>svc</hostname></host>
  </dns>
  <ip address='10.77.0.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='10.77.0.100' end='10.77.0.150'/>
    </dhcp>
  </ip>
</network>
"""

GUEST_MAC = "52:54:00:12:34:56"
UDHCPC_SCRIPT = """\
#!/bin/sh
# udhcpc calls this with the lease in the environment.
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    ip route replace default via "$router" dev "$interface"
    echo "$ip $dns" > "{out}"
    ;;
esac
"""


@pytest.mark.hook("network_define_xml", "network_create", "network_get_dhcp_leases",
                  "network_destroy", "network_undefine")
def test_guest_gets_a_lease_resolves_names_and_reaches_the_outside(
    netns, agents, tmp_path: Path
) -> None:
    host, guest, outside = netns(), netns(), netns()
    svc = agents(host)
    net = svc.call("network_define_xml", xml=NAT)
    assert svc.call("network_create", net=net) is True

    # The outside world: a link from the host to a namespace with no route back to the guests.
    host.run("ip", "link", "add", "up0", "type", "veth", "peer", "name", "out0", "netns",
             outside.name)
    host.run("ip", "addr", "add", "203.0.113.1/24", "dev", "up0")
    host.run("ip", "link", "set", "up0", "up")
    outside.run("ip", "addr", "add", "203.0.113.2/24", "dev", "out0")
    outside.run("ip", "link", "set", "out0", "up")

    # The guest's NIC: a veth whose host end goes on the bridge the network's port names.
    port = svc.call("network_port_create_xml", net=net, xml=f"""
        <networkport><owner><name>guest1</name></owner><mac address='{GUEST_MAC}'/>
        </networkport>""")
    plug = svc.call("network_port_get_plug", port=port)
    assert plug.plug_type == "network" and plug.bridge == "virbr0" and plug.mac == GUEST_MAC
    host.run("ip", "link", "add", "vnet0", "type", "veth", "peer", "name", "eth0", "netns",
             guest.name)
    host.run("ip", "link", "set", "vnet0", "master", plug.bridge, "up")
    guest.run("ip", "link", "set", "eth0", "address", plug.mac, "up")

    out = tmp_path / "lease"
    script = tmp_path / "udhcpc.sh"
    script.write_text(textwrap.dedent(UDHCPC_SCRIPT).format(out=out))
    script.chmod(0o755)
    guest.run("busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-t", "10", "-T", "1",
              "-x", "hostname:guest1", "-s", str(script))
    ip, dns = out.read_text().split()[:2]
    assert ipaddress.ip_address("10.77.0.100") <= ipaddress.ip_address(ip) <= \
        ipaddress.ip_address("10.77.0.150")
    assert dns == "10.77.0.1"

    # The lease, as dnsmasq's lease file has it.
    leases = svc.call("network_get_dhcp_leases", net=net, mac=None)
    assert [(x.mac, x.ipaddr, x.prefix, x.hostname, x.iface) for x in leases] == [
        (GUEST_MAC, ip, 24, "guest1", "virbr0")
    ]
    assert svc.call("network_get_dhcp_leases", net=net, mac="52:54:00:00:00:01") == []

    # Names resolve through the network's dnsmasq: a <dns><host> and the guest's own name.
    answer = guest.run("busybox", "nslookup", "-type=a", "svc.vk.test", dns)
    assert "10.77.0.50" in answer
    answer = guest.run("busybox", "nslookup", "-type=a", "guest1.vk.test", dns)
    assert ip in answer

    # Beyond the NAT: the outside has no route to 10.77.0.0/24, so only masquerading answers.
    assert "203.0.113.0/24" in outside.run("ip", "route")
    guest.run("busybox", "ping", "-c", "1", "-W", "3", "203.0.113.2")

    assert svc.call("network_destroy", net=net) is True
    assert "virbr0" not in host.run("ip", "link")
    assert "virtkit" not in host.ruleset()
    # The lease file outlives a stop (guests keep their addresses), not the network.
    leases_file = tmp_path / "state" / "system" / "network" / "run" / "dnsmasq" / "default.leases"
    assert GUEST_MAC in leases_file.read_text()
    svc.call("network_undefine", net=net)
    assert not leases_file.exists()
