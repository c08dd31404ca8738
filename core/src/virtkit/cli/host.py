"""Connection and host commands: uri, hostname, version, nodeinfo, capabilities,
domcapabilities, freecell, connect."""

from __future__ import annotations

import click

from virtkit.cli._base import command, json_option
from virtkit.cli.fmt import fields, version_text
from virtkit.cli.state import CliState, CommandError


@command("uri", help="Print the hypervisor's canonical URI.")
def cmd_uri(state: CliState) -> None:
    state.out(state.conn.uri + "\n")


@command("hostname", help="Print the hypervisor's hostname.")
def cmd_hostname(state: CliState) -> None:
    with state.failing("failed to get hostname"):
        state.out(state.conn.get_hostname() + "\n")


@command("version", help="Print the library and hypervisor versions.")
@click.option("--daemon", is_flag=True, help="Also the daemon's version (remote connections).")
@json_option
def cmd_version(state: CliState, daemon: bool, as_json: bool) -> None:
    conn = state.conn
    lib = conn.get_lib_version()
    kind = conn.get_type().upper()
    with state.failing("failed to get the hypervisor version"):
        hv = conn.get_version()
    if as_json:
        state.json({"library": version_text(lib), "api": kind, "hypervisor": version_text(hv)})
        return
    state.out(
        f"Compiled against library: virtkit {version_text(lib)}\n"
        f"Using library: virtkit {version_text(lib)}\n"
        f"Using API: {kind} {version_text(lib)}\n"
        f"Running hypervisor: {kind} {version_text(hv)}\n"
    )
    if daemon:
        state.out(f"Running against daemon: {version_text(lib)}\n")


@command("nodeinfo", help="Print the host's processors and memory.")
@json_option
def cmd_nodeinfo(state: CliState, as_json: bool) -> None:
    with state.failing("failed to get node information"):
        info = state.conn.node_info()
    if as_json:
        state.json({
            "model": info.model, "cpus": info.cpus, "mhz": info.mhz, "sockets": info.sockets,
            "cores": info.cores, "threads": info.threads, "nodes": info.nodes,
            "memory_kib": info.memory,
        })
        return
    state.out(fields([
        ("CPU model:", info.model),
        ("CPU(s):", str(info.cpus)),
        ("CPU frequency:", f"{info.mhz} MHz"),
        ("CPU socket(s):", str(info.sockets)),
        ("Core(s) per socket:", str(info.cores)),
        ("Thread(s) per core:", str(info.threads)),
        ("NUMA cell(s):", str(info.nodes)),
        ("Memory size:", f"{info.memory} KiB"),
    ], width=20))


@command("capabilities", help="Print the host's capabilities XML.")
def cmd_capabilities(state: CliState) -> None:
    with state.failing("failed to get capabilities"):
        xml = state.conn.get_capabilities()
    state.out(xml if xml.endswith("\n") else xml + "\n")


@command("domcapabilities", help="Print what domains of one kind may use, as XML.")
@click.option("--virttype", help="Virtualization type (kvm, qemu, ...).")
@click.option("--emulatorbin", help="Path to the emulator binary.")
@click.option("--arch", help="Guest architecture.")
@click.option("--machine", help="Machine type.")
def cmd_domcapabilities(
    state: CliState,
    virttype: str | None,
    emulatorbin: str | None,
    arch: str | None,
    machine: str | None,
) -> None:
    with state.failing("failed to get domain capabilities"):
        xml = state.conn.get_domain_capabilities(
            emulator=emulatorbin, arch=arch, machine=machine, virttype=virttype
        )
    state.out(xml if xml.endswith("\n") else xml + "\n")


@command("freecell", help="Print free memory of the host or of NUMA cells.")
@click.option("--cellno", type=int, help="Only this NUMA cell.")
@click.option("--all", "all_cells", is_flag=True, help="Every NUMA cell and the total.")
@json_option
def cmd_freecell(state: CliState, cellno: int | None, all_cells: bool, as_json: bool) -> None:
    if cellno is not None and all_cells:
        raise CommandError("Options --cellno and --all are mutually exclusive", status=2)
    conn = state.conn
    if all_cells:
        with state.failing("failed to get free memory of the NUMA cells"):
            cells = conn.node_cells_free_memory(0, conn.node_info().nodes)
        kib = [c // 1024 for c in cells]
        if as_json:
            state.json({"cells": {str(i): v for i, v in enumerate(kib)}, "total_kib": sum(kib)})
            return
        lines = [f"{i:5d}: {v:10d} KiB\n" for i, v in enumerate(kib)]
        state.out("".join(lines) + "-" * 20 + "\n" + f"{'Total:':<5s} {sum(kib):10d} KiB\n")
    elif cellno is not None:
        with state.failing(f"failed to get free memory of NUMA cell {cellno}"):
            free = conn.node_cells_free_memory(cellno, 1)[0] // 1024
        if as_json:
            state.json({"cell": cellno, "free_kib": free})
            return
        state.out(f"{cellno}: {free} KiB\n")
    else:
        with state.failing("failed to get free memory"):
            total = conn.node_free_memory() // 1024
        if as_json:
            state.json({"total_kib": total})
            return
        state.out(f"Total: {total} KiB\n")


@command("connect", help="(Re)connect to a hypervisor; without NAME, the default URI.")
@click.argument("name", required=False, metavar="[NAME]")
@click.option("--readonly", is_flag=True, help="Connect read-only.")
def cmd_connect(state: CliState, name: str | None, readonly: bool) -> None:
    state.reconnect(name, readonly)

