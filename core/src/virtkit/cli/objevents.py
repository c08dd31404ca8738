"""virsh's net-event and pool-event: wait for network and storage pool events and print them
(``lifecycle`` for both, ``refresh`` for pools)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from virtkit.cli._base import command
from virtkit.cli.event import watch
from virtkit.cli.state import CliState, CommandError

if TYPE_CHECKING:
    from virtkit.sdk.records import Event

NET_EVENTS = {"lifecycle": "network-lifecycle"}
POOL_EVENTS = {"lifecycle": "pool-lifecycle", "refresh": "pool-refresh"}
NET_LIFECYCLE = ("Defined", "Undefined", "Started", "Stopped")
POOL_LIFECYCLE = ("Defined", "Undefined", "Started", "Stopped", "Created", "Deleted")


def _stamp(text: str, timestamp: bool) -> str:
    if timestamp:
        text = time.strftime("%Y-%m-%d %H:%M:%S.000%z: ", time.localtime()) + text
    return text + "\n"


def format_net_event(event: Event, timestamp: bool = False) -> str:
    """One network event as virsh's ``net-event`` prints it."""
    what = NET_LIFECYCLE[event.event] if 0 <= event.event < len(NET_LIFECYCLE) else "Unknown"
    return _stamp(f"event 'lifecycle' for network {event.obj.name}: {what}", timestamp)


def format_pool_event(event: Event, timestamp: bool = False) -> str:
    """One storage pool event as virsh's ``pool-event`` prints it."""
    name = event.obj.name
    if event.kind == "pool-refresh":
        return _stamp(f"event 'refresh' for storage pool {name}", timestamp)
    what = POOL_LIFECYCLE[event.event] if 0 <= event.event < len(POOL_LIFECYCLE) else "Unknown"
    return _stamp(f"event 'lifecycle' for storage pool {name}: {what}", timestamp)


def _options(fn: click.decorators.FC) -> click.decorators.FC:
    for opt in reversed((
        click.option("--event", "event", metavar="NAME", help="The event type to wait for."),
        click.option("--all", "all_events", is_flag=True, help="Every event type."),
        click.option("--loop", is_flag=True, help="Keep waiting after the first event."),
        click.option("--timeout", type=click.IntRange(min=1), metavar="SECONDS",
                     help="Stop after this many seconds."),
        click.option("--list", "list_only", is_flag=True, help="List the event types."),
        click.option("--timestamp", is_flag=True, help="Prefix each event with the time."),
    )):
        fn = opt(fn)
    return fn


def _kinds(state: CliState, events: dict[str, str], event: str | None,
           all_events: bool, list_only: bool) -> list[str] | None:
    if list_only:
        state.out("".join(name + "\n" for name in events))
        return None
    if event is not None and event not in events:
        raise CommandError(f"unknown event type '{event}' (virtkit knows: "
                           f"{', '.join(events)})", status=2)
    if event is None and not all_events:
        return [events["lifecycle"]]  # virsh's default
    return list(events.values()) if event is None else [events[event]]


@command("net-event", help="Wait for network events and print them.")
@click.option("--network", "network", metavar="NETWORK", help="Only events of this network.")
@_options
def cmd_net_event(state: CliState, network: str | None, event: str | None, all_events: bool,
                  loop: bool, timeout: int | None, list_only: bool, timestamp: bool) -> None:
    kinds = _kinds(state, NET_EVENTS, event, all_events, list_only)
    if kinds is None:
        return
    target = state.network(network) if network is not None else None
    watch(state, kinds, target, format_net_event, loop, timeout, timestamp)


@command("pool-event", help="Wait for storage pool events and print them.")
@click.option("--pool", "pool", metavar="POOL", help="Only events of this pool.")
@_options
def cmd_pool_event(state: CliState, pool: str | None, event: str | None, all_events: bool,
                   loop: bool, timeout: int | None, list_only: bool, timestamp: bool) -> None:
    kinds = _kinds(state, POOL_EVENTS, event, all_events, list_only)
    if kinds is None:
        return
    target = state.pool(pool) if pool is not None else None
    watch(state, kinds, target, format_pool_event, loop, timeout, timestamp)
