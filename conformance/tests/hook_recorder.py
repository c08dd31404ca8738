"""The test driver, recording every hook that returns without error while a test body runs:
the meta-test's proof that each hookspec has a success-path test in the suite."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from virtkit.drivers.test import TestDriver
from virtkit.sdk.hookspecs import all_specs

#: Hook names that returned without error during a test's call phase.
SUCCEEDED: set[str] = set()
#: True while a test body runs (set by the self-test's conftest).
IN_CALL = threading.Event()


def _recording(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def hook(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        if IN_CALL.is_set():
            SUCCEEDED.add(name)
        return result

    return hook


RecordingDriver = type("RecordingDriver", (TestDriver,), {
    name: _recording(name, getattr(TestDriver, name))
    for name in all_specs() if callable(getattr(TestDriver, name, None))
})
