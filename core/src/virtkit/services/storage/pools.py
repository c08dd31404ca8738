"""Pool hooks of the host storage service: definition, lifecycle, information."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import Event, PoolInfo, PoolRef, PoolSummary
from virtkit.sdk.states import PoolEventLifecycle, PoolState
from virtkit.services.storage.backends import backend_for, check_type
from virtkit.services.storage.backends.base import Backend
from virtkit.services.storage.discovery import find_sources, pool_capabilities
from virtkit.services.storage.errors import failed, invalid, no_pool
from virtkit.services.storage.state import Host, Pool
from virtkit.xml.storage import StoragePool

if TYPE_CHECKING:
    from virtkit.sdk.driver import DriverContext

log = logging.getLogger("virtkit.services.storage")


def _target(model: StoragePool) -> str:
    path = model.target.path if model.target is not None else None
    return (path or "").rstrip("/") or "/"


class PoolHooks:
    """The ``virtkit_pool_*`` hooks; pools live in :class:`~.state.Host`'s files."""

    host: Host
    context: DriverContext

    # -- helpers --------------------------------------------------------------------------------

    def _pool(self, ref: PoolRef) -> Pool:
        pool = self.host.load(ref.name)
        if pool is None or (ref.uuid and pool.uuid != ref.uuid):
            raise no_pool(ref.name)
        return pool

    def _active(self, ref: PoolRef) -> Pool:
        pool = self._pool(ref)
        if not pool.active:
            raise invalid(f"storage pool '{pool.name}' is not active")
        return pool

    def _backend(self, pool: Pool | StoragePool) -> Backend:
        model = pool.current if isinstance(pool, Pool) else pool
        return backend_for(model, self.host.runner)

    @staticmethod
    def _ref(pool: Pool) -> PoolRef:
        return PoolRef(pool.name, pool.uuid)

    def _event(self, pool: Pool | StoragePool, event: PoolEventLifecycle) -> None:
        ref = PoolRef(pool.name, pool.uuid or "")
        self.context.emit(Event("pool-lifecycle", ref, int(event), 0))

    def _parse(self, xml: str) -> StoragePool:
        model = StoragePool.from_xml(xml).with_defaults()
        check_type(model)
        return model

    def _place(self, new: StoragePool) -> Pool | None:
        """The pool ``new`` redefines, or None; refuses clashes of name, uuid and target."""
        existing = None
        for other in self.host.pools():
            if other.name == new.name:
                existing = other
                continue
            if other.uuid == new.uuid:
                raise failed(f"storage pool '{other.name}' is already defined with uuid "
                             f"{new.uuid}")
            targets = {_target(m) for m in (other.config, other.live) if m is not None}
            if _target(new) in targets and new.type in ("dir", "fs", "netfs"):
                raise failed(f"storage pool '{other.name}' already uses target path "
                             f"'{_target(new)}'")
        if existing is not None and existing.uuid != new.uuid:
            raise failed(f"storage pool '{new.name}' already exists with uuid {existing.uuid}")
        return existing

    def _start(self, pool: Pool, model: StoragePool) -> None:
        backend = self._backend(model)
        backend.start()
        try:
            backend.cleanup()
            self.host.save_live(model)
        except BaseException:
            backend.stop()
            raise
        self._event(model, PoolEventLifecycle.STARTED)

    # -- listing and lookup ---------------------------------------------------------------------

    @hookimpl
    def virtkit_pool_list(self) -> list[PoolSummary]:
        return [
            PoolSummary(self._ref(p), p.active, p.persistent, p.autostart)
            for p in self.host.pools()
        ]

    @hookimpl
    def virtkit_pool_get_summary(self, pool: PoolRef) -> PoolSummary:
        p = self._pool(pool)
        return PoolSummary(self._ref(p), p.active, p.persistent, p.autostart)

    @hookimpl
    def virtkit_pool_lookup_by_name(self, name: str) -> PoolRef:
        pool = self.host.load(name) if name and "/" not in name else None
        if pool is None:
            raise no_pool(name)
        return self._ref(pool)

    @hookimpl
    def virtkit_pool_lookup_by_uuid(self, uuid: str) -> PoolRef:
        for pool in self.host.pools():
            if pool.uuid == uuid:
                return self._ref(pool)
        raise no_pool(uuid=uuid)

    # -- definition and lifecycle ---------------------------------------------------------------

    @hookimpl
    def virtkit_pool_define_xml(self, xml: str) -> PoolRef:
        new = self._parse(xml)
        with self.host.locked():
            self._place(new)
            self.host.save_config(new)
            pool = self.host.load(new.name)
            assert pool is not None
        self._event(new, PoolEventLifecycle.DEFINED)
        return self._ref(pool)

    @hookimpl
    def virtkit_pool_create_xml(self, xml: str, build: bool) -> PoolRef:
        new = self._parse(xml)
        with self.host.locked():
            existing = self._place(new)
            if existing is not None and existing.active:
                raise invalid(f"storage pool '{new.name}' is already active")
            backend = self._backend(new)
            if build:
                backend.build(False, False)
            pool = existing or Pool(new.name, None, None)
            self._start(pool, new)
            loaded = self.host.load(new.name)
            assert loaded is not None
            return self._ref(loaded)

    @hookimpl
    def virtkit_pool_build(self, pool: PoolRef, overwrite: bool, no_overwrite: bool) -> bool:
        if overwrite and no_overwrite:
            raise VirtError(
                ErrorCode.INVALID_ARG,
                "invalid argument: overwrite and no_overwrite are mutually exclusive",
                ErrorDomain.STORAGE,
            )
        with self.host.locked():
            p = self._pool(pool)
            if p.active:
                raise invalid(f"storage pool '{p.name}' is active; stop it before building it")
            self._backend(p).build(overwrite, no_overwrite)
            if overwrite:
                self.host.drop_all_meta(p.uuid)
        self._event(p, PoolEventLifecycle.CREATED)
        return True

    @hookimpl
    def virtkit_pool_create(self, pool: PoolRef) -> bool:
        with self.host.locked():
            p = self._pool(pool)
            if p.active:
                raise invalid(f"storage pool '{p.name}' is already active")
            assert p.config is not None
            self._start(p, p.config)
        return True

    @hookimpl
    def virtkit_pool_destroy(self, pool: PoolRef) -> bool:
        with self.host.locked():
            p = self._active(pool)
            self._backend(p).stop()
            self.host.drop_live(p.name)
            if not p.persistent:
                self.host.drop_all_meta(p.uuid)
        self._event(p, PoolEventLifecycle.STOPPED)
        return True

    @hookimpl
    def virtkit_pool_delete(self, pool: PoolRef) -> bool:
        with self.host.locked():
            p = self._pool(pool)
            if p.active:
                raise invalid(f"storage pool '{p.name}' is still active")
            self._backend(p).delete()
            self.host.drop_all_meta(p.uuid)
        self._event(p, PoolEventLifecycle.DELETED)
        return True

    @hookimpl
    def virtkit_pool_undefine(self, pool: PoolRef) -> bool:
        with self.host.locked():
            p = self._pool(pool)
            if p.active:
                raise invalid(f"storage pool '{p.name}' is still active")
            if not p.persistent:
                raise invalid(f"cannot undefine transient storage pool '{p.name}'")
            self.host.drop_config(p.name)
            self.host.drop_all_meta(p.uuid)
        self._event(p, PoolEventLifecycle.UNDEFINED)
        return True

    @hookimpl
    def virtkit_pool_refresh(self, pool: PoolRef) -> bool:
        with self.host.locked():
            p = self._active(pool)
            backend = self._backend(p)
            if not backend.is_up():
                self.host.drop_live(p.name)
                self._event(p, PoolEventLifecycle.STOPPED)
                raise failed(f"storage pool '{p.name}' lost its storage and was stopped")
            backend.cleanup()
            present = backend.scan()
            for name in self.host.all_meta(p.uuid):
                if name not in present:
                    self.host.drop_vol_meta(p.uuid, name)
        return True

    # -- information ----------------------------------------------------------------------------

    @hookimpl
    def virtkit_pool_get_info(self, pool: PoolRef) -> PoolInfo:
        p = self._pool(pool)
        if not p.active:
            return PoolInfo(int(PoolState.INACTIVE), 0, 0, 0)
        capacity, allocation, available = self._backend(p).info()
        return PoolInfo(int(PoolState.RUNNING), capacity, allocation, available)

    @hookimpl
    def virtkit_pool_get_xml(self, pool: PoolRef, inactive: bool) -> str:
        p = self._pool(pool)
        model = p.config if inactive and p.config is not None else p.current
        if p.active:
            capacity, allocation, available = self._backend(p).info()
        else:
            capacity = allocation = available = 0
        return attrs.evolve(
            model, capacity=capacity, allocation=allocation, available=available
        ).to_xml()

    @hookimpl
    def virtkit_pool_find_sources(self, pool_type: str, spec: str | None) -> str:
        return find_sources(self.host.runner, pool_type, spec)

    @hookimpl
    def virtkit_pool_get_capabilities(self) -> str:
        return pool_capabilities()

    @hookimpl
    def virtkit_pool_get_autostart(self, pool: PoolRef) -> bool:
        return self._pool(pool).autostart

    @hookimpl
    def virtkit_pool_set_autostart(self, pool: PoolRef, autostart: bool) -> bool:
        with self.host.locked():
            p = self._pool(pool)
            if not p.persistent:
                raise invalid(f"cannot set autostart for transient storage pool '{p.name}'")
            self.host.set_autostart(p.name, bool(autostart))
        return True

    # -- at the first connection ----------------------------------------------------------------

    def _reconcile(self) -> None:
        """Drop the live state of pools whose storage went away (a crash, a reboot, an
        unmount behind our back), then start the autostart pools once per boot."""
        host = self.host
        with host.locked():
            for p in host.pools():
                if p.active:
                    try:
                        up = self._backend(p).is_up()
                    except VirtError:
                        up = False
                    if not up:
                        log.warning("storage pool '%s' lost its storage; marking it inactive",
                                    p.name)
                        host.drop_live(p.name)
            if not host.first_open():
                return
            for p in host.pools():
                if p.autostart and not p.active and p.config is not None:
                    try:
                        self._start(p, p.config)
                    except VirtError as exc:
                        log.warning("autostart of storage pool '%s' failed: %s", p.name,
                                    exc.message)
