"""Events by polling: VirtualBox tells VBoxManage nothing on its own, so each connection runs
one background thread that compares the machines' states with what it last reported, at a
bounded interval, and stops when the connection closes."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from virtkit.sdk.errors import VirtError
from virtkit.sdk.states import (
    DefinedDetail,
    DomainState,
    EventType,
    ResumedDetail,
    ShutdownDetail,
    ShutoffReason,
    StartedDetail,
    StoppedDetail,
    SuspendedDetail,
    UndefinedDetail,
)

log = logging.getLogger("virtkit_vbox")

View = tuple[int, int, bool, str]  # state, reason, persistent, name

_STOPPED = {
    ShutoffReason.SHUTDOWN: StoppedDetail.SHUTDOWN, ShutoffReason.DESTROYED:
    StoppedDetail.DESTROYED, ShutoffReason.CRASHED: StoppedDetail.CRASHED,
    ShutoffReason.SAVED: StoppedDetail.SAVED, ShutoffReason.FROM_SNAPSHOT:
    StoppedDetail.FROM_SNAPSHOT, ShutoffReason.MIGRATED: StoppedDetail.MIGRATED,
    ShutoffReason.FAILED: StoppedDetail.FAILED,
}


def _active(state: int) -> bool:
    return state not in (DomainState.SHUTOFF, DomainState.NOSTATE)


def derive_events(old: View | None, new: View | None) -> list[tuple[int, int]]:
    """The lifecycle events that explain a change from ``old`` to ``new`` (None: no domain),
    for a connection that did not make the change itself."""
    return [(int(e), int(d)) for e, d in _derive(old, new)]


def _derive(old: View | None, new: View | None) -> list[tuple[int, int]]:
    E = EventType
    out: list[tuple[int, int]] = []
    if old is None and new is None:
        return out
    if old is None:
        assert new is not None
        if new[2]:
            out.append((E.DEFINED, DefinedDetail.ADDED))
        if _active(new[0]):
            out.append((E.STARTED, StartedDetail.BOOTED))
            if new[0] == DomainState.PAUSED:
                out.append((E.SUSPENDED, SuspendedDetail.PAUSED))
        return out
    if new is None:
        if _active(old[0]):
            out.append((E.STOPPED, StoppedDetail.DESTROYED))
        if old[2]:
            out.append((E.UNDEFINED, UndefinedDetail.REMOVED))
        return out
    if old[2] and not new[2]:
        out.append((E.UNDEFINED, UndefinedDetail.REMOVED))
    if not old[2] and new[2]:
        out.append((E.DEFINED, DefinedDetail.ADDED))
    was, now = _active(old[0]), _active(new[0])
    if not was and now:
        out.append((E.STARTED, StartedDetail.RESTORED if new[1] == 3 else
                    StartedDetail.FROM_SNAPSHOT if new[1] in (4, 7) else StartedDetail.BOOTED))
        if new[0] == DomainState.PAUSED:
            out.append((E.SUSPENDED, SuspendedDetail.PAUSED))
    elif was and not now:
        reason = ShutoffReason(new[1]) if new[1] in ShutoffReason._value2member_map_ else None
        if reason is ShutoffReason.SHUTDOWN:
            out.append((E.SHUTDOWN, ShutdownDetail.FINISHED))
        out.append((E.STOPPED, _STOPPED.get(reason, StoppedDetail.SHUTDOWN)
                    if reason is not None else StoppedDetail.SHUTDOWN))
    elif was and now:
        if old[0] != DomainState.PAUSED and new[0] == DomainState.PAUSED:
            out.append((E.SUSPENDED, SuspendedDetail.PAUSED))
        elif old[0] == DomainState.PAUSED and new[0] != DomainState.PAUSED:
            out.append((E.RESUMED, ResumedDetail.UNPAUSED))
    return out


class Pollable(Protocol):
    def poll_once(self) -> None: ...


class Poller:
    """A daemon thread calling ``target.poll_once()`` every ``interval`` seconds until
    :meth:`stop` (which waits for it to end)."""

    def __init__(self, target: Pollable, interval: float) -> None:
        self.target = target
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="virtkit-vbox-events",
                                        daemon=True)
        self.rounds = 0

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.target.poll_once()
            except VirtError as exc:
                log.warning("vbox event poll failed: %s", exc.message)
            except Exception:  # the poller must outlive one bad round
                log.exception("vbox event poll failed")
            self.rounds += 1

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
