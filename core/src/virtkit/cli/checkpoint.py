"""Checkpoint and backup commands (virsh's checkpoint-* and backup-*)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from virtkit.cli._base import command, domain_argument, json_option, read_file
from virtkit.cli.fmt import local_time, table
from virtkit.cli.state import CliState, CommandError

if TYPE_CHECKING:
    from virtkit.api.checkpoint import Checkpoint


def _xml(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _checkpoint(state: CliState, domain: str, name: str) -> Checkpoint:
    dom = state.domain(domain)
    with state.api():
        return dom.checkpoint_lookup_by_name(name)


@command("checkpoint-create", help="Create a checkpoint from a <domaincheckpoint> XML file.")
@domain_argument
@click.argument("xmlfile", required=False)
@click.option("--redefine", is_flag=True, help="Redefine the metadata of an existing checkpoint.")
def cmd_checkpoint_create(state: CliState, domain: str, xmlfile: str | None,
                          redefine: bool) -> None:
    dom = state.domain(domain)
    xml = read_file(xmlfile) if xmlfile else "<domaincheckpoint/>"
    with state.api():
        cp = dom.checkpoint_create_xml(xml, redefine=redefine)
    state.info(f"Domain checkpoint {cp.name} {'redefined' if redefine else 'created'}"
               + (f" from '{xmlfile}'" if xmlfile else ""))


@command("checkpoint-create-as", help="Create a checkpoint named NAME (default: the time).")
@domain_argument
@click.argument("name", required=False)
@click.option("--description", help="A description of the checkpoint.")
@click.option("--diskspec", multiple=True,
              help="DISK[,checkpoint=bitmap|no][,bitmap=NAME] (repeatable).")
@click.option("--print-xml", is_flag=True, help="Print the XML instead of creating it.")
def cmd_checkpoint_create_as(state: CliState, domain: str, name: str | None,
                             description: str | None, diskspec: tuple[str, ...],
                             print_xml: bool) -> None:
    from xml.sax.saxutils import escape, quoteattr

    parts = ["<domaincheckpoint>"]
    if name:
        parts.append(f"  <name>{escape(name)}</name>")
    if description:
        parts.append(f"  <description>{escape(description)}</description>")
    if diskspec:
        parts.append("  <disks>")
        for spec in diskspec:
            disk, *opts = spec.split(",")
            attrs = {"name": disk}
            for opt in opts:
                key, _, value = opt.partition("=")
                if key not in ("checkpoint", "bitmap") or not value:
                    raise CommandError(f"invalid diskspec '{spec}'")
                attrs[key] = value
            parts.append("    <disk" + "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items())
                         + "/>")
        parts.append("  </disks>")
    xml = "\n".join([*parts, "</domaincheckpoint>"]) + "\n"
    if print_xml:
        state.out(xml)
        return
    dom = state.domain(domain)
    with state.api():
        cp = dom.checkpoint_create_xml(xml)
    state.info(f"Domain checkpoint {cp.name} created")


@command("checkpoint-list", help="List a domain's checkpoints.")
@domain_argument
@click.option("--parent", is_flag=True, help="Add a column with each parent.")
@click.option("--roots", is_flag=True, help="Only checkpoints without a parent.")
@click.option("--leaves", is_flag=True, help="Only checkpoints without children.")
@click.option("--no-leaves", is_flag=True, help="Only checkpoints with children.")
@click.option("--tree", is_flag=True, help="The checkpoints as a tree.")
@click.option("--name", is_flag=True, help="Names only.")
@click.option("--topological", is_flag=True, help="Parents before children (always so).")
@json_option
def cmd_checkpoint_list(state: CliState, domain: str, parent: bool, roots: bool, leaves: bool,
                        no_leaves: bool, tree: bool, name: bool, topological: bool,
                        as_json: bool) -> None:
    if sum((parent, roots, tree)) > 1:
        raise CommandError("Options --parent, --roots and --tree are mutually exclusive",
                           status=2)
    dom = state.domain(domain)
    with state.failing("Failed to list checkpoints"):
        summaries = dom.checkpoint_summaries()
    if tree:
        from virtkit.cli.snapshot import _tree

        state.out(_tree(summaries))  # type: ignore[arg-type]
        return
    picked = [s for s in summaries
              if not (roots and s.parent is not None) and not (leaves and s.children)
              and not (no_leaves and not s.children)]
    if as_json:
        state.json([{"name": s.ref.name, "parent": s.parent, "creation_time": s.creation_time,
                     "children": s.children} for s in picked])
        return
    if name:
        state.out("".join(s.ref.name + "\n" for s in picked))
        return
    header = ["Name", "Creation Time"] + (["Parent"] if parent else [])
    rows = [[s.ref.name, local_time(s.creation_time, zone=True)]
            + ([s.parent or ""] if parent else []) for s in picked]
    state.out(table(header, rows, show_header=not state.quiet))


@command("checkpoint-info", help="Print a checkpoint's domain, parent and descendants.")
@domain_argument
@click.argument("checkpointname")
@json_option
def cmd_checkpoint_info(state: CliState, domain: str, checkpointname: str,
                        as_json: bool) -> None:
    cp = _checkpoint(state, domain, checkpointname)
    with state.api():
        parent = cp.get_parent()
        children = len(cp.list_all_children())
        descendants = len(cp.list_all_children(1))
    info: dict[str, Any] = {"name": cp.name, "domain": cp.domain().name,
                            "parent": parent.name if parent else None,
                            "children": children, "descendants": descendants}
    if as_json:
        state.json(info)
        return
    lines = [("Name:", cp.name), ("Domain:", cp.domain().name)]
    lines += [("Parent:", parent.name)] if parent else []
    lines += [("Children:", str(children)), ("Descendants:", str(descendants))]
    state.out("".join(f"{k:<15s} {v}\n" for k, v in lines))


@command("checkpoint-parent", help="Print the name of a checkpoint's parent.")
@domain_argument
@click.argument("checkpointname")
def cmd_checkpoint_parent(state: CliState, domain: str, checkpointname: str) -> None:
    cp = _checkpoint(state, domain, checkpointname)
    with state.api():
        parent = cp.get_parent()
    if parent is None:
        raise CommandError(f"checkpoint '{cp.name}' has no parent")
    state.out(parent.name + "\n")


@command("checkpoint-dumpxml", help="Print a checkpoint's XML.")
@domain_argument
@click.argument("checkpointname")
@click.option("--no-domain", is_flag=True, help="Leave out the domain definition.")
@click.option("--security-info", is_flag=True, help="Include security-sensitive information.")
@click.option("--size", is_flag=True, help="Include the bitmaps' sizes (accepted, unknown here).")
def cmd_checkpoint_dumpxml(state: CliState, domain: str, checkpointname: str, no_domain: bool,
                           security_info: bool, size: bool) -> None:
    cp = _checkpoint(state, domain, checkpointname)
    with state.api():
        state.out(_xml(cp.get_xml_desc(no_domain=no_domain)))


@command("checkpoint-delete", help="Delete a checkpoint (and, with --children, its "
                                   "descendants).")
@domain_argument
@click.argument("checkpointname")
@click.option("--children", is_flag=True, help="Delete its descendants too.")
@click.option("--children-only", is_flag=True, help="Delete only its descendants.")
@click.option("--metadata", is_flag=True, help="Delete only the metadata, keep the bitmaps.")
def cmd_checkpoint_delete(state: CliState, domain: str, checkpointname: str, children: bool,
                          children_only: bool, metadata: bool) -> None:
    cp = _checkpoint(state, domain, checkpointname)
    with state.api():
        cp.delete(children=children, children_only=children_only, metadata_only=metadata)
    if children_only:
        state.info(f"Domain checkpoint {cp.name} children deleted")
    else:
        state.info(f"Domain checkpoint {cp.name} deleted")


@command("backup-begin", help="Start a backup job (push to files, or pull over NBD).")
@domain_argument
@click.argument("backupxml", required=False)
@click.argument("checkpointxml", required=False)
def cmd_backup_begin(state: CliState, domain: str, backupxml: str | None,
                     checkpointxml: str | None) -> None:
    dom = state.domain(domain)
    backup = read_file(backupxml) if backupxml else None
    checkpoint = read_file(checkpointxml) if checkpointxml else None
    with state.api():
        dom.backup_begin(backup, checkpoint)
    state.info("Backup started")


@command("backup-dumpxml", help="Print the running backup job's XML.")
@domain_argument
def cmd_backup_dumpxml(state: CliState, domain: str) -> None:
    dom = state.domain(domain)
    with state.api():
        state.out(_xml(dom.backup_get_xml_desc()))
