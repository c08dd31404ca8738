"""virsh's commands that change a domain's definition in place: domrename,
set-lifecycle-action and detach-device-alias."""

from __future__ import annotations

import click

from virtkit.cli._base import command, domain_argument
from virtkit.cli.state import CliState, CommandError
from virtkit.cli.tuning import _scope, scope_options


@command("domrename", help="Rename an inactive domain.")
@domain_argument
@click.argument("new_name", metavar="NEW-NAME")
def cmd_domrename(state: CliState, domain: str, new_name: str) -> None:
    dom = state.domain(domain)
    with state.api():
        dom.rename(new_name)
    state.info("Domain successfully renamed")


@command("set-lifecycle-action", help="Change what happens when the guest powers off, reboots "
         "or crashes.")
@domain_argument
@click.argument("type_", metavar="TYPE")
@click.argument("action", metavar="ACTION")
@scope_options
def cmd_set_lifecycle_action(
    state: CliState, domain: str, type_: str, action: str, config: bool, live: bool,
    current: bool,
) -> None:
    from virtkit.sdk.checks import LIFECYCLE_ACTIONS, LIFECYCLE_EVENTS

    live, config = _scope(config, live, current)
    if type_ not in LIFECYCLE_EVENTS:
        raise CommandError(f"Invalid lifecycle type '{type_}'.")
    if action not in LIFECYCLE_ACTIONS:
        raise CommandError(f"Invalid lifecycle action '{action}'.")
    dom = state.domain(domain)
    with state.failing("Unable to change lifecycle action."):
        dom.set_lifecycle_action(type_, action, live=live, config=config)


@command("detach-device-alias", help="Detach the device with the given alias from a domain.")
@domain_argument
@click.argument("alias", metavar="ALIAS")
@scope_options
def cmd_detach_device_alias(
    state: CliState, domain: str, alias: str, config: bool, live: bool, current: bool
) -> None:
    live, config = _scope(config, live, current)
    dom = state.domain(domain)
    with state.failing(f"Failed to detach device with alias {alias}"):
        dom.detach_device_alias(alias, live=live, config=config)
    state.info("Device detach request sent successfully")
