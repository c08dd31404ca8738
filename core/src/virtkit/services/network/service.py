"""The host network service: one plugin with the network, port and host-interface hooks."""

from __future__ import annotations

import threading
from typing import ClassVar

from virtkit.sdk.driver import DriverContext
from virtkit.sdk.store import state_dirs
from virtkit.services.network.interfaces import InterfaceMixin
from virtkit.services.network.ports import PortMixin
from virtkit.services.network.state import Files

_recovered: set[tuple[str, str]] = set()
_recover_lock = threading.Lock()


class HostNetwork(PortMixin, InterfaceMixin):
    """Virtual networks, their ports and the host's interfaces, for one instance.

    Constructed with the connection's :class:`DriverContext`; state is per instance
    (``system``, ``session``) and shared by every hypervisor driver that declares
    ``host_services = ("network",)``. The first construction in a process finds the networks a
    previous process started (reconciling them with the host) and, once per boot, starts the
    autostart networks.
    """

    name: ClassVar[str] = "network"

    def __init__(self, context: DriverContext) -> None:
        self.context = context
        dirs = state_dirs("network", context.instance or "system")
        self.files = Files(dirs.config, dirs.run)
        key = (str(dirs.config), str(dirs.run))
        if context.read_only:
            return
        with _recover_lock:
            if key in _recovered:
                return
            _recovered.add(key)
        if any(True for _ in self.files.status.names("networks")) or any(
            True for _ in self.files.config.names("autostart")
        ):
            self._recover()
            self._autostart()
