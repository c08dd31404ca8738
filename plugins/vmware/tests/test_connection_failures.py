"""Bad input and broken endpoints: wrong passwords, missing credentials, unreachable hosts, a
simulator killed in the middle of a call, malformed URIs, expired sessions."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import virtkit
from virtkit.sdk.errors import ErrorCode
from virtkit_vmware.vcsim import Simulator

from .helpers import domain_xml, name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_wrong_password_is_auth_failed(esx_sim: Simulator, monkeypatch: pytest.MonkeyPatch,
                                       caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("VIRTKIT_PASSWORD", "not-the-password")
    caplog.set_level("DEBUG")
    with pytest.raises(virtkit.VirtError) as err:
        virtkit.open(esx_sim.uri())
    assert err.value.code == ErrorCode.AUTH_FAILED
    assert "'user'" in err.value.message and "127.0.0.1" in err.value.message
    assert "not-the-password" not in err.value.message
    assert "not-the-password" not in caplog.text


def test_no_password_anywhere_is_auth_failed(esx_sim: Simulator,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIRTKIT_PASSWORD")
    with pytest.raises(virtkit.VirtError) as err:
        virtkit.open(esx_sim.uri())
    assert err.value.code == ErrorCode.AUTH_FAILED and "no password" in err.value.message


def test_credential_callback(esx_sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIRTKIT_PASSWORD")
    asked: list[list[dict[str, Any]]] = []

    def callback(requests: list[dict[str, Any]]) -> list[str | None]:
        asked.append(requests)
        return ["pass" if r["type"] == "password" else None for r in requests]

    conn = virtkit.open(esx_sim.uri(), auth=callback)
    try:
        assert conn.list_domains()
    finally:
        conn.close()
    assert [r["type"] for r in asked[0]] == ["password"]
    assert "user" in asked[0][0]["prompt"] and "127.0.0.1" in asked[0][0]["prompt"]


def test_auth_file_and_user_from_it(esx_sim: Simulator, monkeypatch: pytest.MonkeyPatch,
                                    tmp_path: Path) -> None:
    monkeypatch.delenv("VIRTKIT_PASSWORD")
    auth = tmp_path / "auth.conf"
    auth.write_text("[credentials-sim]\nauthname=user\npassword=pass\n\n"
                    "[auth-esx-127.0.0.1]\ncredentials=sim\n")
    monkeypatch.setenv("VIRTKIT_AUTH_FILE", str(auth))
    uri = f"esx://127.0.0.1:{esx_sim.port}/?no_verify=1&transport=http"
    conn = virtkit.open(uri)
    try:
        assert conn.get_hostname()
    finally:
        conn.close()


def test_refused_port_is_no_connect_at_once() -> None:
    start = time.monotonic()
    with pytest.raises(virtkit.VirtError) as err:
        virtkit.open(f"esx://user@127.0.0.1:{_free_port()}/?transport=http")
    assert err.value.code == ErrorCode.NO_CONNECT and "127.0.0.1" in err.value.message
    assert time.monotonic() - start < 5


def test_unreachable_host_is_no_connect_within_the_timeout() -> None:
    """192.0.2.1 (TEST-NET-1) never answers: the URI's timeout bounds the wait."""
    start = time.monotonic()
    with pytest.raises(virtkit.VirtError) as err:
        virtkit.open("esx://user@192.0.2.1:443/?transport=http&timeout=1.5")
    assert err.value.code == ErrorCode.NO_CONNECT and "192.0.2.1" in err.value.message
    assert time.monotonic() - start < 10


@pytest.mark.parametrize(("uri", "words"), [
    ("esx://user@127.0.0.1/?transport=ftp", "transport"),
    ("esx://user@127.0.0.1/?no_verify=maybe", "no_verify"),
    ("esx://user@127.0.0.1/?timeout=-3", "timeout"),
    ("esx://user@127.0.0.1/?colour=blue", "colour"),
    ("esx://user@127.0.0.1/some/path", "no path"),
])
def test_bad_uris_are_invalid_arg(uri: str, words: str) -> None:
    with pytest.raises(virtkit.VirtError) as err:
        virtkit.open(uri)
    assert err.value.code == ErrorCode.INVALID_ARG and words in err.value.message


def test_simulator_killed_mid_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulator dies while a power-on is in flight: a clear NO_CONNECT, no hang; later calls
    fail the same way and closing does not hang either."""
    sim = Simulator("esx", delay={"PowerOnVM_Task": 3000}).start()
    try:
        conn = virtkit.open(sim.uri())
        dom = conn.define_xml(domain_xml(name()))
        outcome: list[BaseException] = []

        def start() -> None:
            try:
                dom.create()
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=start)
        began = time.monotonic()
        thread.start()
        time.sleep(0.5)
        sim.kill()
        thread.join(timeout=15)
        assert not thread.is_alive(), "the call hung after the simulator died"
        assert time.monotonic() - began < 15
        assert outcome and isinstance(outcome[0], virtkit.VirtError)
        err = outcome[0]
        assert err.code == ErrorCode.NO_CONNECT and "connection lost" in err.message
        assert dom.name in err.message
        with pytest.raises(virtkit.VirtError) as later:
            conn.list_domains()
        assert later.value.code == ErrorCode.NO_CONNECT
        closed = time.monotonic()
        conn.close()
        assert time.monotonic() - closed < 10
    finally:
        sim.stop()


def test_expired_session_logs_in_again(fresh_sim: Simulator) -> None:
    conn = virtkit.open(fresh_sim.uri())
    try:
        before = len(conn.list_domains())
        conn.driver.session.content.sessionManager.Logout()  # the server forgets the session
        assert len(conn.list_domains()) == before
    finally:
        conn.close()


def test_frozen_endpoint_times_out(fresh_sim: Simulator) -> None:
    """A simulator that stops answering (SIGSTOP) makes calls fail after the URI's timeout."""
    import os
    import signal

    assert fresh_sim.proc is not None
    conn = virtkit.open(fresh_sim.uri().replace("transport=http", "transport=http&timeout=2"))
    try:
        os.killpg(fresh_sim.proc.pid, signal.SIGSTOP)
        tasks = Path(f"/proc/{fresh_sim.proc.pid}/task")
        deadline = time.monotonic() + 5
        while any((t / "stat").read_text().rsplit(")", 1)[1].split()[0] != "T"
                  for t in tasks.iterdir()):  # until every thread of it is stopped
            assert time.monotonic() < deadline, "the simulator did not stop"
            time.sleep(0.01)
        began = time.monotonic()
        with pytest.raises(virtkit.VirtError) as err:
            conn.list_domains()
        assert err.value.code == ErrorCode.NO_CONNECT and "timed out" in err.value.message
        assert time.monotonic() - began < 8
    finally:
        os.killpg(fresh_sim.proc.pid, signal.SIGCONT)
        conn.close()
