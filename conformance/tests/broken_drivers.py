"""Deliberately broken drivers: the test driver with one defect each, for the self-tests."""

from __future__ import annotations

from typing import Any

from virtkit.drivers.test import TestDriver
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef, Event, VolumeRef
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


DRIVERS = {cls.__name__: cls for cls in (WrongSuspendState, MissingDestroyEvent,
                                         WrongResumeError, AcceptsTraversal, NoSuspend,
                                         RefusesDeclaredSuspend)}
