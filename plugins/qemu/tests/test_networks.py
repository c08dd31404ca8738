"""``type='network'`` interfaces through the host network service, in a network namespace of the
test's own (``unshare -n``: the service's bridge, dnsmasq and nftables table live and die there).

The tiny guest gets a DHCP lease in the NAT network's range, seen by the guest, by
``net.dhcp_leases()`` and by ``dom.interface_addresses(source='lease')``; its tap is on the
network's bridge with the guest's MAC (first byte 0xfe) and the network's MTU; a hotplugged NIC
gets a port and a tap, both gone on unplug; the ports and taps go when the guest stops and when a
start fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tinyguest

SCRIPT = """
import json, subprocess, sys, time, virtkit
sys.path.insert(0, {tests!r})
from conftest import Console
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
c = virtkit.open("qemu:///session")
net = c.network_create_xml('''<network><name>vknat</name><forward mode='nat'/>
  <bridge name='vkqbr0'/><mtu size='1400'/>
  <ip address='10.66.0.1' netmask='255.255.255.0'>
    <dhcp><range start='10.66.0.100' end='10.66.0.150'/></dhcp></ip></network>''')
def links():
    out = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True).stdout
    return {{d["ifname"]: d for d in json.loads(out)}}
mac = "52:54:00:66:00:01"
nic = f"<interface type='network'><mac address='{{mac}}'/><source network='vknat'/><model type='virtio'/></interface>"
try:
    # a failed start (missing disk) leaves no tap and no port
    bad = {bad!r}.replace("NIC", nic)
    try:
        c.create_xml(bad)
        raise AssertionError("a guest with a missing disk started")
    except virtkit.VirtError as exc:
        assert "missing.img" in str(exc), exc
    assert net.list_ports() == [], net.list_ports()
    assert not [n for n in links() if n.startswith("vk") and n != "vkqbr0"], links()

    dom = c.create_xml({good!r}.replace("NIC", nic))
    con = Console(dom)
    con.wait_for({ready!r})
    ports = net.list_ports()
    assert len(ports) == 1, ports
    plug = ports[0].plug()
    assert plug.mac == mac and plug.bridge == "vkqbr0", plug
    xml = dom.xml_desc()
    tap = xml.split("<target dev='")[1].split("'")[0] if "<target dev='" in xml else \\
        xml.split('<target dev="')[1].split('"')[0]
    info = links()[tap]
    assert info.get("master") == "vkqbr0", info
    assert info["address"] == "fe" + mac[2:], info
    assert info["mtu"] == 1400, info
    con.wait_for("LEASE: 10.66.0.", timeout=120)
    leases = [l for l in net.dhcp_leases() if l.mac == mac]
    assert leases and leases[0].ipaddr.startswith("10.66.0."), net.dhcp_leases()
    addrs = dom.interface_addresses(source="lease")
    assert len(addrs) == 1 and addrs[0].hwaddr == mac and addrs[0].name == tap, addrs
    assert addrs[0].addrs[0]["addr"] == leases[0].ipaddr, addrs
    guest = con.command("addr", "ADDR:")
    assert leases[0].ipaddr in guest, guest

    # hotplug and unplug of a second network NIC
    mac2 = "52:54:00:66:00:02"
    nic2 = nic.replace(mac, mac2)
    before = set(links())
    dom.attach_device(nic2)
    assert len(net.list_ports()) == 2, net.list_ports()
    new = set(links()) - before
    assert len(new) == 1 and links()[new.pop()].get("master") == "vkqbr0"
    dom.detach_device(nic2)
    assert set(links()) == before, set(links()) ^ before
    assert len(net.list_ports()) == 1, net.list_ports()

    con.close()
    dom.destroy()
    assert tap not in links(), "the tap goes with the guest"
    assert net.list_ports() == [], net.list_ports()
    print("OK", leases[0].ipaddr)
finally:
    for d in c.list_domains():
        if d.is_active():
            d.destroy()
    net.destroy()
    c.close()
"""


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None
                    or shutil.which("dnsmasq") is None,
                    reason="needs root, util-linux unshare and dnsmasq (system-packages.txt)")
def test_nat_network_lease_hotplug_and_cleanup(state_root: str, tiny: tuple[Path, Path],
                                               tmp_path: Path) -> None:
    good = tinyguest.domain_xml("netguest", *tiny, devices="NIC")
    bad = tinyguest.domain_xml("badguest", *tiny, devices=(
        "<disk type='file' device='disk'><source file='/nonexistent/missing.img'/>"
        "<target dev='vda' bus='virtio'/></disk>NIC"))
    script = textwrap.dedent(SCRIPT).format(
        tests=str(Path(__file__).parent), good=good, bad=bad, ready=tinyguest.READY)
    env = dict(os.environ, VIRTKIT_STATE_ROOT=state_root)
    proc = subprocess.Popen(["unshare", "-n", sys.executable, "-c", script], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
    assert proc.returncode == 0, err[-3000:]
    assert out.startswith("OK 10.66.0."), out
