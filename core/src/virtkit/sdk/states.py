"""The one domain state machine: states, reasons, lifecycle events and allowed transitions.

Drivers never keep their own: they hold a :class:`DomainStatus` per domain and ask
:func:`transition` what an operation does to it. The result says the new state and reason, the
lifecycle events to emit (in order), whether the domain is now active, and whether a transient
domain vanishes. An operation that is not allowed raises ``VirtError(OPERATION_INVALID)`` naming
the domain, with libvirt's wording.
"""

from __future__ import annotations

import enum

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError


class DomainState(enum.IntEnum):
    NOSTATE = 0
    RUNNING = 1
    BLOCKED = 2
    PAUSED = 3
    SHUTDOWN = 4
    SHUTOFF = 5
    CRASHED = 6
    PMSUSPENDED = 7


class NostateReason(enum.IntEnum):
    UNKNOWN = 0


class RunningReason(enum.IntEnum):
    UNKNOWN = 0
    BOOTED = 1
    MIGRATED = 2
    RESTORED = 3
    FROM_SNAPSHOT = 4
    UNPAUSED = 5
    MIGRATION_CANCELED = 6
    SAVE_CANCELED = 7
    WAKEUP = 8
    CRASHED = 9
    POSTCOPY = 10
    POSTCOPY_FAILED = 11


class BlockedReason(enum.IntEnum):
    UNKNOWN = 0


class PausedReason(enum.IntEnum):
    UNKNOWN = 0
    USER = 1
    MIGRATION = 2
    SAVE = 3
    DUMP = 4
    IOERROR = 5
    WATCHDOG = 6
    FROM_SNAPSHOT = 7
    SHUTTING_DOWN = 8
    SNAPSHOT = 9
    CRASHED = 10
    STARTING_UP = 11
    POSTCOPY = 12
    POSTCOPY_FAILED = 13
    API_ERROR = 14


class ShutdownReason(enum.IntEnum):
    UNKNOWN = 0
    USER = 1


class ShutoffReason(enum.IntEnum):
    UNKNOWN = 0
    SHUTDOWN = 1
    DESTROYED = 2
    CRASHED = 3
    MIGRATED = 4
    SAVED = 5
    FAILED = 6
    FROM_SNAPSHOT = 7
    DAEMON = 8


class CrashedReason(enum.IntEnum):
    UNKNOWN = 0
    PANICKED = 1


class PMSuspendedReason(enum.IntEnum):
    UNKNOWN = 0


REASONS: dict[DomainState, type[enum.IntEnum]] = {
    DomainState.NOSTATE: NostateReason,
    DomainState.RUNNING: RunningReason,
    DomainState.BLOCKED: BlockedReason,
    DomainState.PAUSED: PausedReason,
    DomainState.SHUTDOWN: ShutdownReason,
    DomainState.SHUTOFF: ShutoffReason,
    DomainState.CRASHED: CrashedReason,
    DomainState.PMSUSPENDED: PMSuspendedReason,
}


def reason_name(state: int, reason: int) -> str:
    """The reason's name in lower case ("booted"), or "unknown" for a number out of range."""
    try:
        return REASONS[DomainState(state)](reason).name.lower()
    except ValueError:
        return "unknown"


class EventType(enum.IntEnum):
    """libvirt's virDomainEventType."""

    DEFINED = 0
    UNDEFINED = 1
    STARTED = 2
    SUSPENDED = 3
    RESUMED = 4
    STOPPED = 5
    SHUTDOWN = 6
    PMSUSPENDED = 7
    CRASHED = 8


class DefinedDetail(enum.IntEnum):
    ADDED = 0
    UPDATED = 1
    RENAMED = 2
    FROM_SNAPSHOT = 3


class UndefinedDetail(enum.IntEnum):
    REMOVED = 0
    RENAMED = 1


class StartedDetail(enum.IntEnum):
    BOOTED = 0
    MIGRATED = 1
    RESTORED = 2
    FROM_SNAPSHOT = 3
    WAKEUP = 4


class SuspendedDetail(enum.IntEnum):
    PAUSED = 0
    MIGRATED = 1
    IOERROR = 2
    WATCHDOG = 3
    RESTORED = 4
    FROM_SNAPSHOT = 5
    API_ERROR = 6
    POSTCOPY = 7
    POSTCOPY_FAILED = 8


class ResumedDetail(enum.IntEnum):
    UNPAUSED = 0
    MIGRATED = 1
    FROM_SNAPSHOT = 2
    POSTCOPY = 3


class StoppedDetail(enum.IntEnum):
    SHUTDOWN = 0
    DESTROYED = 1
    CRASHED = 2
    MIGRATED = 3
    SAVED = 4
    FAILED = 5
    FROM_SNAPSHOT = 6


class ShutdownDetail(enum.IntEnum):
    FINISHED = 0
    GUEST = 1
    HOST = 2


class PMSuspendedDetail(enum.IntEnum):
    MEMORY = 0
    DISK = 1


class CrashedDetail(enum.IntEnum):
    PANICKED = 0


EVENT_DETAILS: dict[EventType, type[enum.IntEnum]] = {
    EventType.DEFINED: DefinedDetail,
    EventType.UNDEFINED: UndefinedDetail,
    EventType.STARTED: StartedDetail,
    EventType.SUSPENDED: SuspendedDetail,
    EventType.RESUMED: ResumedDetail,
    EventType.STOPPED: StoppedDetail,
    EventType.SHUTDOWN: ShutdownDetail,
    EventType.PMSUSPENDED: PMSuspendedDetail,
    EventType.CRASHED: CrashedDetail,
}


ACTIVE_STATES = frozenset(
    {
        DomainState.RUNNING,
        DomainState.BLOCKED,
        DomainState.PAUSED,
        DomainState.SHUTDOWN,
        DomainState.CRASHED,
        DomainState.PMSUSPENDED,
    }
)


@attrs.frozen
class DomainStatus:
    """What the state machine knows of one domain.

    A domain is active exactly when its state is not SHUTOFF (or NOSTATE). A transient domain
    exists only while active.
    """

    state: DomainState = DomainState.SHUTOFF
    reason: int = ShutoffReason.UNKNOWN
    persistent: bool = True
    has_managed_save: bool = False

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


def affected(name: str, active: bool, persistent: bool, live: bool, config: bool,
             domain: ErrorDomain = ErrorDomain.DOMAIN) -> tuple[bool, bool]:
    """Which of a domain's definitions a change reaches, from libvirt's affect flags: ``live``
    (VIR_DOMAIN_AFFECT_LIVE: the running guest) and ``config`` (VIR_DOMAIN_AFFECT_CONFIG: the
    persistent definition); neither (VIR_DOMAIN_AFFECT_CURRENT) is live when the domain is
    active, else config.

    :param name: the domain's name, for the messages.
    :param active: whether the domain runs; ``persistent``: whether it has a persistent
        definition.
    :returns: ``(live, config)``, at least one of them true.
    :raises VirtError: OPERATION_INVALID in ``domain``, naming the domain: live on an inactive
        domain (``domain 'NAME' is not running``), config on a transient one.
    """
    if not live and not config:
        return (True, False) if active else (False, True)
    if live and not active:
        raise VirtError(ErrorCode.OPERATION_INVALID, f"domain '{name}' is not running", domain)
    if config and not persistent:
        raise VirtError(ErrorCode.OPERATION_INVALID, f"cannot change the persistent "
                        f"configuration of transient domain '{name}'", domain)
    return live, config


@attrs.frozen
class Transition:
    """The outcome of one operation.

    ``status`` is None when the domain no longer exists (undefined, or transient and stopped).
    ``events`` are (EventType, detail) pairs to emit in order; ``reboot`` is True when a reboot
    event (not a lifecycle event) is due.
    """

    status: DomainStatus | None
    events: tuple[tuple[EventType, int], ...] = ()
    reboot: bool = False

    @property
    def vanished(self) -> bool:
        return self.status is None


class Op(enum.Enum):
    """Operations the state machine knows. Drivers name the one they perform."""

    DEFINE = "define"
    UNDEFINE = "undefine"
    CREATE = "create"  # start a defined domain
    CREATE_XML = "create_xml"  # start a new transient domain
    SHUTDOWN = "shutdown"  # guest completed an orderly shutdown (test driver: at once)
    REBOOT = "reboot"
    RESET = "reset"
    DESTROY = "destroy"
    SUSPEND = "suspend"
    RESUME = "resume"
    SAVE = "save"
    RESTORE = "restore"
    MANAGED_SAVE = "managed_save"
    MANAGED_SAVE_REMOVE = "managed_save_remove"
    CRASH = "crash"  # the guest died on its own
    PMSUSPEND = "pmsuspend"
    PMWAKEUP = "pmwakeup"
    MIGRATE_PAUSE = "migrate_pause"  # the source stops its vcpus for the final transfer
    MIGRATE_CANCEL = "migrate_cancel"  # a failed migration resumes the source
    POSTCOPY_FAIL = "postcopy_fail"  # a migration interrupted in post-copy pauses the source
    MIGRATE_OUT = "migrate_out"
    MIGRATE_IN = "migrate_in"
    REVERT_RUNNING = "revert_running"
    REVERT_PAUSED = "revert_paused"
    REVERT_SHUTOFF = "revert_shutoff"


def _invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, message, ErrorDomain.DOMAIN)


def _stopped(status: DomainStatus, reason: ShutoffReason, detail: StoppedDetail) -> Transition:
    events: tuple[tuple[EventType, int], ...] = ((EventType.STOPPED, detail),)
    if not status.persistent:
        return Transition(None, events)
    new = attrs.evolve(status, state=DomainState.SHUTOFF, reason=reason)
    return Transition(new, events)


def transition(
    op: Op,
    name: str,
    status: DomainStatus | None,
    *,
    paused: bool = False,
    force_boot: bool = False,
) -> Transition:
    """What ``op`` does to domain ``name`` in ``status`` (None: the domain does not exist yet).

    ``paused`` asks create/create_xml/restore/migrate_in to leave the guest paused;
    ``force_boot`` makes create ignore a managed-save image (which is then discarded).
    Raises OPERATION_INVALID when the table does not allow the operation.
    """
    S = DomainState
    if op is Op.DEFINE:
        if status is None:
            return Transition(DomainStatus(), ((EventType.DEFINED, DefinedDetail.ADDED),))
        return Transition(
            attrs.evolve(status, persistent=True), ((EventType.DEFINED, DefinedDetail.UPDATED),)
        )
    if op in (Op.CREATE_XML, Op.RESTORE, Op.MIGRATE_IN):
        if status is not None and status.active:
            raise _invalid(f"domain '{name}' is already active")
        persistent = status.persistent if status is not None else False
        started = {
            Op.CREATE_XML: (RunningReason.BOOTED, StartedDetail.BOOTED),
            Op.RESTORE: (RunningReason.RESTORED, StartedDetail.RESTORED),
            Op.MIGRATE_IN: (RunningReason.MIGRATED, StartedDetail.MIGRATED),
        }[op]
        return _start(persistent, started[0], started[1], paused)
    if status is None:
        raise VirtError(
            ErrorCode.NO_DOMAIN,
            f"Domain not found: no domain with matching name '{name}'",
            ErrorDomain.DOMAIN,
        )
    if op is Op.UNDEFINE:
        if not status.persistent:
            raise _invalid(f"cannot undefine transient domain '{name}'")
        events = ((EventType.UNDEFINED, UndefinedDetail.REMOVED),)
        if not status.active:
            return Transition(None, events)
        return Transition(attrs.evolve(status, persistent=False, has_managed_save=False), events)
    if op is Op.CREATE:
        if status.active:
            raise _invalid(f"domain '{name}' is already running")
        if status.has_managed_save and not force_boot:
            t = _start(True, RunningReason.RESTORED, StartedDetail.RESTORED, paused)
        else:
            t = _start(True, RunningReason.BOOTED, StartedDetail.BOOTED, paused)
        assert t.status is not None
        return attrs.evolve(t, status=attrs.evolve(t.status, has_managed_save=False))
    if op is Op.MANAGED_SAVE_REMOVE:
        if not status.has_managed_save:
            return Transition(status)
        return Transition(attrs.evolve(status, has_managed_save=False))
    if op in (Op.REVERT_RUNNING, Op.REVERT_PAUSED, Op.REVERT_SHUTOFF):
        return _revert(op, status)

    # Everything below needs an active domain.
    if not status.active:
        raise _invalid(f"domain '{name}' is not running")
    if op is Op.SHUTDOWN:
        t = _stopped(status, ShutoffReason.SHUTDOWN, StoppedDetail.SHUTDOWN)
        return attrs.evolve(
            t, events=((EventType.SHUTDOWN, ShutdownDetail.FINISHED), *t.events)
        )
    if op is Op.DESTROY:
        return _stopped(status, ShutoffReason.DESTROYED, StoppedDetail.DESTROYED)
    if op is Op.CRASH:
        return _stopped(status, ShutoffReason.CRASHED, StoppedDetail.CRASHED)
    if op is Op.MIGRATE_OUT:
        return _stopped(status, ShutoffReason.MIGRATED, StoppedDetail.MIGRATED)
    if op is Op.SAVE:
        return _stopped(status, ShutoffReason.SAVED, StoppedDetail.SAVED)
    if op is Op.MANAGED_SAVE:
        if not status.persistent:
            raise _invalid(f"cannot do managed save for transient domain '{name}'")
        t = _stopped(status, ShutoffReason.SAVED, StoppedDetail.SAVED)
        assert t.status is not None
        return attrs.evolve(t, status=attrs.evolve(t.status, has_managed_save=True))
    if op in (Op.REBOOT, Op.RESET):
        if status.state in (S.PMSUSPENDED, S.CRASHED):
            raise _invalid(f"domain '{name}' is not running")
        return Transition(status, (), reboot=op is Op.REBOOT)
    if op is Op.SUSPEND:
        if status.state is S.PMSUSPENDED:
            raise _invalid(f"domain '{name}' is pmsuspended")
        if status.state is S.CRASHED:
            raise _invalid(f"domain '{name}' is crashed")
        if status.state is S.PAUSED:
            return Transition(status)
        return Transition(
            attrs.evolve(status, state=S.PAUSED, reason=PausedReason.USER),
            ((EventType.SUSPENDED, SuspendedDetail.PAUSED),),
        )
    if op is Op.RESUME:
        if status.state is not S.PAUSED:
            raise _invalid(f"domain '{name}' is not paused")
        return Transition(
            attrs.evolve(status, state=S.RUNNING, reason=RunningReason.UNPAUSED),
            ((EventType.RESUMED, ResumedDetail.UNPAUSED),),
        )
    if op is Op.MIGRATE_PAUSE:
        if status.state not in (S.RUNNING, S.PAUSED):
            raise _invalid(f"domain '{name}' is not running")
        return Transition(
            attrs.evolve(status, state=S.PAUSED, reason=PausedReason.MIGRATION),
            ((EventType.SUSPENDED, SuspendedDetail.MIGRATED),),
        )
    if op is Op.MIGRATE_CANCEL:
        if not (status.state is S.PAUSED and status.reason == PausedReason.MIGRATION):
            return Transition(status)
        return Transition(
            attrs.evolve(status, state=S.RUNNING, reason=RunningReason.MIGRATION_CANCELED),
            ((EventType.RESUMED, ResumedDetail.MIGRATED),),
        )
    if op is Op.POSTCOPY_FAIL:
        if status.state not in (S.RUNNING, S.PAUSED):
            raise _invalid(f"domain '{name}' is not running")
        return Transition(
            attrs.evolve(status, state=S.PAUSED, reason=PausedReason.POSTCOPY_FAILED),
            ((EventType.SUSPENDED, SuspendedDetail.POSTCOPY_FAILED),),
        )
    if op is Op.PMSUSPEND:
        if status.state is not S.RUNNING:
            raise _invalid(f"domain '{name}' is not running")
        return Transition(
            attrs.evolve(status, state=S.PMSUSPENDED, reason=PMSuspendedReason.UNKNOWN),
            ((EventType.PMSUSPENDED, PMSuspendedDetail.MEMORY),),
        )
    if op is Op.PMWAKEUP:
        if status.state is not S.PMSUSPENDED:
            raise _invalid(f"domain '{name}' is not suspended to memory")
        return Transition(
            attrs.evolve(status, state=S.RUNNING, reason=RunningReason.WAKEUP),
            ((EventType.STARTED, StartedDetail.WAKEUP),),
        )
    raise AssertionError(f"unhandled operation {op}")  # pragma: no cover


def _start(
    persistent: bool, reason: RunningReason, detail: StartedDetail, paused: bool
) -> Transition:
    events: list[tuple[EventType, int]] = [(EventType.STARTED, detail)]
    if paused:
        events.append((EventType.SUSPENDED, SuspendedDetail.PAUSED))
        status = DomainStatus(DomainState.PAUSED, PausedReason.USER, persistent)
    else:
        status = DomainStatus(DomainState.RUNNING, reason, persistent)
    return Transition(status, tuple(events))


def _revert(op: Op, status: DomainStatus) -> Transition:
    """Reverting discards a managed-save image: it belongs to a state that no longer exists."""
    S = DomainState
    status = attrs.evolve(status, has_managed_save=False)
    events: list[tuple[EventType, int]] = []
    if op is Op.REVERT_SHUTOFF:
        if status.active:
            events.append((EventType.STOPPED, StoppedDetail.FROM_SNAPSHOT))
        if not status.persistent:
            return Transition(None, tuple(events))
        new = attrs.evolve(status, state=S.SHUTOFF, reason=ShutoffReason.FROM_SNAPSHOT)
        return Transition(new, tuple(events))
    if not status.active:
        events.append((EventType.STARTED, StartedDetail.FROM_SNAPSHOT))
    if op is Op.REVERT_PAUSED:
        if status.state is not S.PAUSED:
            events.append((EventType.SUSPENDED, SuspendedDetail.FROM_SNAPSHOT))
        new = attrs.evolve(status, state=S.PAUSED, reason=PausedReason.FROM_SNAPSHOT)
    else:
        if status.state is S.PAUSED:
            events.append((EventType.RESUMED, ResumedDetail.FROM_SNAPSHOT))
        new = attrs.evolve(status, state=S.RUNNING, reason=RunningReason.FROM_SNAPSHOT)
    return Transition(new, tuple(events))


# -- networks and storage pools ------------------------------------------------------------


class NetworkEventLifecycle(enum.IntEnum):
    """libvirt's virNetworkEventLifecycleType: the ``event`` of a ``network-lifecycle`` Event."""

    DEFINED = 0
    UNDEFINED = 1
    STARTED = 2
    STOPPED = 3


class PoolEventLifecycle(enum.IntEnum):
    """libvirt's virStoragePoolEventLifecycleType: the ``event`` of a ``pool-lifecycle`` Event."""

    DEFINED = 0
    UNDEFINED = 1
    STARTED = 2
    STOPPED = 3
    CREATED = 4
    DELETED = 5


class PoolState(enum.IntEnum):
    """libvirt's virStoragePoolState: ``PoolInfo.state``."""

    INACTIVE = 0
    BUILDING = 1
    RUNNING = 2
    DEGRADED = 3
    INACCESSIBLE = 4
