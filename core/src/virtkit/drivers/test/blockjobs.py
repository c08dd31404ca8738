"""The test driver's block devices and block jobs.

Each disk has sizes kept with the domain: libvirt's test driver's figures (capacity
1099506450432, allocation and physical 1099511627776 bytes) until resized; and a backing chain:
a file disk starts with one backing image, ``<source>.base`` (the image it was cloned from), so
that pull and commit have a chain to work on. Its content, as ``block_peek`` reads it, is zeros
with a label (``VIRTKIT-TEST-DISK <target>``) at offset 0 and an MBR boot signature at 510.

Jobs end at once by default: pull and commit complete when started, copy and active commit are
ready. A connection opened with ``?job_seconds=N`` makes a job take N seconds (its ``cur``
grows with time; a timer ends it), so that info, speed and abort can be watched. Merging
images grows the disk's allocation by the size of what was merged (1 GiB an image), which may
fire an armed block threshold.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import attrs

from virtkit.drivers.test.domxml import from_model
from virtkit.sdk import domain_events as ev
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError, not_running
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import BlockInfo, DomainRef
from virtkit.xml.device import parse_device

if TYPE_CHECKING:
    from virtkit.drivers.test.node import TestDomain, TestNode

#: libvirt's test driver's block sizes (virsh domblkinfo test vda)
CAPACITY = 1099506450432
ALLOCATION = PHYSICAL = 1099511627776
IMAGE_SIZE = 1 << 30  # what merging one backing image adds to the allocation


def _invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, message, ErrorDomain.TEST)


def _bad_arg(message: str) -> VirtError:
    return VirtError(ErrorCode.INVALID_ARG, f"invalid argument: {message}", ErrorDomain.TEST)


@attrs.define
class BlockJob:
    """One running block job on one disk."""

    type: int  # domain_events.JOB_*
    end: int
    started: float
    seconds: float
    bandwidth: int = 0
    ready: bool = False
    base: str | None = None  # commit/pull: the image that becomes the new bottom
    top: str | None = None  # commit: the highest merged image (None: the active one)
    dest: Any = None  # copy: the destination disk model
    shallow: bool = False

    def cur(self) -> int:
        if self.ready or self.seconds <= 0:
            return self.end
        return min(self.end, int(self.end * (time.monotonic() - self.started) / self.seconds))

    @property
    def mirrors(self) -> bool:
        """Copy and active commit become ready and wait for abort or pivot."""
        return self.type in (ev.JOB_COPY, ev.JOB_ACTIVE_COMMIT)


class BlockJobMixin:
    """Block device and block job hooks of the test driver."""

    job_seconds: float

    if TYPE_CHECKING:

        @property
        def _node(self) -> TestNode: ...

    # -- disks --------------------------------------------------------------------------------

    def _find_disk(self, d: TestDomain, disk: str) -> Any:
        devices = d.current.model.devices
        for item in devices.disks if devices else ():
            source = item.source
            if item.target.dev == disk or (source is not None and disk in (
                    source.file, source.dev)):
                return item
        raise _bad_arg(f"'{disk}' is not a disk of domain '{d.name}'")

    @staticmethod
    def _path(item: Any) -> str:
        source = item.source
        found = source is not None and (source.file or source.dev)
        return str(found) if found else str(item.target.dev)

    def _dev(self, d: TestDomain, item: Any) -> dict[str, Any]:
        """The disk's sizes and backing chain (kept with the domain)."""
        state: dict[str, Any] = d.settings.setdefault("blockdev", {})
        target = item.target.dev
        if target not in state:
            path = self._path(item)
            chain = [path + ".base"] if item.source is not None and item.source.file else []
            state[target] = {"capacity": CAPACITY, "allocation": ALLOCATION,
                             "physical": PHYSICAL, "chain": chain, "threshold": 0}
        found: dict[str, Any] = state[target]
        return found

    def _running_disk(self, ref: DomainRef, disk: str) -> tuple[TestDomain, Any]:
        d = self._node.find(ref)
        if not d.status.active:
            raise not_running(d.name, ErrorDomain.TEST)
        return d, self._find_disk(d, disk)

    @staticmethod
    def _jobs(d: TestDomain) -> dict[str, BlockJob]:
        jobs: dict[str, BlockJob] = d.runtime.setdefault("blockjobs", {})
        return jobs

    def _job(self, d: TestDomain, item: Any) -> BlockJob:
        job = self._jobs(d).get(item.target.dev)
        if job is None:
            raise _invalid(f"disk '{item.target.dev}' of domain '{d.name}' has no active "
                           f"block job")
        return job

    # -- events and job ends ------------------------------------------------------------------

    def _job_event(self, d: TestDomain, item: Any, job_type: int, status: int) -> None:
        node = self._node
        node.emit(ev.domain_event("domain-block-job", d.ref, disk=self._path(item),
                                  type=job_type, status=status))
        node.emit(ev.domain_event("domain-block-job-2", d.ref, dst=item.target.dev,
                                  type=job_type, status=status))

    def _grow(self, d: TestDomain, item: Any, merged: int) -> None:
        dev = self._dev(d, item)
        dev["allocation"] += merged * IMAGE_SIZE
        dev["physical"] = max(dev["physical"], dev["allocation"])
        self._check_threshold(d, item)

    def _check_threshold(self, d: TestDomain, item: Any) -> None:
        dev = self._dev(d, item)
        threshold = dev["threshold"]
        if threshold and dev["allocation"] >= threshold:
            dev["threshold"] = 0
            self._node.emit(ev.domain_event(
                "domain-block-threshold", d.ref, dev=item.target.dev, path=self._path(item),
                threshold=threshold, excess=dev["allocation"] - threshold))

    def _start(self, d: TestDomain, item: Any, job: BlockJob) -> None:
        """Register ``job`` and end it (or make it ready) at once or after its time."""
        jobs = self._jobs(d)
        target = item.target.dev
        if target in jobs:
            raise _invalid(f"disk '{target}' of domain '{d.name}' already has an active "
                           f"block job")
        jobs[target] = job
        if job.seconds <= 0:
            self._finish(d, item, job)
            return
        node = self._node
        ref = d.ref

        def later() -> None:
            with node.lock:
                try:
                    dom = node.find(ref)
                except VirtError:
                    return
                if self._jobs(dom).get(target) is job:  # not aborted, guest not restarted
                    self._finish(dom, self._find_disk(dom, target), job)

        timer = threading.Timer(job.seconds, later)
        timer.daemon = True
        timer.start()

    def _finish(self, d: TestDomain, item: Any, job: BlockJob) -> None:
        """The job's data has moved: a mirror is ready, anything else completes."""
        if job.mirrors:
            job.ready = True
            self._job_event(d, item, job.type, ev.JOB_READY)
            return
        dev = self._dev(d, item)
        chain: list[str] = dev["chain"]
        if job.type == ev.JOB_PULL:
            keep = chain.index(job.base) if job.base is not None else len(chain)
            merged = keep
            dev["chain"] = chain[keep:]
        else:  # commit of an inactive layer: top .. above base are merged into base
            top = chain.index(job.top) if job.top is not None else 0
            bottom = chain.index(job.base) if job.base is not None else len(chain) - 1
            merged = bottom - top
            dev["chain"] = chain[:top] + chain[bottom:]
        del self._jobs(d)[item.target.dev]
        self._grow(d, item, merged)
        self._job_event(d, item, job.type, ev.JOB_COMPLETED)

    def _new_job(self, job_type: int, d: TestDomain, item: Any, bandwidth: int,
                 **kw: Any) -> BlockJob:
        dev = self._dev(d, item)
        return BlockJob(job_type, dev["allocation"], time.monotonic(), self.job_seconds,
                        bandwidth, **kw)

    # -- jobs ---------------------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_block_rebase(
        self, dom: DomainRef, disk: str, base: str | None, bandwidth: int, shallow: bool
    ) -> bool:
        with self._node.lock:
            d, item = self._running_disk(dom, disk)
            chain = self._dev(d, item)["chain"]
            if base is not None and base not in chain:
                raise _bad_arg(f"'{base}' is not in the backing chain of disk "
                               f"'{item.target.dev}' of domain '{d.name}'")
            self._start(d, item, self._new_job(ev.JOB_PULL, d, item, bandwidth, base=base,
                                               shallow=shallow))
            return True

    @hookimpl
    def virtkit_domain_block_copy(
        self, dom: DomainRef, disk: str, dest_xml: str, bandwidth: int, granularity: int,
        buf_size: int, shallow: bool, reuse_ext: bool, transient_job: bool,
    ) -> bool:
        if "<target" not in dest_xml and "</disk>" in dest_xml:
            # the destination needs no target of its own: it takes the copied disk's
            dest_xml = dest_xml.replace("</disk>", "<target dev='vdz'/></disk>", 1)
        kind, dest = parse_device(dest_xml)
        if kind != "disk" or dest.source is None or not (dest.source.file or dest.source.dev):
            raise VirtError(ErrorCode.XML_ERROR, "XML error: the destination of a block copy "
                            "must be a <disk> with a file or block source", ErrorDomain.TEST)
        with self._node.lock:
            d, item = self._running_disk(dom, disk)
            self._start(d, item, self._new_job(ev.JOB_COPY, d, item, bandwidth, dest=dest,
                                               shallow=shallow))
            return True

    @hookimpl
    def virtkit_domain_block_commit(
        self, dom: DomainRef, disk: str, base: str | None, top: str | None, bandwidth: int,
        active: bool, delete: bool,
    ) -> bool:
        with self._node.lock:
            d, item = self._running_disk(dom, disk)
            chain: list[str] = self._dev(d, item)["chain"]
            target = item.target.dev
            if not chain:
                raise _invalid(f"disk '{target}' of domain '{d.name}' has no backing chain "
                               f"to commit into")
            allowed = {"base": chain, "top": [*chain, self._path(item)]}
            for what, path in (("base", base), ("top", top)):
                if path is not None and path not in allowed[what]:
                    raise _bad_arg(f"{what} '{path}' is not in the backing chain of disk "
                                   f"'{target}' of domain '{d.name}'")
            is_active = top is None or top == self._path(item)
            if is_active and not active:
                raise _invalid(f"committing the active image of disk '{target}' of domain "
                               f"'{d.name}' needs the active flag")
            if (top is not None and not is_active and base is not None
                    and chain.index(base) <= chain.index(top)):
                raise _bad_arg(f"base '{base}' is not below top '{top}' in the chain of "
                               f"disk '{target}'")
            job_type = ev.JOB_ACTIVE_COMMIT if is_active else ev.JOB_COMMIT
            self._start(d, item, self._new_job(job_type, d, item, bandwidth,
                                               base=base, top=None if is_active else top))
            return True

    @hookimpl
    def virtkit_domain_get_block_job_info(self, dom: DomainRef, disk: str) -> dict[str, int]:
        with self._node.lock:
            d, item = self._running_disk(dom, disk)
            job = self._jobs(d).get(item.target.dev)
            if job is None:
                return {}
            return {"type": job.type, "bandwidth": job.bandwidth, "cur": job.cur(),
                    "end": job.end}

    @hookimpl
    def virtkit_domain_block_job_abort(
        self, dom: DomainRef, disk: str, pivot: bool, asynchronous: bool
    ) -> bool:
        with self._node.lock:
            d, item = self._running_disk(dom, disk)
            job = self._job(d, item)
            if pivot and not job.ready:
                raise _invalid(f"block job on disk '{item.target.dev}' of domain '{d.name}' "
                               f"is not ready to pivot")
            del self._jobs(d)[item.target.dev]
            if not pivot:
                self._job_event(d, item, job.type, ev.JOB_CANCELED)
                return True
            dev = self._dev(d, item)
            chain: list[str] = dev["chain"]
            if job.type == ev.JOB_COPY:
                new = attrs.evolve(item, source=job.dest.source)
                dev["chain"] = list(chain) if job.shallow else []
            else:  # active commit: the disk now runs on the base
                bottom = chain.index(job.base) if job.base is not None else len(chain) - 1
                source = attrs.evolve(item.source, file=chain[bottom])
                new = attrs.evolve(item, source=source)
                dev["chain"] = chain[bottom + 1:]
                self._grow(d, item, bottom + 1)
            self._replace_disk(d, item, new)
            self._job_event(d, new, job.type, ev.JOB_COMPLETED)
            return True

    def _replace_disk(self, d: TestDomain, old: Any, new: Any) -> None:
        model = d.current.model
        devices = model.devices
        assert devices is not None  # the disk was found among them
        disks = tuple(new if x is old else x for x in devices.disks)
        d.live = from_model(attrs.evolve(model, devices=attrs.evolve(devices, disks=disks)))

    @hookimpl
    def virtkit_domain_block_job_set_speed(
        self, dom: DomainRef, disk: str, bandwidth: int
    ) -> bool:
        with self._node.lock:
            d, item = self._running_disk(dom, disk)
            self._job(d, item).bandwidth = bandwidth
            return True

    # -- block devices ------------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_block_resize(self, dom: DomainRef, disk: str, size: int) -> bool:
        with self._node.lock:
            d, item = self._running_disk(dom, disk)
            if size == 0:
                raise _bad_arg(f"cannot resize disk '{item.target.dev}' of domain '{d.name}' "
                               f"to 0 bytes")
            if item.readonly or item.device in ("cdrom", "floppy"):
                raise VirtError(ErrorCode.OPERATION_UNSUPPORTED,
                                f"Operation not supported: disk '{item.target.dev}' of domain "
                                f"'{d.name}' is read-only", ErrorDomain.TEST)
            self._dev(d, item)["capacity"] = size
            return True

    @hookimpl
    def virtkit_domain_block_peek(self, dom: DomainRef, disk: str, offset: int, size: int) -> bytes:
        with self._node.lock:
            d = self._node.find(dom)
            item = self._find_disk(d, disk)
            capacity = self._dev(d, item)["capacity"]
            if offset + size > capacity:
                raise _bad_arg(f"range {offset}+{size} is beyond the end of disk "
                               f"'{item.target.dev}' ({capacity} bytes)")
            head = f"VIRTKIT-TEST-DISK {item.target.dev}".encode().ljust(510, b"\0") + b"\x55\xaa"
            data = bytearray(size)
            lo, hi = offset, min(offset + size, len(head))
            if lo < hi:
                data[0:hi - lo] = head[lo:hi]
            return bytes(data)

    @hookimpl
    def virtkit_domain_get_block_info(self, dom: DomainRef, disk: str) -> BlockInfo:
        with self._node.lock:
            d = self._node.find(dom)
            dev = self._dev(d, self._find_disk(d, disk))
            return BlockInfo(dev["capacity"], dev["allocation"], dev["physical"])

    @hookimpl
    def virtkit_domain_set_block_threshold(self, dom: DomainRef, dev: str, threshold: int) -> bool:
        with self._node.lock:
            d, item = self._running_disk(dom, dev)
            self._dev(d, item)["threshold"] = threshold
            self._check_threshold(d, item)
            return True
