"""virsh's migration tuning commands through the real executable, as one batch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

Run = Callable[..., Any]
NODE = Path(__file__).parent / "data" / "virsh" / "node.xml"


def test_migration_settings(run: Run) -> None:
    r = run("-c", f"test://{NODE}", stdin="""
migrate-getmaxdowntime test
migrate-setmaxdowntime test 75
migrate-getmaxdowntime test
migrate-setspeed test 40
migrate-setspeed test 20 --postcopy
migrate-getspeed test
migrate-getspeed test --postcopy
migrate-compcache test
migrate-compcache test --size 128MiB
migrate-postcopy test
""")
    assert r.stdout == ("300\n\n\n75\n\n\n\n40\n\n20\n\nCompression cache: 64.000 MiB\n\n"
                        "Compression cache: 128.000 MiB\n\n\n")
    assert r.stderr == "error: domain 'test' is not being migrated\n"
