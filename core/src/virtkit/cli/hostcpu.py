"""Host CPU, memory and sysinfo commands: cpu-baseline, cpu-compare, hypervisor-cpu-baseline,
hypervisor-cpu-compare, cpu-models, maxvcpus, nodecpumap, nodecpustats, nodememstats,
node-memory-tune, freepages, allocpages, sysinfo (virsh's output)."""

from __future__ import annotations

import re
import time

import click

from virtkit.cli._base import command, json_option, read_file
from virtkit.cli.state import CliState, CommandError

_CPU = re.compile(r"<cpu[\s>].*?</cpu>", re.S)


def _cpus_of(path: str) -> list[str]:
    """Every ``<cpu>...</cpu>`` in the file (a domain, capabilities, or bare CPU elements), as
    virsh's cpu-baseline takes them."""
    text = read_file(path, "XML file")
    found = _CPU.findall(text)
    if not found:
        raise CommandError(f"no CPU element found in {path}")
    return found


def _xml(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _guest_kind(fn: click.decorators.FC) -> click.decorators.FC:
    for opt in reversed((
        click.option("--virttype", help="Virtualization type."),
        click.option("--emulator", help="Path to the emulator binary."),
        click.option("--arch", help="Guest architecture."),
        click.option("--machine", help="Machine type."),
    )):
        fn = opt(fn)
    return fn


@command("cpu-baseline", help="Print the newest CPU every CPU in FILE can run.")
@click.argument("file")
@click.option("--features", is_flag=True, help="List every feature of the model as well.")
@click.option("--migratable", is_flag=True, help="Leave out features that block migration.")
def cmd_cpu_baseline(state: CliState, file: str, features: bool, migratable: bool) -> None:
    cpus = _cpus_of(file)
    with state.api():
        xml = state.conn.baseline_cpu(cpus, features=features, migratable=migratable)
    state.out(_xml(xml))


@command("hypervisor-cpu-baseline",
         help="Print the newest CPU every CPU in FILE and the hypervisor can run.")
@click.argument("file")
@_guest_kind
@click.option("--features", is_flag=True, help="List every feature of the model as well.")
@click.option("--migratable", is_flag=True, help="Leave out features that block migration.")
def cmd_hypervisor_cpu_baseline(state: CliState, file: str, virttype: str | None,
                        emulator: str | None, arch: str | None, machine: str | None,
                        features: bool, migratable: bool) -> None:
    cpus = _cpus_of(file)
    with state.api():
        xml = state.conn.baseline_hypervisor_cpu(
            emulator, arch, machine, virttype, cpus, features=features, migratable=migratable)
    state.out(_xml(xml))


def _compare_result(state: CliState, result: int, file: str, host: str,
                    identical: str, superset: str) -> None:
    if result == 0:
        state.out(f"CPU described in {file} is incompatible with {host}\n")
        raise CommandError(status=1)
    if result == 1:
        state.out(f"CPU described in {file} is {identical}\n")
    else:
        state.out(f"{superset} CPU described in {file}\n")


@command("cpu-compare", help="Compare the host CPU with the CPU described in FILE.")
@click.argument("file")
@click.option("--error", is_flag=True, help="Report an incompatible CPU as an error.")
def cmd_cpu_compare(state: CliState, file: str, error: bool) -> None:
    cpu = _cpus_of(file)[0]
    with state.failing(f"Failed to compare host CPU with {file}"):
        result = state.conn.compare_cpu(cpu, fail_incompatible=error)
    _compare_result(state, result, file, "host CPU", "identical to host CPU",
                    "Host CPU is a superset of")


@command("hypervisor-cpu-compare",
         help="Compare the CPU the hypervisor provides with the CPU described in FILE.")
@click.argument("file")
@_guest_kind
@click.option("--error", is_flag=True, help="Report an incompatible CPU as an error.")
def cmd_hypervisor_cpu_compare(state: CliState, file: str, virttype: str | None,
                       emulator: str | None, arch: str | None, machine: str | None,
                       error: bool) -> None:
    cpu = _cpus_of(file)[0]
    with state.failing(f"Failed to compare hypervisor CPU with {file}"):
        result = state.conn.compare_hypervisor_cpu(
            emulator, arch, machine, virttype, cpu, fail_incompatible=error)
    _compare_result(state, result, file, "the CPU provided by hypervisor on the host",
                    "identical to the CPU provided by hypervisor on the host",
                    "The CPU provided by hypervisor on the host is a superset of")


@command("cpu-models", help="Print the CPU models the host knows for ARCH.")
@click.argument("arch")
@json_option
def cmd_cpu_models(state: CliState, arch: str, as_json: bool) -> None:
    with state.api():
        names = state.conn.get_cpu_model_names(arch)
    if as_json:
        state.json(names)
        return
    state.out("".join(n + "\n" for n in names))


@command("maxvcpus", help="Print the most vcpus one guest may have.")
@click.option("--type", "virttype", help="Virtualization type.")
def cmd_maxvcpus(state: CliState, virttype: str | None) -> None:
    with state.api():
        state.out(f"{state.conn.get_max_vcpus(virttype)}\n")


@command("nodecpumap", help="Print which host CPUs are online.")
@click.option("--pretty", is_flag=True, help="Print the online CPUs as a range list.")
@json_option
def cmd_nodecpumap(state: CliState, pretty: bool, as_json: bool) -> None:
    with state.failing("Unable to get cpu map"):
        present, cpumap, online = state.conn.get_cpu_map()
    if as_json:
        state.json({"present": present, "online": online,
                    "online_cpus": [i for i, up in enumerate(cpumap) if up]})
        return
    if pretty:
        shown = _ranges([i for i, up in enumerate(cpumap) if up])
    else:
        shown = "".join("y" if up else "-" for up in cpumap)
    state.out(f"{'CPUs present:':<15s} {present}\n{'CPUs online:':<15s} {online}\n"
              f"{'CPU map:':<15s} {shown}\n")


def _ranges(ids: list[int]) -> str:
    out: list[str] = []
    for i in ids:
        if out and out[-1].split("-")[-1] == str(i - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{i}"
        else:
            out.append(str(i))
    return ",".join(out)


#: virsh's names for libvirt's CPU counters
_CPU_FIELDS = (("user", "user"), ("kernel", "system"), ("idle", "idle"), ("iowait", "iowait"))


@command("nodecpustats", help="Print the host's CPU time counters (of one CPU, or all).")
@click.argument("cpu", type=int, required=False)
@click.option("--percent", is_flag=True, help="Usage over one second, in percent.")
@json_option
def cmd_nodecpustats(state: CliState, cpu: int | None, percent: bool, as_json: bool) -> None:
    conn = state.conn
    which = -1 if cpu is None else cpu
    with state.failing("Unable to get node cpu stats"):
        first = conn.get_cpu_stats(which)
        if percent:
            time.sleep(1)
            second = conn.get_cpu_stats(which)
    if not percent:
        if as_json:
            state.json(first)
            return
        state.out("".join(f"{label + ':':<15s} {first[key]:20d}\n"
                          for key, label in _CPU_FIELDS if key in first))
        return
    delta = {k: second.get(k, 0) - first.get(k, 0) for k, _ in _CPU_FIELDS}
    total = sum(delta.values())

    def pct(value: float) -> str:
        return f"{value / total * 100:.1f}%" if total else "-nan%"

    rows = [("usage", pct(total - delta["idle"]))]
    rows += [(label, pct(delta[key])) for key, label in _CPU_FIELDS]
    if as_json:
        state.json(dict(rows))
        return
    state.out("".join(f"{label + ':':<15s} {value:>6s}\n" for label, value in rows))


@command("nodememstats", help="Print the host's (or one NUMA cell's) memory counters.")
@click.argument("cell", type=int, required=False)
@json_option
def cmd_nodememstats(state: CliState, cell: int | None, as_json: bool) -> None:
    with state.failing("Unable to get memory stats"):
        stats = state.conn.get_memory_stats(-1 if cell is None else cell)
    if as_json:
        state.json(stats)
        return
    state.out("".join(f"{k:<7s}: {v:20d} KiB\n" for k, v in stats.items()))


@command("node-memory-tune", help="Print or change the host's memory tuning.")
@click.option("--shm-pages-to-scan", type=int, help="Pages to scan before sleeping.")
@click.option("--shm-sleep-millisecs", type=int, help="Milliseconds to sleep between scans.")
@click.option("--shm-merge-across-nodes", type=int, help="1: merge pages across NUMA nodes.")
@json_option
def cmd_node_memory_tune(state: CliState, shm_pages_to_scan: int | None,
                         shm_sleep_millisecs: int | None, shm_merge_across_nodes: int | None,
                         as_json: bool) -> None:
    conn = state.conn
    changes = {k: v for k, v in (("shm_pages_to_scan", shm_pages_to_scan),
                                 ("shm_sleep_millisecs", shm_sleep_millisecs),
                                 ("shm_merge_across_nodes", shm_merge_across_nodes))
               if v is not None}
    if changes:
        with state.failing("Unable to change memory parameters"):
            conn.set_memory_parameters(changes)
        return
    with state.failing("Unable to get memory parameters"):
        params = conn.get_memory_parameters()
    if as_json:
        state.json(params)
        return
    state.out("Shared memory:\n" + "".join(f"\t{k:<15s} {v}\n" for k, v in params.items()))


def _page_sizes(state: CliState) -> list[int]:
    """The host's page sizes in KiB, from its capabilities (as virsh finds them)."""
    xml = state.conn.get_capabilities()
    host_cpu = xml.split("</cpu>", 1)[0]
    return [int(s) for s in re.findall(r"<pages[^>]*size='(\d+)'", host_cpu)]


@command("freepages", help="Print free pages of each size on NUMA cells.")
@click.option("--cellno", type=int, help="Only this NUMA cell.")
@click.option("--pagesize", type=int, help="Only pages of this size (KiB).")
@click.option("--all", "all_cells", is_flag=True, help="Every cell and every page size.")
@json_option
def cmd_freepages(state: CliState, cellno: int | None, pagesize: int | None, all_cells: bool,
                  as_json: bool) -> None:
    conn = state.conn
    if all_cells and (cellno is not None or pagesize is not None):
        raise CommandError("Options --all and --cellno/--pagesize are mutually exclusive",
                           status=2)
    with state.failing("Unable to get free pages"):
        sizes = [pagesize] if pagesize is not None else _page_sizes(state)
        if cellno is None and not all_cells and pagesize is not None:
            raise CommandError("page size must be used together with cell number")
        if cellno is not None:
            found = conn.get_free_pages(sizes, cellno, 1)
        else:
            found = conn.get_free_pages(sizes, 0, conn.node_info().nodes)
    if as_json:
        state.json({str(c): {str(s): n for s, n in row.items()} for c, row in found.items()})
        return
    blocks = []
    for cell, row in found.items():
        lines = "".join(f"{s}KiB: {n}\n" for s, n in row.items())
        blocks.append(lines if cellno is not None else f"Node {cell}:\n{lines}")
    state.out("\n".join(blocks))


@command("allocpages", help="Reserve PAGECOUNT huge pages of PAGESIZE (KiB).")
@click.argument("pagesize", type=int)
@click.argument("pagecount", type=int)
@click.option("--cellno", type=int, help="Only on this NUMA cell.")
@click.option("--all", "all_cells", is_flag=True, help="On every NUMA cell.")
@click.option("--add", is_flag=True, help="Add to the pool instead of setting it.")
def cmd_allocpages(state: CliState, pagesize: int, pagecount: int, cellno: int | None,
                   all_cells: bool, add: bool) -> None:
    from virtkit.api.host import NODE_ALLOC_PAGES_ADD, NODE_ALLOC_PAGES_SET

    conn = state.conn
    flags = NODE_ALLOC_PAGES_ADD if add else NODE_ALLOC_PAGES_SET
    with state.api():
        if cellno is not None:
            conn.alloc_pages({pagesize: pagecount}, cellno, 1, flags)
        else:
            conn.alloc_pages({pagesize: pagecount}, 0, conn.node_info().nodes, flags)


@command("sysinfo", help="Print the host's SMBIOS information as XML.")
def cmd_sysinfo(state: CliState) -> None:
    with state.failing("failed to get sysinfo"):
        state.out(_xml(state.conn.get_sysinfo()))
