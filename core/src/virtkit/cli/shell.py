"""The interactive shell: ``virtkit #`` prompt, readline history and tab completion.

History lives in ``$XDG_CACHE_HOME/virtkit/history`` (``~/.cache/virtkit/history``). Tab completes
command names in the first word, and a command's options (and domain names, once connected)
after it. ``quit``, ``exit`` or Ctrl-D leave; Ctrl-C abandons the line being typed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from virtkit._userdirs import cache_home
from virtkit.cli.state import CliState

HISTORY_LENGTH = 1000

BANNER = (
    "Welcome to virtkit, the virtualization interactive terminal.\n"
    "\n"
    "Type:  'help' for help with commands\n"
    "       'quit' to quit\n"
    "\n"
)


def history_path() -> Path:
    base = cache_home()
    return Path(base) / "virtkit" / "history"


def prompt(state: CliState) -> str:
    return "virtkit > " if state.read_only else "virtkit # "


class Completer:
    """readline completion: command names first, then the command's options and domains."""

    def __init__(self, state: CliState) -> None:
        self.state = state
        self.matches: list[str] = []

    def candidates(self, line: str, text: str) -> list[str]:
        from virtkit.cli.main import COMMANDS, LOOP_COMMANDS, cli

        words = line.split()
        first_word = not words or (len(words) == 1 and not line.endswith(" "))
        if first_word or line.rstrip().endswith(";"):
            names = sorted([*COMMANDS, *LOOP_COMMANDS])
            return [n + " " for n in names if n.startswith(text)]
        command = cli.get_command(None, words[0])
        if command is None:
            return []
        if text.startswith("-"):
            opts = sorted({o for p in command.params for o in getattr(p, "opts", [])
                           if o.startswith("--")})
            return [o + " " for o in opts if o.startswith(text)]
        if any(p.name == "domain" for p in command.params) and self.state.connected:
            try:
                names = [s.ref.name for s in self.state.conn.list_domain_summaries()]
            except Exception:  # completion must never break the shell
                return []
            return [n + " " for n in sorted(names) if n.startswith(text)]
        return []

    def complete(self, text: str, index: int) -> str | None:
        if index == 0:
            import readline

            self.matches = self.candidates(readline.get_line_buffer()[: readline.get_endidx()],
                                           text)
        return self.matches[index] if index < len(self.matches) else None


def _setup_readline(state: CliState) -> Any:
    try:
        import readline
    except ImportError:  # pragma: no cover - every Linux Python has it
        return None
    path = history_path()
    try:
        readline.read_history_file(path)
    except OSError:
        pass
    readline.set_history_length(HISTORY_LENGTH)
    readline.set_completer(Completer(state).complete)
    readline.set_completer_delims(" \t;")
    if "libedit" in (readline.__doc__ or ""):
        readline.parse_and_bind("bind ^I rl_complete")
    else:
        readline.parse_and_bind("tab: complete")
    return readline


def _save_history(readline: Any) -> None:
    if readline is None:
        return
    path = history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        readline.write_history_file(path)
    except OSError as exc:
        sys.stderr.write(f"error: cannot save history to '{path}': {exc.strerror}\n")


def run_shell(state: CliState) -> int:
    """Read and run commands until quit, exit or end of input; the status of the last one."""
    from virtkit.cli.main import LOOP_COMMANDS, run_args, split_line

    state.interactive = True
    readline = _setup_readline(state)
    if not state.quiet:
        sys.stdout.write(BANNER)
    status = 0
    try:
        while True:
            try:
                line = input(prompt(state))
            except EOFError:
                sys.stdout.write("\n")
                break
            except KeyboardInterrupt:
                sys.stdout.write("\n")
                continue
            try:
                commands = split_line(line)
            except ValueError as exc:
                sys.stderr.write(f"error: cannot parse the line: {exc}\n")
                status = 2
                continue
            for args in commands:
                if args[0] in LOOP_COMMANDS:
                    return status
                status = run_args(state, args)
    finally:
        _save_history(readline)
    return status
