"""Finding drivers and cross-cutting plugins through entry points (an index kept per path).

Drivers live in the entry-point group ``virtkit.drivers``, named by URI scheme; cross-cutting
plugins (audit log, access control, metrics) in ``virtkit.plugins``. Opening a connection loads
only the driver its scheme names, and finds it in an index of the entry points kept per Python
path (see :func:`_entry_points`). A driver that fails to import is an error naming its
distribution and the cause when it is asked for, and shows as broken in :func:`drivers`; two
distributions claiming one scheme is an error naming both. ``VIRTKIT_DRIVERS`` (a comma-separated
list of schemes) restricts which drivers load at all.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

import attrs

from virtkit._userdirs import cache_home
from virtkit.sdk.errors import ErrorCode, VirtError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from virtkit.sdk.uri import URI

DRIVER_GROUP = "virtkit.drivers"
PLUGIN_GROUP = "virtkit.plugins"
SERVICE_GROUP = "virtkit.services"
REMOTE_SCHEME = "remote"


@attrs.frozen
class DriverEntry:
    """One installed driver: its scheme, where it comes from, and why it is broken (if it is)."""

    scheme: str
    target: str
    distribution: str | None
    version: str | None
    error: str | None = None

    @property
    def broken(self) -> bool:
        return self.error is not None

    @property
    def origin(self) -> str:
        if self.distribution is None:
            return f"'{self.target}'"
        return f"distribution '{self.distribution}' {self.version or ''}".rstrip()


def _allowed(scheme: str) -> bool:
    only = os.environ.get("VIRTKIT_DRIVERS")
    if not only:
        return True
    return scheme in {s.strip() for s in only.split(",") if s.strip()}


GROUPS = (DRIVER_GROUP, PLUGIN_GROUP, SERVICE_GROUP)
INDEX_FORMAT = 1


class IndexedEntryPoint:
    """An entry point read from virtkit's index: what :class:`importlib.metadata.EntryPoint`
    offers the registry (``name``, ``value``, ``group``, ``load()``) without importing
    importlib.metadata, which costs a command line's start-up more than the lookup."""

    __slots__ = ("group", "name", "value")

    def __init__(self, group: str, name: str, value: str) -> None:
        self.group, self.name, self.value = group, name, value

    def load(self) -> Any:
        import importlib

        target = self.value.split("[", 1)[0]
        module, _, attr = target.partition(":")
        obj = importlib.import_module(module.strip())
        for part in attr.strip().split(".") if attr.strip() else ():
            obj = getattr(obj, part)
        return obj


_index: dict[str, list[Any]] | None = None


def _entry_points(group: str) -> list[Any]:
    """The entry points of ``group``, from an index file kept per Python path.

    The index (``$XDG_CACHE_HOME/virtkit/entry-points/``) is keyed on the interpreter, every
    ``sys.path`` entry and its modification time (installing or removing a distribution changes
    its directory's), as stevedore's cache is, but is read without importing stevedore or
    importlib.metadata. A miss scans the installed distributions once and rewrites the index.
    """
    global _index
    if _index is None:
        _index = _read_index() or _scan_all()
    return list(_index.get(group, ()))


def _path_key() -> list[Any]:
    import sys

    key: list[Any] = [sys.executable, sys.version, INDEX_FORMAT]
    for entry in sys.path:
        try:
            key.append([entry, os.stat(entry or ".").st_mtime_ns])
        except OSError:
            key.append([entry, None])
    return key


def _index_file(key: list[Any]) -> str:
    import json
    import zlib

    base = cache_home()
    digest = zlib.crc32(json.dumps(key).encode("utf-8", "surrogateescape"))
    return os.path.join(base, "virtkit", "entry-points", f"{digest:08x}.json")


def _read_index() -> dict[str, list[Any]] | None:
    import json

    key = _path_key()
    try:
        with open(_index_file(key), encoding="utf-8") as f:
            data = json.load(f)
        if data.get("key") != json.loads(json.dumps(key)):
            return None
        return {group: [IndexedEntryPoint(group, name, value) for name, value in eps]
                for group, eps in data["groups"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _scan_all() -> dict[str, list[Any]]:
    """Every group's entry points from the installed distributions; the index is rewritten."""
    import json
    from importlib.metadata import entry_points

    found = entry_points()
    groups: dict[str, list[Any]] = {g: list(found.select(group=g)) for g in GROUPS}
    key = _path_key()
    path = _index_file(key)
    data = {"key": key, "groups": {g: [[ep.name, ep.value] for ep in eps]
                                   for g, eps in groups.items()}}
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        partial = f"{path}.{os.getpid()}"
        with open(partial, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(partial, path)
    except OSError:
        pass  # no cache directory: every start scans, nothing else changes
    return groups


@functools.cache
def _distribution_of(group: str, name: str, value: str) -> tuple[str | None, str | None]:
    """The distribution (name, version) that declares an entry point; read only when needed."""
    from importlib.metadata import distributions

    for dist in distributions():
        for ep in dist.entry_points:
            if ep.group == group and ep.name == name and ep.value == value:
                return dist.metadata["Name"], dist.version
    return None, None


def _entry(ep: EntryPoint, error: str | None = None) -> DriverEntry:
    dist, version = _distribution_of(ep.group, ep.name, ep.value)
    return DriverEntry(ep.name, ep.value, dist, version, error)


def _claims(scheme: str) -> list[EntryPoint]:
    seen: dict[str, EntryPoint] = {}
    for ep in _entry_points(DRIVER_GROUP):
        if ep.name == scheme:
            seen.setdefault(ep.value, ep)
    return list(seen.values())


def _conflict(scheme: str, claims: list[EntryPoint]) -> VirtError:
    who = " and ".join(_entry(ep).origin for ep in claims)
    return VirtError(
        ErrorCode.INTERNAL_ERROR,
        f"driver scheme '{scheme}' is claimed by more than one installed driver: {who}; "
        f"uninstall one of them",
    )


def _load(ep: EntryPoint) -> Any:
    try:
        return ep.load()
    except Exception as exc:  # an import error, a syntax error, anything a plugin may raise
        entry = _entry(ep)
        raise VirtError(
            ErrorCode.NO_CONNECT,
            f"driver '{ep.name}' from {entry.origin} failed to load: "
            f"{type(exc).__name__}: {exc}",
        ) from exc


@functools.cache
def load_driver(scheme: str) -> Any:
    """The driver class for ``scheme``: loads that one entry point and no other.

    :raises VirtError: NO_CONNECT when no driver claims the scheme (or ``VIRTKIT_DRIVERS``
        excludes it) or when it fails to import (naming its distribution and the cause);
        INTERNAL_ERROR when two distributions claim it.
    """
    claims = _claims(scheme) if _allowed(scheme) else []
    if not claims:
        hint = " (excluded by VIRTKIT_DRIVERS)" if not _allowed(scheme) else ""
        raise VirtError(
            ErrorCode.NO_CONNECT,
            f"no connection driver available for scheme '{scheme}'{hint}",
        )
    if len(claims) > 1:
        raise _conflict(scheme, claims)
    return _load(claims[0])


def driver_for(uri: URI) -> Any:
    """The driver class that serves ``uri``.

    No host and no transport: the driver its scheme names. A transport (``qemu+ssh://``): the
    remote driver. A host without a transport: the scheme's own driver when it declares
    ``takes_host_uris`` (a client-side driver such as esx, which talks to a remote API itself),
    else the remote driver.
    """
    if not uri.is_remote:
        return load_driver(uri.driver)
    if uri.transport is None and _allowed(uri.driver) and _claims(uri.driver):
        cls = load_driver(uri.driver)
        if getattr(cls, "takes_host_uris", False):
            return cls
    return load_driver(REMOTE_SCHEME)


@functools.cache
def service_class(name: str) -> Any:
    """The host service class registered as ``name`` in ``virtkit.services``.

    :raises VirtError: NO_CONNECT when no distribution provides it or it fails to load.
    """
    claims = {ep.value: ep for ep in _entry_points(SERVICE_GROUP) if ep.name == name}
    if not claims:
        raise VirtError(
            ErrorCode.NO_CONNECT,
            f"no host service '{name}' is installed (entry-point group '{SERVICE_GROUP}')",
        )
    if len(claims) > 1:
        who = " and ".join(_entry(ep).origin for ep in claims.values())
        raise VirtError(ErrorCode.INTERNAL_ERROR,
                        f"host service '{name}' is provided by more than one distribution: {who}")
    return _load(next(iter(claims.values())))


def service_classes(names: tuple[str, ...]) -> tuple[Any, ...]:
    """The classes of the host services a driver declares, in its order."""
    return tuple(service_class(n) for n in names)


def drivers() -> list[DriverEntry]:
    """Every installed driver, loading each to find the broken ones; sorted by scheme."""
    by_scheme: dict[str, list[EntryPoint]] = {}
    for ep in _entry_points(DRIVER_GROUP):
        if _allowed(ep.name):
            claims = by_scheme.setdefault(ep.name, [])
            if all(c.value != ep.value for c in claims):
                claims.append(ep)
    out: list[DriverEntry] = []
    for scheme in sorted(by_scheme):
        claims = by_scheme[scheme]
        if len(claims) > 1:
            message = _conflict(scheme, claims).message
            out.extend(_entry(ep, message) for ep in claims)
            continue
        try:
            _load(claims[0])
        except VirtError as exc:
            out.append(_entry(claims[0], exc.message))
        else:
            out.append(_entry(claims[0]))
    return out


@functools.cache
def plugin_classes() -> tuple[Any, ...]:
    """Cross-cutting plugin classes (``virtkit.plugins``); ``VIRTKIT_PLUGINS`` restricts them.

    A plugin that fails to load is an error naming it: a missing audit plugin must not pass
    unnoticed.
    """
    only = os.environ.get("VIRTKIT_PLUGINS")
    wanted = None if only is None else {s.strip() for s in only.split(",") if s.strip()}
    found = []
    for ep in sorted(_entry_points(PLUGIN_GROUP), key=lambda e: e.name):
        if wanted is None or ep.name in wanted:
            found.append(_load(ep))
    return tuple(found)
