"""Deliberately broken drivers: the test driver with one defect each, for the self-tests."""

from __future__ import annotations

from typing import Any, ClassVar

from virtkit.drivers.test import TestDriver
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef, DomainSummary, Event, PoolRef, VolumeRef
from virtkit.sdk.states import Op, transition
from virtkit.xml.storage import StorageVolume


class WrongSuspendState(TestDriver):
    """Suspend emits its event but leaves the guest RUNNING."""

    @hookimpl
    def virtkit_domain_suspend(self, dom: DomainRef) -> bool:
        node = self._node
        with node.lock:
            d = node.find(dom)
            t = transition(Op.SUSPEND, d.name, d.status)
            for ev, detail in t.events:
                node.emit(Event("domain-lifecycle", d.ref, int(ev), int(detail)))
        return True


class MissingDestroyEvent(TestDriver):
    """Destroy stops the guest but emits no STOPPED event."""

    @hookimpl
    def virtkit_domain_destroy(self, dom: DomainRef, graceful: bool) -> bool:
        import attrs

        node = self._node
        with node.lock:
            d = node.find(dom)
            t = transition(Op.DESTROY, d.name, d.status)
            self._apply(d, attrs.evolve(t, events=()))
        return True


class WrongResumeError(TestDriver):
    """Resuming a running guest raises OPERATION_FAILED instead of OPERATION_INVALID."""

    @hookimpl
    def virtkit_domain_resume(self, dom: DomainRef) -> bool:
        try:
            return bool(super().virtkit_domain_resume(dom))
        except VirtError as exc:
            raise VirtError(ErrorCode.OPERATION_FAILED, exc.message, ErrorDomain.TEST) from None


class AcceptsTraversal(TestDriver):
    """Creates volumes whatever their name, ``../`` included."""

    @hookimpl
    def virtkit_vol_create_xml(self, pool: Any, xml: str) -> VolumeRef:
        import re

        import attrs

        raw = re.search(r"<name>(.*?)</name>", xml)
        name = raw.group(1) if raw else "x"
        safe = xml.replace(f"<name>{name}</name>", "<name>placeholder</name>", 1)
        model = StorageVolume.from_xml(safe)
        node = self._node
        with node.lock:
            p = self._active_pool(pool)
            if name in p.volumes:
                raise VirtError(ErrorCode.STORAGE_VOL_EXIST, f"volume '{name}' exists",
                                ErrorDomain.STORAGE)
            vol = self._new_volume(p, model)
            vol.config = attrs.evolve(vol.config, name=name)
            p.volumes[name] = vol
            return self._vol_ref(p, vol)


class NoSuspend(TestDriver):
    """Does not implement suspend or resume at all (no hookimpl): "not supported"."""

    virtkit_domain_suspend = None  # type: ignore[assignment]
    virtkit_domain_resume = None  # type: ignore[assignment]


class RefusesDeclaredSuspend(TestDriver):
    """Has a suspend hookimpl (declares support) but raises NO_SUPPORT: a failure."""

    @hookimpl
    def virtkit_domain_suspend(self, dom: DomainRef) -> bool:
        from virtkit.sdk.errors import no_support

        raise no_support("domain_suspend", self.name)


class OmitsTransient(TestDriver):
    """Lists only persistent domains: transient ones are missing from the list."""

    @hookimpl
    def virtkit_domain_list(self) -> list[DomainSummary]:
        return [s for s in super().virtkit_domain_list() if s.persistent]


class LeaksSecrets(TestDriver):
    """Returns the graphics password in every XML, asked for or not."""

    @hookimpl
    def virtkit_domain_get_xml(self, dom: DomainRef, inactive: bool, security_info: bool) -> str:
        return str(super().virtkit_domain_get_xml(dom, inactive, True))


class ExceedsMaximum(TestDriver):
    """A live memory change sets the balloon to whatever is asked, above the maximum too."""

    @hookimpl
    def virtkit_domain_set_memory(
        self, dom: DomainRef, kib: int, live: bool, config: bool, maximum: bool
    ) -> bool:
        with self._node.lock:
            d = self._node.find(dom)
            if live and not maximum and d.status.active:
                d.memory = kib
                return True
        return bool(super().virtkit_domain_set_memory(dom, kib, live, config, maximum))


class DropsDevices(TestDriver):
    """Drops every ``<watchdog>`` of a definition without a word."""

    @hookimpl
    def virtkit_domain_define_xml(self, xml: str, validate: bool) -> DomainRef:
        import re

        xml = re.sub(r"<watchdog\b[^>]*/>", "", xml)
        return super().virtkit_domain_define_xml(xml, validate)  # type: ignore[no-any-return]


class ExeOnly(TestDriver):
    """A container driver: its capabilities offer only the ``exe`` OS type, and it refuses to
    define anything else (the suite once hard-coded ``hvm``)."""

    @hookimpl
    def virtkit_connect_get_capabilities(self) -> str:
        return str(super().virtkit_connect_get_capabilities()).replace(
            "<os_type>hvm</os_type>", "<os_type>exe</os_type>")

    @staticmethod
    def _exe(xml: str) -> None:
        from virtkit.xml.domain import Domain

        model = Domain.from_xml(xml)  # a document that does not parse is refused as such
        if model.os.type.name != "exe":
            raise VirtError(ErrorCode.CONFIG_UNSUPPORTED,
                            "unsupported configuration: this driver runs only <os><type>exe",
                            ErrorDomain.TEST)

    @hookimpl
    def virtkit_domain_define_xml(self, xml: str, validate: bool) -> DomainRef:
        self._exe(xml)
        return super().virtkit_domain_define_xml(xml, validate)  # type: ignore[no-any-return]

    @hookimpl
    def virtkit_domain_create_xml(self, xml: str, paused: bool, validate: bool) -> DomainRef:
        self._exe(xml)
        return super().virtkit_domain_create_xml(  # type: ignore[no-any-return]
            xml, paused, validate)


class NoMigration(TestDriver):
    """Implements no migration hook at all."""

    virtkit_migrate_begin = None  # type: ignore[assignment]
    virtkit_migrate_prepare = None  # type: ignore[assignment]
    virtkit_migrate_perform = None  # type: ignore[assignment]
    virtkit_migrate_finish = None  # type: ignore[assignment]
    virtkit_migrate_confirm = None  # type: ignore[assignment]


class IgnoresPoolAutostart(TestDriver):
    """Says yes to a pool's autostart and forgets it."""

    @hookimpl
    def virtkit_pool_set_autostart(self, pool: PoolRef, autostart: bool) -> bool:
        return True


class IgnoresAbort(TestDriver):
    """Says a job was aborted and lets it run to the end."""

    @hookimpl
    def virtkit_domain_abort_job(self, dom: DomainRef) -> bool:
        with self._node.lock:
            if self._node.find(dom).job is None:
                raise VirtError(ErrorCode.OPERATION_INVALID, "no job is active",
                                ErrorDomain.TEST)
        return True


class Recorded(TestDriver):
    """A sound driver that declares it was tested against a recorded backend."""

    capabilities: ClassVar[dict[str, Any]] = {**TestDriver.capabilities, "backend": "recorded"}


DRIVERS = {cls.__name__: cls for cls in (
    WrongSuspendState, MissingDestroyEvent, WrongResumeError, AcceptsTraversal, NoSuspend,
    RefusesDeclaredSuspend, OmitsTransient, LeaksSecrets, ExceedsMaximum, DropsDevices, ExeOnly,
    NoMigration, IgnoresPoolAutostart, IgnoresAbort, Recorded)}
