"""``+ssh`` through a real OpenSSH server started on a loopback port with throwaway keys and its
own sshd_config; the far side runs ``virtkitd --stdio``."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

import virtkit
from virtkit.sdk.errors import ErrorCode, VirtError

SSHD = "/usr/sbin/sshd"


def _keygen(path: Path, kind: str = "ed25519") -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)


@pytest.fixture
def sshd(tmp_path: Path, tcp_port: int) -> Iterator[dict[str, Any]]:
    for tool in (SSHD, shutil.which("ssh"), shutil.which("ssh-keygen")):
        assert tool and os.path.exists(tool), "openssh-server and openssh-client are needed"
    base = tmp_path / "sshd"
    base.mkdir()
    _keygen(base / "host_key")
    _keygen(base / "client_key")
    (base / "authorized_keys").write_text((base / "client_key.pub").read_text())
    host_pub = (base / "host_key.pub").read_text().split()
    (base / "known_hosts").write_text(f"[127.0.0.1]:{tcp_port} {host_pub[0]} {host_pub[1]}\n")
    config = base / "sshd_config"
    config.write_text(
        f"Port {tcp_port}\nListenAddress 127.0.0.1\nHostKey {base}/host_key\n"
        f"PidFile {base}/sshd.pid\nAuthorizedKeysFile {base}/authorized_keys\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPubkeyAuthentication yes\n"
        "PrintMotd no\nSubsystem sftp internal-sftp\n"
    )
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=open(
        base / "sshd.log", "wb"), start_new_session=True)
    try:
        import socket

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", tcp_port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, (base / "sshd.log").read_text()
                time.sleep(0.05)
        command = quote(f"{sys.executable} -m virtkit.daemon.main --stdio", safe="")
        yield {
            "port": tcp_port, "base": base,
            "uri": (f"test+ssh://root@127.0.0.1:{tcp_port}/default?keyfile={base}/client_key"
                    f"&known_hosts={base}/known_hosts&command={command}"),
            "log": base / "sshd.log",
        }
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_every_hook_through_ssh_and_virtkitd_stdio(sshd: dict[str, Any]) -> None:
    with virtkit.open(sshd["uri"]) as conn:
        assert conn.driver_name == "test"
        dom = conn.lookup_by_name("test")
        assert dom.info().state == 1
        got = threading.Event()
        conn.event_register("domain-lifecycle", lambda ev: got.set())
        dom.suspend()
        assert got.wait(10)
        dom.resume()
        with pytest.raises(VirtError) as exc:
            conn.lookup_by_name("absent")
        assert exc.value.code == ErrorCode.NO_DOMAIN
        ssh_children = [c for c in conn.driver.client.channel.proc.args if c == "ssh"]
        assert ssh_children == ["ssh"]
    # the ssh client (and the far virtkitd) are gone with the connection
    assert conn.driver.client.channel.proc.poll() is not None


def test_an_unknown_host_key_is_refused_unless_no_verify(sshd: dict[str, Any],
                                                         tmp_path: Path) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    uri = sshd["uri"].replace(f"known_hosts={sshd['base']}/known_hosts", f"known_hosts={empty}")
    with pytest.raises(VirtError) as exc:
        virtkit.open(uri)
    assert exc.value.code == ErrorCode.RPC
    assert "Host key verification failed" in exc.value.message
    with virtkit.open(uri + "&no_verify=1") as conn:
        assert conn.lookup_by_name("test").name == "test"


def test_a_key_the_server_does_not_know_is_refused(sshd: dict[str, Any], tmp_path: Path) -> None:
    _keygen(tmp_path / "stranger")
    uri = sshd["uri"].replace(f"keyfile={sshd['base']}/client_key",
                              f"keyfile={tmp_path}/stranger")
    with pytest.raises(VirtError) as exc:
        virtkit.open(uri)
    assert "Permission denied" in exc.value.message
