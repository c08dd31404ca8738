"""The driver SDK: everything a driver or cross-cutting plugin imports from virtkit.

Drivers (the in-repo test driver, the hypervisor plugins, third-party packages) import only this
package and :mod:`virtkit.xml`; an import contract checked in CI keeps it so. Its modules:

- :mod:`.hookspecs`: the hook specifications, ``hookimpl`` and the read-only marks;
- :mod:`.records`: the plain-data records every hook takes and returns;
- :mod:`.states`: domain states, reasons, the transition table, network and pool states;
- :mod:`.errors`: :class:`VirtError` with libvirt's codes and error domains;
- :mod:`.driver`: the :class:`Driver` base class and the :class:`DriverContext` a driver receives;
- :mod:`.store`: :class:`StateStore`, crash-safe persistence;
- :mod:`.journal`: :class:`Journal`, an append-only event journal every connection tails;
- :mod:`.compactjson`: ``dumps``, compact JSON with an encoder made once (for records);
- :mod:`.checks`: argument checks (names, uuids, volume names) shared with the dispatcher;
- :mod:`.uri`: the parsed connection URI;
- :mod:`.wrap`: ``wrap_every_hook`` for cross-cutting plugins.

The names below are re-exported here for convenience; importing them loads only what they need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import virtkit._codecache  # noqa: F401 - first: it makes attrs keep what it compiles

if TYPE_CHECKING:
    from virtkit.sdk.driver import Driver, DriverContext
    from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
    from virtkit.sdk.hookspecs.markers import hookimpl
    from virtkit.sdk.store import StateStore

_LAZY = {
    "Driver": "virtkit.sdk.driver",
    "DriverContext": "virtkit.sdk.driver",
    "ErrorCode": "virtkit.sdk.errors",
    "ErrorDomain": "virtkit.sdk.errors",
    "VirtError": "virtkit.sdk.errors",
    "hookimpl": "virtkit.sdk.hookspecs.markers",
    "StateStore": "virtkit.sdk.store",
}
__all__ = [
    "Driver",
    "DriverContext",
    "ErrorCode",
    "ErrorDomain",
    "StateStore",
    "VirtError",
    "hookimpl",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'virtkit.sdk' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
