"""Storage pools, volumes and volume streams of the test driver through the Python API."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import virtkit
from virtkit import ErrorCode, VirtError
from virtkit.api.connection import Connection
from virtkit.api.storage import PoolEventLifecycle, PoolState, StoragePool, StorageVolume
from virtkit.api.stream import MAX_CHUNK
from virtkit.sdk.records import Event, PoolRef

NODE_FILE = Path(__file__).parent / "data" / "nodes" / "objects.xml"
GiB = 1024**3
MiB = 1024**2

POOL_XML = """<pool type='dir'>
  <name>{name}</name>
  {uuid}
  {capacity}
  <target>
    <path>{path}</path>
  </target>
</pool>"""


def pool_xml(name: str = "scratch", path: str | None = None, uuid: str | None = None,
             capacity: int | None = None) -> str:
    return POOL_XML.format(
        name=name,
        path=path or f"/var/{name}",
        uuid=f"<uuid>{uuid}</uuid>" if uuid else "",
        capacity=f"<capacity>{capacity}</capacity>" if capacity is not None else "",
    )


def vol_xml(name: str, capacity: int = MiB, allocation: int | None = None,
            fmt: str = "raw") -> str:
    alloc = f"<allocation>{allocation}</allocation>" if allocation is not None else ""
    return (f"<volume><name>{name}</name><capacity>{capacity}</capacity>{alloc}"
            f"<target><format type='{fmt}'/></target></volume>")


@pytest.fixture
def conn() -> Iterator[Connection]:
    c = virtkit.open("test:///default")
    yield c
    c.close()


@pytest.fixture
def pool(conn: Connection) -> StoragePool:
    return conn.storage_pool_lookup_by_name("default-pool")


def _err(exc: pytest.ExceptionInfo[VirtError], code: ErrorCode, *words: str) -> None:
    assert exc.value.code == code, exc.value
    for w in words:
        assert w in exc.value.message, exc.value.message


def _accounting_ok(pool: StoragePool) -> None:
    info = pool.info()
    vols = pool.list_volumes()
    assert info.allocation == sum(v.info().allocation for v in vols)
    assert info.available == info.capacity - info.allocation
    assert 0 <= info.allocation <= info.capacity


# -- the preloaded pool ---------------------------------------------------------------------------


@pytest.mark.hook("pool_list", "pool_lookup_by_name", "pool_get_info", "pool_get_xml",
                  "pool_get_autostart", "vol_list")
def test_default_pool_is_preloaded(pool: StoragePool, conn: Connection) -> None:
    assert [p.name for p in conn.list_storage_pools()] == ["default-pool"]
    assert pool.uuid == "dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566"
    assert pool.is_active() and pool.is_persistent() and not pool.autostart
    info = pool.info()
    assert (info.state, info.capacity, info.allocation, info.available) == (
        PoolState.RUNNING, 100 * GiB, 0, 100 * GiB
    )
    xml = pool.xml_desc()
    assert "<pool type='dir'>" in xml and "<path>/default-pool</path>" in xml
    assert f"<capacity unit='bytes'>{100 * GiB}</capacity>" in xml
    assert pool.list_volumes() == []


@pytest.mark.hook("pool_lookup_by_name", "pool_lookup_by_uuid")
def test_pool_lookup_errors(conn: Connection, pool: StoragePool) -> None:
    assert conn.storage_pool_lookup_by_uuid(pool.uuid.replace("-", "")) == pool
    with pytest.raises(VirtError) as exc:
        conn.storage_pool_lookup_by_name("x")
    _err(exc, ErrorCode.NO_STORAGE_POOL,
         "Storage pool not found: no storage pool with matching name 'x'")
    with pytest.raises(VirtError) as exc:
        conn.storage_pool_lookup_by_uuid("8d3bd9f8-1e0e-4f0a-9d42-3f6f9b0e4c11")
    _err(exc, ErrorCode.NO_STORAGE_POOL, "uuid '8d3bd9f8-1e0e-4f0a-9d42-3f6f9b0e4c11'")
    with pytest.raises(VirtError) as exc:
        conn.storage_pool_lookup_by_uuid("xyz")
    _err(exc, ErrorCode.INVALID_ARG, "'xyz'")


# -- pool lifecycle -------------------------------------------------------------------------------


@pytest.mark.hook("pool_define_xml", "pool_build", "pool_create", "pool_destroy", "pool_delete",
                  "pool_undefine")
def test_pool_lifecycle_and_events(conn: Connection) -> None:
    seen: list[Event] = []
    conn.event_register("pool-lifecycle", seen.append)
    p = conn.storage_pool_define_xml(pool_xml(capacity=10 * GiB))
    assert not p.is_active() and p.is_persistent()
    assert p.info().state == PoolState.INACTIVE and p.info().capacity == 10 * GiB
    p.build()
    p.create()
    assert p.is_active()
    p.create_xml(vol_xml("a"))
    p.destroy()
    p.delete()
    p.undefine()
    with pytest.raises(VirtError) as exc:
        p.info()
    _err(exc, ErrorCode.NO_STORAGE_POOL, "'scratch'")
    assert conn.events.wait_idle()
    E = PoolEventLifecycle
    assert [(e.obj.name, e.event) for e in seen] == [
        ("scratch", E.DEFINED), ("scratch", E.CREATED), ("scratch", E.STARTED),
        ("scratch", E.STOPPED), ("scratch", E.DELETED), ("scratch", E.UNDEFINED),
    ]
    assert [int(e) for e in E] == [0, 1, 2, 3, 4, 5]
    assert all(isinstance(e.obj, PoolRef) for e in seen)


@pytest.mark.hook("pool_create", "pool_destroy", "pool_undefine", "pool_delete", "pool_build",
                  "pool_refresh")
def test_pool_state_errors(pool: StoragePool) -> None:
    with pytest.raises(VirtError) as exc:
        pool.create()
    _err(exc, ErrorCode.OPERATION_INVALID, "storage pool 'default-pool' is already active")
    for attempt, words in ((pool.undefine, "still active"), (pool.delete, "still active"),
                           (pool.build, "is active")):
        with pytest.raises(VirtError) as exc:
            attempt()
        _err(exc, ErrorCode.OPERATION_INVALID, "'default-pool'", words)
    pool.refresh()
    pool.destroy()
    with pytest.raises(VirtError) as exc:
        pool.destroy()
    _err(exc, ErrorCode.OPERATION_INVALID, "storage pool 'default-pool' is not active")
    with pytest.raises(VirtError) as exc:
        pool.refresh()
    _err(exc, ErrorCode.OPERATION_INVALID, "is not active")
    with pytest.raises(VirtError) as exc:
        pool.build(no_overwrite=True)
    _err(exc, ErrorCode.STORAGE_POOL_BUILT, "'default-pool'")
    with pytest.raises(VirtError) as exc:
        pool.build(overwrite=True, no_overwrite=True)
    _err(exc, ErrorCode.INVALID_ARG)
    pool.delete()
    with pytest.raises(VirtError) as exc:
        pool.create()
    _err(exc, ErrorCode.OPERATION_FAILED, "'default-pool'", "build")
    pool.build(no_overwrite=True)
    pool.create()
    assert pool.is_active()


@pytest.mark.hook("pool_destroy", "pool_create", "vol_list", "vol_lookup_by_name",
                  "vol_create_xml", "vol_get_info")
def test_volumes_survive_stop_and_need_an_active_pool(pool: StoragePool) -> None:
    vol = pool.create_xml(vol_xml("keep.img"))
    pool.destroy()
    for attempt in (pool.list_volumes, lambda: pool.storage_vol_lookup_by_name("keep.img"),
                    lambda: pool.create_xml(vol_xml("new.img")), vol.info):
        with pytest.raises(VirtError) as exc:
            attempt()
        _err(exc, ErrorCode.OPERATION_INVALID, "storage pool 'default-pool' is not active")
    pool.create()
    assert [v.name for v in pool.list_volumes()] == ["keep.img"]


@pytest.mark.hook("pool_build")
def test_build_overwrite_clears_volumes(pool: StoragePool) -> None:
    pool.create_xml(vol_xml("gone.img"))
    pool.destroy()
    pool.build(overwrite=True)
    pool.create()
    assert pool.list_volumes() == []


@pytest.mark.hook("pool_define_xml")
def test_pool_define_clashes_and_redefine(conn: Connection, pool: StoragePool) -> None:
    uuid = "3e3fce45-4f53-4fa7-bb32-11f34168b82b"
    p = conn.storage_pool_define_xml(pool_xml(uuid=uuid))
    assert conn.storage_pool_define_xml(pool_xml(uuid=uuid, capacity=GiB)) == p
    assert p.info().capacity == GiB
    cases = [
        (pool_xml(uuid="11111111-2222-3333-4444-555555555555"), "already exists with uuid"),
        (pool_xml("other", uuid=uuid, path="/var/other"), "already defined with uuid"),
        (pool_xml("other", path="/default-pool/"), "already uses target path '/default-pool'"),
    ]
    for xml, words in cases:
        with pytest.raises(VirtError) as exc:
            conn.storage_pool_define_xml(xml)
        _err(exc, ErrorCode.OPERATION_FAILED, words)
    for bad in ("<pool type='dir'><name>x</name></pool>", "<pool type='nope'><name>x</name>"
                "<target><path>/x</path></target></pool>", "<pool", "<volume/>"):
        with pytest.raises(VirtError) as exc:
            conn.storage_pool_define_xml(bad)
        assert exc.value.code == ErrorCode.XML_ERROR, exc.value
    assert sorted(x.name for x in conn.list_storage_pools()) == ["default-pool", "scratch"]


@pytest.mark.hook("pool_create_xml", "pool_destroy", "pool_set_autostart", "pool_undefine")
def test_transient_pool(conn: Connection) -> None:
    p = conn.storage_pool_create_xml(pool_xml("tmp"), build=True)
    assert p.is_active() and not p.is_persistent()
    with pytest.raises(VirtError) as exc:
        p.set_autostart(True)
    _err(exc, ErrorCode.OPERATION_INVALID, "transient storage pool 'tmp'")
    with pytest.raises(VirtError) as exc:
        conn.storage_pool_create_xml(pool_xml("tmp", uuid=p.uuid))
    _err(exc, ErrorCode.OPERATION_INVALID, "storage pool 'tmp' is already active")
    assert [x.name for x in conn.list_storage_pools(persistent=False)] == ["tmp"]
    p.destroy()
    with pytest.raises(VirtError) as exc:
        conn.storage_pool_lookup_by_name("tmp")
    _err(exc, ErrorCode.NO_STORAGE_POOL, "'tmp'")


@pytest.mark.hook("pool_get_autostart", "pool_set_autostart", "pool_list")
def test_pool_autostart_and_list_filters(conn: Connection, pool: StoragePool) -> None:
    p = conn.storage_pool_define_xml(pool_xml())
    assert not p.autostart
    p.set_autostart(True)
    assert p.autostart

    def names(pools: list[StoragePool]) -> list[str]:
        return [x.name for x in pools]

    assert names(conn.list_storage_pools(autostart=True)) == ["scratch"]
    assert names(conn.list_storage_pools(active=False)) == ["scratch"]
    assert names(conn.list_storage_pools(active=True, persistent=True)) == ["default-pool"]
    pool.set_autostart(False)
    assert not pool.autostart


@pytest.mark.hook("pool_get_xml", "pool_define_xml")
def test_pool_inactive_xml_shows_the_pending_definition(conn: Connection,
                                                        pool: StoragePool) -> None:
    xml = pool.xml_desc(inactive=True).replace(str(100 * GiB), str(GiB), 1)
    xml = xml.replace(f"<available unit='bytes'>{100 * GiB}", "<available unit='bytes'>0")
    conn.storage_pool_define_xml(xml)
    assert pool.info().capacity == 100 * GiB
    assert f"<capacity unit='bytes'>{GiB}</capacity>" in pool.xml_desc(inactive=True)
    pool.destroy()
    pool.create()
    assert pool.info().capacity == GiB


# -- volumes --------------------------------------------------------------------------------------


@pytest.mark.hook("vol_create_xml", "vol_get_info", "vol_get_xml", "vol_lookup_by_name",
                  "vol_lookup_by_key", "vol_lookup_by_path", "pool_lookup_by_name")
def test_create_volume_and_look_it_up(conn: Connection, pool: StoragePool) -> None:
    vol = pool.create_xml(vol_xml("disk.qcow2", 10 * MiB, 0, "qcow2"))
    assert (vol.name, vol.key, vol.path, vol.pool_name) == (
        "disk.qcow2", "/default-pool/disk.qcow2", "/default-pool/disk.qcow2", "default-pool"
    )
    info = vol.info()
    assert (info.type, info.capacity, info.allocation) == (0, 10 * MiB, 0)
    xml = vol.xml_desc()
    assert "<volume type='file'>" in xml and "<format type='qcow2'/>" in xml
    assert "<path>/default-pool/disk.qcow2</path>" in xml
    assert pool.storage_vol_lookup_by_name("disk.qcow2") == vol
    assert conn.storage_vol_lookup_by_key(vol.key) == vol
    assert conn.storage_vol_lookup_by_path(vol.path) == vol
    assert vol.storage_pool_lookup_by_volume() == pool
    assert [v.name for v in pool.list_all_volumes()] == ["disk.qcow2"]
    assert pool.list_volume_names() == ["disk.qcow2"]
    with pytest.raises(VirtError) as exc:
        pool.storage_vol_lookup_by_name("nope")
    _err(exc, ErrorCode.NO_STORAGE_VOL,
         "Storage volume not found: no storage vol with matching name 'nope'")
    with pytest.raises(VirtError) as exc:
        conn.storage_vol_lookup_by_key("/default-pool/nope")
    _err(exc, ErrorCode.NO_STORAGE_VOL, "key '/default-pool/nope'")
    with pytest.raises(VirtError) as exc:
        conn.storage_vol_lookup_by_path("/etc/passwd")
    _err(exc, ErrorCode.NO_STORAGE_VOL, "path '/etc/passwd'")


@pytest.mark.hook("vol_create_xml", "pool_get_info")
def test_capacity_accounting(conn: Connection) -> None:
    p = conn.storage_pool_create_xml(pool_xml("small", capacity=10 * MiB))
    p.create_xml(vol_xml("a", 4 * MiB))                 # allocation defaults to capacity
    p.create_xml(vol_xml("sparse", 50 * MiB, 1 * MiB))  # thin: only the allocation counts
    info = p.info()
    assert (info.capacity, info.allocation, info.available) == (10 * MiB, 5 * MiB, 5 * MiB)
    with pytest.raises(VirtError) as exc:
        p.create_xml(vol_xml("big", 6 * MiB))
    _err(exc, ErrorCode.OPERATION_FAILED, "not enough free space", "'small'", "'big'")
    with pytest.raises(VirtError) as exc:
        p.create_xml(vol_xml("a", MiB))
    _err(exc, ErrorCode.STORAGE_VOL_EXIST, "storage volume 'a'", "'small'")
    _accounting_ok(p)
    assert p.info().allocation == 5 * MiB


BAD_NAMES = ["../escape", "..", "a/b", "/etc/passwd", "x/../../y", "a..b", ".", "sub/",
             "nul\x01name"]


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.hook("vol_create_xml", "vol_clone")
def test_path_traversal_in_volume_names_is_refused(conn: Connection, pool: StoragePool,
                                                   name: str) -> None:
    src = pool.create_xml(vol_xml("src.img"))
    before = (pool.info(), pool.list_volume_names())
    escaped = name.replace("\x01", "&#1;")  # not even reachable as XML 1.0 text
    xml = vol_xml(escaped)
    for attempt in (
        lambda: pool.create_xml(xml),
        lambda: pool.create_xml_from(xml, src),
        # straight to the driver, past the facade's own check
        lambda: conn.call("vol_create_xml", pool=pool.ref, xml=xml),
        lambda: conn.call("vol_clone", pool=pool.ref, xml=xml, source=src.ref),
    ):
        with pytest.raises(VirtError) as exc:
            attempt()
        assert exc.value.code in (ErrorCode.INVALID_ARG, ErrorCode.XML_ERROR), exc.value
        if "\x01" not in name:
            _err(exc, ErrorCode.INVALID_ARG, name)
    assert (pool.info(), pool.list_volume_names()) == before


@pytest.mark.hook("vol_create_xml")
def test_bad_volume_xml(pool: StoragePool) -> None:
    for bad in ("<volume><name>x</name></volume>", "<volume><capacity>1</capacity></volume>",
                "<volume><name>x</name><capacity>-1</capacity></volume>", "<volume>",
                "<pool type='dir'/>"):
        with pytest.raises(VirtError) as exc:
            pool.create_xml(bad)
        assert exc.value.code == ErrorCode.XML_ERROR, exc.value
    assert pool.list_volumes() == []


@pytest.mark.hook("vol_clone", "vol_upload", "vol_download")
def test_clone_copies_data(conn: Connection, pool: StoragePool) -> None:
    src = pool.create_xml(vol_xml("src.img", 4096))
    with src.upload() as s:
        s.send(b"A" * 100)
    clone = pool.create_xml_from(vol_xml("clone.img", 1024), src)
    assert clone.info().capacity == 4096  # never smaller than the source
    with clone.download(0, 101) as s:
        assert s.recv_all() == b"A" * 100 + b"\0"
    other = conn.storage_pool_create_xml(pool_xml("other"))
    copy = other.create_xml_from(vol_xml("copy.img", 8192), src)
    assert copy.path == "/var/other/copy.img" and copy.info().capacity == 8192
    with pytest.raises(VirtError) as exc:
        pool.create_xml_from(vol_xml("src.img"), src)
    _err(exc, ErrorCode.STORAGE_VOL_EXIST, "'src.img'")
    src.delete()
    with pytest.raises(VirtError) as exc:
        pool.create_xml_from(vol_xml("c2.img"), src)
    _err(exc, ErrorCode.NO_STORAGE_VOL, "'src.img'")
    with pytest.raises(VirtError) as exc:
        pool.create_xml_from(vol_xml("c2.img"), "src.img")  # type: ignore[arg-type]
    _err(exc, ErrorCode.INVALID_ARG)


@pytest.mark.hook("vol_delete")
def test_delete_volume(pool: StoragePool) -> None:
    vol = pool.create_xml(vol_xml("x.img", 2 * MiB))
    assert pool.info().allocation == 2 * MiB
    vol.delete()
    assert pool.info().allocation == 0 and pool.list_volumes() == []
    with pytest.raises(VirtError) as exc:
        vol.delete()
    _err(exc, ErrorCode.NO_STORAGE_VOL, "'x.img'")


@pytest.mark.hook("vol_wipe", "vol_download", "vol_upload")
def test_wipe(pool: StoragePool) -> None:
    vol = pool.create_xml(vol_xml("w.img", 1000))
    with vol.upload(10) as s:
        s.send(b"secret")
    vol.wipe()
    with vol.download() as s:
        assert s.recv_all() == b"\0" * 1000
    assert vol.info().capacity == 1000
    with pytest.raises(VirtError) as exc:
        vol.wipe("gutmann")
    _err(exc, ErrorCode.ARGUMENT_UNSUPPORTED, "gutmann", "'w.img'")
    with pytest.raises(VirtError) as exc:
        vol.wipe("shred-it")
    _err(exc, ErrorCode.INVALID_ARG, "shred-it")


@pytest.mark.hook("vol_resize", "vol_get_info")
def test_resize(conn: Connection) -> None:
    p = conn.storage_pool_create_xml(pool_xml("small", capacity=10 * MiB))
    vol = p.create_xml(vol_xml("r.img", 2 * MiB))
    with vol.upload() as s:
        s.send_all(b"x" * (2 * MiB))
    vol.resize(4 * MiB)
    assert (vol.info().capacity, vol.info().allocation) == (4 * MiB, 2 * MiB)
    vol.resize(MiB, delta=True, allocate=True)
    assert (vol.info().capacity, vol.info().allocation) == (5 * MiB, 5 * MiB)
    with pytest.raises(VirtError) as exc:
        vol.resize(MiB)
    _err(exc, ErrorCode.INVALID_ARG, "shrink", "'r.img'")
    with pytest.raises(VirtError) as exc:
        vol.resize(6 * MiB, delta=True, shrink=True)
    _err(exc, ErrorCode.INVALID_ARG, "negative")
    with pytest.raises(VirtError) as exc:
        vol.resize(20 * MiB, allocate=True)
    _err(exc, ErrorCode.OPERATION_FAILED, "not enough free space", "'r.img'")
    with pytest.raises(VirtError) as exc:
        vol.resize(-1)
    _err(exc, ErrorCode.INVALID_ARG)
    assert vol.info().capacity == 5 * MiB
    vol.resize(4 * MiB, delta=True, shrink=True)
    assert (vol.info().capacity, vol.info().allocation) == (MiB, MiB)
    with vol.download() as s:
        assert s.recv_all() == b"x" * MiB  # the data beyond the new end is gone
    vol.resize(2 * MiB)
    with vol.download(MiB) as s:
        assert s.recv_all() == b"\0" * MiB
    _accounting_ok(p)


# -- streams --------------------------------------------------------------------------------------


@pytest.mark.hook("vol_upload", "vol_download", "stream_send", "stream_recv", "stream_finish")
def test_upload_download_round_trip(pool: StoragePool) -> None:
    vol = pool.create_xml(vol_xml("data.img", 3 * MiB))
    payload = bytes(range(256)) * (9 * 1024)  # 2.25 MiB, more than one chunk
    up = vol.upload()
    assert up.send_all(iter([payload[:1000], payload[1000:]])) == len(payload)
    up.finish()
    assert up.closed
    down = vol.download(0, len(payload))
    first = down.recv(10)
    assert first == payload[:10]
    assert first + down.recv_all() == payload
    assert down.recv(1) == b""
    down.finish()
    with vol.download(100, 5) as s:
        assert s.recv(MAX_CHUNK) == payload[100:105]
        assert s.recv(MAX_CHUNK) == b""
    with vol.upload(len(payload) - 3, 6) as s:
        s.send(b"ZZZZZZ")
    with vol.download(len(payload) - 3, 6) as s:
        assert s.recv_all() == b"ZZZZZZ"


@pytest.mark.hook("vol_upload", "vol_download", "stream_send", "stream_recv", "stream_abort",
                  "stream_finish")
def test_stream_errors(conn: Connection, pool: StoragePool) -> None:
    vol = pool.create_xml(vol_xml("s.img", 100))
    for offset, length in ((101, 0), (50, 51), (0, 101)):
        for opener in (vol.upload, vol.download):
            with pytest.raises(VirtError) as exc:
                opener(offset, length)
            _err(exc, ErrorCode.INVALID_ARG, "'s.img'")
    for opener in (vol.upload, vol.download):
        with pytest.raises(VirtError) as exc:
            opener(-1, 0)
        _err(exc, ErrorCode.INVALID_ARG)
    up = vol.upload(90, 10)
    with pytest.raises(VirtError) as exc:
        up.send(b"x" * 11)
    _err(exc, ErrorCode.INVALID_ARG, "past the end")
    with pytest.raises(VirtError) as exc:
        up.recv(10)
    _err(exc, ErrorCode.INVALID_STREAM, f"stream {up.id}", "upload")
    up.send(b"y" * 4)
    up.abort()  # the partial data stays
    with pytest.raises(VirtError) as exc:
        up.send(b"z")
    _err(exc, ErrorCode.INVALID_STREAM, f"stream {up.id}")
    with pytest.raises(VirtError) as exc:
        up.finish()
    _err(exc, ErrorCode.INVALID_STREAM, f"stream {up.id}")
    down = vol.download(90)
    assert down.recv_all() == b"y" * 4 + b"\0" * 6
    with pytest.raises(VirtError) as exc:
        down.send(b"x")
    _err(exc, ErrorCode.INVALID_STREAM, "download")
    for nbytes in (0, MAX_CHUNK + 1):
        with pytest.raises(VirtError) as exc:
            down.recv(nbytes)
        _err(exc, ErrorCode.INVALID_ARG)
        with pytest.raises(VirtError) as exc:
            conn.call("stream_recv", stream=down.id, nbytes=nbytes, timeout=None)
        _err(exc, ErrorCode.INVALID_ARG)
    with pytest.raises(VirtError) as exc:
        conn.call("stream_send", stream=down.id, data=b"x" * (MAX_CHUNK + 1))
    _err(exc, ErrorCode.INVALID_ARG)
    down.finish()
    for op, kw in (("stream_recv", {"nbytes": 1, "timeout": None}), ("stream_send", {"data": b""}),
                   ("stream_finish", {}), ("stream_abort", {})):
        with pytest.raises(VirtError) as exc:
            conn.call(op, stream=9999, **kw)
        _err(exc, ErrorCode.INVALID_STREAM, "stream 9999")


@pytest.mark.hook("stream_send", "stream_recv")
def test_stream_breaks_when_its_volume_goes(pool: StoragePool) -> None:
    vol = pool.create_xml(vol_xml("gone.img", 100))
    up = vol.upload()
    vol.delete()
    with pytest.raises(VirtError) as exc:
        up.send(b"x")
    _err(exc, ErrorCode.INVALID_STREAM, "'gone.img'")
    up.abort()
    vol2 = pool.create_xml(vol_xml("stop.img", 100))
    down = vol2.download()
    pool.destroy()
    with pytest.raises(VirtError) as exc:
        down.recv(10)
    _err(exc, ErrorCode.INVALID_STREAM, "'stop.img'")


@pytest.mark.hook("stream_recv")
def test_streams_belong_to_their_connection(pool: StoragePool) -> None:
    vol = pool.create_xml(vol_xml("mine.img", 100))
    down = vol.download()
    other = virtkit.open("test:///default")
    with pytest.raises(VirtError) as exc:
        other.call("stream_recv", stream=down.id, nbytes=10, timeout=None)
    _err(exc, ErrorCode.INVALID_STREAM)
    other.close()
    down.abort()


@pytest.mark.hook("stream_send")
def test_context_manager_aborts_on_error(pool: StoragePool) -> None:
    vol = pool.create_xml(vol_xml("ctx.img", 100))
    with pytest.raises(RuntimeError):
        with vol.upload() as s:
            s.send(b"abc")
            raise RuntimeError("boom")
    assert s.closed
    with pytest.raises(VirtError) as exc:
        s.send(b"x")
    _err(exc, ErrorCode.INVALID_STREAM)


# -- read-only connections ------------------------------------------------------------------------


@pytest.mark.hook("pool_define_xml", "pool_create_xml", "pool_build", "pool_create",
                  "pool_destroy", "pool_delete", "pool_undefine", "pool_refresh",
                  "pool_set_autostart", "vol_create_xml", "vol_clone", "vol_delete", "vol_wipe",
                  "vol_resize", "vol_upload", "vol_download", "stream_recv")
def test_read_only_connection_refuses_changes(pool: StoragePool) -> None:
    vol = pool.create_xml(vol_xml("ro.img", 10))
    with vol.upload() as s:
        s.send(b"0123456789")
    ro = virtkit.open("test:///default", read_only=True)
    rpool = ro.storage_pool_lookup_by_name("default-pool")
    rvol = rpool.storage_vol_lookup_by_name("ro.img")
    attempts: list[Callable[[], object]] = [
        lambda: ro.storage_pool_define_xml(pool_xml()),
        lambda: ro.storage_pool_create_xml(pool_xml()),
        rpool.build, rpool.create, rpool.destroy, rpool.delete, rpool.undefine, rpool.refresh,
        lambda: rpool.set_autostart(False),
        lambda: rpool.create_xml(vol_xml("n.img")),
        lambda: rpool.create_xml_from(vol_xml("n.img"), rvol),
        rvol.delete, rvol.wipe, lambda: rvol.resize(20), rvol.upload,
        rvol.download,  # a volume's content is data a read-only client may not read
    ]
    for attempt in attempts:
        with pytest.raises(VirtError) as exc:
            attempt()
        _err(exc, ErrorCode.OPERATION_DENIED, "read only")
    assert pool.is_active() and not pool.autostart and pool.list_volume_names() == ["ro.img"]
    assert rvol.info().capacity == 10
    with vol.download() as s:
        assert s.recv_all() == b"0123456789"
    ro.close()


# -- node files -----------------------------------------------------------------------------------


@pytest.mark.hook("pool_list", "vol_list", "vol_get_info", "pool_get_info", "pool_create")
def test_node_file_pools_and_volumes() -> None:
    c = virtkit.open(f"test://{NODE_FILE}")
    images = c.storage_pool_lookup_by_name("images")
    assert images.uuid == "35bb2ad9-388a-cdfe-461a-b8907f6e53fe"
    info = images.info()
    assert (info.capacity, info.allocation) == (10 * GiB, GiB + 512 * MiB)
    vols = {v.name: v for v in images.list_volumes()}
    assert set(vols) == {"disk1.qcow2", "disk2.raw"}
    assert vols["disk1.qcow2"].path == "/srv/images/disk1.qcow2"
    assert "<format type='qcow2'/>" in vols["disk1.qcow2"].xml_desc()
    spare = c.storage_pool_lookup_by_name("spare")
    assert not spare.is_active()
    spare.create()
    assert spare.list_volumes() == []
    c.close()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("<pool type='dir'><name>p</name><capacity>10</capacity><target><path>/p</path></target>"
         "<volume><name>v</name><capacity>100</capacity></volume></pool>",
         ("storage pool 'p'", "not enough free space")),
        ("<pool type='dir'><name>p</name><target><path>/p</path></target>"
         "<volume><name>../x</name><capacity>1</capacity></volume></pool>",
         ("storage pool 'p'", "../x")),
        ("<pool type='dir'><name>p</name><target><path>/p</path></target></pool>"
         "<pool type='dir'><name>q</name><target><path>/p</path></target></pool>",
         ("target path '/p'",)),
        ("<pool type='dir' autostart='maybe'><name>p</name><target><path>/p</path></target>"
         "</pool>", ("autostart",)),
    ],
)
@pytest.mark.hook("pool_list")
def test_bad_node_file(tmp_path: Path, body: str, words: tuple[str, ...]) -> None:
    path = tmp_path / "node.xml"
    path.write_text(f"<node>{body}</node>")
    with pytest.raises(VirtError) as exc:
        virtkit.open(f"test://{path}")
    _err(exc, ErrorCode.NO_CONNECT, str(path), *words)


# -- robustness -----------------------------------------------------------------------------------


@pytest.mark.hook("vol_create_xml", "vol_delete")
def test_concurrent_volume_creation_keeps_accounting(conn: Connection) -> None:
    p = conn.storage_pool_create_xml(pool_xml("race", capacity=50 * 1000))
    errors: list[VirtError] = []

    def worker(n: int) -> None:
        c = virtkit.open("test:///default")
        rp = c.storage_pool_lookup_by_name("race")
        for i in range(20):
            try:
                rp.create_xml(vol_xml(f"v{n}-{i}", 1000))
            except VirtError as exc:
                errors.append(exc)
        c.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(p.list_volumes()) == 50
    assert len(errors) == 8 * 20 - 50
    assert all(e.code == ErrorCode.OPERATION_FAILED for e in errors)
    _accounting_ok(p)


_names = st.one_of(
    st.sampled_from(["a", "b", "c.img", "../a", "a/b", "..", "x..y", ".", "/abs"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="<>&\x00"),
             min_size=1, max_size=12),
)
_sizes = st.one_of(st.integers(min_value=0, max_value=5000), st.integers(-10, -1),
                   st.integers(min_value=2**70, max_value=2**71))
_ops = st.lists(
    st.tuples(st.sampled_from(["create", "clone", "resize", "shrink", "delete", "upload"]),
              _names, _sizes, _sizes),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_ops)
@pytest.mark.hook("vol_create_xml", "vol_clone", "vol_resize", "vol_delete", "vol_upload",
                  "pool_get_info")
def test_bad_names_and_sizes_never_corrupt_the_pool(ops: list[tuple[str, str, int, int]]) -> None:
    from virtkit.drivers.test.node import reset_default_node

    reset_default_node()
    c = virtkit.open("test:///default")
    p = c.storage_pool_create_xml(pool_xml("h", capacity=20000))
    for op, name, size, other in ops:
        try:
            if op == "create":
                p.create_xml(vol_xml(name, size, other))
            elif op == "clone":
                vols = p.list_volumes()
                if vols:
                    p.create_xml_from(vol_xml(name, size), vols[0])
            else:
                vol = p.storage_vol_lookup_by_name(name)
                if op == "resize":
                    vol.resize(size, allocate=other % 2 == 0)
                elif op == "shrink":
                    vol.resize(size, delta=True, shrink=True)
                elif op == "delete":
                    vol.delete()
                else:
                    with vol.upload(max(size, 0) % (vol.info().capacity + 1)) as s:
                        s.send(b"q" * max(other % 300, 0))
        except VirtError as exc:
            assert exc.code in (
                ErrorCode.INVALID_ARG, ErrorCode.XML_ERROR, ErrorCode.STORAGE_VOL_EXIST,
                ErrorCode.OPERATION_FAILED, ErrorCode.NO_STORAGE_VOL,
            ), exc
        _accounting_ok(p)
        for v in p.list_volumes():
            assert "/" not in v.name and ".." not in v.name
            assert v.path == f"/var/h/{v.name}"
            info = v.info()
            assert 0 <= info.allocation <= info.capacity
    c.close()


def test_volume_handles(pool: StoragePool) -> None:
    vol = pool.create_xml(vol_xml("h.img"))
    assert isinstance(vol, StorageVolume) and hash(vol) == hash(pool.list_volumes()[0])
    assert repr(vol) == "<virtkit.StorageVolume 'default-pool'/'h.img'>"
    assert repr(pool) == "<virtkit.StoragePool 'default-pool'>"


@pytest.mark.hook("stream_send")
def test_send_all_refuses_what_is_not_bytes(pool: StoragePool) -> None:
    vol = pool.create_xml(vol_xml("t.img", 100))
    with vol.upload() as s:
        for bad in ("text", 5, [b"ok", 5], ["x"]):
            with pytest.raises(VirtError) as exc:
                s.send_all(bad)  # type: ignore[arg-type]
            _err(exc, ErrorCode.INVALID_ARG)
        with pytest.raises(VirtError) as exc:
            s.send("text")  # type: ignore[arg-type]
        _err(exc, ErrorCode.INVALID_ARG)
    with vol.download(0, 2) as s:
        assert s.recv_all() == b"ok"
