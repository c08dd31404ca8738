"""Network updates (virsh ``net-update``) of the test driver: the change is applied to the
network's XML by :func:`virtkit.xml.netupdate.apply_update` and the result parsed again with the
network model, so a change the model refuses leaves the network as it was."""

from __future__ import annotations

from typing import TYPE_CHECKING

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import NetworkRef
from virtkit.xml.netupdate import apply_update
from virtkit.xml.network import Network

if TYPE_CHECKING:
    from virtkit.drivers.test.node import TestNetwork, TestNode


class NetworkUpdateMixin:
    """The ``network_update`` hook of :class:`~virtkit.drivers.test.driver.TestDriver`."""

    if TYPE_CHECKING:

        @property
        def _node(self) -> TestNode: ...

        def _net(self, ref: NetworkRef) -> TestNetwork: ...

    @hookimpl
    def virtkit_network_update(
        self, net: NetworkRef, command: str, section: str, parent_index: int, xml: str,
        live: bool, config: bool,
    ) -> bool:
        with self._node.lock:
            n = self._net(net)
            if not live and not config:
                live, config = n.active, not n.active
            if live and not n.active:
                raise VirtError(ErrorCode.OPERATION_INVALID,
                                f"Requested operation is not valid: network '{n.name}' is not "
                                f"active, so its live state cannot be updated",
                                ErrorDomain.NETWORK)
            if config and not n.persistent:
                raise VirtError(ErrorCode.OPERATION_INVALID,
                                f"Requested operation is not valid: network '{n.name}' is "
                                f"transient: it has no persistent definition to update",
                                ErrorDomain.NETWORK)

            def updated(model: Network) -> Network:
                text = apply_update(model.to_xml(), command, section, parent_index, xml)
                return Network.from_xml(text).with_defaults()

            new_live = updated(n.current) if live else None
            new_config = updated(n.config) if config else None
            if new_live is not None:
                n.live = new_live
            if new_config is not None:
                n.config = new_config
            return True
