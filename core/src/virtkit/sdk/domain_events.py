"""libvirt's 27 domain event ids: their virtkit event kinds, virsh's names and their arguments.

Every domain event a driver emits is an :class:`~virtkit.sdk.records.Event` of one of the kinds
below. Lifecycle events carry libvirt's ``event`` and ``detail`` numbers; device-added,
device-removed and device-removal-failed carry the device's alias in ``device``; every other
kind carries its arguments in ``params`` under the names listed here, in the order libvirt's
callback receives them. :func:`domain_event` builds one and refuses a missing or unknown
argument, so a driver cannot emit an event a callback cannot read.

The numbers in ``params`` are libvirt's (its ``virDomainEvent*`` enums); the tables below give
the words virsh prints for them.
"""

from __future__ import annotations

from typing import Any

import attrs

from virtkit.sdk.records import DomainRef, Event


@attrs.frozen
class DomainEventId:
    """One of libvirt's domain event ids (``VIR_DOMAIN_EVENT_ID_*``)."""

    id: int
    kind: str  # virtkit's Event.kind
    virsh: str  # the name virsh's ``event --event`` takes
    params: tuple[str, ...]  # the callback's arguments after the domain, in libvirt's order


DOMAIN_EVENT_IDS: tuple[DomainEventId, ...] = (
    DomainEventId(0, "domain-lifecycle", "lifecycle", ("event", "detail")),
    DomainEventId(1, "domain-reboot", "reboot", ()),
    DomainEventId(2, "domain-rtc-change", "rtc-change", ("utcoffset",)),
    DomainEventId(3, "domain-watchdog", "watchdog", ("action",)),
    DomainEventId(4, "domain-io-error", "io-error", ("src_path", "dev_alias", "action")),
    DomainEventId(5, "domain-graphics", "graphics",
                  ("phase", "local", "remote", "auth_scheme", "subject")),
    DomainEventId(6, "domain-io-error-reason", "io-error-reason",
                  ("src_path", "dev_alias", "action", "reason")),
    DomainEventId(7, "domain-control-error", "control-error", ()),
    DomainEventId(8, "domain-block-job", "block-job", ("disk", "type", "status")),
    DomainEventId(9, "domain-disk-change", "disk-change",
                  ("old_src_path", "new_src_path", "dev_alias", "reason")),
    DomainEventId(10, "domain-tray-change", "tray-change", ("dev_alias", "reason")),
    DomainEventId(11, "domain-pm-wakeup", "pm-wakeup", ("reason",)),
    DomainEventId(12, "domain-pm-suspend", "pm-suspend", ("reason",)),
    DomainEventId(13, "domain-balloon-change", "balloon-change", ("actual",)),
    DomainEventId(14, "domain-pm-suspend-disk", "pm-suspend-disk", ("reason",)),
    DomainEventId(15, "domain-device-removed", "device-removed", ("dev_alias",)),
    DomainEventId(16, "domain-block-job-2", "block-job-2", ("dst", "type", "status")),
    DomainEventId(17, "domain-tunable", "tunable", ("params",)),
    DomainEventId(18, "domain-agent-lifecycle", "agent-lifecycle", ("state", "reason")),
    DomainEventId(19, "domain-device-added", "device-added", ("dev_alias",)),
    DomainEventId(20, "domain-migration-iteration", "migration-iteration", ("iteration",)),
    DomainEventId(21, "domain-job-completed", "job-completed", ("params",)),
    DomainEventId(22, "domain-device-removal-failed", "device-removal-failed", ("dev_alias",)),
    DomainEventId(23, "domain-metadata-change", "metadata-change", ("type", "nsuri")),
    DomainEventId(24, "domain-block-threshold", "block-threshold",
                  ("dev", "path", "threshold", "excess")),
    DomainEventId(25, "domain-memory-failure", "memory-failure", ("recipient", "action", "flags")),
    DomainEventId(26, "domain-memory-device-size-change", "memory-device-size-change",
                  ("alias", "size")),
)

BY_ID: dict[int, DomainEventId] = {e.id: e for e in DOMAIN_EVENT_IDS}
BY_KIND: dict[str, DomainEventId] = {e.kind: e for e in DOMAIN_EVENT_IDS}
BY_VIRSH: dict[str, DomainEventId] = {e.virsh: e for e in DOMAIN_EVENT_IDS}

#: kinds whose single argument is the device alias, kept in ``Event.device``
DEVICE_KINDS = frozenset({"domain-device-added", "domain-device-removed",
                          "domain-device-removal-failed"})

# -- libvirt's numbers for the event arguments, with virsh's words -------------------------------

WATCHDOG_ACTIONS = ("none", "pause", "reset", "poweroff", "shutdown", "debug", "inject-nmi")
IO_ERROR_ACTIONS = ("none", "pause", "report")
GRAPHICS_PHASES = ("connect", "initialize", "disconnect")
GRAPHICS_FAMILIES = ("IPv4", "IPv6", "unix")
#: virConnectDomainEventBlockJobType: 0 unknown, 1 pull, 2 copy, 3 commit, 4 active commit,
#: 5 backup
BLOCK_JOB_TYPES = ("unknown", "Block Pull", "Block Copy", "Block Commit", "Active Block Commit",
                   "Backup")
#: virConnectDomainEventBlockJobStatus
BLOCK_JOB_STATUSES = ("completed", "failed", "canceled", "ready")
DISK_CHANGE_REASONS = ("changed", "dropped")
TRAY_CHANGE_REASONS = ("opened", "closed")
AGENT_STATES = ("unknown", "connected", "disconnected")
AGENT_REASONS = ("unknown", "domain started", "channel event")
METADATA_TYPES = ("description", "title", "element")
MEMORY_FAILURE_RECIPIENTS = ("hypervisor", "guest")
MEMORY_FAILURE_ACTIONS = ("ignore", "inject", "fatal", "reset")

# block job numbers by name, as drivers use them
JOB_PULL, JOB_COPY, JOB_COMMIT, JOB_ACTIVE_COMMIT, JOB_BACKUP = 1, 2, 3, 4, 5
JOB_COMPLETED, JOB_FAILED, JOB_CANCELED, JOB_READY = 0, 1, 2, 3
AGENT_CONNECTED, AGENT_DISCONNECTED = 1, 2
AGENT_REASON_UNKNOWN, AGENT_REASON_DOMAIN_STARTED, AGENT_REASON_CHANNEL = 0, 1, 2


def domain_event(kind: str, dom: DomainRef, **params: Any) -> Event:
    """An event of ``kind`` for ``dom`` with libvirt's arguments by name.

    Lifecycle events take ``event`` and ``detail``; device events ``dev_alias``; the others
    exactly the arguments :data:`DOMAIN_EVENT_IDS` lists. Raises ValueError (a driver bug) for
    an unknown kind or a missing or unknown argument.
    """
    spec = BY_KIND.get(kind)
    if spec is None:
        raise ValueError(f"{kind!r} is not a domain event kind")
    if set(params) != set(spec.params):
        raise ValueError(f"a {kind} event takes {spec.params}, not {tuple(params)}")
    if kind == "domain-lifecycle":
        return Event(kind, dom, int(params["event"]), int(params["detail"]))
    if kind in DEVICE_KINDS:
        return Event(kind, dom, device=str(params["dev_alias"]))
    return Event(kind, dom, params=dict(params))


def callback_args(event: Event) -> tuple[Any, ...]:
    """The arguments libvirt-python's callback for this event receives after the domain (and
    before ``opaque``), in libvirt's order."""
    spec = BY_KIND[event.kind]
    if event.kind == "domain-lifecycle":
        return (event.event, event.detail)
    if event.kind in DEVICE_KINDS:
        return (event.device,)
    return tuple(event.params.get(name) for name in spec.params)
