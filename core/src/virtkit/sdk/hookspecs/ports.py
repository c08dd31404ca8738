"""Hookspecs for network ports and host-interface change transactions.

A network port is libvirt's ``virNetworkPort``: a guest interface's place on a virtual network,
created when a hypervisor driver plugs a guest into the network and deleted when the guest
interface goes. Ports cross as :class:`NetworkPortRef` (the network's identity and the port's
uuid); what a hypervisor driver needs to plug its tap (bridge, MAC, MTU, VLAN) crosses as
:class:`NetworkPortPlug`, plain data, so the driver never parses network XML. An unknown network
raises NO_NETWORK, an unknown port NO_NETWORK_PORT (107) "Network port not found: no network port
with matching uuid 'x'".

Host-interface transactions are virsh's ``iface-begin``, ``iface-commit`` and ``iface-rollback``
(libvirt's virInterfaceChangeBegin/Commit/Rollback): a snapshot of the host-interface
configuration that a later rollback restores.
"""

from __future__ import annotations

from virtkit.sdk.hookspecs.markers import spec
from virtkit.sdk.records import NetworkPortPlug, NetworkPortRef, NetworkRef

__all__ = ["NetworkPortPlug", "NetworkPortRef"]

# -- network ports --------------------------------------------------------------------------------


@spec(readonly=False)
def virtkit_network_port_create_xml(net: NetworkRef, xml: str) -> NetworkPortRef | None:
    """Create a port on an active network from ``<networkport>`` XML.

    The document names the owner (``<owner><name/><uuid/></owner>``), the guest MAC
    (``<mac address=.../>``), optionally the port's uuid and a portgroup (``<group>``); the
    network fills in the plug (``<plug type='network' bridge='virbr0'/>``).

    :return: the new port's :class:`NetworkPortRef`.
    :raises VirtError: XML_ERROR; OPERATION_INVALID when the network is not active;
        NETWORK_PORT_EXIST (106) when the uuid is taken; INVALID_ARG naming an unknown portgroup.
    :state: the port exists until deleted or the network stops.
    """


@spec(readonly=True)
def virtkit_network_port_lookup_by_uuid(net: NetworkRef, uuid: str) -> NetworkPortRef | None:
    """Find a port of ``net`` by uuid.

    :return: its :class:`NetworkPortRef`.
    :raises VirtError: NO_NETWORK_PORT naming the uuid.
    :state: none.
    """


@spec(readonly=True)
def virtkit_network_list_ports(net: NetworkRef) -> list[NetworkPortRef] | None:
    """Every port of ``net`` (none when it is inactive).

    :return: a list of :class:`NetworkPortRef`.
    :raises VirtError: NO_NETWORK.
    :state: none.
    """


@spec(readonly=False)
def virtkit_network_port_delete(port: NetworkPortRef) -> bool | None:
    """Delete a port: the guest interface that held it is gone.

    :return: True.
    :raises VirtError: NO_NETWORK_PORT.
    :state: the port is gone.
    """


@spec(readonly=True)
def virtkit_network_port_get_xml(port: NetworkPortRef) -> str | None:
    """The port's ``<networkport>`` document, its ``<plug>`` included.

    :return: the XML text.
    :raises VirtError: NO_NETWORK_PORT.
    :state: none.
    """


@spec(readonly=True)
def virtkit_network_port_get_plug(port: NetworkPortRef) -> NetworkPortPlug | None:
    """The plain data a hypervisor driver plugs the guest interface with.

    :return: a :class:`NetworkPortPlug` (bridge, MAC, MTU, VLAN, portgroup, owner).
    :raises VirtError: NO_NETWORK_PORT.
    :state: none.
    """


# -- host interface transactions ------------------------------------------------------------------


@spec(readonly=False)
def virtkit_interface_change_begin() -> bool | None:
    """Take a snapshot of the host-interface configuration (``iface-begin``).

    :return: True.
    :raises VirtError: OPERATION_INVALID when a transaction is already open.
    :state: a transaction is open.
    """


@spec(readonly=False)
def virtkit_interface_change_commit() -> bool | None:
    """Keep the changes made since ``iface-begin`` and close the transaction.

    :return: True.
    :raises VirtError: OPERATION_INVALID when no transaction is open.
    :state: no transaction.
    """


@spec(readonly=False)
def virtkit_interface_change_rollback() -> bool | None:
    """Restore the definitions and the up/down state of the snapshot ``iface-begin`` took.

    :return: True.
    :raises VirtError: OPERATION_INVALID when no transaction is open.
    :state: no transaction; interfaces as they were at ``iface-begin``.
    """


#: libvirt's network port bandwidth parameters (KiB/s for average, peak and floor; KiB burst)
PORT_BANDWIDTH = ("inbound.average", "inbound.peak", "inbound.burst", "inbound.floor",
                  "outbound.average", "outbound.peak", "outbound.burst")


def _bandwidth(value: dict[str, int], op: str) -> dict[str, int]:
    from virtkit.sdk.errors import invalid_arg

    for key, number in value.items():
        if key not in PORT_BANDWIDTH:
            raise invalid_arg(f"{op}: unknown port parameter '{key}' "
                              f"(known: {', '.join(PORT_BANDWIDTH)})")
        if number < 0 or number > 2**32 - 1:
            raise invalid_arg(f"{op}: port parameter '{key}' must be 0 .. 4294967295")
    return value


@spec(readonly=True)
def virtkit_network_port_get_parameters(port: NetworkPortRef) -> dict[str, int] | None:
    """The port's bandwidth limits (libvirt's virNetworkPortGetParameters).

    :return: every parameter of :data:`PORT_BANDWIDTH`, 0 where no limit is set.
    :raises VirtError: NO_NETWORK_PORT.
    :state: none.
    """


@spec(readonly=False, checks={"params": _bandwidth})
def virtkit_network_port_set_parameters(
    port: NetworkPortRef, params: dict[str, int]
) -> bool | None:
    """Change some of the port's bandwidth limits (0 removes a limit).

    :param params: some of :data:`PORT_BANDWIDTH`, each 0 .. 2**32-1 (checked before the driver
        runs).
    :return: True.
    :raises VirtError: NO_NETWORK_PORT; INVALID_ARG for an unknown parameter or value.
    :state: the port's ``<bandwidth>`` has the new limits; the others are kept.
    """
