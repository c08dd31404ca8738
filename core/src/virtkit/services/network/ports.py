"""Network ports (libvirt's virNetworkPort): a guest interface's place on an active network.

A hypervisor driver creates a port from ``<networkport>`` XML naming the guest (owner) and its
MAC; the service answers with the bridge to plug a tap into and the settings to apply (MTU,
VLAN from the portgroup or the network) as a :class:`NetworkPortPlug`. Ports live in the active
network's status and go when the network stops.
"""

from __future__ import annotations

from typing import Any

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.records import NetworkPortPlug, NetworkPortRef, NetworkRef
from virtkit.services.network.networks import NetworkMixin, impl, invalid
from virtkit.xml.network import Network
from virtkit.xml.networkport import parse_port, port_xml


def no_port(uuid: str) -> VirtError:
    return VirtError(
        ErrorCode.NO_NETWORK_PORT,
        f"Network port not found: no network port with matching uuid '{uuid}'",
        ErrorDomain.NETWORK,
    )


def _settle(net: Network, bridge: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The plug of a new port: bridge, MTU and the VLAN of its portgroup (else the network's)."""
    group = fields.pop("group")
    portgroup = None
    if group:
        portgroup = next((p for p in net.portgroups if p.name == group), None)
        if portgroup is None:
            raise VirtError(
                ErrorCode.INVALID_ARG,
                f"invalid argument: network '{net.name}' has no portgroup '{group}'",
                ErrorDomain.NETWORK,
            )
    else:
        portgroup = next((p for p in net.portgroups if p.default), None)
    vlan = portgroup.vlan if portgroup is not None and portgroup.vlan is not None else net.vlan
    tags = [t.id for t in vlan.tags] if vlan is not None else []
    native = 0
    if vlan is not None:
        native = next((t.id for t in vlan.tags if t.native_mode == "untagged"), 0)
    manager = net.bridge.mac_table_manager if net.bridge is not None else None
    return {
        **fields,
        "plug_type": "bridge" if net.forward_mode == "bridge" else "network",
        "bridge": bridge,
        "mtu": net.mtu.size if net.mtu is not None else 0,
        "mac_table_manager": manager or "kernel",
        "vlan_tags": tags,
        "vlan_trunk": bool(vlan is not None and (vlan.trunk or len(tags) > 1)),
        "vlan_native": native,
        "portgroup": portgroup.name if portgroup is not None else "",
    }


class PortMixin(NetworkMixin):
    """Network-port hooks of :class:`~virtkit.services.network.HostNetwork`."""

    def _port(self, port: NetworkPortRef) -> dict[str, Any]:
        _defn, st = self._find(port.net)
        found = st.ports.get(port.uuid) if st is not None else None
        if found is None:
            raise no_port(port.uuid)
        return found

    @impl
    def virtkit_network_port_create_xml(self, net: NetworkRef, xml: str) -> NetworkPortRef:
        fields = parse_port(xml)
        with self.files.config.locked():
            _defn, st = self._find(net)
            if st is None:
                raise invalid(f"network '{net.name}' is not active")
            if fields["uuid"] in st.ports:
                raise VirtError(
                    ErrorCode.NETWORK_PORT_EXIST,
                    f"network port {fields['uuid']} already exists on network '{net.name}'",
                    ErrorDomain.NETWORK,
                )
            port = _settle(self._live(st), st.bridge, fields)
            st.ports[port["uuid"]] = port
            self.files.write_status(st)
        return NetworkPortRef(net, port["uuid"])

    @impl
    def virtkit_network_port_lookup_by_uuid(self, net: NetworkRef, uuid: str) -> NetworkPortRef:
        ref = NetworkPortRef(net, uuid)
        self._port(ref)
        return ref

    @impl
    def virtkit_network_list_ports(self, net: NetworkRef) -> list[NetworkPortRef]:
        _defn, st = self._find(net)
        if st is None:
            return []
        return [NetworkPortRef(net, u) for u in sorted(st.ports)]

    @impl
    def virtkit_network_port_delete(self, port: NetworkPortRef) -> bool:
        with self.files.config.locked():
            _defn, st = self._find(port.net)
            if st is None or port.uuid not in st.ports:
                raise no_port(port.uuid)
            del st.ports[port.uuid]
            self.files.write_status(st)
        return True

    @impl
    def virtkit_network_port_get_xml(self, port: NetworkPortRef) -> str:
        return port_xml(self._port(port))

    @impl
    def virtkit_network_port_get_plug(self, port: NetworkPortRef) -> NetworkPortPlug:
        p = self._port(port)
        return NetworkPortPlug(
            ref=port, plug_type=p["plug_type"], bridge=p["bridge"], mac=p["mac"],
            mtu=p["mtu"], mac_table_manager=p["mac_table_manager"],
            vlan_tags=list(p["vlan_tags"]), vlan_trunk=p["vlan_trunk"],
            vlan_native=p["vlan_native"], portgroup=p["portgroup"],
            owner_name=p["owner_name"], owner_uuid=p["owner_uuid"],
        )
