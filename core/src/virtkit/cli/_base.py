"""Building blocks for commands: the decorator that hands a command the shared state and prints
virsh's blank line after it, the DOMAIN argument (with completion), and ``--json``."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from virtkit.cli.state import CliState

F = TypeVar("F", bound=Callable[..., Any])


def command(name: str, **kwargs: Any) -> Callable[[Callable[..., None]], click.Command]:
    """A click command whose callback receives the :class:`CliState` first.

    After the command (whether it succeeded or failed) a blank line is printed as virsh does,
    unless ``-q`` or the command printed JSON.
    """

    def decorate(fn: Callable[..., None]) -> click.Command:
        @functools.wraps(fn)
        def run(*args: Any, **kw: Any) -> None:
            state = click.get_current_context().ensure_object(CliState)
            state.trailer = True
            try:
                fn(state, *args, **kw)
            finally:
                if state.trailer and not state.quiet:
                    sys.stdout.write("\n")

        kwargs.setdefault("context_settings", {"help_option_names": ["-h", "--help"]})
        made: click.Command = click.command(name, cls=VirshCommand, **kwargs)(run)
        return made

    return decorate


# Where virsh names an argument differently from the Python parameter behind it.
VIRSH_NAMES: dict[str, str] = {"kind": "type", "pool_name": "name"}
# Per command, where the name differs only there.
VIRSH_COMMAND_NAMES: dict[tuple[str, str], str] = {
    ("snapshot-create", "file"): "xmlfile",
    ("help", "name"): "command",
}


class VirshCommand(click.Command):
    """A command whose positional arguments may also be given as virsh names them
    (``dominfo --domain web``, ``vol-create-as --pool P --name N --capacity 1G``), in any order
    and mixed with positional ones: named values take their argument, and the positional values
    fill the remaining arguments in order, as virsh's parser does."""

    def named_arguments(self) -> dict[str, click.Argument]:
        """``--flag`` -> the single-valued argument it names (flags an option already uses are
        left to that option)."""
        taken = {o for p in self.params if isinstance(p, click.Option) for o in p.opts}
        named: dict[str, click.Argument] = {}
        for param in self.params:
            if isinstance(param, click.Argument) and param.nargs == 1 and param.name:
                word = VIRSH_COMMAND_NAMES.get((self.name or "", param.name)) or \
                    VIRSH_NAMES.get(param.name) or param.name.replace("_", "-")
                flag = "--" + word
                if flag not in taken:
                    named[flag] = param
        return named

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        flags = self.named_arguments()
        given: dict[str, str] = {}
        rest: list[str] = []
        i = 0
        while i < len(args):
            token = args[i]
            if token == "--":
                rest.extend(args[i:])
                break
            flag, eq, value = token.partition("=")
            param = flags.get(flag)
            if param is None or param.name is None:
                rest.append(token)
            elif eq:
                given[param.name] = value
            elif i + 1 < len(args):
                given[param.name] = args[i + 1]
                i += 1
            else:
                raise click.UsageError(f"expected syntax: {flag} <string>", ctx)
            i += 1
        if not given:
            return super().parse_args(ctx, args)
        arguments = [p for p in self.params if isinstance(p, click.Argument)]
        required = {p.name: p.required for p in arguments}
        try:
            for p in arguments:
                p.required = False
            remaining = super().parse_args(ctx, rest)
        finally:
            for p in arguments:
                p.required = required[p.name]
        # click filled the first arguments with the positional values; move them to the
        # arguments that were not named, in order.
        positional = [ctx.params.get(p.name) for p in arguments
                      if p.nargs == 1 and ctx.params.get(p.name) is not None]
        for p in arguments:
            if p.nargs != 1 or p.name is None:
                continue
            if p.name in given:
                ctx.params[p.name] = p.type_cast_value(ctx, given[p.name])
            elif positional:
                ctx.params[p.name] = positional.pop(0)
            else:
                ctx.params[p.name] = None
                if p.required:
                    raise click.MissingParameter(ctx=ctx, param=p)
        if positional:
            raise click.UsageError(f"unexpected data '{positional[0]}'", ctx)
        return remaining


def _complete_domains(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[click.shell_completion.CompletionItem]:
    """Domain names for shell completion (the root's ``-c`` if given)."""
    from click.shell_completion import CompletionItem

    root = ctx.find_root()
    uri = root.params.get("uri")
    try:
        import virtkit

        with virtkit.open(uri, read_only=True) as conn:
            names = [s.ref.name for s in conn.list_domain_summaries()]
    except Exception:  # completion must never fail loudly
        return []
    return [CompletionItem(n) for n in sorted(names) if n.startswith(incomplete)]


def domain_argument(fn: F) -> F:
    """The DOMAIN positional argument: a name, an id or a uuid."""
    return click.argument("domain", metavar="DOMAIN", shell_complete=_complete_domains)(fn)


def json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print JSON instead of virsh's text.")(fn)


def read_file(path: str, what: str = "file") -> str:
    """A file's text; ``-`` is stdin. Failure is a command error naming the file."""
    from virtkit.cli.state import CommandError

    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise CommandError(f"failed to read {what} '{path}': {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CommandError(f"{what} '{path}' is not UTF-8 text: {exc}") from exc
