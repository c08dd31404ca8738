"""Snapshots: internal qcow2 snapshots with memory state, and memory-state files for guests
without writable disks.

- A running or paused guest whose writable disks are all qcow2 is snapshotted with QEMU's
  ``savevm`` (disks and memory inside the qcow2 images) and reverted with ``loadvm``.
- A running or paused guest with no writable disk (diskless, cdrom only) keeps its memory state
  in a file (the save format) under the snapshot directory; revert starts QEMU from it.
- A shut-off guest's snapshot is ``qemu-img snapshot -c`` on each qcow2 disk (no memory).
- A writable raw disk cannot hold an internal snapshot: refused with OPERATION_UNSUPPORTED.

Metadata (parent, state, creation time, the domain XML) is kept in the state store.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from typing import TYPE_CHECKING, Any

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef, SnapshotRef, SnapshotSummary
from virtkit.sdk.states import DomainState, Op, transition
from virtkit.xml.domain import Disk, Domain
from virtkit.xml.snapshot import DomainSnapshot, SnapshotMemory, SnapshotParent
from virtkit_qemu import argv as argvmod
from virtkit_qemu import saveimage
from virtkit_qemu.host import Guest, failed, invalid
from virtkit_qemu.monitor import MonitorError

if TYPE_CHECKING:
    from virtkit_qemu.host import QemuHost

STATE_NAMES = {DomainState.RUNNING: "running", DomainState.PAUSED: "paused",
               DomainState.SHUTOFF: "shutoff", DomainState.CRASHED: "crashed",
               DomainState.PMSUSPENDED: "pmsuspended", DomainState.SHUTDOWN: "shutdown",
               DomainState.BLOCKED: "blocked", DomainState.NOSTATE: "nostate"}


def no_snapshot(name: str) -> VirtError:
    return VirtError(ErrorCode.NO_DOMAIN_SNAPSHOT,
                     f"Domain snapshot not found: no domain snapshot with matching name "
                     f"'{name}'", ErrorDomain.QEMU)


def _writable(dom: Domain) -> list[Disk]:
    if dom.devices is None:
        return []
    return [d for d in dom.devices.disks
            if not d.readonly and d.device != "cdrom" and argvmod.disk_source(d) is not None]


def _qemu_img(args: list[str], what: str) -> None:
    res = subprocess.run(["qemu-img", *args], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise failed(f"{what}: {res.stderr.strip()}")


class SnapshotMixin:
    if TYPE_CHECKING:  # provided by the driver and SaveMixin
        @property
        def host(self) -> QemuHost: ...

        def _find(self, ref: DomainRef) -> Guest: ...

        def _active_monitor(self, g: Guest) -> Any: ...

        def migrate_to_file(self, g: Guest, mon: Any, path: str, header: bytes,
                            operation: str) -> None: ...

    def _canonical(self, dom: Any) -> Any: ...

    # -- records ------------------------------------------------------------------------------

    def _kind(self, g: Guest) -> str:
        return f"snapshots-{g.uuid}"

    def _records(self, g: Guest) -> dict[str, dict[str, Any]]:
        out = []
        for name in self.host.meta.names(self._kind(g)):
            raw = self.host.meta.read(self._kind(g), name)
            if raw is not None:
                out.append(json.loads(raw))
        out.sort(key=lambda r: (r["seq"], r["name"]))
        return {r["name"]: r for r in out}

    def _write(self, g: Guest, rec: dict[str, Any]) -> None:
        self.host.meta.write(self._kind(g), rec["name"], json.dumps(rec).encode())

    def _current(self, g: Guest) -> str | None:
        raw = self.host.meta.read("current-snapshot", g.uuid)
        return raw.decode() if raw else None

    def _set_current(self, g: Guest, name: str | None) -> None:
        if name is None:
            self.host.meta.delete("current-snapshot", g.uuid)
        else:
            self.host.meta.write("current-snapshot", g.uuid, name.encode())

    def snapshot_count(self, g: Guest) -> int:
        return len(self.host.meta.names(self._kind(g)))

    def drop_snapshots(self, g: Guest) -> None:
        for name in self.host.meta.names(self._kind(g)):
            self.host.meta.delete(self._kind(g), name)
        self._set_current(g, None)
        sdir = self.host.paths.snapshot_dir(g.uuid)
        if sdir.exists():
            for f in sdir.iterdir():
                with contextlib.suppress(OSError):
                    f.unlink()
            with contextlib.suppress(OSError):
                sdir.rmdir()

    def _state_file(self, g: Guest, name: str) -> str:
        sdir = self.host.paths.snapshot_dir(g.uuid)
        sdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return str(sdir / f"{len(name)}-{name.encode().hex()[:120]}.state")

    # -- hooks --------------------------------------------------------------------------------

    @hookimpl
    def virtkit_snapshot_create_xml(self, dom: DomainRef, xml: str, redefine: bool) -> str:
        doc = DomainSnapshot.from_xml(xml)
        host = self.host
        with host.lock:
            g = self._find(dom)
            recs = self._records(g)
            name = doc.name or str(int(time.time()))
            while doc.name is None and name in recs:
                name = str(int(name) + 1)
            if name in recs and not redefine:
                raise invalid(f"domain snapshot '{name}' already exists for domain '{g.name}'")
            seq = max((r["seq"] for r in recs.values()), default=0) + 1
            if redefine:
                if doc.domain is None:
                    raise VirtError(ErrorCode.INVALID_ARG,
                                    f"invalid argument: redefining snapshot '{name}' needs its "
                                    f"<domain> element", ErrorDomain.QEMU)
                parent = doc.parent.name if doc.parent is not None else None
                if parent is not None and parent not in recs:
                    raise no_snapshot(parent)
                rec = {"name": name, "parent": parent, "state": doc.state or "shutoff",
                       "created": doc.creation_time or int(time.time()),
                       "description": doc.description, "xml": doc.domain.to_xml(),
                       "memory": None, "seq": recs[name]["seq"] if name in recs else seq}
                self._write(g, rec)
                self._set_current(g, name)
                return name
            cur = g.current
            state = STATE_NAMES[g.status.state]
            disks = _writable(cur)
            raw = [d.target.dev for d in disks if argvmod.disk_format(d) != "qcow2"]
            if raw:
                raise VirtError(ErrorCode.OPERATION_UNSUPPORTED,
                                f"cannot take an internal snapshot of domain '{g.name}': disk "
                                f"'{raw[0]}' is not qcow2", ErrorDomain.QEMU)
            memory: str | None = None
            if g.status.active:
                mon = self._active_monitor(g)
                if disks:
                    self._hmp(mon, f"savevm {name}", g)
                    memory = "internal"
                else:
                    memory = "file"
                    was_running = g.status.state is DomainState.RUNNING
                    if was_running:
                        mon.execute("stop")
                    try:
                        header = saveimage.header(cur.to_xml(), not was_running, g.name,
                                                  g.uuid)
                        self.migrate_to_file(g, mon, self._state_file(g, name), header,
                                             "snapshot")
                    finally:
                        if was_running:
                            with contextlib.suppress(Exception):
                                mon.execute("cont")
            else:
                for d in disks:
                    _qemu_img(["snapshot", "-c", name, str(argvmod.disk_source(d))],
                              f"cannot snapshot disk '{d.target.dev}' of domain '{g.name}'")
            rec = {"name": name, "parent": self._current(g), "state": state,
                   "created": int(time.time()), "description": doc.description,
                   "xml": cur.to_xml(), "memory": memory, "seq": seq}
            self._write(g, rec)
            self._set_current(g, name)
            return name

    def _hmp(self, mon: Any, command: str, g: Guest) -> None:
        try:
            out = mon.execute("human-monitor-command", {"command-line": command},
                              timeout=600)
        except MonitorError as exc:
            raise failed(f"'{command}' on domain '{g.name}' failed: {exc.desc}") from None
        if isinstance(out, str) and out.strip():
            raise failed(f"'{command}' on domain '{g.name}' failed: {out.strip()}")

    @hookimpl
    def virtkit_snapshot_list(self, dom: DomainRef) -> list[SnapshotSummary]:
        with self.host.lock:
            g = self._find(dom)
            recs = self._records(g)
            current = self._current(g)
            return [
                SnapshotSummary(SnapshotRef(g.ref, r["name"]), r["parent"], r["state"],
                                r["created"], r["name"] == current,
                                sum(1 for x in recs.values() if x["parent"] == r["name"]))
                for r in recs.values()
            ]

    def _get(self, g: Guest, name: str) -> dict[str, Any]:
        rec = self._records(g).get(name)
        if rec is None:
            raise no_snapshot(name)
        return rec

    @hookimpl
    def virtkit_snapshot_get_xml(self, dom: DomainRef, name: str, security_info: bool) -> str:
        with self.host.lock:
            g = self._find(dom)
            r = self._get(g, name)
            domain = Domain.from_xml(r["xml"])
            if not security_info and domain.devices is not None:
                domain = attrs.evolve(domain, devices=attrs.evolve(
                    domain.devices,
                    graphics=tuple(attrs.evolve(x, passwd=None)
                                   for x in domain.devices.graphics)))
            doc = DomainSnapshot(
                name=r["name"], description=r["description"], state=r["state"],
                parent=None if r["parent"] is None else SnapshotParent(name=r["parent"]),
                creation_time=r["created"],
                memory=SnapshotMemory(snapshot="internal" if r["memory"] else "no"),
                domain=domain,
            )
            return doc.to_xml()

    @hookimpl
    def virtkit_snapshot_current(self, dom: DomainRef) -> str:
        with self.host.lock:
            g = self._find(dom)
            cur = self._current(g)
            if cur is None:
                raise VirtError(ErrorCode.NO_DOMAIN_SNAPSHOT,
                                f"Domain snapshot not found: domain '{g.name}' has no current "
                                f"snapshot", ErrorDomain.QEMU)
            return cur

    @hookimpl
    def virtkit_snapshot_revert(self, dom: DomainRef, name: str, running: bool,
                                paused: bool) -> bool:
        if running and paused:
            raise VirtError(ErrorCode.INVALID_ARG,
                            "invalid argument: running and paused are mutually exclusive",
                            ErrorDomain.QEMU)
        host = self.host
        with host.lock:
            g = self._find(dom)
            r = self._get(g, name)
        target = "running" if running else "paused" if paused else r["state"]
        if target not in ("running", "paused"):
            target = "shutoff"
        op = {"running": Op.REVERT_RUNNING, "paused": Op.REVERT_PAUSED}.get(
            target, Op.REVERT_SHUTOFF)
        snap_dom = self._canonical(Domain.from_xml(r["xml"]))
        if target != "shutoff" and r["memory"] is None:
            raise VirtError(ErrorCode.OPERATION_UNSUPPORTED,
                            f"snapshot '{name}' of domain '{g.name}' holds no memory state: "
                            f"it can only be reverted to shut off", ErrorDomain.QEMU)
        t = transition(op, g.name, g.status)
        # the current process goes unless an internal snapshot loads into it
        if g.status.active and not (r["memory"] == "internal" and target != "shutoff"):
            host.stop(g, Op.DESTROY, silent=True)
        with host.lock:
            if target == "shutoff":
                for d in _writable(snap_dom):
                    if argvmod.disk_format(d) == "qcow2":
                        _qemu_img(["snapshot", "-a", name, str(argvmod.disk_source(d))],
                                  f"cannot revert disk '{d.target.dev}' of domain "
                                  f"'{g.name}'")
            elif r["memory"] == "internal":
                if g.status.active and g.monitor is not None:
                    mon = self._active_monitor(g)
                    mon.execute("stop")
                    self._hmp(mon, f"loadvm {name}", g)
                    if target == "running":
                        mon.execute("cont")
                else:
                    host.launch(g, snap_dom, paused=target == "paused",
                                after_start=lambda mon: self._hmp(mon, f"loadvm {name}", g))
            else:
                path = self._state_file(g, name)
                _, offset = saveimage.read_header(path)
                host.launch(g, snap_dom, paused=target == "paused", incoming=(path, offset))
            if g.status.persistent and g.definition is not None:
                host.write_def(g.name, snap_dom)
                g.definition = snap_dom
            if g.status.persistent:
                with contextlib.suppress(FileNotFoundError):
                    host.paths.managed_save(g.name).unlink()
            if t.status is not None and not t.status.active:
                g.live = None
            host.apply(g, t)
            if t.status is not None:
                self._set_current(g, name)
            host.after_stop(g)
            return True

    @hookimpl
    def virtkit_snapshot_delete(self, dom: DomainRef, name: str, children: bool,
                                children_only: bool, metadata_only: bool) -> bool:
        host = self.host
        with host.lock:
            g = self._find(dom)
            recs = self._records(g)
            snap = self._get(g, name)

            def kids(n: str) -> list[str]:
                return [r["name"] for r in recs.values() if r["parent"] == n]

            def descendants(n: str) -> list[str]:
                out: list[str] = []
                for k in kids(n):
                    out.append(k)
                    out += descendants(k)
                return out

            doomed = descendants(name) if (children or children_only) else []
            if not children_only:
                doomed.append(name)
                for child in kids(name):
                    if child not in doomed:
                        recs[child]["parent"] = snap["parent"]
                        self._write(g, recs[child])
            for gone in doomed:
                if not metadata_only:
                    self._discard(g, recs[gone])
                host.meta.delete(self._kind(g), gone)
            if self._current(g) in doomed:
                self._set_current(g, name if children_only else snap["parent"])
            return True

    def _discard(self, g: Guest, rec: dict[str, Any]) -> None:
        name = rec["name"]
        if rec["memory"] == "file":
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._state_file(g, name))
            return
        disks = [d for d in _writable(Domain.from_xml(rec["xml"]))
                 if argvmod.disk_format(d) == "qcow2"]
        if not disks:
            return
        if g.status.active and g.monitor is not None and not g.monitor.closed:
            self._hmp(g.monitor, f"delvm {name}", g)
        else:
            for d in disks:
                with contextlib.suppress(VirtError):
                    _qemu_img(["snapshot", "-d", name, str(argvmod.disk_source(d))],
                              f"cannot delete snapshot '{name}' of disk '{d.target.dev}'")
