"""virsh's power management and dump commands through the real executable, as one batch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

Run = Callable[..., Any]
NODE = Path(__file__).parent / "data" / "virsh" / "node.xml"


def test_pm_suspend_wakeup_and_dump(run: Run, tmp_path: Path) -> None:
    r = run("-c", f"test://{NODE}", stdin="""
dompmsuspend test mem
domstate test --reason
dompmsuspend test mem
dompmwakeup test
domstate test --reason
dump test core.kd --memory-only --format kdump-lzo --crash
domstate test --reason
send-key test KEY_A
""")
    assert r.stdout == (
        "Domain 'test' successfully suspended\n\n"
        "pmsuspended (unknown)\n\n"
        "\n"
        "Domain 'test' successfully woken up\n\n"
        "running (event wakeup)\n\n"
        "\nDomain 'test' dumped to core.kd\n\n"
        "shut off (crashed)\n\n"
        "\n"
    )
    assert r.stderr.splitlines() == [
        "error: Domain 'test' could not be suspended",
        "error: domain 'test' is not running",
        "error: domain 'test' is not running",
    ]
    assert (tmp_path / "core.kd").read_bytes().startswith(b"KDUMP")
