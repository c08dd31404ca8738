from __future__ import annotations

from importlib.metadata import distribution, requires

import virtkit_xen


def test_installs_alone_with_core() -> None:
    assert virtkit_xen.__version__ == distribution("virtkit-xen").version
    runtime = [r for r in requires("virtkit-xen") or [] if "extra ==" not in r]
    assert runtime == ["virtkit<0.2,>=0.1"]


def test_registers_the_xen_scheme() -> None:
    eps = {ep.name: ep.value for ep in distribution("virtkit-xen").entry_points
           if ep.group == "virtkit.drivers"}
    assert eps == {"xen": "virtkit_xen.driver:XenDriver"}
    from virtkit_xen.driver import XenDriver

    assert XenDriver.name == "xen"
