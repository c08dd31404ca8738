"""What ``virtkit list`` imports: the import set is asserted (start-up time is measured by
bench/cli_startup.py, never here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
from virtkit.cli.main import main
status = main(sys.argv[1:])
sys.stdout.flush()
print(json.dumps({"status": status, "modules": sorted(sys.modules)}), file=sys.stderr)
"""

# The command line's own modules that `list` needs: the entry point, the shared state, the
# command's module and the table formatting. Every other command's module stays unloaded.
CLI_MODULES = {"virtkit.cli", "virtkit.cli._base", "virtkit.cli.domain", "virtkit.cli.fmt",
               "virtkit.cli.main", "virtkit.cli.state"}

# Nothing `list` on a local driver needs: the daemon and the remote driver, host services,
# other drivers' back ends, crypto and wire formats, event loops, terminals and editors.
FORBIDDEN_PREFIXES = (
    "virtkit.daemon", "virtkit.remote", "virtkit.services", "virtkit.api.stream",
    "virtkit.api.snapshot", "virtkit.api.migration", "virtkit_",
    "cryptography", "scramp", "msgpack", "pyroute2", "asyncio", "concurrent", "readline",
    "curses", "ssl", "subprocess", "shlex", "hypothesis", "pytest", "xml.sax",
    "xml.dom", "http", "urllib.request", "email.mime", "ctypes", "multiprocessing",
)


def _imports(tmp_path: Path, *args: str) -> tuple[int, set[str]]:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    return report["status"], set(report["modules"])


def test_list_imports_only_what_it_needs(tmp_path: Path) -> None:
    status, modules = _imports(tmp_path, "-c", "test:///default", "list", "--all")
    assert status == 0
    cli = {m for m in modules if m.startswith("virtkit.cli")}
    assert cli == CLI_MODULES
    unwanted = sorted(m for m in modules
                      if any(m == p or m.startswith(p + ".") or (p.endswith("_") and
                                                                   m.startswith(p))
                             for p in FORBIDDEN_PREFIXES))
    assert unwanted == []


def test_version_imports_no_core(tmp_path: Path) -> None:
    """``-v`` needs neither the API nor a driver nor the registry."""
    status, modules = _imports(tmp_path, "-v")
    assert status == 0
    assert not any(m.startswith(("virtkit.api", "virtkit.runtime", "virtkit.drivers", "pluggy",
                                 "stevedore", "lxml", "virtkit.xml")) for m in modules)


CLIENT_PROBE = """
import json, sys
before = set(sys.modules)
from virtkit.cli.launch import run_through_server
status = run_through_server(sys.argv[1:])
print(json.dumps({"status": status, "modules": sorted(set(sys.modules) - before)}))
"""


def test_the_warm_servers_client_imports_only_builtins(tmp_path: Path) -> None:
    """The ``virtkit`` entry point's client (virtkit.cli.launch) is the whole cost of a served
    command: it imports modules built into the interpreter and nothing of virtkit's core."""
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_RUNTIME_DIR=str(runtime),
               VIRTKIT_CLI_SERVER="1")
    # no server answers yet: it would start one; point it at a path where none can be made
    (runtime / "virtkit").mkdir(mode=0o755)
    proc = subprocess.run([sys.executable, "-c", CLIENT_PROBE, "list"], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["status"] is None  # nobody answered: the command runs in the process
    allowed = {"__future__", "virtkit", "virtkit.version", "virtkit.cli", "virtkit.cli.launch",
               "virtkit._userdirs",  # os alone: the user's directories
               "zlib", "_socket", "array", "marshal", "_signal", "atexit"}
    assert set(report["modules"]) <= allowed
