"""Snapshots of ``xenapi://`` domains: XenAPI's VM snapshots as libvirt's domain snapshots.

A snapshot of a running or paused domain is ``VM.checkpoint`` (disks and memory: the
snapshot's state is ``running`` or ``paused``), of a stopped one ``VM.snapshot`` (disks only,
``shutoff``). Reverting is ``VM.revert`` (the VM is then Halted, or Suspended for a checkpoint),
followed by ``VM.resume``/``VM.start`` (paused or not) or ``VM.hard_shutdown`` to reach the
snapshot's state (or the one ``running``/``paused`` ask for), reason FROM_SNAPSHOT. Deleting is
``VM.destroy`` of the snapshot and ``VDI.destroy`` of the disk snapshots it held.

The tree (each snapshot's parent, the domain's current snapshot) is kept by virtkit in the
snapshots' and the VM's ``other_config`` (``virtkit_parent``, ``virtkit_current_snapshot``),
falling back to XenAPI's own ``parent`` field for snapshots made elsewhere, so deleting a
snapshot re-parents its children whatever the server does with ``parent``.
"""

from __future__ import annotations

import calendar
import time
from typing import Any
from xml.sax.saxutils import escape

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef, SnapshotRef, SnapshotSummary
from virtkit.sdk.states import Op, transition

PARENT_KEY = "virtkit_parent"
CURRENT_KEY = "virtkit_current_snapshot"
STATE_KEY = "virtkit_snapshot_state"
_NULL = "OpaqueRef:NULL"


def no_snapshot(name: str) -> VirtError:
    return VirtError(ErrorCode.NO_DOMAIN_SNAPSHOT,
                     f"Domain snapshot not found: no domain snapshot with matching name '{name}'",
                     ErrorDomain.DOMAIN_SNAPSHOT)


@attrs.define
class Snap:
    ref: str
    rec: dict[str, Any]
    parent: str | None = None  # parent's name

    @property
    def name(self) -> str:
        return str(self.rec["name_label"])

    @property
    def state(self) -> str:
        oc = self.rec.get("other_config", {})
        if oc.get(STATE_KEY):
            return str(oc[STATE_KEY])
        at = self.rec.get("snapshot_info", {}).get("power-state-at-snapshot", "Halted")
        return {"Running": "running", "Paused": "paused"}.get(at, "shutoff")

    @property
    def created(self) -> int:
        t = self.rec.get("snapshot_time")
        text = str(getattr(t, "value", t) or "")
        try:
            return calendar.timegm(time.strptime(text.rstrip("Z"), "%Y%m%dT%H:%M:%S"))
        except ValueError:
            return 0


class SnapshotHooks:
    """Mixed into the XenAPI driver."""

    def _tree(self: Any, vm: Any) -> tuple[list[Snap], Snap | None]:
        """The VM's snapshots, oldest first, with their parents; and the current one."""
        snaps = []
        for ref in vm.rec.get("snapshots", []):
            rec = self.session.call("VM.get_record", ref, what=f"reading the snapshots of "
                                    f"'{vm.name}'")
            snaps.append(Snap(ref, rec))
        by_uuid = {s.rec["uuid"]: s for s in snaps}
        by_ref = {s.ref: s for s in snaps}
        for s in snaps:
            p = s.rec.get("other_config", {}).get(PARENT_KEY)
            if p is not None:
                s.parent = by_uuid[p].name if p in by_uuid else None
            elif s.rec.get("parent") in by_ref:
                s.parent = by_ref[s.rec["parent"]].name
        snaps.sort(key=lambda s: s.created)  # stable: equal times keep XenAPI's order
        cur = vm.rec.get("other_config", {}).get(CURRENT_KEY)
        current = by_uuid.get(cur) if cur is not None else by_ref.get(vm.rec.get("parent", ""))
        return _ordered(snaps), current

    def _snap(self: Any, dom: DomainRef, name: str) -> tuple[Any, list[Snap], Snap | None, Snap]:
        vm = self._find(dom)
        snaps, current = self._tree(vm)
        for s in snaps:
            if s.name == name:
                return vm, snaps, current, s
        raise no_snapshot(name)

    def _set_snap_other(self: Any, ref: str, key: str, value: str | None) -> None:
        what = "updating a snapshot"
        self.session.call("VM.remove_from_other_config", ref, key, what=what)
        if value is not None:
            self.session.call("VM.add_to_other_config", ref, key, value, what=what)

    def _destroy_snapshot(self: Any, ref: str, vm_name: str) -> None:
        what = f"deleting a snapshot of '{vm_name}'"
        rec = self.session.call("VM.get_record", ref, what=what)
        vdis = []
        for vbd in rec.get("VBDs", []):
            vdi = self.session.call("VBD.get_VDI", vbd, what=what)
            if vdi != _NULL:
                vdis.append(vdi)
        self.session.call("VM.destroy", ref, what=what)
        for vdi in vdis:
            self.session.call("VDI.destroy", vdi, what=what)

    @hookimpl
    def virtkit_snapshot_create_xml(self: Any, dom: DomainRef, xml: str, redefine: bool) -> str:
        from virtkit.xml.snapshot import DomainSnapshot

        if redefine:
            raise VirtError(ErrorCode.ARGUMENT_UNSUPPORTED, "argument unsupported: XenAPI "
                            "cannot redefine snapshot metadata", ErrorDomain.XENAPI)
        spec = DomainSnapshot.from_xml(xml)
        with self.lock:
            vm = self._find(dom)
            snaps, current = self._tree(vm)
            name = spec.name or str(int(time.time()))
            if any(s.name == name for s in snaps):
                raise VirtError(ErrorCode.OPERATION_INVALID, f"domain snapshot '{name}' "
                                "already exists", ErrorDomain.DOMAIN_SNAPSHOT)
            power = vm.rec["power_state"]
            state = {"Running": "running", "Paused": "paused"}.get(power, "shutoff")
            what = f"snapshot '{name}' of domain '{vm.name}'"
            if power in ("Running", "Paused"):
                ref = self.session.run("VM.checkpoint", vm.ref, name, what=what)
            else:
                ref = self.session.run("VM.snapshot", vm.ref, name, what=what)
            ref = str(ref)
            srec = self.session.call("VM.get_record", ref, what=what)
            self._set_snap_other(ref, PARENT_KEY, current.rec["uuid"] if current else None)
            self._set_snap_other(ref, STATE_KEY, state)
            self._set_snap_other(ref, CURRENT_KEY, None)
            if spec.description:
                self.session.call("VM.set_name_description", ref, spec.description, what=what)
            self._set_other(self._reload(vm), CURRENT_KEY, str(srec["uuid"]))
            return name

    @hookimpl
    def virtkit_snapshot_list(self: Any, dom: DomainRef) -> list[SnapshotSummary]:
        vm = self._find(dom)
        snaps, current = self._tree(vm)
        ref = vm.domref
        return [SnapshotSummary(SnapshotRef(ref, s.name), s.parent, s.state, s.created,
                                current is not None and s.ref == current.ref,
                                sum(1 for c in snaps if c.parent == s.name)) for s in snaps]

    @hookimpl
    def virtkit_snapshot_get_xml(self: Any, dom: DomainRef, name: str,
                                 security_info: bool) -> str:
        vm, _snaps, _cur, s = self._snap(dom, name)
        parts = [f"<domainsnapshot>\n  <name>{escape(s.name)}</name>\n"]
        if s.rec.get("name_description"):
            parts.append(f"  <description>{escape(s.rec['name_description'])}</description>\n")
        parts.append(f"  <state>{s.state}</state>\n")
        if s.parent:
            parts.append(f"  <parent>\n    <name>{escape(s.parent)}</name>\n  </parent>\n")
        parts.append(f"  <creationTime>{s.created}</creationTime>\n")
        parts.append(f"  <memory snapshot='{'internal' if s.state != 'shutoff' else 'no'}'/>\n")
        parts.append(f"  <domain>\n    <name>{escape(vm.name)}</name>\n"
                     f"    <uuid>{vm.uuid}</uuid>\n  </domain>\n</domainsnapshot>\n")
        return "".join(parts)

    @hookimpl
    def virtkit_snapshot_current(self: Any, dom: DomainRef) -> str:
        _snaps, current = self._tree(self._find(dom))
        if current is None:
            raise VirtError(ErrorCode.NO_DOMAIN_SNAPSHOT, "the domain does not have a current "
                            "snapshot", ErrorDomain.DOMAIN_SNAPSHOT)
        return str(current.name)

    @hookimpl
    def virtkit_snapshot_revert(self: Any, dom: DomainRef, name: str, running: bool,
                                paused: bool) -> bool:
        with self.lock:
            vm, _snaps, _cur, s = self._snap(dom, name)
            before = vm.status
            target = "running" if running else "paused" if paused else s.state
            op = {"running": Op.REVERT_RUNNING, "paused": Op.REVERT_PAUSED}.get(
                target, Op.REVERT_SHUTOFF)
            transition(op, vm.name, vm.status)
            what = f"reverting domain '{vm.name}' to snapshot '{name}'"
            if vm.rec["power_state"] != "Halted":
                self.session.run("VM.hard_shutdown", vm.ref, what=what)
            self.session.run("VM.revert", s.ref, what=what)
            vm = self._reload(vm)
            power = vm.rec["power_state"]
            if target in ("running", "paused"):
                pause = target == "paused"
                if power == "Suspended":
                    self.session.run("VM.resume", vm.ref, pause, False, what=what)
                else:
                    self.session.run("VM.start", vm.ref, pause, False, what=what)
            elif power == "Suspended":
                self.session.run("VM.hard_shutdown", vm.ref, what=what)
            vm = self._reload(vm)
            # the VM's other_config is the snapshot's now: this snapshot is current
            self._set_other(vm, CURRENT_KEY, str(s.rec["uuid"]))
            for key in (PARENT_KEY, STATE_KEY):
                self._set_other(vm, key, None)
            self._apply(vm, op, before=before)
            return True

    @hookimpl
    def virtkit_snapshot_delete(self: Any, dom: DomainRef, name: str, children: bool,
                                children_only: bool, metadata_only: bool) -> bool:
        if metadata_only:
            raise VirtError(ErrorCode.ARGUMENT_UNSUPPORTED, "argument unsupported: XenAPI "
                            "keeps no snapshot metadata apart from the snapshot",
                            ErrorDomain.XENAPI)
        with self.lock:
            vm, snaps, current, s = self._snap(dom, name)
            desc = _descendants(snaps, s.name)
            if children_only:
                gone = desc
            elif children:
                gone = [s, *desc]
            else:
                gone = [s]
                parent = next((p for p in snaps if p.name == s.parent), None)
                for child in snaps:
                    if child.parent == s.name:
                        self._set_snap_other(child.ref, PARENT_KEY,
                                             parent.rec["uuid"] if parent else None)
            if current is not None and any(g.ref == current.ref for g in gone):
                keep = s if children_only else next(
                    (p for p in snaps if p.name == s.parent), None)
                self._set_other(vm, CURRENT_KEY, keep.rec["uuid"] if keep else None)
            for g in gone:
                self._destroy_snapshot(g.ref, vm.name)
            return True


def _descendants(snaps: list[Snap], name: str) -> list[Snap]:
    out: list[Snap] = []
    todo = [name]
    while todo:
        n = todo.pop()
        for s in snaps:
            if s.parent == n:
                out.append(s)
                todo.append(s.name)
    return out


def _ordered(snaps: list[Snap]) -> list[Snap]:
    return snaps
