"""Replaying a transcript recorded from a real dom0 (``Recording``): the default tests drive the
driver through the same calls as the real run and check that it issues the same xl commands,
in the same order, and handles the answers xl really gave."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit_xen.runner import RunResult

__all__ = ["ReplayRunner", "shared_replay"]

_shared: dict[str, ReplayRunner] = {}
_shared_lock = threading.Lock()


def shared_replay(path: str) -> ReplayRunner:
    """The one replay of ``path`` in this process: every connection opened while it runs takes
    its next command from the same transcript, as they shared the real dom0's channel.
    ``ReplayRunner.forget(path)`` starts over."""
    with _shared_lock:
        if path not in _shared:
            _shared[path] = ReplayRunner(path)
        return _shared[path]


class ReplayRunner:
    """Answers each command with the next recorded one; a command that differs from the
    recording raises INTERNAL_ERROR naming both (the driver's xl sequence changed)."""

    def __init__(self, path: str | Path) -> None:
        self.entries = [json.loads(line) for line in Path(path).read_text().splitlines()
                        if line.strip()]
        self.pos = 0
        self.lock = threading.Lock()

    def run(self, argv: Sequence[str], *, input: bytes | None = None,
            timeout: float = 120.0) -> RunResult:
        with self.lock:
            if self.pos >= len(self.entries):
                raise VirtError(ErrorCode.INTERNAL_ERROR, f"replay: '{' '.join(argv)}' is past "
                                "the end of the transcript", ErrorDomain.LIBXL)
            e = self.entries[self.pos]
            if e["argv"] != list(argv) or e["input"] != (input.decode() if input else None):
                raise VirtError(ErrorCode.INTERNAL_ERROR, f"replay: command {self.pos + 1} is "
                                f"{list(argv)}, the transcript has {e['argv']}",
                                ErrorDomain.LIBXL)
            self.pos += 1
            return RunResult(e["rc"], e["stdout"], e["stderr"])

    @staticmethod
    def forget(path: str) -> None:
        with _shared_lock:
            _shared.pop(path, None)

    @property
    def done(self) -> bool:
        return self.pos == len(self.entries)

    def close(self) -> None:
        pass
