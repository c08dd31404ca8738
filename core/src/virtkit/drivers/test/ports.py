"""Network ports and host-interface transactions of the test driver, in memory.

A port is created on an active network for a guest interface and gets the network's bridge as
its plug; ports go when their network stops. ``iface-begin`` keeps a copy of the host interfaces
that ``iface-rollback`` restores.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import NetworkPortPlug, NetworkPortRef, NetworkRef
from virtkit.xml.networkport import parse_port, port_xml

if TYPE_CHECKING:
    from virtkit.drivers.test.node import TestNetwork, TestNode


def _no_port(uuid: str) -> VirtError:
    return VirtError(
        ErrorCode.NO_NETWORK_PORT,
        f"Network port not found: no network port with matching uuid '{uuid}'",
        ErrorDomain.NETWORK,
    )


def _invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, message, ErrorDomain.INTERFACE)


class PortMixin:
    """Port and interface-transaction hooks of :class:`~virtkit.drivers.test.driver.TestDriver`."""

    if TYPE_CHECKING:

        @property
        def _node(self) -> TestNode: ...

        def _net(self, ref: NetworkRef) -> TestNetwork: ...

    def _port(self, port: NetworkPortRef) -> dict[str, Any]:
        found = self._net(port.net).ports.get(port.uuid)
        if found is None:
            raise _no_port(port.uuid)
        return found

    @hookimpl
    def virtkit_network_port_create_xml(self, net: NetworkRef, xml: str) -> NetworkPortRef:
        fields = parse_port(xml)
        with self._node.lock:
            n = self._net(net)
            if n.live is None:
                raise VirtError(ErrorCode.OPERATION_INVALID,
                                f"network '{n.name}' is not active", ErrorDomain.NETWORK)
            if fields["uuid"] in n.ports:
                raise VirtError(ErrorCode.NETWORK_PORT_EXIST,
                                f"network port {fields['uuid']} already exists on '{n.name}'",
                                ErrorDomain.NETWORK)
            group = fields.pop("group")
            if group and all(p.name != group for p in n.live.portgroups):
                raise VirtError(ErrorCode.INVALID_ARG,
                                f"invalid argument: network '{n.name}' has no portgroup '{group}'",
                                ErrorDomain.NETWORK)
            bridge = n.live.bridge.name if n.live.bridge is not None else None
            n.ports[fields["uuid"]] = {
                **fields,
                "plug_type": "network" if n.live.forward_mode != "bridge" else "bridge",
                "bridge": bridge or "",
                "mtu": n.live.mtu.size if n.live.mtu is not None else 0,
                "mac_table_manager": "kernel",
                "vlan_tags": [],
                "vlan_trunk": False,
                "vlan_native": 0,
                "portgroup": group,
            }
            return NetworkPortRef(n.ref, fields["uuid"])

    @hookimpl
    def virtkit_network_port_lookup_by_uuid(self, net: NetworkRef, uuid: str) -> NetworkPortRef:
        with self._node.lock:
            ref = NetworkPortRef(self._net(net).ref, uuid)
            self._port(ref)
            return ref

    @hookimpl
    def virtkit_network_list_ports(self, net: NetworkRef) -> list[NetworkPortRef]:
        with self._node.lock:
            n = self._net(net)
            return [NetworkPortRef(n.ref, uuid) for uuid in sorted(n.ports)]

    @hookimpl
    def virtkit_network_port_delete(self, port: NetworkPortRef) -> bool:
        with self._node.lock:
            self._port(port)
            del self._net(port.net).ports[port.uuid]
            return True

    @hookimpl
    def virtkit_network_port_get_parameters(self, port: NetworkPortRef) -> dict[str, int]:
        from virtkit.sdk.hookspecs.ports import PORT_BANDWIDTH

        with self._node.lock:
            limits = self._port(port).get("bandwidth", {})
            return {k: int(limits.get(k, 0)) for k in PORT_BANDWIDTH}

    @hookimpl
    def virtkit_network_port_set_parameters(self, port: NetworkPortRef,
                                            params: dict[str, int]) -> bool:
        with self._node.lock:
            p = self._port(port)
            p["bandwidth"] = {**p.get("bandwidth", {}), **params}
            return True

    @hookimpl
    def virtkit_network_port_get_xml(self, port: NetworkPortRef) -> str:
        with self._node.lock:
            return port_xml(self._port(port))

    @hookimpl
    def virtkit_network_port_get_plug(self, port: NetworkPortRef) -> NetworkPortPlug:
        with self._node.lock:
            p = self._port(port)
            return NetworkPortPlug(
                port, p["plug_type"], p["bridge"], p["mac"], p["mtu"], p["mac_table_manager"],
                list(p["vlan_tags"]), p["vlan_trunk"], p["vlan_native"], p["portgroup"],
                p["owner_name"], p["owner_uuid"],
            )

    # -- host interface transactions ----------------------------------------------------------

    @hookimpl
    def virtkit_interface_change_begin(self) -> bool:
        with self._node.lock:
            if self._node.iface_snapshot is not None:
                raise _invalid("the interface transaction is already started")
            self._node.iface_snapshot = copy.deepcopy(self._node.interfaces)
            return True

    @hookimpl
    def virtkit_interface_change_commit(self) -> bool:
        with self._node.lock:
            if self._node.iface_snapshot is None:
                raise _invalid("no interface transaction is started")
            self._node.iface_snapshot = None
            return True

    @hookimpl
    def virtkit_interface_change_rollback(self) -> bool:
        with self._node.lock:
            if self._node.iface_snapshot is None:
                raise _invalid("no interface transaction is started")
            self._node.interfaces = self._node.iface_snapshot
            self._node.iface_snapshot = None
            return True
