"""netfs pools against a real NFS server on loopback: nfs-ganesha (userspace, from Debian) started
by the test with its own configuration on 127.0.0.1, NFSv4 over TCP on a free port.

What runs for real: the server, the export, and a libnfs client (``nfs-ls``) proving the export
serves; then the pool's ``mount -t nfs``. Where the kernel has no NFS client (as on the machine
this was written on: ``mount.nfs: No such device``), start must fail with OPERATION_FAILED naming
the pool and leave nothing mounted; where it has one, the volume made through the pool must
appear in the server's export directory. The mount command line itself is also checked against
a recorded transcript.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from storagekit import Transcript, mounts_under, vol_xml

import virtkit
from virtkit.sdk.errors import ErrorCode
from virtkit.services.storage.state import host_for

MiB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def nfs_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    export = tmp_path / "export"
    export.mkdir()
    port = _free_port()
    conf = tmp_path / "ganesha.conf"
    conf.write_text(f"""
NFS_CORE_PARAM {{ Protocols = 4; NFS_Port = {port}; Bind_addr = 127.0.0.1;
                 Enable_NLM = false; Enable_RQUOTA = false; Enable_UDP = false; }}
NFSV4 {{ Graceless = true; }}
EXPORT {{ Export_Id = 1; Path = {export}; Pseudo = /export; Access_Type = RW;
          Squash = No_Root_Squash; Protocols = 4; Transports = TCP; SecType = sys;
          FSAL {{ Name = VFS; }} }}
LOG {{ Default_Log_Level = WARN; }}
""")
    proc = subprocess.Popen(
        ["ganesha.nfsd", "-F", "-f", str(conf), "-L", str(tmp_path / "ganesha.log"),
         "-p", str(tmp_path / "ganesha.pid"), "-N", "NIV_WARN"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, (tmp_path / "ganesha.log").read_text()
            assert time.monotonic() < deadline, "nfs-ganesha did not listen in 20 s"
            time.sleep(0.1)
        yield port, export
    finally:
        for point in mounts_under(str(tmp_path)):
            subprocess.run(["umount", "-l", point], capture_output=True)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def netfs_xml(name: str, port: int, target: Path) -> str:
    return (f"<pool type='netfs'><name>{name}</name><source><host name='127.0.0.1' "
            f"port='{port}'/><dir path='/export'/><format type='nfs'/></source>"
            f"<target><path>{target}</path></target></pool>")


def _kernel_has_nfs() -> bool:
    with open("/proc/filesystems") as f:
        return any(line.split()[-1] in ("nfs", "nfs4") for line in f if line.strip())


def test_netfs_pool_against_nfs_ganesha(conn, nfs_server, tmp_path):
    port, export = nfs_server
    (export / "probe").write_bytes(b"served")
    listing = subprocess.run(["nfs-ls", f"nfs://127.0.0.1/export?version=4&nfsport={port}"],
                             capture_output=True, text=True, timeout=20)
    assert listing.returncode == 0 and "probe" in listing.stdout  # the server really serves
    target = tmp_path / "nfs-mnt"
    p = conn.storage_pool_define_xml(netfs_xml("nfs1", port, target))
    p.build()
    assert target.is_dir()
    try:
        p.create()
    except virtkit.VirtError as exc:
        # no kernel NFS client on this machine: a clear failure, nothing mounted, inactive
        assert not _kernel_has_nfs()
        assert exc.code == ErrorCode.OPERATION_FAILED
        assert "nfs1" in str(exc) and "mount" in str(exc)
        assert mounts_under(str(target)) == [] and not p.is_active()
        return
    try:
        assert mounts_under(str(target)) == [str(target)]
        assert "probe" in p.list_volume_names()
        p.create_xml(vol_xml("over-nfs.qcow2", 8 * MiB, "qcow2"))
        assert (export / "over-nfs.qcow2").exists()
    finally:
        p.destroy()
    assert mounts_under(str(target)) == []


def test_netfs_mount_command_line(conn, tmp_path, monkeypatch):
    target = tmp_path / "mnt"
    target.mkdir()
    # recorded: the command this backend runs, and mount.nfs's answer on this machine
    t = Transcript([
        (["mount", "-t", "nfs", "-o", "nodev,nosuid,port=2049", "127.0.0.1:/export",
          str(target)], 32, "", "mount.nfs: No such device\n"),
    ])
    monkeypatch.setattr(host_for("session"), "runner", t)
    with pytest.raises(virtkit.VirtError) as e:
        conn.storage_pool_create_xml(netfs_xml("nfs2", 2049, target))
    assert e.value.code == ErrorCode.OPERATION_FAILED and "No such device" in str(e.value)
    t.done()
