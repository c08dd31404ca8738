"""Block jobs and block devices on :class:`~virtkit.api.domain.Domain` (libvirt-python's names
in snake_case). Bandwidths are MiB/s as in libvirt unless ``bytes=True`` (libvirt's
BANDWIDTH_BYTES flag); ``block_copy``'s ``params`` use libvirt's names (``bandwidth`` in
bytes/s, ``granularity``, ``buf-size``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from virtkit.sdk.errors import invalid_arg
from virtkit.sdk.records import BlockInfo, DomainRef

if TYPE_CHECKING:
    from virtkit.api.connection import Connection

MiB = 1024 * 1024
COPY_PARAMS = ("bandwidth", "granularity", "buf-size")


def _bandwidth(value: int, in_bytes: bool) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid_arg(f"bandwidth {value!r} must be a non-negative integer")
    return value if in_bytes else value * MiB


class BlockJobMethods:
    """Mixed into Domain."""

    __slots__ = ()
    if TYPE_CHECKING:
        _conn: Connection
        _ref: DomainRef

    def block_pull(self, disk: str, bandwidth: int = 0, bytes: bool = False) -> None:
        """Pull the whole backing chain into the disk's top image (a job)."""
        self.block_rebase(disk, None, bandwidth, bytes=bytes)

    def block_rebase(self, disk: str, base: str | None = None, bandwidth: int = 0,
                     shallow: bool = False, bytes: bool = False) -> None:
        """Pull the backing chain down to ``base`` into the top image (a job)."""
        self._conn.hooks.domain_block_rebase(
            dom=self._ref, disk=disk, base=base, bandwidth=_bandwidth(bandwidth, bytes),
            shallow=shallow)

    def block_copy(self, disk: str, destxml: str, params: dict[str, int] | None = None,
                   shallow: bool = False, reuse_ext: bool = False,
                   transient_job: bool = False) -> None:
        """Copy the disk to the ``<disk>`` ``destxml`` describes, mirroring until pivot."""
        given = dict(params or {})
        unknown = set(given) - set(COPY_PARAMS)
        if unknown:
            raise invalid_arg(f"unknown block copy parameter(s) {sorted(unknown)} "
                              f"(known: {', '.join(COPY_PARAMS)})")
        self._conn.hooks.domain_block_copy(
            dom=self._ref, disk=disk, dest_xml=destxml,
            bandwidth=given.get("bandwidth", 0), granularity=given.get("granularity", 0),
            buf_size=given.get("buf-size", 0), shallow=shallow, reuse_ext=reuse_ext,
            transient_job=transient_job)

    def block_commit(self, disk: str, base: str | None = None, top: str | None = None,
                     bandwidth: int = 0, active: bool = False, delete: bool = False,
                     bytes: bool = False) -> None:
        """Merge ``top`` (the active image with ``active``) down into ``base`` (a job)."""
        self._conn.hooks.domain_block_commit(
            dom=self._ref, disk=disk, base=base, top=top,
            bandwidth=_bandwidth(bandwidth, bytes), active=active, delete=delete)

    def block_job_info(self, disk: str, bytes: bool = False) -> dict[str, int]:
        """``{"type", "bandwidth", "cur", "end"}`` of the disk's job, ``{}`` when none
        (bandwidth in MiB/s unless ``bytes``)."""
        info = dict(self._conn.hooks.domain_get_block_job_info(dom=self._ref, disk=disk))
        if info and not bytes:
            info["bandwidth"] = info["bandwidth"] // MiB
        return info

    def block_job_abort(self, disk: str, pivot: bool = False,
                        asynchronous: bool = False) -> None:
        """Cancel the disk's job, or with ``pivot`` switch to its result."""
        self._conn.hooks.domain_block_job_abort(
            dom=self._ref, disk=disk, pivot=pivot, asynchronous=asynchronous)

    def block_job_set_speed(self, disk: str, bandwidth: int, bytes: bool = False) -> None:
        self._conn.hooks.domain_block_job_set_speed(
            dom=self._ref, disk=disk, bandwidth=_bandwidth(bandwidth, bytes))

    def block_resize(self, disk: str, size: int, bytes: bool = False) -> None:
        """Resize a disk of a running guest to ``size`` KiB (bytes with ``bytes``)."""
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise invalid_arg(f"disk size {size!r} must be a non-negative integer")
        self._conn.hooks.domain_block_resize(
            dom=self._ref, disk=disk, size=size if bytes else size * 1024)

    def block_peek(self, disk: str, offset: int, size: int) -> bytes:
        """``size`` bytes of the disk's content from ``offset`` (at most 4 MiB)."""
        return self._conn.hooks.domain_block_peek(dom=self._ref, disk=disk, offset=offset,
                                                  size=size)

    def block_info(self, disk: str) -> BlockInfo:
        """(capacity, allocation, physical) in bytes."""
        return self._conn.hooks.domain_get_block_info(dom=self._ref, disk=disk)

    def set_block_threshold(self, dev: str, threshold: int) -> None:
        """One ``domain-block-threshold`` event when the allocation reaches ``threshold``."""
        self._conn.hooks.domain_set_block_threshold(dom=self._ref, dev=dev,
                                                    threshold=threshold)
