"""An append-only journal of small records that every reader tails from its own offset.

A driver whose guests can be changed by other processes (several connections in one process,
a command line next to the daemon) tells every connection about every change by appending one
record per change to a journal in its run directory; each connection holds a
:class:`JournalReader` and reads what was appended since its last read, in order, without
missing any (a poll of a record's last state loses a change that another one overwrote within
the poll, and never sees a record that was deleted).

- :meth:`Journal.append` writes JSON lines under the journal's lock (an ``flock`` on
  ``PATH.lock``, across threads and processes), numbering each record: ``seq`` increases by one
  per record across the whole journal, whoever writes. Append inside the same lock that orders
  your state changes (the state store's ``locked()``), so the journal's order is theirs.
- When the file passes ``max_bytes``, the append that passed it renames it to ``PATH.1`` (the
  older ``PATH.1`` to ``PATH.2``, up to ``keep`` old files) and starts a new one. A reader that
  meets a renamed file drains its open descriptor to the end, then continues in the rotated
  files and the new one from the first ``seq`` it has not seen; nothing is lost unless a
  reader fell more than ``keep`` whole files behind, which it is told (``reader.lost``).
- A reader starts at the end of the journal (what was appended before it existed is not its
  business) and sees its own process's records too: filter them by ``source``.

Records are runtime status: the journal belongs under ``state_dirs().run`` and is never fsynced.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from virtkit.sdk.compactjson import dumps as _compact

__all__ = ["Journal", "JournalEntry", "JournalReader"]

_SEQ_BYTES = 20  # the lock file holds the last seq written, as decimal digits


@attrs.frozen
class JournalEntry:
    """One record: its number in the journal, who wrote it, and what."""

    seq: int
    source: str
    data: Any


class Journal:
    """The journal at ``path`` (created with its directory if missing)."""

    def __init__(self, path: Path | str, *, max_bytes: int = 1 << 20, keep: int = 2) -> None:
        if max_bytes < 1 or keep < 1:
            raise ValueError("a journal needs max_bytes >= 1 and keep >= 1")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.keep = keep
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._file = str(self.path)
        self._thread_lock = threading.RLock()
        self._lock_path = self._file + ".lock"
        self._lock_fd = -1  # opened once, kept: a lock or an append costs no open
        self._append_fd = -1  # the journal file, kept open for appends while it is current
        self._append_id: tuple[int, int] | None = None
        with self._locked(fcntl.LOCK_EX):
            os.close(os.open(self._file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))

    def close(self) -> None:
        """Close the lock file (readers keep working; an append opens it again)."""
        with self._thread_lock:
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
                self._lock_fd = -1
            if self._append_fd >= 0:
                os.close(self._append_fd)
                self._append_fd = -1

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def rotated(self, n: int) -> Path:
        """The path of the ``n``-th older file (1 is the newest rotated one)."""
        return self.path.with_name(f"{self.path.name}.{n}")

    @contextlib.contextmanager
    def _locked(self, how: int) -> Iterator[int]:
        with self._thread_lock:
            # the lock file kept open, unless it was removed (or replaced) since: then the
            # one at its path, made anew if none (an fstat: no walk of the path)
            if self._lock_fd < 0 or os.fstat(self._lock_fd).st_nlink == 0:
                if self._lock_fd >= 0:
                    os.close(self._lock_fd)
                self._lock_fd = os.open(self._lock_path,
                                        os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fd = self._lock_fd
            fcntl.flock(fd, how)
            try:
                yield fd
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _last_seq(self, lock_fd: int) -> int:
        raw = os.pread(lock_fd, _SEQ_BYTES, 0).strip(b"\0 \n")
        if raw.isdigit():
            return int(raw)
        # the counter is gone (a lock file made anew): the newest record on disk has it
        for p in [self.path] + [self.rotated(n) for n in range(1, self.keep + 1)]:
            last = _last_line(p)
            if last is not None:
                return int(last["seq"])
        return 0

    def append(self, source: str, *records: Any) -> int:
        """Append ``records`` (JSON-serialisable) from ``source``; the last seq written."""
        if not records:
            return self.last_seq()
        with self._locked(fcntl.LOCK_EX) as lock_fd:
            seq = self._last_seq(lock_fd)
            lines = []
            for data in records:
                seq += 1
                lines.append(_compact({"seq": seq, "src": source, "data": data}))
            blob = ("\n".join(lines) + "\n").encode()
            fd, size = self._append_file()
            view = memoryview(blob)
            while view:
                view = view[os.write(fd, view):]
            size += len(blob)  # every append is made under the lock: nothing else grew it
            os.pwrite(lock_fd, str(seq).encode().ljust(_SEQ_BYTES), 0)
            if size >= self.max_bytes:
                self._rotate()
            return seq

    def _append_file(self) -> tuple[int, int]:
        """The journal file open for appending (kept open while it is the journal's file, not
        rotated away nor removed) and its size (lock held)."""
        try:
            st = os.stat(self._file)
            ident: tuple[int, int] | None = (st.st_dev, st.st_ino)
            size = st.st_size
        except FileNotFoundError:
            ident, size = None, 0
        if self._append_fd < 0 or ident is None or ident != self._append_id:
            if self._append_fd >= 0:
                os.close(self._append_fd)
                self._append_fd = -1
            fd = os.open(self._file, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC,
                         0o600)
            self._append_fd = fd
            st = os.fstat(fd)
            self._append_id, size = (st.st_dev, st.st_ino), st.st_size
        return self._append_fd, size

    def _rotate(self) -> None:
        """Shift PATH.N-1 to PATH.N ... PATH to PATH.1 and start PATH anew (lock held)."""
        for n in range(self.keep, 1, -1):
            with contextlib.suppress(FileNotFoundError):
                os.replace(self.rotated(n - 1), self.rotated(n))
        os.replace(self.path, self.rotated(1))
        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))

    def last_seq(self) -> int:
        with self._locked(fcntl.LOCK_SH) as lock_fd:
            return self._last_seq(lock_fd)

    def reader(self, *, skip_source: str | None = None) -> JournalReader:
        """A reader positioned at the journal's end. ``skip_source``: the records of that
        source (your own: emitted when they happened) are passed over, not decoded nor
        returned."""
        return JournalReader(self, skip_source=skip_source)


class JournalReader:
    """Reads a :class:`Journal` from where it last stopped; one per connection (or consumer).

    Not thread-safe: one thread reads it. ``close()`` it (or use it as a context manager).
    """

    def __init__(self, journal: Journal, *, skip_source: str | None = None) -> None:
        self.journal = journal
        self.lost = 0  # records rotated away before this reader could read them
        # the bytes after a skipped record's seq, as append writes them
        self._skip = (None if skip_source is None
                      else b',"src":' + json.dumps(skip_source).encode() + b',')
        self._partial = b""
        with journal._locked(fcntl.LOCK_SH) as lock_fd:
            self.next_seq = journal._last_seq(lock_fd) + 1
            self._fd = os.open(journal._file, os.O_RDONLY | os.O_CLOEXEC)
            self._held = _ident(self._fd)  # the file this reader holds (kept: no fstat a read)
        os.lseek(self._fd, 0, os.SEEK_END)

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def read(self) -> list[JournalEntry]:
        """Every record appended since the last read, in order (an empty list if none)."""
        if self._fd < 0:
            raise ValueError("read of a closed journal reader")
        out: list[JournalEntry] = []
        self._drain(self._fd, out)
        try:
            st = os.stat(self.journal._file)
            current = (st.st_dev, st.st_ino) == self._held
        except FileNotFoundError:
            current = False
        if current:
            return out
        # the file was rotated: under the lock (no rotation meanwhile), drain the descriptor
        # this reader holds (nothing is written to a file after its rename), then read the
        # rotated files and the new one from the first record not yet seen
        j = self.journal
        with j._locked(fcntl.LOCK_SH):
            self._drain(self._fd, out)
            self._partial = b""
            os.close(self._fd)
            self._fd = -1
            for n in range(j.keep, 0, -1):
                try:
                    fd = os.open(j.rotated(n), os.O_RDONLY)
                except FileNotFoundError:
                    continue
                try:
                    self._drain(fd, out)
                finally:
                    self._partial = b""
                    os.close(fd)
            self._fd = os.open(j._file, os.O_RDONLY | os.O_CLOEXEC)
            self._held = _ident(self._fd)
            self._drain(self._fd, out)
        return out

    def _drain(self, fd: int, out: list[JournalEntry]) -> None:
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            self._partial += chunk
        if b"\n" not in self._partial:
            return
        complete, _, self._partial = self._partial.rpartition(b"\n")
        skip = self._skip
        for line in complete.split(b"\n"):
            rec = None
            try:
                end = line.find(b",", 7)
                if skip is not None and line.startswith(b'{"seq":') \
                        and line.startswith(skip, end):
                    seq = int(line[7:end])  # a skipped source's record: its seq only
                else:
                    rec = json.loads(line)
                    seq = int(rec["seq"])
            except (ValueError, KeyError, TypeError):
                continue  # not a record of ours: skip it rather than stop reading
            if seq < self.next_seq:
                continue  # already read (a rotated file read again)
            if seq > self.next_seq:
                self.lost += seq - self.next_seq
            self.next_seq = seq + 1
            if rec is not None:
                out.append(JournalEntry(seq, str(rec.get("src", "")), rec.get("data")))


def _ident(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _last_line(path: Path) -> Any:
    """The last complete record of the file at ``path``, or None."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    for line in reversed(data.rstrip(b"\n").split(b"\n")):
        with contextlib.suppress(ValueError, KeyError, TypeError):
            rec = json.loads(line)
            int(rec["seq"])
            return rec
    return None
