"""Snapshots for ``xen:///system`` (libvirt's libxl driver has none): internal snapshots of the
guest's qcow2 disks (``qemu-img snapshot``) plus, for an active guest, its memory (``xl save``).

Creating a snapshot of an active guest saves it (``xl save``: the guest stops and its disks
are closed, so ``qemu-img`` may change them), snapshots every writable disk
(``qemu-img snapshot -c NAME``), then restores the guest from the saved image (``xl restore``,
paused if it was paused; it gets a new domain id) and keeps that image as the snapshot's memory
under ``/var/lib/xen/virtkit/snapshots/DOMAIN/``. Of an inactive guest, only the disks. Every
writable disk must be a qcow2 file: any other is refused (CONFIG_UNSUPPORTED naming it).
Reverting destroys an active guest, applies the disks' snapshots (``qemu-img snapshot -a``) and
restores the memory (``xl restore [-p]``) or starts the guest (``running`` with a disk-only
snapshot) or leaves it off. Deleting removes the disks' snapshots (``qemu-img snapshot -d``)
and the memory image. The metadata (name, description, state, parent, time, current) lives in
the state store beside the guest's record. Every command runs in dom0 through the runner.
"""

from __future__ import annotations

import json
import time
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


def qcow2_disks(dom: Any) -> list[str]:
    """The files of the writable disks; CONFIG_UNSUPPORTED for one that is not a qcow2 file."""
    out = []
    for disk in (dom.devices.disks if dom.devices else ()):
        if disk.readonly or disk.device in ("cdrom", "floppy"):
            continue
        fmt = disk.driver.type if disk.driver is not None else None
        path = disk.source.file if disk.source is not None else None
        if disk.type != "file" or fmt != "qcow2" or not path:
            raise VirtError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: disk "
                            f"'{disk.target.dev}' of domain '{dom.name}' is not a qcow2 file: "
                            "snapshots need qcow2 disks", ErrorDomain.LIBXL)
        out.append(path)
    return out


class XlSnapshotHooks:
    """Mixed into the xl driver."""

    SNAP_DIR = "/var/lib/xen/virtkit/snapshots"

    def _snaps(self: Any, name: str) -> dict[str, Any]:
        data = self.store.read("snapshots", name)
        return json.loads(data) if data else {"current": None, "list": []}

    def _write_snaps(self: Any, name: str, meta: dict[str, Any]) -> None:
        if meta["list"]:
            self.store.write("snapshots", name, json.dumps(meta).encode())
        else:
            self.store.delete("snapshots", name)

    def _qemu_img(self: Any, *args: str, what: str) -> None:
        r = self.xl.sh(["qemu-img", "snapshot", *args])
        if r.rc != 0:
            raise VirtError(ErrorCode.OPERATION_FAILED, f"{what}: qemu-img snapshot "
                            f"{' '.join(args)}: {r.stderr.strip() or r.stdout.strip()}",
                            ErrorDomain.LIBXL)

    @hookimpl
    def virtkit_snapshot_create_xml(self: Any, dom: DomainRef, xml: str, redefine: bool) -> str:
        from virtkit.xml.snapshot import DomainSnapshot

        if redefine:
            raise VirtError(ErrorCode.ARGUMENT_UNSUPPORTED, "argument unsupported: redefining "
                            "snapshot metadata is not supported by xl", ErrorDomain.LIBXL)
        spec = DomainSnapshot.from_xml(xml)
        self._sync()
        with self.store.locked(), self.lock:
            g = self._find(dom)
            name = spec.name or str(int(time.time()))
            meta = self._snaps(g.dom.name)
            if any(s["name"] == name for s in meta["list"]):
                raise VirtError(ErrorCode.OPERATION_INVALID, f"domain snapshot '{name}' "
                                "already exists", ErrorDomain.DOMAIN_SNAPSHOT)
            disks = qcow2_disks(g.dom)
            what = f"snapshot '{name}' of domain '{g.dom.name}'"
            memory = None
            state = {1: "running", 3: "paused"}.get(int(g.status.state), "shutoff")
            if g.status.active:
                memory = f"{self.SNAP_DIR}/{g.dom.name}/{name}.save"
                self.xl.sh(["mkdir", "-p", f"{self.SNAP_DIR}/{g.dom.name}"])
                self.xl.wait_control(g.dom.name, "feature-suspend")
                self.xl.save(g.dom.name, memory)
            try:
                for path in disks:
                    self._qemu_img("-c", name, path, what=what)
            finally:
                if memory is not None:  # the guest goes on from where it was saved
                    self.xl.restore(memory, None, state == "paused")
                    g.id = self.xl.domid(g.dom.name)
                    self._save(g)
            meta["list"].append({"name": name, "description": spec.description, "state": state,
                                 "parent": meta["current"], "created": int(time.time()),
                                 "memory": memory, "disks": disks})
            meta["current"] = name
            self._write_snaps(g.dom.name, meta)
            return name

    def _snap_of(self: Any, dom: DomainRef, name: str) -> tuple[Any, dict[str, Any],
                                                                  dict[str, Any]]:
        g = self._find(dom)
        meta = self._snaps(g.dom.name)
        for s in meta["list"]:
            if s["name"] == name:
                return g, meta, s
        raise no_snapshot(name)

    @hookimpl
    def virtkit_snapshot_list(self: Any, dom: DomainRef) -> list[SnapshotSummary]:
        with self.lock:
            g = self._find(dom)
            meta = self._snaps(g.dom.name)
            ref = g.ref
            return [SnapshotSummary(SnapshotRef(ref, s["name"]), s["parent"], s["state"],
                                    s["created"], s["name"] == meta["current"],
                                    sum(1 for c in meta["list"] if c["parent"] == s["name"]))
                    for s in meta["list"]]

    @hookimpl
    def virtkit_snapshot_get_xml(self: Any, dom: DomainRef, name: str,
                                 security_info: bool) -> str:
        with self.lock:
            g, _, s = self._snap_of(dom, name)
            parts = [f"<domainsnapshot>\n  <name>{escape(s['name'])}</name>\n"]
            if s["description"]:
                parts.append(f"  <description>{escape(s['description'])}</description>\n")
            parts.append(f"  <state>{s['state']}</state>\n")
            if s["parent"]:
                parts.append(f"  <parent>\n    <name>{escape(s['parent'])}</name>\n"
                             "  </parent>\n")
            parts.append(f"  <creationTime>{s['created']}</creationTime>\n")
            if s["memory"]:
                parts.append(f"  <memory snapshot='external' file='{escape(s['memory'])}'/>\n")
            else:
                parts.append("  <memory snapshot='no'/>\n")
            parts.append("  <disks>\n")
            for path in s["disks"]:
                parts.append(f"    <disk name='{escape(path)}' snapshot='internal'/>\n")
            parts.append(f"  </disks>\n  <domain>\n    <name>{escape(g.dom.name)}</name>\n"
                         f"    <uuid>{g.dom.uuid}</uuid>\n  </domain>\n</domainsnapshot>\n")
            return "".join(parts)

    @hookimpl
    def virtkit_snapshot_current(self: Any, dom: DomainRef) -> str:
        with self.lock:
            g = self._find(dom)
            cur = self._snaps(g.dom.name)["current"]
            if cur is None:
                raise VirtError(ErrorCode.NO_DOMAIN_SNAPSHOT, "the domain does not have a "
                                "current snapshot", ErrorDomain.DOMAIN_SNAPSHOT)
            return str(cur)

    @hookimpl
    def virtkit_snapshot_revert(self: Any, dom: DomainRef, name: str, running: bool,
                                paused: bool) -> bool:
        self._sync()
        with self.store.locked(), self.lock:
            g, meta, s = self._snap_of(dom, name)
            target = "running" if running else "paused" if paused else s["state"]
            op = {"running": Op.REVERT_RUNNING, "paused": Op.REVERT_PAUSED}.get(
                target, Op.REVERT_SHUTOFF)
            transition(op, g.dom.name, g.status)
            what = f"reverting domain '{g.dom.name}' to snapshot '{name}'"
            if g.status.active:
                self.xl.destroy(g.dom.name)
                self.xl.wait_gone(g.dom.name)
            for path in s["disks"]:
                self._qemu_img("-a", name, path, what=what)
            if target != "shutoff":
                if s["memory"]:
                    self.xl.restore(s["memory"], None, target == "paused")
                    g.id, g.live = self.xl.domid(g.dom.name), g.config or g.live
                else:
                    self._start(g, g.config or g.dom, target == "paused")
            meta["current"] = name
            self._write_snaps(g.dom.name, meta)
            self._apply(g, op)
            return True

    @hookimpl
    def virtkit_snapshot_delete(self: Any, dom: DomainRef, name: str, children: bool,
                                children_only: bool, metadata_only: bool) -> bool:
        with self.store.locked(), self.lock:
            g, meta, s = self._snap_of(dom, name)
            byname = {x["name"]: x for x in meta["list"]}
            desc: list[str] = []
            todo = [name]
            while todo:
                n = todo.pop()
                kids = [x["name"] for x in meta["list"] if x["parent"] == n]
                desc += kids
                todo += kids
            gone = desc if children_only else [name, *desc] if children else [name]
            if not children and not children_only:
                for x in meta["list"]:
                    if x["parent"] == name:
                        x["parent"] = s["parent"]
            for n in gone:
                x = byname[n]
                if not metadata_only:
                    for path in x["disks"]:
                        self._qemu_img("-d", n, path, what=f"deleting snapshot '{n}'")
                    if x["memory"]:
                        self.xl.sh(["rm", "-f", x["memory"]])
            if meta["current"] in gone:
                meta["current"] = name if children_only else s["parent"]
            meta["list"] = [x for x in meta["list"] if x["name"] not in gone]
            self._write_snaps(g.dom.name, meta)
            return True

    def _drop_snapshots(self: Any, name: str) -> None:
        """Undefine with ``snapshots_metadata``: the metadata and memory images go (the disks'
        internal snapshots stay in the qcow2 files)."""
        for s in self._snaps(name)["list"]:
            if s["memory"]:
                self.xl.sh(["rm", "-f", s["memory"]])
        self.store.delete("snapshots", name)
