"""The state store: atomic writes, the lock, and the two fault tests of the issue."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.sdk.store import StateStore, atomic_write, check_name, state_dirs


def test_write_read_list_delete(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.write("domains", "web1", b"<domain/>")
    store.write("domains", "db", b"<domain>2</domain>")
    assert store.read("domains", "web1") == b"<domain/>"
    assert store.names("domains") == ["db", "web1"]
    assert store.delete("domains", "db")
    assert not store.delete("domains", "db")
    assert store.read("domains", "db") is None
    assert store.exists("domains", "web1") and not store.exists("domains", "db")
    assert not store.exists("nothing", "x")
    assert store.names("nothing") == []
    assert not store.delete("nothing", "x") and not store.delete("nothing", "x", wait=False)
    assert oct((tmp_path / "domains" / "web1.xml").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../etc", "x\x00y", "n" * 256])
def test_names_that_escape_are_refused(tmp_path: Path, name: str) -> None:
    store = StateStore(tmp_path)
    store.write("domains", "keep", b"kept")
    with pytest.raises(VirtError) as info:
        store.write("domains", name, b"evil")
    assert info.value.code == ErrorCode.INVALID_ARG
    assert store.names("domains") == ["keep"]
    assert store.read("domains", "keep") == b"kept"
    with pytest.raises(VirtError):
        store.exists("domains", name)
    assert not any(p.name == "evil" for p in tmp_path.rglob("*"))


def test_check_name_allows_ordinary_names() -> None:
    assert check_name("web-1.example_2 (copy)") == "web-1.example_2 (copy)"


def test_state_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VIRTKIT_STATE_ROOT", raising=False)
    assert str(state_dirs("qemu", "system").config) == "/var/lib/virtkit/qemu"
    assert str(state_dirs("qemu", "system").run) == "/run/virtkit/qemu"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "rt"))
    dirs = state_dirs("qemu", "session")
    assert dirs.config == tmp_path / "cfg" / "virtkit" / "qemu"
    assert dirs.run == tmp_path / "rt" / "virtkit" / "qemu"
    monkeypatch.setenv("VIRTKIT_STATE_ROOT", str(tmp_path / "root"))
    assert state_dirs("lxc", "system").config == tmp_path / "root" / "system" / "lxc" / "config"


def test_failed_write_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "d.xml"
    atomic_write(target, b"old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.xml"]


_KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from virtkit.sdk.store import StateStore

    store = StateStore(Path(sys.argv[1]))
    real_replace = os.replace

    def die_before_rename(src, dst):
        # the new content is written (and out to the disk) in the temporary file; die now
        assert Path(src).read_bytes() == b"<domain>new</domain>"
        os.kill(os.getpid(), signal.SIGKILL)

    os.replace = die_before_rename
    store.write("domains", "web1", b"<domain>new</domain>")
    """
)


def test_kill_between_write_and_rename_leaves_the_old_file(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.write("domains", "web1", b"<domain>old</domain>")
    proc = subprocess.run([sys.executable, "-c", _KILLER, str(tmp_path)], timeout=60)
    assert proc.returncode == -9
    assert store.read("domains", "web1") == b"<domain>old</domain>"
    assert store.names("domains") == ["web1"]
    # the lock held by the killed process was released by the kernel
    store.write("domains", "web1", b"<domain>newer</domain>")
    assert store.read("domains", "web1") == b"<domain>newer</domain>"


_DEFINER = textwrap.dedent(
    """
    import json, sys, uuid
    from pathlib import Path
    from virtkit.sdk.store import StateStore

    store = StateStore(Path(sys.argv[1]))
    me = sys.argv[2]
    won = []
    for i in range(150):
        # every process tries the same names with its own uuid: exactly one may define each,
        # and the shared index must list every name defined by anyone
        name = f"dom{i}"
        with store.locked():
            if store.read("domains", name) is None:
                store.write("domains", name, json.dumps({"owner": me, "uuid": str(uuid.uuid4())}).encode())
                index = json.loads(store.read("index", "all") or b"[]")
                index.append(name)
                store.write("index", "all", json.dumps(index).encode())
                won.append(name)
    print(json.dumps(won))
    """
)


def test_two_processes_defining_at_once_lose_nothing(tmp_path: Path) -> None:
    import json

    procs = [
        subprocess.Popen([sys.executable, "-c", _DEFINER, str(tmp_path), who],
                         stdout=subprocess.PIPE, text=True)
        for who in ("a", "b")
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    won_a, won_b = (set(json.loads(o)) for o in outs)
    assert not won_a & won_b, "no name was defined twice"
    assert won_a | won_b == {f"dom{i}" for i in range(150)}
    store = StateStore(tmp_path)
    index = json.loads(store.read("index", "all") or b"[]")
    assert sorted(index) == sorted(won_a | won_b), "no update of the shared index was lost"
    for name in index:
        owner = json.loads(store.read("domains", name) or b"{}")["owner"]
        assert name in (won_a if owner == "a" else won_b)


@pytest.mark.parametrize("durable", [True, False])
def test_durable_decides_the_fsyncs_not_the_atomicity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durable: bool
) -> None:
    """A store of runtime status (durable=False) skips fsync on write and delete, yet still
    replaces by rename: a failed rename leaves the old record and no temporary file."""
    from virtkit.sdk import store as store_mod

    monkeypatch.setattr(store_mod, "_one_flush_devs", {})
    monkeypatch.setattr(store_mod, "_fstype", lambda dev: "vfat")  # the two-flush way
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    store = StateStore(tmp_path, suffix=".json", durable=durable)
    store.write("domains", "web1", b"old")
    store.delete("domains", "web1")
    store.write("domains", "web1", b"old")
    assert bool(synced) is durable
    assert len(synced) == (5 if durable else 0)  # file + directory per write, directory on delete

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        store.write("domains", "web1", b"new")
    assert store.read("domains", "web1") == b"old"
    assert sorted(p.name for p in (tmp_path / "domains").iterdir()) == ["web1.json"]


def _trace_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fstype: str) -> list[str]:
    """The order of the syncing calls and the rename of one durable write on ``fstype``."""
    from virtkit.sdk import store as store_mod

    monkeypatch.setattr(store_mod, "_one_flush_devs", {})
    monkeypatch.setattr(store_mod, "_fstype", lambda dev: fstype)
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    real_sfr = store_mod._load_sync_file_range()
    assert real_sfr is not False, "this Linux host's libc has sync_file_range"

    def sfr(fd: int, off: int, n: int, flags: int) -> int:
        # the whole file, waited for: the data is on the device before the rename
        assert (off, n, flags) == (0, 0, 7) and os.fstat(fd).st_size == 3
        calls.append("write-out")
        return int(real_sfr(fd, off, n, flags))

    def fsync(fd: int) -> None:
        calls.append("fsync-dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync-file")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        calls.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(store_mod, "_sync_file_range", sfr)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    atomic_write(tmp_path / "d.xml", b"old")
    assert (tmp_path / "d.xml").read_bytes() == b"old"
    return calls


def test_a_durable_write_on_a_journaling_filesystem_flushes_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ext4 (XFS, btrfs...): data written out, then the rename, then one fsync of the file,
    which commits its name with it; no directory fsync."""
    assert _trace_write(tmp_path, monkeypatch, "ext4") == ["write-out", "rename", "fsync-file"]


def test_a_durable_write_elsewhere_fsyncs_the_file_then_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _trace_write(tmp_path, monkeypatch, "nfs4") == ["fsync-file", "rename", "fsync-dir"]


def test_the_filesystem_type_is_read_from_mountinfo() -> None:
    from virtkit.sdk import store as store_mod

    assert store_mod._fstype(os.stat("/proc").st_dev) == "proc"
    assert store_mod._fstype(os.stat("/dev/shm").st_dev) == "tmpfs"


def test_a_temporary_name_already_taken_is_skipped_not_reused(tmp_path: Path) -> None:
    """A temporary file (or a symlink) left under the name this process would use next, by a
    dead process with the same pid, is neither written nor followed: the write takes another."""
    from virtkit.sdk import store as store_mod

    outside = tmp_path / "outside"
    outside.write_bytes(b"untouched")
    (tmp_path / "d").mkdir()
    serial = store_mod._temp_serial
    nxt = next(serial)
    store_mod._temp_serial = itertools.chain([nxt, nxt + 1], serial)  # type: ignore[assignment]
    try:
        left = tmp_path / "d" / f".x.xml.{os.getpid()}-{nxt}.tmp"
        left.symlink_to(outside)
        atomic_write(tmp_path / "d" / "x.xml", b"new")
    finally:
        store_mod._temp_serial = serial
    assert (tmp_path / "d" / "x.xml").read_bytes() == b"new"
    assert outside.read_bytes() == b"untouched"
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [left.name, "x.xml"]


def test_a_store_sharing_another_stores_lock(tmp_path: Path) -> None:
    """lock_with: the status store takes the definitions store's lock (the same flock, the same
    re-entrant thread lock), and keeps no lock file of its own."""
    import fcntl
    import threading

    defs = StateStore(tmp_path / "config")
    status = StateStore(tmp_path / "run", suffix=".json", durable=False, lock_with=defs)
    with defs.locked():
        status.write("domains", "web1", b"{}")  # re-entrant: the lock is already held
        # another process (here: a descriptor of its own) cannot take the shared lock now
        fd = os.open(tmp_path / "config" / ".lock", os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
        got: list[str] = []

        def take() -> None:
            with status.locked():
                got.append("in")

        other = threading.Thread(target=take)
        other.start()
        other.join(0.2)
        assert got == []  # another thread waits for the shared lock too
    other.join(5)
    assert got == ["in"]
    assert status.read("domains", "web1") == b"{}"
    assert not (tmp_path / "run" / ".lock").exists()


def test_a_durable_delete_on_a_journaling_filesystem(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """ext4 (XFS, btrfs...): the record is renamed to a hidden name and that file fsynced (no
    directory fsync); it is gone from read and names at once, its hidden file is unlinked in
    the background, and one a crash left behind is removed by the next store's first write."""
    import time

    from virtkit.sdk import store as store_mod

    monkeypatch.setattr(store_mod, "_one_flush_devs", {})
    monkeypatch.setattr(store_mod, "_fstype", lambda dev: "ext4")
    store = StateStore(tmp_path, suffix=".json")
    store.write("domains", "web1", b"old")
    calls: list[str] = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd: int) -> None:
        calls.append("fsync-dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync-file")
        real_fsync(fd)

    def rename(src: str, dst: str) -> None:
        calls.append("rename")
        assert Path(dst).name.startswith(".web1.json.") and dst.endswith(".gone")
        real_rename(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    assert store.delete("domains", "web1")
    assert calls == ["rename", "fsync-file"]
    assert store.read("domains", "web1") is None and store.names("domains") == []
    assert not store.delete("domains", "web1")
    deadline = time.monotonic() + 10
    while list((tmp_path / "domains").iterdir()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert list((tmp_path / "domains").iterdir()) == []
    left = tmp_path / "domains" / f".db.json.{os.getpid() + 1}-7.gone"  # a crash's leftover
    left.write_bytes(b"old")
    other = StateStore(tmp_path, suffix=".json")
    other.write("domains", "db", b"new")
    assert sorted(p.name for p in (tmp_path / "domains").iterdir()) == ["db.json"]


def test_the_kept_lock_file_excludes_a_forked_child(tmp_path: Path) -> None:
    """The lock file stays open between locks; a child forked with it open takes a lock of its
    own (not the parent's, which an flock on the shared open file would be)."""
    import select

    store = StateStore(tmp_path)
    with store.locked():
        pass  # opened, kept
    r, w = os.pipe()
    with store.locked():
        pid = os.fork()
        if pid == 0:  # the child: blocks until the parent lets go
            try:
                with store.locked():
                    os.write(w, b"x")
            finally:
                os._exit(0)
        assert select.select([r], [], [], 0.5)[0] == []  # held by the parent: the child waits
    assert select.select([r], [], [], 10)[0] == [r]
    assert os.read(r, 1) == b"x"
    assert os.waitpid(pid, 0)[1] == 0
    os.close(r)
    os.close(w)
    store.close()


@pytest.mark.parametrize("fstype", ["ext4", "nfs4"])
def test_a_delete_that_does_not_wait_flushes_in_the_background(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fstype: str) -> None:
    """delete(wait=False): the record is gone when it returns; the flush (of the renamed file,
    or of the directory elsewhere) is made by the store's background thread, not the caller."""
    import threading
    import time

    from virtkit.sdk import store as store_mod

    monkeypatch.setattr(store_mod, "_one_flush_devs", {})
    monkeypatch.setattr(store_mod, "_fstype", lambda dev: fstype)
    store = StateStore(tmp_path, suffix=".json")
    store.write("domains", "web1", b"old")
    flushed: list[tuple[str, bool]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        what = "dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "file"
        flushed.append((what, threading.current_thread() is threading.main_thread()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    assert store.delete("domains", "web1", wait=False)
    assert store.read("domains", "web1") is None and store.names("domains") == []
    deadline = time.monotonic() + 10
    while (not flushed or list((tmp_path / "domains").iterdir())) \
            and time.monotonic() < deadline:
        time.sleep(0.01)
    assert flushed == [("file" if fstype == "ext4" else "dir", False)]
    assert list((tmp_path / "domains").iterdir()) == []
    assert not store.delete("domains", "web1", wait=False)
