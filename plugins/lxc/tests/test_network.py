"""Container interfaces as veth pairs, in a network namespace this test makes (the host's
interfaces are never touched)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def test_veth_pairs_with_the_xml_macs(state, rootdir):
    r = subprocess.run(["unshare", "--net", sys.executable, str(HERE / "netcheck.py"),
                        str(rootdir)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    seen = json.loads(r.stdout.splitlines()[-1])
    assert "52:54:00:12:34:56\n52:54:00:12:34:57\n52:54:00:12:34:58\n" in seen["console"]
    assert "up" in seen["console"]  # eth0 is up inside
    lines = seen["links"].splitlines()
    host0 = next(line for line in lines if "master vktbr0" in line)
    assert "vkl" in host0  # the host end is enslaved to the bridge
    assert any("vkteth" in line for line in lines)  # ethernet: the named host end
    assert any("master vktbr1" in line for line in lines)  # network: the network's bridge
    assert seen["ports"] == 1 and seen["ports_after"] == 0  # the port goes with the container
    assert "vkteth" not in seen["links_after"] and "master vktbr0" not in seen["links_after"]
    assert set(seen["stats"]) >= {"rx_bytes", "tx_bytes", "rx_packets", "tx_drop"}
    assert set(seen["stats_by_name"]) == set(seen["stats"])
