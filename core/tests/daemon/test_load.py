"""Load and faults: 1,000 concurrent clients, kill -9 and restart, a client killed mid-call,
keepalive on both sides, priority workers, per-client request limits, clients that do not read."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import virtkit
from virtkit.remote import procedures as procs
from virtkit.remote.protocol import (
    HEADER,
    HEADER_SIZE,
    PING,
    PONG,
    Header,
    Status,
    Type,
    decode_header,
    encode,
)
from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.sdk.records import EVENT_KINDS

#: The issue asks for 1,000 clients. Opening a connection costs the daemon ~60 ms of CPU (the
#: plugin manager's registration), so 1,000 opens take a minute on this 2-core machine shared by
#: several engineers; CI runs 200 and VIRTKIT_LOAD_CLIENTS=1000 runs the full count (see
#: docs/daemon.md for the figures of a full run).
CLIENTS = int(os.environ.get("VIRTKIT_LOAD_CLIENTS", "200"))
SECONDS = 10.0


async def _read(reader: asyncio.StreamReader,
                writer: asyncio.StreamWriter | None = None) -> tuple[int, int, bytes]:
    """The next reply; keepalive pings are answered on the way (the daemon drops clients that
    do not answer them)."""
    while True:
        head = await reader.readexactly(HEADER_SIZE)
        length, _p, _v, proc, kind, serial, status = HEADER.unpack(head)
        body = await reader.readexactly(length - HEADER_SIZE)
        if kind != Type.KEEPALIVE:
            return serial, status, body
        if proc == PING and writer is not None:
            writer.write(encode(Header(PONG, Type.KEEPALIVE, serial)))


async def _one_client(path: str, stop_at: list[float], start: asyncio.Event,
                      counts: dict[str, int]) -> None:
    reader, writer = await asyncio.open_unix_connection(path)
    try:
        writer.write(encode(Header(procs.number(procs.OPEN), Type.CALL, 1),
                            {"uri": "test:///default", "read_only": True}))
        serial, status, _ = await _read(reader, writer)
        if status != Status.OK:
            counts["errors"] += 1
            return
        counts["open"] += 1
        await start.wait()
        lookup = procs.number("domain_lookup_by_name")
        n = 2
        while time.monotonic() < stop_at[0]:
            writer.write(encode(Header(lookup, Type.CALL, n), {"name": "test"}))
            serial, status, _ = await _read(reader, writer)
            if status != Status.OK or serial != n:
                counts["errors"] += 1
                return
            counts["calls"] += 1
            n += 1
    except (OSError, asyncio.IncompleteReadError):
        counts["errors"] += 1
    finally:
        writer.close()


def test_a_thousand_concurrent_clients_doing_lookups_for_ten_seconds(
    daemon_factory: Any,
) -> None:
    """CLIENTS concurrent clients (1,000 when asked, see above) each look up a domain in a loop
    for ten seconds: not one error, every client served."""
    # these raw clients read nothing while they wait for the others to open, so keepalive (which
    # would rightly drop them) is set longer than the opening phase
    daemon = daemon_factory("keepalive_interval = 120\n")
    async def run() -> dict[str, int]:
        counts = {"open": 0, "calls": 0, "errors": 0}
        start = asyncio.Event()
        stop_holder: list[float] = [time.monotonic() + 600]
        tasks = []
        for _ in range(CLIENTS):
            tasks.append(asyncio.ensure_future(
                _one_client(daemon.rw, stop_holder, start, counts)))
        # every client opened (or failed) before the clock starts
        deadline = time.monotonic() + 300
        while counts["open"] + counts["errors"] < CLIENTS and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        stop_holder[0] = time.monotonic() + SECONDS
        start.set()
        await asyncio.gather(*tasks)
        return counts

    counts = _run_load(run)
    print(f"{CLIENTS} clients for {SECONDS:.0f} s: {counts}")  # shown with pytest -s
    assert counts["errors"] == 0, counts
    assert counts["open"] == CLIENTS
    assert counts["calls"] > CLIENTS  # every client got served, most many times
    with virtkit.open(daemon.uri()) as conn:
        assert conn.lookup_by_name("test").name == "test"


def _run_load(run: Any) -> dict[str, int]:
    result: dict[str, int] = asyncio.run(run())
    return result


def test_kill_9_and_restart_keeps_every_definition(daemon_factory: Any,
                                                   mini_driver: dict[str, str]) -> None:
    d = daemon_factory(env=mini_driver)
    xml = "<domain type='mini'><name>{}</name><memory>131072</memory></domain>"
    uri = f"mini+unix:///session?socket={d.rw}"
    with virtkit.open(uri) as conn:
        for name in ("a1", "a2", "a3"):
            conn.define_xml(xml.format(name))
    d.send_signal(signal.SIGKILL)
    assert d.proc is not None
    d.proc.wait(10)
    d.start()  # a stale socket of the dead daemon is replaced
    with virtkit.open(uri) as conn:
        assert sorted(dom.name for dom in conn.list_domains()) == ["a1", "a2", "a3"]


def _counts(pid: int) -> tuple[int, int]:
    return len(os.listdir(f"/proc/{pid}/fd")), len(os.listdir(f"/proc/{pid}/task"))


def _settle(pid: int, want: tuple[int, int], timeout: float = 15) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    now = _counts(pid)
    while time.monotonic() < deadline and (now[0] > want[0] or now[1] > want[1]):
        time.sleep(0.1)
        now = _counts(pid)
    return now


CLIENT_SAVE = """
import sys, virtkit
conn = virtkit.open(sys.argv[1])
print("ready", flush=True)
conn.lookup_by_name("test").save(sys.argv[2])
"""


def _kill_mid_call(uri: str, path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", CLIENT_SAVE, uri, str(path)],
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.4)  # the save job is running in the daemon
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def test_a_client_killed_mid_call_leaks_nothing(daemon: Any, tmp_path: Path) -> None:
    uri = daemon.uri(extra="&job_seconds=1")
    # warm up: the worker threads exist and one full save/restore cycle ran
    with virtkit.open(uri) as conn:
        dom = conn.lookup_by_name("test")
        dom.save(str(tmp_path / "warm.save"))
        conn.restore(str(tmp_path / "warm.save"))
    _kill_mid_call(uri, tmp_path / "warm2.save")  # and the pool that closes dropped clients
    time.sleep(2)
    before = _counts(daemon.pid)
    _kill_mid_call(uri, tmp_path / "t.save")
    after = _settle(daemon.pid, before)
    assert after[0] <= before[0], f"file descriptors: {before[0]} before, {after[0]} after"
    assert after[1] <= before[1], f"threads: {before[1]} before, {after[1]} after"
    with virtkit.open(daemon.uri()) as conn:
        assert conn.lookup_by_name("test").state()[0] in (1, 5)


def test_keepalive_closes_a_dead_client_on_the_daemon_side(daemon_factory: Any) -> None:
    d = daemon_factory("keepalive_interval = 1\nkeepalive_count = 2\n")
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(d.rw)
    sock.settimeout(10)
    sock.sendall(encode(Header(procs.number(procs.AUTH_LIST), Type.CALL, 1)))
    started = time.monotonic()
    pings = 0
    while True:  # never answer: the daemon pings, then gives up
        head = sock.recv(HEADER_SIZE)
        if not head:
            break
        if len(head) == HEADER_SIZE and HEADER.unpack(head)[4] == Type.KEEPALIVE:
            pings += 1
    assert pings >= 1
    assert time.monotonic() - started < 8
    assert "no answer to keepalive" in d.log()


def _all_stopped(pid: int) -> bool:
    """Every thread of ``pid`` is stopped (SIGSTOP takes effect thread by thread)."""
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "T":
                    return False
        except OSError:
            continue
    return True


def test_keepalive_closes_a_dead_daemon_on_the_client_side(daemon: Any) -> None:
    conn = virtkit.open(daemon.uri(extra="&keepalive_interval=0.5&keepalive_count=2"))
    try:
        daemon.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not _all_stopped(daemon.pid):
            time.sleep(0.01)
        started = time.monotonic()
        with pytest.raises(VirtError) as exc:
            conn.lookup_by_name("test")
        assert time.monotonic() - started < 8
        assert exc.value.code == ErrorCode.RPC
        assert "no keepalive answer" in exc.value.message
    finally:
        daemon.send_signal(signal.SIGCONT)
        conn.close()


def test_priority_workers_serve_lookups_and_destroy_while_every_worker_is_busy(
    daemon_factory: Any, tmp_path: Path
) -> None:
    d = daemon_factory("max_workers = 1\nprio_workers = 1\n")
    busy = virtkit.open(d.uri(extra="&job_seconds=3"))
    other = virtkit.open(d.uri())
    other.define_xml("<domain type='test'><name>victim</name><memory>131072</memory>"
                     "<vcpu>1</vcpu><os><type>hvm</type></os></domain>").create()
    saver = threading.Thread(target=lambda: busy.lookup_by_name("test").save(
        str(tmp_path / "busy.save")))
    try:
        saver.start()
        time.sleep(0.5)  # the only ordinary worker runs the 3 s save
        started = time.monotonic()
        victim = other.lookup_by_name("victim")
        victim.destroy()
        assert time.monotonic() - started < 1.5
        assert victim.state()[0] == 5
        assert saver.is_alive()  # it really was busy
    finally:
        saver.join(15)
        busy.close()
        other.close()


@pytest.mark.parametrize("limit", [1, 2])
def test_max_client_requests_stops_reading_a_client_at_its_limit(
    daemon_factory: Any, tmp_path: Path, limit: int
) -> None:
    d = daemon_factory(f"max_client_requests = {limit}\n")
    conn = virtkit.open(d.uri(extra="&job_seconds=2"))
    dom = conn.lookup_by_name("test")
    saver = threading.Thread(target=lambda: dom.save(str(tmp_path / "s.save")))
    try:
        saver.start()
        time.sleep(0.4)
        started = time.monotonic()
        conn.lookup_by_name("test")
        waited = time.monotonic() - started
        if limit == 1:
            assert waited > 1.0  # read only after the save's reply went
        else:
            assert waited < 1.0
    finally:
        saver.join(10)
        conn.close()


def test_a_client_that_does_not_read_its_events_is_disconnected(daemon_factory: Any) -> None:
    d = daemon_factory("max_client_backlog = 65536\nkeepalive_interval = 1\n")
    lazy = socket.socket(socket.AF_UNIX)
    lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    lazy.connect(d.rw)
    _open_for_events(lazy)
    _events_until_dropped(d)
    lazy.close()


def _open_for_events(sock: Any) -> None:
    """Open a connection on a raw client socket, wait for the reply, and ask for every kind of
    event (the daemon sends none unasked); then the client reads nothing more."""
    sock.sendall(encode(Header(procs.number(procs.OPEN), Type.CALL, 1),
                        {"uri": "test:///default", "read_only": True}))
    reply = b""
    while len(reply) < 4 or len(reply) < int.from_bytes(reply[:4], "big"):
        chunk = sock.recv(4096)
        assert chunk, "the daemon closed the connection instead of opening it"
        reply += chunk
    assert decode_header(reply[:HEADER_SIZE]).status == Status.OK
    sock.sendall(encode(Header(procs.number(procs.EVENTS), Type.CALL, 2),
                        {"kinds": list(EVENT_KINDS)}))


def _events_until_dropped(d: Any) -> None:
    """Cause events from a busy client until the daemon drops the one that reads nothing; the
    busy client is never held up."""
    with virtkit.open(d.uri()) as conn:
        dom = conn.lookup_by_name("test")
        started = time.monotonic()
        while time.monotonic() - started < 30:
            dom.suspend()
            dom.resume()
            if "reads nothing" in d.log():
                break
        assert "reads nothing (its socket stayed full for 1 s)" in d.log()
        assert time.monotonic() - started < 30
        assert dom.state()[0] == 1


def test_a_stdio_peer_that_reads_nothing_times_out_the_writer() -> None:
    """``virtkitd --stdio`` (the far end of +ssh): a peer that stops reading its pipe makes the
    daemon's write time out (and the client be dropped), never block a thread for good."""
    from virtkit.daemon.server import PipeLink

    rfd, _unused = os.pipe()
    pipe_r, pipe_w = os.pipe()  # nobody reads pipe_r
    link = PipeLink(rfd, pipe_w)
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            link.send(b"x" * (4 << 20), 0.5)
        assert 0.4 < time.monotonic() - started < 5
    finally:
        link.close()
        for fd in (pipe_r, _unused):
            os.close(fd)


def test_a_tls_client_that_does_not_read_its_events_is_disconnected(
    daemon_factory: Any, tmp_path: Path, tcp_port: int
) -> None:
    """As over a unix socket: a TLS client whose socket stays full is dropped, and the busy
    client is not held up."""
    import ssl

    from click.testing import CliRunner

    from virtkit.cli.main import cli

    pki = tmp_path / "pki"
    assert CliRunner().invoke(cli, ["pki", "setup", str(pki), "--server-name", "127.0.0.1",
                                    "--client-cn", "virtkit-client-1"]).exit_code == 0
    d = daemon_factory(
        f'max_client_backlog = 65536\nkeepalive_interval = 1\nlisten_tls = 1\n'
        f'listen_addr = "127.0.0.1"\ntls_port = {tcp_port}\nca_file = "{pki}/cacert.pem"\n'
        f'cert_file = "{pki}/servercert.pem"\nkey_file = "{pki}/serverkey.pem"\n',
        args=("--listen",), wait_for=f"127.0.0.1:{tcp_port}")
    ctx = ssl.create_default_context(cafile=str(pki / "cacert.pem"))
    ctx.load_cert_chain(str(pki / "clientcert.pem"), str(pki / "clientkey.pem"))
    raw = socket.socket(socket.AF_INET)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", tcp_port))
    lazy = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    try:
        _open_for_events(lazy)
        _events_until_dropped(d)
    finally:
        lazy.close()


def test_quick_calls_during_and_after_a_long_one_on_the_same_client(
    daemon_factory: Any, tmp_path: Path
) -> None:
    """A long call has its client's reading taken over; the new reader runs quick calls itself.
    When the long call ends, its thread must leave, not read on beside the new reader (which
    would answer frames twice or split them)."""
    d = daemon_factory("max_client_requests = 8\n")
    conn = virtkit.open(d.uri(extra="&job_seconds=1"))
    dom = conn.lookup_by_name("test")
    errors: list[BaseException] = []

    def save() -> None:
        try:
            dom.save(str(tmp_path / "s.save"))
            conn.restore(str(tmp_path / "s.save"))
        except BaseException as exc:
            errors.append(exc)

    payload = os.urandom(1024 * 1024 + 17)  # frames larger than one read: two readers split them
    pool = conn.storage_pool_lookup_by_name("default-pool")
    vol = pool.create_xml("<volume><name>up.img</name><capacity unit='MiB'>2</capacity></volume>")

    def round_trip() -> None:
        with vol.upload(0, len(payload)) as stream:
            assert stream.send_all(payload) == len(payload)
        with vol.download(0, len(payload)) as stream:
            assert stream.recv_all() == payload
        assert conn.lookup_by_name("test").name == "test"

    saver = threading.Thread(target=save)
    try:
        saver.start()
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline or saver.is_alive():
            round_trip()
        saver.join(10)
        assert errors == []
        for _ in range(5):
            round_trip()
    finally:
        saver.join(10)
        conn.close()
