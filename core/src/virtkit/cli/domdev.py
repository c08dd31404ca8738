"""Domain devices, statistics, console and migration: domblklist, domiflist, domstats,
attach-disk, attach-interface, detach-disk, detach-interface, console, migrate."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, Any

import click

from virtkit.cli._base import command, domain_argument, json_option, read_file
from virtkit.cli.domain import _domain_xml, _exclusive, _scope
from virtkit.cli.fmt import table
from virtkit.cli.state import CliState, CommandError

if TYPE_CHECKING:
    from virtkit.api.domain import Domain


def _attr(value: str) -> str:
    from xml.sax.saxutils import escape

    return escape(value, {"'": "&apos;", '"': "&quot;"})


def _disk_source(disk: Any) -> str | None:
    source = disk.find("source")
    if source is None:
        return None
    if source.get("pool") and source.get("volume"):
        return f"{source.get('pool')}/{source.get('volume')}"
    for name in ("file", "dev", "dir", "name", "volume"):
        value = source.get(name)
        if value:
            return str(value)
    return None


def _iface_source(iface: Any) -> str | None:
    source = iface.find("source")
    if source is None:
        return None
    for name in ("bridge", "dev", "network", "name", "path"):
        value = source.get(name)
        if value:
            return str(value)
    return None


def _devices(dom: Domain, kind: str, inactive: bool = False) -> list[Any]:
    root = _domain_xml(dom, inactive=inactive)
    devices = root.find("devices")
    return [] if devices is None else list(devices.findall(kind))


# -- listings -----------------------------------------------------------------------------------


@command("domblklist", help="List a domain's block devices (disks).")
@domain_argument
@click.option("--inactive", is_flag=True, help="From the definition used at next boot.")
@click.option("--details", is_flag=True, help="Also the disk type and device.")
@json_option
def cmd_domblklist(
    state: CliState, domain: str, inactive: bool, details: bool, as_json: bool
) -> None:
    dom = state.domain(domain)
    with state.failing(f"Failed to get the disks of domain '{dom.name}'"):
        disks = _devices(dom, "disk", inactive)
    rows = []
    for disk in disks:
        target = disk.find("target")
        dev = target.get("dev") if target is not None else None
        rows.append((disk.get("type") or "-", disk.get("device") or "disk", dev or "-",
                     _disk_source(disk)))
    if as_json:
        state.json([{"type": t, "device": d, "target": g, "source": s} for t, d, g, s in rows])
        return
    header = (["Type", "Device"] if details else []) + ["Target", "Source"]
    cells = [([t, d] if details else []) + [g, s or "-"] for t, d, g, s in rows]
    state.out(table(header, cells, show_header=not state.quiet))


@command("domiflist", help="List a domain's network interfaces.")
@domain_argument
@click.option("--inactive", is_flag=True, help="From the definition used at next boot.")
@json_option
def cmd_domiflist(state: CliState, domain: str, inactive: bool, as_json: bool) -> None:
    dom = state.domain(domain)
    with state.failing(f"Failed to get the interfaces of domain '{dom.name}'"):
        ifaces = _devices(dom, "interface", inactive)
    rows = []
    for iface in ifaces:
        target, model, mac = iface.find("target"), iface.find("model"), iface.find("mac")
        rows.append((
            (target.get("dev") if target is not None else None) or None,
            iface.get("type") or None,
            _iface_source(iface),
            (model.get("type") if model is not None else None) or None,
            (mac.get("address") if mac is not None else None) or None,
        ))
    if as_json:
        state.json([{"interface": i, "type": t, "source": s, "model": m, "mac": a}
                    for i, t, s, m, a in rows])
        return
    cells = [[c or "-" for c in row] for row in rows]
    state.out(table(["Interface", "Type", "Source", "Model", "MAC"], cells,
                    show_header=not state.quiet))


# -- domstats -----------------------------------------------------------------------------------

_NET_KEYS = (("rx_bytes", "rx.bytes"), ("rx_packets", "rx.pkts"), ("rx_errs", "rx.errs"),
             ("rx_drop", "rx.drop"), ("tx_bytes", "tx.bytes"), ("tx_packets", "tx.pkts"),
             ("tx_errs", "tx.errs"), ("tx_drop", "tx.drop"))
_BLOCK_KEYS = (("rd_req", "rd.reqs"), ("rd_bytes", "rd.bytes"), ("wr_req", "wr.reqs"),
               ("wr_bytes", "wr.bytes"))
_GROUPS = ("state", "cpu_total", "balloon", "vcpu", "interface", "block", "perf", "iothread",
           "dirtyrate")


@command("domstats", help="Print domain statistics as virsh's key=value lines.")
@click.argument("domains", nargs=-1, metavar="[DOMAIN]...")
@click.option("--state", "state_", is_flag=True, help="Domain state.")
@click.option("--cpu-total", is_flag=True, help="Total CPU time.")
@click.option("--balloon", is_flag=True, help="Balloon (memory) statistics.")
@click.option("--vcpu", is_flag=True, help="Virtual CPU counts.")
@click.option("--interface", is_flag=True, help="Network interface statistics.")
@click.option("--block", is_flag=True, help="Block device statistics.")
@click.option("--perf", is_flag=True, help="Perf event counters.")
@click.option("--iothread", is_flag=True, help="IOThread polling parameters.")
@click.option("--dirtyrate", is_flag=True, help="The last memory dirty rate calculation.")
@click.option("--list-active", is_flag=True, help="Only active domains.")
@click.option("--list-inactive", is_flag=True, help="Only inactive domains.")
@click.option("--list-persistent", is_flag=True, help="Only persistent domains.")
@click.option("--list-transient", is_flag=True, help="Only transient domains.")
@click.option("--list-running", is_flag=True, help="Only running domains.")
@click.option("--list-paused", is_flag=True, help="Only paused domains.")
@click.option("--list-shutoff", is_flag=True, help="Only shut off domains.")
@click.option("--list-other", is_flag=True, help="Only domains in other states.")
@json_option
def cmd_domstats(state: CliState, domains: tuple[str, ...], as_json: bool,
                 **opt: bool) -> None:
    opt["state"] = opt.pop("state_")
    groups = [g for g in _GROUPS if opt[g]] or list(_GROUPS)
    filters = [k for k in opt if k.startswith("list_") and opt[k]]
    if domains and filters:
        raise CommandError("filtering options are not supported with a domain list",
                           status=2)
    if domains:
        doms = [state.domain(d) for d in domains]
    else:
        with state.failing("Failed to list domains"):
            summaries = state.conn.list_domain_summaries()
        picked = sorted(
            (s for s in summaries if _stats_listed(s.state, s.persistent, opt)),
            key=lambda s: (s.state not in (1, 2, 3), s.ref.id if s.ref.id > 0 else 0,
                           s.ref.name),
        )
        doms = [state.conn.lookup_by_uuid(s.ref.uuid) for s in picked]
    records = []
    if state.conn.implements("domain_get_stats"):  # the driver's own statistics
        wanted = [g.replace("_", "-") for g in groups]
        with state.failing("Failed to get domain statistics"):
            records = [(d.name, s) for d, s in state.conn.domain_list_get_stats(doms, wanted)]
    for dom in doms if not records else ():
        with state.failing(f"Failed to get the statistics of domain '{dom.name}'"):
            records.append((dom.name, _stats(dom, groups)))
    if as_json:
        state.json([{"name": name, "stats": stats} for name, stats in records])
        return
    state.out("".join(
        f"Domain: '{name}'\n" + "".join(f"  {k}={v}\n" for k, v in stats.items()) + "\n"
        for name, stats in records
    ))


def _stats_listed(st: int, persistent: bool, opt: dict[str, bool]) -> bool:
    active = st in (1, 2, 3, 4, 7)
    if (opt["list_active"] or opt["list_inactive"]) and not (
            (opt["list_active"] and active) or (opt["list_inactive"] and not active)):
        return False
    if (opt["list_persistent"] or opt["list_transient"]) and not (
            (opt["list_persistent"] and persistent) or (opt["list_transient"] and not persistent)):
        return False
    wanted = [opt["list_running"], opt["list_paused"], opt["list_shutoff"], opt["list_other"]]
    return not any(wanted) or wanted[{1: 0, 3: 1, 5: 2}.get(st, 3)]


def _stats(dom: Domain, groups: list[str]) -> dict[str, int | str]:
    """The stats groups virtkit's API can fill, in virsh's field names and order."""
    from virtkit import VirtError

    out: dict[str, int | str] = {}
    info = dom.info()
    active = dom.is_active()

    def soft(call: Any, *args: Any) -> Any:
        try:
            return call(*args)
        except VirtError:
            return None

    if "state" in groups:
        st, reason = dom.state()
        out["state.state"], out["state.reason"] = st, reason
    if "cpu_total" in groups and active:
        out["cpu.time"] = info.cpu_time
    if "balloon" in groups:
        out["balloon.current"], out["balloon.maximum"] = info.memory, info.max_mem
        mem = soft(dom.memory_stats) if active else None
        for key, value in (mem or {}).items():
            if key != "actual":
                out[f"balloon.{key}"] = value
    if "vcpu" in groups:
        current = soft(dom.vcpus_count, active, not active, False)
        maximum = soft(dom.vcpus_count, active, not active, True)
        if current is not None:
            out["vcpu.current"] = current
        if maximum is not None:
            out["vcpu.maximum"] = maximum
    if "interface" in groups:
        ifaces = _devices(dom, "interface")
        out["net.count"] = len(ifaces)
        names = {a.hwaddr: a.name for a in (soft(dom.interface_addresses) or [])} if active \
            else {}
        for i, iface in enumerate(ifaces):
            target, mac_el = iface.find("target"), iface.find("mac")
            mac = mac_el.get("address") if mac_el is not None else None
            name = (target.get("dev") if target is not None else None) or names.get(mac) or mac
            out[f"net.{i}.name"] = name or "-"
            numbers = soft(dom.interface_stats, name or mac) if active and (name or mac) \
                else None
            for key, field in _NET_KEYS:
                if numbers and key in numbers:
                    out[f"net.{i}.{field}"] = numbers[key]
    if "block" in groups:
        disks = _devices(dom, "disk")
        out["block.count"] = len(disks)
        for i, disk in enumerate(disks):
            target = disk.find("target")
            dev = target.get("dev") if target is not None else None
            out[f"block.{i}.name"] = dev or "-"
            source = _disk_source(disk)
            if source:
                out[f"block.{i}.path"] = source
            numbers = soft(dom.block_stats, dev) if active and dev else None
            for key, field in _BLOCK_KEYS:
                if numbers and key in numbers:
                    out[f"block.{i}.{field}"] = numbers[key]
    return out


# -- attach and detach --------------------------------------------------------------------------


def _scope_options(fn: Any) -> Any:
    for flag, text in reversed((
        ("--persistent", "Make the change live and persistent."),
        ("--config", "Affect the next boot."),
        ("--live", "Affect the running domain."),
        ("--current", "Affect the current domain."),
        ("--print-xml", "Print the device XML instead of changing the domain."),
    )):
        fn = click.option(flag, is_flag=True, help=text)(fn)
    return fn


@command("attach-disk", help="Attach a disk (SOURCE file or device as TARGET, e.g. vdb).")
@domain_argument
@click.argument("source", metavar="SOURCE")
@click.argument("target", metavar="TARGET")
@click.option("--targetbus", metavar="BUS", help="Target bus (virtio, sata, scsi, ...).")
@click.option("--driver", metavar="NAME", help="Driver name (qemu, ...).")
@click.option("--subdriver", metavar="FORMAT", help="Driver type, the format (raw, qcow2).")
@click.option("--cache", metavar="MODE", help="Cache mode.")
@click.option("--type", "device", metavar="DEVICE", help="disk, cdrom, floppy or lun.")
@click.option("--mode", metavar="MODE", help="readonly or shareable.")
@click.option("--sourcetype", metavar="TYPE", help="file or block (default: from SOURCE).")
@click.option("--serial", metavar="SERIAL", help="Disk serial number.")
@_scope_options
def cmd_attach_disk(
    state: CliState,
    domain: str,
    source: str,
    target: str,
    targetbus: str | None,
    driver: str | None,
    subdriver: str | None,
    cache: str | None,
    device: str | None,
    mode: str | None,
    sourcetype: str | None,
    serial: str | None,
    persistent: bool,
    config: bool,
    live: bool,
    current: bool,
    print_xml: bool,
) -> None:
    if mode not in (None, "readonly", "shareable"):
        raise CommandError(f"No support for {mode} in command 'attach-disk'")
    if sourcetype is None:
        try:
            sourcetype = "block" if stat.S_ISBLK(os.stat(source).st_mode) else "file"
        except OSError:
            sourcetype = "file"
    if sourcetype not in ("file", "block"):
        raise CommandError(f"Unknown source type: '{sourcetype}'", status=2)
    head = f"<disk type='{_attr(sourcetype)}'"
    if device:
        head += f" device='{_attr(device)}'"
    lines = [head + ">"]
    if driver or subdriver or cache:
        attrs = "".join(f" {k}='{_attr(v)}'" for k, v in
                        (("name", driver), ("type", subdriver), ("cache", cache)) if v)
        lines.append(f"  <driver{attrs}/>")
    lines.append(f"  <source {'dev' if sourcetype == 'block' else 'file'}='{_attr(source)}'/>")
    bus = f" bus='{_attr(targetbus)}'" if targetbus else ""
    lines.append(f"  <target dev='{_attr(target)}'{bus}/>")
    if mode:
        lines.append(f"  <{mode}/>")
    if serial:
        lines.append(f"  <serial>{_attr(serial)}</serial>")
    lines.append("</disk>")
    _attach(state, domain, lines, print_xml, (persistent, config, live, current), "Disk")


@command("attach-interface", help="Attach a network interface of TYPE to SOURCE.")
@domain_argument
@click.argument("kind", metavar="TYPE")
@click.argument("source", metavar="SOURCE")
@click.option("--target", metavar="DEV", help="Target device name on the host.")
@click.option("--mac", metavar="MAC", help="MAC address.")
@click.option("--model", metavar="MODEL", help="Model (virtio, e1000, ...).")
@_scope_options
def cmd_attach_interface(
    state: CliState,
    domain: str,
    kind: str,
    source: str,
    target: str | None,
    mac: str | None,
    model: str | None,
    persistent: bool,
    config: bool,
    live: bool,
    current: bool,
    print_xml: bool,
) -> None:
    attribute = {"network": "network", "bridge": "bridge", "direct": "dev"}.get(kind)
    if attribute is None:
        raise CommandError(f"No support for {kind} in command 'attach-interface'")
    lines = [f"<interface type='{kind}'>", f"  <source {attribute}='{_attr(source)}'/>"]
    if target:
        lines.append(f"  <target dev='{_attr(target)}'/>")
    if mac:
        lines.append(f"  <mac address='{_attr(mac)}'/>")
    if model:
        lines.append(f"  <model type='{_attr(model)}'/>")
    lines.append("</interface>")
    _attach(state, domain, lines, print_xml, (persistent, config, live, current), "Interface")


def _attach(
    state: CliState, domain: str, lines: list[str], print_xml: bool,
    scope: tuple[bool, bool, bool, bool], what: str,
) -> None:
    """Print the device document (--print-xml), or attach it with virsh's scope flags."""
    xml = "\n".join(lines) + "\n"
    if print_xml:
        state.out(xml)
        return
    dom = state.domain(domain)
    is_live, is_config = _scope(dom, *scope)
    with state.failing(f"Failed to attach {what.lower()}"):
        dom.attach_device(xml, live=is_live, config=is_config)
    state.info(f"{what} attached successfully")


def _element_xml(el: Any) -> str:
    from lxml import etree

    text: str = etree.tostring(el, encoding="unicode", with_tail=False)
    return text + "\n"


@command("detach-disk", help="Detach a disk (by its target or source).")
@domain_argument
@click.argument("target", metavar="TARGET")
@_scope_options
def cmd_detach_disk(state: CliState, domain: str, target: str, persistent: bool, config: bool,
                    live: bool, current: bool, print_xml: bool) -> None:
    dom = state.domain(domain)
    is_live, is_config = _scope(dom, persistent, config, live, current)
    with state.failing(f"Failed to get the disks of domain '{dom.name}'"):
        disks = _devices(dom, "disk", inactive=is_config and not is_live)
    for disk in disks:
        tgt = disk.find("target")
        if (tgt is not None and tgt.get("dev") == target) or _disk_source(disk) == target:
            break
    else:
        raise CommandError(f"No disk found whose source path or target is {target}")
    xml = _element_xml(disk)
    if print_xml:
        state.out(xml)
        return
    with state.failing("Failed to detach disk"):
        dom.detach_device(xml, live=is_live, config=is_config)
    state.info("Disk detached successfully")


@command("detach-interface", help="Detach a network interface (of TYPE, by --mac).")
@domain_argument
@click.argument("kind", metavar="TYPE")
@click.option("--mac", metavar="MAC", help="MAC address of the interface.")
@_scope_options
def cmd_detach_interface(state: CliState, domain: str, kind: str, mac: str | None,
                         persistent: bool, config: bool, live: bool, current: bool,
                         print_xml: bool) -> None:
    dom = state.domain(domain)
    is_live, is_config = _scope(dom, persistent, config, live, current)
    with state.failing(f"Failed to get the interfaces of domain '{dom.name}'"):
        ifaces = _devices(dom, "interface", inactive=is_config and not is_live)
    found = []
    for iface in ifaces:
        if iface.get("type") != kind:
            continue
        mac_el = iface.find("mac")
        address = (mac_el.get("address") or "") if mac_el is not None else ""
        if mac is None or address.lower() == mac.lower():
            found.append(iface)
    if not found:
        if mac is not None:
            raise CommandError(f"No interface with MAC address {mac} was found")
        raise CommandError(f"No interface found whose type is {kind}")
    if len(found) > 1:
        raise CommandError(f"Domain has {len(found)} interfaces. Please specify which one to "
                           f"detach using --mac")
    xml = _element_xml(found[0])
    if print_xml:
        state.out(xml)
        return
    with state.failing("Failed to detach interface"):
        dom.detach_device(xml, live=is_live, config=is_config)
    state.info("Interface detached successfully")


# -- console and migration ----------------------------------------------------------------------


@command("console", help="Connect to a domain's console (Ctrl-] leaves).")
@domain_argument
@click.option("--devname", metavar="NAME", help="Character device name (e.g. serial0).")
@click.option("--force", is_flag=True, help="Take the console from another session.")
@click.option("--safe", is_flag=True, help="Only connect if safe console handling is "
                                            "supported.")
def cmd_console(state: CliState, domain: str, devname: str | None, force: bool,
                safe: bool) -> None:
    from virtkit.cli.console import run_console

    run_console(state, state.domain(domain), devname, force)


@command("migrate", help="Migrate a domain to another host (DESTURI).")
@click.option("--live", is_flag=True, help="Live migration.")
@click.option("--offline", is_flag=True, help="Migrate the definition only.")
@click.option("--persistent", is_flag=True, help="Persist the domain on the destination.")
@click.option("--undefinesource", is_flag=True, help="Undefine the domain on the source.")
@click.option("--dname", metavar="NAME", help="Rename the domain on the destination.")
@click.option("--xml", "xml_file", metavar="FILE", help="Use this XML on the destination.")
@click.option("--verbose", is_flag=True, help="Show progress.")
@domain_argument
@click.argument("desturi", metavar="DESTURI")
def cmd_migrate(
    state: CliState,
    live: bool,
    offline: bool,
    persistent: bool,
    undefinesource: bool,
    dname: str | None,
    xml_file: str | None,
    verbose: bool,
    domain: str,
    desturi: str,
) -> None:
    from virtkit.cli.progress import run_job

    _exclusive(live=live, offline=offline)
    xml = read_file(xml_file, "XML file") if xml_file else None
    dom = state.domain(domain)
    dest = state._open(desturi, False)
    try:
        with state.api():
            run_job(state, "Migration", lambda: _migrate(dom, dest, live, offline, persistent,
                                                         undefinesource, dname, xml),
                    dom, verbose)
    finally:
        dest.close()


def _migrate(dom: Domain, dest: Any, live: bool, offline: bool, persistent: bool,
             undefinesource: bool, dname: str | None, xml: str | None) -> None:
    dom.migrate(dest, live=live, offline=offline, persistent=persistent,
                undefine_source=undefinesource, dname=dname, xml=xml)
