"""The simulator fixtures: one govmomi simulator per model for the session, reaped at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from virtkit_vmware.vcsim import Simulator, unavailable_reason


def _need_go() -> None:
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"no vSphere simulator: {reason}")


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No user auth file; the simulator's password through the environment."""
    monkeypatch.setenv("VIRTKIT_PASSWORD", "pass")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))
    monkeypatch.delenv("VIRTKIT_AUTH_FILE", raising=False)


@pytest.fixture(scope="session")
def esx_sim() -> Iterator[Simulator]:
    _need_go()
    sim = Simulator("esx").start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture(scope="session")
def vpx_sim() -> Iterator[Simulator]:
    _need_go()
    sim = Simulator("vpx").start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def fresh_sim() -> Iterator[Simulator]:
    """A simulator of its own, for tests that kill or break it."""
    _need_go()
    sim = Simulator("esx").start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def esx(esx_sim: Simulator) -> Iterator[object]:
    """A virtkit connection to the ESX simulator, closed after the test."""
    import virtkit

    conn = virtkit.open(esx_sim.uri())
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def raw(esx_sim: Simulator) -> Iterator[object]:
    """A plain pyvmomi ServiceInstance on the same simulator: changes made behind virtkit."""
    from pyVim.connect import Disconnect, SmartConnect

    si = SmartConnect(protocol="http", host="127.0.0.1", port=esx_sim.port, user="user",
                      pwd="pass")
    try:
        yield si
    finally:
        Disconnect(si)
