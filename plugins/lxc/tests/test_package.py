from __future__ import annotations

from importlib.metadata import distribution, requires

import virtkit_lxc


def test_installs_alone_with_core() -> None:
    assert virtkit_lxc.__version__ == distribution("virtkit-lxc").version
    runtime = [r for r in requires("virtkit-lxc") or [] if "extra ==" not in r]
    assert runtime == ["virtkit<0.2,>=0.1"]


def test_registers_the_lxc_scheme() -> None:
    eps = [ep for ep in distribution("virtkit-lxc").entry_points
           if ep.group == "virtkit.drivers"]
    assert [(ep.name, ep.value) for ep in eps] == [("lxc", "virtkit_lxc.driver:LxcDriver")]
