"""Volume disks through the host storage service: the tiny guest sees a pool volume, QEMU is given
the volume's declared format, and a volume in use cannot be deleted or shrunk."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

import pytest
import tinyguest
from conftest import Console

import virtkit
from virtkit import ErrorCode


def _pool(conn: virtkit.Connection, tmp_path: Path) -> Any:
    target = tmp_path / "pool"
    target.mkdir()
    return conn.storage_pool_create_xml(
        f"<pool type='dir'><name>vkq-pool</name><target><path>{target}</path></target></pool>")


def _volume(pool: Any, name: str, fmt: str) -> Any:
    return pool.create_xml(
        f"<volume><name>{name}</name><capacity unit='MiB'>8</capacity>"
        f"<target><format type='{fmt}'/></target></volume>")


def test_guest_sees_pool_volumes_and_they_are_protected_while_in_use(
        conn: virtkit.Connection, tiny: tuple[Path, Path], tmp_path: Path,
        state_root: str) -> None:
    pool = _pool(conn, tmp_path)
    try:
        raw = _volume(pool, "data.raw", "raw")
        qcow = _volume(pool, "data.qcow2", "qcow2")
        disks = "".join(
            f"<disk type='volume' device='disk'><source pool='vkq-pool' volume='{v}'/>"
            f"<target dev='{dev}' bus='virtio'/></disk>"
            for v, dev in (("data.raw", "vda"), ("data.qcow2", "vdb")))
        dom = conn.create_xml(tinyguest.domain_xml("volguest", *tiny, devices=disks))
        con = Console(dom)
        try:
            con.wait_for(tinyguest.READY)
            line = con.command("disks", "DISKS:")
            assert "vda" in line and "vdb" in line, line
            # the live XML keeps the volume disks as written
            xml = dom.xml_desc()
            assert "pool='vkq-pool'" in xml or 'pool="vkq-pool"' in xml, xml
            log = Path(glob.glob(f"{state_root}/**/volguest.log", recursive=True)[0]).read_text()
            assert '"driver":"qcow2"' in log and f'"filename":"{qcow.path}"' in log
            assert '"driver":"raw"' in log and f'"filename":"{raw.path}"' in log
            for vol in (raw, qcow):
                with pytest.raises(virtkit.VirtError) as exc:
                    vol.delete()
                assert "volguest" in str(exc.value)
            with pytest.raises(virtkit.VirtError) as exc:
                raw.resize(4 * 1024 * 1024, shrink=True)
            assert "volguest" in str(exc.value)
        finally:
            con.close()
            dom.destroy()
        raw.delete()
        qcow.delete()
        assert pool.list_volume_names() == []
    finally:
        for v in pool.list_all_volumes():
            v.delete()
        pool.destroy()


def test_missing_volume_is_named_and_nothing_starts(
        conn: virtkit.Connection, tiny: tuple[Path, Path], tmp_path: Path) -> None:
    pool = _pool(conn, tmp_path)
    try:
        disk = ("<disk type='volume' device='disk'><source pool='vkq-pool' volume='nope'/>"
                "<target dev='vda' bus='virtio'/></disk>")
        with pytest.raises(virtkit.VirtError) as exc:
            conn.create_xml(tinyguest.domain_xml("novol", *tiny, devices=disk))
        assert exc.value.code == ErrorCode.NO_STORAGE_VOL
        assert "nope" in str(exc.value)
        assert conn.list_domains() == []
    finally:
        pool.destroy()
