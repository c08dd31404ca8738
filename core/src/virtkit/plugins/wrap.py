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

from ..hookspecs import PREFIX, all_specs, hookimpl

_C = TypeVar("_C", bound=type)

Around = Generator[None, Any, Any]

_POK = inspect.Parameter.POSITIONAL_OR_KEYWORD


def _make(hook: str, argnames: tuple[str, ...]) -> Callable[..., Any]:
    op = hook[len(PREFIX) :]

    def wrapper(self: Any, *args: Any) -> Any:
        return (yield from self.around(op, dict(zip(argnames, args))))

    params = [inspect.Parameter("self", _POK)] + [inspect.Parameter(a, _POK) for a in argnames]
    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__name__ = wrapper.__qualname__ = hook
    return hookimpl(wrapper=True)(wrapper)


def wrap_every_hook(cls: _C) -> _C:
    """Class decorator: add a wrapper hookimpl for every hookspec the class does not define."""
    for hook, spec in all_specs().items():
        if hook not in vars(cls):
            argnames = tuple(inspect.signature(spec).parameters)
            setattr(cls, hook, _make(hook, argnames))
    return cls
