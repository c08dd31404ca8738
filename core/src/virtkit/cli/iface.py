"""Host interface commands (virsh's iface-*)."""

from __future__ import annotations

import click

from virtkit.cli._base import F, command, json_option, read_file
from virtkit.cli.network import xml_out
from virtkit.cli.state import CliState


@command("iface-list", help="List host interfaces (active ones unless --all or --inactive).")
@click.option("--inactive", is_flag=True, help="List inactive interfaces.")
@click.option("--all", "all_", is_flag=True, help="List inactive & active interfaces.")
@json_option
def cmd_iface_list(state: CliState, inactive: bool, all_: bool, as_json: bool) -> None:
    active = None if all_ else not inactive
    with state.failing("Failed to list interfaces"):
        ifaces = [(i, i.is_active()) for i in state.conn.list_interfaces(active=active)]
    if as_json:
        state.json([{"name": i.name, "active": up, "mac": i.mac} for i, up in ifaces])
        return
    from virtkit.cli.fmt import table

    rows = [[i.name, "active" if up else "inactive", i.mac] for i, up in ifaces]
    state.out(table(["Name", "State", "MAC Address"], rows, show_header=not state.quiet))


def _iface_argument(fn: F) -> F:
    return click.argument("interface", metavar="INTERFACE")(fn)


@command("iface-define", help="Define (but don't start) a host interface from an XML file.")
@click.argument("file", metavar="FILE")
def cmd_iface_define(state: CliState, file: str) -> None:
    xml = read_file(file)
    with state.failing(f"Failed to define interface from {file}"):
        iface = state.conn.interface_define_xml(xml)
    state.info(f"Interface {iface.name} defined from {file}")


@command("iface-start", help="Start (bring up) a host interface.")
@_iface_argument
def cmd_iface_start(state: CliState, interface: str) -> None:
    iface = state.interface(interface)
    with state.failing(f"Failed to start interface {iface.name}"):
        iface.create()
    state.info(f"Interface {iface.name} started")


@command("iface-destroy", help="Stop (bring down) a host interface.")
@_iface_argument
def cmd_iface_destroy(state: CliState, interface: str) -> None:
    iface = state.interface(interface)
    with state.failing(f"Failed to destroy interface {iface.name}"):
        iface.destroy()
    state.info(f"Interface {iface.name} destroyed")


@command("iface-undefine", help="Undefine a host interface.")
@_iface_argument
def cmd_iface_undefine(state: CliState, interface: str) -> None:
    iface = state.interface(interface)
    with state.failing(f"Failed to undefine interface {iface.name}"):
        iface.undefine()
    state.info(f"Interface {iface.name} undefined")


@command("iface-dumpxml", help="Print a host interface's XML.")
@_iface_argument
@click.option("--inactive", is_flag=True, help="The definition used at next start.")
def cmd_iface_dumpxml(state: CliState, interface: str, inactive: bool) -> None:
    iface = state.interface(interface)
    with state.failing(f"Failed to get the XML of interface '{iface.name}'"):
        xml = iface.xml_desc(inactive=inactive)
    xml_out(state, xml)


@command("iface-mac", help="Print a host interface's MAC address (from its name).")
@click.argument("interface", metavar="INTERFACE-NAME")
def cmd_iface_mac(state: CliState, interface: str) -> None:
    state.out(state.interface(interface).mac + "\n")


@command("iface-name", help="Print a host interface's name (from its MAC address).")
@click.argument("interface", metavar="INTERFACE-MAC")
def cmd_iface_name(state: CliState, interface: str) -> None:
    state.out(state.interface(interface).name + "\n")


@command("iface-edit", help="Edit a host interface's XML in $VISUAL or $EDITOR and redefine it.")
@_iface_argument
def cmd_iface_edit(state: CliState, interface: str) -> None:
    from virtkit.cli.edit import edit_loop

    iface = state.interface(interface)
    with state.failing(f"Failed to get the XML of interface '{iface.name}'"):
        original = iface.xml_desc(inactive=True)

    def redefine(xml: str, _validate: bool) -> str:
        return state.conn.interface_define_xml(xml).name

    changed = edit_loop(state, original, redefine)
    if changed is None:
        state.info(f"Interface {iface.name} XML configuration not changed.")
    else:
        state.info(f"Interface {changed} XML configuration edited.")
