"""The two schemes the vSphere driver serves, as libvirt names them: ``esx`` (an ESX host) and
``vpx`` (a vCenter, with ``/DATACENTER/CLUSTER/HOST`` in the path)."""

from __future__ import annotations

from typing import ClassVar

from virtkit_vmware.devices import DeviceHooks
from virtkit_vmware.driver import VSphereDriver
from virtkit_vmware.network import NetworkHooks
from virtkit_vmware.snapshots import SnapshotHooks
from virtkit_vmware.storage import StorageHooks


class _Full(SnapshotHooks, StorageHooks, NetworkHooks, DeviceHooks, VSphereDriver):
    pass


class EsxDriver(_Full):
    name: ClassVar[str] = "esx"


class VpxDriver(_Full):
    name: ClassVar[str] = "vpx"
