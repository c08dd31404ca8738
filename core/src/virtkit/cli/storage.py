"""Storage pool and volume commands (virsh's pool-* and vol-*)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from virtkit.cli._base import F, command, json_option, read_file
from virtkit.cli.fmt import fields, parse_scaled, pretty_capacity, table, yes_no
from virtkit.cli.network import exclusive, xml_out
from virtkit.cli.state import CliState, CommandError

if TYPE_CHECKING:
    from virtkit.api.stream import Stream
    from virtkit.sdk.records import PoolSummary

T = TypeVar("T")

# virsh's names for virStoragePoolState and virStorageVolType, by number
POOL_STATES = ("inactive", "building", "running", "degraded", "inaccessible")
VOL_TYPES = ("file", "block", "dir", "network", "netdir", "ploop")


def _pool_state(state: int) -> str:
    return POOL_STATES[state] if 0 <= state < len(POOL_STATES) else "unknown"


def _vol_type(kind: int) -> str:
    return VOL_TYPES[kind] if 0 <= kind < len(VOL_TYPES) else "unknown"


def _attr(value: str) -> str:
    from xml.sax.saxutils import escape

    return escape(value, {"'": "&apos;", '"': "&quot;"})


def _bytes(text: str, what: str = "size") -> int:
    """A scaled size in bytes (a bare number is bytes); usage error when malformed."""
    try:
        return parse_scaled(text, 1)
    except ValueError as exc:
        raise CommandError(f"Malformed {what} {text}", status=2) from exc


def pool_argument(fn: F) -> F:
    return click.argument("pool", metavar="POOL")(fn)


def vol_arguments(fn: F) -> F:
    fn = click.option("--pool", "pool", metavar="POOL",
                      help="Pool name or uuid (VOL is then a volume name).")(fn)
    return click.argument("vol", metavar="VOL")(fn)


# -- pools: list and information ----------------------------------------------------------------


@command("pool-list", help="List storage pools (active ones unless --all or --inactive).")
@click.option("--inactive", is_flag=True, help="List inactive pools.")
@click.option("--all", "all_", is_flag=True, help="List inactive & active pools.")
@click.option("--persistent", is_flag=True, help="List persistent pools.")
@click.option("--transient", is_flag=True, help="List transient pools.")
@click.option("--autostart", is_flag=True, help="List pools with autostart enabled.")
@click.option("--no-autostart", is_flag=True, help="List pools with autostart disabled.")
@click.option("--details", is_flag=True, help="Display extended details for pools.")
@click.option("--uuid", is_flag=True, help="List uuid's only.")
@click.option("--name", is_flag=True, help="List pool names only.")
@json_option
def cmd_pool_list(state: CliState, **opt: bool) -> None:
    exclusive(details=opt["details"], name=opt["name"])
    exclusive(details=opt["details"], uuid=opt["uuid"])
    if opt["as_json"]:
        exclusive(json=True, name=opt["name"], uuid=opt["uuid"])
    conn = state.conn
    with state.failing("Failed to list pools"):
        summaries = conn.list_storage_pool_summaries()
    picked = sorted((s for s in summaries if _pool_listed(s, opt)), key=lambda s: s.ref.name)
    if opt["name"] or opt["uuid"]:
        lines = []
        for s in picked:
            if opt["name"] and opt["uuid"]:
                lines.append(f"{s.ref.uuid:<36}  {s.ref.name}\n")
            else:
                lines.append((s.ref.uuid if opt["uuid"] else s.ref.name) + "\n")
        state.out("".join(lines))
        return
    infos = {}
    if opt["details"] or opt["as_json"]:
        for s in picked:
            with state.failing(f"Failed to get information of pool '{s.ref.name}'"):
                infos[s.ref.uuid] = conn.storage_pool_lookup_by_uuid(s.ref.uuid).info()
    if opt["as_json"]:
        state.json([
            {"name": s.ref.name, "uuid": s.ref.uuid, "active": s.active,
             "persistent": s.persistent, "autostart": s.autostart,
             "state": _pool_state(infos[s.ref.uuid].state),
             **({"capacity": infos[s.ref.uuid].capacity,
                 "allocation": infos[s.ref.uuid].allocation,
                 "available": infos[s.ref.uuid].available} if s.active else {})}
            for s in picked
        ])
        return
    if not opt["details"]:
        rows = [[s.ref.name, "active" if s.active else "inactive", yes_no(s.autostart)]
                for s in picked]
        state.out(table(["Name", "State", "Autostart"], rows, show_header=not state.quiet))
        return
    rows = []
    for s in picked:
        info = infos[s.ref.uuid]
        sizes = ([pretty_capacity(info.capacity), pretty_capacity(info.allocation),
                  pretty_capacity(info.available)] if info.state in (2, 3) else ["-"] * 3)
        rows.append([s.ref.name, _pool_state(info.state), yes_no(s.autostart),
                     yes_no(s.persistent), *sizes])
    header = ["Name", "State", "Autostart", "Persistent", "Capacity", "Allocation", "Available"]
    state.out(table(header, rows, show_header=not state.quiet))


def _pool_listed(s: PoolSummary, opt: dict[str, bool]) -> bool:
    if not opt["all_"] and (s.active if opt["inactive"] else not s.active):
        return False
    groups = [
        (opt["persistent"], opt["transient"], s.persistent),
        (opt["autostart"], opt["no_autostart"], s.autostart),
    ]
    return all(
        not (yes or no) or (yes and value) or (no and not value) for yes, no, value in groups
    )


@command("pool-info", help="Print basic information about a storage pool.")
@pool_argument
@click.option("--bytes", "in_bytes", is_flag=True, help="Sizes in bytes.")
@json_option
def cmd_pool_info(state: CliState, pool: str, in_bytes: bool, as_json: bool) -> None:
    p = state.pool(pool)
    with state.failing(f"Failed to get information of pool '{p.name}'"):
        info = p.info()
        persistent = p.is_persistent()
        autostart = p.autostart
    sized = info.state in (2, 3)
    if as_json:
        state.json({
            "name": p.name, "uuid": p.uuid, "state": _pool_state(info.state),
            "persistent": persistent, "autostart": autostart,
            **({"capacity": info.capacity, "allocation": info.allocation,
                "available": info.available} if sized else {}),
        })
        return
    pairs = [
        ("Name:", p.name),
        ("UUID:", p.uuid),
        ("State:", _pool_state(info.state)),
        ("Persistent:", yes_no(persistent)),
        ("Autostart:", yes_no(autostart)),
    ]
    if sized:
        size = str if in_bytes else pretty_capacity
        pairs += [("Capacity:", size(info.capacity)), ("Allocation:", size(info.allocation)),
                  ("Available:", size(info.available))]
    state.out(fields(pairs))


@command("pool-dumpxml", help="Print a storage pool's XML.")
@pool_argument
@click.option("--inactive", is_flag=True, help="The persistent definition.")
def cmd_pool_dumpxml(state: CliState, pool: str, inactive: bool) -> None:
    p = state.pool(pool)
    with state.failing(f"Failed to get the XML of pool '{p.name}'"):
        xml = p.xml_desc(inactive=inactive)
    xml_out(state, xml)


@command("pool-name", help="Print a storage pool's name (from its uuid).")
@click.argument("pool", metavar="POOL-UUID")
def cmd_pool_name(state: CliState, pool: str) -> None:
    state.out(state.pool(pool).name + "\n")


@command("pool-uuid", help="Print a storage pool's uuid (from its name).")
@click.argument("pool", metavar="POOL-NAME")
def cmd_pool_uuid(state: CliState, pool: str) -> None:
    state.out(state.pool(pool).uuid + "\n")


# -- pools: definition and lifecycle ------------------------------------------------------------


@command("pool-define", help="Define (but don't start) a storage pool from an XML file.")
@click.argument("file", metavar="FILE")
def cmd_pool_define(state: CliState, file: str) -> None:
    xml = read_file(file)
    with state.failing(f"Failed to define pool from {file}"):
        p = state.conn.storage_pool_define_xml(xml)
    state.info(f"Pool {p.name} defined from {file}")


def _build_flags(build: bool, overwrite: bool, no_overwrite: bool) -> None:
    exclusive(overwrite=overwrite, no_overwrite=no_overwrite)
    if (overwrite or no_overwrite) and not build:
        raise CommandError("--overwrite and --no-overwrite need --build", status=2)


@command("pool-create", help="Create (start) a transient storage pool from an XML file.")
@click.argument("file", metavar="FILE")
@click.option("--build", is_flag=True, help="Build the pool first.")
@click.option("--overwrite", is_flag=True, help="Build, overwriting existing data.")
@click.option("--no-overwrite", is_flag=True, help="Build only if no data would be lost.")
def cmd_pool_create(
    state: CliState, file: str, build: bool, overwrite: bool, no_overwrite: bool
) -> None:
    _build_flags(build, overwrite, no_overwrite)
    xml = read_file(file)
    with state.failing(f"Failed to create pool from {file}"):
        p = state.conn.storage_pool_create_xml(xml, build=build)
    state.info(f"Pool {p.name} created from {file}")


def _pool_as_xml(name: str, kind: str, opt: dict[str, str | None]) -> str:
    lines = [f"<pool type='{_attr(kind)}'>", f"  <name>{_attr(name)}</name>"]
    source = []
    if opt["source_host"]:
        source.append(f"    <host name='{_attr(opt['source_host'])}'/>")
    if opt["source_path"]:
        source.append(f"    <dir path='{_attr(opt['source_path'])}'/>")
    if opt["source_dev"]:
        source.append(f"    <device path='{_attr(opt['source_dev'])}'/>")
    if opt["source_name"]:
        source.append(f"    <name>{_attr(opt['source_name'])}</name>")
    if opt["source_format"]:
        source.append(f"    <format type='{_attr(opt['source_format'])}'/>")
    if source:
        lines += ["  <source>", *source, "  </source>"]
    if opt["target"]:
        lines += ["  <target>", f"    <path>{_attr(opt['target'])}</path>", "  </target>"]
    lines.append("</pool>")
    return "\n".join(lines) + "\n"


def _pool_as_command(name: str, define: bool) -> click.Command:
    verb = "Define" if define else "Create (start)"

    @command(name, help=f"{verb} a storage pool from a NAME, a TYPE and options.")
    @click.argument("pool_name", metavar="NAME")
    @click.argument("kind", metavar="TYPE")
    @click.option("--source-host", metavar="HOST", help="Source host (netfs, iscsi, ...).")
    @click.option("--source-path", metavar="PATH", help="Source directory on the host.")
    @click.option("--source-dev", metavar="DEV", help="Source device.")
    @click.option("--source-name", metavar="NAME", help="Source name (logical, rbd, ...).")
    @click.option("--source-format", metavar="FORMAT", help="Source format.")
    @click.option("--target", metavar="PATH", help="Target path.")
    @click.option("--print-xml", is_flag=True, help="Print the XML instead.")
    def run(state: CliState, pool_name: str, kind: str, print_xml: bool,
            **opt: str | None) -> None:
        xml = _pool_as_xml(pool_name, kind, opt)
        if print_xml:
            state.out(xml)
            return
        conn = state.conn
        if define:
            with state.failing(f"Failed to define pool {pool_name}"):
                p = conn.storage_pool_define_xml(xml)
            state.info(f"Pool {p.name} defined")
        else:
            with state.failing(f"Failed to create pool {pool_name}"):
                p = conn.storage_pool_create_xml(xml)
            state.info(f"Pool {p.name} created")

    return run


cmd_pool_define_as = _pool_as_command("pool-define-as", True)
cmd_pool_create_as = _pool_as_command("pool-create-as", False)


def _pool_action(name: str, help_text: str, verb: str, past: str,
                 act: str) -> click.Command:
    @command(name, help=help_text)
    @pool_argument
    def run(state: CliState, pool: str) -> None:
        p = state.pool(pool)
        with state.failing(f"Failed to {verb} pool {p.name}"):
            getattr(p, act)()
        state.info(f"Pool {p.name} {past}")

    return run


cmd_pool_destroy = _pool_action("pool-destroy", "Stop a storage pool (its data stays).",
                                "destroy", "destroyed", "destroy")
cmd_pool_delete = _pool_action("pool-delete", "Delete an inactive storage pool's storage.",
                               "delete", "deleted", "delete")
cmd_pool_undefine = _pool_action("pool-undefine", "Undefine a persistent storage pool.",
                                 "undefine", "has been undefined", "undefine")
cmd_pool_refresh = _pool_action("pool-refresh", "Refresh a storage pool's volume list.",
                                "refresh", "refreshed", "refresh")


@command("pool-build", help="Build a storage pool's storage.")
@pool_argument
@click.option("--overwrite", is_flag=True, help="Overwrite existing data.")
@click.option("--no-overwrite", is_flag=True, help="Build only if no data would be lost.")
def cmd_pool_build(state: CliState, pool: str, overwrite: bool, no_overwrite: bool) -> None:
    exclusive(overwrite=overwrite, no_overwrite=no_overwrite)
    p = state.pool(pool)
    with state.failing(f"Failed to build pool {p.name}"):
        p.build(overwrite=overwrite, no_overwrite=no_overwrite)
    state.info(f"Pool {p.name} built")


@command("pool-start", help="Start a (previously defined) inactive storage pool.")
@pool_argument
@click.option("--build", is_flag=True, help="Build the pool first.")
@click.option("--overwrite", is_flag=True, help="Build, overwriting existing data.")
@click.option("--no-overwrite", is_flag=True, help="Build only if no data would be lost.")
def cmd_pool_start(
    state: CliState, pool: str, build: bool, overwrite: bool, no_overwrite: bool
) -> None:
    _build_flags(build, overwrite, no_overwrite)
    p = state.pool(pool)
    with state.failing(f"Failed to start pool {p.name}"):
        if build:
            p.build(overwrite=overwrite, no_overwrite=no_overwrite)
        p.create()
    state.info(f"Pool {p.name} started")


@command("pool-autostart", help="Start a pool when the host boots (or not, with --disable).")
@pool_argument
@click.option("--disable", is_flag=True, help="Disable autostarting.")
def cmd_pool_autostart(state: CliState, pool: str, disable: bool) -> None:
    p = state.pool(pool)
    verb = "unmark" if disable else "mark"
    with state.failing(f"failed to {verb} pool {p.name} as autostarted"):
        p.set_autostart(not disable)
    state.info(f"Pool {p.name} {verb}ed as autostarted")


@command("pool-edit", help="Edit a storage pool's XML in $VISUAL or $EDITOR and redefine it.")
@pool_argument
def cmd_pool_edit(state: CliState, pool: str) -> None:
    from virtkit.cli.edit import edit_loop

    p = state.pool(pool)
    with state.failing(f"Failed to get the XML of pool '{p.name}'"):
        original = p.xml_desc(inactive=True)

    def redefine(xml: str, _validate: bool) -> str:
        return state.conn.storage_pool_define_xml(xml).name

    changed = edit_loop(state, original, redefine)
    if changed is None:
        state.info(f"Pool {p.name} XML configuration not changed.")
    else:
        state.info(f"Pool {changed} XML configuration edited.")


# -- volumes: list and information --------------------------------------------------------------


@command("vol-list", help="List the volumes of a storage pool.")
@pool_argument
@click.option("--details", is_flag=True, help="Display extended details for volumes.")
@json_option
def cmd_vol_list(state: CliState, pool: str, details: bool, as_json: bool) -> None:
    p = state.pool(pool)
    with state.failing("Failed to list storage volumes"):
        vols = p.list_volumes()
        infos = [v.info() for v in vols] if details or as_json else []
    if as_json:
        state.json([
            {"name": v.name, "path": v.path, "key": v.key, "type": _vol_type(i.type),
             "capacity": i.capacity, "allocation": i.allocation}
            for v, i in zip(vols, infos, strict=True)
        ])
        return
    if not details:
        rows = [[v.name, v.path] for v in vols]
        state.out(table(["Name", "Path"], rows, show_header=not state.quiet))
        return
    rows = [[v.name, v.path, _vol_type(i.type), pretty_capacity(i.capacity),
             pretty_capacity(i.allocation)] for v, i in zip(vols, infos, strict=True)]
    state.out(table(["Name", "Path", "Type", "Capacity", "Allocation"], rows,
                    show_header=not state.quiet))


@command("vol-info", help="Print basic information about a storage volume.")
@vol_arguments
@click.option("--bytes", "in_bytes", is_flag=True, help="Sizes in bytes.")
@json_option
def cmd_vol_info(state: CliState, vol: str, pool: str | None, in_bytes: bool,
                 as_json: bool) -> None:
    v = state.volume(vol, pool)
    with state.failing(f"Failed to get information of volume '{v.name}'"):
        info = v.info()
    if as_json:
        state.json({"name": v.name, "pool": v.pool_name, "path": v.path, "key": v.key,
                    "type": _vol_type(info.type), "capacity": info.capacity,
                    "allocation": info.allocation})
        return
    size = str if in_bytes else pretty_capacity
    state.out(fields([
        ("Name:", v.name),
        ("Type:", _vol_type(info.type)),
        ("Capacity:", size(info.capacity)),
        ("Allocation:", size(info.allocation)),
    ]))


@command("vol-dumpxml", help="Print a storage volume's XML.")
@vol_arguments
def cmd_vol_dumpxml(state: CliState, vol: str, pool: str | None) -> None:
    v = state.volume(vol, pool)
    with state.failing(f"Failed to get the XML of volume '{v.name}'"):
        xml = v.xml_desc()
    xml_out(state, xml)


@command("vol-path", help="Print a storage volume's path.")
@vol_arguments
def cmd_vol_path(state: CliState, vol: str, pool: str | None) -> None:
    state.out(state.volume(vol, pool).path + "\n")


@command("vol-key", help="Print a storage volume's key.")
@vol_arguments
def cmd_vol_key(state: CliState, vol: str, pool: str | None) -> None:
    state.out(state.volume(vol, pool).key + "\n")


@command("vol-name", help="Print a storage volume's name (from its key or path).")
@click.argument("vol", metavar="VOL")
def cmd_vol_name(state: CliState, vol: str) -> None:
    state.out(state.volume(vol).name + "\n")


@command("vol-pool", help="Print the name (or uuid) of a storage volume's pool.")
@click.argument("vol", metavar="VOL")
@click.option("--uuid", is_flag=True, help="The pool's uuid instead of its name.")
def cmd_vol_pool(state: CliState, vol: str, uuid: bool) -> None:
    v = state.volume(vol)
    with state.failing(f"failed to get parent pool of volume '{v.name}'"):
        p = v.storage_pool_lookup_by_volume()
    state.out((p.uuid if uuid else p.name) + "\n")


# -- volumes: changes ---------------------------------------------------------------------------


@command("vol-create", help="Create a storage volume from an XML file.")
@pool_argument
@click.argument("file", metavar="FILE")
def cmd_vol_create(state: CliState, pool: str, file: str) -> None:
    p = state.pool(pool)
    xml = read_file(file)
    with state.failing(f"Failed to create vol from {file}"):
        v = p.create_xml(xml)
    state.info(f"Vol {v.name} created from {file}")


@command("vol-create-as", help="Create a storage volume from a NAME, a CAPACITY and options.")
@pool_argument
@click.argument("name", metavar="NAME")
@click.argument("capacity", metavar="CAPACITY")
@click.option("--allocation", metavar="SIZE", help="Initial allocation (with a unit or bytes).")
@click.option("--format", "fmt", metavar="FORMAT", help="File format (raw, qcow2, ...).")
@click.option("--print-xml", is_flag=True, help="Print the XML instead.")
def cmd_vol_create_as(
    state: CliState,
    pool: str,
    name: str,
    capacity: str,
    allocation: str | None,
    fmt: str | None,
    print_xml: bool,
) -> None:
    lines = ["<volume>", f"  <name>{_attr(name)}</name>",
             f"  <capacity>{_bytes(capacity)}</capacity>"]
    if allocation is not None:
        lines.append(f"  <allocation>{_bytes(allocation)}</allocation>")
    if fmt:
        lines += ["  <target>", f"    <format type='{_attr(fmt)}'/>", "  </target>"]
    xml = "\n".join([*lines, "</volume>"]) + "\n"
    if print_xml:
        state.out(xml)
        return
    p = state.pool(pool)
    with state.failing(f"Failed to create vol {name}"):
        v = p.create_xml(xml)
    state.info(f"Vol {v.name} created")


@command("vol-clone", help="Clone a storage volume (in its pool) as NEWNAME.")
@click.argument("vol", metavar="VOL")
@click.argument("newname", metavar="NEWNAME")
@click.option("--pool", "pool", metavar="POOL", help="Pool name or uuid of VOL.")
@click.option("--verbose", is_flag=True, help="Show progress.")
def cmd_vol_clone(state: CliState, vol: str, newname: str, pool: str | None,
                  verbose: bool) -> None:
    from virtkit.xml.parser import parse_document

    v = state.volume(vol, pool)
    with state.failing(f"Failed to clone vol from {v.name}"):
        root = parse_document(v.xml_desc(), "storage volume")
        for tag in ("name", "key"):
            for el in root.findall(tag):
                root.remove(el)
        target = root.find("target")
        if target is not None:
            for el in target.findall("path"):
                target.remove(el)
        from lxml import etree

        name_el = etree.Element("name")
        name_el.text = newname
        root.insert(0, name_el)
        xml = etree.tostring(root, encoding="unicode")
        src_pool = v.storage_pool_lookup_by_volume()
        clone = _with_bar(state, "Clone", verbose, lambda: src_pool.create_xml_from(xml, v))
    state.info(f"Vol {clone.name} cloned from {v.name}")


def _with_bar(state: CliState, label: str, verbose: bool, work: Callable[[], T]) -> T:
    """Run ``work`` with a progress bar that jumps from 0 to 100 % (no finer progress)."""
    from virtkit.cli.progress import Bar

    bar = Bar(state, label, verbose)
    bar.update(0, 1)
    ok = False
    try:
        result = work()
        ok = True
    finally:
        bar.end(ok)
    return result


@command("vol-delete", help="Delete a storage volume.")
@vol_arguments
def cmd_vol_delete(state: CliState, vol: str, pool: str | None) -> None:
    v = state.volume(vol, pool)
    with state.failing(f"Failed to delete vol {v.name}"):
        v.delete()
    state.info(f"Vol {v.name} deleted")


@command("vol-wipe", help="Wipe a storage volume's data.")
@vol_arguments
@click.option("--algorithm", default="zero", show_default=True,
              help="zero, nnsa, dod, bsi, gutmann, schneier, pfitzner7, pfitzner33, random, "
                   "trim.")
@click.option("--verbose", is_flag=True, help="Show progress.")
def cmd_vol_wipe(state: CliState, vol: str, pool: str | None, algorithm: str,
                 verbose: bool) -> None:
    from virtkit.api.storage import WIPE_ALGORITHMS

    if algorithm not in WIPE_ALGORITHMS:
        raise CommandError(f"Unsupported algorithm '{algorithm}'", status=2)
    v = state.volume(vol, pool)
    with state.failing(f"Failed to wipe vol {v.name}"):
        _with_bar(state, "Wipe", verbose, lambda: v.wipe(algorithm))
    state.info(f"Vol {v.name} wiped")


@command("vol-resize", help="Resize a storage volume (CAPACITY in bytes unless a unit is given).")
@click.argument("vol", metavar="VOL")
@click.argument("capacity", metavar="CAPACITY")
@click.option("--pool", "pool", metavar="POOL", help="Pool name or uuid (VOL is then a name).")
@click.option("--allocate", is_flag=True, help="Allocate the whole new capacity.")
@click.option("--delta", is_flag=True, help="Change the capacity by CAPACITY.")
@click.option("--shrink", is_flag=True, help="Allow shrinking the volume.")
def cmd_vol_resize(state: CliState, vol: str, capacity: str, pool: str | None, allocate: bool,
                   delta: bool, shrink: bool) -> None:
    text = capacity
    if text.startswith("-"):
        if not shrink:
            raise CommandError("negative size requires --shrink", status=2)
        text = text[1:]
    size = _bytes(text)
    v = state.volume(vol, pool)
    how = "by" if delta else "to"
    with state.failing(f"Failed to change size of volume '{v.name}' {how} {text}"):
        v.resize(size, allocate=allocate, delta=delta, shrink=shrink)
    state.info(f"Size of volume '{v.name}' successfully changed {how} {text}")


def _offset_length(offset: str, length: str) -> tuple[int, int]:
    return _bytes(offset, "offset"), _bytes(length, "length")


@command("vol-upload", help="Upload a file's contents into a storage volume.")
@click.argument("vol", metavar="VOL")
@click.argument("file", metavar="FILE")
@click.option("--pool", "pool", metavar="POOL", help="Pool name or uuid (VOL is then a name).")
@click.option("--offset", default="0", metavar="BYTES", help="Where in the volume to start.")
@click.option("--length", default="0", metavar="BYTES", help="How much to upload (0: all).")
@click.option("--verbose", is_flag=True, help="Show progress.")
@click.option("--sparse", is_flag=True, help="Send the file's holes as holes, not zeros.")
def cmd_vol_upload(state: CliState, vol: str, file: str, pool: str | None, offset: str,
                   length: str, verbose: bool, sparse: bool) -> None:
    from virtkit.api.stream import MAX_CHUNK
    from virtkit.cli.progress import Bar

    start, count = _offset_length(offset, length)
    v = state.volume(vol, pool)
    try:
        f = open(file, "rb")
    except OSError as exc:
        raise CommandError(f"cannot read {file}", exc.strerror or str(exc)) from exc
    with f, state.failing(f"cannot upload to volume {v.name}"):
        size = os.fstat(f.fileno()).st_size
        total = min(size, count) if count else size
        bar = Bar(state, "Upload", verbose)
        stream = v.upload(start, count)
        done, ok = 0, False
        try:
            if sparse:
                _send_sparse(stream, f, total)
                done = total
            while done < total:
                chunk = f.read(min(MAX_CHUNK, total - done))
                if not chunk:
                    break
                stream.send_all(chunk)
                done += len(chunk)
                bar.update(done, total)
            stream.finish()
            ok = True
        finally:
            if not ok:
                _abort(stream)
            bar.end(ok)


def _send_sparse(stream: Any, f: Any, total: int) -> None:
    """Send ``total`` bytes of ``f``: its data as data, its holes (SEEK_HOLE) as holes."""
    fd = f.fileno()

    def section(_st: Any, _opaque: Any) -> tuple[bool, int]:
        pos = f.tell()
        if pos >= total:
            return False, 0
        try:
            data_at = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:  # ENXIO: only a hole is left
            data_at = total
        if data_at > pos:
            f.seek(pos)
            return False, min(data_at, total) - pos
        hole_at = os.lseek(fd, pos, os.SEEK_HOLE)
        f.seek(pos)  # the buffered file and its descriptor back where the data starts
        return True, min(hole_at, total) - pos

    def skip(_st: Any, length: int, _opaque: Any) -> int:
        f.seek(length, os.SEEK_CUR)
        return 0

    stream.sparse_send_all(lambda _st, n, _o: f.read(n), section, skip)


def _recv_sparse(stream: Any, f: Any) -> None:
    """Write the stream's data into ``f`` and its holes as holes (seek and truncate)."""

    def hole(_st: Any, length: int, _opaque: Any) -> int:
        f.seek(length, os.SEEK_CUR)
        return 0

    stream.sparse_recv_all(lambda _st, data, _o: f.write(data), hole)
    f.truncate()


@command("vol-download", help="Download a storage volume's contents into a file.")
@click.argument("vol", metavar="VOL")
@click.argument("file", metavar="FILE")
@click.option("--pool", "pool", metavar="POOL", help="Pool name or uuid (VOL is then a name).")
@click.option("--offset", default="0", metavar="BYTES", help="Where in the volume to start.")
@click.option("--length", default="0", metavar="BYTES", help="How much to download (0: all).")
@click.option("--verbose", is_flag=True, help="Show progress.")
@click.option("--sparse", is_flag=True, help="Keep the volume's holes as holes in FILE.")
def cmd_vol_download(state: CliState, vol: str, file: str, pool: str | None, offset: str,
                     length: str, verbose: bool, sparse: bool) -> None:
    from virtkit.api.stream import MAX_CHUNK
    from virtkit.cli.progress import Bar

    start, count = _offset_length(offset, length)
    v = state.volume(vol, pool)
    created = not os.path.exists(file)
    try:
        f = open(file, "wb")
    except OSError as exc:
        raise CommandError(f"cannot create {file}", exc.strerror or str(exc)) from exc
    ok = False
    try:
        with f, state.failing(f"cannot download from volume {v.name}"):
            capacity = v.info().capacity
            total = count or max(capacity - start, 0)
            bar = Bar(state, "Download", verbose)
            stream = v.download(start, count)
            done = 0
            try:
                if sparse:
                    _recv_sparse(stream, f)
                while not sparse:
                    chunk = stream.recv(MAX_CHUNK)
                    if not chunk:
                        break
                    f.write(chunk)
                    done += len(chunk)
                    bar.update(done, total)
                stream.finish()
                ok = True
            finally:
                if not ok:
                    _abort(stream)
                bar.end(ok)
    finally:
        if not ok and created:
            try:
                os.unlink(file)
            except OSError:
                pass


def _abort(stream: Stream) -> None:
    from virtkit import VirtError

    if stream.closed:
        return
    try:
        stream.abort()
    except VirtError:
        pass
