"""virsh's net-update: change one section of a network's live state or persistent config."""

from __future__ import annotations

import click

from virtkit.cli._base import command, read_file
from virtkit.cli.state import CliState, CommandError

COMMANDS = ("add", "add-first", "add-last", "delete", "modify")


@command("net-update", help="Update one section of a network (COMMAND: add, add-first, "
                            "add-last, delete, modify).")
@click.argument("network")
@click.argument("command_", metavar="COMMAND")
@click.argument("section")
@click.argument("xml")
@click.option("--parent-index", type=int, default=-1, help="Which <ip> element (from 0).")
@click.option("--config", is_flag=True, help="Change the persistent config.")
@click.option("--live", is_flag=True, help="Change the live state.")
@click.option("--current", is_flag=True, help="Change the current state.")
def cmd_net_update(state: CliState, network: str, command_: str, section: str, xml: str,
                   parent_index: int, config: bool, live: bool, current: bool) -> None:
    if current and (config or live):
        raise CommandError("Options --current and --live/--config are mutually exclusive",
                           status=2)
    if command_ not in COMMANDS:
        raise CommandError(f"unrecognized command name '{command_}'")
    element = xml if xml.lstrip().startswith("<") else read_file(xml)
    net = state.network(network)
    flags = (1 if live else 0) | (2 if config else 0)
    with state.failing(f"Failed to update network {net.name}"):
        if not flags:
            was_active = net.is_active()
        net.update(command_, section, parent_index, element, flags)
    if config:
        affected = "persistent config and live state" if live else "persistent config"
    elif live:
        affected = "live state"
    else:
        affected = "live state" if was_active else "persistent config"
    state.info(f"Updated network {net.name} {affected}")
