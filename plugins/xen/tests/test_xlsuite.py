"""The conformance suite's console and devices groups against ``xen:///system`` on the
stand-in dom0 (suite_standin.py; LABELLED: no Xen runs, xl's answers are the stand-in's, the
console a stand-in process), on HVM guests (libxl changes a cdrom's media in HVM guests only).
What it checks is the driver's side of the suite's expectations: exclusivity and takeover of
the console, the affect flags, duplicates, detach by alias, media changes, refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

#: every test of the two groups and its outcome; the suite's interface joins a libvirt network
#: ('default'), which xl has not: refused (CONFIG_UNSUPPORTED), so that test fails
EXPECTED = {
    "test_console_session": "passed", "test_console_is_exclusive": "passed",
    "test_console_inactive_is_invalid": "passed", "test_channel_stream": "not-supported",
    "test_disk_config": "passed", "test_disk_live": "passed",
    "test_detach_device_alias": "passed", "test_config_on_transient_is_invalid": "passed",
    "test_update_cdrom_media": "passed", "test_bad_device_xml": "passed",
    "test_interface_live": "failed",
}


def test_console_and_devices_groups(tmp_path: Path) -> None:
    env = {**os.environ, "VIRTKIT_STATE_ROOT": str(tmp_path / "state"), "VIRTKIT_XEN_POLL": "0",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))}
    out = tmp_path / "result.json"
    subprocess.run([sys.executable, "-m", "virtkit_conformance", "xen:///system", "--json",
                    str(out), "-q", "--only=console", "--only=devices", "--", "-p",
                    "suite_standin", "--virtkit-os-type=hvm"], env=env, timeout=300,
                   capture_output=True)
    result = json.loads(out.read_text())
    got = {t["name"]: t["outcome"] for t in result["tests"]
           if t["group"] in ("console", "devices")}
    for name, outcome in EXPECTED.items():
        assert got.get(name) == outcome, (name, got.get(name), [
            t["message"] for t in result["tests"] if t["name"] == name])
    assert "type 'network'" in next(t["message"] for t in result["tests"]
                                    if t["name"] == "test_interface_live")
