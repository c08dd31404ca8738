"""Hookspecs for migration tuning: maximum downtime, bandwidth (pre-copy and post-copy),
switching a running migration to post-copy, and the compression cache.

The five migration phases are in :mod:`.domain`. These settings belong to the source domain
and apply to its next (or current) outgoing migration; they last until the domain stops.
During a migration the source emits ``domain-migration-iteration`` events (the pre-copy
iteration number, from 1).
"""

from __future__ import annotations

from virtkit.sdk.checks import non_negative, positive
from virtkit.sdk.hookspecs.markers import spec
from virtkit.sdk.records import DomainRef


@spec(readonly=True)
def virtkit_domain_migrate_get_max_downtime(dom: DomainRef) -> int | None:
    """The longest pause (ms) the final switch-over of a live migration may take.

    :raises VirtError: NO_DOMAIN.
    :state: none.
    """


@spec(readonly=False, checks={"downtime": positive("downtime in ms")})
def virtkit_domain_migrate_set_max_downtime(dom: DomainRef, downtime: int) -> bool | None:
    """Set the longest switch-over pause, in ms.

    :return: True.
    :raises VirtError: OPERATION_INVALID when not running; INVALID_ARG for 0.
    :state: the domain's maximum downtime.
    """


@spec(readonly=True)
def virtkit_domain_migrate_get_max_speed(dom: DomainRef, postcopy: bool) -> int | None:
    """The bandwidth limit of migration in MiB/s (of the post-copy phase with ``postcopy``; 0
    there means unlimited).

    :raises VirtError: NO_DOMAIN.
    :state: none.
    """


@spec(readonly=False, checks={"bandwidth": non_negative("bandwidth in MiB/s")})
def virtkit_domain_migrate_set_max_speed(
    dom: DomainRef, bandwidth: int, postcopy: bool
) -> bool | None:
    """Set the migration bandwidth limit in MiB/s (with ``postcopy``, of the post-copy phase).

    :return: True.
    :raises VirtError: INVALID_ARG above the driver's maximum (8796093022207 MiB/s).
    :state: the limit; a running migration uses it at once.
    """


@spec(readonly=False)
def virtkit_domain_migrate_start_post_copy(dom: DomainRef) -> bool | None:
    """Switch the domain's outgoing migration from pre-copy to post-copy: the guest runs on
    the destination from now on and fetches its remaining memory from the source.

    :return: True.
    :raises VirtError: OPERATION_INVALID when the domain is not being migrated, or its
        migration was not started with ``postcopy`` allowed.
    :state: the migration completes in post-copy mode.
    """


@spec(readonly=True)
def virtkit_domain_migrate_get_compression_cache(dom: DomainRef) -> int | None:
    """The size in bytes of the cache used to compress pages that change during migration.

    :raises VirtError: NO_DOMAIN.
    :state: none.
    """


@spec(readonly=False, checks={"cache_size": positive("cache size in bytes")})
def virtkit_domain_migrate_set_compression_cache(dom: DomainRef, cache_size: int) -> bool | None:
    """Set the compression cache's size in bytes.

    :return: True.
    :raises VirtError: OPERATION_INVALID when not running; INVALID_ARG for a size above the
        guest's memory.
    :state: the cache size.
    """
