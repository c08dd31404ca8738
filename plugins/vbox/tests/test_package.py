from __future__ import annotations

from importlib.metadata import distribution, requires

import virtkit
import virtkit_vbox
from virtkit_vbox.driver import VBoxDriver


def test_installs_alone_with_core() -> None:
    assert virtkit_vbox.__version__ == distribution("virtkit-vbox").version
    runtime = [r for r in requires("virtkit-vbox") or [] if "extra ==" not in r]
    assert runtime == ["virtkit<0.2,>=0.1"]


def test_registers_the_vbox_scheme() -> None:
    eps = [ep for ep in distribution("virtkit-vbox").entry_points
           if ep.group == "virtkit.drivers"]
    assert [(ep.name, ep.value) for ep in eps] == [("vbox", "virtkit_vbox.driver:VBoxDriver")]
    assert eps[0].load() is VBoxDriver


def test_declares_a_recorded_backend() -> None:
    """Never claimed as a real VirtualBox run: the suite's runs are against recorded outputs."""
    assert VBoxDriver.capabilities["backend"] == "recorded"


def test_no_vboxmanage_is_a_clear_no_connect(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("VBOX_MANAGE", raising=False)
    try:
        virtkit.open("vbox:///session")
    except virtkit.VirtError as exc:
        assert exc.code == virtkit.ErrorCode.NO_CONNECT
        assert "VBoxManage" in exc.message
    else:  # pragma: no cover
        raise AssertionError("opened without VBoxManage")


def test_only_the_session_instance(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    try:
        virtkit.open("vbox:///system")
    except virtkit.VirtError as exc:
        assert exc.code == virtkit.ErrorCode.NO_CONNECT
        assert "vbox:///session" in exc.message
    else:  # pragma: no cover
        raise AssertionError("vbox:///system opened")
