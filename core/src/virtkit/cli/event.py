"""``event``: wait for domain events and print them as virsh does."""

from __future__ import annotations

import queue
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from virtkit.cli._base import command
from virtkit.cli.fmt import event_detail, event_name
from virtkit.cli.state import CliState, CommandError

if TYPE_CHECKING:
    from virtkit.sdk.records import Event

# virsh's event names and the virtkit event kinds behind them.
EVENTS = {"lifecycle": "domain-lifecycle", "reboot": "domain-reboot"}


def format_event(event: Event, timestamp: bool = False) -> str:
    """One event as virsh's ``event`` command prints it."""
    name = getattr(event.obj, "name", "?")
    if event.kind == "domain-lifecycle":
        text = (f"event 'lifecycle' for domain '{name}': "
                f"{event_name(event.event)} {event_detail(event.event, event.detail)}")
    elif event.kind == "domain-reboot":
        text = f"event 'reboot' for domain '{name}'"
    else:
        text = f"event '{event.kind}' for '{name}'"
    if timestamp:
        text = time.strftime("%Y-%m-%d %H:%M:%S.000%z: ", time.localtime()) + text
    return text + "\n"


@command("event", help="Wait for domain events and print them.")
@click.option("--domain", "domain", metavar="DOMAIN", help="Only events of this domain.")
@click.option("--event", "event", metavar="NAME", help="Which event (see --list).")
@click.option("--all", "all_events", is_flag=True, help="Every event type.")
@click.option("--loop", is_flag=True, help="Keep waiting instead of stopping after one event.")
@click.option("--timeout", type=click.IntRange(min=1), metavar="SECONDS",
              help="Stop after this many seconds.")
@click.option("--list", "list_only", is_flag=True, help="List the event types.")
@click.option("--timestamp", is_flag=True, help="Prefix each event with the time.")
def cmd_event(
    state: CliState,
    domain: str | None,
    event: str | None,
    all_events: bool,
    loop: bool,
    timeout: int | None,
    list_only: bool,
    timestamp: bool,
) -> None:
    if list_only:
        state.out("".join(name + "\n" for name in EVENTS))
        return
    if event is not None and all_events:
        raise CommandError("Options --event and --all are mutually exclusive", status=2)
    if event is None and not all_events:
        raise CommandError("one of --list, --all, or --event is required", status=2)
    if event is not None and event not in EVENTS:
        raise CommandError(f"unknown event type '{event}' (virtkit knows: "
                           f"{', '.join(EVENTS)})", status=2)
    kinds = list(EVENTS.values()) if all_events else [EVENTS[event or ""]]
    target = state.domain(domain) if domain is not None else None
    watch(state, kinds, target, format_event, loop, timeout, timestamp)


def watch(
    state: CliState,
    kinds: list[str],
    target: Any,
    fmt: Callable[[Event, bool], str],
    loop: bool,
    timeout: int | None,
    timestamp: bool,
) -> None:
    """The event loop of ``event``, ``nodedev-event`` and ``secret-event``: print events of
    ``kinds`` (of ``target`` only, when given) with ``fmt`` until one arrived (or, with
    ``loop``, until interrupted or ``timeout`` seconds passed); exit 1 when none arrived."""
    conn = state.conn
    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
    ids = []
    with state.failing("failed to register for events"):
        for kind in kinds:
            ids.append(conn.event_register(kind, inbox.put, target))
    received = 0
    deadline = None if timeout is None else time.monotonic() + timeout
    # virsh installs its own SIGINT handler for the loop, so Ctrl-C (or kill -INT) ends it even
    # when the signal was inherited as ignored, as a script's background job inherits it.
    interrupted = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, lambda _sig, _frame: interrupted.set())
    try:
        while True:
            if interrupted.is_set():
                state.out("event loop interrupted\n")
                break
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                state.out("event loop timed out\n")
                break
            try:
                # Short waits keep Ctrl-C responsive.
                item = inbox.get(timeout=0.2 if wait is None else min(wait, 0.2))
            except queue.Empty:
                continue
            state.out(fmt(item, timestamp))
            received += 1
            if not loop:
                break
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        for cid in ids:
            try:
                conn.event_deregister(cid)
            except Exception:  # the connection may already be gone
                pass
    state.out(f"events received: {received}\n")
    if not received:
        # virsh's status: success only when an event arrived (a timeout or an interrupt before
        # any event is a failure, with no error message).
        raise CommandError(status=1)
