"""Hookspecs for block jobs and block devices: pull/rebase, commit, copy, job info, abort,
speed, resize, peek, sizes and write thresholds.

``disk`` names one of the domain's disks by target (``vda``) or source path; an unknown disk is
INVALID_ARG naming it and the domain. A disk runs at most one block job at a time (a second is
OPERATION_INVALID "disk 'vda' already has an active block job"). Bandwidths are in bytes per
second, 0 for unlimited. Jobs need an active domain (OPERATION_INVALID "domain 'x' is not
running") and end when it stops.

A job reports ``domain-block-job`` (with the disk's path) and ``domain-block-job-2`` (with its
target) events: type 1 pull, 2 copy, 3 commit, 4 active commit; status 0 completed, 1 failed,
2 canceled, 3 ready. Pull and commit of an inactive layer complete by themselves; copy and
active commit reach *ready* (the mirror is in sync) and stay so until ``block_job_abort``
ends them: with ``pivot`` the disk switches to the copy (or the commit's base) and the job
completes, without it the disk stays as it was and the job is canceled.
"""

from __future__ import annotations

from virtkit.sdk.checks import non_negative
from virtkit.sdk.hookspecs.markers import spec
from virtkit.sdk.records import BlockInfo, DomainRef

#: The most bytes one ``domain_block_peek`` returns (libvirt's remote limit is 4 MiB too).
PEEK_MAX = 4 * 1024 * 1024

BANDWIDTH = {"bandwidth": non_negative("bandwidth in bytes/s")}


def _peek_size(value: int, op: str) -> int:
    from virtkit.sdk.errors import invalid_arg

    if value < 0 or value > PEEK_MAX:
        raise invalid_arg(f"{op}: size {value} must be from 0 to {PEEK_MAX} bytes")
    return value


@spec(readonly=False, checks=BANDWIDTH)
def virtkit_domain_block_rebase(
    dom: DomainRef, disk: str, base: str | None, bandwidth: int, shallow: bool
) -> bool | None:
    """Pull data from the disk's backing chain into its top image, down to ``base`` (None:
    the whole chain, libvirt's block pull), so that ``base`` becomes the top's backing file.

    :param base: a path in the disk's backing chain, or None.
    :param shallow: keep the top's backing chain as it is below ``base``.
    :return: True once the job has started.
    :raises VirtError: OPERATION_INVALID when not running or the disk already has a job;
        INVALID_ARG for an unknown disk or a ``base`` not in its chain.
    :state: a pull job (type 1) on the disk; when it completes the images above ``base`` are
        merged into the top, events ``domain-block-job``/``-2`` COMPLETED.
    """


@spec(readonly=False, checks={**BANDWIDTH, "granularity": non_negative("granularity"),
                              "buf_size": non_negative("buffer size")})
def virtkit_domain_block_copy(
    dom: DomainRef, disk: str, dest_xml: str, bandwidth: int, granularity: int, buf_size: int,
    shallow: bool, reuse_ext: bool, transient_job: bool,
) -> bool | None:
    """Start copying a disk to the destination ``dest_xml`` describes (a ``<disk>`` element
    with its source), mirroring writes until the job is aborted or pivoted.

    :param shallow: copy only the top image (the copy keeps the backing chain).
    :param reuse_ext: the destination exists already (else it is created).
    :param transient_job: the job need not survive a restart of the driver.
    :return: True once the job has started.
    :raises VirtError: OPERATION_INVALID when not running or the disk already has a job;
        INVALID_ARG for an unknown disk; XML_ERROR for a bad destination.
    :state: a copy job (type 2), READY once in sync; pivot: the disk's source is the copy.
    """


@spec(readonly=False, checks=BANDWIDTH)
def virtkit_domain_block_commit(
    dom: DomainRef, disk: str, base: str | None, top: str | None, bandwidth: int,
    active: bool, delete: bool,
) -> bool | None:
    """Merge the images from ``top`` down to (not including) ``base`` into ``base``.

    :param base: a path in the backing chain, None for the deepest image.
    :param top: a path in the chain, None for the disk's active (top) image, which needs
        ``active``.
    :param active: allow committing the active image (an active commit, type 4, which reaches
        READY and pivots as a copy does).
    :param delete: delete the merged images afterwards.
    :return: True once the job has started.
    :raises VirtError: OPERATION_INVALID when not running, the disk has a job or no backing
        chain, or the top is the active image without ``active``; INVALID_ARG for an unknown
        disk or a path not in its chain.
    :state: a commit job (type 3, or 4 for an active commit).
    """


@spec(readonly=True)
def virtkit_domain_get_block_job_info(dom: DomainRef, disk: str) -> dict[str, int] | None:
    """The disk's block job: ``{"type", "bandwidth", "cur", "end"}`` (bytes; ``cur == end``
    when ready), or ``{}`` when it has none.

    :raises VirtError: OPERATION_INVALID when not running; INVALID_ARG for an unknown disk.
    :state: none.
    """


@spec(readonly=False)
def virtkit_domain_block_job_abort(
    dom: DomainRef, disk: str, pivot: bool, asynchronous: bool
) -> bool | None:
    """End the disk's block job: cancel it, or with ``pivot`` switch to its result.

    :param pivot: for a ready copy or active commit, switch the disk to the copy or base.
    :param asynchronous: return at once; the event says when the job has ended.
    :return: True.
    :raises VirtError: OPERATION_INVALID when the disk has no block job, or ``pivot`` on a job
        that is not ready.
    :state: the job ends: COMPLETED with ``pivot`` (the disk's source changes), else
        CANCELED with the disk as before.
    """


@spec(readonly=False, checks=BANDWIDTH)
def virtkit_domain_block_job_set_speed(
    dom: DomainRef, disk: str, bandwidth: int
) -> bool | None:
    """Change the bandwidth of the disk's block job.

    :return: True.
    :raises VirtError: OPERATION_INVALID when the disk has no block job.
    :state: the job's bandwidth.
    """


@spec(readonly=False, checks={"size": non_negative("size in bytes")})
def virtkit_domain_block_resize(dom: DomainRef, disk: str, size: int) -> bool | None:
    """Grow (or shrink) a disk of a running guest to ``size`` bytes.

    :return: True.
    :raises VirtError: OPERATION_INVALID when not running; INVALID_ARG for an unknown disk or
        a size of 0; OPERATION_UNSUPPORTED for a read-only disk or a cdrom.
    :state: the disk's capacity.
    """


@spec(readonly=False, checks={"offset": non_negative("offset"), "size": _peek_size})
def virtkit_domain_block_peek(dom: DomainRef, disk: str, offset: int, size: int) -> bytes | None:
    """Read ``size`` bytes of a disk's content (as the guest sees it) from ``offset``; it reads
    guest data, so not on a read-only connection.

    :return: exactly ``size`` bytes.
    :raises VirtError: INVALID_ARG for an unknown disk, a size above 4 MiB, or a range beyond
        the disk's capacity.
    :state: none.
    """


@spec(readonly=True)
def virtkit_domain_get_block_info(dom: DomainRef, disk: str) -> BlockInfo | None:
    """A disk's capacity, allocation and physical size in bytes.

    :raises VirtError: INVALID_ARG for an unknown disk.
    :state: none.
    """


@spec(readonly=False, checks={"threshold": non_negative("threshold in bytes")})
def virtkit_domain_set_block_threshold(dom: DomainRef, dev: str, threshold: int) -> bool | None:
    """Ask for one ``domain-block-threshold`` event when the disk's allocation reaches
    ``threshold`` bytes (0 clears it).

    :return: True.
    :raises VirtError: OPERATION_INVALID when not running; INVALID_ARG for an unknown disk.
    :state: the threshold is armed; when the allocation passes it the event (dev, path,
        threshold, excess) is emitted once and the threshold is cleared.
    """
