"""The hook markers of virtkit and what a hookspec declares besides its signature.

:func:`spec` marks a hookspec and records its :class:`SpecMeta`: whether a read-only connection
may call it (always, never, or only for some arguments), the argument checks the core applies at
dispatch before any driver code runs, and whether "no result" is a valid answer. The runtime reads
these, so a call is checked the same way whether it comes from the facade, a test or the wire.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
import pluggy

PROJECT = "virtkit"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

_F = TypeVar("_F", bound=Callable[..., Any])

#: An argument check: takes the argument's value and the hook's name, returns the value to pass
#: on (possibly normalised, such as a uuid in canonical form), or raises VirtError.
Check = Callable[[Any, str], Any]

#: A read-only rule that depends on the arguments: True when a read-only connection may make
#: this call with these arguments.
ReadonlyRule = Callable[[Mapping[str, Any]], bool]


@attrs.frozen
class SpecMeta:
    """What one hookspec declares besides its signature.

    ``readonly``: True (a read-only connection may call it), False (it changes something, and is
    refused with OPERATION_DENIED), or a :data:`ReadonlyRule` for calls that are read-only only
    with some arguments (``domain_get_xml`` without ``security_info``). ``denied_because`` names
    what such a rule refuses, for the error message. ``checks`` maps argument names to checks
    applied before the driver runs. ``optional_result`` says None is a valid result.
    ``opens_stream`` says the result is a stream id: the ``stream_*`` calls on that id go to the
    provider that opened it (a connection's driver and its host services may each have streams).
    """

    readonly: bool | ReadonlyRule
    checks: Mapping[str, Check] = attrs.field(factory=dict)
    optional_result: bool = False
    denied_because: str = ""
    opens_stream: bool = False


def spec(
    *,
    readonly: bool | ReadonlyRule,
    checks: Mapping[str, Check] | None = None,
    optional_result: bool = False,
    denied_because: str = "",
    opens_stream: bool = False,
) -> Callable[[_F], _F]:
    """Declare a hookspec: first result wins.

    :param readonly: whether a read-only connection may call it (see :class:`SpecMeta`). Every
        operation that changes anything, reveals secrets or reads guest data is not read-only,
        and is refused with OPERATION_DENIED on a read-only connection before any driver code.
    :param checks: argument checks by argument name, in addition to the checks every hook gets
        from its annotations and argument names (see :mod:`virtkit.sdk.checks`).
    :param optional_result: None is a valid result (else it is the driver's error).
    :param opens_stream: the result is a stream id owned by the provider that answered.
    """

    def mark(fn: _F) -> _F:
        fn.virtkit_meta = SpecMeta(  # type: ignore[attr-defined]
            readonly, dict(checks or {}), optional_result, denied_because, opens_stream
        )
        return hookspec(firstresult=True)(fn)

    return mark


def meta(fn: Callable[..., Any]) -> SpecMeta:
    """The :class:`SpecMeta` of a hookspec function."""
    found: SpecMeta = fn.virtkit_meta  # type: ignore[attr-defined]
    return found


def is_readonly(fn: Callable[..., Any]) -> bool:
    """Whether a read-only connection may call this hook at all (with some arguments at least)."""
    return meta(fn).readonly is not False


def unless(**forbidden: Any) -> ReadonlyRule:
    """A read-only rule: allowed unless every named argument has the given value
    (``unless(security_info=True)``)."""

    def rule(args: Mapping[str, Any]) -> bool:
        return not all(args.get(k) == v for k, v in forbidden.items())

    return rule
