"""The remote driver over virtkitd's unix sockets: every hook forwarded, errors, events, streams,
jobs, read-only refusal and the session daemon's uid check."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

import virtkit
from virtkit.remote import procedures as procs
from virtkit.remote.client import RpcClient
from virtkit.remote.transport import SocketChannel
from virtkit.sdk.errors import ErrorCode, VirtError, no_support
from virtkit.sdk.hookspecs import PREFIX, all_specs
from virtkit.sdk.hookspecs.markers import meta

DOMAIN_XML = """<domain type='test'><name>{name}</name><memory unit='MiB'>128</memory>
<vcpu>1</vcpu><os><type>hvm</type></os></domain>"""


def raw_client(path: str) -> RpcClient:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return RpcClient(SocketChannel(sock), "localhost", keepalive_interval=0)


def test_remote_connection_names_the_far_driver_and_its_operations(daemon: Any) -> None:
    local = virtkit.open("test:///default")
    with virtkit.open(daemon.uri()) as conn:
        assert conn.driver_name == "test"
        assert conn.get_type() == "test"
        assert conn.driver.capabilities == local.driver.capabilities
        for hook in all_specs():
            op = hook[len(PREFIX):]
            assert conn.implements(op) == local.implements(op), op
    local.close()


def test_lifecycle_and_far_errors_keep_code_domain_and_message(daemon: Any) -> None:
    with virtkit.open(daemon.uri()) as conn:
        dom = conn.define_xml(DOMAIN_XML.format(name="web1"))
        assert dom.name == "web1" and dom.id == -1
        dom.create()
        dom.suspend()
        assert dom.state()[0] == 3
        dom.resume()
        dom.destroy()
        with pytest.raises(VirtError) as far:
            dom.suspend()
        with virtkit.open("test:///default") as local:
            with pytest.raises(VirtError) as near:
                local.define_xml(DOMAIN_XML.format(name="web1")).suspend()
        assert (far.value.code, far.value.domain, far.value.message) == (
            near.value.code, near.value.domain, near.value.message)
        with pytest.raises(VirtError) as missing:
            conn.lookup_by_name("no-such")
        assert missing.value.code == ErrorCode.NO_DOMAIN
        assert "'no-such'" in missing.value.message
        dom.undefine()


def test_a_hook_the_far_driver_lacks_is_no_support_naming_it(
    daemon_factory: Any, mini_driver: dict[str, str]
) -> None:
    d = daemon_factory(env=mini_driver)
    with virtkit.open(f"mini+unix:///session?socket={d.rw}") as conn:
        assert conn.driver_name == "mini"
        assert conn.implements("domain_define_xml")
        assert not conn.implements("domain_suspend")
        dom = conn.define_xml(DOMAIN_XML.format(name="m1"))
        with pytest.raises(VirtError) as exc:
            dom.suspend()
        assert exc.value.code == ErrorCode.NO_SUPPORT
        assert exc.value.message == no_support("domain_suspend", "mini").message
        dom.undefine()


def _argnames(op: str) -> tuple[str, ...]:
    import inspect

    return tuple(inspect.signature(all_specs()[PREFIX + op]).parameters)


def test_events_arrive_through_the_same_callbacks(daemon: Any) -> None:
    got: list[Any] = []
    seen = threading.Event()
    with virtkit.open(daemon.uri()) as conn:
        dom = conn.define_xml(DOMAIN_XML.format(name="ev1"))

        def callback(event: Any) -> None:
            got.append(event)
            if len(got) >= 2:
                seen.set()

        conn.event_register("domain-lifecycle", callback)
        dom.create()
        dom.destroy()
        assert seen.wait(10), got
        assert all(ev.obj.name == "ev1" for ev in got)
        assert [ev.event for ev in got[:2]] == [2, 5]  # started, stopped


def test_events_cross_the_wire_only_while_a_callback_wants_them(daemon: Any) -> None:
    """As libvirt's daemon: a client gets the events it registered for and no others, so a
    client without callbacks is sent no event frames at all."""
    frames: list[Any] = []
    with virtkit.open(daemon.uri()) as conn:
        client = conn._dispatch.driver.client  # the remote driver's RpcClient
        relay = client.on_event
        client.on_event = lambda body: (frames.append(body), relay and relay(body))
        dom = conn.lookup_by_name("test")
        dom.suspend()
        dom.resume()
        conn.lookup_by_name("test")  # any events of the calls above came before this reply
        assert frames == []

        got: list[Any] = []
        cid = conn.event_register("domain-reboot", got.append)
        dom.suspend()
        dom.resume()
        conn.lookup_by_name("test")
        assert frames == []  # lifecycle events are still not wanted
        life = conn.event_register("domain-lifecycle", got.append)
        dom.suspend()
        conn.lookup_by_name("test")
        assert [(ev.kind, ev.event) for ev in frames] == [("domain-lifecycle", 3)]
        conn.event_deregister(life)
        conn.event_deregister(cid)
        dom.resume()
        conn.lookup_by_name("test")
        assert len(frames) == 1


def test_the_events_procedure_checks_its_argument(daemon: Any) -> None:
    client = raw_client(daemon.rw)
    try:
        with pytest.raises(VirtError) as exc:
            client.call(procs.EVENTS, {"kinds": ["domain-lifecycle"]})
        assert exc.value.code == ErrorCode.INVALID_CONN
        client.call(procs.OPEN, {"uri": "test:///default", "read_only": False})
        with pytest.raises(VirtError) as exc:
            client.call(procs.EVENTS, {"kinds": ["domain-lifecycle", "no-such-kind"]})
        assert exc.value.code == ErrorCode.INVALID_ARG
        assert "no-such-kind" in exc.value.message
        with pytest.raises(VirtError) as exc:
            client.call(procs.EVENTS, {"kinds": "domain-lifecycle"})
        assert exc.value.code == ErrorCode.RPC
        assert client.call(procs.EVENTS, {"kinds": []}) is True
    finally:
        client.close()


def test_event_stream_over_the_daemon(daemon: Any) -> None:
    import asyncio

    async def run() -> Any:
        with virtkit.open(daemon.uri()) as conn:
            dom = conn.lookup_by_name("test")
            stream = conn.event_stream("domain-lifecycle")
            waiter = asyncio.ensure_future(stream.__anext__())
            await asyncio.sleep(0.2)
            await asyncio.get_running_loop().run_in_executor(None, dom.suspend)
            event = await asyncio.wait_for(waiter, 10)
            await stream.aclose()
            return event

    event = asyncio.run(run())
    assert event.obj.name == "test" and event.event == 3  # suspended


def test_volume_upload_and_download_stream_through_the_daemon(daemon: Any) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)
    with virtkit.open(daemon.uri()) as conn:
        pool = conn.storage_pool_lookup_by_name("default-pool")
        vol = pool.create_xml(
            "<volume><name>up.img</name><capacity unit='MiB'>8</capacity></volume>")
        with vol.upload(0, len(payload)) as stream:
            assert stream.send_all(payload) == len(payload)
        with vol.download(0, len(payload)) as stream:
            assert stream.recv_all() == payload
        vol.delete()


def test_job_progress_and_abort_from_another_thread(daemon: Any, tmp_path: Any) -> None:
    uri = daemon.uri(extra="&job_seconds=3")
    with virtkit.open(uri) as conn:
        dom = conn.lookup_by_name("test")
        failure: list[VirtError] = []

        def save() -> None:
            try:
                dom.save(str(tmp_path / "test.save"))
            except VirtError as exc:
                failure.append(exc)

        worker = threading.Thread(target=save)
        worker.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            info = dom.job_info()
            if info.type == 1 and info.data_processed > 0:
                break
            time.sleep(0.05)
        assert info.type == 1 and info.data_total > 0
        dom.abort_job()
        worker.join(10)
        assert failure and failure[0].code == ErrorCode.OPERATION_ABORTED
        assert dom.state()[0] == 1  # still running


def _write_hook_calls() -> list[tuple[str, dict[str, Any]]]:
    """Every call a read-only connection must refuse, generated from the hookspecs: hooks that
    are never read-only (arguments None), and for hooks read-only only for some arguments, the
    arguments that make them a write."""
    calls: list[tuple[str, dict[str, Any]]] = []
    for hook, fn in all_specs().items():
        op = hook[len(PREFIX):]
        names = _argnames(op)
        rule = meta(fn).readonly
        if rule is True:
            continue
        if rule is False:
            calls.append((op, dict.fromkeys(names)))
            continue
        for arg in names:
            for value in (True, "agent", 1):
                kwargs: dict[str, Any] = {**dict.fromkeys(names), arg: value}
                try:
                    if not rule(kwargs):
                        calls.append((op, kwargs))
                        break
                except Exception:
                    continue
            else:
                continue
            break
        else:
            pytest.fail(f"no arguments make {op} a write: extend the candidates")
    return calls


def test_read_only_socket_refuses_every_write_hook(daemon: Any) -> None:
    calls = _write_hook_calls()
    assert len(calls) > 40
    client = raw_client(daemon.ro)
    try:
        info = client.call(procs.OPEN, {"uri": "test:///default", "read_only": False})
        assert info["read_only"] is True
        for op, kwargs in calls:
            with pytest.raises(VirtError) as exc:
                client.call(op, kwargs)
            assert exc.value.code == ErrorCode.OPERATION_DENIED, (op, exc.value)
    finally:
        client.close()
    # and nothing changed: the preloaded domain still runs
    with virtkit.open(daemon.uri(read_only=True), read_only=True) as conn:
        assert conn.lookup_by_name("test").state()[0] == 1


def test_read_only_socket_serves_reads(daemon: Any) -> None:
    with virtkit.open(daemon.uri(read_only=True), read_only=True) as conn:
        assert [d.name for d in conn.list_domains()] == ["test"]
        assert conn.node_info().cpus > 0


def test_another_uid_on_a_session_socket_is_refused(daemon_factory: Any) -> None:
    import shutil
    import tempfile
    from pathlib import Path

    sockdir = Path(tempfile.mkdtemp(prefix="virtkitd-session-"))
    os.chmod(sockdir, 0o755)  # reachable by uid 65534, unlike the test's own directory
    try:
        _session_uid_check(daemon_factory, sockdir)
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)


def _session_uid_check(daemon_factory: Any, sockdir: Any) -> None:
    d = daemon_factory(f'unix_sock_rw_perms = "0777"\nunix_sock_dir = "{sockdir}"\n',
                       args=("--session",), sockdir=sockdir)
    probe = (
        "import os, socket, struct, sys\n"
        "os.setgid(65534); os.setgroups([]); os.setuid(65534)\n"
        "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
        "s.settimeout(5); data = s.recv(4096); print(len(data)); print(data[28:].decode("
        "'utf-8', 'replace'))\n"
        "print(repr(s.recv(10)))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, d.rw], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    assert "serves only uid" in out.stdout and "not uid 65534" in out.stdout
    assert out.stdout.strip().endswith("b''")  # and the daemon closed the connection
    # its own uid is served
    with virtkit.open(d.uri()) as conn:
        assert conn.lookup_by_name("test").name == "test"


def test_iothreads_through_the_daemon(daemon: Any) -> None:
    with virtkit.open(daemon.uri()) as conn:
        dom = conn.define_xml(DOMAIN_XML.format(name="io1"))
        dom.add_io_thread(3)
        dom.pin_io_thread(3, [True, False])
        dom.create()
        dom.set_io_thread_params(3, {"poll_max_ns": 10})
        assert dom.io_thread_info() == [(3, (True,) + (False,) * (conn.node_info().cpus - 1))]
        assert conn.domain_list_get_stats([dom], ["iothread"])[0][1][
            "iothread.3.poll-max-ns"] == 10
        with pytest.raises(VirtError) as far:
            dom.del_io_thread(8)
        assert far.value.code == ErrorCode.INVALID_ARG and "'io1'" in far.value.message
        dom.destroy()
        dom.undefine()


def test_managed_save_image_xml_through_the_daemon(daemon: Any) -> None:
    with virtkit.open(daemon.uri()) as conn:
        dom = conn.define_xml(DOMAIN_XML.format(name="ms1"))
        dom.create()
        dom.managed_save()
        xml = dom.managed_save_get_xml_desc()
        assert "<name>ms1</name>" in xml
        dom.managed_save_define_xml(xml, start_state="paused")
        with pytest.raises(VirtError) as far:
            dom.managed_save_define_xml(xml.replace("<name>ms1<", "<name>ms2<"))
        assert far.value.code == ErrorCode.OPERATION_INVALID and "'ms1'" in far.value.message
        dom.create()
        assert dom.state()[0] == 3  # paused, as the image now says
        dom.destroy()
        dom.undefine()


def test_host_discovery_labels_signals_keys_peeks_and_channels_cross_the_daemon(
        daemon: Any) -> None:
    """The calls added for libvirt's remaining API work through virtkitd as in-process:
    records, bytes, lists of records, XML text and streams."""
    with virtkit.open(daemon.uri()) as conn:
        dev = conn.node_device_define_xml(
            "<device><parent>pci_0000_00_02_0</parent><capability type='mdev'>"
            "<type id='i915-GVTg_V5_4'/><uuid>0b4f3e44-9d0b-4bc4-a3f3-3e0c8b7f6d11</uuid>"
            "</capability></device>")
        dev.set_autostart(True)
        assert dev.autostart is True and dev.summary().autostart is True
        dev.undefine()
        assert "<name>testvg1</name>" in conn.find_storage_pool_sources("logical")
        assert "<storagepoolCapabilities>" in conn.get_storage_pool_capabilities()
        dom = conn.lookup_by_name("test")
        assert list(dom.security_label()) == ["libvirt-test", True]
        dom.send_process_signal(1, "term")
        dom.authorized_ssh_keys_set("root", ["ssh-ed25519 AAAAdaemon d@h"], append=True)
        assert dom.authorized_ssh_keys_get("root") == ["ssh-ed25519 AAAAdaemon d@h"]
        assert dom.memory_peek(0, 24, 2) == b"VIRTKIT-TEST-MEMORY test"
        dom.start_dirty_rate_calc(1)
        stats = conn.domain_list_get_stats([dom], ["dirtyrate"])[0][1]
        assert stats["dirtyrate.calc_status"] == 1
        with pytest.raises(VirtError) as err:
            conn.find_storage_pool_sources("warp")
        assert err.value.code == ErrorCode.INVALID_ARG
        plain = conn.create_xml(DOMAIN_XML.format(name="chan").replace(
            "</os>", "</os><devices><channel type='unix'><target type='virtio' "
                     "name='org.example.0'/></channel></devices>"))
        channel = plain.open_channel()
        channel.send(b"through the daemon")
        assert channel.recv(100, timeout=5) == b"through the daemon"
        channel.abort()
        plain.destroy()


def test_a_graphics_client_speaks_rfb_through_the_daemon(daemon: Any) -> None:
    with virtkit.open(daemon.uri()) as conn:
        dom = conn.create_xml(DOMAIN_XML.format(name="vnc").replace(
            "</os>", "</os><devices><graphics type='vnc'/></devices>"))
        client = dom.open_graphics(0)
        assert client.recv(12, timeout=5) == b"RFB 003.008\n"
        client.send(b"RFB 003.008\n")
        assert client.recv(2, timeout=5) == b"\x01\x01"
        with pytest.raises(VirtError) as err:
            dom.open_graphics(1)
        assert err.value.code == ErrorCode.INVALID_ARG and "'vnc'" in err.value.message
        client.abort()
        dom.destroy()
