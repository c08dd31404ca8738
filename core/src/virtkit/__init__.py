"""virtkit: manage guests, storage and networks on many hypervisors through one API.

``virtkit.open(uri)`` returns a :class:`~virtkit.api.connection.Connection`. The package is laid
out in layers, each standing only on the ones below it:

- :mod:`virtkit.sdk`: what drivers import (hookspecs, records, states, errors, the driver base and
  context, the state store, argument checks), with :mod:`virtkit.xml`, the XML layer;
- :mod:`virtkit.runtime`: the plugin manager and dispatch, the driver registry, configuration and
  event delivery;
- :mod:`virtkit.api`: the facade (Connection, Domain, Network, ...), and :mod:`virtkit.cli`.

Everything is imported on first use, so ``import virtkit`` stays cheap for the command line.
"""

from __future__ import annotations

from virtkit.version import __version__

TYPE_CHECKING = False  # not typing's: importing typing costs the command line's client its start

if TYPE_CHECKING:
    from typing import Any

    from virtkit.api.connection import Connection, default_uri, open
    from virtkit.api.domain import Domain
    from virtkit.api.interface import Interface
    from virtkit.api.network import Network, NetworkPort
    from virtkit.api.nodedev import NodeDevice
    from virtkit.api.secret import Secret
    from virtkit.api.snapshot import Snapshot
    from virtkit.api.storage import StoragePool, StorageVolume
    from virtkit.api.stream import Stream
    from virtkit.runtime.registry import DriverEntry, drivers
    from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
    from virtkit.sdk.records import (
        DhcpLease,
        DomainInfo,
        DomainRef,
        DomainStateInfo,
        DomainSummary,
        Event,
        InterfaceAddress,
        InterfaceRef,
        InterfaceSummary,
        JobInfo,
        NetworkPortRef,
        NetworkRef,
        NetworkSummary,
        NodeDeviceRef,
        NodeDeviceSummary,
        NodeInfo,
        PoolInfo,
        PoolRef,
        PoolSummary,
        SecretRef,
        SecretSummary,
        SecurityModel,
        SnapshotRef,
        SnapshotSummary,
        VolumeInfo,
        VolumeRef,
    )
    from virtkit.sdk.states import DomainState, EventType, PoolState

_LAZY = {
    "ErrorCode": "virtkit.sdk.errors",
    "ErrorDomain": "virtkit.sdk.errors",
    "VirtError": "virtkit.sdk.errors",
    "Connection": "virtkit.api.connection",
    "open": "virtkit.api.connection",
    "default_uri": "virtkit.api.connection",
    "Domain": "virtkit.api.domain",
    "Interface": "virtkit.api.interface",
    "Network": "virtkit.api.network",
    "NetworkPort": "virtkit.api.network",
    "NodeDevice": "virtkit.api.nodedev",
    "Secret": "virtkit.api.secret",
    "Snapshot": "virtkit.api.snapshot",
    "StoragePool": "virtkit.api.storage",
    "StorageVolume": "virtkit.api.storage",
    "Stream": "virtkit.api.stream",
    "DriverEntry": "virtkit.runtime.registry",
    "drivers": "virtkit.runtime.registry",
    "DomainState": "virtkit.sdk.states",
    "EventType": "virtkit.sdk.states",
    "PoolState": "virtkit.sdk.states",
}
_RECORDS = (
    "DhcpLease DomainInfo DomainRef DomainStateInfo DomainSummary Event InterfaceAddress "
    "InterfaceRef InterfaceSummary JobInfo NetworkPortRef NetworkRef NetworkSummary "
    "NodeDeviceRef NodeDeviceSummary NodeInfo PoolInfo PoolRef PoolSummary SecretRef "
    "SecretSummary SecurityModel SnapshotRef SnapshotSummary VolumeInfo VolumeRef"
).split()
_LAZY.update(dict.fromkeys(_RECORDS, "virtkit.sdk.records"))

__all__ = [
    "Connection",
    "DhcpLease",
    "Domain",
    "DomainInfo",
    "DomainRef",
    "DomainState",
    "DomainStateInfo",
    "DomainSummary",
    "DriverEntry",
    "ErrorCode",
    "ErrorDomain",
    "Event",
    "EventType",
    "Interface",
    "InterfaceAddress",
    "InterfaceRef",
    "InterfaceSummary",
    "JobInfo",
    "Network",
    "NetworkPort",
    "NetworkPortRef",
    "NetworkRef",
    "NetworkSummary",
    "NodeDevice",
    "NodeDeviceRef",
    "NodeDeviceSummary",
    "NodeInfo",
    "PoolInfo",
    "PoolRef",
    "PoolState",
    "PoolSummary",
    "Secret",
    "SecretRef",
    "SecretSummary",
    "SecurityModel",
    "Snapshot",
    "SnapshotRef",
    "SnapshotSummary",
    "StoragePool",
    "StorageVolume",
    "Stream",
    "VirtError",
    "VolumeInfo",
    "VolumeRef",
    "__version__",
    "default_uri",
    "drivers",
    "open",
    "open_read_only",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'virtkit' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def open_read_only(uri: str | None = None) -> Connection:
    """``virtkit.open(uri, read_only=True)``, as libvirt's openReadOnly."""
    from virtkit.api.connection import open as _open

    return _open(uri, read_only=True)
