"""virsh's net-update through the real executable, compared with virsh's output on libvirt's
test driver (data/virsh/net-update.txt: one ``virsh -c test:///default 'cmd; cmd...'`` line
recorded; blank lines, which that form prints fewer of, are left out of the comparison)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

Run = Callable[..., Any]  # the ``run`` fixture of conftest.py
DEFAULT = ("-c", "test:///default")
VIRSH = Path(__file__).parent / "data" / "virsh"
HOST = "\"<host mac='00:11:22:33:44:55' ip='192.168.122.10'/>\""
SESSION = f"""
net-update default add ip-dhcp-host {HOST} --live --config
net-dumpxml default
net-update default modify ip-dhcp-host "<host mac='00:11:22:33:44:55' ip='192.168.122.11'/>"
net-update default add-first ip-dhcp-range "<range start='192.168.122.100' end='192.168.122.110'/>" --config
net-update default delete ip-dhcp-host "<host mac='00:11:22:33:44:55'/>" --live --config
net-dumpxml default
"""


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_net_update_session_matches_virsh(run: Run) -> None:
    r = run(*DEFAULT, stdin=SESSION)
    assert r.status == 0, r.stderr
    assert _lines(r.stdout) == _lines((VIRSH / "net-update.txt").read_text())


def test_net_update_errors_and_files(run: Run, tmp_path: Path) -> None:
    pg = tmp_path / "pg.xml"
    pg.write_text("<portgroup name='web'><vlan><tag id='42'/></vlan></portgroup>")
    r = run(*DEFAULT, stdin=f"""
net-update default add portgroup {pg} --config
net-dumpxml default --inactive
net-update default add portgroup {pg} --config
net-update default delete ip-dhcp-host "<host mac='52:54:00:00:00:09'/>"
net-update default modify ip "<ip address='10.0.0.1'/>"
net-update default frob dns-host "<host ip='1.2.3.4'/>"
""")
    assert "Updated network default persistent config\n" in r.stdout
    assert "<portgroup name='web'>" in r.stdout
    assert "already a <portgroup> matching" in r.stderr
    assert "no <host> matching ('mac', '52:54:00:00:00:09')" in r.stderr
    assert "the 'ip' section of a network cannot be updated" in r.stderr
    assert "unrecognized command name 'frob'" in r.stderr
