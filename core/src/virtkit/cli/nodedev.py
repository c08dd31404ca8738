"""Host device commands (virsh's nodedev-*)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from virtkit.cli._base import command, json_option, read_file
from virtkit.cli.event import watch
from virtkit.cli.fmt import fields, yes_no
from virtkit.cli.state import CliState, CommandError

if TYPE_CHECKING:
    from virtkit.api.nodedev import NodeDevice
    from virtkit.sdk.records import Event, NodeDeviceSummary

LIFECYCLE = ("Created", "Deleted", "Defined", "Undefined")
EVENTS = {"lifecycle": "nodedev-lifecycle", "update": "nodedev-update"}


def _device(state: CliState, name: str, wwn: bool = False) -> NodeDevice:
    """The device named ``name``; with ``wwn``, ``WWNN,WWPN`` names a SCSI host by its
    Fibre Channel names, as virsh's commands taking "device name or wwn pair" do."""
    if wwn and "," in name:
        pair = name.split(",")
        if len(pair) != 2:
            raise CommandError(f"Malformed device value '{name}'")
        for wwn_text in pair:
            digits = wwn_text.lower().removeprefix("0x")
            if len(digits) != 16 or any(c not in "0123456789abcdef" for c in digits):
                raise CommandError(f"internal error: Malformed wwn: {wwn_text}")
        with state.failing(f"Could not find matching device '{name}'"):
            return state.conn.node_device_lookup_scsi_host_by_wwn(pair[0], pair[1])
    with state.failing(f"Could not find matching device '{name}'"):
        return state.conn.node_device_lookup_by_name(name)


def tree_lines(summaries: list[NodeDeviceSummary]) -> list[str]:
    """virsh's ``nodedev-list --tree`` drawing: each device under its parent."""
    names = {s.ref.name for s in summaries}
    children: dict[str, list[str]] = {}
    roots: list[str] = []
    for s in summaries:
        if s.parent and s.parent in names:
            children.setdefault(s.parent, []).append(s.ref.name)
        else:
            roots.append(s.ref.name)
    lines: list[str] = []

    def draw(name: str, depth: int, indent: str, last: bool) -> None:
        lines.append(f"{indent}+- {name}" if depth else f"{indent}{name}")
        if depth:
            indent += ("  " if last else "| ")
        kids = children.get(name, [])
        if kids:
            lines.append(f"{indent}  |")
        for i, kid in enumerate(kids):
            draw(kid, depth + 1, indent + "  ", i == len(kids) - 1)
        if not kids and last:
            lines.append(indent.rstrip())

    for root in roots:
        draw(root, 0, "", False)
    return lines


@command("nodedev-list", help="List host devices (active ones unless --all or --inactive).")
@click.option("--cap", "cap", metavar="CAPS",
              help="Only devices with one of these capability types (comma-separated).")
@click.option("--tree", is_flag=True, help="Draw the devices as a tree under their parents.")
@click.option("--inactive", is_flag=True, help="List inactive (defined) devices only.")
@click.option("--all", "all_", is_flag=True, help="List active and inactive devices.")
@json_option
def cmd_nodedev_list(state: CliState, cap: str | None, tree: bool, inactive: bool, all_: bool,
                     as_json: bool) -> None:
    caps = [c.strip() for c in cap.split(",") if c.strip()] if cap else []
    if tree and caps:
        raise CommandError("Options --tree and --cap are incompatible", status=2)
    with state.failing("Failed to list node devices"):
        found = state.conn.list_all_device_summaries(caps)
    if not all_:
        found = [s for s in found if s.active != inactive]
    if as_json:
        state.json([{"name": s.ref.name, "parent": s.parent or None, "caps": s.caps,
                     "active": s.active, "persistent": s.persistent, "autostart": s.autostart,
                     "driver": s.driver or None}
                    for s in found])
        return
    lines = tree_lines(found) if tree else [s.ref.name for s in found]
    state.out("".join(line + "\n" for line in lines))


@command("nodedev-dumpxml", help="Print a host device's XML.")
@click.argument("device", metavar="DEVICE")
def cmd_nodedev_dumpxml(state: CliState, device: str) -> None:
    dev = _device(state, device, wwn=True)
    with state.failing(f"Failed to get XML of node device {dev.name}"):
        xml = dev.xml_desc()
    state.out(xml if xml.endswith("\n") else xml + "\n")


@command("nodedev-info", help="Print a host device's basic information.")
@click.argument("device", metavar="DEVICE")
@json_option
def cmd_nodedev_info(state: CliState, device: str, as_json: bool) -> None:
    dev = _device(state, device, wwn=True)
    with state.failing(f"Failed to get information of node device '{dev.name}'"):
        s = dev.summary()
    if as_json:
        state.json({"name": dev.name, "parent": s.parent or None, "active": s.active,
                    "persistent": s.persistent, "autostart": s.autostart})
        return
    state.out(fields([("Name:", dev.name), ("Parent:", s.parent), ("Active:", yes_no(s.active)),
                      ("Persistent:", yes_no(s.persistent)),
                      ("Autostart:", yes_no(s.autostart))]))


@command("nodedev-autostart", help="Mark a defined device to start at boot (or, --disable, not).")
@click.argument("device", metavar="DEVICE")
@click.option("--disable", is_flag=True, help="Stop starting the device at boot.")
def cmd_nodedev_autostart(state: CliState, device: str, disable: bool) -> None:
    dev = _device(state, device, wwn=True)
    verb = "unmark" if disable else "mark"
    with state.failing(f"failed to {verb} device {dev.name} as autostarted"):
        dev.set_autostart(not disable)
    state.info(f"Device {dev.name} {verb}ed as autostarted")


@command("nodedev-create", help="Create a device (an mdev or an NPIV vHBA) from an XML file.")
@click.argument("file", metavar="FILE")
def cmd_nodedev_create(state: CliState, file: str) -> None:
    xml = read_file(file)
    with state.failing(f"Failed to create node device from {file}"):
        dev = state.conn.node_device_create_xml(xml)
    state.info(f"Node device {dev.name} created from {file}")


@command("nodedev-define", help="Define (but don't start) an mdev from an XML file.")
@click.argument("file", metavar="FILE")
def cmd_nodedev_define(state: CliState, file: str) -> None:
    xml = read_file(file)
    with state.failing(f"Failed to define node device from '{file}'"):
        dev = state.conn.node_device_define_xml(xml)
    state.info(f"Node device '{dev.name}' defined from '{file}'")


@command("nodedev-start", help="Start a defined, inactive device.")
@click.argument("device", metavar="DEVICE")
def cmd_nodedev_start(state: CliState, device: str) -> None:
    dev = _device(state, device, wwn=True)
    with state.failing(f"Failed to start device {dev.name}"):
        dev.create()
    state.info(f"Device {dev.name} started")


@command("nodedev-undefine", help="Undefine an inactive (or keep an active one until destroyed).")
@click.argument("device", metavar="DEVICE")
def cmd_nodedev_undefine(state: CliState, device: str) -> None:
    dev = _device(state, device, wwn=True)
    with state.failing(f"Failed to undefine node device '{dev.name}'"):
        dev.undefine()
    state.info(f"Undefined node device '{dev.name}'")


@command("nodedev-destroy", help="Remove a created device (an mdev or a vHBA) from the host.")
@click.argument("device", metavar="DEVICE")
def cmd_nodedev_destroy(state: CliState, device: str) -> None:
    dev = _device(state, device, wwn=True)
    with state.failing(f"Failed to destroy node device '{dev.name}'"):
        dev.destroy()
    state.info(f"Destroyed node device '{dev.name}'")


@command("nodedev-detach", help="Detach a PCI device from its host driver for passthrough.")
@click.argument("device", metavar="DEVICE")
@click.option("--driver", "driver", metavar="NAME", help="The stub driver: vfio or xen.")
def cmd_nodedev_detach(state: CliState, device: str, driver: str | None) -> None:
    dev = _device(state, device)
    with state.failing(f"Failed to detach device {dev.name}"):
        dev.detach_flags(driver)
    state.info(f"Device {dev.name} detached")


@command("nodedev-reattach", help="Give a detached PCI device back to its host driver.")
@click.argument("device", metavar="DEVICE")
def cmd_nodedev_reattach(state: CliState, device: str) -> None:
    dev = _device(state, device)
    with state.failing(f"Failed to re-attach device {dev.name}"):
        dev.re_attach()
    state.info(f"Device {dev.name} re-attached")


@command("nodedev-reset", help="Reset a detached PCI device.")
@click.argument("device", metavar="DEVICE")
def cmd_nodedev_reset(state: CliState, device: str) -> None:
    dev = _device(state, device)
    with state.failing(f"Failed to reset device {dev.name}"):
        dev.reset()
    state.info(f"Device {dev.name} reset")


def format_event(event: Event, timestamp: bool = False) -> str:
    """One node-device event as virsh's ``nodedev-event`` prints it."""
    name = getattr(event.obj, "name", "?")
    if event.kind == "nodedev-lifecycle":
        what = LIFECYCLE[event.event] if 0 <= event.event < len(LIFECYCLE) else "Unknown"
        text = f"event 'lifecycle' for node device {name}: {what}"
    else:
        text = f"event 'update' for node device {name}"
    if timestamp:
        text = time.strftime("%Y-%m-%d %H:%M:%S.000%z: ", time.localtime()) + text
    return text + "\n"


@command("nodedev-event", help="Wait for node device events and print them.")
@click.option("--device", "device", metavar="DEVICE", help="Only events of this device.")
@click.option("--event", "event", metavar="NAME", help="Which event: lifecycle or update.")
@click.option("--all", "all_events", is_flag=True, help="Every event type.")
@click.option("--loop", is_flag=True, help="Keep waiting instead of stopping after one event.")
@click.option("--timeout", type=click.IntRange(min=1), metavar="SECONDS",
              help="Stop after this many seconds.")
@click.option("--list", "list_only", is_flag=True, help="List the event types.")
@click.option("--timestamp", is_flag=True, help="Prefix each event with the time.")
def cmd_nodedev_event(state: CliState, device: str | None, event: str | None,
                      all_events: bool, loop: bool, timeout: int | None, list_only: bool,
                      timestamp: bool) -> None:
    if list_only:
        state.out("".join(name + "\n" for name in EVENTS))
        return
    if event is None and not all_events:
        raise CommandError("one of --list, --all, or --event is required", status=2)
    if event is not None and event not in EVENTS:
        raise CommandError(f"unknown event type '{event}' (virtkit knows: "
                           f"{', '.join(EVENTS)})", status=2)
    kinds = list(EVENTS.values()) if all_events or event is None else [EVENTS[event]]
    target = _device(state, device) if device is not None else None
    watch(state, kinds, target, format_event, loop, timeout, timestamp)
