from __future__ import annotations

import subprocess
import sys
from importlib.metadata import distribution, requires

import virtkit_vmware


def test_installs_with_core_and_pyvmomi_only() -> None:
    assert virtkit_vmware.__version__ == distribution("virtkit-vmware").version
    runtime = sorted(r for r in requires("virtkit-vmware") or [] if "extra ==" not in r)
    assert runtime == ["pyvmomi>=8.0", "virtkit<0.2,>=0.1"]


def test_registers_esx_and_vpx() -> None:
    eps = {ep.name: ep.value for ep in distribution("virtkit-vmware").entry_points
           if ep.group == "virtkit.drivers"}
    assert eps == {"esx": "virtkit_vmware.schemes:EsxDriver",
                   "vpx": "virtkit_vmware.schemes:VpxDriver"}


def test_importing_the_package_loads_no_pyvmomi() -> None:
    code = "import sys, virtkit_vmware; print('pyVmomi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_driver_classes_take_host_uris() -> None:
    from virtkit_vmware.schemes import EsxDriver, VpxDriver

    assert EsxDriver.takes_host_uris and VpxDriver.takes_host_uris
    assert (EsxDriver.name, VpxDriver.name) == ("esx", "vpx")
