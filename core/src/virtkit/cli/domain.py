"""Domain commands, with virsh's names, arguments, flags, messages and output formats."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from virtkit.cli._base import command, domain_argument, json_option, read_file
from virtkit.cli.fmt import fields, parse_scaled, reason_name, state_name, table
from virtkit.cli.state import CliState, CommandError

if TYPE_CHECKING:
    from virtkit.api.domain import Domain
    from virtkit.api.storage import StorageVolume
    from virtkit.sdk.records import DomainSummary


def _exclusive(**given: bool) -> None:
    """virsh's "Options --a and --b are mutually exclusive" for any two flags given together."""
    names = [name for name, on in given.items() if on]
    if len(names) > 1:
        first, second = (n.replace("_", "-") for n in names[:2])
        raise CommandError(f"Options --{first} and --{second} are mutually exclusive", status=2)


def _unsupported(flag: str) -> CommandError:
    return CommandError(f"option --{flag} is not supported by virtkit yet")


def _domain_xml(dom: Domain, inactive: bool = False) -> Any:
    """The domain's XML parsed with virtkit's hardened parser."""
    from virtkit.xml.parser import parse_document

    return parse_document(dom.xml_desc(inactive=inactive), "domain")


# -- list -----------------------------------------------------------------------------------------


@command("list", help="List domains (active ones unless --all or --inactive).")
@click.option("--inactive", is_flag=True, help="List inactive domains.")
@click.option("--all", "all_", is_flag=True, help="List inactive & active domains.")
@click.option("--transient", is_flag=True, help="List transient domains.")
@click.option("--persistent", is_flag=True, help="List persistent domains.")
@click.option("--with-snapshot", is_flag=True, help="List domains with existing snapshot.")
@click.option("--without-snapshot", is_flag=True, help="List domains without a snapshot.")
@click.option("--with-checkpoint", is_flag=True, help="List domains with existing checkpoint.")
@click.option("--without-checkpoint", is_flag=True, help="List domains without a checkpoint.")
@click.option("--state-running", is_flag=True, help="List domains in running state.")
@click.option("--state-paused", is_flag=True, help="List domains in paused state.")
@click.option("--state-shutoff", is_flag=True, help="List domains in shutoff state.")
@click.option("--state-other", is_flag=True, help="List domains in other states.")
@click.option("--autostart", is_flag=True, help="List domains with autostart enabled.")
@click.option("--no-autostart", is_flag=True, help="List domains with autostart disabled.")
@click.option("--with-managed-save", is_flag=True, help="List domains with managed save state.")
@click.option("--without-managed-save", is_flag=True, help="List domains without managed save.")
@click.option("--uuid", is_flag=True, help="List uuid's only.")
@click.option("--name", is_flag=True, help="List domain names only.")
@click.option("--id", "ids", is_flag=True, help="List domain IDs only.")
@click.option("--table", "as_table", is_flag=True, help="List table (default).")
@click.option("--managed-save", is_flag=True, help="Mark inactive domains with managed save.")
@click.option("--title", is_flag=True, help="Show domain title.")
@json_option
def cmd_list(state: CliState, **opt: bool) -> None:
    if opt["as_table"]:
        _exclusive(table=True, name=opt["name"], uuid=opt["uuid"], id=opt["ids"])
    if opt["as_json"]:
        _exclusive(json=True, name=opt["name"], uuid=opt["uuid"], id=opt["ids"])
    with state.failing("Failed to list domains"):
        summaries = state.conn.list_domain_summaries()
    picked = sorted(
        (s for s in summaries if _listed(s, opt)),
        key=lambda s: (not s.active, s.ref.id if s.active else 0, s.ref.name),
    )
    titles: dict[str, str] = {}
    if opt["title"]:
        for s in picked:
            with state.failing(f"Failed to get the title of domain '{s.ref.name}'"):
                root = _domain_xml(state.conn.lookup_by_uuid(s.ref.uuid))
            titles[s.ref.uuid] = (root.findtext("title") or "").split("\n")[0]

    def shown_state(s: DomainSummary) -> str:
        if opt["managed_save"] and not s.active and s.managed_save:
            return "saved"
        return state_name(s.state)

    if opt["as_json"]:
        state.json([
            {
                "id": s.ref.id if s.active else None,
                "name": s.ref.name,
                "uuid": s.ref.uuid,
                "state": state_name(s.state),
                "reason": reason_name(s.state, s.reason),
                "persistent": s.persistent,
                "autostart": s.autostart,
                "managed_save": s.managed_save,
                **({"title": titles[s.ref.uuid]} if opt["title"] else {}),
            }
            for s in picked
        ])
        return
    if opt["name"] or opt["uuid"] or opt["ids"]:
        lines = []
        for s in picked:
            if opt["ids"] and not (opt["name"] or opt["uuid"]) and not s.active:
                continue
            parts = []
            if opt["ids"]:
                parts.append(str(s.ref.id) if s.active else "-")
            if opt["uuid"]:
                parts.append(s.ref.uuid)
            if opt["name"]:
                parts.append(s.ref.name)
            lines.append(" ".join(parts) + "\n")
        state.out("".join(lines))
        return
    header = ["Id", "Name", "State"] + (["Title"] if opt["title"] else [])
    rows = [
        [str(s.ref.id) if s.active else "-", s.ref.name, shown_state(s)]
        + ([titles[s.ref.uuid]] if opt["title"] else [])
        for s in picked
    ]
    state.out(table(header, rows, show_header=not state.quiet))


def _listed(s: DomainSummary, opt: dict[str, bool]) -> bool:
    """virsh's filter groups: within a group any flag may match, every group must match."""
    if opt["all_"]:
        pass
    elif opt["inactive"]:
        if s.active:
            return False
    elif not s.active:
        return False
    groups = [
        (opt["persistent"], opt["transient"], s.persistent),
        (opt["with_snapshot"], opt["without_snapshot"], s.snapshots > 0),
        (opt["with_checkpoint"], opt["without_checkpoint"], False),
        (opt["autostart"], opt["no_autostart"], s.autostart),
        (opt["with_managed_save"], opt["without_managed_save"], s.managed_save),
    ]
    for want_yes, want_no, value in groups:
        if (want_yes or want_no) and not ((want_yes and value) or (want_no and not value)):
            return False
    wanted_states = [opt["state_running"], opt["state_paused"], opt["state_shutoff"],
                     opt["state_other"]]
    if any(wanted_states):
        kind = {1: 0, 3: 1, 5: 2}.get(s.state, 3)
        if not wanted_states[kind]:
            return False
    return True


# -- information ------------------------------------------------------------------------------


@command("dominfo", help="Print basic information about a domain.")
@domain_argument
@json_option
def cmd_dominfo(state: CliState, domain: str, as_json: bool) -> None:
    dom = state.domain(domain)
    with state.failing(f"Failed to get information of domain '{dom.name}'"):
        info = dom.info()
        summary = dom.summary()
        root = _domain_xml(dom)
    os_type = root.findtext("os/type") or "unknown"
    security = _security(state, dom)
    messages = _messages(dom)
    if as_json:
        state.json({
            "id": summary.ref.id if summary.active else None,
            "name": dom.name,
            "uuid": dom.uuid,
            "os_type": os_type,
            "state": state_name(info.state),
            "cpus": info.nr_virt_cpu,
            "cpu_time_ns": info.cpu_time,
            "max_memory_kib": info.max_mem,
            "used_memory_kib": info.memory,
            "persistent": summary.persistent,
            "autostart": summary.autostart,
            "managed_save": summary.managed_save,
            "security": security and {"model": security[0], "doi": security[1],
                                      "label": security[2] or None,
                                      "enforcing": security[3]},
            "messages": messages,
        })
        return
    pairs = [
        ("Id:", str(summary.ref.id) if summary.active else "-"),
        ("Name:", dom.name),
        ("UUID:", dom.uuid),
        ("OS Type:", os_type),
        ("State:", state_name(info.state)),
        ("CPU(s):", str(info.nr_virt_cpu)),
    ]
    if info.cpu_time != 0:
        pairs.append(("CPU time:", f"{info.cpu_time / 1e9:.1f}s"))
    pairs += [
        ("Max memory:", f"{info.max_mem} KiB"),
        ("Used memory:", f"{info.memory} KiB"),
        ("Persistent:", "yes" if summary.persistent else "no"),
        ("Autostart:", "enable" if summary.autostart else "disable"),
        ("Managed save:", "yes" if summary.managed_save else "no"),
    ]
    if security is not None:
        model, doi, label, enforcing = security
        pairs += [("Security model:", model), ("Security DOI:", doi)]
        if label:
            pairs.append(("Security label:",
                          f"{label} ({'enforcing' if enforcing else 'permissive'})"))
    pairs += [("Messages:" if i == 0 else "", text) for i, text in enumerate(messages)]
    state.out(fields(pairs))


def _security(state: CliState, dom: Domain) -> tuple[str, str, str, bool] | None:
    """virsh's dominfo security lines: the host's model and DOI and the domain's label under
    it; None when the host has no model (or the driver does not say)."""
    from virtkit import VirtError
    from virtkit.sdk.errors import ErrorCode

    try:
        model = state.conn.get_security_model()
    except VirtError as exc:
        if exc.code != ErrorCode.NO_SUPPORT:
            raise CommandError(f"Failed to get information of domain '{dom.name}'",
                               exc.message) from exc
        return None
    if not model.model:
        return None
    try:
        label = dom.security_label()
    except VirtError as exc:
        if exc.code != ErrorCode.NO_SUPPORT:
            raise CommandError(f"Failed to get information of domain '{dom.name}'",
                               exc.message) from exc
        return model.model, model.doi, "", False
    return model.model, model.doi, label.label, label.enforcing


def _messages(dom: Domain) -> list[str]:
    """The guest's taint and deprecation messages; none where the driver has no such call."""
    from virtkit import VirtError
    from virtkit.sdk.errors import ErrorCode

    try:
        return dom.messages()
    except VirtError as exc:
        if exc.code != ErrorCode.NO_SUPPORT:
            raise
        return []


@command("domstate", help="Print a domain's state.")
@domain_argument
@click.option("--reason", is_flag=True, help="Also the reason for the state.")
@json_option
def cmd_domstate(state: CliState, domain: str, reason: bool, as_json: bool) -> None:
    dom = state.domain(domain)
    with state.failing(f"Failed to get the state of domain '{dom.name}'"):
        st, why = dom.state()
    if as_json:
        state.json({"state": state_name(st), "reason": reason_name(st, why)})
    elif reason:
        state.out(f"{state_name(st)} ({reason_name(st, why)})\n")
    else:
        state.out(state_name(st) + "\n")


@command("domid", help="Print a domain's id ('-' when inactive).")
@domain_argument
def cmd_domid(state: CliState, domain: str) -> None:
    dom = state.domain(domain)
    with state.failing(f"Failed to get the id of domain '{dom.name}'"):
        dom_id = dom.id
    state.out(("-" if dom_id < 0 else str(dom_id)) + "\n")


@command("domname", help="Print a domain's name (from its id or uuid).")
@domain_argument
def cmd_domname(state: CliState, domain: str) -> None:
    state.out(state.domain(domain).name + "\n")


@command("domuuid", help="Print a domain's uuid (from its name or id).")
@domain_argument
def cmd_domuuid(state: CliState, domain: str) -> None:
    state.out(state.domain(domain).uuid + "\n")


@command("dumpxml", help="Print a domain's XML.")
@domain_argument
@click.option("--inactive", is_flag=True, help="The definition used at next boot.")
@click.option("--security-info", is_flag=True, help="Include security-sensitive information.")
@click.option("--update-cpu", is_flag=True, help="Update the guest CPU from the host CPU.")
@click.option("--migratable", is_flag=True, help="XML fit for migration.")
def cmd_dumpxml(
    state: CliState,
    domain: str,
    inactive: bool,
    security_info: bool,
    update_cpu: bool,
    migratable: bool,
) -> None:
    if update_cpu:
        raise _unsupported("update-cpu")
    if migratable:
        raise _unsupported("migratable")
    dom = state.domain(domain)
    with state.failing(f"Failed to get the XML of domain '{dom.name}'"):
        xml = dom.xml_desc(inactive=inactive, security_info=security_info)
    state.out(xml if xml.endswith("\n") else xml + "\n")


# -- definition -------------------------------------------------------------------------------


@command("domxml-from-native", help="Convert a native guest configuration to domain XML.")
@click.argument("format", metavar="FORMAT")
@click.argument("config", metavar="CONFIG")
def cmd_domxml_from_native(state: CliState, format: str, config: str) -> None:
    native = read_file(config)
    with state.failing(f"Failed to convert {config} from {format}"):
        xml = state.conn.domain_xml_from_native(format, native)
    state.out(xml if xml.endswith("\n") else xml + "\n")


@command("domxml-to-native", help="Convert domain XML to a native guest configuration.")
@click.argument("format", metavar="FORMAT")
@click.argument("xml", metavar="XML")
def cmd_domxml_to_native(state: CliState, format: str, xml: str) -> None:
    text = read_file(xml)
    with state.failing(f"Failed to convert {xml} to {format}"):
        native = state.conn.domain_xml_to_native(format, text)
    state.out(native if native.endswith("\n") else native + "\n")


@command("define", help="Define (but don't start) a domain from an XML file.")
@click.argument("file", metavar="FILE")
@click.option("--validate", is_flag=True, help="Validate the XML against the schema.")
def cmd_define(state: CliState, file: str, validate: bool) -> None:
    xml = read_file(file)
    with state.failing(f"Failed to define domain from {file}"):
        dom = state.conn.define_xml(xml, validate=validate)
    state.info(f"Domain '{dom.name}' defined from {file}")


@command("create", help="Create (start) a transient domain from an XML file.")
@click.argument("file", metavar="FILE")
@click.option("--paused", is_flag=True, help="Leave the guest paused after creating it.")
@click.option("--console", is_flag=True, help="Attach to the console after creating.")
@click.option("--autodestroy", is_flag=True, help="Destroy the guest when virtkit exits.")
@click.option("--validate", is_flag=True, help="Validate the XML against the schema.")
def cmd_create(
    state: CliState, file: str, paused: bool, console: bool, autodestroy: bool, validate: bool
) -> None:
    if autodestroy:
        raise _unsupported("autodestroy")
    xml = read_file(file)
    with state.failing(f"Failed to create domain from {file}"):
        dom = state.conn.create_xml(xml, paused=paused, validate=validate)
    state.info(f"Domain '{dom.name}' created from {file}")
    if console:
        from virtkit.cli.console import run_console

        run_console(state, dom)


@command("undefine", help="Undefine a domain (an active one becomes transient).")
@domain_argument
@click.option("--managed-save", is_flag=True, help="Remove the domain's managed save image.")
@click.option("--snapshots-metadata", is_flag=True, help="Remove its snapshots' metadata.")
@click.option("--nvram", is_flag=True, help="Remove its nvram file.")
@click.option("--keep-nvram", is_flag=True, help="Keep its nvram file.")
@click.option("--remove-all-storage", is_flag=True, help="Remove every volume the domain uses.")
@click.option("--storage", metavar="DISKS", help="Remove these volumes (targets or sources).")
@click.option("--wipe-storage", is_flag=True, help="Wipe the data of removed volumes.")
def cmd_undefine(
    state: CliState,
    domain: str,
    managed_save: bool,
    snapshots_metadata: bool,
    nvram: bool,
    keep_nvram: bool,
    remove_all_storage: bool,
    storage: str | None,
    wipe_storage: bool,
) -> None:
    _exclusive(nvram=nvram, keep_nvram=keep_nvram)
    _exclusive(remove_all_storage=remove_all_storage, storage=bool(storage))
    if wipe_storage and not (remove_all_storage or storage):
        raise CommandError("'--wipe-storage' requires '--storage <string>' or "
                           "'--remove-all-storage'", status=2)
    dom = state.domain(domain)
    volumes: list[tuple[str, str, StorageVolume]] = []
    if remove_all_storage or storage:
        volumes = _storage_to_remove(state, dom, remove_all_storage, storage)
    with state.failing(f"Failed to undefine domain '{dom.name}'"):
        dom.undefine(managed_save=managed_save, snapshots_metadata=snapshots_metadata,
                     nvram=nvram)
    state.info(f"Domain '{dom.name}' has been undefined")
    failed = []
    from virtkit import VirtError

    for target, source, vol in volumes:
        if wipe_storage:
            if not state.quiet:
                sys.stdout.write(f"Wiping volume '{target}'({source}) ... ")
                sys.stdout.flush()
            try:
                vol.wipe()
            except VirtError as exc:
                failed += ["Failed! Volume not removed.", exc.message]
                continue
            state.info("Done.")
        try:
            vol.delete()
        except VirtError as exc:
            failed += [f"Failed to remove storage volume '{target}'({source})", exc.message]
        else:
            state.info(f"Volume '{target}'({source}) removed.")
    if failed:
        raise CommandError(*failed)


def _storage_to_remove(
    state: CliState, dom: Domain, remove_all: bool, storage: str | None
) -> list[tuple[str, str, StorageVolume]]:
    """(target, source, volume) of each disk to remove: every disk with a source, or those
    ``storage`` names (targets or sources, comma-separated). Disks whose source is no volume
    are reported and skipped, as virsh does."""
    from virtkit import VirtError

    wanted = {w for w in (storage or "").split(",") if w}
    with state.failing(f"Failed to get the disks of domain '{dom.name}'"):
        root = _domain_xml(dom, inactive=True)
    found: list[tuple[str, str, StorageVolume]] = []
    for disk in root.findall("devices/disk"):
        target = disk.find("target")
        dev = (target.get("dev") if target is not None else None) or ""
        source_el = disk.find("source")
        source = None if source_el is None else (source_el.get("file") or source_el.get("dev"))
        if not source:
            continue
        if not remove_all:
            if dev not in wanted and source not in wanted:
                continue
            wanted -= {dev, source}
        try:
            vol = state.conn.storage_vol_lookup_by_path(source)
        except VirtError:
            state.info(f"Storage volume '{dev}'({source}) is not managed by virtkit. "
                       f"Remove it manually.")
            continue
        found.append((dev, source, vol))
    if wanted:
        raise CommandError(f"Volume '{sorted(wanted)[0]}' was not found in domain's "
                           f"definition.")
    return found


@command("edit", help="Edit a domain's XML in $VISUAL or $EDITOR and redefine it.")
@domain_argument
@click.option("--skip-validate", is_flag=True, help="Don't validate the edited XML.")
def cmd_edit(state: CliState, domain: str, skip_validate: bool) -> None:
    from virtkit.cli.edit import edit_loop

    dom = state.domain(domain)
    with state.failing(f"Failed to get the XML of domain '{dom.name}'"):
        original = dom.xml_desc(inactive=True, security_info=True)

    def redefine(xml: str, validate: bool) -> str:
        return state.conn.define_xml(xml, validate=validate).name

    changed = edit_loop(state, original, redefine, validate=not skip_validate)
    if changed is None:
        state.info(f"Domain '{dom.name}' XML configuration not changed.")
    else:
        state.info(f"Domain '{changed}' XML configuration edited.")


# -- lifecycle --------------------------------------------------------------------------------


@command("start", help="Start a (previously defined) inactive domain.")
@domain_argument
@click.option("--paused", is_flag=True, help="Leave the guest paused after starting it.")
@click.option("--console", is_flag=True, help="Attach to the console after starting.")
@click.option("--force-boot", is_flag=True, help="Boot, discarding any managed save image.")
@click.option("--autodestroy", is_flag=True, help="Destroy the guest when virtkit exits.")
@click.option("--bypass-cache", is_flag=True, help="Avoid the file system cache on restore.")
def cmd_start(
    state: CliState,
    domain: str,
    paused: bool,
    console: bool,
    force_boot: bool,
    autodestroy: bool,
    bypass_cache: bool,
) -> None:
    if autodestroy:
        raise _unsupported("autodestroy")
    dom = state.domain(domain)
    if dom.is_active():
        raise CommandError(f"Domain '{dom.name}' is already active")
    with state.failing(f"Failed to start domain '{dom.name}'"):
        dom.create(paused=paused, force_boot=force_boot)
    state.info(f"Domain '{dom.name}' started")
    if console:
        from virtkit.cli.console import run_console

        run_console(state, dom)


def _mode(mode: str | None) -> str | None:
    if mode is None:
        return None
    modes = [m for m in mode.split(",") if m]
    if len(modes) != 1:
        raise CommandError(f"virtkit takes exactly one mode, not '{mode}'", status=2)
    return modes[0]


@command("shutdown", help="Gracefully shut down a domain.")
@domain_argument
@click.option("--mode", help="acpi, agent, initctl, signal or paravirt.")
def cmd_shutdown(state: CliState, domain: str, mode: str | None) -> None:
    dom = state.domain(domain)
    with state.failing(f"Failed to shutdown domain '{dom.name}'"):
        dom.shutdown(_mode(mode))
    state.info(f"Domain '{dom.name}' is being shutdown")


@command("reboot", help="Reboot a domain.")
@domain_argument
@click.option("--mode", help="acpi, agent, initctl, signal or paravirt.")
def cmd_reboot(state: CliState, domain: str, mode: str | None) -> None:
    dom = state.domain(domain)
    with state.failing(f"Failed to reboot domain '{dom.name}'"):
        dom.reboot(_mode(mode))
    state.info(f"Domain '{dom.name}' is being rebooted")


@command("reset", help="Reset a domain (as the reset button would).")
@domain_argument
def cmd_reset(state: CliState, domain: str) -> None:
    dom = state.domain(domain)
    with state.failing(f"Failed to reset domain '{dom.name}'"):
        dom.reset()
    state.info(f"Domain '{dom.name}' was reset")


@command("destroy", help="Stop a domain at once (as pulling the power cord would).")
@domain_argument
@click.option("--graceful", is_flag=True, help="Terminate gracefully, or fail.")
def cmd_destroy(state: CliState, domain: str, graceful: bool) -> None:
    dom = state.domain(domain)
    with state.failing(f"Failed to destroy domain '{dom.name}'"):
        dom.destroy(graceful=graceful)
    state.info(f"Domain '{dom.name}' destroyed")


@command("suspend", help="Pause a running domain.")
@domain_argument
def cmd_suspend(state: CliState, domain: str) -> None:
    dom = state.domain(domain)
    with state.failing(f"Failed to suspend domain '{dom.name}'"):
        dom.suspend()
    state.info(f"Domain '{dom.name}' suspended")


@command("resume", help="Resume a paused domain.")
@domain_argument
def cmd_resume(state: CliState, domain: str) -> None:
    dom = state.domain(domain)
    with state.failing(f"Failed to resume domain '{dom.name}'"):
        dom.resume()
    state.info(f"Domain '{dom.name}' resumed")


def _start_state(running: bool, paused: bool) -> str | None:
    _exclusive(running=running, paused=paused)
    return "running" if running else "paused" if paused else None


@command("save", help="Save a running domain's state to a file and stop it.")
@domain_argument
@click.argument("file", metavar="FILE")
@click.option("--bypass-cache", is_flag=True, help="Avoid the file system cache.")
@click.option("--xml", "xml_file", metavar="FILE", help="An alternative XML for the image.")
@click.option("--running", is_flag=True, help="Restore into a running state.")
@click.option("--paused", is_flag=True, help="Restore into a paused state.")
@click.option("--verbose", is_flag=True, help="Show progress.")
def cmd_save(
    state: CliState,
    domain: str,
    file: str,
    bypass_cache: bool,
    xml_file: str | None,
    running: bool,
    paused: bool,
    verbose: bool,
) -> None:
    from virtkit.cli.progress import run_job

    start_state = _start_state(running, paused)
    xml = read_file(xml_file, "XML file") if xml_file else None
    dom = state.domain(domain)
    path = os.path.abspath(file)
    with state.failing(f"Failed to save domain '{dom.name}' to {file}"):
        run_job(state, "Save", lambda: dom.save(path, xml=xml, start_state=start_state),
                dom, verbose)
    state.info(f"Domain '{dom.name}' saved to {file}")


@command("restore", help="Restore a domain from a saved state file.")
@click.argument("file", metavar="FILE")
@click.option("--bypass-cache", is_flag=True, help="Avoid the file system cache.")
@click.option("--xml", "xml_file", metavar="FILE", help="An alternative XML for the domain.")
@click.option("--running", is_flag=True, help="Restore into a running state.")
@click.option("--paused", is_flag=True, help="Restore into a paused state.")
def cmd_restore(
    state: CliState,
    file: str,
    bypass_cache: bool,
    xml_file: str | None,
    running: bool,
    paused: bool,
) -> None:
    start_state = _start_state(running, paused)
    xml = read_file(xml_file, "XML file") if xml_file else None
    with state.failing(f"Failed to restore domain from {file}"):
        state.conn.restore(os.path.abspath(file), xml=xml, start_state=start_state)
    state.info(f"Domain restored from {file}")


@command("managedsave", help="Save a domain's state; the next start restores it.")
@domain_argument
@click.option("--bypass-cache", is_flag=True, help="Avoid the file system cache.")
@click.option("--running", is_flag=True, help="Restore into a running state.")
@click.option("--paused", is_flag=True, help="Restore into a paused state.")
@click.option("--verbose", is_flag=True, help="Show progress.")
def cmd_managedsave(
    state: CliState, domain: str, bypass_cache: bool, running: bool, paused: bool, verbose: bool
) -> None:
    from virtkit.cli.progress import run_job

    start_state = _start_state(running, paused)
    dom = state.domain(domain)
    with state.failing(f"Failed to save domain '{dom.name}' state"):
        run_job(state, "Managedsave", lambda: dom.managed_save(start_state=start_state),
                dom, verbose)
    state.info(f"Domain '{dom.name}' state saved by virtkit")


@command("managedsave-remove", help="Remove a domain's managed save image.")
@domain_argument
def cmd_managedsave_remove(state: CliState, domain: str) -> None:
    dom = state.domain(domain)
    with state.failing(f"Failed to remove managed save image for domain '{dom.name}'"):
        if not dom.has_managed_save_image():
            state.info(f"Domain '{dom.name}' has no manage save image; removal skipped")
            return
        dom.managed_save_remove()
    state.info(f"Removed managedsave image for domain '{dom.name}'")


@command("autostart", help="Start a domain when the host boots (or not, with --disable).")
@domain_argument
@click.option("--disable", is_flag=True, help="Disable autostarting.")
def cmd_autostart(state: CliState, domain: str, disable: bool) -> None:
    dom = state.domain(domain)
    if disable:
        with state.failing(f"Failed to unmark domain '{dom.name}' as autostarted"):
            dom.set_autostart(False)
        state.info(f"Domain '{dom.name}' unmarked as autostarted")
    else:
        with state.failing(f"Failed to mark domain '{dom.name}' as autostarted"):
            dom.set_autostart(True)
        state.info(f"Domain '{dom.name}' marked as autostarted")


# -- devices and resources --------------------------------------------------------------------


def _scope(
    dom: Domain, persistent: bool, config: bool, live: bool, current: bool
) -> tuple[bool, bool]:
    """(live, config) from virsh's --persistent/--config/--live/--current (both False: current)."""
    _exclusive(current=current, live=live)
    _exclusive(current=current, config=config)
    if persistent:
        _exclusive(persistent=persistent, current=current)
        return dom.is_active(), True
    return live, config


def _device_command(name: str, verb: str, past: str) -> click.Command:
    @command(name, help=f"{verb.capitalize()} a device from an XML file.")
    @domain_argument
    @click.argument("file", metavar="FILE")
    @click.option("--persistent", is_flag=True, help="Make the change live and persistent.")
    @click.option("--config", is_flag=True, help="Affect the next boot.")
    @click.option("--live", is_flag=True, help="Affect the running domain.")
    @click.option("--current", is_flag=True, help="Affect the current domain.")
    @click.option("--force", is_flag=True, hidden=name != "update-device",
                  help="Force the device change (update-device).")
    def run(
        state: CliState,
        domain: str,
        file: str,
        persistent: bool,
        config: bool,
        live: bool,
        current: bool,
        force: bool,
    ) -> None:
        dom = state.domain(domain)
        xml = read_file(file, "device XML file")
        is_live, is_config = _scope(dom, persistent, config, live, current)
        with state.failing(f"Failed to {verb} device from {file}"):
            if name == "attach-device":
                dom.attach_device(xml, live=is_live, config=is_config)
            elif name == "detach-device":
                dom.detach_device(xml, live=is_live, config=is_config)
            else:
                dom.update_device(xml, live=is_live, config=is_config, force=force)
        state.info(f"Device {past} successfully")

    return run


cmd_attach_device = _device_command("attach-device", "attach", "attached")
cmd_detach_device = _device_command("detach-device", "detach", "detached")
cmd_update_device = _device_command("update-device", "update", "updated")


def _kib(text: str) -> int:
    try:
        size = parse_scaled(text, 1024)
    except ValueError as exc:
        raise CommandError(f"Invalid value of {text} for memory size: {exc}", status=2) from exc
    return -(-size // 1024)


def _memory_command(name: str, maximum: bool) -> click.Command:
    what = "maximum memory" if maximum else "current (balloon) memory"

    @command(name, help=f"Change a domain's {what} (SIZE in KiB unless a unit is given).")
    @domain_argument
    @click.argument("size", metavar="SIZE")
    @click.option("--config", is_flag=True, help="Affect the next boot.")
    @click.option("--live", is_flag=True, help="Affect the running domain.")
    @click.option("--current", is_flag=True, help="Affect the current domain.")
    def run(
        state: CliState, domain: str, size: str, config: bool, live: bool, current: bool
    ) -> None:
        kib = _kib(size)
        dom = state.domain(domain)
        is_live, is_config = _scope(dom, False, config, live, current)
        label = "MaxMemorySize" if maximum else "MemorySize"
        with state.failing(f"Unable to change {label}"):
            dom.set_memory(kib, live=is_live, config=is_config, maximum=maximum)

    return run


cmd_setmem = _memory_command("setmem", False)
cmd_setmaxmem = _memory_command("setmaxmem", True)


@command("setvcpus", help="Change the number of virtual CPUs.")
@domain_argument
@click.argument("count", type=int, metavar="COUNT")
@click.option("--maximum", is_flag=True, help="Set the maximum instead (with --config).")
@click.option("--config", is_flag=True, help="Affect the next boot.")
@click.option("--live", is_flag=True, help="Affect the running domain.")
@click.option("--current", is_flag=True, help="Affect the current domain.")
@click.option("--guest", is_flag=True, help="Change the count inside the guest (agent).")
@click.option("--hotpluggable", is_flag=True, help="Make added vcpus hot-unpluggable.")
def cmd_setvcpus(
    state: CliState,
    domain: str,
    count: int,
    maximum: bool,
    config: bool,
    live: bool,
    current: bool,
    guest: bool,
    hotpluggable: bool,
) -> None:
    if guest:
        raise _unsupported("guest")
    if hotpluggable:
        raise _unsupported("hotpluggable")
    dom = state.domain(domain)
    is_live, is_config = _scope(dom, False, config, live, current)
    with state.failing(f"Unable to change the vcpu count of domain '{dom.name}'"):
        dom.set_vcpus(count, live=is_live, config=is_config, maximum=maximum)


@command("vcpucount", help="Print a domain's vcpu counts.")
@domain_argument
@click.option("--maximum", is_flag=True, help="The maximum count.")
@click.option("--active", is_flag=True, help="The current count.")
@click.option("--live", is_flag=True, help="Of the running domain.")
@click.option("--config", is_flag=True, help="Of the next boot.")
@click.option("--current", is_flag=True, help="Of the current domain.")
@click.option("--guest", is_flag=True, help="As the guest sees it (agent).")
@json_option
def cmd_vcpucount(
    state: CliState,
    domain: str,
    maximum: bool,
    active: bool,
    live: bool,
    config: bool,
    current: bool,
    guest: bool,
    as_json: bool,
) -> None:
    from virtkit import VirtError

    if guest:
        raise _unsupported("guest")
    _exclusive(maximum=maximum, active=active)
    _exclusive(live=live, config=config, current=current)
    dom = state.domain(domain)
    context = f"Failed to get the vcpu count of domain '{dom.name}'"
    if maximum or active or live or config or current:
        with state.failing(context):
            n = dom.vcpus_count(live=live, config=config, maximum=maximum)
        if as_json:
            state.json({"count": n})
        else:
            state.out(f"{n}\n")
        return
    rows: list[tuple[str, str, int]] = []
    first_error: VirtError | None = None
    is_active = dom.is_active()
    for which in ("maximum", "current"):
        for where in ("config", "live"):
            if where == "live" and not is_active:
                continue
            try:
                rows.append((which, where, dom.vcpus_count(
                    live=where == "live", config=where == "config", maximum=which == "maximum"
                )))
            except VirtError as exc:
                first_error = first_error or exc
    if not rows and first_error is not None:
        raise CommandError(context, first_error.message)
    if as_json:
        state.json({f"{which}_{where}": n for which, where, n in rows})
        return
    state.out("".join(f"{which:<12} {where:<12} {n:3d}\n" for which, where, n in rows))


# -- guest data and jobs ------------------------------------------------------------------------


@command("domifaddr", help="Print a running domain's interface addresses.")
@domain_argument
@click.option("--interface", metavar="NAME", help="Only this interface.")
@click.option("--full", is_flag=True, help="Repeat the name and MAC on every address.")
@click.option("--source", type=click.Choice(["lease", "agent", "arp"]), default="lease",
              show_default=True, help="Where the addresses come from.")
@json_option
def cmd_domifaddr(
    state: CliState, domain: str, interface: str | None, full: bool, source: str, as_json: bool
) -> None:
    dom = state.domain(domain)
    with state.failing(f"Failed to query for interfaces addresses of domain '{dom.name}'"):
        ifaces = dom.interface_addresses(source)
    ifaces = [i for i in ifaces if interface is None or i.name == interface]
    if as_json:
        state.json([{"name": i.name, "hwaddr": i.hwaddr, "addrs": i.addrs} for i in ifaces])
        return
    lines = [f" {'Name':<10} {'MAC address':<20} {'Protocol':<8}     Address\n", "-" * 79 + "\n"]
    for iface in ifaces:
        shown = False
        for addr in iface.addrs or [{}]:
            kind = addr.get("type")
            proto = {0: "ipv4", 1: "ipv6"}.get(kind, str(kind)) if isinstance(kind, int) else (
                str(kind) if kind is not None else "N/A")
            ip = f"{addr['addr']}/{addr.get('prefix', '')}" if "addr" in addr else "N/A"
            name, mac = (iface.name, iface.hwaddr) if full or not shown else ("-", "-")
            lines.append(f" {name:<10} {mac:<17}    {proto:<12} {ip}\n")
            shown = True
    state.out("".join(lines))


JOB_TYPES = ("None", "Bounded", "Unbounded", "Completed", "Failed", "Cancelled")


def _bytes(n: int) -> str:
    value, unit = float(n), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{value:.3f} {unit}"


@command("domjobinfo", help="Print a domain's current (or last) job.")
@domain_argument
@json_option
def cmd_domjobinfo(state: CliState, domain: str, as_json: bool) -> None:
    dom = state.domain(domain)
    with state.failing(f"Failed to get job information of domain '{dom.name}'"):
        job = dom.job_info()
    kind = JOB_TYPES[job.type] if 0 <= job.type < len(JOB_TYPES) else "Unknown"
    if as_json:
        state.json({
            "type": kind.lower(), "operation": job.operation,
            "time_elapsed_ms": job.time_elapsed_ms, "data_total": job.data_total,
            "data_processed": job.data_processed, "data_remaining": job.data_remaining,
        })
        return
    pairs = [("Job type:", kind)]
    if job.type != 0:
        pairs += [
            ("Operation:", job.operation or "Unknown"),
            ("Time elapsed:", f"{job.time_elapsed_ms} ms"),
            ("Data processed:", _bytes(job.data_processed)),
            ("Data remaining:", _bytes(job.data_remaining)),
            ("Data total:", _bytes(job.data_total)),
        ]
    state.out(fields(pairs, width=17))


@command("domjobabort", help="Abort a domain's current job.")
@domain_argument
@click.option("--postcopy", is_flag=True, help="Interrupt a post-copy migration.")
def cmd_domjobabort(state: CliState, domain: str, postcopy: bool) -> None:
    dom = state.domain(domain)
    with state.failing(f"Failed to abort the job of domain '{dom.name}'"):
        dom.abort_job(postcopy=postcopy)
