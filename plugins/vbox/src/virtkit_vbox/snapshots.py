"""Snapshots: VirtualBox's snapshot tree (``snapshot take/restore/delete/list``), with the
libvirt state each was taken in kept in the driver's record (VirtualBox records only whether a
snapshot holds a saved state)."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef, SnapshotRef, SnapshotSummary
from virtkit.sdk.states import DomainState, Op, transition
from virtkit.xml.parser import xml_error
from virtkit.xml.snapshot import DomainSnapshot
from virtkit_vbox import records
from virtkit_vbox.machinereadable import parse_machinereadable

if TYPE_CHECKING:
    from virtkit_vbox.driver import VBoxDriver

_NODE = re.compile(r"^SnapshotName((?:-\d+)*)$")


@attrs.frozen
class TreeNode:
    name: str
    uuid: str
    parent: str | None
    description: str
    children: int


def snapshot_tree(text: str) -> tuple[list[TreeNode], str | None]:
    """``snapshot VM list --machinereadable`` (or showvminfo's snapshot lines): the snapshots in
    tree order and the current snapshot's name. Keys: ``SnapshotName``, ``SnapshotName-1``,
    ``SnapshotName-1-2``... (each ``-N`` one level down)."""
    info = parse_machinereadable(text)
    nodes: dict[str, tuple[str, str, str]] = {}
    for key, value in info.items():
        m = _NODE.match(key)
        if m is not None:
            suffix = m.group(1)
            nodes[suffix] = (value, info.get(f"SnapshotUUID{suffix}", ""),
                             info.get(f"SnapshotDescription{suffix}", ""))
    out: list[TreeNode] = []
    for suffix, (name, uuid, desc) in nodes.items():
        parent_suffix = suffix.rsplit("-", 1)[0] if suffix else None
        parent = nodes[parent_suffix][0] if parent_suffix is not None and \
            parent_suffix in nodes else None
        kids = sum(1 for s in nodes if s != suffix and s.rsplit("-", 1)[0] == suffix
                   and s.startswith(suffix))
        out.append(TreeNode(name, uuid.lower(), parent, desc, kids))
    return out, info.get("CurrentSnapshotName")


def no_snapshot(name: str) -> VirtError:
    return VirtError(ErrorCode.NO_DOMAIN_SNAPSHOT,
                     f"Domain snapshot not found: no domain snapshot with matching name "
                     f"'{name}'", ErrorDomain.VBOX)


class SnapshotMixin:
    def _tree(self: VBoxDriver, uuid: str) -> tuple[list[TreeNode], str | None]:
        text = self._vbm.run("snapshot", uuid, "list", "--machinereadable")
        if "=" not in text:  # "This machine does not have any snapshots"
            return [], None
        return snapshot_tree(text)

    def _ordered(self: VBoxDriver, rec: records.MachineRecord, nodes: list[TreeNode]
                 ) -> list[TreeNode]:
        def when(n: TreeNode) -> tuple[float, str]:
            meta = rec.snapshots.get(n.name, {})
            return (float(meta.get("creation_time", 0)), n.name)

        return sorted(nodes, key=when)

    @hookimpl
    def virtkit_snapshot_create_xml(self: VBoxDriver, dom: DomainRef, xml: str,
                                    redefine: bool) -> str:
        snap = DomainSnapshot.from_xml(xml)
        if redefine:
            raise VirtError(ErrorCode.ARGUMENT_UNSUPPORTED,
                            "VirtualBox cannot take snapshot metadata without the snapshot "
                            "(redefine)", ErrorDomain.VBOX)
        with self._locked():
            rec, info = self._find(dom)
            name = snap.name or str(int(time.time()))
            nodes, _ = self._tree(rec.uuid)
            if any(n.name == name for n in nodes):
                raise VirtError(ErrorCode.OPERATION_INVALID,
                                f"domain '{rec.name}' already has a snapshot named '{name}'",
                                ErrorDomain.VBOX)
            if info.get("VMState") == "saved":
                raise VirtError(ErrorCode.OPERATION_UNSUPPORTED,
                                f"domain '{rec.name}' has a managed save image; VirtualBox "
                                f"snapshots of saved machines are not supported here",
                                ErrorDomain.VBOX)
            state = {DomainState.RUNNING: "running", DomainState.PAUSED: "paused"}.get(
                DomainState(rec.state), "shutoff")
            domain_xml = self.virtkit_domain_get_xml(dom, False, False)  # no secrets
            args = ["snapshot", rec.uuid, "take", name]
            if snap.description:
                args += ["--description", snap.description]
            self._vbm.run(*args)
            rec = records.load(self._store, rec.uuid) or rec
            rec.snapshots[name] = {"state": state, "creation_time": time.time(),
                                   "description": snap.description or "", "xml": domain_xml}
            records.save(self._store, rec)
            return name

    @hookimpl
    def virtkit_snapshot_list(self: VBoxDriver, dom: DomainRef) -> list[SnapshotSummary]:
        with self._locked():
            rec, _ = self._find(dom)
            nodes, current = self._tree(rec.uuid)
            ref = self._ref(rec)
            out = []
            for n in self._ordered(rec, nodes):
                meta: dict[str, Any] = rec.snapshots.get(n.name, {})
                out.append(SnapshotSummary(SnapshotRef(ref, n.name), n.parent,
                                           meta.get("state", "shutoff"),
                                           int(meta.get("creation_time", 0)),
                                           n.name == current, n.children))
            return out

    @hookimpl
    def virtkit_snapshot_get_xml(self: VBoxDriver, dom: DomainRef, name: str) -> str:
        with self._locked():
            rec, _ = self._find(dom)
            nodes, current = self._tree(rec.uuid)
            node = next((n for n in nodes if n.name == name), None)
            if node is None:
                raise no_snapshot(name)
            meta = rec.snapshots.get(name, {})
            parts = [f"<name>{_esc(name)}</name>"]
            if node.description:
                parts.append(f"<description>{_esc(node.description)}</description>")
            parts.append(f"<state>{meta.get('state', 'shutoff')}</state>")
            if node.parent is not None:
                parts.append(f"<parent><name>{_esc(node.parent)}</name></parent>")
            parts.append(f"<creationTime>{int(meta.get('creation_time', 0))}</creationTime>")
            parts.append(f"<active>{1 if name == current else 0}</active>")
            if meta.get("xml"):
                parts.append(str(meta["xml"]))
            return "<domainsnapshot>" + "".join(parts) + "</domainsnapshot>"

    @hookimpl
    def virtkit_snapshot_current(self: VBoxDriver, dom: DomainRef) -> str:
        with self._locked():
            rec, _ = self._find(dom)
            _, current = self._tree(rec.uuid)
            if current is None:
                raise VirtError(ErrorCode.NO_DOMAIN_SNAPSHOT,
                                f"the domain '{rec.name}' does not have a current snapshot",
                                ErrorDomain.VBOX)
            return current

    @hookimpl
    def virtkit_snapshot_revert(self: VBoxDriver, dom: DomainRef, name: str, running: bool,
                                paused: bool) -> bool:
        with self._locked():
            rec, info = self._find(dom)
            nodes, _ = self._tree(rec.uuid)
            if not any(n.name == name for n in nodes):
                raise no_snapshot(name)
            want = rec.snapshots.get(name, {}).get("state", "shutoff")
            if running:
                want = "running"
            elif paused:
                want = "paused"
            op = {"running": Op.REVERT_RUNNING, "paused": Op.REVERT_PAUSED}.get(
                want, Op.REVERT_SHUTOFF)
            t = transition(op, rec.name, rec.status)
            vbm = self._vbm
            vstate = info.get("VMState")
            if vstate in ("running", "paused", "gurumeditation"):
                vbm.run("controlvm", rec.uuid, "poweroff")
            vbm.run("snapshot", rec.uuid, "restore", name)
            after = parse_machinereadable(vbm.run("showvminfo", rec.uuid, "--machinereadable"))
            if want in ("running", "paused"):
                vbm.run("startvm", rec.uuid, "--type", "headless")
                now = parse_machinereadable(
                    vbm.run("showvminfo", rec.uuid, "--machinereadable")).get("VMState")
                if want == "paused" and now == "running":
                    vbm.run("controlvm", rec.uuid, "pause")
                elif want == "running" and now == "paused":
                    vbm.run("controlvm", rec.uuid, "resume")
            elif after.get("VMState") == "saved":
                vbm.run("discardstate", rec.uuid)
            if t.status is None:
                raise xml_error("a transient domain cannot be reverted to a shut-off snapshot")
            rec = records.load(self._store, rec.uuid) or rec
            self._apply(rec, t)
            return True

    @hookimpl
    def virtkit_snapshot_delete(self: VBoxDriver, dom: DomainRef, name: str, children: bool,
                                children_only: bool, metadata_only: bool) -> bool:
        if metadata_only:
            raise VirtError(ErrorCode.ARGUMENT_UNSUPPORTED,
                            "VirtualBox keeps snapshot metadata with the snapshot: deleting "
                            "metadata only is not supported", ErrorDomain.VBOX)
        with self._locked():
            rec, _ = self._find(dom)
            nodes, _ = self._tree(rec.uuid)
            if not any(n.name == name for n in nodes):
                raise no_snapshot(name)
            doomed: list[str] = []
            if children or children_only:
                def below(parent: str) -> None:
                    for n in nodes:
                        if n.parent == parent:
                            below(n.name)
                            doomed.append(n.name)
                below(name)
            if not children_only:
                doomed.append(name)
            for victim in doomed:  # leaves first: VirtualBox merges one level at a time
                self._vbm.run("snapshot", rec.uuid, "delete", victim)
                rec.snapshots.pop(victim, None)
            records.save(self._store, rec)
            return True


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
