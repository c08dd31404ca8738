"""virtkit: manage guests, storage and networks on many hypervisors through one API.

``virtkit.open(uri)`` returns a :class:`~virtkit.connection.Connection`. Everything else is
imported on first use, so ``import virtkit`` stays cheap for the command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ErrorCode, ErrorDomain, VirtError
from .version import __version__

if TYPE_CHECKING:
    from .connection import Connection, default_uri, open
    from .domain import Domain
    from .registry import DriverEntry, drivers
    from .states import DomainState

__all__ = [
    "Connection",
    "Domain",
    "DomainState",
    "DriverEntry",
    "ErrorCode",
    "ErrorDomain",
    "VirtError",
    "__version__",
    "default_uri",
    "drivers",
    "open",
    "open_read_only",
]

_LAZY = {
    "Connection": "connection",
    "open": "connection",
    "default_uri": "connection",
    "Domain": "domain",
    "DriverEntry": "registry",
    "drivers": "registry",
    "DomainState": "states",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'virtkit' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def open_read_only(uri: str | None = None) -> Connection:
    """``virtkit.open(uri, read_only=True)``, as libvirt's openReadOnly."""
    from .connection import open as _open

    return _open(uri, read_only=True)
