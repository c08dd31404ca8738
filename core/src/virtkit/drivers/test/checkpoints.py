"""Checkpoints and backup jobs of the test driver, in memory per node and domain.

A checkpoint records its name, description, parent, creation time, one bitmap per disk
(``<disk name='vda' checkpoint='bitmap' bitmap='NAME'/>``) and the domain definition it was taken
with. A backup job is begun on a running domain; a push backup completes at once (the test
hypervisor copies nothing), a pull backup stays active, exporting its disks, until the domain's
job is aborted.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import TYPE_CHECKING

import attrs
from lxml import etree

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError, invalid_arg
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import CheckpointRef, CheckpointSummary, DomainRef
from virtkit.xml.parser import parse_document, xml_error

if TYPE_CHECKING:
    from virtkit.drivers.test.node import TestDomain, TestNode


@attrs.define
class Checkpoint:
    name: str
    description: str
    parent: str | None
    creation_time: int
    disks: list[tuple[str, str, str]]  # (disk target, 'bitmap' or 'no', bitmap name)
    domain_xml: str


@attrs.define
class Backup:
    mode: str
    incremental: str | None
    disks: list[tuple[str, str]]  # (disk target, push target path or pull export name)
    server: tuple[str, str] | None  # pull mode: (transport, name or socket)


@attrs.define
class DomainCheckpoints:
    checkpoints: dict[str, Checkpoint] = attrs.field(factory=dict)  # in creation order
    backup: Backup | None = None


@attrs.define
class CheckpointTable:
    domains: dict[str, DomainCheckpoints] = attrs.field(factory=dict)  # by domain uuid
    lock: threading.RLock = attrs.field(factory=threading.RLock)


_TABLES: weakref.WeakKeyDictionary[TestNode, CheckpointTable] = weakref.WeakKeyDictionary()
_TABLES_LOCK = threading.Lock()


def _no_checkpoint(name: str) -> VirtError:
    return VirtError(ErrorCode.NO_DOMAIN_CHECKPOINT,
                     f"Domain checkpoint not found: no domain checkpoint with matching name "
                     f"'{name}'", ErrorDomain.DOMAIN_CHECKPOINT)


def _invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, f"Requested operation is not valid: {message}",
                     ErrorDomain.TEST)


def _disk_targets(dom: TestDomain) -> list[str]:
    devices = dom.current.model.devices
    if devices is None:
        return []
    return [d.target.dev for d in devices.disks if d.device in (None, "disk")]


def _indent(xml: str, by: str = "  ") -> str:
    return "".join(by + line if line.strip() else line
                   for line in xml.splitlines(keepends=True))


def _quote(root: etree._Element) -> str:
    import re

    etree.indent(root, space="  ")
    return re.sub(r'="([^"\']*)"', r"='\1'", etree.tostring(root, encoding="unicode")) + "\n"


class CheckpointMixin:
    """Checkpoint and backup hooks of :class:`~virtkit.drivers.test.driver.TestDriver`."""

    if TYPE_CHECKING:

        @property
        def _node(self) -> TestNode: ...

    @property
    def _checkpoints(self) -> CheckpointTable:
        node = self._node
        with _TABLES_LOCK:
            table = _TABLES.get(node)
            if table is None:
                table = _TABLES[node] = CheckpointTable()
            return table

    def _checkpoint_count(self, dom: TestDomain) -> int:
        """How many checkpoints ``dom`` has."""
        cps = self._checkpoints.domains.get(dom.uuid)
        return 0 if cps is None else len(cps.checkpoints)

    def _of(self, dom: TestDomain) -> DomainCheckpoints:
        return self._checkpoints.domains.setdefault(dom.uuid, DomainCheckpoints())

    def _found(self, ref: CheckpointRef) -> tuple[TestDomain, DomainCheckpoints, Checkpoint]:
        d = self._node.find(ref.domain)
        cps = self._of(d)
        cp = cps.checkpoints.get(ref.name)
        if cp is None:
            raise _no_checkpoint(ref.name)
        return d, cps, cp

    def _create(self, d: TestDomain, xml: str, redefine: bool) -> Checkpoint:
        root = parse_document(xml, "domain checkpoint")
        if root.tag != "domaincheckpoint":
            raise xml_error(f"domain checkpoint: expected <domaincheckpoint>, found <{root.tag}>")
        cps = self._of(d)
        if cps.backup is not None:
            raise _invalid(f"a backup job is running on domain '{d.name}'")
        now = int(time.time())
        name = (root.findtext("name") or "").strip() or str(now)
        if "/" in name:
            raise xml_error(f"domain checkpoint: name '{name}' cannot contain '/'")
        if name in cps.checkpoints and not redefine:
            raise VirtError(ErrorCode.INVALID_DOMAIN_CHECKPOINT,
                            f"invalid checkpoint: checkpoint '{name}' already exists",
                            ErrorDomain.DOMAIN_CHECKPOINT)
        parent = list(cps.checkpoints)[-1] if cps.checkpoints else None
        created = now
        if redefine:
            parent = (root.findtext("parent/name") or "").strip() or None
            if parent is not None and parent not in cps.checkpoints:
                raise VirtError(ErrorCode.INVALID_DOMAIN_CHECKPOINT,
                                f"invalid checkpoint: parent '{parent}' of checkpoint '{name}' "
                                f"does not exist", ErrorDomain.DOMAIN_CHECKPOINT)
            text = root.findtext("creationTime")
            created = int(text) if text and text.strip().isdigit() else now
        targets = _disk_targets(d)
        asked = {}
        for disk in root.iterfind("disks/disk"):
            target = disk.get("name", "")
            if target not in targets:
                raise invalid_arg(f"domain '{d.name}' has no disk '{target}' to checkpoint")
            kind = disk.get("checkpoint", "bitmap")
            if kind not in ("bitmap", "no"):
                raise xml_error(f"domain checkpoint: checkpoint='{kind}' must be bitmap or no")
            asked[target] = (kind, disk.get("bitmap") or name)
        disks = [(t, *asked.get(t, ("bitmap", name))) for t in targets]
        return Checkpoint(name, (root.findtext("description") or "").strip(), parent, created,
                          disks, d.current.public_xml(-1, False))

    @hookimpl
    def virtkit_checkpoint_create_xml(self, dom: DomainRef, xml: str,
                                      redefine: bool) -> CheckpointRef:
        with self._node.lock:
            d = self._node.find(dom)
            cp = self._create(d, xml, redefine)
            self._of(d).checkpoints[cp.name] = cp
            return CheckpointRef(d.ref, cp.name)

    @hookimpl
    def virtkit_checkpoint_list(self, dom: DomainRef) -> list[CheckpointSummary]:
        with self._node.lock:
            d = self._node.find(dom)
            cps = self._of(d).checkpoints
            return [CheckpointSummary(CheckpointRef(d.ref, c.name), c.parent, c.creation_time,
                                      sum(1 for o in cps.values() if o.parent == c.name))
                    for c in cps.values()]

    @hookimpl
    def virtkit_checkpoint_lookup_by_name(self, dom: DomainRef, name: str) -> CheckpointRef:
        with self._node.lock:
            d = self._node.find(dom)
            if name not in self._of(d).checkpoints:
                raise _no_checkpoint(name)
            return CheckpointRef(d.ref, name)

    @hookimpl
    def virtkit_checkpoint_get_xml(self, checkpoint: CheckpointRef, no_domain: bool) -> str:
        with self._node.lock:
            _, _, cp = self._found(checkpoint)
            lines = ["<domaincheckpoint>", f"  <name>{cp.name}</name>"]
            if cp.description:
                lines.append(f"  <description>{_esc(cp.description)}</description>")
            if cp.parent:
                lines += ["  <parent>", f"    <name>{cp.parent}</name>", "  </parent>"]
            lines += [f"  <creationTime>{cp.creation_time}</creationTime>", "  <disks>"]
            for target, kind, bitmap in cp.disks:
                extra = f" bitmap='{bitmap}'" if kind == "bitmap" else ""
                lines.append(f"    <disk name='{target}' checkpoint='{kind}'{extra}/>")
            lines.append("  </disks>")
            text = "\n".join(lines) + "\n"
            if not no_domain:
                text += _indent(cp.domain_xml if cp.domain_xml.endswith("\n")
                                else cp.domain_xml + "\n")
            return text + "</domaincheckpoint>\n"

    @hookimpl
    def virtkit_checkpoint_delete(self, checkpoint: CheckpointRef, children: bool,
                                  children_only: bool, metadata_only: bool) -> bool:
        with self._node.lock:
            d, cps, cp = self._found(checkpoint)
            if cps.backup is not None:
                raise _invalid(f"a backup job is running on domain '{d.name}'")
            below = _descendants(cps.checkpoints, cp.name)
            gone = set(below) if (children or children_only) else set()
            if not children_only:
                gone.add(cp.name)
                for other in cps.checkpoints.values():
                    if other.parent == cp.name and other.name not in gone:
                        other.parent = cp.parent
            for name in gone:
                del cps.checkpoints[name]
            return True

    @hookimpl
    def virtkit_domain_backup_begin(self, dom: DomainRef, backup_xml: str,
                                    checkpoint_xml: str | None) -> bool:
        root = parse_document(backup_xml, "domain backup")
        if root.tag != "domainbackup":
            raise xml_error(f"domain backup: expected <domainbackup>, found <{root.tag}>")
        mode = root.get("mode", "push")
        if mode not in ("push", "pull"):
            raise xml_error(f"domain backup: mode='{mode}' must be push or pull")
        with self._node.lock:
            d = self._node.find(dom)
            if not d.status.active:
                raise _invalid(f"domain '{d.name}' is not running")
            cps = self._of(d)
            if cps.backup is not None or d.job is not None:
                raise _invalid(f"a job is already running on domain '{d.name}'")
            incremental = (root.findtext("incremental") or "").strip() or None
            if incremental is not None and incremental not in cps.checkpoints:
                raise _no_checkpoint(incremental)
            targets = _disk_targets(d)
            chosen: dict[str, str] = {}
            for disk in root.iterfind("disks/disk"):
                name = disk.get("name", "")
                if name not in targets:
                    raise invalid_arg(f"domain '{d.name}' has no disk '{name}' to back up")
                if disk.get("backup") == "no":
                    chosen[name] = ""
                    continue
                where = disk.find("target") if mode == "push" else disk.find("scratch")
                chosen[name] = (where.get("file", "") if where is not None else "") \
                    if mode == "push" else (disk.get("exportname") or name)
            disks = []
            for t in targets:
                value = chosen.get(t)
                if value == "":
                    continue
                if value is None or value == "":
                    value = f"/guest/{d.name}.{t}.backup" if mode == "push" else t
                disks.append((t, value))
            server = None
            if mode == "pull":
                srv = root.find("server")
                server = ("unix", srv.get("socket", "")) if srv is not None and \
                    srv.get("transport") == "unix" else \
                    ("tcp", srv.get("name", "localhost") if srv is not None else "localhost")
            new_cp = self._create(d, checkpoint_xml, False) if checkpoint_xml else None
            if new_cp is not None:
                cps.checkpoints[new_cp.name] = new_cp
            if mode == "pull":  # a push backup of the test hypervisor completes at once
                cps.backup = Backup(mode, incremental, disks, server)
            return True

    @hookimpl
    def virtkit_domain_backup_get_xml(self, dom: DomainRef) -> str:
        with self._node.lock:
            d = self._node.find(dom)
            b = self._of(d).backup
            if b is None:
                raise _invalid(f"no domain backup job present on domain '{d.name}'")
            root = etree.Element("domainbackup", mode=b.mode)
            if b.incremental:
                etree.SubElement(root, "incremental").text = b.incremental
            if b.server is not None:
                attrs_ = {"transport": b.server[0]}
                attrs_["socket" if b.server[0] == "unix" else "name"] = b.server[1]
                etree.SubElement(root, "server", attrs_)
            disks = etree.SubElement(root, "disks")
            for target, where in b.disks:
                disk = etree.SubElement(disks, "disk", name=target, backup="yes", type="file")
                if b.mode == "pull":
                    disk.set("exportname", where)
                else:
                    etree.SubElement(disk, "target", file=where)
            return _quote(root)

    @hookimpl
    def virtkit_domain_abort_job(self, dom: DomainRef) -> bool:
        """Ends a running backup; any other job as the job hooks do."""
        with self._node.lock:
            d = self._node.find(dom)
            cps = self._of(d)
            if cps.backup is not None:
                cps.backup = None
                return True
        result: bool = super().virtkit_domain_abort_job(dom)  # type: ignore[misc]
        return result


def _descendants(cps: dict[str, Checkpoint], name: str) -> list[str]:
    out: list[str] = []
    todo = [name]
    while todo:
        parent = todo.pop()
        for c in cps.values():
            if c.parent == parent:
                out.append(c.name)
                todo.append(c.name)
    return out


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
