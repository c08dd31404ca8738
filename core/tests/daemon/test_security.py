"""Security tests, each named after the mistake it guards against, and hypothesis fuzzing of
frames: the daemon never crashes and keeps serving its other clients."""

from __future__ import annotations

import socket
import ssl
import struct
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import virtkit
from virtkit.remote import procedures as procs
from virtkit.remote.protocol import (
    HEADER,
    HEADER_SIZE,
    MAX_FRAME,
    PROGRAM,
    VERSION,
    Header,
    Status,
    Type,
    encode,
)
from virtkit.sdk.errors import ErrorCode, VirtError


def connect_raw(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(path)
    return sock


def read_frame(sock: socket.socket) -> tuple[Header, Any]:
    data = b""
    while len(data) < HEADER_SIZE:
        chunk = sock.recv(HEADER_SIZE - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    length, program, version, proc, kind, serial, status = HEADER.unpack(data)
    body = b""
    while len(body) < length - HEADER_SIZE:
        chunk = sock.recv(length - HEADER_SIZE - len(body))
        if not chunk:
            raise EOFError
        body += chunk
    return (Header(proc, kind, serial, status, program, version),
            msgpack.unpackb(body) if body else None)


def closed_by_peer(sock: socket.socket) -> bool:
    try:
        while True:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def still_serving(daemon: Any) -> None:
    with virtkit.open(daemon.uri()) as conn:
        assert conn.lookup_by_name("test").info().state == 1


def test_oversize_frame_length_is_refused_before_the_body_is_read(daemon: Any) -> None:
    sock = connect_raw(daemon.rw)
    # announce a frame one byte over the maximum, send only the header: the daemon must hang
    # up at once instead of waiting for (or allocating) 32 MiB
    sock.sendall(HEADER.pack(MAX_FRAME + 1, PROGRAM, VERSION, 1, Type.CALL, 1, 0))
    assert closed_by_peer(sock)
    assert "exceeds the maximum" in daemon.log()
    still_serving(daemon)


def test_negative_frame_length_is_refused(daemon: Any) -> None:
    sock = connect_raw(daemon.rw)
    sock.sendall(HEADER.pack(-5, PROGRAM, VERSION, 1, Type.CALL, 1, 0))
    assert closed_by_peer(sock)
    assert "smaller than the header" in daemon.log()
    still_serving(daemon)


@pytest.mark.parametrize("kind", [Type.REPLY, Type.EVENT, Type.STREAM])
def test_an_event_or_reply_sent_as_a_call_is_refused(daemon: Any, kind: Type) -> None:
    sock = connect_raw(daemon.rw)
    sock.sendall(encode(Header(procs.number("domain_destroy"), kind, 1),
                        {"dom": None, "graceful": False}))
    assert closed_by_peer(sock)
    assert f"a {kind.name} frame was sent as a request" in daemon.log()
    still_serving(daemon)


def test_an_unknown_procedure_answers_that_the_daemon_is_older(daemon: Any) -> None:
    from virtkit.remote.client import RpcClient
    from virtkit.remote.transport import SocketChannel

    client = RpcClient(SocketChannel(connect_raw(daemon.rw)), "hostX", keepalive_interval=0)
    try:
        with pytest.raises(VirtError) as exc:
            client.call_number(99999, "domain_teleport", {})
        assert exc.value.code == ErrorCode.NO_SUPPORT
        assert exc.value.message == ("the daemon at hostX is older than this client: it lacks "
                                     "domain_teleport")
    finally:
        client.close()


def scram_daemon(daemon_factory: Any, tmp_path: Path, port: int) -> Any:
    from virtkit.daemon.auth import make_credentials

    users = tmp_path / "users"
    users.write_text(make_credentials("alice", "s3cret", iterations=4096) + "\n")
    return daemon_factory(
        f'listen_tcp = 1\nlisten_tls = 0\nlisten_addr = "127.0.0.1"\ntcp_port = {port}\n'
        f'auth_tcp = "scram"\nscram_users_file = "{users}"\n',
        args=("--listen",), wait_for=f"127.0.0.1:{port}")


def test_calls_before_authentication_are_refused(daemon_factory: Any, tmp_path: Path,
                                                 tcp_port: int) -> None:
    scram_daemon(daemon_factory, tmp_path, tcp_port)
    sock = socket.create_connection(("127.0.0.1", tcp_port), timeout=10)
    for serial, (name, body) in enumerate([
        (procs.OPEN, {"uri": "test:///default", "read_only": False}),
        ("domain_lookup_by_name", {"name": "test"}),
        ("@admin_client_list", None),
    ], 1):
        sock.sendall(encode(Header(procs.number(name), Type.CALL, serial), body))
        header, reply = read_frame(sock)
        assert header.status == Status.ERROR and header.serial == serial
        assert reply["code"] == ErrorCode.AUTH_FAILED
        assert "authentication required" in reply["message"]
    sock.sendall(encode(Header(procs.number(procs.AUTH_LIST), Type.CALL, 9)))
    header, reply = read_frame(sock)
    assert header.status == Status.OK and reply["r"]["authenticated"] is False


def test_scram_login_with_the_right_password(daemon_factory: Any, tmp_path: Path,
                                             tcp_port: int, monkeypatch: Any) -> None:
    scram_daemon(daemon_factory, tmp_path, tcp_port)
    monkeypatch.setenv("VIRTKIT_PASSWORD", "s3cret")
    with virtkit.open(f"test+tcp://alice@127.0.0.1:{tcp_port}/default") as conn:
        assert conn.lookup_by_name("test").name == "test"


def test_a_wrong_password_is_refused(daemon_factory: Any, tmp_path: Path, tcp_port: int,
                                     monkeypatch: Any) -> None:
    scram_daemon(daemon_factory, tmp_path, tcp_port)
    for user, password in (("alice", "wrong"), ("mallory", "s3cret")):
        monkeypatch.setenv("VIRTKIT_PASSWORD", password)
        with pytest.raises(VirtError) as exc:
            virtkit.open(f"test+tcp://{user}@127.0.0.1:{tcp_port}/default")
        assert exc.value.code == ErrorCode.AUTH_FAILED
        assert exc.value.message == "authentication failed: wrong user name or password"


def test_plain_tcp_without_authentication_only_on_loopback(tmp_path: Path) -> None:
    from virtkit.daemon.config import load

    conf = tmp_path / "d.conf"
    conf.write_text('listen_tcp = 1\nlisten_addr = "0.0.0.0"\nauth_tcp = "none"\n')
    with pytest.raises(VirtError) as exc:
        load(conf)
    assert exc.value.code == ErrorCode.CONF_SYNTAX
    assert f"{conf}:3: key 'auth_tcp'" in exc.value.message
    conf.write_text('listen_tcp = 1\nlisten_addr = "127.0.0.1"\nauth_tcp = "none"\n')
    assert load(conf).auth_tcp == "none"


def tls_daemon(daemon_factory: Any, pki: Path, port: int, dn_list: str = "") -> Any:
    return daemon_factory(
        f'listen_tls = 1\nlisten_addr = "127.0.0.1"\ntls_port = {port}\n'
        f'ca_file = "{pki}/cacert.pem"\ncert_file = "{pki}/servercert.pem"\n'
        f'key_file = "{pki}/serverkey.pem"\n{dn_list}',
        args=("--listen",), wait_for=f"127.0.0.1:{port}")


def test_tls_with_a_certificate_from_the_ca(daemon_factory: Any, pki: Path, tcp_port: int) -> None:
    tls_daemon(daemon_factory, pki, tcp_port,
               'tls_allowed_dn_list = ["C=XX,O=virtkit,CN=virtkit-client-*"]\n')
    with virtkit.open(f"test+tls://127.0.0.1:{tcp_port}/default?pkipath={pki}") as conn:
        assert conn.lookup_by_name("test").name == "test"


def test_a_wrong_client_certificate_is_refused(daemon_factory: Any, pki: Path, tmp_path: Path,
                                               tcp_port: int) -> None:
    from click.testing import CliRunner

    from virtkit.cli.main import cli

    d = tls_daemon(daemon_factory, pki, tcp_port)
    other = tmp_path / "other-ca"
    assert CliRunner().invoke(cli, ["pki", "setup", str(other)]).exit_code == 0
    # a client certificate from another CA, trusting the daemon's CA
    (other / "cacert.pem").write_bytes((pki / "cacert.pem").read_bytes())
    with pytest.raises(VirtError) as exc:
        virtkit.open(f"test+tls://127.0.0.1:{tcp_port}/default?pkipath={other}")
    assert exc.value.code in (ErrorCode.AUTH_FAILED, ErrorCode.RPC)
    # no certificate at all
    ctx = ssl.create_default_context(cafile=str(pki / "cacert.pem"))
    with socket.create_connection(("127.0.0.1", tcp_port), timeout=10) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(encode(Header(procs.number(procs.AUTH_LIST), Type.CALL, 1)))
                assert tls.recv(100) == b""
        except (ssl.SSLError, ConnectionResetError):
            pass
    with virtkit.open(f"test+tls://127.0.0.1:{tcp_port}/default?pkipath={pki}") as conn:
        assert conn.get_type() == "test"
    assert d.proc is not None and d.proc.poll() is None


def test_a_dn_not_in_the_allowed_list_is_refused(daemon_factory: Any, pki: Path,
                                                 tcp_port: int) -> None:
    tls_daemon(daemon_factory, pki, tcp_port, 'tls_allowed_dn_list = ["C=XX,O=ops,CN=*"]\n')
    with pytest.raises(VirtError) as exc:
        virtkit.open(f"test+tls://127.0.0.1:{tcp_port}/default?pkipath={pki}")
    assert exc.value.code == ErrorCode.AUTH_FAILED
    assert "C=XX,O=virtkit,CN=virtkit-client-1" in exc.value.message
    assert "tls_allowed_dn_list" in exc.value.message


def test_an_empty_dn_list_admits_nobody(daemon_factory: Any, pki: Path, tcp_port: int) -> None:
    tls_daemon(daemon_factory, pki, tcp_port, "tls_allowed_dn_list = []\n")
    with pytest.raises(VirtError) as exc:
        virtkit.open(f"test+tls://127.0.0.1:{tcp_port}/default?pkipath={pki}")
    assert exc.value.code == ErrorCode.AUTH_FAILED


# -- fuzzing --------------------------------------------------------------------------------------

#: Every procedure but the two that change the daemon for everyone (limits, disconnects).
FUZZED = sorted(n for n, name in procs.by_number().items()
                if name not in ("@admin_set_limits", "@admin_client_close"))

frames = st.one_of(
    st.binary(max_size=200),
    st.builds(
        lambda length, program, version, proc, kind, serial, status, body: struct.pack(
            "!iIIiiIi", length, program, version, proc, kind, serial, status) + body,
        st.integers(-(2**31), 2**31 - 1) | st.integers(0, 300),
        st.sampled_from([PROGRAM, 0, 0xFFFFFFFF]),
        st.sampled_from([VERSION, 0, 2]),
        st.sampled_from(FUZZED) | st.integers(-(2**31), 2**31 - 1),
        st.integers(-1, 6),
        st.integers(0, 2**32 - 1),
        st.integers(-(2**31), 2**31 - 1),
        st.binary(max_size=100),
    ),
    st.builds(
        lambda proc, serial, body: encode(Header(proc, Type.CALL, serial), body),
        st.sampled_from(FUZZED),
        st.integers(0, 2**32 - 1),
        st.recursive(
            st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20)
            | st.binary(max_size=20),
            lambda inner: st.lists(inner, max_size=4)
            | st.dictionaries(st.text(max_size=10), inner, max_size=4),
            max_leaves=12,
        ),
    ),
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture],
          deadline=None)
@given(data=st.lists(frames, min_size=1, max_size=4))
def test_fuzzed_frames_never_crash_the_daemon(shared_daemon: Any, data: list[bytes]) -> None:
    sock = connect_raw(shared_daemon.rw)
    sock.settimeout(2)
    try:
        # open first so that hook procedures reach the driver with the fuzzed arguments
        sock.sendall(encode(Header(procs.number(procs.OPEN), Type.CALL, 1),
                            {"uri": "test:///default", "read_only": True}))
        read_frame(sock)
        for blob in data:
            sock.sendall(blob)
    except OSError:
        pass
    finally:
        sock.close()
    assert shared_daemon.proc.poll() is None, shared_daemon.log()
    # another client is served
    with connect_raw(shared_daemon.ro) as other:
        other.sendall(encode(Header(procs.number(procs.AUTH_LIST), Type.CALL, 7)))
        header, reply = read_frame(other)
        assert header.serial == 7 and reply["r"]["authenticated"] is True


def test_after_fuzzing_the_daemon_still_serves_drivers(shared_daemon: Any) -> None:
    still_serving(shared_daemon)


def test_a_record_or_scalar_result_travels_bare_and_a_map_or_list_wrapped(daemon: Any) -> None:
    """The reply layout the protocol's docs describe: a record or a scalar is the whole body,
    a map or a list is ``{"r": result}``."""
    with connect_raw(daemon.rw) as sock:
        def call(serial: int, name: str, body: Any = None) -> Any:
            sock.sendall(encode(Header(procs.number(name), Type.CALL, serial), body))
            header, reply = read_frame(sock)
            assert (header.serial, header.status) == (serial, Status.OK), reply
            return reply

        call(1, procs.OPEN, {"uri": "test:///default", "read_only": False})
        ref = call(2, "domain_lookup_by_name", {"name": "test"})
        assert ref[b"R"] == "DomainRef" and ref[b"V"][0] == "test"
        dom = {"dom": {b"R": "DomainRef", b"V": ref[b"V"]}}
        assert call(3, "domain_get_info", dom)[b"R"] == "DomainInfo"
        assert call(4, "domain_is_updated", dom) is False
        assert isinstance(call(5, "connect_get_hostname", {}), str)
        errors = call(6, "domain_get_disk_errors", dom)
        assert set(errors) == {"r"} and type(errors["r"]) is dict
        listing = call(7, "domain_list", {})
        assert set(listing) == {"r"} and listing["r"][0][b"R"] == "DomainSummary"
