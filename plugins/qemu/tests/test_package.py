from __future__ import annotations

from importlib.metadata import distribution, requires

import pytest

import virtkit
import virtkit_qemu


def test_installs_alone_with_core() -> None:
    assert virtkit_qemu.__version__ == distribution("virtkit-qemu").version
    runtime = [r for r in requires("virtkit-qemu") or [] if "extra ==" not in r]
    assert runtime == ["virtkit<0.2,>=0.1"]


def test_registers_no_scheme_until_it_has_a_driver() -> None:
    eps = distribution("virtkit-qemu").entry_points
    assert [ep for ep in eps if ep.group == "virtkit.drivers"] == []
    with pytest.raises(virtkit.VirtError) as info:
        virtkit.open("qemu:///system")
    assert info.value.code == virtkit.ErrorCode.NO_CONNECT
    assert "'qemu'" in info.value.message
