"""virsh's block job and block device commands: blockpull, blockcommit, blockcopy, blockjob,
blockresize, domblkinfo and domblkthreshold."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

from virtkit.cli._base import command, domain_argument, json_option
from virtkit.cli.fmt import parse_scaled, table
from virtkit.cli.state import CliState, CommandError

if TYPE_CHECKING:
    from virtkit.api.domain import Domain

#: virsh's names of block job types (virshDomainBlockJobToString)
JOB_NAMES = ("Unknown job", "Block Pull", "Block Copy", "Block Commit", "Active Block Commit",
             "Backup")
MiB = 1024 * 1024


def _job_name(kind: int) -> str:
    return JOB_NAMES[kind] if 0 <= kind < len(JOB_NAMES) else JOB_NAMES[0]


def _progress(label: str, cur: int, end: int) -> None:
    """virsh's job progress, on stderr: ``\\rBlock Copy: [ 45 %]``."""
    percent = 100 if end == 0 or cur >= end else int(cur * 100 / end)
    sys.stdout.flush()
    sys.stderr.write(f"\r{label}: [{percent:3d} %]")
    sys.stderr.flush()


def _wait(state: CliState, dom: Domain, disk: str, verbose: bool, timeout: int | None,
          until_ready: bool) -> bool:
    """Poll the disk's job until it is gone (or ready with ``until_ready``); False when it
    ended without reaching that (or on timeout)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with state.api():
            info = dom.block_job_info(disk, bytes=True)
        if not info:
            return not until_ready
        if verbose:
            _progress(_job_name(info["type"]), info["cur"], info["end"])
        if until_ready and info["cur"] == info["end"] and info["end"] >= 0:
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _bandwidth(value: str | None, in_bytes: bool) -> int:
    if value is None:
        return 0
    try:
        n = int(value)
    except ValueError:
        raise CommandError(f"Scaled numeric value '{value}' for <--bandwidth> option is "
                           f"malformed or out of range") from None
    if n < 0:
        raise CommandError(f"Scaled numeric value '{value}' for <--bandwidth> option is "
                           f"malformed or out of range")
    return n if in_bytes else n * MiB


@command("blockpull", help="Pull a disk's backing chain into its top image.")
@domain_argument
@click.argument("path")
@click.option("--bandwidth", metavar="MiB/s", help="Bandwidth limit (MiB/s, bytes/s with "
              "--bytes).")
@click.option("--base", metavar="PATH", help="Pull down to this image only.")
@click.option("--wait", is_flag=True, help="Wait until the job completes.")
@click.option("--verbose", is_flag=True, help="Show progress (with --wait).")
@click.option("--timeout", type=click.IntRange(min=1), help="Abort after SECONDS (with --wait).")
@click.option("--async", "asynchronous", is_flag=True, help="Do not wait for an abort.")
@click.option("--bytes", "in_bytes", is_flag=True, help="The bandwidth is in bytes/s.")
def cmd_blockpull(state: CliState, domain: str, path: str, bandwidth: str | None,
                  base: str | None, wait: bool, verbose: bool, timeout: int | None,
                  asynchronous: bool, in_bytes: bool) -> None:
    dom = state.domain(domain)
    with state.api():
        dom.block_rebase(path, base, _bandwidth(bandwidth, in_bytes), bytes=True)
    if not wait:
        state.info("Block Pull started")
        return
    if not _wait(state, dom, path, verbose, timeout, until_ready=False):
        with state.api():
            dom.block_job_abort(path, asynchronous=asynchronous)
        raise CommandError("Pull aborted")
    state.info("\nPull complete")


@command("blockcommit", help="Merge a disk's backing images down into a lower one.")
@domain_argument
@click.argument("path")
@click.option("--bandwidth", metavar="MiB/s", help="Bandwidth limit.")
@click.option("--base", metavar="PATH", help="The image to merge into (default: the deepest).")
@click.option("--top", metavar="PATH", help="The highest image to merge (default: active).")
@click.option("--active", is_flag=True, help="Commit the active image too (mirrors until "
              "pivot).")
@click.option("--delete", is_flag=True, help="Delete the merged images afterwards.")
@click.option("--wait", is_flag=True, help="Wait until the job completes (or is ready).")
@click.option("--pivot", is_flag=True, help="With --active: pivot once ready.")
@click.option("--keep-overlay", is_flag=True, help="With --active: cancel once ready.")
@click.option("--verbose", is_flag=True, help="Show progress.")
@click.option("--timeout", type=click.IntRange(min=1), help="Abort after SECONDS.")
@click.option("--async", "asynchronous", is_flag=True, help="Do not wait for an abort.")
@click.option("--bytes", "in_bytes", is_flag=True, help="The bandwidth is in bytes/s.")
def cmd_blockcommit(state: CliState, domain: str, path: str, bandwidth: str | None,
                    base: str | None, top: str | None, active: bool, delete: bool,
                    wait: bool, pivot: bool, keep_overlay: bool, verbose: bool,
                    timeout: int | None, asynchronous: bool, in_bytes: bool) -> None:
    if (pivot or keep_overlay) and not active:
        raise CommandError("--pivot and --keep-overlay need --active")
    dom = state.domain(domain)
    with state.api():
        dom.block_commit(path, base, top, _bandwidth(bandwidth, in_bytes), active=active,
                         delete=delete, bytes=True)
    if not (wait or pivot or keep_overlay):
        state.info("Active Block Commit started" if active else "Block Commit started")
        return
    if not _wait(state, dom, path, verbose, timeout, until_ready=active):
        with state.api():
            dom.block_job_abort(path, asynchronous=asynchronous)
        raise CommandError("Commit aborted")
    if active and pivot:
        with state.api():
            dom.block_job_abort(path, pivot=True)
        state.info("\nSuccessfully pivoted")
    elif active and keep_overlay:
        with state.api():
            dom.block_job_abort(path)
        state.info("\nCommit complete, overlay image kept")
    elif active:
        state.info("\nNow in synchronized phase")
    else:
        state.info("\nCommit complete")


@command("blockcopy", help="Copy a disk to a new image, mirroring writes until pivot.")
@domain_argument
@click.argument("path")
@click.option("--dest", metavar="FILE", help="The destination image.")
@click.option("--xml", "xml_file", metavar="FILE", help="A <disk> describing the destination.")
@click.option("--format", "fmt", metavar="FORMAT", help="The destination's format.")
@click.option("--blockdev", is_flag=True, help="The destination is a block device.")
@click.option("--shallow", is_flag=True, help="Copy only the top image.")
@click.option("--reuse-external", is_flag=True, help="The destination exists already.")
@click.option("--wait", is_flag=True, help="Wait until the copy is in sync.")
@click.option("--pivot", is_flag=True, help="Switch to the copy once in sync.")
@click.option("--finish", is_flag=True, help="End the copy once in sync, keeping the source.")
@click.option("--verbose", is_flag=True, help="Show progress.")
@click.option("--timeout", type=click.IntRange(min=1), help="Abort after SECONDS.")
@click.option("--async", "asynchronous", is_flag=True, help="Do not wait for an abort.")
@click.option("--bandwidth", metavar="MiB/s", help="Bandwidth limit.")
@click.option("--granularity", type=click.IntRange(min=0), default=0, help="Granularity.")
@click.option("--buf-size", type=click.IntRange(min=0), default=0, help="Buffer size.")
@click.option("--bytes", "in_bytes", is_flag=True, help="The bandwidth is in bytes/s.")
@click.option("--transient-job", is_flag=True, help="The job need not survive a restart.")
def cmd_blockcopy(state: CliState, domain: str, path: str, dest: str | None,
                  xml_file: str | None, fmt: str | None, blockdev: bool, shallow: bool,
                  reuse_external: bool, wait: bool, pivot: bool, finish: bool, verbose: bool,
                  timeout: int | None, asynchronous: bool, bandwidth: str | None,
                  granularity: int, buf_size: int, in_bytes: bool,
                  transient_job: bool) -> None:
    from virtkit.cli._base import read_file

    if (dest is None) == (xml_file is None):
        raise CommandError("need either --dest or --xml")
    if pivot and finish:
        raise CommandError("Options --pivot and --finish are mutually exclusive")
    if xml_file is not None:
        destxml = read_file(xml_file, "XML file")
    else:
        kind = "block" if blockdev else "file"
        where = "dev" if blockdev else "file"
        driver = f"<driver type='{fmt}'/>" if fmt else ""
        destxml = f"<disk type='{kind}'><source {where}='{dest}'/>{driver}</disk>"
    dom = state.domain(domain)
    params = {"bandwidth": _bandwidth(bandwidth, in_bytes), "granularity": granularity,
              "buf-size": buf_size}
    with state.api():
        dom.block_copy(path, destxml, params, shallow=shallow, reuse_ext=reuse_external,
                       transient_job=transient_job)
    if not (wait or pivot or finish):
        state.info("Block Copy started")
        return
    if not _wait(state, dom, path, verbose, timeout, until_ready=True):
        with state.api():
            dom.block_job_abort(path, asynchronous=asynchronous)
        raise CommandError("Copy aborted")
    if pivot or finish:
        with state.api():
            dom.block_job_abort(path, pivot=pivot)
        state.info("\nSuccessfully pivoted" if pivot else "\nSuccessfully copied")
    else:
        state.info("\nNow in mirroring phase")


@command("blockjob", help="Show, throttle or end a disk's block job.")
@domain_argument
@click.argument("path")
@click.option("--abort", is_flag=True, help="Cancel the job.")
@click.option("--async", "asynchronous", is_flag=True, help="Do not wait for the abort.")
@click.option("--pivot", is_flag=True, help="End a ready copy or commit by switching to it.")
@click.option("--info", "info_only", is_flag=True, help="Show the job (the default).")
@click.option("--raw", is_flag=True, help="virsh's raw key=value form.")
@click.option("--bytes", "in_bytes", is_flag=True, help="Bandwidths in bytes/s.")
@click.option("--bandwidth", metavar="MiB/s", help="Set the job's bandwidth.")
@json_option
def cmd_blockjob(state: CliState, domain: str, path: str, abort: bool, asynchronous: bool,
                 pivot: bool, info_only: bool, raw: bool, in_bytes: bool,
                 bandwidth: str | None, as_json: bool) -> None:
    dom = state.domain(domain)
    if abort or pivot:
        with state.api():
            dom.block_job_abort(path, pivot=pivot, asynchronous=asynchronous)
        return
    if bandwidth is not None:
        with state.api():
            dom.block_job_set_speed(path, _bandwidth(bandwidth, in_bytes), bytes=True)
        return
    with state.api():
        info = dom.block_job_info(path, bytes=True)
    if as_json:
        state.json(info)
        return
    if not info:
        if raw:
            state.out(" type=unknown\n")
            return
        state.out(f"No current block job for {path}\n")
        return
    if raw:
        speed = info["bandwidth"] if in_bytes else info["bandwidth"] // MiB
        state.out(f" type={_job_name(info['type'])}\n bandwidth={speed}\n cur={info['cur']}\n"
                  f" end={info['end']}\n")
        return
    _progress(_job_name(info["type"]), info["cur"], info["end"])
    text = ""
    if info["bandwidth"]:
        speed = info["bandwidth"]
        value, unit = float(speed), "B"
        for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
            if value < 1024 or unit == "TiB":
                break
            value /= 1024
        text = f"    Bandwidth limit: {speed} bytes/s ({value:<.3f} {unit}/s)"
    state.out(text + "\n")


@command("blockresize", help="Resize a disk of a running guest.")
@domain_argument
@click.argument("path")
@click.argument("size")
def cmd_blockresize(state: CliState, domain: str, path: str, size: str) -> None:
    try:
        nbytes = parse_scaled(size, 1024)
    except ValueError as exc:
        raise CommandError(f"Unable to parse integer parameter: {exc}") from None
    dom = state.domain(domain)
    with state.failing(f"Failed to resize block device '{path}'"):
        dom.block_resize(path, nbytes, bytes=True)
    state.info(f"Block device '{path}' is resized")


def _human(n: int) -> str:
    value, unit = float(n), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if value < 1024 or unit == "EiB":
            break
        value /= 1024
    return f"{value:.3f} {unit}"


@command("domblkinfo", help="Print a disk's capacity, allocation and physical size.")
@domain_argument
@click.argument("device", required=False)
@click.option("--human", is_flag=True, help="Sizes with units.")
@click.option("--all", "all_disks", is_flag=True, help="Every disk, as a table.")
@json_option
def cmd_domblkinfo(state: CliState, domain: str, device: str | None, human: bool,
                   all_disks: bool, as_json: bool) -> None:
    from lxml import etree

    dom = state.domain(domain)
    if all_disks:
        with state.api():
            root = etree.fromstring(dom.xml_desc().encode())
        targets = [str(t.get("dev")) for t in root.iterfind("devices/disk/target")]
        rows = []
        data = []
        for target in targets:
            with state.api():
                b = dom.block_info(target)
            data.append({"target": target, "capacity": b.capacity,
                         "allocation": b.allocation, "physical": b.physical})
            show = _human if human else str
            rows.append((target, show(b.capacity), show(b.allocation), show(b.physical)))
        if as_json:
            state.json(data)
            return
        state.out(table(("Target", "Capacity", "Allocation", "Physical"), rows))
        return
    if device is None:
        raise CommandError("command 'domblkinfo' requires <device> option", status=1)
    with state.api():
        info = dom.block_info(device)
    if as_json:
        state.json({"capacity": info.capacity, "allocation": info.allocation,
                    "physical": info.physical})
        return
    show = _human if human else str
    state.out(f"{'Capacity:':<15} {show(info.capacity)}\n{'Allocation:':<15} "
              f"{show(info.allocation)}\n{'Physical:':<15} {show(info.physical)}\n")


@command("domblkthreshold", help="Ask for a block-threshold event at an allocation.")
@domain_argument
@click.argument("dev")
@click.argument("threshold")
def cmd_domblkthreshold(state: CliState, domain: str, dev: str, threshold: str) -> None:
    try:
        value = parse_scaled(threshold, 1)
    except ValueError as exc:
        raise CommandError(f"threshold: {exc}") from None
    dom = state.domain(domain)
    with state.api():
        dom.set_block_threshold(dev, value)
