"""virsh's tuning and statistics commands: vcpuinfo, vcpupin, setvcpu, emulatorpin,
iothreadinfo, iothreadadd, iothreaddel, iothreadpin, iothreadset, cpu-stats, schedinfo, memtune,
numatune, blkiotune, blkdeviotune, domiftune, perf, dommemstat, metadata and desc."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from virtkit.cli._base import command, domain_argument, json_option
from virtkit.cli.fmt import parse_scaled, table
from virtkit.cli.state import CliState, CommandError

F = TypeVar("F", bound=Callable[..., Any])
UNLIMITED = 9007199254740991
NUMA_MODES = ("strict", "preferred", "interleave", "restrictive")


def scope_options(fn: F) -> F:
    """virsh's --config, --live and --current."""
    fn = click.option("--current", is_flag=True, help="Affect the current domain.")(fn)
    fn = click.option("--live", is_flag=True, help="Affect the running domain.")(fn)
    return click.option("--config", is_flag=True, help="Affect the next boot.")(fn)


def _scope(config: bool, live: bool, current: bool) -> tuple[bool, bool]:
    if current and (config or live):
        other = "config" if config else "live"
        raise CommandError(f"Options --current and --{other} are mutually exclusive", status=2)
    return live, config


def _fields(params: dict[str, Any], show: Callable[[str, Any], str] | None = None) -> str:
    """virsh's ``%-15s: %s`` lines of typed parameters."""
    out = []
    for key, value in params.items():
        text = show(key, value) if show else _text(value)
        out.append(f"{key:<15}: {text}\n")
    return "".join(out)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def cpulist(cpumap: tuple[bool, ...] | list[bool]) -> str:
    out, n = [], 0
    while n < len(cpumap):
        if cpumap[n]:
            start = n
            while n + 1 < len(cpumap) and cpumap[n + 1]:
                n += 1
            out.append(str(start) if start == n else f"{start}-{n}")
        n += 1
    return ",".join(out)


def parse_cpulist(text: str, cpus: int) -> list[bool]:
    """``0-3,^2,8`` (or ``r`` for all) as a map of ``cpus`` booleans."""
    cpumap = [False] * cpus
    if text == "r":
        return [True] * cpus
    for part in filter(None, (p.strip() for p in text.split(","))):
        negate = part.startswith("^")
        lo, _, hi = part.lstrip("^").partition("-")
        try:
            first, last = int(lo), int(hi or lo)
        except ValueError:
            raise CommandError(f"Physical CPU list '{text}' is not valid") from None
        if first < 0 or last < first or last >= cpus:
            raise CommandError(f"Physical CPU {last} doesn't exist.")
        for n in range(first, last + 1):
            cpumap[n] = not negate
    return cpumap


def _host_cpus(state: CliState) -> int:
    return int(state.conn.node_info().cpus)


# -- vcpus and pinning --------------------------------------------------------------------------


@command("vcpuinfo", help="Print each vcpu's host CPU, state, time and affinity.")
@domain_argument
@click.option("--pretty", is_flag=True, help="Affinity as a CPU list.")
@json_option
def cmd_vcpuinfo(state: CliState, domain: str, pretty: bool, as_json: bool) -> None:
    dom = state.domain(domain)
    with state.api():
        info, maps = dom.vcpus()
    if as_json:
        state.json([{"vcpu": n, "cpu": cpu, "state": st, "cpu_time": t, "affinity": cpulist(m)}
                    for (n, st, t, cpu), m in zip(info, maps, strict=True)])
        return
    states = ("offline", "running", "blocked")
    out = []
    for (number, st, cpu_time, cpu), cpumap in zip(info, maps, strict=True):
        affinity = (f"{cpulist(cpumap)} (out of {len(cpumap)})" if pretty
                    else "".join("y" if on else "-" for on in cpumap))
        out.append(f"{'VCPU:':<15} {number}\n{'CPU:':<15} {cpu}\n"
                   f"{'State:':<15} {states[st] if 0 <= st < 3 else 'unknown'}\n"
                   f"{'CPU time:':<15} {cpu_time / 1e9:.1f}s\n{'CPU Affinity:':<15} {affinity}\n")
    state.out("\n".join(out))


@command("vcpupin", help="Print or set the vcpus' CPU affinity.")
@domain_argument
@click.argument("vcpu", required=False, type=int)
@click.argument("cpulist_", metavar="CPULIST", required=False)
@scope_options
@json_option
def cmd_vcpupin(state: CliState, domain: str, vcpu: int | None, cpulist_: str | None,
                config: bool, live: bool, current: bool, as_json: bool) -> None:
    live, config = _scope(config, live, current)
    dom = state.domain(domain)
    if cpulist_ is not None:
        if vcpu is None:
            raise CommandError("vcpupin: Missing vCPU number in pin mode.")
        cpumap = parse_cpulist(cpulist_, _host_cpus(state))
        with state.api():
            dom.pin_vcpu_flags(vcpu, cpumap, live=live, config=config)
        return
    with state.api():
        maps = dom.vcpu_pin_info(config=config)
    rows = [(str(n), cpulist(m)) for n, m in enumerate(maps) if vcpu is None or n == vcpu]
    if as_json:
        state.json([{"vcpu": int(n), "affinity": a} for n, a in rows])
        return
    state.out(table(("VCPU", "CPU Affinity"), rows))


@command("emulatorpin", help="Print or set the emulator threads' CPU affinity.")
@domain_argument
@click.argument("cpulist_", metavar="CPULIST", required=False)
@scope_options
def cmd_emulatorpin(state: CliState, domain: str, cpulist_: str | None, config: bool,
                    live: bool, current: bool) -> None:
    live, config = _scope(config, live, current)
    dom = state.domain(domain)
    if cpulist_ is not None:
        cpumap = parse_cpulist(cpulist_, _host_cpus(state))
        with state.api():
            dom.pin_emulator(cpumap, live=live, config=config)
        return
    with state.api():
        current_map = dom.emulator_pin_info(config=config)
    state.out(f"emulator: CPU Affinity\n{'-' * 34}\n       *: {cpulist(current_map)}\n")


@command("setvcpu", help="Enable or disable individual vcpus.")
@domain_argument
@click.argument("vcpulist")
@click.option("--enable", is_flag=True, help="Enable the vcpus of the list.")
@click.option("--disable", is_flag=True, help="Disable the vcpus of the list.")
@scope_options
def cmd_setvcpu(state: CliState, domain: str, vcpulist: str, enable: bool, disable: bool,
                config: bool, live: bool, current: bool) -> None:
    if enable and disable:
        raise CommandError("Options --enable and --disable are mutually exclusive")
    if not enable and not disable:
        raise CommandError("one of --enable, --disable is required")
    live, config = _scope(config, live, current)
    dom = state.domain(domain)
    with state.api():
        dom.set_vcpu(vcpulist, 1 if enable else 0, live=live, config=config)


@command("iothreadinfo", help="Print the domain's IOThreads and their CPU affinity.")
@domain_argument
@scope_options
@json_option
def cmd_iothreadinfo(state: CliState, domain: str, config: bool, live: bool, current: bool,
                     as_json: bool) -> None:
    live, config = _scope(config, live, current)
    dom = state.domain(domain)
    with state.api():
        threads = dom.io_thread_info(config=config)
    if as_json:
        state.json([{"iothread": n, "affinity": cpulist(m)} for n, m in threads])
        return
    if not threads:
        state.out("No IOThreads found for the domain")
        return
    state.out(table(("IOThread ID", "CPU Affinity"),
                    [(str(n), cpulist(m)) for n, m in threads]))


def _iothread_id(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise CommandError(f"Invalid IOThread id value: '{value}'")
    return number


@command("iothreadadd", help="Add an IOThread to the domain.")
@domain_argument
@click.argument("iothread")
@scope_options
def cmd_iothreadadd(state: CliState, domain: str, iothread: str, config: bool, live: bool,
                    current: bool) -> None:
    live, config = _scope(config, live, current)
    number = _iothread_id(iothread)
    dom = state.domain(domain)
    with state.api():
        dom.add_io_thread(number, live=live, config=config)


@command("iothreaddel", help="Remove an IOThread from the domain.")
@domain_argument
@click.argument("iothread")
@scope_options
def cmd_iothreaddel(state: CliState, domain: str, iothread: str, config: bool, live: bool,
                    current: bool) -> None:
    live, config = _scope(config, live, current)
    number = _iothread_id(iothread)
    dom = state.domain(domain)
    with state.api():
        dom.del_io_thread(number, live=live, config=config)


@command("iothreadpin", help="Set an IOThread's CPU affinity.")
@domain_argument
@click.argument("iothread")
@click.argument("cpulist_", metavar="CPULIST")
@scope_options
def cmd_iothreadpin(state: CliState, domain: str, iothread: str, cpulist_: str,
                    config: bool, live: bool, current: bool) -> None:
    live, config = _scope(config, live, current)
    number = _iothread_id(iothread)
    dom = state.domain(domain)
    cpumap = parse_cpulist(cpulist_, _host_cpus(state))
    with state.api():
        dom.pin_io_thread(number, cpumap, live=live, config=config)


@command("iothreadset", help="Set an IOThread's polling and thread pool parameters.")
@domain_argument
@click.argument("iothread")
@click.option("--poll-max-ns", type=click.IntRange(min=0), help="Longest polling time, ns.")
@click.option("--poll-grow", type=click.IntRange(min=0), help="Polling time growth factor.")
@click.option("--poll-shrink", type=click.IntRange(min=0), help="Polling time shrink divisor.")
@click.option("--thread-pool-min", type=click.IntRange(min=0), help="Fewest pool threads.")
@click.option("--thread-pool-max", type=click.IntRange(min=0), help="Most pool threads.")
@scope_options
def cmd_iothreadset(state: CliState, domain: str, iothread: str, poll_max_ns: int | None,
                    poll_grow: int | None, poll_shrink: int | None,
                    thread_pool_min: int | None, thread_pool_max: int | None, config: bool,
                    live: bool, current: bool) -> None:
    live, config = _scope(config, live, current)
    number = _iothread_id(iothread)
    params = {k: v for k, v in (("poll_max_ns", poll_max_ns), ("poll_grow", poll_grow),
                                ("poll_shrink", poll_shrink),
                                ("thread_pool_min", thread_pool_min),
                                ("thread_pool_max", thread_pool_max)) if v is not None}
    if not params:
        raise CommandError("Not enough arguments passed, nothing to set")
    dom = state.domain(domain)
    with state.api():
        dom.set_io_thread_params(number, params, live=live, config=config)


@command("cpu-stats", help="Print the CPU time the guest used, per host CPU and in total.")
@domain_argument
@click.option("--total", "total_only", is_flag=True, help="Only the total.")
@click.option("--start", type=click.IntRange(min=0), default=0, help="The first host CPU.")
@click.option("--count", type=click.IntRange(min=1), default=None, help="How many CPUs.")
@json_option
def cmd_cpu_stats(state: CliState, domain: str, total_only: bool, start: int,
                  count: int | None, as_json: bool) -> None:
    dom = state.domain(domain)
    per_cpu: list[dict[str, int]] = []
    with state.failing(f"Failed to retrieve CPU statistics for domain '{dom.name}'"):
        if not total_only:
            per_cpu = dom.get_cpu_stats(False, start, count if count is not None else 1 << 16)
        total = dom.get_cpu_stats(True)[0]
    if as_json:
        state.json({"cpus": per_cpu, "total": total})
        return
    out = []
    for n, stats in enumerate(per_cpu, start):
        out.append(f"CPU{n}:\n")
        out.extend(f"\t{k:<12}{v / 1e9:20.9f} seconds\n" for k, v in stats.items())
    out.append("Total:\n")
    out.extend(f"\t{k:<12}{v / 1e9:20.9f} seconds\n" for k, v in total.items())
    state.out("".join(out))


# -- tunables -----------------------------------------------------------------------------------


def _parse_value(key: str, text: str, current: Any) -> Any:
    if isinstance(current, bool):
        return text.lower() in ("1", "yes", "true", "on")
    if isinstance(current, int):
        try:
            return int(text)
        except ValueError:
            raise CommandError(f"invalid value '{text}' for parameter '{key}'") from None
    return text


@command("schedinfo", help="Print or set the scheduler's parameters.")
@domain_argument
@click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE",
              help="Set a parameter (repeatable).")
@click.option("--weight", type=int, help="Shorthand for --set weight=N.")
@click.option("--cap", type=int, help="Shorthand for --set cap=N.")
@scope_options
@json_option
def cmd_schedinfo(state: CliState, domain: str, assignments: tuple[str, ...],
                  weight: int | None, cap: int | None, config: bool, live: bool, current: bool,
                  as_json: bool) -> None:
    live, config = _scope(config, live, current)
    dom = state.domain(domain)
    with state.api():
        name, _ = dom.scheduler_type()
        params = dom.scheduler_parameters_flags(config=config)
    changes: dict[str, Any] = {}
    for item in assignments:
        key, eq, value = item.partition("=")
        if not eq:
            raise CommandError("Invalid syntax for --set, expecting name=value")
        changes[key] = _parse_value(key, value, params.get(key, 0))
    if weight is not None:
        changes["weight"] = weight
    if cap is not None:
        changes["cap"] = cap
    if changes:
        with state.api():
            dom.set_scheduler_parameters_flags(changes, live=live, config=config)
            params = dom.scheduler_parameters_flags(config=config)
    if as_json:
        state.json({"scheduler": name, **params})
        return
    state.out(f"{'Scheduler':<15}: {name}\n" + _fields(params))


def _tunable_command(name: str, group: str, help_text: str,
                     options: dict[str, str], show: Callable[[str, Any], str] | None = None,
                     scale: dict[str, int] | None = None) -> click.Command:
    """A virsh tuning command: print the group's parameters, or set those given as options
    (``--hard-limit`` -> ``hard_limit``); ``scale`` gives the options that take virsh's scaled
    sizes and their default unit."""

    @command(name, help=help_text)
    @domain_argument
    @scope_options
    @json_option
    def run(state: CliState, domain: str, config: bool, live: bool, current: bool,
            as_json: bool, **given: str | None) -> None:
        live, config = _scope(config, live, current)
        dom = state.domain(domain)
        with state.api():
            params = getattr(dom, f"{group}_parameters")(config=config)
        changes: dict[str, Any] = {}
        for option, key in options.items():
            text = given.get(option.replace("-", "_"))
            if text is None:
                continue
            if key == "numa_mode":
                if text not in NUMA_MODES:
                    raise CommandError(f"Invalid mode: {text}")
                changes[key] = NUMA_MODES.index(text)
            elif scale and option in scale:
                changes[key] = UNLIMITED if text in ("-1", "unlimited") else (
                    _scaled(text, scale[option]) // 1024)
            else:
                changes[key] = _parse_value(key, text, params.get(key, ""))
        if changes:
            with state.api():
                getattr(dom, f"set_{group}_parameters")(changes, live=live, config=config)
            return
        if as_json:
            state.json(params)
            return
        state.out(_fields(params, show))

    for option in reversed(list(options)):
        run = click.option(f"--{option}", metavar="VALUE")(run)
    return run


def _scaled(text: str, default: int) -> int:
    try:
        return parse_scaled(text, default)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _memory_value(key: str, value: Any) -> str:
    return "unlimited" if value == UNLIMITED else str(value)


def _numa_value(key: str, value: Any) -> str:
    if key == "numa_mode" and isinstance(value, int) and 0 <= value < len(NUMA_MODES):
        return NUMA_MODES[value]
    return str(value)


cmd_memtune = _tunable_command(
    "memtune", "memory", "Print or set the memory limits (KiB unless a unit is given).",
    {"hard-limit": "hard_limit", "soft-limit": "soft_limit",
     "swap-hard-limit": "swap_hard_limit"}, _memory_value,
    scale={"hard-limit": 1024, "soft-limit": 1024, "swap-hard-limit": 1024})
cmd_numatune = _tunable_command(
    "numatune", "numa", "Print or set the NUMA memory policy.",
    {"mode": "numa_mode", "nodeset": "numa_nodeset"}, _numa_value)
cmd_blkiotune = _tunable_command(
    "blkiotune", "blkio", "Print or set the block I/O weights and limits.",
    {"weight": "weight", "device-weights": "device_weight",
     "device-read-iops-sec": "device_read_iops_sec",
     "device-write-iops-sec": "device_write_iops_sec",
     "device-read-bytes-sec": "device_read_bytes_sec",
     "device-write-bytes-sec": "device_write_bytes_sec"})


@command("blkdeviotune", help="Print or set a disk's I/O throttles.")
@domain_argument
@click.argument("device")
@click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE",
              help="Set a parameter (virsh's names: total_bytes_sec...).")
@click.option("--total-bytes-sec", type=int)
@click.option("--read-bytes-sec", type=int)
@click.option("--write-bytes-sec", type=int)
@click.option("--total-iops-sec", type=int)
@click.option("--read-iops-sec", type=int)
@click.option("--write-iops-sec", type=int)
@click.option("--group-name")
@scope_options
@json_option
def cmd_blkdeviotune(state: CliState, domain: str, device: str, assignments: tuple[str, ...],
                     config: bool, live: bool, current: bool, as_json: bool,
                     **given: Any) -> None:
    live, config = _scope(config, live, current)
    dom = state.domain(domain)
    with state.api():
        params = dom.block_io_tune(device, config=config)
    changes = {k: v for k, v in given.items() if v is not None}
    for item in assignments:
        key, _, value = item.partition("=")
        changes[key] = _parse_value(key, value, params.get(key, 0))
    if changes:
        with state.failing("Unable to change block I/O throttle"):
            dom.set_block_io_tune(device, changes, live=live, config=config)
        return
    if as_json:
        state.json(params)
        return
    state.out(_fields(params))


@command("domiftune", help="Print or set an interface's bandwidth limits.")
@domain_argument
@click.argument("interface")
@click.option("--inbound", metavar="AVERAGE[,PEAK[,BURST[,FLOOR]]]", help="Inbound limits.")
@click.option("--outbound", metavar="AVERAGE[,PEAK[,BURST]]", help="Outbound limits.")
@scope_options
@json_option
def cmd_domiftune(state: CliState, domain: str, interface: str, inbound: str | None,
                  outbound: str | None, config: bool, live: bool, current: bool,
                  as_json: bool) -> None:
    live, config = _scope(config, live, current)
    dom = state.domain(domain)
    changes: dict[str, int] = {}
    for direction, text, names in (("inbound", inbound, ("average", "peak", "burst", "floor")),
                                   ("outbound", outbound, ("average", "peak", "burst"))):
        if text is None:
            continue
        values = text.split(",")
        if len(values) > len(names) or not values[0]:
            raise CommandError(f"{direction} rate format is incorrect")
        for key, value in zip(names, values, strict=False):
            if value:
                try:
                    changes[f"{direction}.{key}"] = int(value)
                except ValueError:
                    raise CommandError(f"{direction} rate format is incorrect") from None
    if changes:
        with state.failing("Unable to set interface parameters"):
            dom.set_interface_parameters(interface, changes, live=live, config=config)
        return
    with state.failing("Unable to get interface parameters"):
        params = dom.interface_parameters(interface, config=config)
    if as_json:
        state.json(params)
        return
    state.out(_fields(params))


@command("perf", help="Print, enable or disable perf events.")
@domain_argument
@click.option("--enable", metavar="EVENTS", help="Comma-separated events to enable.")
@click.option("--disable", metavar="EVENTS", help="Comma-separated events to disable.")
@scope_options
@json_option
def cmd_perf(state: CliState, domain: str, enable: str | None, disable: str | None,
             config: bool, live: bool, current: bool, as_json: bool) -> None:
    live, config = _scope(config, live, current)
    dom = state.domain(domain)
    changes: dict[str, bool] = {}
    for text, on in ((enable, True), (disable, False)):
        for name in filter(None, (text or "").split(",")):
            changes[name] = on
    if changes:
        with state.api():
            dom.set_perf_events(changes, live=live, config=config)
        params: dict[str, Any] = changes
    else:
        with state.api():
            params = dom.perf_events(config=config)
    if as_json:
        state.json(params)
        return
    state.out(_fields(params, lambda _k, v: "enabled" if v else "disabled"))


@command("dommemstat", help="Print the balloon's statistics, or set their period.")
@domain_argument
@click.option("--period", type=click.IntRange(min=0), help="Collect every SECONDS.")
@scope_options
@json_option
def cmd_dommemstat(state: CliState, domain: str, period: int | None, config: bool,
                   live: bool, current: bool, as_json: bool) -> None:
    live, config = _scope(config, live, current)
    dom = state.domain(domain)
    if period is not None:
        with state.failing("Unable to change balloon collection period."):
            dom.set_memory_stats_period(period, live=live, config=config)
        return
    with state.api():
        stats = dom.memory_stats()
    if as_json:
        state.json(stats)
        return
    state.out("".join(f"{k} {v}\n" for k, v in stats.items()))


# -- metadata -----------------------------------------------------------------------------------


@command("metadata", help="Print, set or remove a metadata element of the domain.")
@domain_argument
@click.argument("uri")
@click.option("--key", metavar="PREFIX", help="The namespace prefix to store the element with.")
@click.option("--set", "new", metavar="XML", help="The new metadata element.")
@click.option("--remove", is_flag=True, help="Remove the element.")
@scope_options
def cmd_metadata(state: CliState, domain: str, uri: str, key: str | None, new: str | None,
                 remove: bool, config: bool, live: bool, current: bool) -> None:
    live, config = _scope(config, live, current)
    if new is not None and remove:
        raise CommandError("Options --set and --remove are mutually exclusive", status=2)
    dom = state.domain(domain)
    if new is not None or remove:
        if new is not None and key is None:
            raise CommandError("namespace key is required when modifying metadata")
        with state.api():
            dom.set_metadata("element", new, key, uri, live=live, config=config)
        state.info("Metadata modified" if new is not None else "Metadata removed")
        return
    from lxml import etree

    with state.api():
        text = dom.metadata("element", uri, config=config)
    from virtkit.xml.parser import parse_document

    root = parse_document(text, "metadata")
    etree.indent(root, space="  ")
    state.out(etree.tostring(root, encoding="unicode") + "\n")


@command("desc", help="Print or set the domain's description or title.")
@domain_argument
@click.option("--title", is_flag=True, help="The title instead of the description.")
@click.option("--new-desc", metavar="TEXT", help="The new text.")
@scope_options
def cmd_desc(state: CliState, domain: str, title: bool, new_desc: str | None, config: bool,
             live: bool, current: bool) -> None:
    live, config = _scope(config, live, current)
    dom = state.domain(domain)
    what = "title" if title else "description"
    state.trailer = False  # virsh prints no blank line after desc
    if new_desc is not None:
        with state.api():
            dom.set_metadata(what, new_desc or None, live=live, config=config)
        state.info(f"Domain {what} updated successfully")
        return
    from virtkit import VirtError
    from virtkit.sdk.errors import ErrorCode

    try:
        state.out(dom.metadata(what, config=config) + "\n")
    except VirtError as exc:
        if exc.code != ErrorCode.NO_DOMAIN_METADATA:
            raise CommandError(exc.message) from exc
        state.out(f"No {what} for domain: {dom.name}\n")


@command("domdirtyrate-calc", help="Calculate a running domain's memory dirty rate (the result: "
                                   "domstats --dirtyrate).")
@domain_argument
@click.option("--seconds", type=int, default=1, help="How long to measure (1-60, default 1).")
@click.option("--mode", help="page-sampling, dirty-bitmap or dirty-ring.")
def cmd_domdirtyrate_calc(state: CliState, domain: str, seconds: int, mode: str | None) -> None:
    from virtkit.sdk.hookspecs.tuning import DIRTYRATE_MODES

    if mode is not None and mode not in DIRTYRATE_MODES:
        raise CommandError(f"Unknown calculation mode '{mode}'")
    dom = state.domain(domain)
    with state.api():
        dom.start_dirty_rate_calc(seconds, mode or 0)
    state.info("Start to calculate domain's memory dirty rate successfully.")
