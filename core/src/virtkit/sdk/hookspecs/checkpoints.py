"""Hookspecs for domain checkpoints and incremental backup (libvirt's virDomainCheckpoint,
virDomainBackupBegin, virDomainBackupGetXMLDesc).

A checkpoint marks a point in time from which a later backup copies only what changed (one
bitmap per disk). Checkpoints of a domain form a tree: a new one's parent is the newest
checkpoint. They cross as :class:`CheckpointRef` (domain and name); an unknown one raises
NO_DOMAIN_CHECKPOINT (103) "Domain checkpoint not found: ...". A backup is a job on the domain
(``<domainbackup>``: push mode copies to targets, pull mode exports the disks); it runs until it
completes or the domain's job is aborted.
"""

from __future__ import annotations

from virtkit.sdk.hookspecs.markers import spec
from virtkit.sdk.records import CheckpointRef, CheckpointSummary, DomainRef

__all__ = ["CheckpointRef", "CheckpointSummary"]


@spec(readonly=False)
def virtkit_checkpoint_create_xml(
    dom: DomainRef, xml: str, redefine: bool
) -> CheckpointRef | None:
    """Create a checkpoint described by ``<domaincheckpoint>`` (name: the time when absent).

    :param redefine: only restore checkpoint metadata (libvirt's REDEFINE flag): the document
        must give the name, parent and creation time it had.
    :return: the checkpoint's :class:`CheckpointRef`.
    :raises VirtError: XML_ERROR; INVALID_ARG naming a disk the domain does not have;
        INVALID_DOMAIN_CHECKPOINT when the name exists (without ``redefine``) or a redefined
        parent is unknown; OPERATION_INVALID while a backup runs.
    :state: the checkpoint exists and is the newest (the next one's parent).
    """


@spec(readonly=True)
def virtkit_checkpoint_list(dom: DomainRef) -> list[CheckpointSummary] | None:
    """Every checkpoint of ``dom``.

    :return: one :class:`CheckpointSummary` per checkpoint, oldest first.
    :raises VirtError: NO_DOMAIN.
    :state: none.
    """


@spec(readonly=True)
def virtkit_checkpoint_lookup_by_name(dom: DomainRef, name: str) -> CheckpointRef | None:
    """Find a checkpoint of ``dom`` by name.

    :return: its :class:`CheckpointRef`.
    :raises VirtError: NO_DOMAIN_CHECKPOINT naming it.
    :state: none.
    """


@spec(readonly=True)
def virtkit_checkpoint_get_xml(checkpoint: CheckpointRef, no_domain: bool) -> str | None:
    """A checkpoint's ``<domaincheckpoint>`` document.

    :param no_domain: leave out the ``<domain>`` definition it was taken with.
    :return: the XML text (name, description, parent, creation time, disks, domain).
    :raises VirtError: NO_DOMAIN_CHECKPOINT.
    :state: none.
    """


@spec(readonly=False)
def virtkit_checkpoint_delete(
    checkpoint: CheckpointRef, children: bool, children_only: bool, metadata_only: bool
) -> bool | None:
    """Delete a checkpoint, with ``children`` its descendants too, with ``children_only``
    only its descendants; a deleted checkpoint's children get its parent.

    :param metadata_only: keep the disks' bitmaps (libvirt's METADATA_ONLY).
    :return: True.
    :raises VirtError: NO_DOMAIN_CHECKPOINT; OPERATION_INVALID while a backup runs.
    :state: the checkpoint (and the descendants asked for) are gone.
    """


@spec(readonly=False)
def virtkit_domain_backup_begin(
    dom: DomainRef, backup_xml: str, checkpoint_xml: str | None
) -> bool | None:
    """Start a backup job (virsh ``backup-begin``), incremental from the checkpoint its
    ``<incremental>`` names, and with ``checkpoint_xml`` create a checkpoint at its start.

    :param backup_xml: a ``<domainbackup>`` (mode ``push`` with disk targets, or ``pull`` with a
        ``<server>``); ``<domainbackup/>`` is a full push backup of every disk.
    :return: True.
    :raises VirtError: OPERATION_INVALID when the domain is not running or a job runs;
        XML_ERROR; NO_DOMAIN_CHECKPOINT for an unknown incremental checkpoint; INVALID_ARG
        naming an unknown disk.
    :state: a backup job is active (until it completes or the job is aborted); with
        ``checkpoint_xml`` a new checkpoint exists.
    """


@spec(readonly=True)
def virtkit_domain_backup_get_xml(dom: DomainRef) -> str | None:
    """The running backup's ``<domainbackup>`` document, with what the driver filled in
    (targets, export names, the incremental checkpoint).

    :return: the XML text.
    :raises VirtError: OPERATION_INVALID "no domain backup job present" when none runs.
    :state: none.
    """
