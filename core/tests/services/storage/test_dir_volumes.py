"""Volumes of a dir pool, checked with qemu-img and the filesystem."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from storagekit import qemu_img_info, vol_xml

from virtkit import VirtError
from virtkit.sdk.errors import ErrorCode

MiB = 1024 * 1024
GiB = 1024 * MiB


@pytest.mark.parametrize("fmt", ["raw", "qcow2", "vmdk", "vdi", "qed"])
def test_create_each_format_is_what_qemu_img_reports(pool, fmt):
    vol = pool.create_xml(vol_xml(f"disk.{fmt}", 64 * MiB, fmt, allocation=0))
    info = qemu_img_info(vol.path, fmt)
    assert info["format"] == fmt
    assert info["virtual-size"] == 64 * MiB
    vi = vol.info()
    assert (vi.type, vi.capacity) == (0, 64 * MiB)
    assert vi.allocation == os.stat(vol.path).st_blocks * 512 == info["actual-size"]
    assert f"<format type='{fmt}'/>" in vol.xml_desc() or f'<format type="{fmt}"/>' in \
        vol.xml_desc()
    assert stat.S_IMODE(os.stat(vol.path).st_mode) == 0o600


def test_raw_allocation_defaults_to_capacity_and_sparse_when_asked(pool):
    full = pool.create_xml(vol_xml("full", 8 * MiB))
    sparse = pool.create_xml(vol_xml("sparse", 8 * MiB, allocation=0))
    assert os.stat(full.path).st_blocks * 512 >= 8 * MiB
    assert os.stat(sparse.path).st_blocks == 0
    assert full.info().allocation >= 8 * MiB and sparse.info().allocation == 0


def test_capacity_beyond_free_space_refused_unless_sparse(pool):
    free = pool.info().available
    with pytest.raises(VirtError) as e:
        pool.create_xml(vol_xml("huge", free + GiB))
    assert e.value.code == ErrorCode.OPERATION_FAILED and "huge" in str(e.value)
    assert "huge" not in pool.list_volume_names()
    assert not [n for n in os.listdir(pool_target(pool)) if n != "lost+found"]
    vol = pool.create_xml(vol_xml("huge", free + GiB, allocation=0))
    assert vol.info().capacity == free + GiB
    q = pool.create_xml(vol_xml("huge.qcow2", free + GiB, "qcow2"))
    assert qemu_img_info(q.path, "qcow2")["virtual-size"] == free + GiB


def pool_target(pool) -> str:
    import re

    return re.search(r"<path>([^<]+)</path>", pool.xml_desc()).group(1)


def test_qcow2_with_backing_store(pool):
    base = pool.create_xml(vol_xml("base.qcow2", 32 * MiB, "qcow2"))
    top = pool.create_xml(vol_xml(
        "top.qcow2", 32 * MiB, "qcow2",
        extra=f"<backingStore><path>{base.path}</path></backingStore>"))
    info = qemu_img_info(top.path, "qcow2")
    assert info["backing-filename"] == base.path
    assert info["backing-filename-format"] == "qcow2"
    assert "<backingStore>" in top.xml_desc() and base.path in top.xml_desc()
    raw = pool.create_xml(vol_xml("plain", MiB, allocation=0))
    with pytest.raises(VirtError) as e:
        pool.create_xml(vol_xml("bad", MiB, "raw",
                                extra=f"<backingStore><path>{raw.path}</path></backingStore>"))
    assert e.value.code == ErrorCode.INVALID_ARG


def test_backing_store_outside_pools_needs_its_format(pool, tmp_path):
    outside = tmp_path / "outside.img"
    outside.write_bytes(b"\0" * 1024)
    xml = vol_xml("top", MiB, "qcow2",
                  extra=f"<backingStore><path>{outside}</path></backingStore>")
    with pytest.raises(VirtError) as e:
        pool.create_xml(xml)
    assert e.value.code == ErrorCode.INVALID_ARG and "format" in str(e.value)
    vol = pool.create_xml(xml.replace("</path></backingStore>",
                                      "</path><format type='raw'/></backingStore>"))
    assert qemu_img_info(vol.path, "qcow2")["backing-filename-format"] == "raw"


def test_raw_volume_with_qcow2_header_stays_raw(pool, tmp_path):
    evil = tmp_path / "evil.qcow2"
    os.system(f"qemu-img create -q -f qcow2 {evil} 1G")
    header = evil.read_bytes()
    vol = pool.create_xml(vol_xml("guest-disk", 4 * MiB, allocation=0))
    stream = vol.upload()
    stream.send(header)
    stream.finish()
    assert vol.info().capacity == 4 * MiB  # not the 1 GiB the header claims
    assert "<format type='raw'/>" in vol.xml_desc() or '<format type="raw"/>' in vol.xml_desc()
    pool.refresh()
    assert pool.storage_vol_lookup_by_name("guest-disk").info().capacity == 4 * MiB


def test_clone_across_formats_and_pools(conn, pool, tmp_path):
    from storagekit import dir_pool_xml

    other = conn.storage_pool_create_xml(dir_pool_xml("other", tmp_path / "other"), build=True)
    src = pool.create_xml(vol_xml("src", 4 * MiB, allocation=0))
    s = src.upload()
    s.send(b"hello storage" + b"\x01" * 1000)
    s.finish()
    q = other.create_xml_from(vol_xml("copy.qcow2", 0, "qcow2"), src)
    assert q.pool_name == "other"
    assert qemu_img_info(q.path, "qcow2")["virtual-size"] == 4 * MiB
    back = pool.create_xml_from(vol_xml("back.raw", 8 * MiB), q)
    assert back.info().capacity == 8 * MiB
    with open(back.path, "rb") as f:
        assert f.read(13) == b"hello storage"
    v = pool.create_xml_from(vol_xml("copy.vdi", 0, "vdi"), src)
    assert qemu_img_info(v.path, "vdi")["format"] == "vdi"
    with pytest.raises(VirtError) as e:
        pool.create_xml_from(vol_xml("src", 0), src)
    assert e.value.code == ErrorCode.STORAGE_VOL_EXIST


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_resize_grow_and_shrink_only_with_flag(pool, fmt):
    vol = pool.create_xml(vol_xml("r", 16 * MiB, fmt, allocation=0))
    vol.resize(32 * MiB)
    assert qemu_img_info(vol.path, fmt)["virtual-size"] == 32 * MiB == vol.info().capacity
    with pytest.raises(VirtError) as e:
        vol.resize(8 * MiB)
    assert e.value.code == ErrorCode.INVALID_ARG and "'r'" in str(e.value)
    vol.resize(8 * MiB, shrink=True)
    assert qemu_img_info(vol.path, fmt)["virtual-size"] == 8 * MiB
    vol.resize(MiB, delta=True)
    assert vol.info().capacity == 9 * MiB


def test_resize_refuses_what_the_pool_cannot_hold(pool):
    vol = pool.create_xml(vol_xml("grow", MiB))
    free = pool.info().available
    with pytest.raises(VirtError) as e:
        vol.resize(free + 2 * GiB, allocate=True)
    assert e.value.code == ErrorCode.OPERATION_FAILED
    assert vol.info().capacity == MiB


def test_delete_removes_only_the_volume(pool):
    a = pool.create_xml(vol_xml("a", MiB))
    pool.create_xml(vol_xml("b", MiB))
    a.delete()
    assert pool.list_volume_names() == ["b"]
    assert not os.path.exists(a.path)
    with pytest.raises(VirtError) as e:
        a.info()
    assert e.value.code == ErrorCode.NO_STORAGE_VOL


def test_wipe_zero_random_and_image_formats(pool):
    vol = pool.create_xml(vol_xml("w", 2 * MiB, allocation=0))
    s = vol.upload(offset=MiB)
    s.send(b"\xff" * 4096)
    s.finish()
    vol.wipe("zero")
    assert Path(vol.path).read_bytes() == bytes(2 * MiB)
    vol.wipe("random")
    data = Path(vol.path).read_bytes()
    assert len(data) == 2 * MiB and data.count(0) < MiB
    q = pool.create_xml(vol_xml("q", 8 * MiB, "qcow2"))
    qs = q.upload()
    qs.send(Path(q.path).read_bytes())
    qs.finish()
    q.wipe("zero")
    assert qemu_img_info(q.path, "qcow2")["virtual-size"] == 8 * MiB
    with pytest.raises(VirtError) as e:
        vol.wipe("gutmann")
    assert e.value.code == ErrorCode.ARGUMENT_UNSUPPORTED


def test_unknown_stream_is_invalid_stream(conn):
    for op, kwargs in (("stream_recv", {"nbytes": 10, "timeout": None}),
                       ("stream_send", {"data": b"x"}), ("stream_finish", {}),
                       ("stream_abort", {})):
        with pytest.raises(VirtError) as e:
            conn.call(op, stream=(1 << 32) + 999999, **kwargs)
        assert e.value.code == ErrorCode.INVALID_STREAM and "4295967295" in str(e.value)


def test_upload_download_streams_and_ranges(pool):
    vol = pool.create_xml(vol_xml("s", MiB, allocation=0))
    up = vol.upload()
    payload = os.urandom(MiB)
    for i in range(0, MiB, 65536):
        up.send(payload[i:i + 65536])
    with pytest.raises(VirtError) as e:
        up.send(b"x")
    assert e.value.code == ErrorCode.INVALID_ARG
    up.finish()
    down = vol.download(offset=1000, length=5000)
    got = b""
    while chunk := down.recv(4096):
        got += chunk
    down.finish()
    assert got == payload[1000:6000]
    with pytest.raises(VirtError) as e:
        vol.download(offset=MiB + 1)
    assert e.value.code == ErrorCode.INVALID_ARG
    with pytest.raises(VirtError) as e:
        down.recv(10)  # finished
    assert e.value.code == ErrorCode.INVALID_STREAM
    aborted = vol.upload(offset=0, length=10)
    aborted.send(b"0123456789")
    aborted.abort()
    assert Path(vol.path).read_bytes()[:10] == b"0123456789"  # partial data stays


def test_lookup_by_name_key_and_path(conn, pool):
    vol = pool.create_xml(vol_xml("find-me", MiB))
    assert conn.storage_vol_lookup_by_key(vol.key).name == "find-me"
    assert conn.storage_vol_lookup_by_path(vol.path).name == "find-me"
    assert pool.storage_vol_lookup_by_name("find-me").path == vol.path
    for missing, lookup in (("nope", pool.storage_vol_lookup_by_name),
                            ("/nowhere/x", conn.storage_vol_lookup_by_path),
                            ("/nowhere/y", conn.storage_vol_lookup_by_key)):
        with pytest.raises(VirtError) as e:
            lookup(missing)
        assert e.value.code == ErrorCode.NO_STORAGE_VOL and missing in str(e.value)


def test_permissions_from_xml(pool):
    uid, gid = 1234, 2345
    vol = pool.create_xml(vol_xml(
        "perm", MiB, "qcow2",
        extra=""
    ).replace("<format type='qcow2'/>",
              f"<format type='qcow2'/><permissions><mode>0640</mode><owner>{uid}</owner>"
              f"<group>{gid}</group></permissions>"))
    st = os.stat(vol.path)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, uid, gid)
    xml = vol.xml_desc()
    assert "<mode>0640</mode>" in xml and f"<owner>{uid}</owner>" in xml


def test_volume_in_use_by_a_running_guest_cannot_be_deleted_or_shrunk(pool, tmp_path):
    import signal
    import subprocess
    import time

    vol = pool.create_xml(vol_xml("busy.qcow2", 16 * MiB, "qcow2"))
    other = pool.create_xml(vol_xml("idle", MiB))
    qemu = subprocess.Popen(
        ["qemu-system-x86_64", "-name", "guest=vk-busy,debug-threads=on", "-machine", "none",
         "-nodefaults", "-display", "none", "-monitor", "none", "-serial", "none",
         "-blockdev", f"driver=qcow2,node-name=d0,file.driver=file,file.filename={vol.path}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        from virtkit.services.storage.inuse import guests_using

        deadline = time.monotonic() + 20
        while guests_using(vol.path) != ["vk-busy"]:
            assert qemu.poll() is None, qemu.stderr.read()
            assert time.monotonic() < deadline, "qemu did not open the volume"
            time.sleep(0.05)
        for call in (vol.delete, lambda: vol.resize(8 * MiB, shrink=True),
                     lambda: vol.resize(32 * MiB)):
            with pytest.raises(VirtError) as e:
                call()
            assert e.value.code == ErrorCode.OPERATION_INVALID
            assert "'vk-busy'" in str(e.value) and "busy.qcow2" in str(e.value)
        other.delete()  # other volumes are not affected
    finally:
        os.killpg(qemu.pid, signal.SIGKILL)
        qemu.wait()
    vol.delete()
    assert not os.path.exists(vol.path)
