"""virtkitd as a program: its configuration, signals, pid file, idle timeout, admin commands and
systemd units."""

from __future__ import annotations

import configparser
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import virtkit
from virtkit.cli.main import cli
from virtkit.daemon.config import load, parse_text
from virtkit.sdk.errors import ErrorCode, VirtError


def test_config_reads_libvirtd_syntax(tmp_path: Path) -> None:
    conf = tmp_path / "virtkitd.conf"
    conf.write_text(
        "# comment\nlisten_tls = 0\nlisten_tcp = 1\nlisten_addr = \"127.0.0.1\"\n"
        "tcp_port = 16999\nauth_tcp = \"none\"\n"
        "tls_allowed_dn_list = [\"C=GB,O=x,CN=*\",\n   \"C=US,*\"]  # two\n"
        "max_clients = 10\nmax_workers = 3\nprio_workers = 2\nkeepalive_interval = -1\n"
        "log_outputs = \"2:stderr 4:file:/tmp/x.log\"\nunix_sock_rw_perms = \"0770\"\n"
        "mdns_adv = 0\n"
    )
    c = load(conf)
    assert (c.listen_tls, c.listen_tcp, c.tcp_port, c.auth_tcp) == (False, True, 16999, "none")
    assert c.tls_allowed_dn_list == ["C=GB,O=x,CN=*", "C=US,*"]
    assert (c.max_clients, c.max_workers, c.prio_workers, c.keepalive_interval) == (10, 3, 2, -1)


@pytest.mark.parametrize(("text", "line", "key", "why"), [
    ("max_clients = 10\nmax_workers = \"many\"\n", 2, "max_workers", "expected an integer"),
    ("listen_tcp = 1\n\nno_such_key = 1\n", 3, "no_such_key", "unknown key"),
    ("tls_allowed_dn_list = [\"a\",\n", 1, "tls_allowed_dn_list", "unterminated list"),
    ("auth_tls = \"kerberos\"\n", 1, "auth_tls", "unknown scheme"),
    ("unix_sock_rw_perms = \"rwx\"\n", 1, "unix_sock_rw_perms", "octal permission"),
    ("log_level = 9\n", 1, "log_level", "must be 1"),
    ("listen_tcp = 2\n", 1, "listen_tcp", "expected 0 or 1"),
])
def test_a_bad_configuration_names_file_line_and_key(tmp_path: Path, text: str, line: int,
                                                     key: str, why: str) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    with pytest.raises(VirtError) as exc:
        load(conf)
    assert exc.value.code == ErrorCode.CONF_SYNTAX
    assert f"{conf}:{line}: key '{key}'" in exc.value.message
    assert why in exc.value.message


def test_a_bad_configuration_is_refused_at_start(tmp_path: Path) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text(f'unix_sock_dir = "{tmp_path}"\nmax_workers = 0\n')
    out = subprocess.run([sys.executable, "-m", "virtkit.daemon.main", "-f", str(conf)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert f"{conf}:2: key 'max_workers': must be at least 1" in out.stderr
    assert not (tmp_path / "virtkit-sock").exists()


def test_parse_text_keeps_line_numbers_across_multiline_lists() -> None:
    parsed = parse_text('a = [\n "x",\n "y"\n]\nb = 2\n')
    assert parsed == {"a": (1, ["x", "y"]), "b": (5, 2)}


def test_sigterm_closes_clients_and_exits_cleanly(daemon_factory: Any, tmp_path: Path) -> None:
    pid_file = tmp_path / "virtkitd.pid"
    d = daemon_factory(args=("--pid-file", str(pid_file)))
    assert pid_file.read_text().strip() == str(d.pid)
    conn = virtkit.open(d.uri())
    assert conn.lookup_by_name("test").state()[0] == 1
    assert d.stop(signal.SIGTERM) == 0
    assert "guests keep running" in d.log()
    assert not os.path.exists(d.rw) and not os.path.exists(d.ro)
    assert not pid_file.exists()
    with pytest.raises(VirtError):
        conn.lookup_by_name("test")
    conn.close()


def test_sighup_reloads_the_configuration(daemon_factory: Any) -> None:
    d = daemon_factory("max_clients = 7\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["admin", "srv-clients-info", "--socket", d.rw])
    assert result.exit_code == 0, result.output
    assert "max_clients           : 7" in result.output
    d.config_path.write_text(d.config_path.read_text().replace("max_clients = 7",
                                                               "max_clients = 9"))
    d.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "configuration reloaded" not in d.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    result = runner.invoke(cli, ["admin", "srv-clients-info", "--socket", d.rw])
    assert "max_clients           : 9" in result.output


def test_idle_timeout_exits(daemon_factory: Any) -> None:
    d = daemon_factory(args=("--timeout", "1"))
    assert d.proc is not None
    assert d.proc.wait(15) == 0
    assert "no clients for 1" in d.log()


def test_admin_lists_and_disconnects_clients(daemon: Any) -> None:
    runner = CliRunner()
    conn = virtkit.open(daemon.uri())
    try:
        result = runner.invoke(cli, ["admin", "srv-clients-list", "--socket", daemon.rw])
        assert result.exit_code == 0, result.output
        rows = [line.split() for line in result.output.splitlines()[2:] if line.strip()]
        theirs = [r for r in rows if r[1] == "unix-rw"]
        assert len(theirs) == 2  # the connection and the admin command itself
        target = min(int(r[0]) for r in theirs)
        info = runner.invoke(cli, ["admin", "client-info", str(target), "--socket", daemon.rw])
        assert "uid             : 0" in info.output and "test:///default" in info.output
        result = runner.invoke(cli, ["admin", "client-disconnect", str(target),
                                     "--socket", daemon.rw])
        assert result.exit_code == 0, result.output
        with pytest.raises(VirtError):
            conn.lookup_by_name("test")
        result = runner.invoke(cli, ["admin", "srv-threadpool-info", "--socket", daemon.rw])
        assert "max_workers           : 20" in result.output
    finally:
        conn.close()


def test_admin_procedures_are_refused_on_the_read_only_socket(daemon: Any) -> None:
    import socket

    from virtkit.remote.client import RpcClient
    from virtkit.remote.transport import SocketChannel

    sock = socket.socket(socket.AF_UNIX)
    sock.connect(daemon.ro)
    client = RpcClient(SocketChannel(sock), "localhost", keepalive_interval=0)
    try:
        for name, body in (("@admin_client_list", None), ("@admin_set_limits",
                                                          {"max_clients": 1})):
            with pytest.raises(VirtError) as exc:
                client.call(name, body)
            assert exc.value.code == ErrorCode.OPERATION_DENIED
    finally:
        client.close()


def test_admin_passwd_writes_scram_credentials_not_passwords(tmp_path: Path) -> None:
    users = tmp_path / "users"
    result = CliRunner().invoke(cli, ["admin", "passwd", "bob", "--file", str(users),
                                      "--password-stdin"], input="hunter2\n")
    assert result.exit_code == 0, result.output
    text = users.read_text()
    assert text.startswith("bob:4096:") and "hunter2" not in text
    assert oct(users.stat().st_mode & 0o777) == "0o600"


def test_systemd_units_name_the_daemon_and_its_sockets() -> None:
    from importlib import resources

    units = resources.files("virtkit.daemon").joinpath("systemd")
    names = sorted(p.name for p in units.iterdir() if p.name.endswith((".service", ".socket")))
    assert names == ["virtkitd-ro.socket", "virtkitd-tcp.socket", "virtkitd-tls.socket",
                     "virtkitd.service", "virtkitd.socket"]
    service = configparser.ConfigParser(strict=False)
    service.read_string(units.joinpath("virtkitd.service").read_text())
    assert service["Service"]["ExecStart"].startswith("/usr/bin/virtkitd")
    assert "virtkitd.socket" in service["Unit"]["Requires"]
    for name in names:
        if name.endswith(".socket"):
            sock = configparser.ConfigParser(strict=False)
            sock.read_string(units.joinpath(name).read_text())
            assert sock["Socket"]["Service"] == "virtkitd.service"
            assert sock["Socket"]["FileDescriptorName"] in ("rw", "ro", "tcp", "tls")


def test_socket_activation_uses_the_sockets_systemd_passes(tmp_path: Path) -> None:
    """As systemd does: listening sockets on fd 3.., LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID."""
    import socket

    rw_path, ro_path = str(tmp_path / "act-rw"), str(tmp_path / "act-ro")
    socks = []
    for path in (rw_path, ro_path):
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.listen(16)
        socks.append(s)
    conf = tmp_path / "d.conf"
    conf.write_text(f'unix_sock_dir = "{tmp_path}/unused"\n')
    script = (f"exec 3<&{socks[0].fileno()} 4<&{socks[1].fileno()}; export LISTEN_PID=$$ "
              f"LISTEN_FDS=2 LISTEN_FDNAMES=rw:ro; exec {sys.executable} -m virtkit.daemon.main "
              f"-f {conf}")
    proc = subprocess.Popen(["bash", "-c", script], pass_fds=[s.fileno() for s in socks],
                            start_new_session=True, stderr=subprocess.PIPE)
    try:
        for s in socks:
            s.close()
        deadline = time.monotonic() + 20
        while True:
            try:
                conn = virtkit.open(f"test+unix:///default?socket={rw_path}")
                break
            except VirtError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        with conn:
            assert conn.lookup_by_name("test").name == "test"
        with virtkit.open(f"test+unix:///default?socket={ro_path}", read_only=True) as ro:
            assert ro.read_only and ro.lookup_by_name("test").name == "test"
        assert not (tmp_path / "unused").exists()  # it made no sockets of its own
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_a_call_too_large_for_a_frame_fails_alone_and_the_connection_goes_on(daemon: Any) -> None:
    """A body over the frame limit is refused before the call is registered: the connection's
    next calls are served (the call used to keep the reading role, and the next call waited
    for a reply nobody would read)."""
    import threading

    from virtkit.remote.protocol import MAX_FRAME

    with virtkit.open(daemon.uri()) as conn:
        with pytest.raises(VirtError) as info:
            conn.define_xml("<domain>" + "x" * MAX_FRAME + "</domain>")
        assert info.value.code == ErrorCode.RPC and "exceeds the largest frame" in info.value.message
        got: list[Any] = []
        worker = threading.Thread(target=lambda: got.append(conn.lookup_by_name("test").info()),
                                  daemon=True)
        worker.start()
        worker.join(20)
        assert got and got[0].state == 1, "the next call was not served"
