"""Helpers for running the installed ``virtkit`` executable."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest


def virtkit_executable() -> str:
    """The ``virtkit`` console script installed next to this Python."""
    scripts = Path(sysconfig.get_path("scripts")) / "virtkit"
    if scripts.exists():
        return str(scripts)
    found = shutil.which("virtkit", path=os.path.dirname(sys.executable))
    if found is None:
        pytest.fail("the virtkit console script is not installed (pip install -e core)")
    return found


@attrs.frozen
class Result:
    status: int
    stdout: str
    stderr: str


Run = Callable[..., Result]


@pytest.fixture(autouse=True)
def _empty_config_file() -> None:
    """The suite's VIRTKIT_CONFIG names a file in a fresh directory; the command line refuses a
    configuration file that does not exist, so make it (empty)."""
    named = os.environ.get("VIRTKIT_CONFIG")
    if named and not os.path.exists(named):
        Path(named).write_text("")


@pytest.fixture
def virtkit_exe() -> str:
    return virtkit_executable()


@pytest.fixture
def run(tmp_path: Path) -> Run:
    """``run(*args, stdin=None, env=None)``: the executable's exit status, stdout and stderr."""
    exe = virtkit_executable()

    def _run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
             timeout: float = 60) -> Result:
        full_env = dict(os.environ)
        full_env.setdefault("XDG_CACHE_HOME", str(tmp_path / "cache"))
        full_env.update(env or {})
        proc = subprocess.run(
            [exe, *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
            cwd=tmp_path,
        )
        assert "Traceback" not in proc.stderr or "--debug" in args, proc.stderr
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return _run
