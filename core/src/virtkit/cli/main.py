"""The ``virtkit`` executable: virsh's commands over virtkit's public API.

``virtkit [-c URI] [-r] [-q] [--debug] COMMAND [ARGS]`` runs one command; ``virtkit`` alone reads
commands from stdin (one per line, ``;`` separates several) when stdin is not a terminal, and
starts the interactive shell when it is.

Start-up cost matters (``virtkit list`` should feel like ``virsh list``): this module imports only
click; each command's module is imported when that command runs, and virtkit's core (pluggy,
stevedore, lxml, the driver) only when a command first needs the connection.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any

import click

from virtkit.cli.state import CliState, CommandError, cli_message

# Every command and the module (under virtkit.cli) that defines it as ``cmd_<name>``.
COMMANDS: dict[str, str] = {
    # connection and host
    "uri": "host",
    "hostname": "host",
    "version": "host",
    "nodeinfo": "host",
    "capabilities": "host",
    "domcapabilities": "host",
    "freecell": "host",
    "connect": "host",
    # host CPU, memory and sysinfo
    "cpu-baseline": "hostcpu",
    "cpu-compare": "hostcpu",
    "hypervisor-cpu-baseline": "hostcpu",
    "hypervisor-cpu-compare": "hostcpu",
    "cpu-models": "hostcpu",
    "maxvcpus": "hostcpu",
    "nodecpumap": "hostcpu",
    "nodecpustats": "hostcpu",
    "nodememstats": "hostcpu",
    "node-memory-tune": "hostcpu",
    "freepages": "hostcpu",
    "allocpages": "hostcpu",
    "sysinfo": "hostcpu",
    # domains
    "list": "domain",
    "define": "domain",
    "undefine": "domain",
    "create": "domain",
    "start": "domain",
    "shutdown": "domain",
    "reboot": "domain",
    "reset": "domain",
    "destroy": "domain",
    "suspend": "domain",
    "resume": "domain",
    "save": "domain",
    "restore": "domain",
    "managedsave": "domain",
    "managedsave-remove": "domain",
    "domrename": "domconfig",
    "detach-device-alias": "domconfig",
    "domcontrol": "domhealth",
    "domblkerror": "domhealth",
    "set-lifecycle-action": "domconfig",
    "save-image-dumpxml": "saveimage",
    "save-image-define": "saveimage",
    "save-image-edit": "saveimage",
    "managedsave-dumpxml": "saveimage",
    "managedsave-define": "saveimage",
    "managedsave-edit": "saveimage",
    "dominfo": "domain",
    "domstate": "domain",
    "domid": "domain",
    "domname": "domain",
    "domuuid": "domain",
    "dumpxml": "domain",
    "domxml-from-native": "domain",
    "domxml-to-native": "domain",
    "edit": "domain",
    "autostart": "domain",
    "attach-device": "domain",
    "detach-device": "domain",
    "update-device": "domain",
    "setmem": "domain",
    "setmaxmem": "domain",
    "setvcpus": "domain",
    "vcpucount": "domain",
    "domifaddr": "domain",
    "domjobinfo": "domain",
    "domjobabort": "domain",
    # domain devices, statistics, console and migration
    "domblklist": "domdev",
    "domiflist": "domdev",
    "domstats": "domdev",
    "attach-disk": "domdev",
    "attach-interface": "domdev",
    "detach-disk": "domdev",
    "detach-interface": "domdev",
    "console": "domdev",
    "migrate": "domdev",
    # snapshots
    "snapshot-create": "snapshot",
    "snapshot-create-as": "snapshot",
    "snapshot-list": "snapshot",
    "snapshot-current": "snapshot",
    "snapshot-revert": "snapshot",
    "snapshot-delete": "snapshot",
    "snapshot-dumpxml": "snapshot",
    "snapshot-parent": "snapshot",
    # networks
    "net-list": "network",
    "net-define": "network",
    "net-create": "network",
    "net-start": "network",
    "net-destroy": "network",
    "net-undefine": "network",
    "net-autostart": "network",
    "net-dumpxml": "network",
    "net-info": "network",
    "net-dhcp-leases": "network",
    "net-edit": "network",
    "net-name": "network",
    "net-uuid": "network",
    "net-update": "netupdate",
    "net-event": "objevents",
    # host interfaces
    "iface-list": "iface",
    "iface-define": "iface",
    "iface-start": "iface",
    "iface-destroy": "iface",
    "iface-undefine": "iface",
    "iface-dumpxml": "iface",
    "iface-mac": "iface",
    "iface-name": "iface",
    "iface-edit": "iface",
    # host devices
    "nodedev-list": "nodedev",
    "nodedev-dumpxml": "nodedev",
    "nodedev-info": "nodedev",
    "nodedev-autostart": "nodedev",
    "nodedev-create": "nodedev",
    "nodedev-define": "nodedev",
    "nodedev-start": "nodedev",
    "nodedev-undefine": "nodedev",
    "nodedev-destroy": "nodedev",
    "nodedev-detach": "nodedev",
    "nodedev-reattach": "nodedev",
    "nodedev-reset": "nodedev",
    "nodedev-event": "nodedev",
    # guest agent
    "domfsinfo": "agent",
    "domfsfreeze": "agent",
    "domfsthaw": "agent",
    "domfstrim": "agent",
    "domtime": "agent",
    "set-user-password": "agent",
    "guestinfo": "agent",
    "guestvcpus": "agent",
    "get-user-sshkeys": "agent",
    "set-user-sshkeys": "agent",
    "domhostname": "agent",
    # block jobs and block devices
    "blockpull": "blockjobs",
    "blockcommit": "blockjobs",
    "blockcopy": "blockjobs",
    "blockjob": "blockjobs",
    "blockresize": "blockjobs",
    "domblkinfo": "blockjobs",
    "domblkthreshold": "blockjobs",
    # statistics and tuning
    "vcpuinfo": "tuning",
    "vcpupin": "tuning",
    "emulatorpin": "tuning",
    "setvcpu": "tuning",
    "iothreadinfo": "tuning",
    "iothreadadd": "tuning",
    "iothreaddel": "tuning",
    "iothreadpin": "tuning",
    "iothreadset": "tuning",
    "cpu-stats": "tuning",
    "schedinfo": "tuning",
    "memtune": "tuning",
    "numatune": "tuning",
    "blkiotune": "tuning",
    "blkdeviotune": "tuning",
    "domiftune": "tuning",
    "perf": "tuning",
    "domdirtyrate-calc": "tuning",
    "dommemstat": "tuning",
    "metadata": "tuning",
    "desc": "tuning",
    # checkpoints and backup
    "checkpoint-create": "checkpoint",
    "checkpoint-create-as": "checkpoint",
    "checkpoint-list": "checkpoint",
    "checkpoint-info": "checkpoint",
    "checkpoint-parent": "checkpoint",
    "checkpoint-dumpxml": "checkpoint",
    "checkpoint-delete": "checkpoint",
    "backup-begin": "checkpoint",
    "backup-dumpxml": "checkpoint",
    # network filters
    "nwfilter-define": "nwfilter",
    "nwfilter-undefine": "nwfilter",
    "nwfilter-dumpxml": "nwfilter",
    "nwfilter-list": "nwfilter",
    "nwfilter-binding-create": "nwfilter",
    "nwfilter-binding-delete": "nwfilter",
    "nwfilter-binding-dumpxml": "nwfilter",
    "nwfilter-binding-list": "nwfilter",
    # screen, input, power management and dumps
    "screenshot": "graphics",
    "send-key": "graphics",
    "inject-nmi": "graphics",
    "send-process-signal": "graphics",
    "dompmsuspend": "graphics",
    "dompmwakeup": "graphics",
    "dump": "graphics",
    # migration tuning
    "migrate-getmaxdowntime": "migtune",
    "migrate-setmaxdowntime": "migtune",
    "migrate-getspeed": "migtune",
    "migrate-setspeed": "migtune",
    "migrate-compcache": "migtune",
    "migrate-postcopy": "migtune",
    # secrets
    "secret-define": "secret",
    "secret-undefine": "secret",
    "secret-dumpxml": "secret",
    "secret-list": "secret",
    "secret-get-value": "secret",
    "secret-set-value": "secret",
    "secret-event": "secret",
    # storage pools and volumes
    "pool-list": "storage",
    "pool-capabilities": "poolsources",
    "find-storage-pool-sources": "poolsources",
    "find-storage-pool-sources-as": "poolsources",
    "pool-define": "storage",
    "pool-define-as": "storage",
    "pool-create": "storage",
    "pool-create-as": "storage",
    "pool-build": "storage",
    "pool-start": "storage",
    "pool-destroy": "storage",
    "pool-delete": "storage",
    "pool-undefine": "storage",
    "pool-refresh": "storage",
    "pool-info": "storage",
    "pool-dumpxml": "storage",
    "pool-autostart": "storage",
    "pool-name": "storage",
    "pool-uuid": "storage",
    "pool-edit": "storage",
    "pool-event": "objevents",
    "vol-list": "storage",
    "vol-create": "storage",
    "vol-create-as": "storage",
    "vol-clone": "storage",
    "vol-delete": "storage",
    "vol-wipe": "storage",
    "vol-resize": "storage",
    "vol-upload": "storage",
    "vol-download": "storage",
    "vol-info": "storage",
    "vol-dumpxml": "storage",
    "vol-path": "storage",
    "vol-key": "storage",
    "vol-pool": "storage",
    "vol-name": "storage",
    # events
    "event": "event",
    # beyond virsh
    "drivers": "extra",
    "admin": "admin",
    "pki": "pki",
    "completion": "extra",
    "help": "extra",
}

# Handled by the shell and batch loops themselves.
LOOP_COMMANDS = ("quit", "exit")

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}


class Root(click.Group):
    """The command group; loads a command's module only when that command is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context | None, cmd_name: str) -> click.Command | None:
        module_name = COMMANDS.get(cmd_name)
        if module_name is None:
            return None
        import importlib

        module = importlib.import_module(f"{__package__}.{module_name}")
        command: click.Command = getattr(module, "cmd_" + cmd_name.replace("-", "_"))
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0]
        command = self.get_command(ctx, name)
        if command is None:
            raise click.UsageError(f"unknown command: '{name}'", ctx)
        return name, command, args[1:]


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from virtkit.version import __version__

        click.echo(__version__)
        ctx.exit(0)


def _long_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``-V``: the version and what is installed, as ``virsh -V`` prints what it was built with."""
    if value and not ctx.resilient_parsing:
        from virtkit.runtime.registry import drivers
        from virtkit.version import __version__

        click.echo(f"Virtkit command line tool, version {__version__}")
        schemes = [d.scheme for d in drivers() if not d.broken]
        click.echo(f"\nInstalled drivers: {' '.join(schemes) or '(none)'}")
        ctx.exit(0)


@click.group(cls=Root, invoke_without_command=True, context_settings=CONTEXT_SETTINGS)
@click.option("-c", "--connect", "uri", metavar="URI", envvar=None,
              help="Hypervisor connection URI (default: VIRTKIT_DEFAULT_URI, the "
                   "configuration, then a probe).")
@click.option("-r", "--readonly", is_flag=True, help="Connect read-only.")
@click.option("-q", "--quiet", is_flag=True, help="Quiet mode: no informational messages.")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging on errors.")
@click.option("-v", "--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_version, help="Print virtkit's version and exit.")
@click.option("-V", "long_version", is_flag=True, expose_value=False, is_eager=True,
              callback=_long_version, help="Print the version and the installed drivers.")
@click.pass_context
def cli(ctx: click.Context, uri: str | None, readonly: bool, quiet: bool, debug: bool) -> None:
    """virtkit: virsh's commands for every virtkit driver.

    Without a COMMAND, commands are read from stdin (one per line) when it is not a terminal, and
    an interactive shell starts when it is.
    """
    state = ctx.ensure_object(CliState)
    state.uri, state.read_only, state.quiet, state.debug = uri, readonly, quiet, debug
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="debug: %(name)s: %(message)s")
    if ctx.invoked_subcommand is not None:
        return
    if sys.stdin.isatty():
        from virtkit.cli.shell import run_shell

        ctx.exit(run_shell(state))
    ctx.exit(run_lines(state, sys.stdin))


# -- running commands ---------------------------------------------------------------------------


def report(state: CliState, exc: BaseException) -> int:
    """Print ``exc`` as virsh does (``error: ...`` on stderr) and return the exit status."""
    from virtkit import VirtError

    if state.debug and not isinstance(exc, (click.exceptions.Exit, KeyboardInterrupt)):
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, click.exceptions.Exit):
        return exc.exit_code
    if isinstance(exc, CommandError):
        for line in exc.lines:
            _err(line)
        return exc.status
    if isinstance(exc, VirtError):
        _err(cli_message(exc.message))
        return 1
    if isinstance(exc, click.UsageError):
        where = exc.ctx.command.name if exc.ctx is not None and exc.ctx.parent else None
        message = exc.format_message()
        _err(f"{where}: {message}" if where and where != "cli" else message)
        return 2
    if isinstance(exc, click.Abort):
        _err("aborted")
        return 1
    if isinstance(exc, click.ClickException):
        _err(exc.format_message())
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        _err("interrupted")
        return 130
    if isinstance(exc, BrokenPipeError):
        return 1
    _err(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
    return 1


def _err(line: str) -> None:
    try:
        sys.stderr.write(f"error: {line}\n")
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass


def run_args(state: CliState, args: Sequence[str]) -> int:
    """Run one command (``args[0]`` and its arguments) on ``state``'s connection."""
    name = args[0]
    command = cli.get_command(None, name)
    if command is None:
        _err(f"unknown command: '{name}'")
        return 2
    try:
        command.main(list(args[1:]), prog_name=name, standalone_mode=False, obj=state)
    except BaseException as exc:  # every failure becomes "error: ..." and a status
        if isinstance(exc, SystemExit):
            return exc.code if isinstance(exc.code, int) else 1
        return report(state, exc)
    finally:
        sys.stdout.flush()
    return 0


def split_line(line: str) -> list[list[str]]:
    """Commands on one line: shell-like quoting, ``;`` between commands, ``#`` comments."""
    import shlex

    lexer = shlex.shlex(line, posix=True, punctuation_chars=";")
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token and set(token) == {";"}:
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def run_lines(state: CliState, lines: Iterable[str]) -> int:
    """Batch mode: run each line's commands; the status is the worst of them (0, 1 or 2)."""
    status = 0
    for line in lines:
        try:
            commands = split_line(line)
        except ValueError as exc:
            _err(f"cannot parse '{line.strip()}': {exc}")
            status = max(status, 2)
            continue
        for args in commands:
            if args[0] in LOOP_COMMANDS:
                return status
            status = max(status, run_args(state, args))
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``virtkit`` console script; returns the exit status.

    Called without ``argv`` (as the console script calls it, owning the process) it ends the
    process itself once the command is done and its output flushed: the interpreter's teardown
    (collecting every module's objects) is a good part of a short command's wall time and does
    nothing the command needs. Called with ``argv`` (tests, embedding) it returns.
    """
    status = _main(argv)
    if argv is None and sys.flags.inspect == 0:
        _fast_exit(status)
    return status


def _fast_exit(status: int) -> None:
    """Flush what the command wrote and leave without the interpreter's teardown."""
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass
    threading = sys.modules.get("threading")
    # A non-daemon thread still running (none of ours should be) keeps the normal exit.
    if threading is not None and any(
        t is not threading.main_thread() and t.is_alive() and not t.daemon
        for t in threading.enumerate()
    ):
        return
    import atexit

    # What the program registered to run at exit still runs (logging.shutdown flushes an audit
    # log's file handler, weakref finalizers close descriptors); only the teardown is skipped.
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass
    os._exit(status)


def _main(argv: Sequence[str] | None) -> int:
    state = CliState()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        try:
            result = cli.main(args, prog_name="virtkit", standalone_mode=False, obj=state)
        except BaseException as exc:  # no traceback reaches the user
            if isinstance(exc, SystemExit):
                return exc.code if isinstance(exc.code, int) else 1
            return report(state, exc)
        finally:
            try:
                sys.stdout.flush()
            except BrokenPipeError:
                pass
        return result if isinstance(result, int) else 0
    finally:
        state.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
