"""virsh's storage discovery commands: find-storage-pool-sources, find-storage-pool-sources-as
and pool-capabilities."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

import click

from virtkit.cli._base import command, read_file
from virtkit.cli.network import xml_out
from virtkit.cli.state import CliState


def _find(state: CliState, pool_type: str, spec: str | None) -> None:
    with state.failing(f"Failed to find any {pool_type} pool sources"):
        xml = state.conn.find_storage_pool_sources(pool_type, spec)
    xml_out(state, xml)


@command("find-storage-pool-sources",
         help="Discover the sources pools of TYPE could use (a <sources> document).")
@click.argument("kind", metavar="TYPE")
@click.option("--srcSpec", "src_spec", metavar="FILE",
              help="A <source> document narrowing the search (the host to ask).")
def cmd_find_storage_pool_sources(state: CliState, kind: str, src_spec: str | None) -> None:
    _find(state, kind, read_file(src_spec) if src_spec is not None else None)


@command("find-storage-pool-sources-as",
         help="Discover the sources pools of TYPE could use, asking HOST.")
@click.argument("kind", metavar="TYPE")
@click.option("--host", metavar="HOST", help="The host to ask.")
@click.option("--port", metavar="PORT", help="Its port.")
@click.option("--initiator", metavar="IQN", help="The iSCSI initiator name to ask as.")
def cmd_find_storage_pool_sources_as(state: CliState, kind: str, host: str | None,
                                     port: str | None, initiator: str | None) -> None:
    spec = None
    if host is not None:
        spec = f"<source><host name={quoteattr(host)}"
        spec += f" port={quoteattr(port)}/>" if port is not None else "/>"
        if initiator is not None:
            spec += f"<initiator><iqn name={quoteattr(initiator)}/></initiator>"
        spec += "</source>"
    _find(state, kind, spec)


@command("pool-capabilities", help="Print which storage pool types are supported, with their "
                                   "source and volume formats.")
def cmd_pool_capabilities(state: CliState) -> None:
    with state.failing("failed to get storage pool capabilities"):
        xml = state.conn.get_storage_pool_capabilities()
    xml_out(state, xml)
