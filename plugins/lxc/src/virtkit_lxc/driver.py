"""The LXC driver: ``lxc:///system``. Containers from Linux namespaces and cgroups, each held by
a supervisor process (see supervisor.py) so they outlive the process that started them; the
state store keeps every definition and each running container's supervisor, so another process
(or the daemon) finds them again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any, ClassVar

import attrs

from virtkit.sdk import compactjson
from virtkit.sdk.driver import Driver, DriverContext
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError, no_domain
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.journal import Journal, JournalEntry, JournalReader
from virtkit.sdk.records import (
    DomainInfo,
    DomainRef,
    DomainStateInfo,
    DomainSummary,
    Event,
    NodeInfo,
)
from virtkit.sdk.states import DomainState, DomainStatus, Op, Transition, transition
from virtkit.sdk.store import StateStore, check_name
from virtkit.xml.domain import Vcpu
from virtkit_lxc import runner, spec
from virtkit_lxc.cgroups import Cgroup, CgroupError
from virtkit_lxc.console import ConsoleMixin
from virtkit_lxc.launch import build_config, check_supported, host_dev_for, release_ports

log = logging.getLogger(__name__)

POLL = 0.1
_CACHE = 512  # parsed and serialised definitions kept
_BLANK_STATUS = {"state": int(DomainState.SHUTOFF), "reason": 0, "id": -1, "live": None,
                 "run": None, "config": None}
JOURNAL_MAX_BYTES = 1 << 20  # the event journal rotates past this size (thousands of events)
# rotated files kept: a connection whose watcher was held up (a loaded host) for more than
# this many files' worth of changes misses events; four files keep 4 MiB at most on the tmpfs
JOURNAL_KEEP = 4
SHUTDOWN_TIMEOUT = float(os.environ.get("VIRTKIT_LXC_SHUTDOWN_TIMEOUT", "30"))


def _encode_config(rec: dict[str, Any]) -> bytes:
    """A config record as stored: its other fields as compact JSON, a newline, then the
    document as it is (``{"autostart":false,"uuid":"..."}\\n<domain ...``): escaping the
    document into a JSON string would cost about 50 instructions a byte, and reading it back
    decoding it again."""
    head = {k: v for k, v in rec.items() if k != "config"}
    return (compactjson.dumps(head) + "\n" + rec["config"]).encode()


def _decode(raw: bytes) -> Any:
    """The record stored as ``raw``: one JSON text (a status record, or a config record
    written before they were split), or ``_encode_config``'s (JSON has no newline outside a
    string: what follows the first one is the document)."""
    head, newline, text = raw.partition(b"\n")
    rec = json.loads(head)
    if newline and text:
        rec["config"] = text.decode()
    return rec


def invalid(msg: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, msg, ErrorDomain.DOMAIN)


def failed(msg: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_FAILED, msg, ErrorDomain.LXC)


@attrs.define
class Container:
    """One domain's record: definitions, state machine status, id, and the running supervisor."""

    config: spec.Definition
    status: DomainStatus
    id: int = -1
    live: spec.Definition | None = None
    autostart: bool = False
    run: dict[str, Any] | None = None
    saved: dict[str, Any] = attrs.field(factory=dict)  # the records as stored: write changes only

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def ref(self) -> DomainRef:
        return DomainRef(self.config.name, self.config.domain.uuid or "", self.id)

    @property
    def current(self) -> spec.Definition:
        return self.live or self.config

    def cgroup(self) -> Cgroup:
        if not self.run:
            raise invalid(f"domain '{self.name}' is not running")
        return Cgroup.from_dict(self.run["cgroup"])


class LxcDriver(ConsoleMixin, Driver):
    name = "lxc"
    error_domain = ErrorDomain.LXC
    domain_types = spec.DOMAIN_TYPES
    os_types = spec.OS_TYPES
    host_services = ("storage", "network")
    capabilities: ClassVar[dict[str, Any]] = {
        "persistent_domains": True, "transient_domains": True, "start_paused": True,
        "live_migration": False, "offline_migration": False, "console": True,
        "shutdown_modes": ["signal"], "hotplug": (), "coldplug": (), "graphics": (),
        "disk_formats": (),
    }

    def __init__(self, context: DriverContext) -> None:
        super().__init__(context)
        dirs = context.state_dirs()
        self.store = StateStore(dirs.config, suffix=".json")  # definitions
        # runtime status; every change of it is made under the definitions' lock, which it
        # shares (no second lock file taken per change)
        self.status = StateStore(dirs.run, suffix=".json", durable=False, lock_with=self.store)
        self._defs: dict[str, spec.Definition] = {}
        self._texts: dict[int, tuple[spec.Definition, str]] = {}
        self._records: dict[bytes, Any] = {}  # decoded records by their stored bytes
        self.run_dir = os.path.join(dirs.run, "containers")
        os.makedirs(self.run_dir, mode=0o700, exist_ok=True)
        self.lock = threading.RLock()
        self._streams: dict[int, Any] = {}
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.forkserver = runner.ForkServer()
        # every state change's events, for the other connections (in this process or another)
        self.journal = Journal(Path(dirs.run) / "events.journal", max_bytes=JOURNAL_MAX_BYTES,
                               keep=JOURNAL_KEEP)
        self.source = f"{os.getpid()}-{uuid.uuid4().hex}"
        self._reader: JournalReader | None = None
        self._relay_lock = threading.Lock()

    # -- records --------------------------------------------------------------------------------
    #
    # A persistent domain's definition and autostart flag live in the durable config store
    # (``CONFIG/domains/NAME.json``); its runtime status (state, reason, id, live definition,
    # supervisor) in the run directory's store, written without fsyncs (``RUN/domains/NAME.json``),
    # which also holds a transient domain's definition. Each record is written only when its
    # content changed, and the XML texts are parsed (and serialised) once: a lookup reads two
    # small files and decodes their JSON.

    def _defn(self, text: str) -> spec.Definition:
        """The definition in ``text`` (a stored document, parsed once and kept)."""
        d = self._defs.get(text)
        if d is None:
            d = spec.parse(text, defaults=False)
            if len(self._defs) >= _CACHE:
                self._defs.clear()
            self._defs[text] = d
            self._remember(d, text)
        return d

    def _text(self, d: spec.Definition) -> str:
        """The stored document of ``d`` (serialised once per definition object)."""
        hit = self._texts.get(id(d))
        if hit is not None and hit[0] is d:
            return hit[1]
        text = d.to_xml()
        self._remember(d, text)
        # and the other way: reading this document back (the next lookup of the record this
        # text goes into) finds ``d`` instead of parsing it again; the model's document parses
        # back to an equal definition (test_records checks it), so this is what a parse gives
        if len(self._defs) >= _CACHE:
            self._defs.clear()
        self._defs[text] = d
        return text

    def _remember(self, d: spec.Definition, text: str) -> None:
        if len(self._texts) >= _CACHE:
            self._texts.clear()
        self._texts[id(d)] = (d, text)  # the entry holds d: its id is not reused meanwhile

    def _load(self, name: str) -> Container | None:
        cfg_raw = self.store.read("domains", name)
        st_raw = self.status.read("domains", name)
        if cfg_raw is None and st_raw is None:
            return None
        cfg = self._decode(cfg_raw) if cfg_raw else None
        st = self._decode(st_raw) if st_raw else None
        saved = {"config": cfg, "status": st}
        if cfg is not None and "state" in cfg:  # written when the status was kept here too:
            st = st if st is not None else cfg  # read it so; the next save splits it
            cfg = cfg if cfg.get("persistent", True) else None
        text = cfg["config"] if cfg is not None else (st or {}).get("config")
        if not text:
            return None  # the status of a domain undefined by a process that died half way
        persistent = cfg is not None
        status = DomainStatus(DomainState(st["state"]), st["reason"], persistent) \
            if st is not None else DomainStatus(persistent=persistent)
        live = self._defn(st["live"]) if st is not None and st.get("live") else None
        return Container(self._defn(text), status, st["id"] if st is not None else -1, live,
                         bool(cfg.get("autostart")) if cfg is not None else False,
                         st.get("run") if st is not None else None, saved)

    def _decode(self, raw: bytes) -> Any:
        """The record stored as ``raw`` (decoded once per content; the result is never changed
        in place, so it is shared)."""
        rec = self._records.get(raw)
        if rec is None:
            rec = _decode(raw)
            self._keep(raw, rec)
        return rec

    def _keep(self, raw: bytes, rec: Any) -> None:
        if len(self._records) >= _CACHE:
            self._records.clear()
        self._records[raw] = rec

    def _save(self, c: Container) -> None:
        """Write what changed of ``c``'s two records (store lock held)."""
        uuid_ = c.config.domain.uuid
        cfg: dict[str, Any] | None = {"config": self._text(c.config), "autostart": c.autostart,
                                      "uuid": uuid_} if c.status.persistent else None
        st: dict[str, Any] | None = {
            "state": int(c.status.state), "reason": int(c.status.reason), "id": c.id,
            "live": self._text(c.live) if c.live else None, "run": c.run, "uuid": uuid_,
            "config": None if c.status.persistent else self._text(c.config)}
        if st == {**_BLANK_STATUS, "uuid": uuid_} and c.saved.get("status") is None:
            st = None  # a defined domain that never ran: no status to keep
        # writes before deletes: a domain turning transient (undefined while running) has its
        # definition in the status record before the config record goes, and one turning
        # persistent the other way round, so a process dying in between loses no domain
        changed = [(store, rec, key) for store, rec, key in ((self.store, cfg, "config"),
                                                             (self.status, st, "status"))
                   if rec != c.saved.get(key)]
        for store, rec, key in changed:
            if rec is not None:
                raw = (_encode_config(rec) if key == "config"
                       else compactjson.dumps(rec).encode())
                store.write("domains", c.name, raw)
                self._keep(raw, rec)  # the next lookup reads it back: no decoding
        for store, rec, _key in changed:
            if rec is None:  # an undefine: its flush follows the return (docs/lxc.md)
                store.delete("domains", c.name, wait=False)
        c.saved = {"config": cfg, "status": st}

    def _delete(self, c: Container) -> None:
        """Remove both records (store lock held): the status first, so a process dying in
        between leaves the definition, inactive."""
        if c.saved.get("status") is not None:
            self.status.delete("domains", c.name)
        if c.saved.get("config") is not None:  # its flush follows the return (docs/lxc.md)
            self.store.delete("domains", c.name, wait=False)
        c.saved = {"config": None, "status": None}

    def _names(self) -> list[str]:
        return sorted(set(self.store.names("domains")) | set(self.status.names("domains")))

    def _all(self) -> list[Container]:
        return [c for c in map(self._load, self._names()) if c is not None]

    def _find(self, dom: DomainRef) -> Container:
        c = None
        with contextlib.suppress(VirtError):
            check_name(dom.name)
            c = self._load(dom.name)
        if c is None or (dom.uuid and c.config.domain.uuid != dom.uuid):
            raise no_domain(dom.name or None, uuid=dom.uuid or None)
        return c

    def _summary(self, c: Container) -> DomainSummary:
        return DomainSummary(c.ref, int(c.status.state), int(c.status.reason),
                             c.status.persistent, c.autostart)

    def _apply(self, c: Container, op: Op, *, new: bool = False, checked: Transition | None = None,
               **flags: Any) -> DomainRef:
        """Make ``op``'s change of ``c`` (``checked``: its transition, computed before the work
        it needed and still valid, as the status did not change meanwhile)."""
        t = checked if checked is not None else transition(
            op, c.name, None if new else c.status, **flags)
        ref = c.ref
        if t.status is None or not t.status.active:
            c.id, c.live, c.run = -1, None, None
        events = [[int(e), int(d)] for e, d in t.events] + ([[-1, 0]] if t.reboot else [])
        if t.status is None:
            self._delete(c)
        else:
            c.status = t.status
            self._save(c)
        # every caller holds the store lock: the journal's order is the state changes' order;
        # what other connections journalled before is relayed first, so callbacks see that order
        try:
            self._relay()
            self.journal.append(self.source, {"name": ref.name, "uuid": ref.uuid, "id": ref.id,
                                              "events": events})
        except OSError as exc:  # the change is made: say so, and do not fail the call for it
            log.error("lxc: cannot journal the events of domain '%s': %s", ref.name, exc)
        self._emit_all(ref, events)
        return ref

    def _emit_all(self, ref: DomainRef, events: list[list[int]]) -> None:
        for event, detail in events:
            if event < 0:
                self.emit(Event("domain-reboot", ref))
            else:
                self.emit(Event("domain-lifecycle", ref, event, detail))

    def _place(self, new: spec.Definition, given_uuid: bool) -> Container | None:
        """The domain ``new`` redefines (same name and uuid), or None for a new one; a name or
        uuid taken by another domain is refused. Found by name (one record read); the others
        are scanned only for a uuid the caller gave (a generated one is no other's). A new
        name's two records are looked for without reading them (store lock held: none appears
        meanwhile)."""
        exists = self.store.exists("domains", new.name) or self.status.exists("domains",
                                                                               new.name)
        c = self._load(new.name) if exists else None
        if c is not None:
            if c.config.domain.uuid != new.domain.uuid:
                raise self._taken(c)
            return c
        if given_uuid:
            for c in self._all():
                if c.config.domain.uuid == new.domain.uuid:
                    raise self._taken(c)
        return None

    @staticmethod
    def _taken(c: Container) -> VirtError:
        return VirtError(ErrorCode.OPERATION_FAILED,
                         f"domain '{c.name}' already exists with uuid {c.config.domain.uuid}",
                         ErrorDomain.DOMAIN)

    def _paths(self, uuid: str) -> dict[str, str]:
        base = os.path.join(self.run_dir, uuid)  # a uuid keeps the socket path short
        return {"socket": base + ".sock", "exit_file": base + ".exit", "cfg": base + ".cfg.json",
                "log": base + ".log"}

    # -- starting and stopping ------------------------------------------------------------------

    def _start(self, c: Container, defn: spec.Definition, paused: bool) -> None:
        """Start the container (store lock held); set c.run, c.live and c.id."""
        paths = self._paths(c.config.domain.uuid or "")
        cfg, ports = build_config(self.context, defn, paths, self._next_id())
        try:
            msg = self.forkserver.spawn(cfg, paths["cfg"], paths["log"])
        except runner.RunnerError as exc:
            release_ports(self.context, ports)
            raise failed(f"cannot start domain '{c.name}': {exc}") from None
        c.run = {"supervisor_pid": msg["supervisor_pid"],
                 "supervisor_start": msg["supervisor_start"], "init_pid": msg["init_pid"],
                 "cgroup": msg["cgroup"], "ports": ports, "started": time.time(), **paths}
        c.live = defn
        if c.id < 0:
            c.id = int(cfg["id"])
        if paused:
            try:
                c.cgroup().freeze()
            except CgroupError as exc:
                self._kill(c, "destroy")
                raise failed(f"cannot pause domain '{c.name}': {exc}") from None

    def _next_id(self) -> int:
        return max([c.id for c in self._all()] + [0]) + 1

    def _kill(self, c: Container, reason: str) -> dict[str, Any] | None:
        """Stop the container now (store lock held) and release what it held; the exit data."""
        run = c.run or {}
        with contextlib.suppress(runner.RunnerError):
            runner.request(run["socket"], {"op": "destroy", "reason": reason})
        with contextlib.suppress(CgroupError, OSError, KeyError):
            Cgroup.from_dict(run["cgroup"]).thaw()  # a frozen init cannot die
        data = runner.wait_exit(run["exit_file"], run["supervisor_pid"], 10.0)
        if data is None:
            runner.kill_supervisor(run["supervisor_pid"], run.get("supervisor_start"))
            with contextlib.suppress(KeyError):
                Cgroup.from_dict(run["cgroup"]).remove()
        self._release(c)
        return data

    def _release(self, c: Container) -> None:
        run = c.run or {}
        release_ports(self.context, run.get("ports", []))
        for key in ("exit_file", "cfg", "socket"):
            with contextlib.suppress(OSError, KeyError):
                os.unlink(run[key])

    def _reconcile(self, name: str) -> None:
        """Notice a container that stopped on its own (or whose supervisor vanished)."""
        with self.store.locked(), self.lock:
            c = self._load(name)
            if c is None or not c.status.active or not c.run:
                return
            run = c.run
            data = runner.read_exit(run["exit_file"])
            if data is None:
                if runner.is_supervisor(run["supervisor_pid"], run.get("supervisor_start")):
                    return
                data = runner.read_exit(run["exit_file"])  # it may have just written it
            if data is None:  # the supervisor died without a word: the container is gone
                with contextlib.suppress(KeyError):
                    Cgroup.from_dict(run["cgroup"]).remove()
                op = Op.CRASH
            elif data.get("reason") == "destroy":
                op = Op.DESTROY
            elif data.get("reason") == "shutdown" or data.get("code") == 0 \
                    or data.get("signal") == signal.SIGINT:  # SIGINT: reboot(2) power-off
                op = Op.SHUTDOWN
            elif data.get("signal") == signal.SIGHUP and data.get("reason") == "exit" \
                    and (c.current.domain.on_reboot or "restart") == "restart":
                # reboot(2) inside a pid namespace kills its init with SIGHUP: restart it
                defn = c.current
                self._release(c)
                c.run = None
                try:
                    self._start(c, defn, False)
                except VirtError:
                    self._apply(c, Op.CRASH)
                    return
                self._apply(c, Op.REBOOT)
                return
            else:
                op = Op.CRASH
            self._release(c)
            self._apply(c, op)

    def _raw(self, name: str) -> dict[str, Any] | None:
        data = self.status.read("domains", name)
        return _decode(data) if data else None

    def _watch(self) -> None:
        """Notice containers that stopped on their own, and relay the events of state changes
        another connection (or process) made, as libvirt shows every connection every event."""
        while not self._stop.wait(POLL):
            with contextlib.suppress(Exception):
                for name in self.status.names("domains"):
                    rec = self._raw(name)
                    run = rec.get("run") if rec else None
                    if run and (os.path.exists(run["exit_file"]) or not runner.is_supervisor(
                            run["supervisor_pid"], run.get("supervisor_start"))):
                        self._reconcile(name)
            with contextlib.suppress(Exception):
                self._relay()

    def _relay(self) -> None:
        """Emit the events other connections journalled since the last look, in order."""
        with self._relay_lock:
            entries = self._reader.read() if self._reader is not None else []
            self._relay_entries(entries)

    def _relay_entries(self, entries: list[JournalEntry]) -> None:
        for entry in entries:
            if entry.source == self.source:
                continue  # emitted when it happened
            data = entry.data
            try:
                ref = DomainRef(data["name"], data.get("uuid") or "", data.get("id", -1))
                self._emit_all(ref, data.get("events", []))
            except (KeyError, TypeError, AttributeError, ValueError):
                log.error("lxc: journal record %d is not an event record: %r", entry.seq, data)

    # -- connection -----------------------------------------------------------------------------

    @hookimpl
    def virtkit_connect_open(self, uri: Any, read_only: bool) -> bool:
        if os.geteuid() != 0:
            raise VirtError(ErrorCode.OPERATION_INVALID,
                            f"lxc:///{self.context.instance} needs root: unprivileged "
                            f"containers (a delegated cgroup and a user namespace of the "
                            f"user's own) are not supported", ErrorDomain.LXC)
        # first: no change after it is missed; its own records were emitted when they happened
        self._reader = self.journal.reader(skip_source=self.source)
        for name in self._names():
            self._reconcile(name)
        self._watcher = threading.Thread(target=self._watch, name="lxc-watch", daemon=True)
        self._watcher.start()
        return True

    @hookimpl
    def virtkit_connect_close(self) -> bool:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=2)
        self.close_streams()
        self.forkserver.close()
        with self._relay_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
        self.journal.close()
        self.store.close()
        return True

    @hookimpl
    def virtkit_connect_get_hostname(self) -> str:
        return socket.gethostname()

    @hookimpl
    def virtkit_connect_get_version(self) -> int:
        rel = os.uname().release.split("-")[0].split(".")
        nums = [int(x) for x in rel[:3] if x.isdigit()] + [0, 0, 0]
        return nums[0] * 1_000_000 + nums[1] * 1000 + nums[2]

    @hookimpl
    def virtkit_node_get_info(self) -> NodeInfo:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1])
        cpus = os.cpu_count() or 1
        mhz = 0
        with contextlib.suppress(OSError, ValueError), open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    mhz = int(float(line.split(":")[1]))
                    break
        return NodeInfo(os.uname().machine, mem, cpus, mhz, 1, 1, cpus, 1)

    @hookimpl
    def virtkit_connect_get_capabilities(self) -> str:
        from virtkit.xml import capabilities as cx
        arch = os.uname().machine
        guest = cx.Guest(os_type="exe", arch=cx.GuestArch(
            name=arch, wordsize=64, emulator="/usr/libexec/virtkit-lxc-supervisor",
            domains=(cx.GuestDomain(type="lxc"),)))
        return str(cx.Capabilities(host=cx.HostCaps(cpu=cx.HostCpu(arch=arch)),
                                   guests=(guest,)).to_xml())

    # -- definitions ----------------------------------------------------------------------------

    def _parse(self, xml: str, validate: bool) -> tuple[spec.Definition, bool]:
        """The definition in ``xml`` with libvirt's defaults, and whether its uuid was given."""
        d = spec.parse(xml, validate=validate, defaults=False)
        given = d.domain.uuid is not None
        d = spec.with_defaults(d)
        check_supported(d)
        return d, given

    @hookimpl
    def virtkit_domain_list(self) -> list[DomainSummary]:
        with self.lock:
            return [self._summary(c) for c in self._all()]

    @hookimpl
    def virtkit_domain_get_summary(self, dom: DomainRef) -> DomainSummary:
        with self.lock:
            return self._summary(self._find(dom))

    @hookimpl
    def virtkit_domain_lookup_by_name(self, name: str) -> DomainRef:
        with self.lock:
            return self._find(DomainRef(name, "", -1)).ref

    @hookimpl
    def virtkit_domain_lookup_by_uuid(self, uuid: str) -> DomainRef:
        with self.lock:
            for c in self._all():
                if c.config.domain.uuid == uuid:
                    return c.ref
            raise no_domain(uuid=uuid)

    @hookimpl
    def virtkit_domain_lookup_by_id(self, id: int) -> DomainRef:
        with self.lock:
            for c in self._all():
                if c.id == id and id > 0:
                    return c.ref
            raise no_domain(id=id)

    @hookimpl
    def virtkit_domain_define_xml(self, xml: str, validate: bool) -> DomainRef:
        new, given_uuid = self._parse(xml, validate)
        with self.store.locked(), self.lock:
            c = self._place(new, given_uuid)
            if c is None:
                return self._apply(Container(new, DomainStatus()), Op.DEFINE, new=True)
            c.config = new
            return self._apply(c, Op.DEFINE)

    @hookimpl
    def virtkit_domain_create_xml(self, xml: str, paused: bool, validate: bool) -> DomainRef:
        new, given_uuid = self._parse(xml, validate)
        with self.store.locked(), self.lock:
            c = self._place(new, given_uuid)
            fresh = c is None
            if c is None:
                c = Container(new, DomainStatus(persistent=False))
            transition(Op.CREATE_XML, c.name, None if fresh else c.status, paused=paused)
            self._start(c, new, paused)
            return self._apply(c, Op.CREATE_XML, new=fresh, paused=paused)

    @hookimpl
    def virtkit_domain_undefine(self, dom: DomainRef, managed_save: bool,
                                snapshots_metadata: bool, nvram: bool) -> bool:
        with self.store.locked(), self.lock:
            self._apply(self._find(dom), Op.UNDEFINE)
            return True

    @hookimpl
    def virtkit_domain_create(self, dom: DomainRef, paused: bool, force_boot: bool) -> DomainRef:
        with self.store.locked(), self.lock:
            c = self._find(dom)
            transition(Op.CREATE, c.name, c.status, paused=paused, force_boot=force_boot)
            self._start(c, c.config, paused)
            return self._apply(c, Op.CREATE, paused=paused, force_boot=force_boot)

    def _active(self, dom: DomainRef) -> Container:
        c = self._find(dom)
        if not c.status.active or not c.run:
            raise invalid(f"domain '{c.name}' is not running")
        return c

    @hookimpl
    def virtkit_domain_shutdown(self, dom: DomainRef, mode: str | None) -> bool:
        if mode not in (None, "signal"):
            raise VirtError(ErrorCode.ARGUMENT_UNSUPPORTED,
                            f"shutdown mode '{mode}' is not supported by the lxc driver "
                            f"(only 'signal')", ErrorDomain.LXC)
        with self.store.locked(), self.lock:
            c = self._active(dom)
            transition(Op.SHUTDOWN, c.name, c.status)
            try:
                runner.request(c.run["socket"], {"op": "shutdown", "signal": 15,  # type: ignore[index]
                                                 "timeout": SHUTDOWN_TIMEOUT})
            except runner.RunnerError as exc:
                raise failed(f"cannot shut down domain '{c.name}': {exc}") from None
        return True

    @hookimpl
    def virtkit_domain_destroy(self, dom: DomainRef, graceful: bool) -> bool:
        with self.store.locked(), self.lock:
            c = self._active(dom)
            t = transition(Op.DESTROY, c.name, c.status)
            self._kill(c, "destroy")
            self._apply(c, Op.DESTROY, checked=t)
        return True

    @hookimpl
    def virtkit_domain_reboot(self, dom: DomainRef, mode: str | None) -> bool:
        if mode not in (None, "signal"):
            raise VirtError(ErrorCode.ARGUMENT_UNSUPPORTED,
                            f"reboot mode '{mode}' is not supported by the lxc driver "
                            f"(only 'signal')", ErrorDomain.LXC)
        return self._restart(dom, Op.REBOOT)

    @hookimpl
    def virtkit_domain_reset(self, dom: DomainRef) -> bool:
        return self._restart(dom, Op.RESET)

    def _restart(self, dom: DomainRef, op: Op) -> bool:
        """Reboot or reset: the container is stopped and started again with the same id."""
        with self.store.locked(), self.lock:
            c = self._active(dom)
            transition(op, c.name, c.status)
            paused = c.status.state == DomainState.PAUSED
            defn = c.live or c.config
            self._kill(c, "reboot")
            c.run = None
            try:
                self._start(c, defn, paused)
            except VirtError:
                c.run = None
                self._apply(c, Op.CRASH)
                raise
            self._apply(c, op)
        return True

    @hookimpl
    def virtkit_domain_suspend(self, dom: DomainRef) -> bool:
        with self.store.locked(), self.lock:
            c = self._active(dom)
            t = transition(Op.SUSPEND, c.name, c.status)
            try:
                c.cgroup().freeze()
            except (CgroupError, OSError) as exc:
                raise failed(f"cannot suspend domain '{c.name}': {exc}") from None
            self._apply(c, Op.SUSPEND, checked=t)
        return True

    @hookimpl
    def virtkit_domain_resume(self, dom: DomainRef) -> bool:
        with self.store.locked(), self.lock:
            c = self._active(dom)
            t = transition(Op.RESUME, c.name, c.status)
            try:
                c.cgroup().thaw()
            except (CgroupError, OSError) as exc:
                raise failed(f"cannot resume domain '{c.name}': {exc}") from None
            self._apply(c, Op.RESUME, checked=t)
        return True

    # -- queries --------------------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_get_state(self, dom: DomainRef) -> DomainStateInfo:
        with self.lock:
            s = self._find(dom).status
            return DomainStateInfo(int(s.state), int(s.reason))

    @hookimpl
    def virtkit_domain_get_info(self, dom: DomainRef) -> DomainInfo:
        with self.lock:
            c = self._find(dom)
            d = c.current.domain
            maxmem = d.memory or 0
            cpu = 0
            if c.run:
                with contextlib.suppress(CgroupError, OSError, ValueError):
                    cpu = c.cgroup().cpu_time_ns()
            vcpus = (d.vcpu.current or d.vcpu.count) if d.vcpu else 1
            return DomainInfo(int(c.status.state), maxmem, d.current_memory or maxmem, vcpus,
                              cpu)

    @hookimpl
    def virtkit_domain_memory_stats(self, dom: DomainRef) -> dict[str, int]:
        with self.lock:
            c = self._active(dom)
            cg = c.cgroup()
            d = c.current.domain
            out = {"actual": d.current_memory or d.memory or 0}
            usage = cg.memory_usage()
            if usage is not None:
                out["rss"] = usage // 1024
                out["unused"] = max(0, out["actual"] - out["rss"])
                out["available"] = out["actual"]
            return out

    @hookimpl
    def virtkit_domain_interface_stats(self, dom: DomainRef, device: str) -> dict[str, int]:
        with self.lock:
            c = self._active(dom)
            host = host_dev_for(c.current, device)
            if host is None:
                raise VirtError(ErrorCode.INVALID_ARG,
                                f"invalid argument: domain '{c.name}' has no interface "
                                f"'{device}'", ErrorDomain.LXC)
            base = f"/sys/class/net/{host}/statistics/"
            # the host end's rx is the container's tx
            names = {"rx_bytes": "tx_bytes", "rx_packets": "tx_packets", "rx_errs": "tx_errors",
                     "rx_drop": "tx_dropped", "tx_bytes": "rx_bytes", "tx_packets": "rx_packets",
                     "tx_errs": "rx_errors", "tx_drop": "rx_dropped"}
            out = {}
            for key, fname in names.items():
                try:
                    with open(base + fname) as f:
                        out[key] = int(f.read())
                except OSError:
                    out[key] = 0
            return out

    @hookimpl
    def virtkit_domain_get_xml(self, dom: DomainRef, inactive: bool,
                               security_info: bool) -> str:
        with self.lock:
            c = self._find(dom)
            if inactive or c.live is None:
                return c.config.to_xml(secure=security_info)
            return c.live.to_xml(secure=security_info,
                                 domain=attrs.evolve(c.live.domain, id=c.id))

    @hookimpl
    def virtkit_domain_get_autostart(self, dom: DomainRef) -> bool:
        with self.lock:
            return self._find(dom).autostart

    @hookimpl
    def virtkit_domain_set_autostart(self, dom: DomainRef, autostart: bool) -> bool:
        with self.store.locked(), self.lock:
            c = self._find(dom)
            if not c.status.persistent:
                raise VirtError(ErrorCode.OPERATION_INVALID,
                                f"cannot set autostart for transient domain '{c.name}'",
                                ErrorDomain.DOMAIN)
            c.autostart = autostart
            self._save(c)
            return True

    # -- live resources -------------------------------------------------------------------------

    def _targets(self, c: Container, live: bool, config: bool) -> tuple[bool, bool]:
        if not live and not config:
            live, config = c.status.active, not c.status.active
        if live and not c.status.active:
            raise invalid(f"domain '{c.name}' is not running")
        if config and not c.status.persistent:
            raise invalid(f"cannot change the persistent definition of transient domain "
                          f"'{c.name}'")
        return live, config

    @hookimpl
    def virtkit_domain_set_memory(self, dom: DomainRef, kib: int, live: bool, config: bool,
                                  maximum: bool) -> bool:
        with self.store.locked(), self.lock:
            c = self._find(dom)
            live, config = self._targets(c, live, config)
            if maximum and live:
                raise invalid(f"cannot resize the maximum memory of running domain '{c.name}'")
            for defn in ([c.live] if live else []) + ([c.config] if config else []):
                d = defn.domain  # type: ignore[union-attr]
                if not maximum and kib > (d.memory or 0):
                    raise VirtError(ErrorCode.INVALID_ARG,
                                    f"invalid argument: cannot set memory of domain '{c.name}' "
                                    f"to {kib} KiB, higher than its maximum {d.memory} KiB",
                                    ErrorDomain.LXC)
            if live:
                limit = kib
                if c.current.extras.hard_limit_kib:
                    limit = min(limit, c.current.extras.hard_limit_kib)
                try:
                    c.cgroup().set_memory(limit * 1024)
                except (CgroupError, OSError) as exc:
                    raise failed(f"cannot set the memory of domain '{c.name}': {exc}") from None
                assert c.live is not None
                c.live = attrs.evolve(c.live, domain=attrs.evolve(c.live.domain,
                                                                   current_memory=kib))
            if config:
                d = c.config.domain
                if maximum:
                    d = attrs.evolve(d, memory=kib,
                                     current_memory=min(kib, d.current_memory or kib))
                else:
                    d = attrs.evolve(d, current_memory=kib)
                c.config = attrs.evolve(c.config, domain=d)
            self._save(c)
        return True

    @hookimpl
    def virtkit_domain_set_vcpus(self, dom: DomainRef, count: int, live: bool, config: bool,
                                 maximum: bool) -> bool:
        with self.store.locked(), self.lock:
            c = self._find(dom)
            live, config = self._targets(c, live, config)
            if maximum and live:
                raise invalid(f"cannot change the maximum vcpus of running domain '{c.name}'")
            host_cpus = sorted(os.sched_getaffinity(0))
            for defn in ([c.live] if live else []) + ([c.config] if config else []):
                v = defn.domain.vcpu  # type: ignore[union-attr]
                most = v.count if v else 1
                if not maximum and count > most:
                    raise VirtError(ErrorCode.INVALID_ARG,
                                    f"invalid argument: requested vcpus is greater than max "
                                    f"allowable vcpus for domain '{c.name}': {count} > {most}",
                                    ErrorDomain.LXC)
            if live:
                if count > len(host_cpus):
                    raise VirtError(ErrorCode.INVALID_ARG,
                                    f"invalid argument: domain '{c.name}': {count} vcpus but "
                                    f"the host has {len(host_cpus)} cpus", ErrorDomain.LXC)
                try:
                    c.cgroup().set_cpuset(",".join(map(str, host_cpus[:count])))
                except (CgroupError, OSError) as exc:
                    raise failed(f"cannot set the vcpus of domain '{c.name}': {exc}") from None
                assert c.live is not None
                v = c.live.domain.vcpu or Vcpu(placement="static", count=count)
                c.live = attrs.evolve(c.live, domain=attrs.evolve(
                    c.live.domain, vcpu=attrs.evolve(v, current=None if count == v.count
                                                     else count)))
            if config:
                v = c.config.domain.vcpu or Vcpu(placement="static", count=1)
                if maximum:
                    cur = min(v.current or v.count, count)
                    v = attrs.evolve(v, count=count, current=None if cur == count else cur)
                else:
                    v = attrs.evolve(v, current=None if count == v.count else count)
                c.config = attrs.evolve(c.config, domain=attrs.evolve(c.config.domain, vcpu=v))
            self._save(c)
        return True

    @hookimpl
    def virtkit_domain_get_vcpus_count(self, dom: DomainRef, live: bool, config: bool,
                                       maximum: bool) -> int:
        with self.lock:
            c = self._find(dom)
            if live and config:
                raise VirtError(ErrorCode.INVALID_ARG,
                                "invalid argument: live and config are mutually exclusive here",
                                ErrorDomain.LXC)
            if live and not c.status.active:
                raise invalid(f"domain '{c.name}' is not running")
            d = (c.live if (live or (not config and c.live)) else c.config) or c.config
            v = d.domain.vcpu
            if v is None:
                return 1
            return v.count if maximum else (v.current or v.count)

