"""Jobs of the test driver: progress and abort for save and managed save.

By default a job's data moves at once, as in libvirt's test driver. A connection opened with
``?job_seconds=N`` (0 < N <= 600) makes each job take N seconds in 50 steps, with the node's lock
released between steps, so that another thread sees its progress in ``job_info`` and can abort
it; an aborted job raises OPERATION_ABORTED and leaves the domain as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef, JobInfo

if TYPE_CHECKING:
    from virtkit.drivers.test.node import TestDomain, TestNode
    from virtkit.sdk.driver import DriverContext

STEPS = 50
BOUNDED, COMPLETED, CANCELLED = 1, 3, 5


@attrs.define
class ActiveJob:
    operation: str
    total: int
    started: float
    processed: int = 0
    aborted: bool = False

    def info(self) -> JobInfo:
        return JobInfo(
            BOUNDED,
            int((time.monotonic() - self.started) * 1000),
            self.total,
            self.processed,
            self.total - self.processed,
            self.operation,
        )


def job_seconds(context: DriverContext) -> float:
    """The ``job_seconds`` URI parameter; INVALID_ARG naming it when it is not 0..600."""
    text = context.uri.param("job_seconds")
    if text is None:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 600:
        raise VirtError(
            ErrorCode.INVALID_ARG,
            f"invalid argument: job_seconds must be a number of seconds from 0 to 600, "
            f"not '{text}'",
            ErrorDomain.TEST,
        )
    return value


class JobMixin:
    """Job hooks of :class:`~virtkit.drivers.test.driver.TestDriver` and the job runner."""

    job_seconds: float = 0.0

    if TYPE_CHECKING:

        @property
        def _node(self) -> TestNode: ...

    def _run_job(
        self, ref: DomainRef, operation: str, total: int, check: Callable[[TestDomain], Any]
    ) -> None:
        """Move a job's data: at once, or over ``job_seconds`` with progress and abort.

        ``check(domain)`` raises when the operation is not allowed; it runs before the job.
        Raises OPERATION_ABORTED when the job was aborted; the domain is then unchanged.
        """
        node = self._node
        with node.lock:
            dom = node.find(ref)
            check(dom)
            if self.job_seconds <= 0:
                return
            if dom.job is not None:
                raise VirtError(
                    ErrorCode.OPERATION_INVALID,
                    f"domain '{dom.name}' already has an active job: {dom.job.operation}",
                    ErrorDomain.TEST,
                )
            job = dom.job = ActiveJob(operation, total, time.monotonic())
        try:
            for step in range(1, STEPS + 1):
                time.sleep(self.job_seconds / STEPS)
                with node.lock:
                    if job.aborted:
                        dom.last_job = attrs.evolve(job.info(), type=CANCELLED)
                        raise VirtError(
                            ErrorCode.OPERATION_ABORTED,
                            f"operation aborted: {operation} of domain '{dom.name}' was "
                            f"aborted",
                            ErrorDomain.TEST,
                        )
                    job.processed = total * step // STEPS
        finally:
            with node.lock:
                if dom.job is job:
                    dom.job = None

    @hookimpl
    def virtkit_domain_get_job_info(self, dom: DomainRef) -> JobInfo:
        with self._node.lock:
            d = self._node.find(dom)
            if d.job is not None:
                active: JobInfo = d.job.info()
                return active
            last: JobInfo | None = d.last_job
            return last if last is not None else JobInfo(0)

    @hookimpl
    def virtkit_domain_abort_job(self, dom: DomainRef) -> bool:
        with self._node.lock:
            d = self._node.find(dom)
            if d.job is None:
                raise VirtError(
                    ErrorCode.OPERATION_INVALID,
                    f"no job is active on domain '{d.name}'",
                    ErrorDomain.TEST,
                )
            if d.job.operation == "migration" and d.runtime.get("postcopy_started"):
                raise VirtError(
                    ErrorCode.OPERATION_INVALID,
                    f"cannot abort migration of domain '{d.name}' in post-copy mode",
                    ErrorDomain.TEST,
                )
            d.job.aborted = True
            return True

    @hookimpl
    def virtkit_domain_abort_job_postcopy(self, dom: DomainRef) -> bool:
        with self._node.lock:
            d = self._node.find(dom)
            job = d.job
            if job is None or job.operation != "migration" or not d.runtime.get(
                "postcopy_started"
            ):
                raise VirtError(
                    ErrorCode.OPERATION_INVALID,
                    f"current job of domain '{d.name}' is not outgoing migration in post-copy "
                    f"mode",
                    ErrorDomain.TEST,
                )
            d.runtime["postcopy_interrupted"] = True
            return True
