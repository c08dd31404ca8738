"""docs/libvirt-coverage.md is what scripts/libvirt-coverage generates from today's API."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent.parent
SCRIPT = REPO / "scripts" / "libvirt-coverage"
PAGE = REPO / "docs" / "libvirt-coverage.md"


def _script() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("libvirt_coverage", str(SCRIPT))
    spec = importlib.util.spec_from_loader("libvirt_coverage", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_page_matches_virtkits_api() -> None:
    """Re-rendered from the libvirt method list the page holds, against the API as it is now:
    a facade method added or removed without regenerating the page fails here."""
    script = _script()
    text = PAGE.read_text()
    methods = script.methods_in_page(text)
    assert set(methods) == set(script.CLASSES)
    assert sum(map(len, methods.values())) > 400
    assert text == script.render(methods), (
        "stale: run /usr/bin/python3 scripts/libvirt-coverage")


def test_page_matches_installed_libvirt_python() -> None:
    """With python3-libvirt under the system Python (as here), the libvirt side is current too."""
    probe = subprocess.run(["/usr/bin/python3", "-c", "import libvirt"], capture_output=True)
    if probe.returncode != 0:  # no python3-libvirt on this machine: the page's own list stands
        assert _script().methods_in_page(PAGE.read_text())
        return
    r = subprocess.run(["/usr/bin/python3", str(SCRIPT), "--check"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_snake_case_names_follow_libvirt_python() -> None:
    snake = _script().snake
    assert snake("nodeDeviceLookupSCSIHostByWWN") == "node_device_lookup_scsi_host_by_wwn"
    assert snake("XMLDesc") == "xml_desc"
    assert snake("networkLookupByName") == "network_lookup_by_name"
    assert snake("listAllDevices") == "list_all_devices"


def test_every_uncovered_method_has_a_reason() -> None:
    for line in PAGE.read_text().splitlines():
        if line.startswith("| `") and "| |" in line:
            assert line.rstrip(" |").split("|")[-1].strip(), line
