"""Put the fake ``VBoxManage`` on PATH: a launcher in ``bindir`` that runs ``fake/VBoxManage``
with this interpreter (no shell shims between: each VBoxManage call is a process start)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FAKE = HERE / "VBoxManage"


def install(bindir: Path) -> Path:
    bindir.mkdir(parents=True, exist_ok=True)
    exe = bindir / "VBoxManage"
    python = os.path.realpath(sys.executable)
    exe.write_text(  # the fake as an imported module: its bytecode is cached between calls
        f"#!{python} -IS\n"
        "import sys\n"
        f"sys.path.insert(0, {str(HERE)!r})\n"
        "import fakevbox\n"
        "sys.exit(fakevbox.main(sys.argv[1:]))\n"
    )
    exe.chmod(0o755)
    return exe


def environment(root: Path, version: str = "7.0.14") -> dict[str, str]:
    """Variables for a fake VirtualBox living under ``root`` (its own HOME and state)."""
    bindir = root / "bin"
    install(bindir)
    return {
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(root / "home"),
        "VBOX_USER_HOME": str(root / "home" / ".config" / "VirtualBox"),
        "VIRTKIT_STATE_ROOT": str(root / "virtkit"),
        "FAKE_VBOX_VERSION": version,
        "FAKE_VBOX_LOG": str(root / "vboxmanage.log"),
    }


def calls(root: Path) -> list[list[str]]:
    """Every VBoxManage argument list the fake under ``root`` received, in order."""
    import json

    log = root / "vboxmanage.log"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]
