from __future__ import annotations

from importlib.metadata import distribution, requires

import virtkit_xen


def test_installs_alone_with_core() -> None:
    assert virtkit_xen.__version__ == distribution("virtkit-xen").version
    runtime = [r for r in requires("virtkit-xen") or [] if "extra ==" not in r]
    assert sorted(runtime) == ["XenAPI>=23.0", "virtkit<0.2,>=0.1"]  # XenAPI for xenapi://


def test_registers_the_xen_and_xenapi_schemes() -> None:
    eps = {ep.name: ep.value for ep in distribution("virtkit-xen").entry_points
           if ep.group == "virtkit.drivers"}
    assert eps == {"xen": "virtkit_xen.driver:XenDriver",
                   "xenapi": "virtkit_xen.xenapi:XenApiDriver"}
    from virtkit_xen.driver import XenDriver
    from virtkit_xen.xenapi import XenApiDriver

    assert XenDriver.name == "xen"
    assert XenApiDriver.name == "xenapi" and XenApiDriver.takes_host_uris
