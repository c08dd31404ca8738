"""Snapshot commands (virsh's snapshot-*)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from virtkit.cli._base import F, command, domain_argument, json_option, read_file
from virtkit.cli.fmt import local_time, table
from virtkit.cli.network import exclusive, xml_out
from virtkit.cli.state import CliState, CommandError

if TYPE_CHECKING:
    from virtkit.api.domain import Domain
    from virtkit.api.snapshot import Snapshot
    from virtkit.sdk.records import SnapshotSummary


def _escape(text: str) -> str:
    from xml.sax.saxutils import escape

    return escape(text)


def _pick(state: CliState, dom: Domain, name: str | None, current: bool) -> Snapshot:
    """The snapshot named, or (``--current`` or no name) the current one."""
    if name is not None and current:
        raise CommandError("Options --current and SNAPSHOTNAME are mutually exclusive", status=2)
    with state.api():
        if name is None:
            return dom.snapshot_current()
        return dom.snapshot_lookup_by_name(name)


def _snapshot_argument(fn: F) -> F:
    return click.argument("snapshotname", required=False, metavar="[SNAPSHOTNAME]")(fn)


# -- creating -----------------------------------------------------------------------------------


@command("snapshot-create", help="Take a snapshot from a <domainsnapshot> XML file (or none).")
@domain_argument
@click.argument("file", required=False, metavar="[FILE]")
@click.option("--redefine", is_flag=True, help="Redefine the metadata of an existing snapshot.")
def cmd_snapshot_create(state: CliState, domain: str, file: str | None,
                        redefine: bool) -> None:
    xml = read_file(file, "snapshot XML file") if file else "<domainsnapshot/>"
    dom = state.domain(domain)
    with state.api():
        snap = dom.snapshot_create_xml(xml, redefine=redefine)
    if file:
        state.info(f"Domain snapshot {snap.name} created from '{file}'")
    else:
        state.info(f"Domain snapshot {snap.name} created")


@command("snapshot-create-as", help="Take a snapshot named NAME (default: the time).")
@domain_argument
@click.argument("name", required=False, metavar="[NAME]")
@click.option("--name", "name_opt", metavar="NAME", help="The snapshot's name.")
@click.option("--description", metavar="TEXT", help="The snapshot's description.")
@click.option("--print-xml", is_flag=True, help="Print the XML instead of taking it.")
def cmd_snapshot_create_as(state: CliState, domain: str, name: str | None,
                           name_opt: str | None, description: str | None,
                           print_xml: bool) -> None:
    if name is not None and name_opt is not None:
        raise CommandError("NAME was given twice (as an argument and as --name)", status=2)
    name = name if name is not None else name_opt
    lines = ["<domainsnapshot>"]
    if name is not None:
        lines.append(f"  <name>{_escape(name)}</name>")
    if description is not None:
        lines.append(f"  <description>{_escape(description)}</description>")
    xml = "\n".join([*lines, "</domainsnapshot>"]) + "\n"
    if print_xml:
        state.out(xml)
        return
    dom = state.domain(domain)
    with state.api():
        snap = dom.snapshot_create_xml(xml)
    state.info(f"Domain snapshot {snap.name} created")


# -- listing and information ----------------------------------------------------------------


@command("snapshot-list", help="List a domain's snapshots.")
@domain_argument
@click.option("--parent", is_flag=True, help="Add a column with each snapshot's parent.")
@click.option("--roots", is_flag=True, help="Only snapshots without a parent.")
@click.option("--leaves", is_flag=True, help="Only snapshots without children.")
@click.option("--no-leaves", is_flag=True, help="Only snapshots with children.")
@click.option("--tree", is_flag=True, help="The snapshots as a tree.")
@click.option("--current", is_flag=True, help="Only the current snapshot.")
@click.option("--name", is_flag=True, help="Names only.")
@json_option
def cmd_snapshot_list(state: CliState, domain: str, parent: bool, roots: bool, leaves: bool,
                      no_leaves: bool, tree: bool, current: bool, name: bool,
                      as_json: bool) -> None:
    exclusive(parent=parent, roots=roots, tree=tree)
    exclusive(tree=tree, name=name)
    exclusive(tree=tree, current=current)
    dom = state.domain(domain)
    with state.failing(f"Failed to list the snapshots of domain '{dom.name}'"):
        summaries = dom.snapshot_summaries()
    if tree:
        state.out(_tree(summaries))
        return
    picked = [
        s for s in summaries
        if (not roots or s.parent is None) and (not current or s.current)
        and (not leaves or s.children == 0) and (not no_leaves or s.children > 0)
    ]
    picked.sort(key=lambda s: s.ref.name)
    if as_json:
        state.json([
            {"name": s.ref.name, "creation_time": s.creation_time, "state": s.state,
             "parent": s.parent, "current": s.current, "children": s.children}
            for s in picked
        ])
        return
    if name:
        state.out("".join(s.ref.name + "\n" for s in picked))
        return
    header = ["Name", "Creation Time", "State"] + (["Parent"] if parent else [])
    rows = [[s.ref.name, local_time(s.creation_time, zone=True), s.state]
            + ([s.parent or ""] if parent else []) for s in picked]
    state.out(table(header, rows, show_header=not state.quiet))


def _tree(summaries: list[SnapshotSummary]) -> str:
    """The snapshots as virsh's vshTreePrint draws them."""
    names = [s.ref.name for s in sorted(summaries, key=lambda s: s.ref.name)]
    parents = {s.ref.name: s.parent for s in summaries}
    lines: list[str] = []

    def walk(dev: str, last: bool, root: bool, indent: str) -> None:
        lines.append(f"{indent}{'' if root else '+- '}{dev}")
        if not root:
            indent += (" " if last else "|") + " "
        children = [n for n in names if parents[n] == dev]
        if children:
            lines.append(f"{indent}  |")
        for child in children:
            walk(child, child == children[-1], False, indent + "  ")
        if not children and last:
            lines.append(indent)

    for n in names:
        if parents[n] is None:
            walk(n, True, True, "")
    return "".join(line + "\n" for line in lines)


@command("snapshot-current", help="Print the current snapshot's XML (or --name).")
@domain_argument
@click.option("--name", is_flag=True, help="Only its name.")
@click.option("--security-info", is_flag=True, help="Include security-sensitive information.")
def cmd_snapshot_current(state: CliState, domain: str, name: bool,
                         security_info: bool) -> None:
    dom = state.domain(domain)
    with state.api():
        snap = dom.snapshot_current()
        if name:
            state.out(snap.name + "\n")
            return
        xml = snap.xml_desc()
    xml_out(state, xml)


@command("snapshot-dumpxml", help="Print a snapshot's XML.")
@domain_argument
@click.argument("snapshotname", metavar="SNAPSHOTNAME")
@click.option("--security-info", is_flag=True, help="Include security-sensitive information.")
def cmd_snapshot_dumpxml(state: CliState, domain: str, snapshotname: str,
                         security_info: bool) -> None:
    dom = state.domain(domain)
    snap = _pick(state, dom, snapshotname, False)
    with state.api():
        xml = snap.xml_desc()
    xml_out(state, xml)


@command("snapshot-parent", help="Print the name of a snapshot's parent.")
@domain_argument
@_snapshot_argument
@click.option("--current", is_flag=True, help="Of the current snapshot.")
def cmd_snapshot_parent(state: CliState, domain: str, snapshotname: str | None,
                        current: bool) -> None:
    dom = state.domain(domain)
    snap = _pick(state, dom, snapshotname, current)
    with state.api():
        parent = snap.parent()
    if parent is None:
        raise CommandError(f"snapshot '{snap.name}' has no parent")
    state.out(parent.name + "\n")


# -- reverting and deleting ---------------------------------------------------------------------


@command("snapshot-revert", help="Return a domain to a snapshot.")
@domain_argument
@_snapshot_argument
@click.option("--current", is_flag=True, help="To the current snapshot.")
@click.option("--running", is_flag=True, help="Leave the domain running afterwards.")
@click.option("--paused", is_flag=True, help="Leave the domain paused afterwards.")
@click.option("--force", is_flag=True, help="Revert even when it is risky.")
def cmd_snapshot_revert(state: CliState, domain: str, snapshotname: str | None, current: bool,
                        running: bool, paused: bool, force: bool) -> None:
    exclusive(running=running, paused=paused)
    dom = state.domain(domain)
    snap = _pick(state, dom, snapshotname, current)
    with state.api():
        snap.revert(running=running, paused=paused)
    state.info(f"Domain snapshot {snap.name} reverted")


@command("snapshot-delete", help="Delete a snapshot (and, with --children, its descendants).")
@domain_argument
@_snapshot_argument
@click.option("--current", is_flag=True, help="The current snapshot.")
@click.option("--children", is_flag=True, help="Also delete its descendants.")
@click.option("--children-only", is_flag=True, help="Delete only its descendants.")
@click.option("--metadata", is_flag=True, help="Delete only virtkit's metadata.")
def cmd_snapshot_delete(state: CliState, domain: str, snapshotname: str | None, current: bool,
                        children: bool, children_only: bool, metadata: bool) -> None:
    exclusive(children=children, children_only=children_only)
    dom = state.domain(domain)
    snap = _pick(state, dom, snapshotname, current)
    with state.failing(f"Failed to delete snapshot {snap.name}"):
        snap.delete(children=children, children_only=children_only, metadata_only=metadata)
    if children_only:
        state.info(f"Domain snapshot {snap.name} children deleted")
    else:
        state.info(f"Domain snapshot {snap.name} deleted")
