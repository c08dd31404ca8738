"""The test driver's screen, input, power management and core dumps.

A screenshot is a PNG (grey, 640x400, with a band per vcpu) of one of the guest's screens
(one per ``<video>`` head, at least one, as libvirt's test driver has). Each ``<graphics
type='vnc'>`` device has a VNC server a client reaches through ``domain_open_graphics``
(libvirt's test driver has none; virtkit's deliberately has one: see :mod:`.vnc`). Keys sent
with the ``linux`` codeset are typed into the guest: letters, digits, space and enter appear on
its console (an open console stream shows them), as a guest's login prompt echoes them; an NMI
makes the guest log ``NMI received`` there. Suspending to memory pauses the guest in
PMSUSPENDED until woken (or until ``duration`` seconds passed); suspending to disk hibernates
it and it powers off. A core dump is a file of mode 0600 with the format's magic (ELF for raw,
``KDUMP`` for kdump formats, ``PAGEDU64`` for win-dmp) followed by a JSON note of the guest's
name, uuid, memory size and definition: the test guest has no memory to dump.
"""

from __future__ import annotations

import json
import struct
import threading
import time
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from virtkit.drivers.test.streams import TestStream, open_stream
from virtkit.drivers.test.vnc import VncStream
from virtkit.sdk import domain_events as ev
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError, not_running
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef, JobInfo
from virtkit.sdk.states import DomainState, EventType, Op, PMSuspendedDetail, transition
from virtkit.sdk.store import atomic_write

if TYPE_CHECKING:
    from collections.abc import Callable

    from virtkit.drivers.test.node import TestDomain, TestNode
    from virtkit.sdk.states import Transition

WIDTH, HEIGHT = 640, 400
#: linux keycodes (input-event-codes.h) of the keys the test guest echoes
LINUX_KEYS: dict[int, str] = {
    **{2 + i: c for i, c in enumerate("1234567890")},
    **{16 + i: c for i, c in enumerate("qwertyuiop")},
    **{30 + i: c for i, c in enumerate("asdfghjkl")},
    **{44 + i: c for i, c in enumerate("zxcvbnm")},
    28: "\r", 57: " ",
}
DUMP_MAGIC = {"raw": b"\x7fELF\x02\x01\x01\x00", "kdump-zlib": b"KDUMP   ",
              "kdump-lzo": b"KDUMP   ", "kdump-snappy": b"KDUMP   ", "kdump-raw": b"KDUMP   ",
              "win-dmp": b"PAGEDU64"}


def png(width: int, height: int, rows: Callable[[int], bytes]) -> bytes:
    """A grey 8-bit PNG whose row ``y`` is ``rows(y)`` (``width`` bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + rows(y) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


class ImageStream(TestStream):
    """A download of bytes held in memory (a screenshot)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def recv(self, stream: int, nbytes: int, timeout: float | None) -> bytes:
        chunk = self.data[self.pos:self.pos + nbytes]
        self.pos += len(chunk)
        return chunk


def _invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, message, ErrorDomain.TEST)


class GraphicsMixin:
    """Screen, input, power management and dump hooks of the test driver."""

    if TYPE_CHECKING:

        @property
        def _node(self) -> TestNode: ...

        def _apply(self, dom: TestDomain, t: Transition) -> None: ...
        def _run_job(self, ref: DomainRef, operation: str, total: int,
                     check: Callable[[TestDomain], Any]) -> None: ...

    def _active(self, ref: DomainRef) -> TestDomain:
        d = self._node.find(ref)
        if not d.status.active:
            raise not_running(d.name, ErrorDomain.TEST)
        return d

    @staticmethod
    def _type(d: TestDomain, text: str) -> None:
        """Show ``text`` on the guest's console, if one is open."""
        console = d.console
        if console is not None and not console.closed:
            console.send(0, text.encode())

    # -- screen and input -----------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_screenshot(self, dom: DomainRef, screen: int) -> int:
        with self._node.lock:
            d = self._active(dom)
            devices = d.current.model.devices
            heads = sum(max(1, getattr(v.model, "heads", None) or 1) if v.model else 1
                        for v in (devices.videos if devices else ())) or 1
            if screen >= heads:
                raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: domain '{d.name}' "
                                f"has {heads} screen(s), not a screen {screen}",
                                ErrorDomain.TEST)
            vcpus = d.current.vcpus
            paused = d.status.state != DomainState.RUNNING
        band = HEIGHT // max(vcpus, 1)
        shade = 0x40 if paused else 0xC0

        def row(y: int) -> bytes:
            return bytes([shade if (y // band) % 2 == 0 else shade // 2]) * WIDTH

        return open_stream(self, ImageStream(png(WIDTH, HEIGHT, row)))

    @hookimpl
    def virtkit_domain_open_graphics(self, dom: DomainRef, idx: int, skipauth: bool) -> int:
        with self._node.lock:
            d = self._active(dom)
            devices = d.current.model.devices
            graphics = devices.graphics if devices else ()
            if idx >= len(graphics):
                raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: domain '{d.name}' "
                                f"has {len(graphics)} graphics device(s), no graphics {idx}",
                                ErrorDomain.TEST)
            kind = graphics[idx].type
            if kind not in ("vnc", "spice"):
                raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: graphics {idx} of "
                                f"domain '{d.name}' is of type '{kind}', which has no server "
                                f"to connect to (only VNC and SPICE have one)",
                                ErrorDomain.TEST)
            if kind != "vnc":
                raise VirtError(ErrorCode.OPERATION_UNSUPPORTED, f"operation unsupported: "
                                f"the test driver serves VNC only, not the {kind} graphics "
                                f"{idx} of domain '{d.name}'", ErrorDomain.TEST)
            passwd = None if skipauth else graphics[idx].passwd
            client = VncStream(d.name, WIDTH, HEIGHT, passwd)
            clients = [c for c in d.runtime.get("graphics", ()) if not c.closed]
            d.runtime["graphics"] = [*clients, client]
            return open_stream(self, client)

    @hookimpl
    def virtkit_domain_send_key(
        self, dom: DomainRef, codeset: str, holdtime: int, keycodes: list[int]
    ) -> bool:
        with self._node.lock:
            d = self._active(dom)
            if d.status.state != DomainState.RUNNING:
                raise _invalid(f"domain '{d.name}' is not running")
            d.runtime.setdefault("keys", []).append((codeset, list(keycodes)))
            if codeset == "linux":
                self._type(d, "".join(LINUX_KEYS.get(k, "") for k in keycodes))
            return True

    @hookimpl
    def virtkit_domain_send_process_signal(self, dom: DomainRef, pid: int, signum: int) -> bool:
        """As libvirt's test driver: only the guest's init (pid 1) can be signalled, and the
        guest carries on (its init ignores the signal); unlike libvirt's, the domain must run."""
        with self._node.lock:
            d = self._active(dom)
            if pid != 1:
                raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: only sending a "
                                f"signal to pid 1 is supported (domain '{d.name}')",
                                ErrorDomain.TEST)
            d.runtime["signals"] = d.runtime.get("signals", 0) + (signum != 0)
            return True

    @hookimpl
    def virtkit_domain_memory_peek(self, dom: DomainRef, start: int, size: int,
                                   physical: bool) -> bytes:
        """The test guest's memory is zeros but for a signature at address 0; it runs with
        paging off, so its virtual addresses are its physical ones (libvirt's test driver has
        no memory peek; virtkit's deliberately has one)."""
        with self._node.lock:
            d = self._active(dom)
            total = d.memory * 1024
            if start + size > total:
                raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: range {start}+{size} "
                                f"is beyond the memory of domain '{d.name}' ({total} bytes)",
                                ErrorDomain.TEST)
            head = f"VIRTKIT-TEST-MEMORY {d.name}".encode()
            data = bytearray(size)
            lo, hi = start, min(start + size, len(head))
            if lo < hi:
                data[0:hi - lo] = head[lo:hi]
            return bytes(data)

    @hookimpl
    def virtkit_domain_inject_nmi(self, dom: DomainRef) -> bool:
        with self._node.lock:
            d = self._active(dom)
            d.runtime["nmis"] = d.runtime.get("nmis", 0) + 1
            self._type(d, "\r\nNMI received\r\n")
            return True

    # -- power management -----------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_pm_suspend(self, dom: DomainRef, target: str, duration: int) -> bool:
        node = self._node
        with node.lock:
            d = node.find(dom)
            ref = d.ref
            if target == "disk":
                t = transition(Op.SHUTDOWN, d.name, d.status)  # checks it is active
                if d.status.state != DomainState.RUNNING:
                    raise _invalid(f"domain '{d.name}' is not running")
                node.emit(ev.domain_event("domain-pm-suspend-disk", ref, reason=0))
                node.emit(ev.domain_event("domain-lifecycle", ref,
                                          event=int(EventType.PMSUSPENDED),
                                          detail=int(PMSuspendedDetail.DISK)))
                self._apply(d, t)
                return True
            t = transition(Op.PMSUSPEND, d.name, d.status)
            node.emit(ev.domain_event("domain-pm-suspend", ref, reason=0))
            self._apply(d, t)
            if duration > 0:
                started = d.started_at

                def wake() -> None:
                    with node.lock:
                        try:
                            cur = node.find(ref)
                        except VirtError:
                            return
                        if cur.started_at == started and \
                                cur.status.state == DomainState.PMSUSPENDED:
                            self._wake(cur)

                timer = threading.Timer(duration, wake)
                timer.daemon = True
                timer.start()
            return True

    def _wake(self, d: TestDomain) -> None:
        t = transition(Op.PMWAKEUP, d.name, d.status)
        self._node.emit(ev.domain_event("domain-pm-wakeup", d.ref, reason=0))
        self._apply(d, t)

    @hookimpl
    def virtkit_domain_pm_wakeup(self, dom: DomainRef) -> bool:
        with self._node.lock:
            d = self._node.find(dom)
            if d.status.state != DomainState.PMSUSPENDED:
                raise _invalid(f"domain '{d.name}' is not suspended to memory")
            self._wake(d)
            return True

    # -- core dumps -----------------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_core_dump(
        self, dom: DomainRef, path: str, format: str, memory_only: bool, live: bool,
        crash: bool, reset: bool,
    ) -> bool:
        if format != "raw" and not memory_only:
            raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: the {format} format "
                            f"is only for memory-only dumps", ErrorDomain.TEST)
        if crash and reset:
            raise VirtError(ErrorCode.INVALID_ARG, "invalid argument: crash and reset are "
                            "mutually exclusive", ErrorDomain.TEST)

        def check(d: TestDomain) -> None:
            if not d.status.active:
                raise not_running(d.name, ErrorDomain.TEST)

        with self._node.lock:
            check(self._node.find(dom))
            size = self._node.find(dom).memory * 1024
        started = time.monotonic()
        self._run_job(dom, "dump", size, check)
        node = self._node
        with node.lock:
            d = node.find(dom)
            check(d)
            note = {"name": d.name, "uuid": d.uuid, "memory_kib": d.memory,
                    "format": format, "memory_only": memory_only, "xml": d.current.xml}
            try:
                atomic_write(Path(path), DUMP_MAGIC[format] + json.dumps(note).encode(), 0o600)
            except OSError as exc:
                raise VirtError(ErrorCode.SYSTEM_ERROR, f"cannot write core dump '{path}' of "
                                f"domain '{d.name}': {exc.strerror}", ErrorDomain.TEST) from None
            elapsed = int((time.monotonic() - started) * 1000)
            d.last_job = JobInfo(3, elapsed, size, size, 0, "dump")
            node.emit(ev.domain_event("domain-job-completed", d.ref, params={
                "type": 3, "operation": 8, "time_elapsed": elapsed, "data_total": size,
                "data_processed": size, "data_remaining": 0}))
            if crash:
                self._apply(d, transition(Op.CRASH, d.name, d.status))
            elif reset:
                self._apply(d, transition(Op.RESET, d.name, d.status))
            return True
