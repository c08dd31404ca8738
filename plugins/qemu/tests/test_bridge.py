"""Tap on an existing bridge, in a network namespace of the test's own (``unshare -n``): the host's
interfaces are never touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from conftest import diskless

SCRIPT = """
import os, subprocess, virtkit
subprocess.run(["ip", "link", "add", "vkbr0", "type", "bridge"], check=True)
subprocess.run(["ip", "link", "set", "vkbr0", "up"], check=True)
c = virtkit.open("qemu:///session")
xml = {xml!r}
dom = c.create_xml(xml)
def links():
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return {{ln.split(":")[1].strip(): ln for ln in out.splitlines()}}
taps = [n for n in links() if n.startswith("vk") and n != "vkbr0"]
assert len(taps) == 1, taps
assert "master vkbr0" in links()[taps[0]], links()[taps[0]]
stats = dom.interface_stats("52:54:00:00:be:01")
assert set(stats) >= {{"rx_bytes", "tx_bytes"}}, stats
dom.destroy()
assert taps[0] not in links(), "the tap is removed with the guest"
print("OK", taps[0])
"""


@pytest.mark.skipif(shutil.which("unshare") is None, reason="util-linux unshare is missing")
def test_tap_on_existing_bridge_in_own_netns(state_root: str) -> None:
    nic = ("<interface type='bridge'><mac address='52:54:00:00:be:01'/>"
           "<source bridge='vkbr0'/><model type='virtio'/></interface>")
    script = textwrap.dedent(SCRIPT).format(xml=diskless("bridged1", devices=nic))
    env = dict(os.environ, VIRTKIT_STATE_ROOT=state_root)
    res = subprocess.run(["unshare", "-n", sys.executable, "-c", script], env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.startswith("OK vk")
