"""The test driver's migration tuning: downtime, bandwidth, compression cache, post-copy,
and the pre-copy iterations of an outgoing migration.

Settings start at QEMU's defaults (300 ms downtime, 8796093022207 MiB/s, unlimited
post-copy bandwidth, a 64 MiB compression cache) and last until the guest stops. By default
a migration's pre-copy is one iteration; on a connection opened with ``?job_seconds=N`` it is
five iterations over N seconds, shown as a ``migration`` job (``job_info``), each with a
``domain-migration-iteration`` event, and a migration started with ``postcopy`` may be switched
to post-copy (``migrate_start_post_copy``), which ends the iterations at once: the guest's last
pages then follow it in one more step, during which only ``abort_job(postcopy=True)`` may
interrupt the migration (the source is left PAUSED/POSTCOPY_FAILED; virtkit has no post-copy
recovery, and since the test source keeps the whole guest it may simply be resumed).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from virtkit.drivers.test.jobs import ActiveJob
from virtkit.sdk import domain_events as ev
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError, not_running
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef
from virtkit.sdk.states import Op, Transition, transition

if TYPE_CHECKING:
    from virtkit.drivers.test.node import TestDomain, TestNode

MAX_SPEED = 8796093022207  # MiB/s: QEMU's (and libvirt's) "unlimited"
DEFAULTS: dict[str, int] = {"downtime": 300, "speed": MAX_SPEED, "postcopy_speed": 0,
                            "compression_cache": 64 * 1024 * 1024}
ITERATIONS = 5


def _invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, message, ErrorDomain.TEST)


class MigrationTuningMixin:
    """Migration tuning hooks of the test driver."""

    job_seconds: float

    if TYPE_CHECKING:

        @property
        def _node(self) -> TestNode: ...

        def _apply(self, dom: TestDomain, t: Transition) -> None: ...

    @staticmethod
    def _tuning(d: TestDomain) -> dict[str, Any]:
        found: dict[str, Any] = d.runtime.setdefault("migration", dict(DEFAULTS))
        return found

    def _running_dom(self, ref: DomainRef) -> TestDomain:
        d = self._node.find(ref)
        if not d.status.active:
            raise not_running(d.name, ErrorDomain.TEST)
        return d

    @hookimpl
    def virtkit_domain_migrate_get_max_downtime(self, dom: DomainRef) -> int:
        with self._node.lock:
            return int(self._tuning(self._node.find(dom))["downtime"])

    @hookimpl
    def virtkit_domain_migrate_set_max_downtime(self, dom: DomainRef, downtime: int) -> bool:
        with self._node.lock:
            self._tuning(self._running_dom(dom))["downtime"] = downtime
            return True

    @hookimpl
    def virtkit_domain_migrate_get_max_speed(self, dom: DomainRef, postcopy: bool) -> int:
        with self._node.lock:
            return int(self._tuning(self._node.find(dom))[
                "postcopy_speed" if postcopy else "speed"])

    @hookimpl
    def virtkit_domain_migrate_set_max_speed(
        self, dom: DomainRef, bandwidth: int, postcopy: bool
    ) -> bool:
        if bandwidth > MAX_SPEED:
            raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: bandwidth {bandwidth} "
                            f"MiB/s is above the maximum {MAX_SPEED}", ErrorDomain.TEST)
        with self._node.lock:
            d = self._node.find(dom)
            self._tuning(d)["postcopy_speed" if postcopy else "speed"] = bandwidth
            return True

    @hookimpl
    def virtkit_domain_migrate_get_compression_cache(self, dom: DomainRef) -> int:
        with self._node.lock:
            return int(self._tuning(self._node.find(dom))["compression_cache"])

    @hookimpl
    def virtkit_domain_migrate_set_compression_cache(
        self, dom: DomainRef, cache_size: int
    ) -> bool:
        with self._node.lock:
            d = self._running_dom(dom)
            if cache_size > d.current.memory * 1024:
                raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: a compression cache "
                                f"of {cache_size} bytes is larger than domain '{d.name}''s "
                                f"memory", ErrorDomain.TEST)
            self._tuning(d)["compression_cache"] = cache_size
            return True

    @hookimpl
    def virtkit_domain_migrate_start_post_copy(self, dom: DomainRef) -> bool:
        with self._node.lock:
            d = self._running_dom(dom)
            job = d.job
            if job is None or job.operation != "migration":
                raise _invalid(f"domain '{d.name}' is not being migrated")
            if not d.runtime.get("postcopy_allowed"):
                raise _invalid(f"the migration of domain '{d.name}' was not started with "
                               f"post-copy allowed")
            d.runtime["postcopy_started"] = True
            return True

    def _postcopy(self, d: TestDomain) -> None:
        """After a switch to post-copy, the guest's last pages follow it to the destination
        (one step of the job); ``abort_job(postcopy=True)`` interrupts them: the source
        pauses (POSTCOPY_FAILED) and the migration fails."""
        node = self._node
        with node.lock:
            if not d.runtime.get("postcopy_started"):
                return
        time.sleep(self.job_seconds / ITERATIONS)
        with node.lock:
            if d.runtime.get("postcopy_interrupted"):
                self._apply(d, transition(Op.POSTCOPY_FAIL, d.name, d.status))
                raise VirtError(ErrorCode.OPERATION_FAILED, f"operation failed: migration of "
                                f"domain '{d.name}' was interrupted in post-copy mode",
                                ErrorDomain.TEST)

    def _precopy(self, ref: DomainRef, params: dict[str, Any]) -> None:
        """The pre-copy iterations of an outgoing migration (before the source pauses)."""
        node = self._node
        with node.lock:
            d = node.find(ref)
            if not d.status.active:
                return  # offline: only the definition moves
            if self.job_seconds <= 0:
                node.emit(ev.domain_event("domain-migration-iteration", d.ref, iteration=1))
                return
            if d.job is not None:
                raise _invalid(f"domain '{d.name}' already has an active job: "
                               f"{d.job.operation}")
            total = d.memory * 1024
            job = d.job = ActiveJob("migration", total, time.monotonic())
            d.runtime["postcopy_allowed"] = bool(params.get("postcopy"))
            d.runtime.pop("postcopy_started", None)
        try:
            for iteration in range(1, ITERATIONS + 1):
                with node.lock:
                    if d.runtime.get("postcopy_started"):
                        break
                    if job.aborted:
                        raise VirtError(ErrorCode.OPERATION_ABORTED, f"operation aborted: "
                                        f"migration of domain '{d.name}' was aborted",
                                        ErrorDomain.TEST)
                    node.emit(ev.domain_event("domain-migration-iteration", d.ref,
                                              iteration=iteration))
                    job.processed = total * iteration // ITERATIONS
                time.sleep(self.job_seconds / ITERATIONS)
            self._postcopy(d)
        finally:
            with node.lock:
                if d.job is job:
                    d.job = None
                for key in ("postcopy_allowed", "postcopy_started", "postcopy_interrupted"):
                    d.runtime.pop(key, None)
