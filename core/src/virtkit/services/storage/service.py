"""The host storage service: the pool and volume hooks for every driver of an instance.

A hypervisor driver that declares ``host_services = ("storage",)`` gets an instance of
:class:`HostStorage` registered in each of its connections after itself; its own hookimpls win.
The service's state is per instance (``system`` or ``session``), not per driver, so
``qemu:///system`` and ``lxc:///system`` see the same pools.
"""

from __future__ import annotations

from typing import ClassVar

from virtkit.sdk.driver import DriverContext
from virtkit.sdk.errors import ErrorDomain
from virtkit.services.storage.pools import PoolHooks
from virtkit.services.storage.state import host_for
from virtkit.services.storage.streams import StreamHooks
from virtkit.services.storage.volumes import VolumeHooks


class HostStorage(PoolHooks, VolumeHooks, StreamHooks):
    """Pools of type dir, fs, netfs, disk, logical and iscsi, and their volumes."""

    name: ClassVar[str] = "storage"
    error_domain: ClassVar[ErrorDomain] = ErrorDomain.STORAGE

    def __init__(self, context: DriverContext) -> None:
        StreamHooks.__init__(self)
        self.context = context
        self.host = host_for(context.instance or "session")
        self._reconcile()

    def close(self) -> None:
        """Release what this connection holds (its open streams)."""
        self.close_streams()
