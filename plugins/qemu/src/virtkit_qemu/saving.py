"""Save, restore and managed save: QEMU migrates the guest into a file whose header carries the
domain XML (:mod:`virtkit_qemu.saveimage`); jobs with progress and abort.

Saving pauses the guest, passes QEMU the open file (QMP ``getfd``, positioned after the header),
runs ``migrate`` to it at full speed, polls progress into the job record, then ends the process.
An abort cancels the migration and leaves the guest as it was. Restoring starts QEMU with
``-incoming defer`` and feeds it the file from the offset after the header.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import TYPE_CHECKING, Any

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef, JobInfo
from virtkit.sdk.states import DomainState, Op, transition
from virtkit_qemu import saveimage
from virtkit_qemu.host import Guest, failed, invalid

if TYPE_CHECKING:
    from virtkit_qemu.host import QemuHost
    from virtkit_qemu.monitor import Monitor

JOB_UNBOUNDED = 2
JOB_COMPLETED = 3
JOB_FAILED = 4
JOB_CANCELLED = 5
BANDWIDTH = 1 << 40  # bytes/s: save at full speed (QEMU's default is 32 MiB/s)


class SaveMixin:
    if TYPE_CHECKING:  # provided by the driver
        @property
        def host(self) -> QemuHost: ...

        def _find(self, ref: DomainRef) -> Guest: ...

        def _canonical(self, dom: Any) -> Any: ...

        def _check_unique(self, new: Any) -> Guest | None: ...

    # -- the migration to a file, shared by save, managed save and snapshots ---------------------

    def migrate_to_file(self, g: Guest, mon: Monitor, path: str, header: bytes,
                        operation: str) -> None:
        """Write ``header`` then the guest's state to ``path`` (the guest stays paused)."""
        g.job_abort = threading.Event()
        g.job_started = time.monotonic()
        g.last_job = JobInfo(JOB_UNBOUNDED, operation=operation)
        tmp = f"{path}.part"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise VirtError(ErrorCode.SYSTEM_ERROR,
                            f"cannot write save image '{path}' of domain '{g.name}': "
                            f"{exc.strerror}", ErrorDomain.QEMU) from None
        ok = False
        try:
            os.write(fd, header)
            mon.send_fd(fd, "migrate")
            os.close(fd)
            fd = -1
            mon.execute("migrate-set-parameters", {"max-bandwidth": BANDWIDTH})
            mon.execute("migrate", {"uri": "fd:migrate"})
            while True:
                info = mon.execute("query-migrate")
                status = info.get("status")
                ram = info.get("ram", {})
                elapsed = int((time.monotonic() - g.job_started) * 1000)
                g.last_job = JobInfo(JOB_UNBOUNDED, elapsed, int(ram.get("total", 0)),
                                     int(ram.get("transferred", 0)),
                                     int(ram.get("remaining", 0)), operation)
                if status == "completed":
                    break
                if status in ("failed", "cancelled"):
                    if g.job_abort.is_set():
                        raise VirtError(ErrorCode.OPERATION_ABORTED,
                                        f"operation aborted: {operation} of domain "
                                        f"'{g.name}' was aborted", ErrorDomain.QEMU)
                    raise failed(f"{operation} of domain '{g.name}' failed: "
                                 f"{info.get('error-desc', status)}")
                if g.job_abort.is_set():
                    with contextlib.suppress(Exception):
                        mon.execute("migrate_cancel")
                time.sleep(0.005)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
            ok = True
            total = g.last_job.data_total
            g.last_job = JobInfo(JOB_COMPLETED, int((time.monotonic() - g.job_started) * 1000),
                                 total, total, 0, operation)
        finally:
            if fd >= 0:
                os.close(fd)
            if not ok:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                status = JOB_CANCELLED if g.job_abort.is_set() else JOB_FAILED
                g.last_job = attrs.evolve(g.last_job, type=status)
            g.job_abort = None

    def _save(self, dom: DomainRef, path: str, xml: str | None, start_state: str | None,
              op: Op) -> None:
        host = self.host
        with host.lock:
            g = self._find(dom)
            transition(op, g.name, g.status)  # checks: active (and persistent for managed)
            mon = self._active_monitor(g)  # type: ignore[attr-defined]
            definition = g.current if xml is None else self._canonical(
                _parse(xml))
            if (definition.name, str(definition.uuid)) != (g.name, g.uuid):
                raise invalid(f"the XML given for saving domain '{g.name}' names another "
                              f"domain")
            was_paused = g.status.state is DomainState.PAUSED
            paused = was_paused if start_state is None else start_state == "paused"
            header = saveimage.header(definition.to_xml(), paused, g.name, g.uuid)
            if not was_paused:
                mon.execute("stop")
        try:
            self.migrate_to_file(g, mon, path, header,
                                 "managed save" if op is Op.MANAGED_SAVE else "save")
        except BaseException:
            if not was_paused:
                with contextlib.suppress(Exception):
                    mon.execute("cont")
            raise
        host.stop(g, op, quit_first=True)
        if op is Op.MANAGED_SAVE:
            with host.lock:
                g.status = attrs.evolve(g.status, has_managed_save=True)

    @hookimpl
    def virtkit_domain_save(
        self, dom: DomainRef, path: str, xml: str | None, start_state: str | None
    ) -> bool:
        self._save(dom, path, xml, start_state, Op.SAVE)
        return True

    @hookimpl
    def virtkit_domain_managed_save(self, dom: DomainRef, start_state: str | None) -> bool:
        with self.host.lock:
            g = self._find(dom)
            path = str(self.host.paths.managed_save(g.name))
        self._save(dom, path, None, start_state, Op.MANAGED_SAVE)
        return True

    @hookimpl
    def virtkit_domain_managed_save_remove(self, dom: DomainRef) -> bool:
        host = self.host
        with host.lock:
            g = self._find(dom)
            t = transition(Op.MANAGED_SAVE_REMOVE, g.name, g.status)
            with contextlib.suppress(FileNotFoundError):
                host.paths.managed_save(g.name).unlink()
            g.status = t.status or g.status
            return True

    def restore_into(self, g: Guest | None, path: str, xml: str | None, paused: bool | None,
                     managed: bool = False) -> Guest:
        """Start a guest from the save image ``path`` (caller holds the lock)."""
        host = self.host
        record, offset = saveimage.read_header(path)
        try:
            saved = self._canonical(_parse(record["xml"]))
        except VirtError:
            raise invalid(f"save image '{path}' holds an unusable domain XML") from None
        definition = saved if xml is None else self._canonical(_parse(xml))
        if (definition.name, str(definition.uuid)) != (saved.name, str(saved.uuid)):
            raise invalid(f"the XML given to restore '{path}' names another domain")
        start_paused = bool(record["paused"]) if paused is None else paused
        if g is None:
            g = self._check_unique(definition)
        if managed:
            assert g is not None
            t = transition(Op.CREATE, g.name, g.status, paused=start_paused)
        else:
            t = transition(Op.RESTORE, definition.name, None if g is None else g.status,
                           paused=start_paused)
        if g is None:
            from virtkit.sdk.states import DomainStatus

            g = Guest(definition.name, str(definition.uuid), None,
                      DomainStatus(persistent=False))
        host.launch(g, definition, paused=start_paused, incoming=(path, offset))
        host.guests[g.uuid] = g
        image = host.paths.managed_save(g.name)
        if managed or g.status.has_managed_save:
            with contextlib.suppress(FileNotFoundError):
                image.unlink()
        host.apply(g, t)
        return g

    @hookimpl
    def virtkit_domain_restore(
        self, path: str, xml: str | None, start_state: str | None
    ) -> DomainRef:
        paused = None if start_state is None else start_state == "paused"
        with self.host.lock:
            return self.restore_into(None, path, xml, paused).ref

    # -- jobs ---------------------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_get_job_info(self, dom: DomainRef) -> JobInfo:
        with self.host.lock:
            return self._find(dom).last_job

    @hookimpl
    def virtkit_domain_abort_job(self, dom: DomainRef) -> bool:
        with self.host.lock:
            g = self._find(dom)
            if g.job_abort is None:
                raise invalid(f"no job is active on domain '{g.name}'")
            g.job_abort.set()
            return True


def _parse(xml: str) -> Any:
    from virtkit_qemu.driver import parse

    return parse(xml)
