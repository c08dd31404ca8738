"""Network filter commands (virsh's nwfilter-* and nwfilter-binding-*)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from virtkit.cli._base import command, json_option, read_file
from virtkit.cli.fmt import table
from virtkit.cli.state import CliState

if TYPE_CHECKING:
    from virtkit.api.nwfilter import NWFilter


def _filter(state: CliState, ident: str) -> NWFilter:
    """By uuid, else by name, as virsh finds a filter."""
    from virtkit import VirtError

    conn = state.conn
    with state.failing(f"failed to get nwfilter '{ident}'"):
        try:
            return conn.nwfilter_lookup_by_uuid(ident)
        except VirtError:
            return conn.nwfilter_lookup_by_name(ident)


def _xml(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


@command("nwfilter-define", help="Define or update a network filter from an XML file.")
@click.argument("file")
def cmd_nwfilter_define(state: CliState, file: str) -> None:
    xml = read_file(file)
    with state.failing(f"Failed to define network filter from {file}"):
        f = state.conn.nwfilter_define_xml(xml)
    state.info(f"Network filter {f.name} defined from {file}")


@command("nwfilter-undefine", help="Undefine a network filter.")
@click.argument("nwfilter")
def cmd_nwfilter_undefine(state: CliState, nwfilter: str) -> None:
    f = _filter(state, nwfilter)
    with state.failing(f"Failed to undefine network filter {nwfilter}"):
        f.undefine()
    state.info(f"Network filter {nwfilter} undefined")


@command("nwfilter-dumpxml", help="Print a network filter's XML.")
@click.argument("nwfilter")
def cmd_nwfilter_dumpxml(state: CliState, nwfilter: str) -> None:
    f = _filter(state, nwfilter)
    with state.api():
        state.out(_xml(f.xml_desc()))


@command("nwfilter-list", help="List network filters.")
@json_option
def cmd_nwfilter_list(state: CliState, as_json: bool) -> None:
    with state.failing("Failed to list network filters"):
        filters = state.conn.list_all_nwfilters()
    if as_json:
        state.json([{"uuid": f.uuid, "name": f.name} for f in filters])
        return
    state.out(table(["UUID", "Name"], [[f.uuid, f.name] for f in filters]))


@command("nwfilter-binding-create", help="Bind a network filter to a port from an XML file.")
@click.argument("file")
def cmd_nwfilter_binding_create(state: CliState, file: str) -> None:
    xml = read_file(file)
    with state.failing(f"Failed to create network filter from {file}"):
        b = state.conn.nwfilter_binding_create_xml(xml)
    state.info(f"Network filter binding on {b.port_dev()} created from {file}")


@command("nwfilter-binding-delete", help="Delete the network filter binding of a port.")
@click.argument("binding")
def cmd_nwfilter_binding_delete(state: CliState, binding: str) -> None:
    with state.failing(f"failed to get network filter binding '{binding}'"):
        b = state.conn.nwfilter_binding_lookup_by_port_dev(binding)
    with state.failing(f"Failed to delete network filter binding {binding}"):
        b.delete()
    state.info(f"Network filter binding on {binding} deleted")


@command("nwfilter-binding-dumpxml", help="Print a network filter binding's XML.")
@click.argument("binding")
def cmd_nwfilter_binding_dumpxml(state: CliState, binding: str) -> None:
    with state.failing(f"failed to get network filter binding '{binding}'"):
        b = state.conn.nwfilter_binding_lookup_by_port_dev(binding)
    with state.api():
        state.out(_xml(b.xml_desc()))


@command("nwfilter-binding-list", help="List network filter bindings.")
@json_option
def cmd_nwfilter_binding_list(state: CliState, as_json: bool) -> None:
    with state.failing("Failed to list network filter bindings"):
        bindings = state.conn.list_all_nwfilter_bindings()
    if as_json:
        state.json([{"port_dev": b.port_dev(), "filter": b.filter_name()} for b in bindings])
        return
    state.out(table(["Port Dev", "Filter"], [[b.port_dev(), b.filter_name()]
                                            for b in bindings]))
