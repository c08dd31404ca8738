"""Run inside a private network namespace (``unshare --net``) by test_network.py: containers
with a bridge, an ethernet and a network interface; prints what it saw as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import virtkit

sys.path.insert(0, str(Path(__file__).parent))
from conftest import domain_xml, read_console


def links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout


def main(root: Path) -> dict:
    subprocess.run(["ip", "link", "add", "vktbr0", "type", "bridge"], check=True)
    subprocess.run(["ip", "link", "set", "vktbr0", "up"], check=True)
    conn = virtkit.open("lxc:///system")
    seen: dict = {}
    net = conn.network_define_xml("<network><name>vktnet</name><bridge name='vktbr1'/>"
                                  "</network>")
    net.create()
    nics = ("<interface type='bridge'><mac address='52:54:00:12:34:56'/>"
            "<source bridge='vktbr0'/></interface>"
            "<interface type='ethernet'><mac address='52:54:00:12:34:57'/>"
            "<target dev='vkteth'/></interface>"
            "<interface type='network'><mac address='52:54:00:12:34:58'/>"
            "<source network='vktnet'/></interface>")
    script = ("for i in 0 1 2; do cat /sys/class/net/eth$i/address; done; "
              "cat /sys/class/net/eth0/operstate; echo END; sleep 1000")
    dom = conn.define_xml(domain_xml("net1", root, script, devices=nics))
    dom.create()
    seen["console"] = read_console(dom, "END").replace("\r", "")
    seen["links"] = links()
    seen["ports"] = len(net.list_ports())
    subprocess.run(["ip", "link", "set", "vkteth", "up"], check=False)
    seen["stats"] = dom.interface_stats("52:54:00:12:34:56")
    seen["stats_by_name"] = dom.interface_stats("vkteth")
    dom.destroy()
    seen["links_after"] = links()
    seen["ports_after"] = len(net.list_ports())
    net.destroy()
    conn.close()
    return seen


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
