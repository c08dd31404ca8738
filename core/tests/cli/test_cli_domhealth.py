"""domcontrol, domblkerror and dominfo's messages: virsh's formats and refusals."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

Run = Callable[..., Any]  # the ``run`` fixture of conftest.py
DEFAULT = ("-c", "test:///default")


def test_domcontrol_and_domblkerror(run: Run) -> None:
    r = run(*DEFAULT, stdin="domcontrol test\ndomblkerror test\ndestroy test\n"
                            "domcontrol test\ndomblkerror test\n")
    assert r.stdout.startswith("ok\n\nvda: unspecified error\n"), r.stdout
    assert r.stderr.count("error: domain 'test' is not running\n") == 2
    r = run(*DEFAULT, "domblkerror", "test", "--json")
    assert json.loads(r.stdout) == {"vda": "unspecified error"}
    r = run(*DEFAULT, "domcontrol", "test", "--json")
    assert json.loads(r.stdout) == {"state": "ok", "details": 0, "state_time_ms": 0}


def test_dominfo_shows_messages(run: Run, tmp_path: Path) -> None:
    cdrom = tmp_path / "cdrom.xml"
    cdrom.write_text("<disk type='block' device='cdrom'><source dev='/dev/sr0'/>"
                     "<target dev='sda' bus='sata'/><readonly/></disk>")
    r = run(*DEFAULT, stdin=f"dominfo test\nattach-device test {cdrom} --config\n"
                            f"destroy test\nstart test\ndominfo test\n")
    assert r.status == 0, r.stderr
    assert "Messages:" not in r.stdout.split("attached")[0]
    assert "Messages:       tainted: use of host cdrom passthrough\n" in r.stdout
