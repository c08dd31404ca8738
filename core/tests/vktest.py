"""Helpers the test-driver family tests share: an expected refusal, and an inbox of events."""

from __future__ import annotations

import queue
from typing import Any

import pytest

import virtkit
from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.sdk.records import Event


def expect(code: ErrorCode, fn: Any, *args: Any, **kwargs: Any) -> VirtError:
    """``fn(*args, **kwargs)`` raises a VirtError with ``code``; the error."""
    with pytest.raises(VirtError) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, info.value
    return info.value


def inbox(conn: virtkit.Connection, *kinds: str) -> queue.SimpleQueue[Event]:
    """A queue that receives every event of ``kinds`` on ``conn``."""
    box: queue.SimpleQueue[Event] = queue.SimpleQueue()
    for kind in kinds:
        conn.event_register(kind, box.put)
    return box


def error_code(fn: Any, *args: Any) -> ErrorCode:
    """The code of the VirtError ``fn(*args)`` raises (it must raise one)."""
    with pytest.raises(VirtError) as info:
        fn(*args)
    return info.value.code
