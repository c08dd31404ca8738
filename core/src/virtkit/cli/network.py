"""Virtual network commands (virsh's net-*), with virsh's names, flags, messages and formats."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from virtkit.cli._base import F, command, json_option, read_file
from virtkit.cli.fmt import fields, local_time, table, yes_no
from virtkit.cli.state import CliState, CommandError

if TYPE_CHECKING:
    from virtkit.sdk.records import NetworkSummary


def xml_out(state: CliState, xml: str) -> None:
    state.out(xml if xml.endswith("\n") else xml + "\n")


def exclusive(**given: bool) -> None:
    """virsh's "Options --a and --b are mutually exclusive" for any two flags given together."""
    names = [name for name, on in given.items() if on]
    if len(names) > 1:
        first, second = (n.replace("_", "-") for n in names[:2])
        raise CommandError(f"Options --{first} and --{second} are mutually exclusive", status=2)


def network_argument(fn: F) -> F:
    return click.argument("network", metavar="NETWORK")(fn)


# -- list and information -----------------------------------------------------------------------


@command("net-list", help="List networks (active ones unless --all or --inactive).")
@click.option("--inactive", is_flag=True, help="List inactive networks.")
@click.option("--all", "all_", is_flag=True, help="List inactive & active networks.")
@click.option("--persistent", is_flag=True, help="List persistent networks.")
@click.option("--transient", is_flag=True, help="List transient networks.")
@click.option("--autostart", is_flag=True, help="List networks with autostart enabled.")
@click.option("--no-autostart", is_flag=True, help="List networks with autostart disabled.")
@click.option("--uuid", is_flag=True, help="List uuid's only.")
@click.option("--name", is_flag=True, help="List network names only.")
@click.option("--table", "as_table", is_flag=True, help="List table (default).")
@json_option
def cmd_net_list(state: CliState, **opt: bool) -> None:
    if opt["as_table"]:
        exclusive(table=True, name=opt["name"], uuid=opt["uuid"])
    if opt["as_json"]:
        exclusive(json=True, name=opt["name"], uuid=opt["uuid"])
    with state.failing("Failed to list networks"):
        summaries = state.conn.list_network_summaries()
    picked = sorted((s for s in summaries if _listed(s, opt)), key=lambda s: s.ref.name)
    if opt["as_json"]:
        state.json([
            {"name": s.ref.name, "uuid": s.ref.uuid, "active": s.active,
             "persistent": s.persistent, "autostart": s.autostart, "bridge": s.bridge}
            for s in picked
        ])
        return
    if opt["name"] or opt["uuid"]:
        lines = []
        for s in picked:
            if opt["name"] and opt["uuid"]:
                lines.append(f"{s.ref.uuid:<36}  {s.ref.name}\n")
            else:
                lines.append((s.ref.uuid if opt["uuid"] else s.ref.name) + "\n")
        state.out("".join(lines))
        return
    rows = [
        [s.ref.name, "active" if s.active else "inactive", yes_no(s.autostart),
         yes_no(s.persistent)]
        for s in picked
    ]
    state.out(table(["Name", "State", "Autostart", "Persistent"], rows,
                    show_header=not state.quiet))


def _listed(s: NetworkSummary, opt: dict[str, bool]) -> bool:
    if not opt["all_"] and (s.active if opt["inactive"] else not s.active):
        return False
    groups = [
        (opt["persistent"], opt["transient"], s.persistent),
        (opt["autostart"], opt["no_autostart"], s.autostart),
    ]
    return all(
        not (yes or no) or (yes and value) or (no and not value) for yes, no, value in groups
    )


@command("net-info", help="Print basic information about a network.")
@network_argument
@json_option
def cmd_net_info(state: CliState, network: str, as_json: bool) -> None:
    net = state.network(network)
    with state.failing(f"Failed to get information of network '{net.name}'"):
        s = net.summary()
    if as_json:
        state.json({"name": net.name, "uuid": net.uuid, "active": s.active,
                    "persistent": s.persistent, "autostart": s.autostart, "bridge": s.bridge})
        return
    pairs = [
        ("Name:", net.name),
        ("UUID:", net.uuid),
        ("Active:", yes_no(s.active)),
        ("Persistent:", yes_no(s.persistent)),
        ("Autostart:", yes_no(s.autostart)),
    ]
    if s.bridge:
        pairs.append(("Bridge:", s.bridge))
    state.out(fields(pairs))


@command("net-dhcp-leases", help="Print a network's DHCP leases.")
@network_argument
@click.option("--mac", metavar="MAC", help="Only the leases of this MAC address.")
@json_option
def cmd_net_dhcp_leases(state: CliState, network: str, mac: str | None, as_json: bool) -> None:
    net = state.network(network)
    with state.failing(f"Failed to get leases info for {net.name}"):
        leases = sorted(net.dhcp_leases(mac), key=lambda lease: lease.mac)
    if as_json:
        state.json([
            {"iface": lease.iface, "expiry_time": lease.expiry_time, "mac": lease.mac,
             "type": "ipv6" if lease.ip_type == 1 else "ipv4", "ipaddr": lease.ipaddr,
             "prefix": lease.prefix, "hostname": lease.hostname, "client_id": lease.client_id}
            for lease in leases
        ])
        return
    rows = [
        [local_time(lease.expiry_time), lease.mac, "ipv6" if lease.ip_type == 1 else "ipv4",
         f"{lease.ipaddr}/{lease.prefix}", lease.hostname or "-", lease.client_id or "-"]
        for lease in leases
    ]
    header = ["Expiry Time", "MAC address", "Protocol", "IP address", "Hostname",
              "Client ID or DUID"]
    state.out(table(header, rows, show_header=not state.quiet))


@command("net-dumpxml", help="Print a network's XML.")
@network_argument
@click.option("--inactive", is_flag=True, help="The persistent definition.")
def cmd_net_dumpxml(state: CliState, network: str, inactive: bool) -> None:
    net = state.network(network)
    with state.failing(f"Failed to get the XML of network '{net.name}'"):
        xml = net.xml_desc(inactive=inactive)
    xml_out(state, xml)


@command("net-name", help="Print a network's name (from its uuid).")
@click.argument("network", metavar="NETWORK-UUID")
def cmd_net_name(state: CliState, network: str) -> None:
    state.out(state.network(network).name + "\n")


@command("net-uuid", help="Print a network's uuid (from its name).")
@click.argument("network", metavar="NETWORK-NAME")
def cmd_net_uuid(state: CliState, network: str) -> None:
    state.out(state.network(network).uuid + "\n")


# -- definition and lifecycle -------------------------------------------------------------------


@command("net-define", help="Define (but don't start) a network from an XML file.")
@click.argument("file", metavar="FILE")
def cmd_net_define(state: CliState, file: str) -> None:
    xml = read_file(file)
    with state.failing(f"Failed to define network from {file}"):
        net = state.conn.network_define_xml(xml)
    state.info(f"Network {net.name} defined from {file}")


@command("net-create", help="Create (start) a transient network from an XML file.")
@click.argument("file", metavar="FILE")
def cmd_net_create(state: CliState, file: str) -> None:
    xml = read_file(file)
    with state.failing(f"Failed to create network from {file}"):
        net = state.conn.network_create_xml(xml)
    state.info(f"Network {net.name} created from {file}")


@command("net-start", help="Start a (previously defined) inactive network.")
@network_argument
def cmd_net_start(state: CliState, network: str) -> None:
    net = state.network(network)
    with state.failing(f"Failed to start network {net.name}"):
        net.create()
    state.info(f"Network {net.name} started")


@command("net-destroy", help="Stop a network (a transient one disappears).")
@network_argument
def cmd_net_destroy(state: CliState, network: str) -> None:
    net = state.network(network)
    with state.failing(f"Failed to destroy network {net.name}"):
        net.destroy()
    state.info(f"Network {net.name} destroyed")


@command("net-undefine", help="Undefine a persistent network.")
@network_argument
def cmd_net_undefine(state: CliState, network: str) -> None:
    net = state.network(network)
    with state.failing(f"Failed to undefine network {net.name}"):
        net.undefine()
    state.info(f"Network {net.name} has been undefined")


@command("net-autostart", help="Start a network when the host boots (or not, with --disable).")
@network_argument
@click.option("--disable", is_flag=True, help="Disable autostarting.")
def cmd_net_autostart(state: CliState, network: str, disable: bool) -> None:
    net = state.network(network)
    verb = "unmark" if disable else "mark"
    with state.failing(f"failed to {verb} network {net.name} as autostarted"):
        net.set_autostart(not disable)
    state.info(f"Network {net.name} {verb}ed as autostarted")


@command("net-edit", help="Edit a network's XML in $VISUAL or $EDITOR and redefine it.")
@network_argument
def cmd_net_edit(state: CliState, network: str) -> None:
    from virtkit.cli.edit import edit_loop

    net = state.network(network)
    with state.failing(f"Failed to get the XML of network '{net.name}'"):
        original = net.xml_desc(inactive=True)

    def redefine(xml: str, _validate: bool) -> str:
        return state.conn.network_define_xml(xml).name

    changed = edit_loop(state, original, redefine)
    if changed is None:
        state.info(f"Network {net.name} XML configuration not changed.")
    else:
        state.info(f"Network {changed} XML configuration edited.")
