"""A fake XenAPI server, **for tests and certification only**: no XCP-ng or XenServer host was
available to this project, so the ``xenapi://`` driver is tested against this.

It speaks XenAPI's XML-RPC wire format as the XenAPI documentation gives it: every call is
``CLASS.method(session, args...)`` (``session.login_with_password(user, password, version,
originator)`` first), every answer a struct ``{"Status": "Success", "Value": ...}`` or
``{"Status": "Failure", "ErrorDescription": [CODE, params...]}``; 64-bit integers travel as
strings, references are ``OpaqueRef:...`` strings (``OpaqueRef:NULL`` for none), times are
XML-RPC dateTime values. ``Async.CLASS.method`` returns a task reference whose record
(``task.get_status``/``get_result``/``get_error_info``/``get_progress``) follows the call;
``event.from(classes, token, timeout)`` returns ``{"events": [...], "valid_ref_counts": {...},
"token": ...}`` and blocks up to ``timeout`` seconds for the next change.

What it models: a pool with one host and its control domain, a local SR with a VDI, an ISO SR,
one network, a template; VMs with XenAPI's power states (Halted, Running, Paused, Suspended) and
the power-state rules of XenAPI's VM lifecycle (start from Halted, pause from Running, unpause
from Paused, suspend from Running, resume from Suspended, clean_shutdown/clean_reboot from
Running, hard_shutdown from Running/Paused/Suspended, hard_reboot from Running/Paused, destroy
from Halted/Suspended; otherwise ``VM_BAD_POWER_STATE [vm, expected, actual]``), snapshots
(``VM.snapshot``, ``VM.checkpoint`` of a running or paused VM, ``VM.revert``, ``VM.destroy``
of a snapshot), VDIs (create, destroy, snapshot with their VM), VBDs and VIFs with
``currently_attached`` (``VM.start`` plugs them all and a stop unplugs them; ``VBD.plug``/
``unplug`` and ``VIF.plug``/``unplug`` only on a Running VM, ``DEVICE_ALREADY_ATTACHED``/
``DEVICE_ALREADY_DETACHED``, no ``destroy`` of a plugged one, ``DEVICE_ALREADY_EXISTS`` for a
``userdevice`` or VIF ``device`` taken; ``VBD.eject``/``insert`` of a CD), networks, and the
consoles of a running VM (``console`` records: vt100 and rfb for a PV guest, rfb for HVM; the
``location`` served on the fake's own port by XenAPI's console protocol, ``CONNECT
/console?ref=R&session_id=S`` then the bytes: a banner, a login prompt, and an echo of what the
client sends). What it does not model: a guest (nothing boots; ``clean_shutdown`` completes at
once; the console is an echo), storage contents, migration, HA, RBAC.
``guest_shutdown(name)`` makes a guest power off "by itself" (as a guest's own poweroff
would), to test events the driver did not cause.

    python -m virtkit_xen.fakexapi [--port N] [--password P]   # serve until interrupted
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import select
import socket
import threading
import time
import urllib.parse
import uuid as uuidlib
from collections.abc import Callable
from socketserver import ThreadingMixIn
from typing import Any
from xmlrpc.client import DateTime, dumps
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

__all__ = ["Failure", "FakeXapi"]

NULL = "OpaqueRef:NULL"

#: XenAPI's VM lifecycle: the power states each operation is allowed from.
ALLOWED: dict[str, tuple[str, ...]] = {
    "start": ("Halted",), "unpause": ("Paused",), "resume": ("Suspended",),
    "pause": ("Running",), "suspend": ("Running",), "clean_shutdown": ("Running",),
    "clean_reboot": ("Running",), "hard_reboot": ("Paused", "Running"),
    "hard_shutdown": ("Paused", "Suspended", "Running"),
    "checkpoint": ("Paused", "Suspended", "Running"), "destroy": ("Halted", "Suspended"),
    "set_memory_limits": ("Halted",), "set_VCPUs_max": ("Halted",),
    "set_VCPUs_at_startup": ("Halted",), "set_VCPUs_number_live": ("Running",),
    "snapshot": ("Halted", "Paused", "Suspended", "Running"),
    "revert": ("Halted", "Paused", "Suspended", "Running"),
}
#: Integer fields (sent as strings on the wire).
INT_FIELDS = ("memory_static_max", "memory_dynamic_max", "memory_dynamic_min",
              "memory_static_min", "VCPUs_max", "VCPUs_at_startup", "user_version")
#: What VM.create requires in its record (the rest take XenAPI's defaults).
VM_REQUIRED = ("name_label", "memory_static_max", "memory_dynamic_max", "memory_dynamic_min",
               "memory_static_min", "VCPUs_max", "VCPUs_at_startup", "actions_after_shutdown",
               "actions_after_reboot", "actions_after_crash", "other_config")


class Failure(Exception):
    """A XenAPI failure: ``ErrorDescription`` is ``[code, *params]``."""

    def __init__(self, *description: str) -> None:
        super().__init__(description[0])
        self.description = [str(d) for d in description]


def _now() -> DateTime:
    return DateTime(datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H:%M:%SZ"))


class _Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/", "/RPC2")
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_CONNECT(self) -> None:
        """XenAPI's console protocol: ``CONNECT /console?ref=R&session_id=S``, ``200``, then
        the console's bytes both ways."""
        fake = self.server.fake
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        with fake.lock:
            fake.calls.append("CONNECT " + url.path)
            con = fake.db.get("console", {}).get(q.get("ref", ""))
            vm = fake.db["VM"].get(con["VM"]) if con is not None else None
            ok_session = q.get("session_id") in fake.sessions
        if url.path != "/console" or not ok_session or con is None or vm is None:
            self.send_error(404 if ok_session else 403)
            return
        self.wfile.write(b"HTTP/1.1 200 OK\r\n\r\n")
        self.wfile.flush()
        fake.serve_console(self.connection, con["VM"],
                           f"fake console of {vm['name_label']} ({con['protocol']})\r\n"
                           f"{vm['name_label']} login: ".encode())
        self.close_connection = True


class _Server(ThreadingMixIn, SimpleXMLRPCServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeXapi


class FakeXapi:
    """The fake server; ``with FakeXapi() as x: x.url`` (an http:// URL on 127.0.0.1)."""

    def __init__(self, user: str = "root", password: str = "xapi-secret", port: int = 0,
                 task_delay: float = 0.01) -> None:
        self.user, self.password, self.task_delay = user, password, task_delay
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.db: dict[str, dict[str, dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.event_seq = itertools.count(1)
        self.sessions: set[str] = set()
        self.calls: list[str] = []  # every method called, in order (tests read it)
        self._domid = itertools.count(1)
        self._closing = False
        self.console_clients = 0
        self._seed()
        self.server = _Server(("127.0.0.1", port), requestHandler=_Handler, logRequests=False,
                              allow_none=False)
        self.server.register_instance(self)
        self.server.fake = self
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread: threading.Thread | None = None

    # -- serving --------------------------------------------------------------------------------

    def start(self) -> FakeXapi:
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                        name="fake-xapi",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self.lock:
            self._closing = True
            self.changed.notify_all()
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeXapi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _dispatch(self, method: str, params: tuple[Any, ...]) -> dict[str, Any]:
        try:
            with self.lock:
                self.calls.append(method)
            if method == "session.login_with_password":
                return _ok(self._login(*params))
            if not params or params[0] not in self.sessions:
                raise Failure("SESSION_INVALID", params[0] if params else "")
            args = params[1:]
            if method == "session.logout":
                with self.lock:
                    self.sessions.discard(params[0])
                return _ok("")
            if method == "event.from":
                return _ok(self._event_from(*args))
            if method.startswith("Async."):
                return _ok(self._async(method[len("Async."):], args))
            with self.lock:
                return _ok(self._call(method, args))
        except Failure as f:
            return {"Status": "Failure", "ErrorDescription": f.description}
        except TypeError as exc:
            return {"Status": "Failure", "ErrorDescription": [
                "MESSAGE_PARAMETER_COUNT_MISMATCH", method, str(exc)]}

    def _login(self, user: str, password: str, version: str = "1.0",
               originator: str = "") -> str:
        if user != self.user or password != self.password:
            raise Failure("SESSION_AUTHENTICATION_FAILED", user,
                          "Authentication failure")
        ref = f"OpaqueRef:{uuidlib.uuid4()}"
        with self.lock:
            self.sessions.add(ref)
        return ref

    # -- the database ---------------------------------------------------------------------------

    def _add(self, cls: str, fields: dict[str, Any], ref: str | None = None) -> str:
        ref = ref or f"OpaqueRef:{uuidlib.uuid4()}"
        rec = {"uuid": str(uuidlib.uuid4()), **fields}
        self.db.setdefault(cls, {})[ref] = rec
        self._event(cls, "add", ref)
        return ref

    def _event(self, cls: str, op: str, ref: str) -> None:
        rec = self.db.get(cls, {}).get(ref)
        ev = {"id": str(next(self.event_seq)), "timestamp": _now(), "class": cls.lower(),
              "operation": op, "ref": ref}
        if rec is not None and op != "del":
            ev["snapshot"] = dict(rec)
        self.events.append(ev)
        self.changed.notify_all()

    def _get(self, cls: str, ref: str) -> dict[str, Any]:
        rec = self.db.get(cls, {}).get(ref)
        if rec is None:
            raise Failure("HANDLE_INVALID", cls, ref)
        return rec

    def _mod(self, cls: str, ref: str, **fields: Any) -> None:
        self._get(cls, ref).update(fields)
        self._event(cls, "mod", ref)

    def _seed(self) -> None:
        with self.lock:
            host = "OpaqueRef:host-0"
            metrics = self._add("host_metrics", {"memory_total": str(64 << 30),
                                                 "memory_free": str(48 << 30), "live": True})
            sr = self._add("SR", {
                "name_label": "Local storage", "name_description": "lvm on /dev/sda3",
                "type": "lvm", "content_type": "user", "shared": False,
                "physical_size": str(500 << 30), "physical_utilisation": str(20 << 30),
                "virtual_allocation": str(20 << 30), "VDIs": [], "PBDs": [],
                "other_config": {}, "sm_config": {}})
            iso = self._add("SR", {
                "name_label": "XCP-ng Tools", "name_description": "tools ISOs", "type": "iso",
                "content_type": "iso", "shared": True, "physical_size": str(1 << 30),
                "physical_utilisation": str(1 << 30), "virtual_allocation": str(1 << 30),
                "VDIs": [], "PBDs": [], "other_config": {}, "sm_config": {}})
            self._vdi(sr, "base-disk", 10 << 30)
            self._vdi(iso, "guest-tools.iso", 50 << 20, read_only=True)
            self._add("network", {
                "name_label": "Pool-wide network associated with eth0",
                "name_description": "", "bridge": "xenbr0", "MTU": "1500", "VIFs": [],
                "PIFs": [], "other_config": {}, "managed": True})
            self._add("host", {
                "name_label": "xcp-ng-fake", "hostname": "xcp-ng-fake",
                "address": "127.0.0.1", "API_version_major": "2", "API_version_minor": "21",
                "software_version": {"product_version": "8.3.0", "xen": "4.17.5-fake",
                                     "platform_name": "XCP", "product_brand": "XCP-ng"},
                "cpu_info": {"cpu_count": "8", "socket_count": "1", "speed": "2400.000",
                             "vendor": "GenuineIntel", "modelname": "fake"},
                "metrics": metrics, "resident_VMs": [], "enabled": True}, ref=host)
            self._add("pool", {"name_label": "fake-pool", "master": host,
                               "default_SR": sr, "other_config": {}})
            self._vm({"name_label": "Control domain on host: xcp-ng-fake",
                      "is_control_domain": True, "power_state": "Running", "domid": "0",
                      "memory_static_max": str(4 << 30), "VCPUs_max": "8",
                      "VCPUs_at_startup": "8"})
            self._vm({"name_label": "Other install media", "is_a_template": True,
                      "HVM_boot_policy": "BIOS order"})

    def _vm(self, fields: dict[str, Any]) -> str:
        base: dict[str, Any] = {
            "name_label": "", "name_description": "", "power_state": "Halted", "domid": "-1",
            "is_a_template": False, "is_a_snapshot": False, "is_control_domain": False,
            "snapshot_of": NULL, "snapshots": [], "snapshot_time": DateTime("19700101T00:00:00Z"),
            "snapshot_info": {}, "parent": NULL, "children": [], "user_version": "1",
            "memory_static_max": str(256 << 20), "memory_dynamic_max": str(256 << 20),
            "memory_dynamic_min": str(256 << 20), "memory_static_min": str(256 << 20),
            "VCPUs_max": "1", "VCPUs_at_startup": "1", "VCPUs_params": {},
            "actions_after_shutdown": "destroy", "actions_after_reboot": "restart",
            "actions_after_crash": "restart", "PV_bootloader": "", "PV_kernel": "",
            "PV_ramdisk": "", "PV_args": "", "PV_bootloader_args": "", "PV_legacy_args": "",
            "HVM_boot_policy": "", "HVM_boot_params": {}, "platform": {}, "PCI_bus": "",
            "other_config": {}, "recommendations": "", "VBDs": [], "VIFs": [],
            "resident_on": NULL, "current_operations": {}, "allowed_operations": [],
            "consoles": [],
            "domain_type": "hvm", "tags": [], "blocked_operations": {}, "suspend_VDI": NULL,
        }
        base.update(fields)
        if base["HVM_boot_policy"] == "" and "domain_type" not in fields:
            base["domain_type"] = "pv"
        return self._add("VM", base)

    def _vdi(self, sr: str, name: str, size: int, read_only: bool = False,
             extra: dict[str, Any] | None = None) -> str:
        ref = self._add("VDI", {
            "name_label": name, "name_description": "", "SR": sr, "virtual_size": str(size),
            "physical_utilisation": str(size // 4), "type": "user", "sharable": False,
            "read_only": read_only, "managed": True, "VBDs": [], "is_a_snapshot": False,
            "snapshot_of": NULL, "snapshots": [], "other_config": {}, "sm_config": {},
            "location": str(uuidlib.uuid4()), **(extra or {})})
        self._get("SR", sr)["VDIs"].append(ref)
        return ref

    # -- generic accessors ----------------------------------------------------------------------

    def _call(self, method: str, args: tuple[Any, ...]) -> Any:
        cls, _, name = method.partition(".")
        special = getattr(self, f"_{cls}_{name}", None)
        if special is not None:
            return special(*args)
        if cls not in self.db and cls not in ("VM", "VDI", "VBD", "VIF", "network", "SR",
                                              "task", "pool", "host", "host_metrics",
                                              "console"):
            raise Failure("MESSAGE_METHOD_UNKNOWN", method)
        table = self.db.setdefault(cls, {})
        if name == "get_all":
            return list(table)
        if name == "get_all_records":
            return {r: dict(v) for r, v in table.items()}
        if name == "get_record":
            return dict(self._get(cls, args[0]))
        if name == "get_by_uuid":
            for r, v in table.items():
                if v["uuid"] == args[0]:
                    return r
            raise Failure("UUID_INVALID", cls, args[0])
        if name == "get_by_name_label":
            return [r for r, v in table.items() if v.get("name_label") == args[0]]
        if name.startswith("get_"):
            rec = self._get(cls, args[0])
            field = name[4:]
            if field not in rec:
                raise Failure("MESSAGE_METHOD_UNKNOWN", method)
            return rec[field]
        if name in ("set_name_label", "set_name_description"):
            self._mod(cls, args[0], **{name[4:]: str(args[1])})
            return ""
        if name == "set_other_config":
            self._mod(cls, args[0], other_config=dict(args[1]))
            return ""
        if name == "add_to_other_config":
            rec = self._get(cls, args[0])
            if args[1] in rec["other_config"]:
                raise Failure("MAP_DUPLICATE_KEY", cls, "other_config", args[0], args[1])
            rec["other_config"][args[1]] = str(args[2])
            self._event(cls, "mod", args[0])
            return ""
        if name == "remove_from_other_config":
            self._get(cls, args[0])["other_config"].pop(args[1], None)
            self._event(cls, "mod", args[0])
            return ""
        raise Failure("MESSAGE_METHOD_UNKNOWN", method)

    def _async(self, method: str, args: tuple[Any, ...]) -> str:
        with self.lock:
            task = self._add("task", {
                "name_label": f"Async.{method}", "name_description": "", "status": "pending",
                "progress": 0.0, "result": "", "error_info": [], "created": _now(),
                "finished": DateTime("19700101T00:00:00Z"), "other_config": {}})

        def run() -> None:
            time.sleep(self.task_delay)
            with self.lock:
                try:
                    value = self._call(method, args)
                    result = dumps((value,)).replace("<params>", "").replace(
                        "</params>", "").replace("<param>", "").replace("</param>", "").strip()
                    self._mod("task", task, status="success", progress=1.0, result=result,
                              finished=_now())
                except Failure as f:
                    self._mod("task", task, status="failure", progress=1.0,
                              error_info=f.description, finished=_now())

        threading.Thread(target=run, daemon=True).start()
        return task

    def _event_from(self, classes: list[str], token: str, timeout: float) -> dict[str, Any]:
        want = {c.lower() for c in classes}
        since = int(token) if token else 0
        deadline = time.monotonic() + float(timeout)
        with self.lock:
            while True:
                if since == 0 and token == "":
                    # an empty token: the current state of every object, as "add" events
                    out = []
                    for cls, table in self.db.items():
                        if "*" in want or cls.lower() in want:
                            out += [{"id": "0", "timestamp": _now(), "class": cls.lower(),
                                     "operation": "add", "ref": r, "snapshot": dict(v)}
                                    for r, v in table.items()]
                    return {"events": out, "valid_ref_counts": {},
                            "token": f"{len(self.events):020d}"}
                fresh = [e for e in self.events[since:]
                         if "*" in want or e["class"] in want]
                left = deadline - time.monotonic()
                if fresh or left <= 0 or self._closing:
                    return {"events": fresh, "valid_ref_counts": {},
                            "token": f"{len(self.events):020d}"}
                self.changed.wait(left)

    # -- VM ---------------------------------------------------------------------------------------

    def _check_power(self, vm: str, op: str) -> dict[str, Any]:
        rec = self._get("VM", vm)
        if rec["is_a_template"] and op not in ("destroy",):
            raise Failure("VM_IS_TEMPLATE", vm, op)
        allowed = ALLOWED.get(op)
        if allowed and rec["power_state"] not in allowed:
            raise Failure("VM_BAD_POWER_STATE", vm, ", ".join(a.lower() for a in allowed),
                          rec["power_state"].lower())
        return rec

    def _VM_create(self, record: dict[str, Any]) -> str:
        for key in VM_REQUIRED:
            if key not in record:
                raise Failure("FIELD_TYPE_ERROR", key)
        for key in INT_FIELDS:
            if key in record and not (isinstance(record[key], str)
                                      and record[key].lstrip("-").isdigit()):
                raise Failure("FIELD_TYPE_ERROR", key)
        _memory_ok(record)
        if int(record["VCPUs_at_startup"]) > int(record["VCPUs_max"]) or \
                int(record["VCPUs_at_startup"]) < 1:
            raise Failure("VCPU_CONSTRAINT_VIOLATION", "VCPUs_at_startup > VCPUs_max")
        fields = {k: v for k, v in record.items()
                  if k not in ("uuid", "power_state", "domid", "snapshots", "VBDs", "VIFs",
                               "consoles")}
        return self._vm(fields)

    def _VM_destroy(self, vm: str) -> str:
        rec = self._check_power(vm, "destroy")
        if rec["is_control_domain"]:
            raise Failure("OPERATION_NOT_ALLOWED", "cannot destroy the control domain")
        for vbd in list(rec["VBDs"]):
            self._VBD_destroy(vbd)
        for vif in list(rec["VIFs"]):
            self._VIF_destroy(vif)
        if rec["is_a_snapshot"]:
            of = self.db["VM"].get(rec["snapshot_of"])
            if of is not None:
                of["snapshots"] = [s for s in of["snapshots"] if s != vm]
                self._event("VM", "mod", rec["snapshot_of"])
        del self.db["VM"][vm]
        self._event("VM", "del", vm)
        return ""

    def _power(self, vm: str, op: str, state: str, **fields: Any) -> str:
        rec = self._check_power(vm, op)
        if state in ("Running", "Paused") and rec["domid"] == "-1":
            fields.setdefault("domid", str(next(self._domid)))
            fields.setdefault("resident_on", "OpaqueRef:host-0")
        if state in ("Halted", "Suspended"):
            fields.update(domid="-1", resident_on=NULL)
        # a guest that starts has every VBD and VIF plugged and its consoles; one that stops
        # none
        attached = state in ("Running", "Paused")
        if attached and not rec["consoles"]:
            # a PV guest's text console (vt100) and a VNC one (rfb); an HVM guest's VNC only
            kinds = ("rfb",) if rec["domain_type"] == "hvm" else ("vt100", "rfb")
            rec["consoles"] = [self._console(vm, kind) for kind in kinds]
        if not attached:
            for con in rec["consoles"]:
                del self.db["console"][con]
                self._event("console", "del", con)
            rec["consoles"] = []
        for cls in ("VBD", "VIF"):
            for ref in rec[f"{cls}s"]:
                if self._get(cls, ref)["currently_attached"] != attached:
                    self._mod(cls, ref, currently_attached=attached)
        self._mod("VM", vm, power_state=state, **fields)
        return ""

    def _console(self, vm: str, protocol: str) -> str:
        ref = f"OpaqueRef:{uuidlib.uuid4()}"
        return self._add("console", {"protocol": protocol, "VM": vm, "other_config": {},
                                     "location": f"{self.url}console?ref={ref}"}, ref=ref)

    def serve_console(self, conn: socket.socket, vm: str, banner: bytes) -> None:
        """Send ``banner``, then echo what the client sends until it closes, the VM stops or
        the server does (``console_clients`` counts the connections being served)."""
        with self.lock:
            self.console_clients += 1
        try:
            try:
                conn.sendall(banner)
            except OSError:
                return
            while True:
                with self.lock:
                    rec = self.db["VM"].get(vm)
                    if self._closing or rec is None or not rec["consoles"]:
                        return
                try:
                    if not select.select([conn], [], [], 0.1)[0]:
                        continue
                    data = conn.recv(4096)
                    if not data:
                        return
                    conn.sendall(data)
                except OSError:
                    return
        finally:
            with self.lock:
                self.console_clients -= 1

    def _VM_start(self, vm: str, start_paused: bool, force: bool) -> str:
        return self._power(vm, "start", "Paused" if start_paused else "Running")

    def _VM_pause(self, vm: str) -> str:
        return self._power(vm, "pause", "Paused")

    def _VM_unpause(self, vm: str) -> str:
        return self._power(vm, "unpause", "Running")

    def _VM_clean_shutdown(self, vm: str) -> str:
        return self._power(vm, "clean_shutdown", "Halted")

    def _VM_hard_shutdown(self, vm: str) -> str:
        return self._power(vm, "hard_shutdown", "Halted", suspend_VDI=NULL)

    def _VM_clean_reboot(self, vm: str) -> str:
        return self._power(vm, "clean_reboot", "Running", domid=str(next(self._domid)))

    def _VM_hard_reboot(self, vm: str) -> str:
        rec = self._get("VM", vm)
        return self._power(vm, "hard_reboot", rec["power_state"], domid=str(next(self._domid)))

    def _VM_suspend(self, vm: str) -> str:
        return self._power(vm, "suspend", "Suspended", suspend_VDI=f"OpaqueRef:{uuidlib.uuid4()}")

    def _VM_resume(self, vm: str, start_paused: bool, force: bool) -> str:
        return self._power(vm, "resume", "Paused" if start_paused else "Running",
                           suspend_VDI=NULL)

    def _VM_set_memory_limits(self, vm: str, smin: str, smax: str, dmin: str, dmax: str) -> str:
        self._check_power(vm, "set_memory_limits")
        rec = {"memory_static_min": smin, "memory_static_max": smax,
               "memory_dynamic_min": dmin, "memory_dynamic_max": dmax}
        _memory_ok(rec)
        self._mod("VM", vm, **rec)
        return ""

    def _VM_set_memory_dynamic_range(self, vm: str, dmin: str, dmax: str) -> str:
        rec = dict(self._get("VM", vm))
        rec.update(memory_dynamic_min=dmin, memory_dynamic_max=dmax)
        _memory_ok(rec)
        self._mod("VM", vm, memory_dynamic_min=str(dmin), memory_dynamic_max=str(dmax))
        return ""

    def _VM_set_VCPUs_max(self, vm: str, n: str) -> str:
        rec = self._check_power(vm, "set_VCPUs_max")
        if int(n) < int(rec["VCPUs_at_startup"]):
            raise Failure("VCPU_CONSTRAINT_VIOLATION", "VCPUs_max < VCPUs_at_startup")
        self._mod("VM", vm, VCPUs_max=str(n))
        return ""

    def _VM_set_VCPUs_at_startup(self, vm: str, n: str) -> str:
        rec = self._check_power(vm, "set_VCPUs_at_startup")
        if not 1 <= int(n) <= int(rec["VCPUs_max"]):
            raise Failure("VCPU_CONSTRAINT_VIOLATION", "VCPUs_at_startup > VCPUs_max")
        self._mod("VM", vm, VCPUs_at_startup=str(n))
        return ""

    def _VM_set_VCPUs_number_live(self, vm: str, n: str) -> str:
        rec = self._check_power(vm, "set_VCPUs_number_live")
        if not 1 <= int(n) <= int(rec["VCPUs_max"]):
            raise Failure("VCPU_CONSTRAINT_VIOLATION", "more VCPUs than VCPUs_max")
        self._mod("VM", vm, VCPUs_at_startup=str(n))
        return ""

    def _VM_set_actions_after_shutdown(self, vm: str, v: str) -> str:
        self._mod("VM", vm, actions_after_shutdown=v)
        return ""

    def _VM_set_actions_after_reboot(self, vm: str, v: str) -> str:
        self._mod("VM", vm, actions_after_reboot=v)
        return ""

    def _VM_set_actions_after_crash(self, vm: str, v: str) -> str:
        self._mod("VM", vm, actions_after_crash=v)
        return ""

    def _snap(self, vm: str, name: str, op: str) -> str:
        rec = self._check_power(vm, op)
        if rec["is_a_snapshot"] or rec["is_control_domain"]:
            raise Failure("OPERATION_NOT_ALLOWED", f"cannot {op} this VM")
        fields = {k: v for k, v in rec.items()
                  if k not in ("uuid", "VBDs", "VIFs", "snapshots", "children", "consoles")}
        memory = op == "checkpoint"
        fields.update(
            name_label=name, is_a_snapshot=True, snapshot_of=vm, snapshot_time=_now(),
            power_state="Suspended" if memory else "Halted", domid="-1", resident_on=NULL,
            snapshot_info={"power-state-at-snapshot": rec["power_state"]},
            parent=rec["parent"], other_config=dict(rec["other_config"]),
            suspend_VDI=f"OpaqueRef:{uuidlib.uuid4()}" if memory else NULL)
        snap = self._vm(fields)
        for vbd in rec["VBDs"]:  # the disks are snapshotted with it
            b = self._get("VBD", vbd)
            vdi = b["VDI"]
            if vdi != NULL:
                d = self._get("VDI", vdi)
                vdi = self._vdi(d["SR"], d["name_label"], int(d["virtual_size"]), extra={
                    "is_a_snapshot": True, "snapshot_of": b["VDI"]})
            self._VBD_create({**b, "VM": snap, "VDI": vdi})
        rec["snapshots"].append(snap)
        if rec["parent"] != NULL and rec["parent"] in self.db["VM"]:
            self.db["VM"][rec["parent"]]["children"].append(snap)
        self._mod("VM", vm, parent=snap)
        return snap

    def _VM_snapshot(self, vm: str, name: str, *ignored: Any) -> str:
        return self._snap(vm, name, "snapshot")

    def _VM_checkpoint(self, vm: str, name: str) -> str:
        return self._snap(vm, name, "checkpoint")

    def _VM_revert(self, snapshot: str) -> str:
        s = self._get("VM", snapshot)
        if not s["is_a_snapshot"]:
            raise Failure("ONLY_REVERT_SNAPSHOT")
        vm = s["snapshot_of"]
        rec = self._get("VM", vm)
        keep = ("uuid", "name_label", "VBDs", "VIFs", "snapshots", "children",
                "is_a_snapshot", "snapshot_of", "snapshot_time", "snapshot_info", "parent",
                "power_state", "domid", "resident_on", "suspend_VDI")
        rec.update({k: v for k, v in s.items() if k not in keep})
        state = "Suspended" if s["power_state"] == "Suspended" else "Halted"
        rec.update(power_state=state, domid="-1", resident_on=NULL, parent=snapshot,
                   suspend_VDI=s["suspend_VDI"])
        self._event("VM", "mod", vm)
        return ""

    # -- VDI, VBD, VIF, network, SR -------------------------------------------------------------

    def _VDI_create(self, record: dict[str, Any]) -> str:
        sr = self._get("SR", record.get("SR", NULL))
        size = record.get("virtual_size", "")
        if not (isinstance(size, str) and size.isdigit()):
            raise Failure("FIELD_TYPE_ERROR", "virtual_size")
        used = int(sr["physical_utilisation"])
        if sr["type"] == "iso" or sr["content_type"] == "iso":
            raise Failure("SR_OPERATION_NOT_SUPPORTED", record["SR"])
        if used + int(size) > int(sr["physical_size"]):
            raise Failure("SR_FULL", size, str(int(sr["physical_size"]) - used))
        ref = self._vdi(record["SR"], str(record.get("name_label", "")), int(size),
                        read_only=bool(record.get("read_only", False)),
                        extra={"name_description": str(record.get("name_description", "")),
                               "other_config": dict(record.get("other_config", {})),
                               "sharable": bool(record.get("sharable", False))})
        self._mod("SR", record["SR"], physical_utilisation=str(used + int(size) // 4),
                  virtual_allocation=str(int(sr["virtual_allocation"]) + int(size)))
        return ref

    def _VDI_destroy(self, vdi: str) -> str:
        d = self._get("VDI", vdi)
        if any(self.db["VBD"][b]["VM"] in self.db["VM"]
               and self.db["VM"][self.db["VBD"][b]["VM"]]["power_state"] == "Running"
               for b in d["VBDs"] if b in self.db.get("VBD", {})):
            raise Failure("VDI_IN_USE", vdi, "destroy")
        sr = self._get("SR", d["SR"])
        sr["VDIs"] = [v for v in sr["VDIs"] if v != vdi]
        del self.db["VDI"][vdi]
        self._event("VDI", "del", vdi)
        return ""

    def _VDI_resize(self, vdi: str, size: str) -> str:
        self._mod("VDI", vdi, virtual_size=str(size))
        return ""

    def _SR_scan(self, sr: str) -> str:
        self._get("SR", sr)
        return ""

    def _VBD_create(self, record: dict[str, Any]) -> str:
        vm = self._get("VM", record["VM"])
        if record.get("VDI", NULL) != NULL:
            self._get("VDI", record["VDI"])
        fields = {k: record.get(k, d) for k, d in (
            ("VM", NULL), ("VDI", NULL), ("userdevice", "0"), ("bootable", False),
            ("mode", "RW"), ("type", "Disk"), ("empty", False), ("other_config", {}),
            ("device", ""), ("unpluggable", True))}
        if fields["mode"] not in ("RO", "RW") or fields["type"] not in ("Disk", "CD", "Floppy"):
            raise Failure("FIELD_TYPE_ERROR", "mode" if fields["mode"] not in ("RO", "RW")
                          else "type")
        if any(self._get("VBD", b)["userdevice"] == fields["userdevice"] for b in vm["VBDs"]):
            raise Failure("DEVICE_ALREADY_EXISTS", str(fields["userdevice"]))
        fields["other_config"] = dict(fields["other_config"])
        # XenAPI's VBD.create never plugs: VM.start or VBD.plug does
        fields["currently_attached"] = False
        ref = self._add("VBD", fields)
        vm["VBDs"].append(ref)
        if fields["VDI"] != NULL:
            self._get("VDI", fields["VDI"])["VBDs"].append(ref)
        return ref

    def _plugged(self, cls: str, ref: str, op: str) -> dict[str, Any]:
        """The record of a VBD/VIF to plug or unplug: its VM must be Running (XenAPI's
        hotplug needs the guest), and it must not already be so."""
        dev = self._get(cls, ref)
        vm = self._get("VM", dev["VM"])
        if vm["power_state"] != "Running":
            raise Failure("VM_BAD_POWER_STATE", dev["VM"], "running",
                          vm["power_state"].lower())
        if op == "plug" and dev["currently_attached"]:
            raise Failure("DEVICE_ALREADY_ATTACHED", ref)
        if op == "unplug" and not dev["currently_attached"]:
            raise Failure("DEVICE_ALREADY_DETACHED", ref)
        return dev

    def _VBD_plug(self, vbd: str) -> str:
        number = int(self._plugged("VBD", vbd, "plug")["userdevice"])
        self._mod("VBD", vbd, currently_attached=True, device=f"xvd{chr(97 + number % 26)}")
        return ""

    def _VBD_unplug(self, vbd: str) -> str:
        self._plugged("VBD", vbd, "unplug")
        self._mod("VBD", vbd, currently_attached=False)
        return ""

    def _VBD_eject(self, vbd: str) -> str:
        b = self._get("VBD", vbd)
        if b["type"] != "CD":
            raise Failure("VBD_NOT_REMOVABLE_MEDIA", vbd)
        if b["empty"]:
            raise Failure("VBD_IS_EMPTY", vbd)
        if b["VDI"] in self.db.get("VDI", {}):
            self.db["VDI"][b["VDI"]]["VBDs"].remove(vbd)
        self._mod("VBD", vbd, VDI=NULL, empty=True)
        return ""

    def _VBD_insert(self, vbd: str, vdi: str) -> str:
        b = self._get("VBD", vbd)
        if b["type"] != "CD":
            raise Failure("VBD_NOT_REMOVABLE_MEDIA", vbd)
        if not b["empty"]:
            raise Failure("VBD_NOT_EMPTY", vbd)
        self._get("VDI", vdi)["VBDs"].append(vbd)
        self._mod("VBD", vbd, VDI=vdi, empty=False)
        return ""

    def _VBD_destroy(self, vbd: str) -> str:
        b = self._get("VBD", vbd)
        if b["currently_attached"] and b["VM"] in self.db["VM"]:
            raise Failure("OPERATION_NOT_ALLOWED", "VBD currently attached to a running VM")
        if b["VM"] in self.db["VM"]:
            self.db["VM"][b["VM"]]["VBDs"].remove(vbd)
        if b["VDI"] in self.db.get("VDI", {}):
            self.db["VDI"][b["VDI"]]["VBDs"].remove(vbd)
        del self.db["VBD"][vbd]
        self._event("VBD", "del", vbd)
        return ""

    def _VIF_create(self, record: dict[str, Any]) -> str:
        vm = self._get("VM", record["VM"])
        net = self._get("network", record["network"])
        fields = {k: record.get(k, d) for k, d in (
            ("VM", NULL), ("network", NULL), ("device", "0"), ("MAC", ""), ("MTU", "1500"),
            ("other_config", {}), ("qos_algorithm_type", ""), ("qos_algorithm_params", {}))}
        if any(self._get("VIF", f)["device"] == fields["device"] for f in vm["VIFs"]):
            raise Failure("DEVICE_ALREADY_EXISTS", str(fields["device"]))
        fields["other_config"] = dict(fields["other_config"])
        fields["currently_attached"] = False
        ref = self._add("VIF", fields)
        vm["VIFs"].append(ref)
        net["VIFs"].append(ref)
        return ref

    def _VIF_plug(self, vif: str) -> str:
        self._plugged("VIF", vif, "plug")
        self._mod("VIF", vif, currently_attached=True)
        return ""

    def _VIF_unplug(self, vif: str) -> str:
        self._plugged("VIF", vif, "unplug")
        self._mod("VIF", vif, currently_attached=False)
        return ""

    def _VIF_destroy(self, vif: str) -> str:
        v = self._get("VIF", vif)
        if v["currently_attached"] and v["VM"] in self.db["VM"]:
            raise Failure("OPERATION_NOT_ALLOWED", "VIF currently attached to a running VM")
        if v["VM"] in self.db["VM"]:
            self.db["VM"][v["VM"]]["VIFs"].remove(vif)
        if v["network"] in self.db["network"]:
            self.db["network"][v["network"]]["VIFs"].remove(vif)
        del self.db["VIF"][vif]
        self._event("VIF", "del", vif)
        return ""

    def _network_create(self, record: dict[str, Any]) -> str:
        n = next(self._domid)
        return self._add("network", {
            "name_label": str(record.get("name_label", "")),
            "name_description": str(record.get("name_description", "")),
            "bridge": record.get("bridge") or f"xapi{n}", "MTU": str(record.get("MTU", "1500")),
            "VIFs": [], "PIFs": [], "other_config": dict(record.get("other_config", {})),
            "managed": True})

    def _network_destroy(self, net: str) -> str:
        if self._get("network", net)["VIFs"]:
            raise Failure("NETWORK_CONTAINS_VIF", net)
        del self.db["network"][net]
        self._event("network", "del", net)
        return ""

    def _task_destroy(self, task: str) -> str:
        self._get("task", task)
        del self.db["task"][task]
        self._event("task", "del", task)
        return ""

    # -- for tests: what a guest or another client does -----------------------------------------

    def guest_shutdown(self, name: str) -> None:
        """The guest named ``name`` powers off by itself."""
        with self.lock:
            ref = next(r for r, v in self.db["VM"].items()
                       if v["name_label"] == name and not v["is_a_snapshot"])
            self._power(ref, "clean_shutdown", "Halted")

    def external(self, fn: Callable[[FakeXapi], Any]) -> Any:
        """Run ``fn(self)`` under the server's lock (another client's change)."""
        with self.lock:
            return fn(self)


def _ok(value: Any) -> dict[str, Any]:
    return {"Status": "Success", "Value": value}


def _memory_ok(rec: dict[str, Any]) -> None:
    smin, dmin, dmax, smax = (int(rec[k]) for k in (
        "memory_static_min", "memory_dynamic_min", "memory_dynamic_max", "memory_static_max"))
    if not smin <= dmin <= dmax <= smax:
        raise Failure("MEMORY_CONSTRAINT_VIOLATION",
                      "Memory limits must satisfy: static_min <= dynamic_min <= dynamic_max "
                      "<= static_max")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--user", default="root")
    p.add_argument("--password", default="xapi-secret")
    a = p.parse_args(argv)
    with FakeXapi(a.user, a.password, a.port) as x:
        print(x.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
