"""Snapshots: vSphere's VM snapshot tree as libvirt's domain snapshots.

A snapshot of a running VM includes its memory (state ``running``); of a stopped one, disks only
(``shutoff``). Reverting returns to the snapshot's power state with reason FROM_SNAPSHOT.
vSphere keeps no snapshot metadata apart from the snapshot itself: ``redefine`` and
``metadata_only`` are refused with ARGUMENT_UNSUPPORTED.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef, SnapshotRef, SnapshotSummary
from virtkit.sdk.states import Op, transition


def no_snapshot(name: str) -> VirtError:
    return VirtError(ErrorCode.NO_DOMAIN_SNAPSHOT,
                     f"Domain snapshot not found: no domain snapshot with matching name '{name}'",
                     ErrorDomain.DOMAIN_SNAPSHOT)


def _walk(tree: Any, parent: str | None = None) -> list[tuple[Any, str | None]]:
    out: list[tuple[Any, str | None]] = []
    for node in tree or ():
        out.append((node, parent))
        out.extend(_walk(node.childSnapshotList, node.name))
    return out


class SnapshotHooks:
    """Mixed into the driver: snapshot hooks over ``vm.snapshot``."""

    def _snapshots(self: Any, dom: DomainRef) -> tuple[str, Any, list[tuple[Any, str | None]],
                                                       Any]:
        moid, known = self._current(dom)
        snap = self._vm_props(known, ["snapshot"]).get("snapshot")
        if snap is None:
            return moid, known, [], None
        return moid, known, sorted(_walk(snap.rootSnapshotList),
                                   key=lambda p: p[0].createTime), snap.currentSnapshot

    def _snapshot(self: Any, dom: DomainRef, name: str) -> tuple[str, Any, Any, Any]:
        moid, known, nodes, _ = self._snapshots(dom)
        for node, _parent in nodes:
            if node.name == name:
                return moid, known, node, nodes
        raise no_snapshot(name)

    @hookimpl
    def virtkit_snapshot_create_xml(self: Any, dom: DomainRef, xml: str, redefine: bool) -> str:
        from virtkit.xml.snapshot import DomainSnapshot

        if redefine:
            raise VirtError(ErrorCode.ARGUMENT_UNSUPPORTED,
                            "argument unsupported: vSphere cannot redefine snapshot metadata",
                            ErrorDomain.ESX)
        snap = DomainSnapshot.from_xml(xml)
        _moid, known, nodes, _ = self._snapshots(dom)
        import time as _time

        name = snap.name or str(int(_time.time()))
        if any(n.name == name for n, _ in nodes):
            raise VirtError(ErrorCode.OPERATION_INVALID,
                            f"domain snapshot '{name}' already exists", ErrorDomain.DOMAIN_SNAPSHOT)
        memory = bool(known.status.active)
        self._task(known, f"snapshot '{name}' of '{known.name}'",
                   lambda: known.vm.CreateSnapshot_Task(name=name,
                                                        description=snap.description or "",
                                                        memory=memory, quiesce=False))
        with self._lock:
            known.snapshots = len(nodes) + 1
        return name

    @hookimpl
    def virtkit_snapshot_list(self: Any, dom: DomainRef) -> list[SnapshotSummary]:
        moid, known, nodes, current = self._snapshots(dom)
        ref = self._ref(moid, known)
        out = []
        for node, parent in nodes:
            out.append(SnapshotSummary(
                SnapshotRef(ref, node.name), parent, _state(node),
                int(node.createTime.timestamp()),
                current is not None and node.snapshot._moId == current._moId,
                len(node.childSnapshotList or ()),
            ))
        return out

    @hookimpl
    def virtkit_snapshot_get_xml(self: Any, dom: DomainRef, name: str,
                                 security_info: bool) -> str:
        _moid, known, node, nodes = self._snapshot(dom, name)
        parent = next((p for n, p in nodes if n is node), None)
        parts = [f"<domainsnapshot>\n  <name>{escape(node.name)}</name>\n"]
        if node.description:
            parts.append(f"  <description>{escape(node.description)}</description>\n")
        parts.append(f"  <state>{_state(node)}</state>\n")
        if parent:
            parts.append(f"  <parent>\n    <name>{escape(parent)}</name>\n  </parent>\n")
        parts.append(f"  <creationTime>{int(node.createTime.timestamp())}</creationTime>\n")
        parts.append(f"  <domain>\n    <name>{escape(known.name)}</name>\n"
                     f"    <uuid>{known.uuid}</uuid>\n  </domain>\n</domainsnapshot>\n")
        return "".join(parts)

    @hookimpl
    def virtkit_snapshot_current(self: Any, dom: DomainRef) -> str:
        _, _, nodes, current = self._snapshots(dom)
        for node, _ in nodes:
            if current is not None and node.snapshot._moId == current._moId:
                return str(node.name)
        raise VirtError(ErrorCode.NO_DOMAIN_SNAPSHOT,
                        "the domain does not have a current snapshot",
                        ErrorDomain.DOMAIN_SNAPSHOT)

    @hookimpl
    def virtkit_snapshot_revert(self: Any, dom: DomainRef, name: str, running: bool,
                                paused: bool) -> bool:
        if paused:
            raise VirtError(ErrorCode.ARGUMENT_UNSUPPORTED,
                            "argument unsupported: vSphere has no paused state to revert to",
                            ErrorDomain.ESX)
        moid, known, node, _ = self._snapshot(dom, name)
        target = _state(node)
        op = Op.REVERT_RUNNING if target == "running" or running else Op.REVERT_SHUTOFF
        transition(op, known.name, known.status)
        with self._lock:
            self._busy.add(moid)
        try:
            self._task(known, f"revert '{known.name}' to snapshot '{name}'",
                       lambda: node.snapshot.RevertToSnapshot_Task())
            # vSphere returns to the snapshot's power state; make sure of it (and honour
            # ``running`` for a snapshot of a stopped guest)
            power = str(self._vm_props(known, ["runtime.powerState"])["runtime.powerState"])
            if op is Op.REVERT_RUNNING and power != "poweredOn":
                self._task(known, f"start '{known.name}'", known.vm.PowerOnVM_Task)
            elif op is Op.REVERT_SHUTOFF and power != "poweredOff":
                self._task(known, f"stop '{known.name}'", known.vm.PowerOffVM_Task)
        finally:
            with self._lock:
                self._busy.discard(moid)
        with self._lock:
            self._apply(moid, known, op)
        return True

    @hookimpl
    def virtkit_snapshot_delete(self: Any, dom: DomainRef, name: str, children: bool,
                                children_only: bool, metadata_only: bool) -> bool:
        if metadata_only:
            raise VirtError(ErrorCode.ARGUMENT_UNSUPPORTED,
                            "argument unsupported: vSphere keeps no snapshot metadata apart "
                            "from the snapshot", ErrorDomain.ESX)
        _, known, node, _ = self._snapshot(dom, name)
        if children_only:
            for child in node.childSnapshotList or ():
                self._task(known, f"delete snapshot '{child.name}'",
                           lambda c=child: c.snapshot.RemoveSnapshot_Task(removeChildren=True))
        else:
            self._task(known, f"delete snapshot '{name}'",
                       lambda: node.snapshot.RemoveSnapshot_Task(removeChildren=children))
        _, known, nodes, _ = self._snapshots(dom)
        with self._lock:
            known.snapshots = len(nodes)
        return True


def _state(node: Any) -> str:
    state = str(node.state)
    return {"poweredOn": "running", "suspended": "shutoff"}.get(state, "shutoff")
