"""Hookspecs for host devices (libvirt's virNodeDevice).

A host device is known by its name (``computer``, ``pci_0000_00_02_0``, ``scsi_host3``,
``mdev_<uuid>_0000_00_02_0``) and crosses as :class:`NodeDeviceRef`; a listing gives
:class:`NodeDeviceSummary` (parent, capability types, active, persistent, driver) so filters and
trees need no further calls. Devices the host has are always active; mediated devices (mdev) and
NPIV virtual HBAs (vHBA) are created from ``<device>`` XML, and mdevs may also be defined to be
started later (and marked to start on their own when the host boots or their parent appears:
autostart). PCI devices may be detached from their host driver for passthrough, re-attached
and reset. An unknown device raises NO_NODE_DEVICE (53) "Node device not found: no node device
with matching name 'x'". Drivers emit ``nodedev-lifecycle`` events (0 created, 1 deleted,
2 defined, 3 undefined) with the device's :class:`NodeDeviceRef`.
"""

from __future__ import annotations

from virtkit.sdk.hookspecs.markers import spec
from virtkit.sdk.records import NodeDeviceRef, NodeDeviceSummary

__all__ = ["NodeDeviceRef", "NodeDeviceSummary"]


@spec(readonly=True)
def virtkit_nodedev_list(caps: list[str]) -> list[NodeDeviceSummary] | None:
    """Every host device, or those having one of ``caps`` (virsh nodedev-list --cap).

    :param caps: capability types to keep (``pci``, ``scsi_host``, ``fc_host``, ``vports``,
        ``mdev``, ``mdev_types``, ``system``, ...; nested capabilities count); empty: all.
    :return: a list of :class:`NodeDeviceSummary`, inactive defined devices included, sorted by
        name.
    :raises VirtError: INVALID_ARG naming an unknown capability type.
    :state: none.
    """


@spec(readonly=True)
def virtkit_nodedev_lookup_by_name(name: str) -> NodeDeviceRef | None:
    """Find a host device by name.

    :return: its :class:`NodeDeviceRef`.
    :raises VirtError: NO_NODE_DEVICE naming the device.
    :state: none.
    """


@spec(readonly=True)
def virtkit_nodedev_lookup_scsi_host_by_wwn(wwnn: str, wwpn: str) -> NodeDeviceRef | None:
    """Find the SCSI host (an HBA or a vHBA) with this Fibre Channel node and port name.

    :param wwnn: the world wide node name, 16 hex digits.
    :param wwpn: the world wide port name, 16 hex digits.
    :return: its :class:`NodeDeviceRef`.
    :raises VirtError: NO_NODE_DEVICE naming both names.
    :state: none.
    """


@spec(readonly=True)
def virtkit_nodedev_get_summary(dev: NodeDeviceRef) -> NodeDeviceSummary | None:
    """One device's :class:`NodeDeviceSummary` (parent, capabilities, active, persistent).

    :return: the summary.
    :raises VirtError: NO_NODE_DEVICE.
    :state: none.
    """


@spec(readonly=True)
def virtkit_nodedev_get_xml(dev: NodeDeviceRef) -> str | None:
    """The device's ``<device>`` document: name, path, parent, driver and capabilities.

    :return: the XML text.
    :raises VirtError: NO_NODE_DEVICE.
    :state: none.
    """


@spec(readonly=False)
def virtkit_nodedev_create_xml(xml: str) -> NodeDeviceRef | None:
    """Create a transient device from ``<device>`` XML: an mdev (``<parent>`` a device with
    ``mdev_types``, ``<capability type='mdev'><type id='...'/>``, optional ``<uuid>``) or an
    NPIV vHBA (``<parent>`` an HBA with ``vports`` room, or none for any such HBA,
    ``<capability type='scsi_host'><capability type='fc_host'>`` with ``wwnn``/``wwpn``).

    :return: the new device's :class:`NodeDeviceRef`.
    :raises VirtError: XML_ERROR; NO_NODE_DEVICE naming a missing parent; INVALID_ARG for a
        parent that cannot host it or an unknown mdev type; OPERATION_FAILED when the uuid or
        the WWNs are taken or the HBA has no free vport.
    :state: the device exists and is active; event CREATED.
    """


@spec(readonly=False)
def virtkit_nodedev_define_xml(xml: str) -> NodeDeviceRef | None:
    """Define a persistent mdev from ``<device>`` XML (as for create) without starting it.

    :return: the device's :class:`NodeDeviceRef`.
    :raises VirtError: XML_ERROR; as for create; OPERATION_UNSUPPORTED for anything but an mdev
        (a vHBA can only be created).
    :state: the device is defined and inactive (a redefinition keeps its state); event DEFINED.
    """


@spec(readonly=False)
def virtkit_nodedev_create(dev: NodeDeviceRef) -> bool | None:
    """Start a defined, inactive device (virsh nodedev-start).

    :return: True.
    :raises VirtError: NO_NODE_DEVICE; OPERATION_INVALID when it is already active.
    :state: active; event CREATED.
    """


@spec(readonly=False)
def virtkit_nodedev_destroy(dev: NodeDeviceRef) -> bool | None:
    """Remove an active mdev or vHBA from the host (a defined mdev stays defined).

    :return: True.
    :raises VirtError: NO_NODE_DEVICE; OPERATION_INVALID for a device that is not active or
        that the host owns (only created devices can be destroyed).
    :state: inactive, or gone when it was transient; event DELETED.
    """


@spec(readonly=False)
def virtkit_nodedev_undefine(dev: NodeDeviceRef) -> bool | None:
    """Remove a defined device's definition; an active one stays until destroyed.

    :return: True.
    :raises VirtError: NO_NODE_DEVICE; OPERATION_INVALID when it is not defined.
    :state: transient (gone when inactive); event UNDEFINED.
    """


@spec(readonly=True)
def virtkit_nodedev_get_autostart(dev: NodeDeviceRef) -> bool | None:
    """Whether the device starts on its own when the host boots or its parent appears
    (only a defined device can; every other device answers False).

    :return: the autostart flag.
    :raises VirtError: NO_NODE_DEVICE.
    :state: none.
    """


@spec(readonly=False)
def virtkit_nodedev_set_autostart(dev: NodeDeviceRef, autostart: bool) -> bool | None:
    """Set or clear the autostart flag of a defined (persistent) device (virsh
    nodedev-autostart); undefining the device clears it.

    :return: True.
    :raises VirtError: NO_NODE_DEVICE; OPERATION_INVALID for a transient device or one the
        host owns (only a defined device has a definition to mark).
    :state: the autostart flag.
    """


@spec(readonly=False)
def virtkit_nodedev_detach(dev: NodeDeviceRef, driver_name: str | None) -> bool | None:
    """Detach a PCI device from its host driver for passthrough (virsh nodedev-detach).

    :param driver_name: the stub driver to bind (``vfio``, the default, or ``xen``).
    :return: True.
    :raises VirtError: NO_NODE_DEVICE; OPERATION_INVALID for a device that is not PCI;
        INVALID_ARG for an unknown stub driver.
    :state: the device is bound to the stub driver (already detached: no change); event UPDATE.
    """


@spec(readonly=False)
def virtkit_nodedev_reattach(dev: NodeDeviceRef) -> bool | None:
    """Give a detached PCI device back to its host driver (virsh nodedev-reattach).

    :return: True.
    :raises VirtError: NO_NODE_DEVICE; OPERATION_INVALID for a device that is not PCI.
    :state: bound to its original driver again (not detached: no change); event UPDATE.
    """


@spec(readonly=False)
def virtkit_nodedev_reset(dev: NodeDeviceRef) -> bool | None:
    """Reset a PCI device (function-level or bus reset), as before assigning it to a guest.

    :return: True.
    :raises VirtError: NO_NODE_DEVICE; OPERATION_INVALID for a device that is not PCI or that
        is still bound to its host driver (detach it first).
    :state: none.
    """
