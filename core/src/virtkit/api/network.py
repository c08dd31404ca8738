"""The :class:`Network` handle: a virtual network's identity and typed calls to its driver."""

from __future__ import annotations

from typing import TYPE_CHECKING

from virtkit.api.handle import Handle
from virtkit.sdk import checks
from virtkit.sdk.errors import invalid_arg, no_network
from virtkit.sdk.records import (
    DhcpLease,
    NetworkPortPlug,
    NetworkPortRef,
    NetworkRef,
    NetworkSummary,
)
from virtkit.sdk.states import NetworkEventLifecycle

if TYPE_CHECKING:
    from virtkit.api.connection import Connection
    from virtkit.runtime.hooks import Hooks

__all__ = ["Network", "NetworkEventLifecycle", "NetworkPort", "no_network"]


class Network(Handle[NetworkRef]):
    """A virtual network on one connection; ``name`` and ``uuid`` are fixed."""

    __slots__ = ()
    ARG = "net"

    @property
    def uuid(self) -> str:
        return self._ref.uuid

    def summary(self) -> NetworkSummary:
        """The network's list entry: active, persistent, autostart, bridge."""
        return self._conn.hooks.network_get_summary(net=self._ref)

    # -- lifecycle ----------------------------------------------------------------------------

    def create(self) -> None:
        """Start the network (virsh net-start)."""
        self._conn.hooks.network_create(net=self._ref)

    def destroy(self) -> None:
        """Stop the network (virsh net-destroy); a transient network vanishes."""
        self._conn.hooks.network_destroy(net=self._ref)

    def undefine(self) -> None:
        self._conn.hooks.network_undefine(net=self._ref)

    # -- information --------------------------------------------------------------------------

    def update(self, command: int | str, section: int | str, parent_index: int, xml: str,
               flags: int = 0) -> None:
        """Change one part of the network (virsh net-update; libvirt's virNetworkUpdate).

        ``command`` and ``section`` are libvirt's numbers (NETWORK_UPDATE_COMMAND_ADD_LAST...) or
        virsh's names (``add-last``, ``ip-dhcp-host``...); ``flags`` NETWORK_UPDATE_AFFECT_LIVE
        (1) and/or NETWORK_UPDATE_AFFECT_CONFIG (2), 0 for the current state."""
        from virtkit.xml.netupdate import COMMANDS, SECTIONS

        cmd = COMMANDS.get(command, "") if isinstance(command, int) else command
        cmd = "add-last" if cmd == "add" else cmd
        sec = SECTIONS.get(section, "") if isinstance(section, int) else section
        if not cmd or not sec:
            raise invalid_arg(f"unknown network update command {command!r} or section "
                              f"{section!r}")
        if isinstance(flags, bool) or not isinstance(flags, int) or flags & ~3:
            raise invalid_arg(f"unsupported network update flags {flags!r}")
        self._conn.hooks.network_update(
            net=self._ref, command=cmd, section=sec, parent_index=parent_index,
            xml=xml, live=bool(flags & 1), config=bool(flags & 2))

    def xml_desc(self, inactive: bool = False) -> str:
        return self._conn.hooks.network_get_xml(net=self._ref, inactive=inactive)

    def is_active(self) -> bool:
        return self.summary().active

    def is_persistent(self) -> bool:
        return self.summary().persistent

    def bridge_name(self) -> str:
        return self.summary().bridge

    @property
    def autostart(self) -> bool:
        return self._conn.hooks.network_get_autostart(net=self._ref)

    def set_autostart(self, autostart: bool) -> None:
        self._conn.hooks.network_set_autostart(net=self._ref, autostart=bool(autostart))

    # -- ports --------------------------------------------------------------------------------

    def port_create_xml(self, xml: str) -> NetworkPort:
        """Create a port for a guest interface from ``<networkport>`` XML (libvirt's
        virNetworkPortCreateXML); the network must be active."""
        ref = self._conn.hooks.network_port_create_xml(net=self._ref, xml=checks.xml_text(xml))
        return NetworkPort(self, ref)

    def port_lookup_by_uuid(self, uuid: str) -> NetworkPort:
        ref = self._conn.hooks.network_port_lookup_by_uuid(net=self._ref, uuid=uuid)
        return NetworkPort(self, ref)

    def list_ports(self) -> list[NetworkPort]:
        return [NetworkPort(self, r) for r in self._conn.hooks.network_list_ports(net=self._ref)]

    def dhcp_leases(self, mac: str | None = None) -> list[DhcpLease]:
        """The current DHCP leases, all or those of ``mac`` (the network must be active)."""
        if mac is not None:
            mac = _mac(mac)
        return self._conn.hooks.network_get_dhcp_leases(net=self._ref, mac=mac)


class NetworkPort:
    """A guest interface's port on a virtual network (libvirt's virNetworkPort)."""

    __slots__ = ("_net", "_ref")

    def __init__(self, net: Network, ref: NetworkPortRef) -> None:
        self._net = net
        self._ref = ref

    @property
    def connection(self) -> Connection:
        return self._net.connection

    @property
    def ref(self) -> NetworkPortRef:
        return self._ref

    @property
    def uuid(self) -> str:
        return self._ref.uuid

    @property
    def network(self) -> Network:
        return self._net

    def xml_desc(self) -> str:
        """The ``<networkport>`` document, with the plug the network chose."""
        return self._hooks.network_port_get_xml(port=self._ref)

    def plug(self) -> NetworkPortPlug:
        """What a hypervisor driver connects the guest interface with (bridge, MAC, MTU, VLAN)."""
        return self._hooks.network_port_get_plug(port=self._ref)

    def delete(self) -> None:
        self._hooks.network_port_delete(port=self._ref)

    def parameters(self, flags: int = 0) -> dict[str, int]:
        """The port's bandwidth limits (``inbound.average``... 0: no limit; libvirt's
        virNetworkPortGetParameters)."""
        if flags:
            raise invalid_arg(f"unsupported flags {flags!r}")
        return self._hooks.network_port_get_parameters(port=self._ref)

    def set_parameters(self, params: dict[str, int], flags: int = 0) -> None:
        """Change some of the port's bandwidth limits (0 removes one)."""
        if flags:
            raise invalid_arg(f"unsupported flags {flags!r}")
        self._hooks.network_port_set_parameters(port=self._ref, params=dict(params))

    @property
    def _hooks(self) -> Hooks:
        return self._net.connection.hooks

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NetworkPort) and other._ref == self._ref

    def __hash__(self) -> int:
        return hash((self._ref.net, self._ref.uuid))

    def __repr__(self) -> str:
        return f"<virtkit.NetworkPort {self._ref.uuid} on {self._net.name!r}>"


def _mac(mac: object) -> str:
    import re

    from virtkit.sdk.errors import invalid_arg

    if not isinstance(mac, str) or not re.fullmatch(r"[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}", mac):
        raise invalid_arg(f"'{mac}' is not a MAC address such as 52:54:00:12:34:56")
    return ":".join(f"{int(p, 16):02x}" for p in mac.split(":"))
