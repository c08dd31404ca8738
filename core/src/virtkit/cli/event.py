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
from virtkit.sdk import domain_events as ev
from virtkit.sdk.domain_events import DOMAIN_EVENT_IDS

if TYPE_CHECKING:
    from virtkit.sdk.records import Event

# virsh's event names and the virtkit event kinds behind them (libvirt's 27 domain event ids).
EVENTS = {e.virsh: e.kind for e in DOMAIN_EVENT_IDS}


def _word(words: tuple[str, ...], value: Any) -> str:
    return words[value] if isinstance(value, int) and 0 <= value < len(words) else "unknown"


def _null(value: Any) -> str:
    return "<null>" if value is None else str(value)


def _typed(params: dict[str, Any]) -> str:
    """virsh's lines for typed parameters (tunable, job-completed)."""
    return "".join(f"\t{k}: {v}\n" for k, v in params.items())


def _addr(addr: Any) -> str:
    a = addr if isinstance(addr, dict) else {}
    return (f"{_word(ev.GRAPHICS_FAMILIES, a.get('family'))} {a.get('node', '')} "
            f"{a.get('service', '')}")


def _describe(event: Event, name: str) -> str:
    """The text virsh prints for one domain event (virsh-domain-event.c's formats)."""
    p = event.params
    kind = event.kind
    virsh = ev.BY_KIND[kind].virsh if kind in ev.BY_KIND else kind
    head = f"event '{virsh}' for domain '{name}'"
    if kind == "domain-lifecycle":
        return f"{head}: {event_name(event.event)} {event_detail(event.event, event.detail)}\n"
    if kind in ev.DEVICE_KINDS:
        return f"{head}: {event.device}\n"
    if kind == "domain-rtc-change":
        return f"{head}: {p.get('utcoffset')}\n"
    if kind == "domain-watchdog":
        return f"{head}: {_word(ev.WATCHDOG_ACTIONS, p.get('action'))}\n"
    if kind == "domain-io-error":
        return (f"{head}: {p.get('src_path')} ({p.get('dev_alias')}) "
                f"{_word(ev.IO_ERROR_ACTIONS, p.get('action'))}\n")
    if kind == "domain-io-error-reason":
        return (f"{head}: {p.get('src_path')} ({p.get('dev_alias')}) "
                f"{_word(ev.IO_ERROR_ACTIONS, p.get('action'))} due to {p.get('reason')}\n")
    if kind == "domain-graphics":
        text = (f"{head}: {_word(ev.GRAPHICS_PHASES, p.get('phase'))} "
                f"local[{_addr(p.get('local'))}] remote[{_addr(p.get('remote'))}] "
                f"{p.get('auth_scheme')}")
        for item in p.get("subject") or ():
            text += f" {item[0]}={item[1]}" if len(item) == 2 else ""
        return text + "\n"
    if kind in ("domain-block-job", "domain-block-job-2"):
        disk = p.get("disk", p.get("dst"))
        return (f"{head}: {_word(ev.BLOCK_JOB_TYPES, p.get('type'))} for {disk} "
                f"{_word(ev.BLOCK_JOB_STATUSES, p.get('status'))}\n")
    if kind == "domain-disk-change":
        return (f"event 'disk-change' for domain '{name}' disk {p.get('dev_alias')}: "
                f"{_null(p.get('old_src_path'))} -> {_null(p.get('new_src_path'))}: "
                f"{_word(ev.DISK_CHANGE_REASONS, p.get('reason'))}\n")
    if kind == "domain-tray-change":
        return (f"event 'tray-change' for domain '{name}' disk {p.get('dev_alias')}: "
                f"{_word(ev.TRAY_CHANGE_REASONS, p.get('reason'))}\n")
    if kind == "domain-balloon-change":
        return f"{head}: {p.get('actual')}KiB\n"
    if kind in ("domain-tunable", "domain-job-completed"):
        return f"{head}:\n" + _typed(p.get("params") or {})
    if kind == "domain-agent-lifecycle":
        return (f"{head}: state: '{_word(ev.AGENT_STATES, p.get('state'))}' "
                f"reason: '{_word(ev.AGENT_REASONS, p.get('reason'))}'\n")
    if kind == "domain-migration-iteration":
        return f"{head}: iteration: '{p.get('iteration')}'\n"
    if kind == "domain-metadata-change":
        return (f"{head}: type {_word(ev.METADATA_TYPES, p.get('type'))}, "
                f"uri {_null(p.get('nsuri'))}\n")
    if kind == "domain-block-threshold":
        return (f"{head}: dev: {p.get('dev')}({_null(p.get('path'))}) {p.get('threshold')} "
                f"{p.get('excess')}\n")
    if kind == "domain-memory-failure":
        flags = int(p.get("flags") or 0)
        return (f"{head}:\nrecipient: {_word(ev.MEMORY_FAILURE_RECIPIENTS, p.get('recipient'))}"
                f"\naction: {_word(ev.MEMORY_FAILURE_ACTIONS, p.get('action'))}\nflags:\n"
                f"\taction required: {flags & 1}\n\trecursive: {(flags >> 1) & 1}\n")
    if kind == "domain-memory-device-size-change":
        return f"{head}:\nalias: {p.get('alias')}\nsize: {p.get('size')}\n"
    # reboot, control-error, pm-wakeup, pm-suspend, pm-suspend-disk: the generic form
    return head + "\n"


def format_event(event: Event, timestamp: bool = False) -> str:
    """One event as virsh's ``event`` command prints it."""
    name = getattr(event.obj, "name", "?")
    if event.kind in ev.BY_KIND:
        text = _describe(event, name)
    else:
        text = f"event '{event.kind}' for '{name}'\n"
    if timestamp:
        text = time.strftime("%Y-%m-%d %H:%M:%S.000%z: ", time.localtime()) + text
    return text


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
