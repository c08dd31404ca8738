from __future__ import annotations

from importlib.metadata import distribution, requires

import pytest

import virtkit
import virtkit_vbox


def test_installs_alone_with_core() -> None:
    assert virtkit_vbox.__version__ == distribution("virtkit-vbox").version
    runtime = [r for r in requires("virtkit-vbox") or [] if "extra ==" not in r]
    assert runtime == ["virtkit<0.2,>=0.1"]


def test_registers_no_scheme_until_it_has_a_driver() -> None:
    eps = distribution("virtkit-vbox").entry_points
    assert [ep for ep in eps if ep.group == "virtkit.drivers"] == []
    with pytest.raises(virtkit.VirtError) as info:
        virtkit.open("vbox:///system")
    assert info.value.code == virtkit.ErrorCode.NO_CONNECT
    assert "'vbox'" in info.value.message
