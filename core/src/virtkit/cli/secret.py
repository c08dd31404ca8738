"""Secret commands (virsh's secret-*). Values are shown only when asked for, base64-encoded."""

from __future__ import annotations

import base64
import binascii
import time
from typing import TYPE_CHECKING

import click

from virtkit.cli._base import command, json_option, read_file
from virtkit.cli.event import watch
from virtkit.cli.state import CliState, CommandError

if TYPE_CHECKING:
    from virtkit.api.secret import Secret
    from virtkit.sdk.records import Event

LIFECYCLE = ("Defined", "Undefined")
EVENTS = {"lifecycle": "secret-lifecycle", "value-changed": "secret-value-changed"}


def _secret(state: CliState, uuid: str) -> Secret:
    with state.failing(f"failed to get secret '{uuid}'"):
        return state.conn.secret_lookup_by_uuid(uuid)


@command("secret-define", help="Define or modify a secret from an XML file.")
@click.argument("file", metavar="FILE")
def cmd_secret_define(state: CliState, file: str) -> None:
    xml = read_file(file)
    with state.failing(f"Failed to set attributes from {file}"):
        secret = state.conn.secret_define_xml(xml)
    state.info(f"Secret {secret.uuid} created")


@command("secret-undefine", help="Undefine a secret (its value goes with it).")
@click.argument("secret", metavar="SECRET")
def cmd_secret_undefine(state: CliState, secret: str) -> None:
    s = _secret(state, secret)
    with state.failing(f"Failed to delete secret {s.uuid}"):
        s.undefine()
    state.info(f"Secret {s.uuid} deleted")


@command("secret-dumpxml", help="Print a secret's definition (never its value).")
@click.argument("secret", metavar="SECRET")
def cmd_secret_dumpxml(state: CliState, secret: str) -> None:
    s = _secret(state, secret)
    with state.failing(f"Failed to get XML of secret {s.uuid}"):
        xml = s.xml_desc()
    state.out(xml if xml.endswith("\n") else xml + "\n")


@command("secret-list", help="List secrets.")
@click.option("--ephemeral", is_flag=True, help="Only ephemeral secrets.")
@click.option("--no-ephemeral", is_flag=True, help="Only persistent secrets.")
@click.option("--private", is_flag=True, help="Only private secrets.")
@click.option("--no-private", is_flag=True, help="Only non-private secrets.")
@json_option
def cmd_secret_list(state: CliState, ephemeral: bool, no_ephemeral: bool, private: bool,
                    no_private: bool, as_json: bool) -> None:
    with state.failing("Failed to list secrets"):
        found = state.conn.list_secret_summaries()
    if ephemeral or no_ephemeral:
        found = [s for s in found if s.ephemeral == ephemeral]
    if private or no_private:
        found = [s for s in found if s.private == private]
    if as_json:
        state.json([{"uuid": s.ref.uuid, "usage_type": s.ref.usage_type,
                     "usage_id": s.ref.usage_id or None, "ephemeral": s.ephemeral,
                     "private": s.private} for s in found])
        return
    from virtkit.cli.fmt import table

    rows = [[s.ref.uuid, "Unused" if s.ref.usage_type == "none"
             else f"{s.ref.usage_type} {s.ref.usage_id}"] for s in found]
    state.out(table(["UUID", "Usage"], rows, show_header=not state.quiet))


@command("secret-get-value", help="Print a secret's value, base64-encoded.")
@click.argument("secret", metavar="SECRET")
@click.option("--plain", is_flag=True, help="Print the raw value instead.")
def cmd_secret_get_value(state: CliState, secret: str, plain: bool) -> None:
    s = _secret(state, secret)
    with state.failing(f"Failed to get value of secret {s.uuid}"):
        value = s.value()
    state.out((value.decode(errors="replace") if plain else base64.b64encode(value).decode())
              + "\n")


@command("secret-set-value", help="Set a secret's value (base64, or --file / --plain).")
@click.argument("secret", metavar="SECRET")
@click.argument("base64_value", metavar="BASE64", required=False)
@click.option("--base64", "base64_opt", metavar="BASE64", help="The value, base64-encoded.")
@click.option("--file", "file", metavar="FILE", help="Read the value from this file.")
@click.option("--plain", is_flag=True, help="The file's contents are the raw value.")
def cmd_secret_set_value(state: CliState, secret: str, base64_value: str | None,
                         base64_opt: str | None, file: str | None, plain: bool) -> None:
    given = [v for v in (base64_value, base64_opt, file) if v is not None]
    if len(given) != 1:
        raise CommandError("give the value once: BASE64, --base64 or --file", status=2)
    if file is not None:
        with open(file, "rb") as fh:
            raw = fh.read()
        text = None if plain else raw.decode(errors="replace").strip()
    else:
        raw, text = b"", given[0]
    if text is not None:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise CommandError("Invalid base64 data") from None
    s = _secret(state, secret)
    with state.failing(f"Failed to set value of secret {s.uuid}"):
        s.set_value(raw)
    state.info("Secret value set")


def format_event(event: Event, timestamp: bool = False) -> str:
    """One secret event as virsh's ``secret-event`` prints it (never a value)."""
    uuid = getattr(event.obj, "uuid", "?")
    if event.kind == "secret-lifecycle":
        what = LIFECYCLE[event.event] if 0 <= event.event < len(LIFECYCLE) else "Unknown"
        text = f"event 'lifecycle' for secret {uuid}: {what}"
    else:
        text = f"event 'value-changed' for secret {uuid}"
    if timestamp:
        text = time.strftime("%Y-%m-%d %H:%M:%S.000%z: ", time.localtime()) + text
    return text + "\n"


@command("secret-event", help="Wait for secret events and print them.")
@click.option("--secret", "secret", metavar="SECRET", help="Only events of this secret.")
@click.option("--event", "event", metavar="NAME", help="lifecycle or value-changed.")
@click.option("--all", "all_events", is_flag=True, help="Every event type.")
@click.option("--loop", is_flag=True, help="Keep waiting instead of stopping after one event.")
@click.option("--timeout", type=click.IntRange(min=1), metavar="SECONDS",
              help="Stop after this many seconds.")
@click.option("--list", "list_only", is_flag=True, help="List the event types.")
@click.option("--timestamp", is_flag=True, help="Prefix each event with the time.")
def cmd_secret_event(state: CliState, secret: str | None, event: str | None, all_events: bool,
                     loop: bool, timeout: int | None, list_only: bool, timestamp: bool) -> None:
    if list_only:
        state.out("".join(name + "\n" for name in EVENTS))
        return
    if event is None and not all_events:
        raise CommandError("one of --list, --all, or --event is required", status=2)
    if event is not None and event not in EVENTS:
        raise CommandError(f"unknown event type '{event}' (virtkit knows: "
                           f"{', '.join(EVENTS)})", status=2)
    kinds = list(EVENTS.values()) if all_events or event is None else [EVENTS[event]]
    target = _secret(state, secret) if secret is not None else None
    watch(state, kinds, target, format_event, loop, timeout, timestamp)
