"""The :class:`Network` handle: a virtual network's identity and typed calls to its driver."""

from __future__ import annotations

from typing import TYPE_CHECKING

from virtkit.api.handle import Handle
from virtkit.sdk.errors import no_network
from virtkit.sdk.records import DhcpLease, NetworkRef, NetworkSummary
from virtkit.sdk.states import NetworkEventLifecycle

if TYPE_CHECKING:
    pass

__all__ = ["Network", "NetworkEventLifecycle", "no_network"]


class Network(Handle[NetworkRef]):
    """A virtual network on one connection; ``name`` and ``uuid`` are fixed."""

    __slots__ = ()
    ARG = "net"

    @property
    def uuid(self) -> str:
        return self._ref.uuid

    def summary(self) -> NetworkSummary:
        """The network's list entry: active, persistent, autostart, bridge."""
        result: NetworkSummary = self._call("network_get_summary")
        return result

    # -- lifecycle ----------------------------------------------------------------------------

    def create(self) -> None:
        """Start the network (virsh net-start)."""
        self._call("network_create")

    def destroy(self) -> None:
        """Stop the network (virsh net-destroy); a transient network vanishes."""
        self._call("network_destroy")

    def undefine(self) -> None:
        self._call("network_undefine")

    # -- information --------------------------------------------------------------------------

    def xml_desc(self, inactive: bool = False) -> str:
        result: str = self._call("network_get_xml", inactive=inactive)
        return result

    def is_active(self) -> bool:
        return self.summary().active

    def is_persistent(self) -> bool:
        return self.summary().persistent

    def bridge_name(self) -> str:
        return self.summary().bridge

    @property
    def autostart(self) -> bool:
        result: bool = self._call("network_get_autostart")
        return result

    def set_autostart(self, autostart: bool) -> None:
        self._call("network_set_autostart", autostart=bool(autostart))

    def dhcp_leases(self, mac: str | None = None) -> list[DhcpLease]:
        """The current DHCP leases, all or those of ``mac`` (the network must be active)."""
        if mac is not None:
            mac = _mac(mac)
        result: list[DhcpLease] = self._call("network_get_dhcp_leases", mac=mac)
        return result


def _mac(mac: object) -> str:
    import re

    from virtkit.sdk.errors import invalid_arg

    if not isinstance(mac, str) or not re.fullmatch(r"[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}", mac):
        raise invalid_arg(f"'{mac}' is not a MAC address such as 52:54:00:12:34:56")
    return ":".join(f"{int(p, 16):02x}" for p in mac.split(":"))
