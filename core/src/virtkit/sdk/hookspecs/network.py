"""Hookspecs for virtual networks and host interfaces.

Networks cross as :class:`~virtkit.sdk.records.NetworkRef`, host interfaces as
:class:`~virtkit.sdk.records.InterfaceRef`. An unknown network raises NO_NETWORK "Network not found:
no network with matching name 'x'", an unknown interface NO_INTERFACE.
"""

from __future__ import annotations

from virtkit.sdk.hookspecs.markers import spec
from virtkit.sdk.records import (
    DhcpLease,
    InterfaceRef,
    InterfaceSummary,
    NetworkRef,
    NetworkSummary,
)

# -- networks -------------------------------------------------------------------------------------


@spec(readonly=True)
def virtkit_network_list() -> list[NetworkSummary] | None:
    """Every network: identity, active, persistent, autostart, bridge name.

    :raises: nothing.
    :state: none.
    """


@spec(readonly=True)
def virtkit_network_get_summary(net: NetworkRef) -> NetworkSummary | None:
    """One network's list entry, without listing every network.

    :return: its :class:`~virtkit.sdk.records.NetworkSummary` (identity, active, persistent,
        autostart, bridge name).
    :raises VirtError: NO_NETWORK.
    :state: none.
    """


@spec(readonly=True)
def virtkit_network_lookup_by_name(name: str) -> NetworkRef | None:
    """Find a network by name.

    :raises VirtError: NO_NETWORK.
    :state: none.
    """


@spec(readonly=True)
def virtkit_network_lookup_by_uuid(uuid: str) -> NetworkRef | None:
    """Find a network by uuid.

    :raises VirtError: NO_NETWORK naming the uuid.
    :state: none.
    """


@spec(readonly=False)
def virtkit_network_define_xml(xml: str) -> NetworkRef | None:
    """Define (or redefine) a persistent network from ``<network>`` XML.

    :raises VirtError: XML_ERROR; OPERATION_FAILED when the name or uuid belongs to another
        network.
    :state: inactive persistent (redefine: the new definition applies at next start); event
        network DEFINED.
    """


@spec(readonly=False)
def virtkit_network_create_xml(xml: str) -> NetworkRef | None:
    """Create and start a transient network.

    :raises VirtError: as define; OPERATION_INVALID when active under that name.
    :state: active transient; event network STARTED.
    """


@spec(readonly=False)
def virtkit_network_create(net: NetworkRef) -> bool | None:
    """Start an inactive network (bridge, addresses, DHCP, firewall rules).

    :raises VirtError: OPERATION_INVALID "network is already active".
    :state: active; event network STARTED.
    """


@spec(readonly=False)
def virtkit_network_destroy(net: NetworkRef) -> bool | None:
    """Stop an active network.

    :raises VirtError: OPERATION_INVALID "network 'x' is not active".
    :state: inactive; a transient network vanishes; event network STOPPED.
    """


@spec(readonly=False)
def virtkit_network_undefine(net: NetworkRef) -> bool | None:
    """Remove a network's persistent definition.

    :raises VirtError: OPERATION_INVALID for a transient network.
    :state: inactive: gone; active: becomes transient. Event network UNDEFINED.
    """


@spec(readonly=True)
def virtkit_network_get_xml(net: NetworkRef, inactive: bool) -> str | None:
    """The network's ``<network>`` document (``inactive``: the persistent definition).

    :raises VirtError: NO_NETWORK.
    :state: none.
    """


@spec(readonly=True)
def virtkit_network_get_autostart(net: NetworkRef) -> bool | None:
    """Whether the network starts with the driver.

    :raises VirtError: NO_NETWORK.
    :state: none.
    """


@spec(readonly=False)
def virtkit_network_set_autostart(net: NetworkRef, autostart: bool) -> bool | None:
    """Set or clear autostart.

    :raises VirtError: OPERATION_INVALID for a transient network.
    :state: the autostart flag.
    """


@spec(readonly=True)
def virtkit_network_get_dhcp_leases(net: NetworkRef, mac: str | None) -> list[DhcpLease] | None:
    """The network's current DHCP leases, all or those of ``mac``.

    :raises VirtError: OPERATION_INVALID when the network is inactive.
    :state: none.
    """


# -- host interfaces ------------------------------------------------------------------------------


@spec(readonly=True)
def virtkit_interface_list() -> list[InterfaceSummary] | None:
    """Every host interface: identity and whether it is up.

    :raises: nothing.
    :state: none.
    """


@spec(readonly=True)
def virtkit_interface_get_summary(iface: InterfaceRef) -> InterfaceSummary | None:
    """One host interface's list entry, without listing every interface.

    :return: its :class:`~virtkit.sdk.records.InterfaceSummary` (identity, active).
    :raises VirtError: NO_INTERFACE.
    :state: none.
    """


@spec(readonly=True)
def virtkit_interface_lookup_by_name(name: str) -> InterfaceRef | None:
    """Find a host interface by name.

    :raises VirtError: NO_INTERFACE "Interface not found: no interface with matching name 'x'".
    :state: none.
    """


@spec(readonly=True)
def virtkit_interface_lookup_by_mac(mac: str) -> InterfaceRef | None:
    """Find a host interface by MAC address.

    :raises VirtError: NO_INTERFACE naming the MAC.
    :state: none.
    """


@spec(readonly=False)
def virtkit_interface_define_xml(xml: str) -> InterfaceRef | None:
    """Define a host interface's configuration from ``<interface>`` XML.

    :raises VirtError: XML_ERROR; OPERATION_FAILED when the name is taken by another.
    :state: defined, inactive.
    """


@spec(readonly=False)
def virtkit_interface_create(iface: InterfaceRef) -> bool | None:
    """Bring a defined interface up.

    :raises VirtError: OPERATION_INVALID when already up.
    :state: active.
    """


@spec(readonly=False)
def virtkit_interface_destroy(iface: InterfaceRef) -> bool | None:
    """Bring an interface down.

    :raises VirtError: OPERATION_INVALID when not up.
    :state: inactive.
    """


@spec(readonly=False)
def virtkit_interface_undefine(iface: InterfaceRef) -> bool | None:
    """Remove an interface's definition.

    :raises VirtError: OPERATION_INVALID when it is up.
    :state: gone.
    """


@spec(readonly=True)
def virtkit_interface_get_xml(iface: InterfaceRef, inactive: bool) -> str | None:
    """The interface's ``<interface>`` document.

    :raises VirtError: NO_INTERFACE.
    :state: none.
    """


def _update_command(value: str, op: str) -> str:
    if value not in ("add-first", "add-last", "delete", "modify"):
        from virtkit.sdk.errors import invalid_arg

        raise invalid_arg(f"{op}: unknown network update command '{value}' "
                          f"(add-first, add-last, delete, modify)")
    return value


@spec(readonly=False, checks={"command": _update_command})
def virtkit_network_update(
    net: NetworkRef, command: str, section: str, parent_index: int, xml: str, live: bool,
    config: bool,
) -> bool | None:
    """Change one part of a network without redefining it (virsh ``net-update``, libvirt's
    virNetworkUpdate): see :mod:`virtkit.xml.netupdate` for the sections and elements.

    :param command: ``add-first``, ``add-last``, ``delete`` or ``modify``.
    :param section: ``ip-dhcp-host``, ``ip-dhcp-range``, ``dns-host``, ``dns-txt``, ``dns-srv``,
        ``forward-interface``, ``forward-pf``, ``portgroup``, ``bridge``, ``domain``,
        ``forward``.
    :param parent_index: which ``<ip>`` for ``ip-dhcp-*`` (from 0; -1: the first of the
        element's address family).
    :param xml: the element to add, or that identifies the one to delete or modify.
    :param live: change the running network; ``config``: change its persistent definition;
        neither: the running one if active, else the definition.
    :return: True.
    :raises VirtError: NO_NETWORK; OPERATION_INVALID when no element matches (delete, modify),
        one already does (add), or ``live`` on an inactive network; CONFIG_UNSUPPORTED for the
        ``ip`` section or a command the section cannot take; XML_ERROR for a bad element or a
        result its model refuses. Nothing is changed on an error.
    :state: the definitions asked for have the change; event none (as libvirt).
    """
