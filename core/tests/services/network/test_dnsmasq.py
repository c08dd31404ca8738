"""dnsmasq's configuration and lease file, and an IPv6 network started for real."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.services.network import dnsmasq
from virtkit.xml.network import Network

FULL = """
<network>
  <name>full</name>
  <forward mode='nat'/>
  <domain name='lab.test' localOnly='yes'/>
  <dns forwardPlainNames='no'>
    <forwarder addr='192.0.2.53'/>
    <forwarder domain='corp.test' addr='192.0.2.54'/>
    <forwarder domain='local.test'/>
    <host ip='10.80.0.5'><hostname>db</hostname><hostname>db.other.test</hostname></host>
    <txt name='info' value='hello'/>
  </dns>
  <ip address='10.80.0.1' prefix='24'>
    <dhcp>
      <range start='10.80.0.100' end='10.80.0.199'/>
      <host mac='52:54:00:00:00:07' name='web' ip='10.80.0.7'/>
    </dhcp>
  </ip>
  <ip family='ipv6' address='fd80::1' prefix='64'>
    <dhcp><range start='fd80::100' end='fd80::1ff'/></dhcp>
  </ip>
</network>
"""


def test_the_configuration_holds_only_what_the_network_says(tmp_path: Path) -> None:
    net = Network.from_xml(FULL)
    files = dnsmasq.Files.under(tmp_path, "full")
    lines = dnsmasq.config(net, "virbr9", files).splitlines()
    for want in (
        "no-hosts", "bind-dynamic", "interface=virbr9", "except-interface=lo",
        f"pid-file={files.pid}", f"dhcp-leasefile={files.leases}",
        "domain=lab.test", "expand-hosts", "local=/lab.test/", "domain-needed",
        "server=192.0.2.53", "server=/corp.test/192.0.2.54", "local=/local.test/", "no-resolv",
        "host-record=db,db.other.test,db.lab.test,10.80.0.5", 'txt-record=info,"hello"',
        "dhcp-range=10.80.0.100,10.80.0.199,255.255.255.0",
        "dhcp-host=52:54:00:00:00:07,10.80.0.7,web",
        "enable-ra", "dhcp-range=fd80::100,fd80::1ff,64", "dhcp-lease-max=357",
    ):
        assert want in lines, want
    # Never the host's configuration: no conf-dir, no resolv-file, no conf-file inclusion.
    assert not [x for x in lines if x.startswith(("conf-dir", "conf-file", "resolv-file"))]


def test_dns_disabled_turns_the_dns_port_off(tmp_path: Path) -> None:
    net = Network.from_xml(
        "<network><name>nodns</name><dns enable='no'/><ip address='10.81.0.1' prefix='24'>"
        "<dhcp><range start='10.81.0.10' end='10.81.0.20'/></dhcp></ip></network>")
    assert "port=0" in dnsmasq.config(net, "vk", dnsmasq.Files.under(tmp_path, "n"))
    bare = Network.from_xml("<network><name>bare</name><dns enable='no'/>"
                            "<ip address='10.82.0.1' prefix='24'/></network>")
    assert not dnsmasq.needed(bare)


def test_leases_are_read_from_the_lease_file(tmp_path: Path) -> None:
    net = Network.from_xml(FULL)
    files = dnsmasq.Files.under(tmp_path, "full")
    later, gone = int(time.time()) + 3600, int(time.time()) - 10
    files.leases.write_text(
        f"{later} 52:54:00:00:00:07 10.80.0.7 web 01:52:54:00:00:00:07\n"
        f"{gone} 52:54:00:00:00:08 10.80.0.8 old *\n"
        "duid 00:01:00:01:2c:aa:bb:cc:dd:ee:ff:00\n"
        f"{later} 1234 fd80::105 * 00:01:00:01\n"
    )
    leases = dnsmasq.leases(files, "virbr9", net, None)
    assert [(x.ipaddr, x.prefix, x.ip_type, x.hostname) for x in leases] == [
        ("10.80.0.7", 24, 0, "web"), ("fd80::105", 64, 1, None)]
    assert leases[0].client_id == "01:52:54:00:00:00:07" and leases[0].expiry_time == later
    assert dnsmasq.leases(files, "virbr9", net, "52:54:00:00:00:07")[0].hostname == "web"


@pytest.mark.hook("network_create_xml")
def test_an_ipv6_network_gets_its_address_and_router_advertisements(host) -> None:
    ns, svc = host
    ref = svc.call("network_create_xml", xml="""
        <network><name>six</name><forward mode='route'/><bridge name='vk6'/>
          <ip family='ipv6' address='fd81::1' prefix='64'>
            <dhcp><range start='fd81::100' end='fd81::1ff'/></dhcp>
          </ip>
        </network>""")
    assert "fd81::1/64" in ns.run("ip", "-6", "addr", "show", "vk6")
    assert "ip6 saddr fd81::/64 accept" in ns.ruleset()
    assert ns.run("cat", "/proc/sys/net/ipv6/conf/all/forwarding").strip() == "1"
    svc.call("network_destroy", net=ref)
    assert "vk6" not in ns.run("ip", "link") and "virtkit" not in ns.ruleset()


@pytest.mark.parametrize("piece", [
    "<ip address='10.83.0.1' prefix='24'><dhcp><bootp file='x&#10;dhcp-script=/tmp/evil'/>"
    "</dhcp></ip>",
    "<domain name='lab&#10;dhcp-script=/tmp/evil'/>",
    "<dns><txt name='t' value='a&quot;&#10;dhcp-script=/x'/></dns>",
    "<dns><host ip='10.83.0.5'><hostname>db&#10;dhcp-script=/x</hostname></host></dns>",
    "<dns><forwarder addr='not-an-address'/></dns>",
    "<forward mode='nat' dev='eth0&#10;'/>",
])
@pytest.mark.hook("network_define_xml")
def test_values_that_could_add_configuration_lines_are_refused(host, piece: str) -> None:
    _ns, svc = host
    with pytest.raises(VirtError) as err:
        svc.call("network_define_xml", xml=f"<network><name>evil</name>{piece}</network>")
    assert err.value.code in (ErrorCode.XML_ERROR, ErrorCode.INVALID_ARG)
    assert "evil" in err.value.message or "eth0" in err.value.message
    assert svc.call("network_list") == []
