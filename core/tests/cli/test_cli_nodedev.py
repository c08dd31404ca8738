"""virsh's nodedev-* commands through the real executable, on test:///default's device tree."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

Run = Callable[..., Any]  # the ``run`` fixture of conftest.py
DEFAULT = ("-c", "test:///default")
UUID = "4b20d080-1b54-4048-85b3-a6a62d165c01"
MDEV = UUID.replace("-", "_")


def test_nodedev_list_cap_and_tree(run: Run) -> None:
    r = run(*DEFAULT, "nodedev-list")
    assert r.status == 0, r.stderr
    assert r.stdout == ("computer\npci_0000_00_02_0\npci_0000_00_1f_2\nscsi_host0\n"
                        "scsi_host1\nscsi_host2\n\n")
    r = run(*DEFAULT, "nodedev-list", "--cap", "pci,fc_host")
    assert r.stdout == "pci_0000_00_02_0\npci_0000_00_1f_2\nscsi_host1\nscsi_host2\n\n"
    r = run(*DEFAULT, "nodedev-list", "--tree")
    assert r.status == 0, r.stderr
    assert r.stdout.splitlines()[:6] == [
        "computer", "  |", "  +- pci_0000_00_02_0", "  +- pci_0000_00_1f_2", "      |",
        "      +- scsi_host0"]
    r = run(*DEFAULT, "nodedev-list", "--json", "--cap", "scsi_host")
    rows = json.loads(r.stdout)
    assert [d["name"] for d in rows] == ["scsi_host0", "scsi_host1", "scsi_host2"]
    assert rows[1]["parent"] == "pci_0000_00_1f_2" and "vports" in rows[1]["caps"]
    r = run(*DEFAULT, "nodedev-list", "--cap", "warp")
    assert r.status == 1 and "warp" in r.stderr


def test_nodedev_lifecycle_in_batch(run: Run, tmp_path: Path) -> None:
    mdev = tmp_path / "mdev.xml"
    mdev.write_text(f"<device><parent>pci_0000_00_02_0</parent><capability type='mdev'>"
                    f"<type id='i915-GVTg_V5_4'/><uuid>{UUID}</uuid></capability></device>")
    vhba = tmp_path / "vhba.xml"
    vhba.write_text("<device><parent>scsi_host2</parent><capability type='scsi_host'>"
                    "<capability type='fc_host'><wwnn>5001a4aaaaaaaaaa</wwnn>"
                    "<wwpn>5001a4bbbbbbbbbb</wwpn></capability></capability></device>")
    r = run(*DEFAULT, stdin=f"""
nodedev-define {mdev}
nodedev-list --inactive --cap mdev
nodedev-start mdev_{MDEV}_0000_00_02_0
nodedev-destroy mdev_{MDEV}_0000_00_02_0
nodedev-undefine mdev_{MDEV}_0000_00_02_0
nodedev-create {vhba}
nodedev-destroy scsi_host3
nodedev-detach pci_0000_00_1f_2
nodedev-reset pci_0000_00_1f_2
nodedev-reattach pci_0000_00_1f_2
""")
    assert r.status == 0, r.stderr
    assert r.stdout == (
        f"Node device 'mdev_{MDEV}_0000_00_02_0' defined from '{mdev}'\n\n"
        f"mdev_{MDEV}_0000_00_02_0\n\n"
        f"Device mdev_{MDEV}_0000_00_02_0 started\n\n"
        f"Destroyed node device 'mdev_{MDEV}_0000_00_02_0'\n\n"
        f"Undefined node device 'mdev_{MDEV}_0000_00_02_0'\n\n"
        f"Node device scsi_host3 created from {vhba}\n\n"
        "Destroyed node device 'scsi_host3'\n\n"
        "Device pci_0000_00_1f_2 detached\n\n"
        "Device pci_0000_00_1f_2 reset\n\n"
        "Device pci_0000_00_1f_2 re-attached\n\n"
    )


def test_nodedev_dumpxml_and_errors(run: Run) -> None:
    r = run(*DEFAULT, "nodedev-dumpxml", "scsi_host1")
    assert r.status == 0 and "<wwnn>2000000012341234</wwnn>" in r.stdout
    r = run(*DEFAULT, "nodedev-dumpxml", "nope")
    assert r.status == 1
    assert "Could not find matching device 'nope'" in r.stderr
    r = run(*DEFAULT, "nodedev-reset", "pci_0000_00_02_0")
    assert r.status == 1 and "detach it before a reset" in r.stderr
    r = run("-r", *DEFAULT, "nodedev-detach", "pci_0000_00_02_0")
    assert r.status == 1 and "read" in r.stderr.lower()


def test_nodedev_info_and_autostart(run: Run, tmp_path: Path) -> None:
    mdev = tmp_path / "mdev.xml"
    mdev.write_text(f"<device><parent>pci_0000_00_02_0</parent><capability type='mdev'>"
                    f"<type id='i915-GVTg_V5_4'/><uuid>{UUID}</uuid></capability></device>")
    name = f"mdev_{MDEV}_0000_00_02_0"
    r = run(*DEFAULT, stdin=f"""
nodedev-define {mdev}
nodedev-autostart {name}
nodedev-info {name}
nodedev-autostart {name} --disable
nodedev-info 2000000012341234,1000000012341234
nodedev-autostart computer
""")
    assert r.stdout == (
        f"Node device '{name}' defined from '{mdev}'\n\n"
        f"Device {name} marked as autostarted\n\n"
        f"Name:           {name}\nParent:         pci_0000_00_02_0\nActive:         no\n"
        "Persistent:     yes\nAutostart:      yes\n\n"
        f"Device {name} unmarked as autostarted\n\n"
        "Name:           scsi_host1\nParent:         pci_0000_00_1f_2\nActive:         yes\n"
        "Persistent:     no\nAutostart:      no\n\n\n")
    assert ("error: failed to mark device computer as autostarted\n"
            "error: cannot set autostart for transient node device 'computer'") in r.stderr
    r = run(*DEFAULT, "nodedev-info", "computer", "--json")
    assert json.loads(r.stdout) == {"name": "computer", "parent": None, "active": True,
                                    "persistent": False, "autostart": False}
    r = run(*DEFAULT, "nodedev-list", "--json", "--cap", "system")
    assert json.loads(r.stdout)[0]["autostart"] is False
    r = run(*DEFAULT, "nodedev-dumpxml", "5001a4aaaaaaaaaa,5001a4bbbbbbbbbb")
    assert r.status == 1
    assert "Could not find matching device '5001a4aaaaaaaaaa,5001a4bbbbbbbbbb'" in r.stderr


def test_nodedev_event(run: Run, tmp_path: Path) -> None:
    r = run(*DEFAULT, "nodedev-event", "--list")
    assert r.stdout == "lifecycle\nupdate\n\n"
    r = run(*DEFAULT, "nodedev-event", "--all", "--timeout", "1")
    assert r.status == 1 and "events received: 0" in r.stdout
