"""fs pools (mkfs, mount, umount) and disk pools (a partition table) on real loop devices.

Every loop device and mount a test makes is released by the ``host_devices`` fixture, also when
the test fails."""

from __future__ import annotations

import os
import subprocess

import pytest
from storagekit import mounts_under, qemu_img_info, vol_xml

import virtkit
from virtkit.sdk.errors import ErrorCode

MiB = 1024 * 1024


def fs_pool_xml(name: str, device: str, target: str, fmt: str = "ext4") -> str:
    return (f"<pool type='fs'><name>{name}</name><source><device path='{device}'/>"
            f"<format type='{fmt}'/></source><target><path>{target}</path></target></pool>")


def disk_pool_xml(name: str, device: str, fmt: str = "gpt") -> str:
    return (f"<pool type='disk'><name>{name}</name><source><device path='{device}'/>"
            f"<format type='{fmt}'/></source><target><path>/dev</path></target></pool>")


def test_fs_pool_on_a_loop_device(conn, loop_device, tmp_path, host_devices):
    target = tmp_path / "mnt"
    p = conn.storage_pool_define_xml(fs_pool_xml("fs1", loop_device, str(target)))
    p.build()
    blkid = subprocess.run(["blkid", "-o", "value", "-s", "TYPE", loop_device],
                           capture_output=True, text=True).stdout.strip()
    assert blkid == "ext4"
    with pytest.raises(virtkit.VirtError) as e:
        p.build(no_overwrite=True)
    assert e.value.code == ErrorCode.STORAGE_POOL_BUILT and loop_device in str(e.value)
    p.create()
    assert mounts_under(str(target)) == [str(target)]
    info = p.info()
    st = os.statvfs(target)
    assert info.capacity == st.f_frsize * st.f_blocks
    vol = p.create_xml(vol_xml("disk.qcow2", 64 * MiB, "qcow2"))
    assert qemu_img_info(vol.path, "qcow2")["virtual-size"] == 64 * MiB
    assert p.info().allocation >= info.allocation
    p.destroy()
    assert mounts_under(str(target)) == []
    assert not os.path.exists(vol.path)  # it lives on the unmounted filesystem
    p.create()
    assert p.list_volume_names() == ["disk.qcow2"]
    p.destroy()
    p.delete()
    assert not target.exists()


def test_fs_pool_on_an_image_file_and_unmount_behind_our_back(conn, tmp_path, host_devices,
                                                               state_root):
    image = host_devices / "fs.img"
    with open(image, "wb") as f:
        f.truncate(64 * MiB)
    target = tmp_path / "mnt2"
    p = conn.storage_pool_create_xml(fs_pool_xml("fs2", str(image), str(target)), build=True)
    assert mounts_under(str(target)) == [str(target)]
    p.create_xml(vol_xml("a", MiB))
    subprocess.run(["umount", str(target)], check=True)
    with pytest.raises(virtkit.VirtError) as e:
        p.refresh()
    assert e.value.code == ErrorCode.OPERATION_FAILED and "fs2" in str(e.value)
    assert "fs2" not in [x.name for x in conn.list_storage_pools()]  # transient: gone


def test_disk_pool_gpt_partitions_as_volumes(conn, pool, loop_device):
    p = conn.storage_pool_define_xml(disk_pool_xml("d1", loop_device))
    p.build()
    with pytest.raises(virtkit.VirtError) as e:
        p.build()
    assert e.value.code == ErrorCode.STORAGE_POOL_BUILT
    p.create()
    assert p.list_volume_names() == []
    vol = p.create_xml(vol_xml("data", 32 * MiB))
    assert vol.path == f"{loop_device}p1" and os.path.exists(vol.path)
    assert vol.info().type == 1 and vol.info().capacity == 32 * MiB
    assert qemu_img_info(vol.path, "raw")["virtual-size"] == 32 * MiB
    info = p.info()
    assert info.capacity == 256 * MiB and info.allocation == 32 * MiB
    assert 200 * MiB < info.available < 224 * MiB
    up = vol.upload()
    up.send(b"partition data")
    up.finish()
    down = vol.download(length=14)
    assert down.recv(14) == b"partition data"
    down.finish()
    src = pool.create_xml(vol_xml("src.qcow2", 16 * MiB, "qcow2"))
    copy = p.create_xml_from(vol_xml("copy", 0), src)
    assert copy.info().capacity == 16 * MiB
    assert sorted(p.list_volume_names()) == ["copy", "data"]
    assert conn.storage_vol_lookup_by_path(copy.path).name == "copy"
    with pytest.raises(virtkit.VirtError) as e:
        vol.resize(48 * MiB)  # 'copy' follows it
    assert e.value.code == ErrorCode.OPERATION_FAILED and "'data'" in str(e.value)
    copy.resize(24 * MiB)
    assert copy.info().capacity == 24 * MiB
    with pytest.raises(virtkit.VirtError) as e:
        p.create_xml(vol_xml("too-big", 512 * MiB))
    assert e.value.code == ErrorCode.OPERATION_FAILED and "too-big" in str(e.value)
    vol.wipe("zero")
    with open(vol.path, "rb") as f:
        assert f.read(14) == bytes(14)
    vol.delete()
    assert p.list_volume_names() == ["copy"]
    p.destroy()
    p.delete()
    assert subprocess.run(["sfdisk", "--json", loop_device], capture_output=True).returncode != 0


def test_disk_pool_dos_names_are_partition_names(conn, loop_device):
    p = conn.storage_pool_create_xml(disk_pool_xml("d2", loop_device, "dos"), build=True)
    base = os.path.basename(loop_device)
    with pytest.raises(virtkit.VirtError) as e:
        p.create_xml(vol_xml("whatever", 8 * MiB))
    assert e.value.code == ErrorCode.INVALID_ARG and f"'{base}p1'" in str(e.value)
    vol = p.create_xml(vol_xml(f"{base}p1", 8 * MiB))
    assert vol.name == f"{base}p1" and p.list_volume_names() == [f"{base}p1"]
    with pytest.raises(virtkit.VirtError) as e:
        p.create_xml(vol_xml(f"{base}p2", 8 * MiB, "qcow2"))
    assert e.value.code == ErrorCode.INVALID_ARG
