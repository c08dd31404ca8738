"""Host devices: the :class:`NodeDevice` handle and the connection's node-device methods.

Names follow libvirt-python in snake_case (``conn.list_all_devices()``,
``conn.node_device_lookup_by_name()``, ``dev.dettach()``, ``dev.re_attach()``...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from virtkit.api.handle import Handle
from virtkit.sdk.records import NodeDeviceRef, NodeDeviceSummary

if TYPE_CHECKING:
    from virtkit.api.connection import Connection
    from virtkit.runtime.hooks import Hooks

__all__ = ["NodeDevice", "NodeDeviceEventLifecycle", "NodeDeviceMethods"]


class NodeDeviceEventLifecycle:
    """The ``event`` numbers of ``nodedev-lifecycle`` events (libvirt's)."""

    CREATED = 0
    DELETED = 1
    DEFINED = 2
    UNDEFINED = 3


class NodeDevice(Handle[NodeDeviceRef]):
    """A host device on one connection; ``name`` is fixed."""

    __slots__ = ()
    ARG = "dev"

    def summary(self) -> NodeDeviceSummary:
        return self._conn.hooks.nodedev_get_summary(dev=self._ref)

    def parent(self) -> str | None:
        """The parent device's name; None for the root (``computer``)."""
        return self.summary().parent or None

    def list_caps(self) -> list[str]:
        """Capability types (``pci``, ``scsi_host``, ``fc_host``, ``vports``, ``mdev``...)."""
        return list(self.summary().caps)

    def num_of_caps(self) -> int:
        return len(self.list_caps())

    def is_active(self) -> bool:
        return self.summary().active

    def is_persistent(self) -> bool:
        return self.summary().persistent

    def xml_desc(self) -> str:
        return self._conn.hooks.nodedev_get_xml(dev=self._ref)

    @property
    def autostart(self) -> bool:
        """Whether a defined device starts on its own at host boot or when its parent
        appears."""
        return self._conn.hooks.nodedev_get_autostart(dev=self._ref)

    def set_autostart(self, autostart: int | bool) -> None:
        """Mark a defined device to start on its own (``autostart`` true) or not."""
        self._conn.hooks.nodedev_set_autostart(dev=self._ref, autostart=bool(autostart))

    def create(self) -> None:
        """Start a defined mdev (virsh nodedev-start)."""
        self._conn.hooks.nodedev_create(dev=self._ref)

    def destroy(self) -> None:
        """Remove a created mdev or vHBA from the host."""
        self._conn.hooks.nodedev_destroy(dev=self._ref)

    def undefine(self) -> None:
        self._conn.hooks.nodedev_undefine(dev=self._ref)

    def detach_flags(self, driver_name: str | None = None) -> None:
        """Detach a PCI device from its host driver for passthrough (``vfio`` or ``xen``)."""
        self._conn.hooks.nodedev_detach(dev=self._ref, driver_name=driver_name)

    def dettach(self) -> None:
        """libvirt-python's (misspelt) name for :meth:`detach_flags` with the default stub."""
        self.detach_flags()

    def re_attach(self) -> None:
        """Give a detached PCI device back to its host driver."""
        self._conn.hooks.nodedev_reattach(dev=self._ref)

    def reset(self) -> None:
        self._conn.hooks.nodedev_reset(dev=self._ref)


class NodeDeviceMethods:
    """The connection's node-device methods (a base of the Connection class).
    """

    if TYPE_CHECKING:
        hooks: Hooks

    def _nodedev(self, ref: NodeDeviceRef) -> NodeDevice:
        return NodeDevice(cast("Connection", self), ref)

    def list_all_device_summaries(self, caps: list[str] | None = None) -> list[NodeDeviceSummary]:
        return self.hooks.nodedev_list(caps=list(caps or []))

    def list_all_devices(self, caps: list[str] | None = None) -> list[NodeDevice]:
        """Every host device, or those with one of ``caps`` (``["pci"]``, ``["scsi_host"]``)."""
        return [self._nodedev(s.ref) for s in self.list_all_device_summaries(caps)]

    def list_devices(self, cap: str | None = None) -> list[str]:
        """Device names, of one capability type when given (libvirt's listDevices)."""
        return [s.ref.name for s in self.list_all_device_summaries([cap] if cap else None)]

    def num_of_devices(self, cap: str | None = None) -> int:
        return len(self.list_devices(cap))

    def node_device_lookup_by_name(self, name: str) -> NodeDevice:
        return self._nodedev(self.hooks.nodedev_lookup_by_name(name=name))

    def node_device_lookup_scsi_host_by_wwn(self, wwnn: str, wwpn: str) -> NodeDevice:
        return self._nodedev(self.hooks.nodedev_lookup_scsi_host_by_wwn(wwnn=wwnn, wwpn=wwpn))

    def node_device_create_xml(self, xml: str) -> NodeDevice:
        """Create a transient mdev or NPIV vHBA from ``<device>`` XML."""
        return self._nodedev(self.hooks.nodedev_create_xml(xml=xml))

    def node_device_define_xml(self, xml: str) -> NodeDevice:
        """Define a persistent mdev (inactive until ``create()``)."""
        return self._nodedev(self.hooks.nodedev_define_xml(xml=xml))
