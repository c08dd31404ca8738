"""The hook markers of virtkit and the read-only mark for hookspecs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pluggy

PROJECT = "virtkit"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

_F = TypeVar("_F", bound=Callable[..., Any])


def spec(*, readonly: bool) -> Callable[[_F], _F]:
    """Declare a hookspec: first result wins; ``readonly`` says a read-only connection may call it.

    Every operation that changes anything is ``readonly=False`` and is refused with
    OPERATION_DENIED on a read-only connection before any driver code runs.
    """

    def mark(fn: _F) -> _F:
        fn.virtkit_readonly = readonly  # type: ignore[attr-defined]
        return hookspec(firstresult=True)(fn)

    return mark


def is_readonly(fn: Callable[..., Any]) -> bool:
    return bool(getattr(fn, "virtkit_readonly", False))
