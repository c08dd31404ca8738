"""Pool lifecycle of the host storage service, state shared by drivers, crashes and safety."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from storagekit import HostDriver, dir_pool_xml, open_host, vol_xml

import virtkit
from virtkit.runtime import registry
from virtkit.sdk.errors import ErrorCode
from virtkit.sdk.states import PoolEventLifecycle
from virtkit.services.storage import HostStorage

MiB = 1024 * 1024


def test_entry_point_names_the_service():
    assert registry.service_class("storage") is HostStorage
    assert HostDriver.host_services == ("storage",)


def test_lifecycle_info_xml_and_events(conn, tmp_path):
    events = []
    conn.event_register("pool-lifecycle", events.append)
    target = tmp_path / "p1"
    p = conn.storage_pool_define_xml(dir_pool_xml("p1", target))
    assert not p.is_active() and p.is_persistent()
    assert p.info().state == 0
    p.build()
    assert target.is_dir()
    p.create()
    info = p.info()
    st = os.statvfs(target)
    assert info.state == 2
    assert info.capacity == st.f_frsize * st.f_blocks
    assert abs(info.available - st.f_frsize * st.f_bavail) < 64 * MiB
    assert f"<path>{target}</path>" in p.xml_desc()
    with pytest.raises(virtkit.VirtError) as e:
        p.create()
    assert e.value.code == ErrorCode.OPERATION_INVALID and "p1" in str(e.value)
    with pytest.raises(virtkit.VirtError) as e:
        p.delete()
    assert e.value.code == ErrorCode.OPERATION_INVALID
    p.destroy()
    p.delete()
    assert not target.exists()
    p.undefine()
    with pytest.raises(virtkit.VirtError) as e:
        conn.storage_pool_lookup_by_name("p1")
    assert e.value.code == ErrorCode.NO_STORAGE_POOL and "'p1'" in str(e.value)
    deadline = time.monotonic() + 5
    want = [PoolEventLifecycle.DEFINED, PoolEventLifecycle.CREATED, PoolEventLifecycle.STARTED,
            PoolEventLifecycle.STOPPED, PoolEventLifecycle.DELETED,
            PoolEventLifecycle.UNDEFINED]
    while len(events) < len(want) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [ev.event for ev in events] == [int(w) for w in want]


def test_transient_pool_vanishes_when_stopped(conn, tmp_path):
    p = conn.storage_pool_create_xml(dir_pool_xml("t", tmp_path / "t"), build=True)
    assert p.is_active() and not p.is_persistent()
    with pytest.raises(virtkit.VirtError) as e:
        p.set_autostart(True)
    assert e.value.code == ErrorCode.OPERATION_INVALID
    p.destroy()
    assert "t" not in [x.name for x in conn.list_storage_pools()]
    assert (tmp_path / "t").is_dir()  # its data stays


def test_clashes_of_name_uuid_and_target(conn, tmp_path):
    conn.storage_pool_define_xml(dir_pool_xml("a", tmp_path / "a",
                                              "11111111-2222-3333-4444-555555555555"))
    for xml in (dir_pool_xml("b", tmp_path / "b", "11111111-2222-3333-4444-555555555555"),
                dir_pool_xml("c", tmp_path / "a"),
                dir_pool_xml("a", tmp_path / "a", "99999999-2222-3333-4444-555555555555")):
        with pytest.raises(virtkit.VirtError) as e:
            conn.storage_pool_define_xml(xml)
        assert e.value.code == ErrorCode.OPERATION_FAILED


def test_unsupported_type_is_refused(conn):
    with pytest.raises(virtkit.VirtError) as e:
        conn.storage_pool_define_xml(
            "<pool type='rbd'><name>r</name><source><name>x</name></source></pool>")
    assert e.value.code == ErrorCode.CONFIG_UNSUPPORTED and "rbd" in str(e.value)


def test_read_only_connection_cannot_change(pool, state_root):
    ro = open_host(read_only=True)
    try:
        assert [p.name for p in ro.list_storage_pools()] == ["images"]
        with pytest.raises(virtkit.VirtError) as e:
            ro.storage_pool_lookup_by_name("images").create_xml(vol_xml("x", MiB))
        assert e.value.code == ErrorCode.OPERATION_DENIED
    finally:
        ro.close()


class OtherDriver(HostDriver):
    name = "othertest"


def test_drivers_of_one_instance_share_pools(pool, state_root):
    from virtkit.api.connection import Connection
    from virtkit.sdk.uri import parse_uri

    other = Connection("othertest:///session", parse_uri("othertest:///session"), False,
                       OtherDriver, (), services=registry.service_classes(("storage",)))
    system = open_host("hosttest:///system")
    try:
        pool.create_xml(vol_xml("shared", MiB))
        p = other.storage_pool_lookup_by_name("images")
        assert p.is_active() and p.list_volume_names() == ["shared"]
        assert system.list_storage_pools() == []  # another instance, other pools
    finally:
        other.close()
        system.close()


def test_autostart_pools_start_with_the_first_connection_of_a_boot(conn, tmp_path,
                                                                    state_root):
    p = conn.storage_pool_define_xml(dir_pool_xml("auto", tmp_path / "auto"))
    p.build()
    p.set_autostart(True)
    assert p.autostart
    conn.close()
    shutil.rmtree(state_root / "session" / "storage" / "run")  # a reboot clears /run
    again = open_host()
    try:
        assert again.storage_pool_lookup_by_name("auto").is_active()
    finally:
        again.close()


def test_state_survives_kill_9_and_refresh_reconciles(state_root, tmp_path):
    target = tmp_path / "crash"
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from storagekit import open_host, dir_pool_xml, vol_xml
        c = open_host()
        p = c.storage_pool_define_xml(dir_pool_xml("crash", {str(target)!r}))
        p.build(); p.create()
        for n in ("keep", "gone"):
            p.create_xml(vol_xml(n, 1048576, "qcow2"))
        # a create that crashed half way: its temporary file
        open(os.path.join({str(target)!r}, ".virtkit-tmp-deadbeef"), "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], env=os.environ.copy(),
                          capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    os.unlink(target / "gone")  # behind our back
    old = time.time() - 3600
    os.utime(target / ".virtkit-tmp-deadbeef", (old, old))
    c = open_host()
    try:
        p = c.storage_pool_lookup_by_name("crash")
        assert p.is_active()
        assert p.list_volume_names() == ["keep"]  # never the temporary file
        p.refresh()
        assert not (target / ".virtkit-tmp-deadbeef").exists()
        keep = p.storage_vol_lookup_by_name("keep")
        assert "qcow2" in keep.xml_desc() and keep.info().capacity == MiB
        meta = state_root / "session" / "storage" / "config" / "volumes"
        assert sorted(f.name for f in meta.rglob("*.json")) == ["keep.json"]
    finally:
        c.close()


def test_pool_whose_target_vanished_is_inactive_on_next_open(pool, tmp_path, state_root):
    shutil.rmtree(tmp_path / "images")
    c = open_host()
    try:
        assert not c.storage_pool_lookup_by_name("images").is_active()
    finally:
        c.close()


# -- safety ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", ".", "x/../../y"])
def test_unsafe_volume_names_are_invalid_arg(pool, name):
    with pytest.raises(virtkit.VirtError) as e:
        pool.create_xml(vol_xml(name, MiB))
    assert e.value.code == ErrorCode.INVALID_ARG
    with pytest.raises(virtkit.VirtError) as e:
        pool.storage_vol_lookup_by_name(name)
    assert e.value.code == ErrorCode.INVALID_ARG


def test_symlinks_escaping_the_pool_are_refused(conn, pool, tmp_path):
    outside = tmp_path / "secret"
    outside.write_bytes(b"do not touch")
    target = tmp_path / "images"
    os.symlink(outside, target / "link")
    assert "link" not in pool.list_volume_names()
    for lookup, arg in ((pool.storage_vol_lookup_by_name, "link"),
                        (conn.storage_vol_lookup_by_path, str(target / "link"))):
        with pytest.raises(virtkit.VirtError) as e:
            lookup(arg)
        assert e.value.code == ErrorCode.INVALID_ARG and "outside" in str(e.value)
    with pytest.raises(virtkit.VirtError) as e:
        pool.create_xml(vol_xml("link", MiB))
    assert e.value.code == ErrorCode.INVALID_ARG
    assert outside.read_bytes() == b"do not touch"
    assert os.path.islink(target / "link")


def test_symlink_inside_the_pool_is_a_volume_and_delete_removes_only_the_link(pool, tmp_path):
    real = pool.create_xml(vol_xml("real", MiB))
    os.symlink(real.path, tmp_path / "images" / "alias")
    alias = pool.storage_vol_lookup_by_name("alias")
    alias.delete()
    assert os.path.exists(real.path) and not os.path.lexists(tmp_path / "images" / "alias")


def test_failed_create_leaves_no_partial_file(pool, tmp_path):
    raw = pool.create_xml(vol_xml("plain", MiB))
    before = sorted(os.listdir(tmp_path / "images"))
    bad = vol_xml("broken", MiB, "qcow2",
                  extra=f"<backingStore><path>{raw.path}</path><format type='qcow2'/>"
                        f"</backingStore>")
    with pytest.raises(virtkit.VirtError) as e:
        pool.create_xml(bad)
    assert e.value.code == ErrorCode.OPERATION_FAILED and "broken" in str(e.value)
    assert sorted(os.listdir(tmp_path / "images")) == before
    assert "broken" not in pool.list_volume_names()


def test_volume_ops_on_an_inactive_pool(pool):
    pool.create_xml(vol_xml("v", MiB))
    pool.destroy()
    for call in (pool.list_volume_names, lambda: pool.storage_vol_lookup_by_name("v"),
                 pool.refresh):
        with pytest.raises(virtkit.VirtError) as e:
            call()
        assert e.value.code == ErrorCode.OPERATION_INVALID and "images" in str(e.value)


def test_concurrent_creates_of_one_name_make_one_volume(pool, tmp_path, state_root):
    import threading

    conns = [open_host() for _ in range(6)]
    results: list[object] = []
    barrier = threading.Barrier(len(conns))

    def create(c):
        p = c.storage_pool_lookup_by_name("images")
        barrier.wait()
        try:
            results.append(p.create_xml(vol_xml("race.qcow2", MiB, "qcow2")).name)
        except virtkit.VirtError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=create, args=(c,)) for c in conns]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for c in conns:
            c.close()
    assert results.count("race.qcow2") == 1
    assert all(r == ErrorCode.STORAGE_VOL_EXIST for r in results if r != "race.qcow2")
    assert sorted(os.listdir(tmp_path / "images")) == ["race.qcow2"]  # no temporary files
    assert "qcow2" in pool.storage_vol_lookup_by_name("race.qcow2").xml_desc()


def test_build_applies_the_target_permissions(conn, tmp_path):
    target = tmp_path / "perm-pool"
    p = conn.storage_pool_define_xml(
        f"<pool type='dir'><name>perm</name><target><path>{target}</path><permissions>"
        f"<mode>0711</mode><owner>4321</owner><group>1234</group></permissions></target></pool>")
    p.build()
    st = os.stat(target)
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o711, 4321, 1234)
    with pytest.raises(virtkit.VirtError) as e:
        p.build(no_overwrite=True)
    assert e.value.code == ErrorCode.STORAGE_POOL_BUILT
