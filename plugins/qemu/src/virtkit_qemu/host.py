"""The driver's state for one instance (``system`` or ``session``), shared by every connection of
a process: the guests, their QEMU processes and monitors, and the events they produce.

Guests outlive the process: each active guest has a status record (state store, ``run/domains``)
naming its pid, QMP socket, id and live XML. :meth:`QemuHost.load` reads the records, reconnects
to every QEMU still running and reports one that died unnoticed as SHUTOFF/CRASHED (with its
event). QMP events are queued by the monitor thread and applied by one worker thread per host.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError, no_domain
from virtkit.sdk.records import DomainRef, Event, JobInfo
from virtkit.sdk.states import (
    CrashedDetail,
    CrashedReason,
    DomainState,
    DomainStatus,
    EventType,
    Op,
    PausedReason,
    SuspendedDetail,
    Transition,
    transition,
)
from virtkit.sdk.store import StateStore
from virtkit.xml.domain import Domain
from virtkit_qemu import argv as argvmod
from virtkit_qemu import caps as capsmod
from virtkit_qemu import plugs
from virtkit_qemu.files import check_domain_files
from virtkit_qemu.monitor import Monitor, MonitorError
from virtkit_qemu.paths import Paths

log = logging.getLogger("virtkit_qemu")

DESTROY_GRACE = 10.0  # seconds between SIGTERM and SIGKILL
SHUTDOWN_REPEAT = 2.0  # the power button is pressed again this often until the guest acts
SHUTDOWN_REPEAT_FOR = 60.0
#: the QMP events the worker applies (the others, such as ACPI_DEVICE_OST, are not queued)
HANDLED = frozenset({"EOF", "SHUTDOWN", "RESET", "GUEST_PANICKED", "WATCHDOG",
                     "BLOCK_IO_ERROR"})


def failed(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_FAILED, message, ErrorDomain.QEMU)


def invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, message, ErrorDomain.QEMU)


@attrs.define(eq=False)
class Guest:
    """One domain: definitions, state, and while active its QEMU process and monitor."""

    name: str
    uuid: str
    definition: Domain | None  # persistent definition, None while transient
    status: DomainStatus
    live: Domain | None = None
    id: int = -1
    pid: int = 0
    monitor: Monitor | None = None
    autostart: bool = False
    stop_op: Op | None = None  # what the coming end of the process means
    stop_silent: bool = False  # the process is being replaced (snapshot revert)
    shutdown_requested: float = 0.0
    reboot_requested: bool = False
    exited: threading.Event = attrs.field(factory=threading.Event)
    deleted: dict[str, threading.Event] = attrs.field(factory=dict)
    last_job: JobInfo = attrs.field(factory=lambda: JobInfo(0))
    job_abort: threading.Event | None = None
    job_started: float = 0.0
    console_owner: Any = None
    taps: tuple[str, ...] = ()
    ports: tuple[plugs.Port, ...] = ()  # network ports of type='network' interfaces
    started_at: float = 0.0

    @property
    def ref(self) -> DomainRef:
        return DomainRef(self.name, self.uuid, self.id)

    @property
    def current(self) -> Domain:
        cur = self.live if self.status.active and self.live is not None else self.definition
        assert cur is not None
        return cur


class QemuHost:
    """Guests of one driver instance in this process."""

    def __init__(self, paths: Paths, instance: str) -> None:
        self.paths = paths
        self.instance = instance
        paths.make()
        self.defs = StateStore(paths.config, ".xml")
        self.meta = StateStore(paths.config, ".json")
        # runtime status: a crash of the host ends every guest it describes (no fsyncs)
        self.runs = StateStore(paths.run, ".json", durable=False)
        self.lock = threading.RLock()
        self.guests: dict[str, Guest] = {}
        self.subscribers: dict[int, Callable[[Event], None]] = {}
        # connections' calls into their own connection (host services), writable ones only
        self.callers: dict[int, plugs.Call] = {}
        self.events: queue.Queue[tuple[Guest, str, dict[str, Any] | None]] = queue.Queue()
        self.refs = 0
        self._seen: dict[str, int] = {}  # definition files read, by mtime
        self._caps: dict[str, capsmod.QemuCaps] = {}
        self._binaries: dict[str | None, str] = {}
        self._worker = threading.Thread(target=self._work, name="virtkit-qemu-events",
                                        daemon=True)
        self._worker.start()
        self._ticker = threading.Thread(target=self._tick, name="virtkit-qemu-ticker",
                                        daemon=True)
        self._ticker.start()

    # -- events -------------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        for fn in list(self.subscribers.values()):
            try:
                fn(event)
            except Exception:
                log.exception("event subscriber failed")

    def apply(self, g: Guest, t: Transition) -> None:
        """Store a transition's outcome and emit its events (caller holds the lock)."""
        was_active = g.status.active  # only an active guest has a status record
        if t.status is None:
            self.guests.pop(g.uuid, None)
            if was_active:
                self.runs.delete("domains", g.name)
            g.status = attrs.evolve(g.status, state=DomainState.SHUTOFF, persistent=False)
        else:
            g.status = t.status
            if not t.status.active:
                g.id = -1
                g.live = None
                if was_active:
                    self.runs.delete("domains", g.name)
            else:
                self.save_status(g)
        ref = g.ref
        for event_type, detail in t.events:
            self.emit(Event("domain-lifecycle", ref, int(event_type), int(detail)))
        if t.reboot:
            self.emit(Event("domain-reboot", ref))

    def _queue(self, g: Guest) -> Callable[[str, dict[str, Any] | None], None]:
        def put(event: str, data: dict[str, Any] | None) -> None:
            if event == "DEVICE_DELETED":
                # completes an unplug whose caller holds the lock: never queued behind an
                # event whose handler waits for that lock (a cpu unplug's ACPI_DEVICE_OST)
                self._deleted(g, data or {})
                return
            if event not in HANDLED:
                return
            self.events.put((g, event, data))
        return put

    @staticmethod
    def _deleted(g: Guest, data: dict[str, Any]) -> None:
        dev = data.get("device")
        path = str(data.get("path") or "")
        if not dev and path.startswith("/machine/peripheral/"):
            # QEMU 7.2 reports a cpu's unplug only as its child's ("/machine/peripheral/vcpu1/
            # lapic"), deleted as the cpu is: that completes the unplug of a vcpu
            parent = path.split("/")[3]
            if parent.startswith("vcpu"):
                dev = parent
        done = g.deleted.get(dev) if dev else None
        if done is not None:
            done.set()

    def _work(self) -> None:
        while True:
            g, event, data = self.events.get()
            try:
                self._on_event(g, event, data or {})
            except Exception:
                log.exception("handling QEMU event %s of domain '%s' failed", event, g.name)

    def _on_event(self, g: Guest, event: str, data: dict[str, Any]) -> None:
        if event == "DEVICE_DELETED":
            self._deleted(g, data)
            return
        if event == "EOF":
            self._ended(g)
            return
        with self.lock:
            if g.monitor is None or g.monitor.closed:
                return
            if event == "SHUTDOWN":
                if not data.get("guest", False):
                    return  # we asked QEMU to quit: the end of the process tells the rest
                if g.reboot_requested and data.get("reason") != "guest-reset":
                    g.reboot_requested = False
                    g.shutdown_requested = 0.0
                    with contextlib.suppress(Exception):
                        g.monitor.execute("system_reset")
                        g.monitor.execute("cont")
                    return
                g.shutdown_requested = 0.0
                if g.stop_op is None:
                    g.stop_op = Op.SHUTDOWN
                with contextlib.suppress(Exception):
                    g.monitor.execute("quit", timeout=5)
            elif event == "RESET":
                self.emit(Event("domain-reboot", g.ref))
            elif event == "GUEST_PANICKED":
                self._panicked(g)
            elif event == "WATCHDOG" and data.get("action") == "pause":
                self._paused_by_qemu(g, PausedReason.WATCHDOG, SuspendedDetail.WATCHDOG)
            elif event == "BLOCK_IO_ERROR" and data.get("action") == "stop":
                self._paused_by_qemu(g, PausedReason.IOERROR, SuspendedDetail.IOERROR)

    def _paused_by_qemu(self, g: Guest, reason: int, detail: int) -> None:
        """QEMU stopped the guest on its own (watchdog, I/O error): PAUSED with that reason."""
        if g.status.state is not DomainState.RUNNING:
            return
        g.status = attrs.evolve(g.status, state=DomainState.PAUSED, reason=reason)
        self.save_status(g)
        self.emit(Event("domain-lifecycle", g.ref, int(EventType.SUSPENDED), int(detail)))

    def _panicked(self, g: Guest) -> None:
        ref = g.ref
        g.status = attrs.evolve(g.status, state=DomainState.CRASHED,
                                reason=CrashedReason.PANICKED)
        self.save_status(g)
        self.emit(Event("domain-lifecycle", ref, int(EventType.CRASHED),
                        int(CrashedDetail.PANICKED)))
        action = g.current.on_crash or "destroy"
        if action in ("destroy", "coredump-destroy"):
            g.stop_op = Op.CRASH
            self._signal(g, signal.SIGKILL)
        elif action in ("restart", "coredump-restart", "rename-restart"):
            assert g.monitor is not None
            with contextlib.suppress(Exception):
                g.monitor.execute("system_reset")
                g.monitor.execute("cont")
            from virtkit.sdk.states import RunningReason

            g.status = attrs.evolve(g.status, state=DomainState.RUNNING,
                                    reason=RunningReason.CRASHED)
            self.save_status(g)

    def _tick(self) -> None:
        """Press the power button again for guests that have not acted on an ACPI shutdown
        (a press before the guest's ACPI driver runs is lost)."""
        while True:
            time.sleep(SHUTDOWN_REPEAT)
            now = time.monotonic()
            with self.lock:
                pending = [g for g in self.guests.values() if g.shutdown_requested
                           and g.monitor is not None and not g.monitor.closed]
            for g in pending:
                if now - g.shutdown_requested > SHUTDOWN_REPEAT_FOR:
                    g.shutdown_requested = 0.0
                    continue
                with contextlib.suppress(Exception):
                    if g.monitor is not None:
                        g.monitor.execute("system_powerdown", timeout=5)

    def _ended(self, g: Guest) -> None:
        """The QEMU process of ``g`` is gone (or going): reap it and apply what it means."""
        pid = g.pid
        if pid and not _wait_dead(pid, 3.0):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_dead(pid, 5.0)
        with self.lock:
            self._release(g)
            if g.stop_silent:
                g.stop_silent = False
                g.exited.set()
                return
            op = g.stop_op or Op.CRASH
            g.stop_op = None
            if g.status.active and self.guests.get(g.uuid) is g:
                self.apply(g, transition(op, g.name, g.status))
                self.after_stop(g)
            g.exited.set()

    def _release(self, g: Guest) -> None:
        """Forget the process: monitor, sockets, taps, console."""
        if g.monitor is not None:
            g.monitor.closed = True
        g.monitor = None
        g.pid = 0
        g.shutdown_requested = 0.0
        g.reboot_requested = False
        holder = g.console_owner
        if holder is not None:
            with contextlib.suppress(Exception):
                holder.close()
        g.console_owner = None
        for tap in g.taps:
            plugs.drop_tap(tap)
        g.taps = ()
        self.delete_ports(g.ports)
        g.ports = ()
        gdir = self.paths.guest_dir(g.uuid)
        if gdir.exists():
            for entry in gdir.iterdir():
                if entry.name != "console.log":
                    with contextlib.suppress(OSError):
                        entry.unlink()

    def after_stop(self, g: Guest) -> None:
        """A transient guest that stopped is gone; a persistent one keeps its definition."""
        if g.definition is None and self.guests.get(g.uuid) is g and not g.status.active:
            self.guests.pop(g.uuid, None)

    # -- records ------------------------------------------------------------------------------

    def save_status(self, g: Guest) -> None:
        live = g.live.to_xml() if g.live is not None else None
        record = {
            "uuid": g.uuid, "name": g.name, "id": g.id, "pid": g.pid,
            "state": int(g.status.state), "reason": int(g.status.reason),
            "persistent": g.status.persistent, "live": live,
            "qmp": str(self.paths.guest_dir(g.uuid) / "qmp.sock"), "taps": list(g.taps),
            "ports": [p.to_plain() for p in g.ports],
            "started_at": g.started_at,
        }
        self.runs.write("domains", g.name, json.dumps(record).encode())

    def next_id(self) -> int:
        with self.runs.locked():
            raw = self.runs.read("meta", "next-id")
            n = int(raw) if raw else 1
            self.runs.write("meta", "next-id", str(n + 1).encode())
            return n

    def write_def(self, name: str, dom: Domain) -> None:
        """Store ``dom`` as the definition of ``name`` (durably), and note the file as read, so
        that :meth:`load` does not parse this process's own write again."""
        self.defs.write("domains", name, dom.to_xml().encode())
        with contextlib.suppress(OSError):
            path = self.paths.config / "domains" / f"{name}.xml"
            self._seen[name] = path.stat().st_mtime_ns

    def delete_def(self, name: str) -> None:
        self.defs.delete("domains", name)
        self._seen.pop(name, None)

    def load(self) -> None:
        """Read definitions and status records; reconnect to running guests."""
        with self.lock:
            for name in self.defs.names("domains"):
                try:
                    stamp = (self.paths.config / "domains" / f"{name}.xml").stat().st_mtime_ns
                except OSError:
                    continue
                if self._seen.get(name) == stamp:
                    continue  # read before, unchanged
                self._seen[name] = stamp
                raw = self.defs.read("domains", name)
                if raw is None:
                    continue
                try:
                    d = Domain.from_xml(raw)
                except VirtError:
                    log.warning("ignoring unreadable definition of domain '%s'", name)
                    continue
                if d.uuid in self.guests:
                    continue
                g = Guest(d.name, str(d.uuid), d, DomainStatus())
                g.autostart = self.meta.read("autostart", d.name) is not None
                if self.paths.managed_save(d.name).exists():
                    g.status = attrs.evolve(g.status, has_managed_save=True)
                self.guests[g.uuid] = g
            for name in self.runs.names("domains"):
                raw = self.runs.read("domains", name)
                if raw is None:
                    continue
                try:
                    rec = json.loads(raw)
                except ValueError:
                    continue
                self._adopt(rec)

    def _adopt(self, rec: dict[str, Any]) -> None:
        uuid = rec["uuid"]
        g = self.guests.get(uuid)
        if g is not None and g.status.active:
            return
        live = Domain.from_xml(rec["live"]) if rec.get("live") else None
        if g is None:
            g = Guest(rec["name"], uuid, None, DomainStatus(persistent=False))
            self.guests[uuid] = g
        g.live = live
        g.id = int(rec["id"])
        g.pid = int(rec["pid"])
        g.taps = tuple(rec.get("taps", ()))
        g.ports = tuple(plugs.Port.from_plain(p) for p in rec.get("ports", ()))
        g.started_at = float(rec.get("started_at", 0.0))
        g.status = DomainStatus(DomainState(rec["state"]), int(rec["reason"]),
                                g.definition is not None, g.status.has_managed_save)
        qmp = rec["qmp"]
        if _alive(g.pid, qmp):
            mon = Monitor(g.name, qmp, self._queue(g))
            try:
                mon.connect(timeout=2.0)
            except VirtError:
                log.warning("domain '%s' runs but its monitor is held by another process",
                            g.name)
                return
            g.monitor = mon
            with contextlib.suppress(Exception):
                st = mon.execute("query-status")
                if st.get("status") == "paused" and g.status.state is DomainState.RUNNING:
                    g.status = attrs.evolve(g.status, state=DomainState.PAUSED,
                                            reason=PausedReason.UNKNOWN)
                    self.save_status(g)
            return
        # QEMU died while nobody watched: crashed, and the event says so now
        log.warning("domain '%s' (pid %d) died while no process watched it", g.name, g.pid)
        self._release(g)
        self.apply(g, transition(Op.CRASH, g.name, g.status))
        self.after_stop(g)

    # -- lookup -------------------------------------------------------------------------------

    def find(self, ref: DomainRef) -> Guest:
        g = self.guests.get(ref.uuid)
        if g is None:
            raise no_domain(ref.name)
        return g

    def by_name(self, name: str) -> Guest:
        for g in self.guests.values():
            if g.name == name:
                return g
        raise no_domain(name)

    def caps(self, binary: str | None = None, arch: str | None = None) -> capsmod.QemuCaps:
        if binary is None:
            # found on PATH once per process, as the probe's answer is kept once per process
            binary = self._binaries.get(arch)
            if binary is None:
                binary = self._binaries[arch] = capsmod.default_binary(arch)
        found = self._caps.get(binary)
        if found is None:
            found = capsmod.probe(binary, self.paths.cache)
            self._caps[binary] = found
        return found

    # -- starting -----------------------------------------------------------------------------

    def launch(self, g: Guest, dom: Domain, *, paused: bool,
               incoming: tuple[str, int] | None = None,
               after_start: Callable[[Monitor], None] | None = None) -> None:
        """Start QEMU for ``dom`` (caller holds the lock and applied no transition yet).

        ``incoming``: (save image path, offset of its migration stream) to restore from.
        ``after_start``: run with the monitor while the guest is still stopped (snapshots).
        On failure the process is gone and the error names QEMU's own message.
        """
        accel = _accel(dom)
        caps = self.caps(dom.devices.emulator if dom.devices is not None else None,
                         dom.os.type.arch)
        machine = caps.machine(dom.os.type.machine).name
        gdir = self.paths.guest_dir(g.uuid)
        gdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(gdir, 0o700)
        runas = self.qemu_user()
        if runas is not None:
            # QEMU runs unprivileged: it owns its private directory and may pass through the
            # run directory to reach it (nothing there is listable or readable to it)
            os.chown(gdir, runas[0], runas[1])
            for parent in (gdir.parent, self.paths.run):
                os.chmod(parent, 0o711)
        if len(str(gdir / "qmp.sock")) > 100:
            raise failed(f"cannot start domain '{g.name}': the state directory '{gdir}' is too "
                         f"long for a unix socket path")
        rdom, dom, taps, ports = self.plug_all(g, dom)
        launch = argvmod.Launch(
            binary=caps.binary, machine=machine, accel=accel, guest_dir=str(gdir),
            vnc_port=_vnc_port(dom), ovmf=capsmod.ovmf(),
            tap_names=taps,
        )
        try:
            check_domain_files(rdom)
            args = argvmod.build(rdom, launch)
        except BaseException:
            self._unplug_all(taps, ports)
            raise
        if incoming is not None:
            args += ["-incoming", "defer"]
        logpath = self.paths.log_file(g.name)
        logpath.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(logpath, "ab") as logf:
            offset = logf.tell()
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            logf.write(f"{stamp}: starting up\n{' '.join(args)}\n".encode())
            logf.flush()
            old = os.umask(0o077)  # sockets and files QEMU makes: owner only
            try:
                ids: dict[str, Any] = {}
                if runas is not None:
                    ids = {"user": runas[0], "group": runas[1], "extra_groups": list(runas[2])}
                proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=logf,
                                        stderr=logf, start_new_session=True, close_fds=True,
                                        **ids)
            except OSError as exc:
                self._unplug_all(taps, ports)
                raise failed(f"cannot start domain '{g.name}': {exc}") from None
            finally:
                os.umask(old)
        # reap it when it ends (a later process that adopts it polls /proc instead)
        threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
        pid = proc.pid
        qmp = Path(launch.qmp)
        deadline = time.monotonic() + 60
        while not qmp.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        if proc.poll() is not None or not qmp.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
            self._unplug_all(taps, ports)
            raise failed(f"cannot start domain '{g.name}': {_qemu_error(logpath, offset)}")
        g.pid = pid
        g.taps = taps
        g.ports = ports
        g.exited = threading.Event()
        g.stop_op = None
        g.stop_silent = False
        mon = Monitor(g.name, launch.qmp, self._queue(g))
        try:
            for attempt in range(400):  # the socket exists from bind(), accepts from listen()
                try:
                    mon.connect()
                    break
                except VirtError:
                    if attempt == 399 or not _wait_alive(pid):
                        raise
                    time.sleep(0.005)
                    mon = Monitor(g.name, launch.qmp, self._queue(g))
            g.monitor = mon
            if dom.devices is not None:
                for gr in dom.devices.graphics:
                    if gr.type == "vnc" and gr.passwd is not None:
                        mon.execute("change-vnc-password", {"password": gr.passwd})
            if dom.vcpu is not None and dom.vcpu.count > 1:
                # the modern ACPI cpu hotplug interface from the start (the legacy one, which
                # the guest would switch from only once it booted, cannot unplug)
                with contextlib.suppress(MonitorError):
                    mon.execute("qom-set", {"path": "/machine/acpi-device",
                                            "property": "cpu-hotplug-legacy", "value": False})
            if incoming is not None:
                self._incoming(g, mon, *incoming)
            if after_start is not None:
                after_start(mon)
            if dom.current_memory and dom.memory and dom.current_memory < dom.memory:
                with contextlib.suppress(MonitorError):
                    mon.execute("balloon", {"value": dom.current_memory * 1024})
            if not paused:
                mon.execute("cont")
        except BaseException as exc:
            g.stop_silent = True
            died = _wait_dead(pid, 0.5)
            self._signal(g, signal.SIGKILL)
            _wait_dead(pid, 5.0)
            self._release(g)
            g.stop_silent = False
            if died:  # QEMU gave up on its own: its log says why
                raise failed(f"cannot start domain '{g.name}': "
                             f"{_qemu_error(logpath, offset)}") from None
            if isinstance(exc, VirtError):
                raise
            if isinstance(exc, MonitorError):
                raise failed(f"cannot start domain '{g.name}': {exc.desc}") from None
            raise
        g.live = dom
        g.started_at = time.time()
        g.id = self.next_id()

    def qemu_user(self) -> tuple[int, int, tuple[int, ...]] | None:
        """(uid, gid, extra gids) QEMU runs as: for ``qemu:///system`` run by root, the user
        ``VIRTKIT_QEMU_USER`` names (default ``virtkit-qemu``) when it exists, with the ``kvm``
        group; None (the caller's own identity) otherwise."""
        if self.instance != "system" or os.geteuid() != 0:
            return None
        import grp
        import pwd

        name = os.environ.get("VIRTKIT_QEMU_USER", "virtkit-qemu")
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            return None
        extra: tuple[int, ...] = ()
        with contextlib.suppress(KeyError):
            extra = (grp.getgrnam("kvm").gr_gid,)
        return pw.pw_uid, pw.pw_gid, extra

    def _incoming(self, g: Guest, mon: Monitor, path: str, offset: int) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.lseek(fd, offset, os.SEEK_SET)
            mon.send_fd(fd, "incoming")
        finally:
            os.close(fd)
        mon.execute("migrate-incoming", {"uri": "fd:incoming"})
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            info = mon.execute("query-migrate")
            status = info.get("status")
            if status == "completed":
                return
            if status in ("failed", "cancelled"):
                raise invalid(f"cannot restore domain '{g.name}' from '{path}': "
                              f"{info.get('error-desc', 'the saved state does not load')}")
            st = mon.execute("query-status")
            if st.get("status") not in ("inmigrate", "paused", "prelaunch", "finish-migrate",
                                        "postmigrate", "restore-vm"):
                return
            time.sleep(0.01)
        raise failed(f"restoring domain '{g.name}' from '{path}' timed out")

    def service_call(self) -> plugs.Call | None:
        """A writable connection's ``call`` into the host services (any: they share state)."""
        with self.lock:
            calls = list(self.callers.values())
        return calls[-1] if calls else None

    def delete_ports(self, ports: tuple[plugs.Port, ...]) -> None:
        call = self.service_call()
        for port in ports:
            plugs.delete_port(call, port)

    def _unplug_all(self, taps: tuple[str, ...], ports: tuple[plugs.Port, ...]) -> None:
        for tap in taps:
            plugs.drop_tap(tap)
        self.delete_ports(ports)

    def plug_all(self, g: Guest, dom: Domain) -> tuple[Domain, Domain, tuple[str, ...],
                                                        tuple[plugs.Port, ...]]:
        """Resolve what the host services give ``dom``: (the domain argv is built from, the live
        domain, taps made, network ports made). Volume disks become their files; every
        bridge, ethernet and network interface gets a tap, plugged; nothing is left on failure."""
        if dom.devices is None:
            return dom, dom, (), ()
        call = self.service_call()
        disks = dom.devices.disks
        if any(d.type == "volume" for d in disks):
            if call is None:
                raise failed(f"cannot start domain '{g.name}': no connection to the host "
                             f"storage service")
            disks = tuple(plugs.resolve_disk(call, g.name, d) for d in disks)
        taps: list[str] = []
        ports: list[plugs.Port] = []
        run_ifaces = []
        live_ifaces = []
        try:
            for iface in dom.devices.interfaces:
                if iface.type not in plugs.TAP_TYPES:
                    run_ifaces.append(iface)
                    live_ifaces.append(iface)
                    continue
                plug = plugs.plug_for(call, g.name, g.uuid, iface)
                if plug.port is not None:
                    ports.append(plug.port)
                name = iface.target.dev if iface.target is not None and \
                    iface.target.dev and not iface.target.dev.startswith("vk") else None
                name = name or plugs.free_tap_name(set(taps))
                plugs.make_tap(g.name, name, plug)
                taps.append(name)
                if plug.port is not None:
                    ports[-1] = attrs.evolve(plug.port, tap=name)
                run_ifaces.append(attrs.evolve(plugs.bridge_view(iface, plug), type="bridge"
                                               if iface.type == "network" else iface.type,
                                               source=None if iface.type == "network"
                                               else iface.source))
                live_ifaces.append(plugs.live_interface(iface, name, plug.mac))
        except BaseException:
            self._unplug_all(tuple(taps), tuple(ports))
            raise
        rdev = attrs.evolve(dom.devices, disks=disks, interfaces=tuple(run_ifaces))
        ldev = attrs.evolve(dom.devices, interfaces=tuple(live_ifaces))
        return (attrs.evolve(dom, devices=rdev), attrs.evolve(dom, devices=ldev), tuple(taps),
                tuple(ports))

    # -- stopping -----------------------------------------------------------------------------

    def _signal(self, g: Guest, sig: int) -> None:
        if g.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(g.pid, sig)

    def stop(self, g: Guest, op: Op, *, graceful: bool = False, silent: bool = False,
             quit_first: bool = False) -> None:
        """End the guest's process and wait until its end was applied (caller must NOT hold
        the lock). ``op`` is the transition the end means; ``silent`` applies none. SIGTERM
        (or QMP ``quit`` with ``quit_first``), then SIGKILL after the grace period unless
        ``graceful``, which fails instead."""
        exited = g.exited
        g.stop_op = op
        g.stop_silent = silent
        if g.monitor is None or g.monitor.closed:
            # not watched by this process (held elsewhere): signal and apply ourselves
            self._signal(g, signal.SIGTERM)
            if not _wait_dead(g.pid, DESTROY_GRACE):
                self._signal(g, signal.SIGKILL)
                _wait_dead(g.pid, 5.0)
            self.events.put((g, "EOF", None))
        elif quit_first:
            with contextlib.suppress(Exception):
                g.monitor.execute("quit", timeout=5)
        else:
            self._signal(g, signal.SIGTERM)
        if not exited.wait(DESTROY_GRACE):
            if graceful:
                raise failed(f"domain '{g.name}' did not stop within {DESTROY_GRACE:g}s of "
                             f"SIGTERM (pid {g.pid}); destroy it without the graceful flag")
            self._signal(g, signal.SIGKILL)
            if not exited.wait(10.0):
                raise failed(f"domain '{g.name}' did not stop (pid {g.pid})")


def _accel(dom: Domain) -> str:
    if dom.type == "kvm":
        if not capsmod.kvm_usable():
            raise VirtError(
                ErrorCode.CONFIG_UNSUPPORTED,
                f"unsupported configuration: domain '{dom.name}' has type 'kvm' but /dev/kvm "
                f"cannot be used on this host (use type 'qemu' for emulation)",
                ErrorDomain.QEMU,
            )
        return "kvm"
    if dom.type == "qemu":
        return "tcg"
    raise VirtError(ErrorCode.CONFIG_UNSUPPORTED,
                    f"unsupported configuration: domain type '{dom.type}' (qemu or kvm)",
                    ErrorDomain.QEMU)


def _vnc_port(dom: Domain) -> int | None:
    if dom.devices is None:
        return None
    for g in dom.devices.graphics:
        if g.type == "vnc" and (g.port is None or g.port < 5900) and g.socket is None:
            for port in range(5900, 6900):
                with socket.socket() as s:
                    try:
                        s.bind(("127.0.0.1", port))
                    except OSError:
                        continue
                    return port
    return None


def _qemu_error(logpath: Path, offset: int) -> str:
    """QEMU's own error lines from the log written since ``offset``."""
    try:
        with open(logpath, "rb") as f:
            f.seek(offset)
            text = f.read(64 * 1024).decode(errors="replace")
    except OSError:
        return "QEMU failed to start (its log cannot be read)"
    lines = [ln for ln in text.splitlines()[2:] if ln.strip()]
    errs = [ln for ln in lines if "qemu-system" in ln or "error" in ln.lower()]
    msg = (errs or lines or ["QEMU exited without saying why"])[-1]
    # drop the timestamp prefix "2024-01-01T00:00:00.000000Z "
    if len(msg) > 28 and msg[4] == "-" and msg[10] == "T":
        msg = msg.split(" ", 1)[-1]
    return msg.strip()


def _alive(pid: int, qmp: str) -> bool:
    """True when ``pid`` is a live QEMU using the socket ``qmp`` (guards against pid reuse)."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        if state in (b"Z", b"X"):
            return False
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return qmp.encode() in f.read()
    except OSError:
        return False


def _wait_dead(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
            if state in (b"Z", b"X"):
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitpid(pid, os.WNOHANG)
                return True
        except OSError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)


def _wait_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False
