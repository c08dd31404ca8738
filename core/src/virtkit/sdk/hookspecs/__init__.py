"""The hook specifications every driver implements (pluggy project ``virtkit``).

Modules group them by object: :mod:`.connection` (connection and host node), :mod:`.domain`,
:mod:`.storage`, :mod:`.network` (virtual networks and host interfaces), :mod:`.ports`,
:mod:`.streams`, :mod:`.nodedev` (host devices), :mod:`.secrets`, and the domain families
:mod:`.agent` (guest agent), :mod:`.blockjobs` (block jobs and block devices),
:mod:`.tuning` (statistics and tuning), :mod:`.graphics` (screen, input, power management and
core dumps), :mod:`.migration` (migration tuning).
Connection-side families: :mod:`.host` (host CPU, memory and security), :mod:`.nwfilter`
(network filters), :mod:`.checkpoints` (checkpoints and backup).
Each spec's docstring states its arguments, result, errors and state change; the driver guide
(docs/hooks.md) lists them all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from virtkit.sdk.hookspecs import (
    agent,
    blockjobs,
    checkpoints,
    connection,
    domain,
    graphics,
    host,
    migration,
    network,
    nodedev,
    nwfilter,
    ports,
    secrets,
    storage,
    streams,
    tuning,
)
from virtkit.sdk.hookspecs.markers import PROJECT, hookimpl, hookspec, is_readonly, spec

MODULES: tuple[ModuleType, ...] = (
    connection, domain, storage, network, ports, streams, nodedev, secrets,
    agent, blockjobs, tuning, graphics, migration,
    host, nwfilter, checkpoints,
)
PREFIX = "virtkit_"

__all__ = [
    "MODULES", "PREFIX", "PROJECT", "all_specs", "hookimpl", "hookspec", "object_args",
    "readonly_ops", "spec",
]


@functools.cache
def all_specs() -> dict[str, Callable[..., Any]]:
    """Every hookspec function by its hook name (``virtkit_domain_suspend``...)."""
    found: dict[str, Callable[..., Any]] = {}
    for module in MODULES:
        for name, value in vars(module).items():
            if name.startswith(PREFIX) and callable(value):
                found[name] = value
    return found


@functools.cache
def object_args() -> dict[str, tuple[str, ...]]:
    """For each hook, the arguments that name the object it acts on: every parameter annotated
    with an identity record (``DomainRef``, ``NetworkRef``, ... any ``*Ref``)."""
    import inspect
    import typing

    out: dict[str, tuple[str, ...]] = {}
    for name, fn in all_specs().items():
        hints = typing.get_type_hints(fn)
        out[name] = tuple(
            arg
            for arg in inspect.signature(fn).parameters
            if any(getattr(h, "__name__", "").endswith("Ref")
                   for h in (hints.get(arg), *typing.get_args(hints.get(arg))))
        )
    return out


@functools.cache
def readonly_ops() -> frozenset[str]:
    """Hook names a read-only connection may call."""
    return frozenset(name for name, fn in all_specs().items() if is_readonly(fn))
