"""vSphere tasks as virtkit jobs: waiting with progress, job info, and cancellation.

Every long vSphere call (power on, create, clone, snapshot, reconfigure) returns a Task. The
driver waits for it here, so that ``domain_get_job_info`` reports the running task's progress
(``data_processed`` of ``data_total`` = percent of 100) and ``domain_abort_job`` cancels it with
``CancelTask``; a cancelled task ends the waiting call with OPERATION_ABORTED.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.records import JobInfo
from virtkit_vmware.session import Session, esx_error, fault_error

NONE, BOUNDED, UNBOUNDED, COMPLETED, FAILED, CANCELLED = range(6)


@attrs.define
class Job:
    task: Any
    operation: str
    started: float
    ended: float | None = None
    progress: int = 0
    outcome: int = BOUNDED
    cancelable: bool = True


class Jobs:
    """The current (or last) job of each domain, by uuid."""

    def __init__(self, session: Session, poll: float = 0.05) -> None:
        self.session = session
        self.poll = poll
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}

    def wait(self, task: Any, what: str, domain: str | None = None) -> Any:
        """Wait for ``task``; its result, or the VirtError its fault means."""
        job = Job(task, what, time.monotonic())
        if domain is not None:
            with self._lock:
                self._jobs[domain] = job
        delay = 0.0
        while True:
            info = self._info(task, what)
            state = str(info.state)
            job.progress = int(info.progress or 0)
            job.cancelable = bool(info.cancelable) if info.cancelable is not None else True
            if state == "success":
                job.outcome, job.ended, job.progress = COMPLETED, time.monotonic(), 100
                return info.result
            if state == "error":
                job.ended = time.monotonic()
                err = fault_error(info.error, what) if info.error is not None else esx_error(
                    ErrorCode.OPERATION_FAILED, f"{what}: the task failed")
                job.outcome = CANCELLED if err.code == ErrorCode.OPERATION_ABORTED else FAILED
                if job.outcome == CANCELLED:
                    raise VirtError(ErrorCode.OPERATION_ABORTED,
                                    f"operation aborted: {what}: the job was cancelled",
                                    ErrorDomain.ESX)
                raise err
            time.sleep(delay)
            delay = min(0.5, delay + self.poll)

    def _info(self, task: Any, what: str) -> Any:
        """The task's state, progress, result and error, read as property paths (the whole
        ``info`` may hold an entity pyvmomi cannot type, such as a snapshot)."""
        from types import SimpleNamespace

        from pyVmomi import vim, vmodl

        PF = vmodl.query.PropertyCollector
        paths = ["info.state", "info.progress", "info.cancelable", "info.error", "info.result"]
        spec = PF.FilterSpec(objectSet=[PF.ObjectSpec(obj=task, skip=False)],
                             propSet=[PF.PropertySpec(type=vim.Task, pathSet=paths)])
        pc = self.session.content.propertyCollector
        result = self.session.call(what, lambda: pc.RetrievePropertiesEx([spec],
                                                                           PF.RetrieveOptions()))
        props = {p.name: p.val for p in result.objects[0].propSet or ()} if result else {}
        return SimpleNamespace(**{k.split(".")[1]: props.get(k) for k in paths})

    def info(self, domain: str) -> JobInfo:
        with self._lock:
            job = self._jobs.get(domain)
        if job is None:
            return JobInfo(NONE)
        end = job.ended if job.ended is not None else time.monotonic()
        elapsed = int((end - job.started) * 1000)
        kind = job.outcome
        return JobInfo(kind, elapsed, 100, job.progress, 100 - job.progress, job.operation)

    def abort(self, domain: str, name: str) -> None:
        with self._lock:
            job = self._jobs.get(domain)
        if job is None or job.ended is not None:
            raise VirtError(ErrorCode.OPERATION_INVALID,
                            f"no job is active on domain '{name}'", ErrorDomain.DOMAIN)
        if not job.cancelable:
            raise VirtError(ErrorCode.OPERATION_INVALID,
                            f"the job of domain '{name}' ({job.operation}) cannot be cancelled",
                            ErrorDomain.DOMAIN)
        self.session.call(f"cancelling the job of domain '{name}'", job.task.CancelTask)
