"""virsh's commands that change a domain's definition in place: domrename."""

from __future__ import annotations

import click

from virtkit.cli._base import command, domain_argument
from virtkit.cli.state import CliState


@command("domrename", help="Rename an inactive domain.")
@domain_argument
@click.argument("new_name", metavar="NEW-NAME")
def cmd_domrename(state: CliState, domain: str, new_name: str) -> None:
    dom = state.domain(domain)
    with state.api():
        dom.rename(new_name)
    state.info("Domain successfully renamed")
