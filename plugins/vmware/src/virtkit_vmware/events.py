"""vSphere's property collector turned into domain lifecycle events.

A thread of its own waits in ``WaitForUpdatesEx`` (on a property collector of its own, so that it
never disturbs the connection's calls) on every VM's name, uuid, power state and transient mark.
Each change goes through the driver's one observation step (the same one a lookup uses), which
emits the lifecycle events the state machine gives for it; changes the driver is making itself
are already known and emit nothing twice. A VM that appears is DEFINED/ADDED; one that goes
away is UNDEFINED/REMOVED.
"""

from __future__ import annotations

import logging
import threading
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import attrs

from virtkit.sdk.records import DomainRef, Event
from virtkit.sdk.states import DefinedDetail, EventType, UndefinedDetail
from virtkit_vmware.inventory import VM_PROPS, VmRow, _row, vm_props

if TYPE_CHECKING:
    from virtkit_vmware.driver import VSphereDriver

log = logging.getLogger("virtkit_vmware.events")
WAIT_SECONDS = 1


class Watcher:
    def __init__(self, driver: VSphereDriver) -> None:
        self.driver = driver
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="virtkit-esx-events",
                                        daemon=True)
        self._collector: Any = None
        self._props: dict[str, dict[str, Any]] = {}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        collector = self._collector
        if collector is not None:
            try:
                collector.CancelWaitForUpdates()
            except Exception:  # the connection may be gone; the thread ends on its own
                pass
        self._thread.join(timeout=WAIT_SECONDS + 5)

    def _run(self) -> None:
        from pyVmomi import vim

        while not self._stop.is_set():
            try:
                self._watch()
            except vim.fault.NotAuthenticated:
                # the session expired: log in again (views and collectors are remade) and go on
                try:
                    self.driver.session.relogin()
                except Exception as exc:
                    log.warning("event watcher for %s stopped: %s",
                                self.driver.endpoint.where, exc)
                    return
            except Exception as exc:  # a lost connection ends event delivery, loudly
                if not self._stop.is_set():
                    log.warning("event watcher for %s stopped: %s",
                                self.driver.endpoint.where, exc)
                return

    def _watch(self) -> None:
        from pyVmomi import vim, vmodl

        driver = self.driver
        content = driver.session.content
        assert driver.inventory is not None
        self._collector = collector = content.propertyCollector.CreatePropertyCollector()
        PF = vmodl.query.PropertyCollector
        traversal = PF.TraversalSpec(name="view", path="view", skip=False,
                                     type=vim.view.ContainerView)
        spec = PF.FilterSpec(
            objectSet=[PF.ObjectSpec(obj=driver.inventory.vm_view, skip=True,
                                     selectSet=[traversal])],
            propSet=[PF.PropertySpec(type=vim.VirtualMachine, pathSet=VM_PROPS)],
        )
        collector.CreateFilter(spec, partialUpdates=True)
        options = PF.WaitOptions(maxWaitSeconds=WAIT_SECONDS)
        version = ""
        first = True
        while not self._stop.is_set():
            update = collector.WaitForUpdatesEx(version, options)
            if update is None:
                continue
            version = update.version
            for fs in update.filterSet or ():
                for change in fs.objectSet or ():
                    self._handle(change, announce=not first)
            first = False
        try:
            collector.DestroyPropertyCollector()
        except Exception:
            pass

    def _handle(self, change: Any, announce: bool) -> None:
        from virtkit_vmware.driver import _agrees

        driver = self.driver
        moid = change.obj._moId
        kind = str(change.kind)
        with driver._lock:
            if moid in driver._gone:
                self._props.pop(moid, None)
                return
        if kind == "leave":
            self._props.pop(moid, None)
            with driver._lock:
                known = driver._known.get(moid)
                if known is None or moid in driver._busy:
                    return
                ref = DomainRef(known.name, known.uuid, -1)
                driver._forget(moid)
            driver.emit(Event("domain-lifecycle", ref, int(EventType.UNDEFINED),
                              int(UndefinedDetail.REMOVED)))
            return
        props = self._props.setdefault(moid, {})
        for c in change.changeSet or ():
            if str(c.op) in ("remove", "indirectRemove"):
                props.pop(c.name, None)
            else:
                props[c.name] = c.val

        row: VmRow | None = _row(SimpleNamespace(
            obj=change.obj,
            propSet=[SimpleNamespace(name=k, val=v) for k, v in props.items()]))
        if row is None:
            return
        with driver._lock:
            new = moid not in driver._known
            if moid in driver._busy or (new and row.name in driver._creating):
                return
            known = driver._known.get(moid)
            stale = known is not None and (not _agrees(known.status, row.power)
                                           or known.transient != row.transient)
        if stale:
            # updates lag behind: one that disagrees is checked against vSphere now, so a
            # change this connection already made (and announced) is not announced again
            try:
                fresh = vm_props(driver.session, change.obj,
                                 ["runtime.powerState", "config.managedBy"], row.name)
            except Exception:
                return
            from virtkit_vmware.driver import _transient

            row = attrs.evolve(row, power=str(fresh.get("runtime.powerState", row.power)),
                               transient=_transient(fresh))
        with driver._lock:
            if moid in driver._busy:
                return
            known = driver._observe_row(row)
            ref = driver._ref(moid, known)
        if new and announce:
            driver.emit(Event("domain-lifecycle", ref, int(EventType.DEFINED),
                              int(DefinedDetail.ADDED)))
