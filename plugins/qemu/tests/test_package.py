from __future__ import annotations

from importlib.metadata import distribution, requires

import virtkit_qemu


def test_installs_alone_with_core() -> None:
    assert virtkit_qemu.__version__ == distribution("virtkit-qemu").version
    runtime = sorted(r for r in requires("virtkit-qemu") or [] if "extra ==" not in r)
    assert runtime == ["qemu.qmp>=0.0.3", "virtkit<0.2,>=0.1"]


def test_registers_the_qemu_scheme() -> None:
    eps = [ep for ep in distribution("virtkit-qemu").entry_points
           if ep.group == "virtkit.drivers"]
    assert [(ep.name, ep.value) for ep in eps] == [("qemu", "virtkit_qemu.driver:QemuDriver")]
    from virtkit_qemu.driver import QemuDriver

    assert eps[0].load() is QemuDriver
    assert QemuDriver.host_services == ("storage", "network")
