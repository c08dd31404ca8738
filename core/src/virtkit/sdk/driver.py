"""What a driver receives from the core, and a small base class for driver authors.

A driver is a class registered under the entry-point group ``virtkit.drivers`` with its URI scheme
as the name. The core instantiates it once per connection as ``DriverClass(context)``, registers
the instance in that connection's plugin manager, and calls its ``@hookimpl`` methods. The
:class:`DriverContext` carries the connection's parsed URI, whether it is read-only, where the
driver keeps state, and ``emit`` to publish events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import attrs

from virtkit.sdk.errors import ErrorDomain
from virtkit.sdk.records import Event
from virtkit.sdk.store import StateDirs, state_dirs
from virtkit.sdk.uri import URI


@attrs.frozen
class DriverContext:
    uri: URI
    read_only: bool
    emit: Callable[[Event], None]

    @property
    def instance(self) -> str:
        """``system`` or ``session`` (the URI path without its slash), else the raw path."""
        return self.uri.path.strip("/")

    def state_dirs(self) -> StateDirs:
        return state_dirs(self.uri.driver, self.instance)


class Driver:
    """Optional base class: keeps the context and names the driver in errors.

    Subclasses set ``name`` (the scheme, used in NO_SUPPORT messages) and ``error_domain``.
    ``capabilities`` is the driver's declared capability flags, read by the conformance suite and
    the support matrix.
    """

    name: ClassVar[str] = "driver"
    error_domain: ClassVar[ErrorDomain] = ErrorDomain.NONE
    capabilities: ClassVar[dict[str, Any]] = {}

    def __init__(self, context: DriverContext) -> None:
        self.context = context

    def emit(self, event: Event) -> None:
        self.context.emit(event)
