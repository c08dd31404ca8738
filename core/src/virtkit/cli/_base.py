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
        made: click.Command = click.command(name, cls=click.Command, **kwargs)(run)
        return made

    return decorate


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
