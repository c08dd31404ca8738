"""Hookspecs for domains: listing, lookup, definition, lifecycle, devices, resources, stats, jobs.

Domains cross the boundary as :class:`~virtkit.sdk.records.DomainRef` (name, uuid, id). Every state
change goes through :func:`virtkit.sdk.states.transition`, whose table these docstrings repeat; a
driver emits the lifecycle events the transition returns. Unless a docstring says otherwise, a
``dom`` that no longer exists raises NO_DOMAIN naming it.
"""

from __future__ import annotations

from typing import Any

from virtkit.sdk.checks import (
    ADDRESS_SOURCES,
    LIFECYCLE_ACTIONS,
    LIFECYCLE_EVENTS,
    SHUTDOWN_MODES,
    START_STATE,
    one_of,
    path,
    positive,
)
from virtkit.sdk.hookspecs.markers import spec, unless
from virtkit.sdk.records import (
    DomainControlInfo,
    DomainInfo,
    DomainRef,
    DomainStateInfo,
    DomainSummary,
    InterfaceAddress,
    JobInfo,
    SecurityLabel,
    SnapshotSummary,
)

# -- listing and lookup ---------------------------------------------------------------------------


@spec(readonly=True)
def virtkit_domain_list() -> list[DomainSummary] | None:
    """Every domain this connection sees, active and inactive.

    :return: one :class:`~virtkit.sdk.records.DomainSummary` per domain (identity, state, reason,
        persistent, autostart, managed save, snapshot count), so the API filters without further
        calls.
    :raises: nothing.
    :state: none.
    """


@spec(readonly=True)
def virtkit_domain_lookup_by_name(name: str) -> DomainRef | None:
    """Find a domain by name.

    :return: its identity.
    :raises VirtError: NO_DOMAIN "Domain not found: no domain with matching name 'x'".
    :state: none.
    """


@spec(readonly=True)
def virtkit_domain_lookup_by_uuid(uuid: str) -> DomainRef | None:
    """Find a domain by uuid (canonical lower-case 36-character form).

    :return: its identity.
    :raises VirtError: NO_DOMAIN naming the uuid.
    :state: none.
    """


@spec(readonly=True)
def virtkit_domain_lookup_by_id(id: int) -> DomainRef | None:
    """Find an active domain by its id (> 0).

    :return: its identity.
    :raises VirtError: NO_DOMAIN naming the id (inactive domains have no id).
    :state: none.
    """


# -- definition -----------------------------------------------------------------------------------


@spec(readonly=False)
def virtkit_domain_define_xml(xml: str, validate: bool) -> DomainRef | None:
    """Define (or redefine) a persistent domain from its XML.

    :param xml: a ``<domain>`` document; the uuid is generated when absent.
    :param validate: check the document against virtkit's RelaxNG schema first.
    :return: the domain's identity.
    :raises VirtError: XML_ERROR for a malformed or semantically wrong document (naming the
        element), XML_INVALID_SCHEMA when ``validate`` and the schema refuses it,
        OPERATION_FAILED "domain 'x' already exists with uuid ..." when the name or uuid belongs
        to another domain.
    :state: new: SHUTOFF/UNKNOWN, persistent, event DEFINED/ADDED. Existing (same name and uuid):
        the definition is replaced (an active domain uses it at next boot) and a transient active
        domain becomes persistent; event DEFINED/UPDATED.
    """


@spec(readonly=False)
def virtkit_domain_create_xml(xml: str, paused: bool, validate: bool) -> DomainRef | None:
    """Create and start a transient domain from its XML.

    :param paused: leave the guest paused after start.
    :return: the domain's identity, with its new id.
    :raises VirtError: as ``domain_define_xml``; OPERATION_INVALID when a domain of that name is
        already active.
    :state: RUNNING/BOOTED (PAUSED/USER when ``paused``), transient; events STARTED/BOOTED
        (then SUSPENDED/PAUSED).
    """


@spec(readonly=False)
def virtkit_domain_undefine(
    dom: DomainRef, managed_save: bool, snapshots_metadata: bool, nvram: bool
) -> bool | None:
    """Remove a domain's persistent definition.

    :param managed_save: also remove a managed-save image (else its presence is an error).
    :param snapshots_metadata: also remove snapshot metadata (else snapshots are an error).
    :param nvram: also remove the NVRAM file of a UEFI guest.
    :return: True.
    :raises VirtError: OPERATION_INVALID for a transient domain, or when a managed-save image or
        snapshots exist and the matching flag is not given.
    :state: inactive: the domain is gone. Active: it becomes transient and vanishes when it
        stops. Event UNDEFINED/REMOVED.
    """


def _new_name(value: Any, op: str) -> Any:
    """A usable domain name: a non-empty string without '/' or control characters."""
    from virtkit.sdk.checks import name_problem
    from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError, invalid_arg

    if not isinstance(value, str) or not value:
        raise invalid_arg(f"{op}: a new domain name must be a non-empty string")
    problem = name_problem(value)
    if problem is not None:  # as the XML layer refuses such a <name> in a document
        raise VirtError(ErrorCode.XML_ERROR, f"XML error: new domain name: <name>: {problem}",
                        ErrorDomain.XML)
    return value


@spec(readonly=False, checks={"new_name": _new_name})
def virtkit_domain_rename(dom: DomainRef, new_name: str) -> DomainRef | None:
    """Give an inactive persistent domain a new name (its uuid and everything else stay).

    :param new_name: the new name: non-empty, no '/' (XML_ERROR as in a definition).
    :return: the domain's identity under its new name.
    :raises VirtError: OPERATION_INVALID when the domain is active, transient, has a
        managed-save image, snapshots or checkpoints, when ``new_name`` is its name already, or
        when another domain has that name.
    :state: the stored definition carries the new name (the old name is free at once); events
        UNDEFINED/RENAMED (old name) then DEFINED/RENAMED (new name).
    """


# -- lifecycle ------------------------------------------------------------------------------------


@spec(readonly=False)
def virtkit_domain_create(dom: DomainRef, paused: bool, force_boot: bool) -> DomainRef | None:
    """Start a defined, inactive domain.

    :param paused: leave the guest paused after start.
    :param force_boot: boot afresh, discarding a managed-save image.
    :return: the identity with the new id.
    :raises VirtError: OPERATION_INVALID "domain is already running".
    :state: RUNNING/BOOTED, or RUNNING/RESTORED when a managed-save image was restored (which
        is then gone); events STARTED/BOOTED or STARTED/RESTORED (then SUSPENDED/PAUSED).
    """


@spec(readonly=False, checks={"mode": one_of("shutdown mode", SHUTDOWN_MODES, optional=True)})
def virtkit_domain_shutdown(dom: DomainRef, mode: str | None) -> bool | None:
    """Ask the guest to shut down; the guest may ignore it.

    :param mode: ``acpi``, ``agent``, ``initctl``, ``signal``, ``paravirt`` or None for the
        driver's default.
    :return: True once the request is delivered.
    :raises VirtError: OPERATION_INVALID "domain 'x' is not running"; ARGUMENT_UNSUPPORTED for a
        mode the driver cannot deliver.
    :state: later (the test driver: at once) SHUTOFF/SHUTDOWN, events SHUTDOWN/FINISHED then
        STOPPED/SHUTDOWN; a transient domain vanishes.
    """


@spec(readonly=False, checks={"mode": one_of("reboot mode", SHUTDOWN_MODES, optional=True)})
def virtkit_domain_reboot(dom: DomainRef, mode: str | None) -> bool | None:
    """Ask the guest to reboot (the on_reboot action applies).

    :param mode: as for shutdown, or None.
    :return: True.
    :raises VirtError: OPERATION_INVALID when the domain is not running.
    :state: unchanged; a reboot event (kind ``domain-reboot``).
    """


@spec(readonly=False)
def virtkit_domain_reset(dom: DomainRef) -> bool | None:
    """Reset the guest at once, as the reset button does.

    :return: True.
    :raises VirtError: OPERATION_INVALID when the domain is not running.
    :state: stays RUNNING.
    """


@spec(readonly=False)
def virtkit_domain_destroy(dom: DomainRef, graceful: bool) -> bool | None:
    """Stop the guest at once.

    :param graceful: ask the backend to terminate gracefully first (SIGTERM before SIGKILL).
    :return: True.
    :raises VirtError: OPERATION_INVALID "domain 'x' is not running".
    :state: SHUTOFF/DESTROYED, event STOPPED/DESTROYED; a transient domain vanishes.
    """


@spec(readonly=False)
def virtkit_domain_suspend(dom: DomainRef) -> bool | None:
    """Pause the guest's CPUs.

    :return: True.
    :raises VirtError: OPERATION_INVALID when inactive, crashed or pmsuspended.
    :state: PAUSED/USER, event SUSPENDED/PAUSED (an already paused domain: no change).
    """


@spec(readonly=False)
def virtkit_domain_resume(dom: DomainRef) -> bool | None:
    """Resume a paused guest.

    :return: True.
    :raises VirtError: OPERATION_INVALID when the domain is not paused.
    :state: RUNNING/UNPAUSED, event RESUMED/UNPAUSED.
    """


@spec(readonly=False, checks={"path": path, "start_state": START_STATE})
def virtkit_domain_save(
    dom: DomainRef, path: str, xml: str | None, start_state: str | None
) -> bool | None:
    """Save the guest's memory and definition to ``path`` and stop it (a job).

    :param path: the file to write (created; an existing file is replaced).
    :param xml: an alternative definition to store in the image, or None.
    :param start_state: ``running`` or ``paused`` to record how restore starts it, or None.
    :return: True.
    :raises VirtError: OPERATION_INVALID when the domain is not running; SYSTEM_ERROR naming the
        path when it cannot be written; OPERATION_ABORTED when the job was aborted (the guest
        keeps running).
    :state: SHUTOFF/SAVED, event STOPPED/SAVED; a transient domain vanishes.
    """


@spec(readonly=False, checks={"path": path, "start_state": START_STATE})
def virtkit_domain_restore(path: str, xml: str | None, start_state: str | None) -> DomainRef | None:
    """Start a guest from an image written by ``domain_save``.

    :param xml: an alternative definition (same name and uuid), or None.
    :param start_state: ``running``, ``paused`` or None (as recorded in the image).
    :return: the restored domain's identity.
    :raises VirtError: SYSTEM_ERROR naming the path when it cannot be read; OPERATION_INVALID for
        a corrupt file or one not written by this driver; OPERATION_INVALID when a domain of that
        name or uuid is active.
    :state: RUNNING/RESTORED (or PAUSED), event STARTED/RESTORED. A managed-save image of the
        domain is discarded: it is stale once the guest runs from another image.
    """


@spec(readonly=False)
def virtkit_domain_managed_save(dom: DomainRef, start_state: str | None) -> bool | None:
    """Save the guest to a driver-managed image; the next start restores it.

    :return: True.
    :raises VirtError: OPERATION_INVALID when not running or transient.
    :state: SHUTOFF/SAVED with a managed-save image; event STOPPED/SAVED.
    """


@spec(readonly=False)
def virtkit_domain_managed_save_remove(dom: DomainRef) -> bool | None:
    """Discard the managed-save image, if any.

    :return: True.
    :raises: NO_DOMAIN only.
    :state: no managed-save image; the next start boots afresh.
    """


@spec(
    readonly=unless(security_info=True),
    checks={"path": path},
    denied_because="with security_info: it reveals secrets such as graphics passwords",
)
def virtkit_domain_save_image_get_xml(path: str, security_info: bool) -> str | None:
    """The definition stored in a save image written by ``domain_save`` (what ``restore``
    would run).

    :param security_info: include secrets (graphics passwords); refused on a read-only
        connection.
    :return: the ``<domain>`` document.
    :raises VirtError: SYSTEM_ERROR naming the path when it cannot be read; OPERATION_INVALID
        for a corrupt file or one not written by this driver.
    :state: none.
    """


@spec(readonly=False, checks={"path": path, "start_state": START_STATE})
def virtkit_domain_save_image_define_xml(
    path: str, xml: str, start_state: str | None
) -> bool | None:
    """Replace the definition stored in a save image (``restore`` then runs it).

    :param xml: the new ``<domain>`` document; it must describe the same guest (name, uuid and
        the hardware the saved memory depends on).
    :param start_state: ``running`` or ``paused`` to change how restore starts the guest, or
        None to keep what the image records.
    :return: True.
    :raises VirtError: as ``domain_save_image_get_xml``; XML_ERROR for a bad document;
        OPERATION_INVALID when it describes another guest; SYSTEM_ERROR when the image cannot
        be rewritten (the old image then stays whole).
    :state: the image holds the new definition and start state.
    """


@spec(
    readonly=unless(security_info=True),
    denied_because="with security_info: it reveals secrets such as graphics passwords",
)
def virtkit_domain_managed_save_get_xml(dom: DomainRef, security_info: bool) -> str | None:
    """The definition stored in the domain's managed-save image (what the next start runs).

    :param security_info: include secrets; refused on a read-only connection.
    :return: the ``<domain>`` document.
    :raises VirtError: OPERATION_INVALID "domain 'x' does not have managed save image".
    :state: none.
    """


@spec(readonly=False, checks={"start_state": START_STATE})
def virtkit_domain_managed_save_define_xml(
    dom: DomainRef, xml: str, start_state: str | None
) -> bool | None:
    """Replace the definition stored in the domain's managed-save image.

    :param xml: the new ``<domain>`` document, describing the same guest (as for
        ``domain_save_image_define_xml``).
    :param start_state: ``running`` or ``paused`` to change how the next start resumes the
        guest, or None to keep what the image records.
    :return: True.
    :raises VirtError: OPERATION_INVALID when the domain has no managed-save image or the
        document describes another guest; XML_ERROR for a bad document.
    :state: the managed-save image holds the new definition and start state.
    """


# -- information ----------------------------------------------------------------------------------


@spec(readonly=True)
def virtkit_domain_get_summary(dom: DomainRef) -> DomainSummary | None:
    """One domain's list entry: identity, state, reason, persistent, autostart, managed save.

    :return: a :class:`~virtkit.sdk.records.DomainSummary`.
    :raises VirtError: NO_DOMAIN.
    :state: none.
    """


@spec(readonly=True)
def virtkit_domain_get_info(dom: DomainRef) -> DomainInfo | None:
    """State, memory and CPU use (libvirt's virDomainGetInfo).

    :return: a :class:`~virtkit.sdk.records.DomainInfo`; memory in KiB, cpu time in ns.
    :raises VirtError: NO_DOMAIN.
    :state: none.
    """


@spec(readonly=True)
def virtkit_domain_get_security_labels(dom: DomainRef) -> list[SecurityLabel] | None:
    """The domain's security labels, one per security driver of the host, in the order of
    the host's security models (the first is the primary model's, as libvirt's
    virDomainGetSecurityLabel gives; virDomainGetSecurityLabelList gives them all).

    :return: a list of :class:`~virtkit.sdk.records.SecurityLabel`; a domain that is not
        running has labels with an empty ``label``; empty when the host has no security driver.
    :raises VirtError: NO_DOMAIN.
    :state: none.
    """


@spec(readonly=True)
def virtkit_domain_get_state(dom: DomainRef) -> DomainStateInfo | None:
    """The domain's state and reason (numbers of :mod:`virtkit.sdk.states`).

    :raises VirtError: NO_DOMAIN.
    :state: none.
    """


@spec(readonly=True)
def virtkit_domain_is_updated(dom: DomainRef) -> bool | None:
    """Whether the persistent definition of an active domain has changed since it started
    (the next boot runs something other than what runs now).

    :return: False for an inactive domain.
    :raises VirtError: NO_DOMAIN.
    :state: none.
    """


@spec(readonly=True)
def virtkit_domain_get_control_info(dom: DomainRef) -> DomainControlInfo | None:
    """The state of the driver's control of the guest (libvirt's virDomainGetControlInfo).

    :return: a :class:`~virtkit.sdk.records.DomainControlInfo`: ok, or a background job
        running for ``state_time`` ms, ...
    :raises VirtError: OPERATION_INVALID when the domain is not running.
    :state: none.
    """


@spec(readonly=True)
def virtkit_domain_get_disk_errors(dom: DomainRef) -> dict[str, int] | None:
    """The I/O errors the guest's disks have hit (libvirt's virDomainGetDiskErrors).

    :return: disk target -> error (1 unspecified, 2 no space left), for the disks with an
        error only.
    :raises VirtError: OPERATION_INVALID when the domain is not running.
    :state: none.
    """


@spec(readonly=True)
def virtkit_domain_get_messages(
    dom: DomainRef, tainting: bool, deprecation: bool
) -> list[str] | None:
    """Messages about the running guest (libvirt's virDomainGetMessages): ``tainted: ...``
    for what makes it unsupportable, ``deprecated configuration: ...`` for settings that will
    stop working.

    :param tainting: / :param deprecation: only those kinds; neither: both.
    :return: the messages, in the order they arose; empty for an inactive domain.
    :raises VirtError: NO_DOMAIN.
    :state: none.
    """


@spec(
    readonly=unless(security_info=True),
    denied_because="with security_info: it reveals secrets such as graphics passwords",
)
def virtkit_domain_get_xml(dom: DomainRef, inactive: bool, security_info: bool) -> str | None:
    """The domain's XML.

    :param inactive: the persistent definition (what the next boot uses) instead of the live one.
    :param security_info: include secrets (graphics passwords); the core refuses this on a
        read-only connection with OPERATION_DENIED before calling the driver.
    :return: the ``<domain>`` document, with ``id`` set while active.
    :raises VirtError: NO_DOMAIN.
    :state: none.
    """


@spec(readonly=True)
def virtkit_domain_get_autostart(dom: DomainRef) -> bool | None:
    """Whether the domain starts when the host (or the driver) starts.

    :raises VirtError: NO_DOMAIN.
    :state: none.
    """


@spec(readonly=False)
def virtkit_domain_set_autostart(dom: DomainRef, autostart: bool) -> bool | None:
    """Set or clear autostart.

    :raises VirtError: OPERATION_INVALID for a transient domain.
    :state: the autostart flag.
    """


@spec(
    readonly=False,
    checks={"event": one_of("lifecycle event", LIFECYCLE_EVENTS),
            "action": one_of("lifecycle action", LIFECYCLE_ACTIONS)},
)
def virtkit_domain_set_lifecycle_action(
    dom: DomainRef, event: str, action: str, live: bool, config: bool
) -> bool | None:
    """Set what the hypervisor does when the guest powers off, reboots or crashes (the
    ``<on_poweroff>``, ``<on_reboot>`` and ``<on_crash>`` elements).

    :param event: ``poweroff``, ``reboot`` or ``crash``.
    :param action: ``destroy``, ``restart``, ``rename-restart``, ``preserve``, and for
        ``crash`` only ``coredump-destroy`` or ``coredump-restart``.
    :param live: / :param config: the running guest and/or the persistent definition
        (neither: live when active, config when not).
    :return: True.
    :raises VirtError: INVALID_ARG for an unknown event or action; CONFIG_UNSUPPORTED for a
        coredump action on poweroff or reboot (or an action the driver cannot do);
        OPERATION_INVALID for ``live`` on an inactive or ``config`` on a transient domain.
    :state: the action in the chosen definitions.
    """


# -- devices and resources ------------------------------------------------------------------------


@spec(readonly=False)
def virtkit_domain_attach_device(dom: DomainRef, xml: str, live: bool, config: bool) -> bool | None:
    """Add a device described by ``xml`` (one device element).

    :param live: apply to the running guest (hotplug); :param config: to the persistent
        definition. Neither: live when active, config when not.
    :return: True.
    :raises VirtError: XML_ERROR for a bad device document; OPERATION_INVALID for ``live`` on an
        inactive domain or ``config`` on a transient one; OPERATION_FAILED when a device with
        the same target exists; OPERATION_UNSUPPORTED for a device kind that cannot be hotplugged.
    :state: the device is part of the live and/or persistent definition.
    """


@spec(readonly=False)
def virtkit_domain_detach_device(dom: DomainRef, xml: str, live: bool, config: bool) -> bool | None:
    """Remove the device that ``xml`` identifies (by target, mac, alias...).

    :raises VirtError: DEVICE_MISSING when no such device exists; otherwise as attach.
    :state: the device is gone from the chosen definitions.
    """


def _alias(value: Any, op: str) -> Any:
    from virtkit.sdk.errors import invalid_arg

    if not isinstance(value, str) or not value:
        raise invalid_arg(f"{op}: a device alias must be a non-empty string")
    return value


@spec(readonly=False, checks={"alias": _alias})
def virtkit_domain_detach_device_alias(
    dom: DomainRef, alias: str, live: bool, config: bool
) -> bool | None:
    """Remove the device whose ``<alias name=...>`` is ``alias`` (libvirt's
    virDomainDetachDeviceAlias).

    :param live: / :param config: as for ``domain_attach_device``; each chosen definition
        must have the device.
    :return: True (a driver whose guest must agree may return before the guest lets go; the
        ``domain-device-removed`` event says when it did).
    :raises VirtError: DEVICE_MISSING "no device found with alias 'x'" naming the domain;
        OPERATION_UNSUPPORTED for a device that cannot be unplugged live; OPERATION_INVALID as
        for attach.
    :state: the device is gone from the chosen definitions; event ``domain-device-removed``
        for a live removal.
    """


@spec(readonly=False)
def virtkit_domain_update_device(
    dom: DomainRef, xml: str, live: bool, config: bool, force: bool
) -> bool | None:
    """Change a device in place (new media in a cdrom, a link state...).

    :param force: force the change (eject a locked cdrom).
    :raises VirtError: DEVICE_MISSING when no device matches; OPERATION_UNSUPPORTED for a
        change that cannot be made; otherwise as attach.
    :state: the device's new settings in the chosen definitions.
    """


@spec(readonly=False, checks={"kib": positive("memory size in KiB")})
def virtkit_domain_set_memory(
    dom: DomainRef, kib: int, live: bool, config: bool, maximum: bool
) -> bool | None:
    """Set the current (balloon) memory, or the maximum with ``maximum``, in KiB.

    :raises VirtError: INVALID_ARG when ``kib`` exceeds the maximum (or is < 1);
        OPERATION_INVALID for a live change of the maximum on a running domain.
    :state: the memory values in the chosen definitions.
    """


@spec(readonly=False, checks={"count": positive("vcpu count")})
def virtkit_domain_set_vcpus(
    dom: DomainRef, count: int, live: bool, config: bool, maximum: bool
) -> bool | None:
    """Set the number of active vcpus, or the maximum with ``maximum``.

    :raises VirtError: INVALID_ARG when ``count`` is < 1 or above the maximum;
        OPERATION_INVALID for a live change of the maximum.
    :state: the vcpu counts in the chosen definitions.
    """


@spec(readonly=True)
def virtkit_domain_get_vcpus_count(
    dom: DomainRef, live: bool, config: bool, maximum: bool
) -> int | None:
    """The current or maximum vcpu count of the live or persistent definition.

    :raises VirtError: OPERATION_INVALID for ``live`` on an inactive domain.
    :state: none.
    """


# -- snapshots ------------------------------------------------------------------------------------


@spec(readonly=False)
def virtkit_snapshot_create_xml(dom: DomainRef, xml: str, redefine: bool) -> str | None:
    """Take a snapshot described by ``<domainsnapshot>`` (name generated when absent).

    :param redefine: only restore snapshot metadata (as libvirt's REDEFINE flag).
    :return: the snapshot's name; it becomes the current snapshot.
    :raises VirtError: XML_ERROR for a bad document; OPERATION_INVALID when a snapshot of that
        name exists (and not ``redefine``).
    :state: a new snapshot whose parent is the previous current one.
    """


@spec(readonly=True)
def virtkit_snapshot_list(dom: DomainRef) -> list[SnapshotSummary] | None:
    """Every snapshot of ``dom``.

    :return: one :class:`~virtkit.sdk.records.SnapshotSummary` per snapshot (identity, parent name,
        state, creation time, current, number of children), in creation order.
    :raises VirtError: NO_DOMAIN.
    :state: none.
    """


@spec(
    readonly=unless(security_info=True),
    denied_because="with security_info: it reveals secrets such as graphics passwords",
)
def virtkit_snapshot_get_xml(dom: DomainRef, name: str, security_info: bool) -> str | None:
    """A snapshot's ``<domainsnapshot>`` document.

    :param security_info: include secrets (graphics passwords) in the domain it holds; refused on
        a read-only connection.

    :raises VirtError: NO_DOMAIN_SNAPSHOT "Domain snapshot not found: no domain snapshot with
        matching name 'x'".
    :state: none.
    """


@spec(readonly=True)
def virtkit_snapshot_current(dom: DomainRef) -> str | None:
    """The current snapshot's name.

    :raises VirtError: NO_DOMAIN_SNAPSHOT "the domain does not have a current snapshot".
    :state: none.
    """


@spec(readonly=False)
def virtkit_snapshot_revert(
    dom: DomainRef, name: str, running: bool, paused: bool
) -> bool | None:
    """Return the domain to a snapshot.

    :param running: / :param paused: override the state recorded in the snapshot.
    :raises VirtError: NO_DOMAIN_SNAPSHOT.
    :state: the snapshot's state with reason FROM_SNAPSHOT; events STARTED/FROM_SNAPSHOT,
        SUSPENDED/FROM_SNAPSHOT or STOPPED/FROM_SNAPSHOT as the state changes; it becomes current.
    """


@spec(readonly=False)
def virtkit_snapshot_delete(
    dom: DomainRef, name: str, children: bool, children_only: bool, metadata_only: bool
) -> bool | None:
    """Delete a snapshot, its children with ``children``, or only its children.

    :raises VirtError: NO_DOMAIN_SNAPSHOT.
    :state: the snapshot is gone; its children are re-parented to its parent.
    """


# -- migration (libvirt's five phases) ------------------------------------------------------------


@spec(readonly=False)
def virtkit_migrate_begin(
    dom: DomainRef, xml: str | None, params: dict[str, Any]
) -> dict[str, Any] | None:
    """Source, phase 1: describe the guest for the destination.

    :param params: migration parameters (``live``, ``persistent``, ``undefine_source``,
        ``offline``, ``dname``, ``bandwidth``).
    :return: ``{"xml": str, "cookie": dict}``.
    :raises VirtError: OPERATION_INVALID when inactive (and not ``offline``); MIGRATE_UNSAFE.
    :state: none yet.
    """


@spec(readonly=False)
def virtkit_migrate_prepare(
    xml: str, cookie: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any] | None:
    """Destination, phase 2: make ready to receive the guest.

    :return: ``{"uri": str, "cookie": dict}`` telling the source where to send.
    :raises VirtError: OPERATION_FAILED when a different domain of that name/uuid exists.
    :state: the destination holds a paused, incoming guest (PAUSED/MIGRATION).
    """


@spec(readonly=False)
def virtkit_migrate_perform(
    dom: DomainRef, uri: str, cookie: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any] | None:
    """Source, phase 3: send the guest's state to ``uri``.

    :return: ``{"cookie": dict}`` for finish.
    :raises VirtError: OPERATION_FAILED on transfer failure (the guest keeps running here).
    :state: source PAUSED/MIGRATION.
    """


@spec(readonly=False, optional_result=True)
def virtkit_migrate_finish(
    name: str, cookie: dict[str, Any], params: dict[str, Any], cancelled: bool
) -> DomainRef | None:
    """Destination, phase 4: start the received guest, or discard it when ``cancelled``.

    :return: the domain's identity, or None when cancelled.
    :raises VirtError: OPERATION_FAILED when the guest cannot be started here (the source
        then resumes it in confirm).
    :state: destination RUNNING/MIGRATED, event STARTED/MIGRATED (persistent with
        ``persistent``).
    """


@spec(readonly=False)
def virtkit_migrate_confirm(
    dom: DomainRef, cookie: dict[str, Any], params: dict[str, Any], cancelled: bool
) -> bool | None:
    """Source, phase 5: end the source guest, or resume it when the migration was cancelled.

    :raises VirtError: NO_DOMAIN; OPERATION_FAILED when the source guest cannot be ended.
    :state: source SHUTOFF/MIGRATED, event STOPPED/MIGRATED (undefined with
        ``undefine_source``); cancelled: RUNNING/MIGRATION_CANCELED.
    """


# -- console, guest addresses, statistics, jobs ---------------------------------------------------


@spec(readonly=False, opens_stream=True)
def virtkit_domain_open_console(dom: DomainRef, device: str | None, force: bool) -> int | None:
    """Open the guest's console (or the named serial/console device) as a stream.

    :param force: take the console from another client holding it.
    :return: a stream id for the ``stream_*`` hooks.
    :raises VirtError: OPERATION_INVALID when not running; OPERATION_FAILED when another client
        holds the console and not ``force``; DEVICE_MISSING for an unknown device.
    :state: a console stream is open.
    """


@spec(readonly=False, opens_stream=True)
def virtkit_domain_open_channel(dom: DomainRef, name: str | None, force: bool) -> int | None:
    """Open one of the guest's ``<channel>`` devices as a stream (libvirt's
    virDomainOpenChannel): the host end of a virtio-serial or guestfwd channel.

    :param name: the channel's alias (``channel0``) or its virtio target name
        (``org.example.app.0``); None for the first channel.
    :param force: take the channel from another client holding it.
    :return: a stream id for the ``stream_*`` hooks.
    :raises VirtError: OPERATION_INVALID when not running; DEVICE_MISSING for a domain without
        that channel; OPERATION_FAILED when another client holds it and not ``force``.
    :state: a channel stream is open (until closed, taken, or the guest stops).
    """


@spec(
    readonly=unless(source="agent"),
    checks={"source": one_of("address source", ADDRESS_SOURCES)},
    denied_because="from the guest agent",
)
def virtkit_domain_interface_addresses(
    dom: DomainRef, source: str
) -> list[InterfaceAddress] | None:
    """The guest's interface addresses.

    :param source: ``lease`` (the DHCP server's leases), ``agent`` (guest agent) or ``arp``.
    :raises VirtError: OPERATION_INVALID when not running; ARGUMENT_UNSUPPORTED for a source the
        driver cannot use.
    :state: none.
    """


@spec(readonly=True)
def virtkit_domain_block_stats(dom: DomainRef, device: str) -> dict[str, int] | None:
    """I/O counters of one disk: ``rd_req``, ``rd_bytes``, ``wr_req``, ``wr_bytes``, ``errs``.

    :param device: target (``vda``) or source path.
    :raises VirtError: OPERATION_INVALID when not running; INVALID_ARG for an unknown disk.
    :state: none.
    """


@spec(readonly=True)
def virtkit_domain_interface_stats(dom: DomainRef, device: str) -> dict[str, int] | None:
    """Counters of one interface: ``rx_bytes``, ``rx_packets``, ``rx_errs``, ``rx_drop``,
    ``tx_bytes``, ``tx_packets``, ``tx_errs``, ``tx_drop``.

    :param device: target device name (``vnet0``) or MAC address.
    :raises VirtError: OPERATION_INVALID when not running; INVALID_ARG for an unknown interface.
    :state: none.
    """


@spec(readonly=True)
def virtkit_domain_memory_stats(dom: DomainRef) -> dict[str, int] | None:
    """Balloon statistics in KiB: ``actual``, ``available``, ``unused``, ``rss`` where known.

    :raises VirtError: OPERATION_INVALID when not running.
    :state: none.
    """


@spec(readonly=True)
def virtkit_domain_get_job_info(dom: DomainRef) -> JobInfo | None:
    """Progress of the domain's current (or last completed) job.

    :return: a :class:`~virtkit.sdk.records.JobInfo`; type 0 (none) when no job ever ran.
    :raises VirtError: NO_DOMAIN.
    :state: none.
    """


@spec(readonly=False)
def virtkit_domain_abort_job(dom: DomainRef) -> bool | None:
    """Abort the domain's current job; the job ends with OPERATION_ABORTED.

    :raises VirtError: OPERATION_INVALID "no job is active on the domain", or when the job is
        a migration in post-copy mode (the destination already runs the guest: only
        ``domain_abort_job_postcopy`` may interrupt it).
    :state: the domain returns to its state before the job.
    """


@spec(readonly=False)
def virtkit_domain_abort_job_postcopy(dom: DomainRef) -> bool | None:
    """Interrupt an outgoing migration in post-copy mode (libvirt's abortJobFlags with
    VIR_DOMAIN_ABORT_JOB_POSTCOPY): not a true abort, the guest's state is split between the
    hosts.

    :return: True once the interruption is requested; the migration then fails with
        OPERATION_FAILED.
    :raises VirtError: OPERATION_INVALID "current job is not outgoing migration in post-copy
        mode" naming the domain.
    :state: the source PAUSED/POSTCOPY_FAILED, event SUSPENDED/POSTCOPY_FAILED; the
        destination keeps no guest.
    """
