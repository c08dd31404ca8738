"""``edit``: open XML in the user's editor, redefine it, and offer to retry on error (as virsh)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable

from virtkit.cli.state import CliState, CommandError

RETRY_HELP = (
    "y - yes, start editor again\n"
    "n - no, throw away my changes\n"
    "i - turn off validation and try to redefine again\n"
    "f - force, try to redefine again\n"
    "? - print this help\n"
)


def editor_command() -> list[str]:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    return shlex.split(editor)


def run_editor(path: str) -> None:
    argv = [*editor_command(), path]
    try:
        result = subprocess.run(argv, check=False)
    except OSError as exc:
        raise CommandError(f"cannot run editor '{argv[0]}': {exc.strerror or exc}") from exc
    if result.returncode != 0:
        raise CommandError(f"editor '{argv[0]}' exited with status {result.returncode}")


def ask(prompt: str) -> str:
    """One answer from the user; 'n' when there is nobody to ask."""
    if not sys.stdin.isatty():
        return "n"
    try:
        return input(prompt).strip().lower()[:1]
    except EOFError:
        return "n"


def edit_loop(
    state: CliState,
    original: str,
    redefine: Callable[[str, bool], str],
    validate: bool = True,
) -> str | None:
    """Edit ``original`` until ``redefine(xml, validate)`` accepts it or the user gives up.

    Returns what ``redefine`` returned, or None when the text was not changed.
    """
    from virtkit import VirtError

    fd, path = tempfile.mkstemp(prefix="virtkit-edit-", suffix=".xml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(original)
        edit_again = True
        while True:
            if edit_again:
                run_editor(path)
            with open(path, encoding="utf-8") as f:
                edited = f.read()
            if edited == original:
                return None
            try:
                return redefine(edited, validate)
            except VirtError as exc:
                sys.stderr.write(f"error: {exc.message}\n")
                while True:
                    answer = ask("Failed. Try again? [y,n,i,f,?]: ")
                    if answer == "?":
                        sys.stdout.write(RETRY_HELP)
                        continue
                    break
                if answer == "y":
                    edit_again = True
                elif answer in ("i", "f"):
                    validate, edit_again = False, False
                else:
                    raise CommandError("the XML was not changed: "
                                       "the edited document was refused") from exc
    finally:
        os.unlink(path)
