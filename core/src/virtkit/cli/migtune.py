"""virsh's migration tuning commands: migrate-getmaxdowntime, migrate-setmaxdowntime,
migrate-getspeed, migrate-setspeed, migrate-compcache and migrate-postcopy."""

from __future__ import annotations

import click

from virtkit.cli._base import command, domain_argument
from virtkit.cli.fmt import parse_scaled
from virtkit.cli.state import CliState, CommandError


@command("migrate-getmaxdowntime", help="Print the longest switch-over pause (ms).")
@domain_argument
def cmd_migrate_getmaxdowntime(state: CliState, domain: str) -> None:
    dom = state.domain(domain)
    with state.api():
        state.out(f"{dom.migrate_get_max_downtime()}\n")


@command("migrate-setmaxdowntime", help="Set the longest switch-over pause (ms).")
@domain_argument
@click.argument("downtime", type=int)
def cmd_migrate_setmaxdowntime(state: CliState, domain: str, downtime: int) -> None:
    if downtime < 1:
        raise CommandError("migrate: Invalid downtime")
    dom = state.domain(domain)
    with state.api():
        dom.migrate_set_max_downtime(downtime)


@command("migrate-getspeed", help="Print the migration bandwidth limit (MiB/s).")
@domain_argument
@click.option("--postcopy", is_flag=True, help="Of the post-copy phase.")
def cmd_migrate_getspeed(state: CliState, domain: str, postcopy: bool) -> None:
    dom = state.domain(domain)
    with state.api():
        state.out(f"{dom.migrate_get_max_speed(postcopy)}\n")


@command("migrate-setspeed", help="Set the migration bandwidth limit (MiB/s).")
@domain_argument
@click.argument("bandwidth", type=click.IntRange(min=0))
@click.option("--postcopy", is_flag=True, help="Of the post-copy phase.")
def cmd_migrate_setspeed(state: CliState, domain: str, bandwidth: int, postcopy: bool) -> None:
    dom = state.domain(domain)
    with state.api():
        dom.migrate_set_max_speed(bandwidth, postcopy)


@command("migrate-compcache", help="Print or set the migration compression cache size.")
@domain_argument
@click.option("--size", metavar="SIZE", help="The new size (bytes unless a unit is given).")
def cmd_migrate_compcache(state: CliState, domain: str, size: str | None) -> None:
    dom = state.domain(domain)
    if size is not None:
        try:
            nbytes = parse_scaled(size, 1)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        with state.api():
            dom.migrate_set_compression_cache(nbytes)
    with state.api():
        cache = dom.migrate_get_compression_cache()
    value, unit = float(cache), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    state.out(f"Compression cache: {value:.3f} {unit}\n")


@command("migrate-postcopy", help="Switch a running migration to post-copy.")
@domain_argument
def cmd_migrate_postcopy(state: CliState, domain: str) -> None:
    dom = state.domain(domain)
    with state.api():
        dom.migrate_start_post_copy()
