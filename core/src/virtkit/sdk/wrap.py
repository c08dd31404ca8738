"""Making a cross-cutting plugin that sees every hook call.

pluggy wraps per hook name, so a plugin that must see every call needs one wrapper hookimpl per
hookspec. :func:`wrap_every_hook` writes them: each calls the plugin's ``around(op, args)``
generator, which yields once (receiving the result, or the exception raised at the yield) and
returns the result. A hookspec added tomorrow is wrapped the day it is written.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator
from typing import Any, TypeVar

from virtkit.sdk.errors import VirtError
from virtkit.sdk.hookspecs import PREFIX, all_specs, hookimpl

_C = TypeVar("_C", bound=type)

Around = Generator[None, Any, Any]

def _make(hook: str, argnames: tuple[str, ...]) -> Callable[..., Any]:
    # pluggy reads a hookimpl's argument names from its code object, so the wrapper is compiled
    # with the spec's own parameter names (which come from our hookspecs, never from input).
    op = hook[len(PREFIX) :]
    params = "".join(f", {a}" for a in argnames)
    args = ", ".join(f"{a!r}: {a}" for a in argnames)
    source = (
        f"def {hook}(self{params}):\n"
        f"    return (yield from guarded(self, {op!r}, self.around({op!r}, {{{args}}})))\n"
    )
    namespace: dict[str, Any] = {"guarded": guarded}
    exec(compile(source, f"<virtkit wrapper {hook}>", "exec"), namespace)
    return hookimpl(wrapper=True)(namespace[hook])  # type: ignore[no-any-return]


def _blame(plugin: Any, exc: BaseException) -> None:
    """Mark an exception as raised by ``plugin`` so the core names the plugin, not the driver."""
    if not isinstance(exc, VirtError):
        try:
            exc.virtkit_plugin = getattr(plugin, "name", None) or type(plugin).__name__  # type: ignore[attr-defined]
        except AttributeError:  # pragma: no cover - exceptions that refuse attributes
            pass


def guarded(plugin: Any, op: str, gen: Around) -> Around:
    """Drive a plugin's ``around`` generator as pluggy's new-style wrapper: an exception the
    plugin raises itself (not the one the call raised) is marked as the plugin's."""
    try:
        next(gen)
    except StopIteration:
        raise RuntimeError(f"{op}: around() must yield exactly once") from None
    except BaseException as exc:
        _blame(plugin, exc)
        raise
    try:
        result = yield
    except BaseException as exc:
        try:
            gen.throw(exc)
        except StopIteration as stop:
            return stop.value
        except BaseException as raised:
            if raised is not exc:
                _blame(plugin, raised)
            raise
        raise RuntimeError(f"{op}: around() must yield exactly once") from None
    try:
        gen.send(result)
    except StopIteration as stop:
        return stop.value
    except BaseException as raised:
        _blame(plugin, raised)
        raise
    raise RuntimeError(f"{op}: around() must yield exactly once")


def wrap_every_hook(cls: _C) -> _C:
    """Class decorator: add a wrapper hookimpl for every hookspec the class does not define."""
    for hook, spec in all_specs().items():
        if hook not in vars(cls):
            argnames = tuple(inspect.signature(spec).parameters)
            setattr(cls, hook, _make(hook, argnames))
    return cls
