"""The event journal: order, readers at their own offsets, partial lines, rotation, processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from virtkit.sdk.journal import Journal, JournalEntry


def test_readers_start_at_the_end_and_read_in_order(tmp_path: Path) -> None:
    j = Journal(tmp_path / "ev.journal")
    j.append("a", {"n": 0})
    r1 = j.reader()
    assert r1.read() == []  # what came before the reader is not its business
    assert j.append("a", {"n": 1}, {"n": 2}) == 3
    r2 = j.reader()
    j.append("b", {"n": 3})
    assert r1.read() == [JournalEntry(2, "a", {"n": 1}), JournalEntry(3, "a", {"n": 2}),
                         JournalEntry(4, "b", {"n": 3})]
    assert r1.read() == []
    assert r2.read() == [JournalEntry(4, "b", {"n": 3})]  # its own offset
    assert r1.lost == r2.lost == 0
    r1.close()
    r2.close()
    with pytest.raises(ValueError):
        r1.read()


def test_a_partial_line_waits_for_its_end(tmp_path: Path) -> None:
    j = Journal(tmp_path / "ev.journal")
    with j.reader() as r:
        line = b'{"seq":1,"src":"w","data":[1,2,3]}\n'
        with open(j.path, "ab") as f:  # a writer caught half way through its write
            f.write(line[:10])
            f.flush()
            assert r.read() == []
            f.write(line[10:])
        assert r.read() == [JournalEntry(1, "w", [1, 2, 3])]


def test_seq_survives_a_lost_counter(tmp_path: Path) -> None:
    j = Journal(tmp_path / "ev.journal")
    j.append("a", "x", "y")
    os.unlink(str(j.path) + ".lock")
    assert Journal(tmp_path / "ev.journal").append("a", "z") == 3


def test_rotation_loses_nothing(tmp_path: Path) -> None:
    j = Journal(tmp_path / "ev.journal", max_bytes=300, keep=2)
    slow = j.reader()  # reads only at the end: the files it held rotated away meanwhile
    fast = j.reader()
    got: list[int] = []
    for i in range(40):
        j.append("w", {"i": i, "pad": "x" * 20})
        got += [e.data["i"] for e in fast.read()]
        if i == 12:
            assert j.rotated(1).exists()
    assert got == list(range(40))
    assert fast.lost == 0
    # the slow reader's file and more went (keep=2 old files): it gets what is left, in order,
    # and counts what it could not read
    rest = [e.data["i"] for e in slow.read()]
    assert rest == sorted(rest) and rest[-1] == 39
    assert slow.lost == 40 - len(rest) > 0
    assert not j.rotated(3).exists()


def test_rotation_between_reads_within_keep(tmp_path: Path) -> None:
    """A reader one and a half files behind: its open file is now PATH.1 (or gone), it drains
    it, then reads the rotated files and the new one; every record once, in order."""
    j = Journal(tmp_path / "ev.journal", max_bytes=400, keep=3)
    r = j.reader()
    for i in range(10):
        j.append("w", {"i": i})
    first = [e.data["i"] for e in r.read()]
    for i in range(10, 25):
        j.append("w", {"i": i})
    assert j.rotated(1).exists()
    second = [e.data["i"] for e in r.read()]
    assert first + second == list(range(25)) and r.lost == 0


def test_concurrent_writers_and_readers_in_processes(tmp_path: Path) -> None:
    """Three processes append while a reader in this process and one in another tail the
    journal through many rotations (about 25 files of 40 records): both see every record once,
    in the journal's order, and each writer's records in the order it wrote them. (``keep`` is
    large enough that the free-running writers cannot outrun the readers by more than the kept
    files; a driver's journal rotates at 1 MiB, thousands of records per file.)"""
    path = tmp_path / "ev.journal"
    j = Journal(path, max_bytes=2000, keep=40)
    go = tmp_path / "go"
    writer = textwrap.dedent(f"""
        import os, sys, time
        from virtkit.sdk.journal import Journal
        j = Journal({str(path)!r}, max_bytes=2000, keep=40)
        while not os.path.exists({str(go)!r}):
            time.sleep(0.01)
        for i in range(300):
            j.append(sys.argv[1], {{"i": i}})
        """)
    reader = textwrap.dedent(f"""
        import json, os, sys, time
        from virtkit.sdk.journal import Journal
        j = Journal({str(path)!r}, max_bytes=2000, keep=40)
        r = j.reader()
        print("ready", flush=True)
        out = []
        while len(out) < 900:
            out += [[e.seq, e.source, e.data["i"]] for e in r.read()]
            time.sleep(0.001)
        print(json.dumps({{"lost": r.lost, "out": out}}), flush=True)
        """)
    env = dict(os.environ)
    rproc = subprocess.Popen([sys.executable, "-c", reader], stdout=subprocess.PIPE, text=True,
                             env=env)
    writers: list[subprocess.Popen[bytes]] = []
    try:
        assert rproc.stdout is not None
        assert rproc.stdout.readline().strip() == "ready"
        local = j.reader()
        writers = [subprocess.Popen([sys.executable, "-c", writer, f"w{k}"], env=env)
                   for k in range(3)]
        go.touch()
        seen: list[list[object]] = []
        stop = threading.Event()

        def tail() -> None:
            while len(seen) < 900 and not stop.is_set():
                seen.extend([e.seq, e.source, e.data["i"]] for e in local.read())

        t = threading.Thread(target=tail)
        t.start()
        for w in writers:
            assert w.wait(60) == 0
        t.join(30)
        stop.set()
        import json
        remote = json.loads(rproc.communicate(timeout=60)[0])
    finally:
        for p in [rproc, *writers]:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert local.lost == 0 and remote["lost"] == 0
    for got in (seen, remote["out"]):
        assert [s for s, _, _ in got] == list(range(1, 901))
        for k in range(3):
            assert [i for _, src, i in got if src == f"w{k}"] == list(range(300))
    rotated = [p for p in tmp_path.glob("ev.journal.*") if p.suffix != ".lock"]
    assert 15 < len(rotated) <= 40


def test_a_reader_skips_its_own_source_without_losing_count(tmp_path: Path) -> None:
    """reader(skip_source=S): S's records are passed over (not returned, not counted lost);
    a source whose name only starts like S's, or is S's inside the data, is not skipped."""
    j = Journal(tmp_path / "ev.journal", max_bytes=200, keep=3)
    r = j.reader(skip_source='me "1"')
    j.append('me "1"', {"n": 1})
    j.append('me "1"x', {"n": 2})
    j.append("other", {"src": 'me "1"'})
    j.append('me "1"', {"n": 3}, {"n": 4})
    j.append("other", 5)  # past max_bytes by now: the file rotated, nothing lost
    assert r.read() == [JournalEntry(2, 'me "1"x', {"n": 2}),
                        JournalEntry(3, "other", {"src": 'me "1"'}),
                        JournalEntry(6, "other", 5)]
    assert r.lost == 0 and r.next_seq == 7
    r.close()


def test_a_lock_file_made_anew_is_the_one_every_writer_takes(tmp_path: Path) -> None:
    # the lock file removed and made anew by another writer (another process): a writer that
    # kept the old one open takes the new one, so both still exclude each other and number on
    one, two = Journal(tmp_path / "j"), Journal(tmp_path / "j")
    assert one.append("a", 1) == 1
    os.unlink(tmp_path / "j.lock")
    assert two.append("b", 2) == 2  # makes the lock file anew (its counter from the journal)
    assert one.append("a", 3) == 3
    assert two.append("b", 4) == 4
    with two.reader() as r:
        assert one.append("a", 5) == 5
        assert [e.seq for e in r.read()] == [5]
