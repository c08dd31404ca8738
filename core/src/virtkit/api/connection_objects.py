"""Connection-level calls for networks, host interfaces, storage pools and volumes.

:class:`ObjectsMixin` is one of :class:`~virtkit.connection.Connection`'s bases; it only needs
``self.call(op, **kwargs)``, the connection's one dispatch point (which enforces read-only
connections before any driver code runs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from virtkit.api.interface import Interface
from virtkit.api.network import Network, _mac
from virtkit.api.storage import StoragePool, StorageVolume
from virtkit.sdk import checks as args
from virtkit.sdk.records import InterfaceSummary, NetworkSummary, PoolSummary

if TYPE_CHECKING:
    from virtkit.api.connection import Connection
    from virtkit.runtime.hooks import Hooks

__all__ = ["ObjectsMixin"]










def _keep(flag: bool | None, value: bool) -> bool:
    return flag is None or flag == value


class ObjectsMixin:
    """Networks, interfaces, pools and volumes by connection (libvirt-python names)."""

    if TYPE_CHECKING:
        hooks: Hooks

    def _as_connection(self) -> Connection:
        return cast("Connection", self)

    # -- networks -----------------------------------------------------------------------------

    def _network(self, ref: Any) -> Network:
        return Network(self._as_connection(), ref)

    def list_network_summaries(self) -> list[NetworkSummary]:
        """Every network's list entry in one call."""
        return self.hooks.network_list()

    def list_networks(
        self,
        active: bool | None = None,
        persistent: bool | None = None,
        autostart: bool | None = None,
    ) -> list[Network]:
        """Networks matching every filter given (libvirt's listAllNetworks), by name."""
        picked = [
            s
            for s in self.list_network_summaries()
            if _keep(active, s.active)
            and _keep(persistent, s.persistent)
            and _keep(autostart, s.autostart)
        ]
        return [self._network(s.ref) for s in sorted(picked, key=lambda s: s.ref.name)]

    def network_lookup_by_name(self, name: str) -> Network:
        return self._network(
            self.hooks.network_lookup_by_name(name=args.name(name, "network"))
        )

    def network_lookup_by_uuid(self, uuid: str) -> Network:
        return self._network(self.hooks.network_lookup_by_uuid(uuid=args.canonical_uuid(uuid)))

    def network_define_xml(self, xml: str) -> Network:
        """Define (or redefine) a persistent network (virsh net-define)."""
        return self._network(self.hooks.network_define_xml(xml=args.xml_text(xml)))

    def network_create_xml(self, xml: str) -> Network:
        """Create and start a transient network (virsh net-create)."""
        return self._network(self.hooks.network_create_xml(xml=args.xml_text(xml)))

    # -- host interfaces ----------------------------------------------------------------------

    def _interface(self, ref: Any) -> Interface:
        return Interface(self._as_connection(), ref)

    def list_interfaces(self, active: bool | None = None) -> list[Interface]:
        """Host interfaces, all or only those up (``active=True``) or down, by name."""
        summaries: list[InterfaceSummary] = self.hooks.interface_list()
        picked = [s for s in summaries if _keep(active, s.active)]
        return [self._interface(s.ref) for s in sorted(picked, key=lambda s: s.ref.name)]

    def interface_lookup_by_name(self, name: str) -> Interface:
        return self._interface(
            self.hooks.interface_lookup_by_name(name=args.name(name, "interface"))
        )

    def interface_lookup_by_mac(self, mac: str) -> Interface:
        """The interface with MAC address ``mac`` (any case)."""
        return self._interface(self.hooks.interface_lookup_by_mac(mac=_mac(mac)))

    def interface_change_begin(self) -> None:
        """Start a host-interface transaction (virsh iface-begin)."""
        self.hooks.interface_change_begin()

    def interface_change_commit(self) -> None:
        """Keep the interface changes made since iface-begin (virsh iface-commit)."""
        self.hooks.interface_change_commit()

    def interface_change_rollback(self) -> None:
        """Restore the host interfaces as iface-begin found them (virsh iface-rollback)."""
        self.hooks.interface_change_rollback()

    def interface_define_xml(self, xml: str) -> Interface:
        """Define a host interface (virsh iface-define)."""
        return self._interface(self.hooks.interface_define_xml(xml=args.xml_text(xml)))

    # -- storage pools ------------------------------------------------------------------------

    def _pool(self, ref: Any) -> StoragePool:
        return StoragePool(self._as_connection(), ref)

    def list_storage_pool_summaries(self) -> list[PoolSummary]:
        return self.hooks.pool_list()

    def list_storage_pools(
        self,
        active: bool | None = None,
        persistent: bool | None = None,
        autostart: bool | None = None,
    ) -> list[StoragePool]:
        """Pools matching every filter given (libvirt's listAllStoragePools), by name."""
        picked = [
            s
            for s in self.list_storage_pool_summaries()
            if _keep(active, s.active)
            and _keep(persistent, s.persistent)
            and _keep(autostart, s.autostart)
        ]
        return [self._pool(s.ref) for s in sorted(picked, key=lambda s: s.ref.name)]

    def storage_pool_lookup_by_name(self, name: str) -> StoragePool:
        return self._pool(self.hooks.pool_lookup_by_name(name=args.name(name, "storage pool")))

    def storage_pool_lookup_by_uuid(self, uuid: str) -> StoragePool:
        return self._pool(self.hooks.pool_lookup_by_uuid(uuid=args.canonical_uuid(uuid)))

    def storage_pool_lookup_by_target_path(self, path: str) -> StoragePool:
        """The pool whose target directory is ``path`` (libvirt's
        storagePoolLookupByTargetPath; trailing slashes do not matter)."""
        import os.path

        from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
        from virtkit.xml.storage import StoragePool as PoolModel

        want = os.path.normpath(path)
        for summary in self.list_storage_pool_summaries():
            model = PoolModel.from_xml(self.hooks.pool_get_xml(pool=summary.ref,
                                                               inactive=False))
            target = model.target.path if model.target is not None else None
            if target and os.path.normpath(target) == want:
                return self._pool(summary.ref)
        raise VirtError(ErrorCode.NO_STORAGE_POOL, f"Storage pool not found: no storage pool "
                        f"with matching target path '{path}'", ErrorDomain.STORAGE)

    def storage_pool_define_xml(self, xml: str) -> StoragePool:
        """Define (or redefine) a persistent pool (virsh pool-define)."""
        return self._pool(self.hooks.pool_define_xml(xml=args.xml_text(xml)))

    def storage_pool_create_xml(self, xml: str, build: bool = False) -> StoragePool:
        """Create and start a transient pool, building it first if ``build`` (pool-create)."""
        return self._pool(self.hooks.pool_create_xml(xml=args.xml_text(xml), build=bool(build)))

    def find_storage_pool_sources(self, type: str, src_spec: str | None = None) -> str:
        """Discover the sources pools of ``type`` could use (a ``<sources>`` document):
        ``logical`` volume groups, a ``netfs`` host's exports, an ``iscsi`` portal's targets;
        ``src_spec`` is a ``<source>`` document naming the host to ask."""
        spec = None if src_spec is None else args.xml_text(src_spec)
        return self.hooks.pool_find_sources(pool_type=type, spec=spec)

    def get_storage_pool_capabilities(self) -> str:
        """The ``<storagepoolCapabilities>`` document: which pool types this connection
        supports, with their source and volume formats."""
        return self.hooks.pool_get_capabilities()

    # -- storage volumes ----------------------------------------------------------------------

    def storage_vol_lookup_by_key(self, key: str) -> StorageVolume:
        ref = self.hooks.vol_lookup_by_key(key=args.name(key, "storage volume key"))
        return StorageVolume(self._as_connection(), ref)

    def storage_vol_lookup_by_path(self, path: str) -> StorageVolume:
        ref = self.hooks.vol_lookup_by_path(path=args.name(path, "storage volume path"))
        return StorageVolume(self._as_connection(), ref)
