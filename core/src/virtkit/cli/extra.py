"""Commands beyond virsh's: ``drivers`` (installed drivers and the support matrix),
``completion`` (bash and zsh scripts), and ``help``."""

from __future__ import annotations

from typing import Any

import click

from virtkit.cli._base import command, json_option
from virtkit.cli.fmt import table
from virtkit.cli.state import CliState


@command("drivers", help="List installed drivers, or (--matrix) what each supports.")
@click.option("--matrix", is_flag=True, help="The support matrix: operations by driver.")
@json_option
def cmd_drivers(state: CliState, matrix: bool, as_json: bool) -> None:
    from virtkit.runtime.registry import drivers

    entries = drivers()
    if matrix:
        _matrix(state, [e.scheme for e in entries if not e.broken], as_json)
        return
    if as_json:
        state.json([
            {"scheme": e.scheme, "distribution": e.distribution, "version": e.version,
             "target": e.target, "broken": e.broken, "error": e.error}
            for e in entries
        ])
        return
    rows = [
        [e.scheme, e.distribution or "-", e.version or "-", e.target,
         f"broken: {e.error}" if e.broken else "ok"]
        for e in entries
    ]
    state.out(table(["Scheme", "Distribution", "Version", "Driver", "Status"], rows,
                    show_header=not state.quiet))


def _matrix(state: CliState, schemes: list[str], as_json: bool) -> None:
    from virtkit.runtime.registry import load_driver
    from virtkit.sdk.hookspecs import PREFIX, all_specs

    ops = sorted(name[len(PREFIX):] for name in all_specs())
    supported: dict[str, set[str]] = {}
    for scheme in schemes:
        cls: Any = load_driver(scheme)
        supported[scheme] = {op for op in ops if callable(getattr(cls, PREFIX + op, None))}
    if as_json:
        state.json({scheme: {op: op in supported[scheme] for op in ops} for scheme in schemes})
        return
    rows = [[op] + ["yes" if op in supported[s] else "no" for s in schemes] for op in ops]
    state.out(table(["Operation", *schemes], rows, show_header=not state.quiet))


@command("completion", help="Print the shell completion script for bash or zsh.")
@click.argument("shell", type=click.Choice(["bash", "zsh"]))
def cmd_completion(state: CliState, shell: str) -> None:
    from click.shell_completion import get_completion_class

    from virtkit.cli.main import cli

    state.trailer = False
    cls = get_completion_class(shell)
    assert cls is not None  # click ships both
    state.out(cls(cli, {}, "virtkit", "_VIRTKIT_COMPLETE").source())


@command("help", help="Print help for virtkit or for one command.")
@click.argument("name", required=False, metavar="[COMMAND]")
@click.pass_context
def cmd_help(ctx: click.Context, state: CliState, name: str | None) -> None:
    from virtkit.cli.main import cli
    from virtkit.cli.state import CommandError

    state.trailer = False
    if name is None:
        with click.Context(cli, info_name="virtkit") as root:
            state.out(cli.get_help(root) + "\n")
        return
    command = cli.get_command(ctx, name)
    if command is None:
        raise CommandError(f"command '{name}' doesn't exist", status=2)
    with click.Context(command, info_name=name) as sub:
        state.out(command.get_help(sub) + "\n")
