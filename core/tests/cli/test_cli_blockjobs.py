"""virsh's block job commands through the real executable, as one batch (state carries)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

Run = Callable[..., Any]
NODE = Path(__file__).parent / "data" / "virsh" / "node.xml"


def test_copy_info_speed_pivot(run: Run, tmp_path: Path) -> None:
    dest = tmp_path / "copy.img"
    r = run("-c", f"test://{NODE}", stdin=f"""
blockjob test vda
blockcopy test vda --dest {dest}
blockjob test vda --raw
blockjob test vda --bandwidth 10
blockjob test vda
blockjob test vda --pivot
domblklist test
blockcommit test vda --active --wait --pivot
blockcommit test vda --active
blockpull test vda
blockresize test vda 2G
domblkinfo test vda
""")
    assert r.stdout == (
        "No current block job for vda\n\n"
        "Block Copy started\n\n"
        " type=Block Copy\n bandwidth=0\n cur=1099511627776\n end=1099511627776\n\n"
        "\n"
        "    Bandwidth limit: 10485760 bytes/s (10.000 MiB/s)\n\n"
        "\n"
        f" Target   Source\n{'-' * (12 + len(str(dest)))}\n vda      {dest}\n\n"
        "\n"
        "\n"
        "Block Pull started\n\n"
        "Block device 'vda' is resized\n\n"
        "Capacity:       2147483648\nAllocation:     1099511627776\nPhysical:       "
        "1099511627776\n\n"
    )
    assert "Block Copy: [100 %]" in r.stderr  # virsh draws progress on stderr
    # the copy's shallow=False pivot left no backing chain: nothing to commit
    assert "has no backing chain to commit into" in r.stderr


def test_blockjob_json_and_errors(run: Run) -> None:
    uri = f"test://{NODE}"
    r = run("-c", uri, "blockjob", "test", "vda", "--json")
    assert r.status == 0 and json.loads(r.stdout) == {}
    r = run("-c", uri, "domblkinfo", "test", "--all", "--json")
    assert json.loads(r.stdout)[0]["target"] == "vda"
    r = run("-c", uri, "blockresize", "test", "vdz", "1G")
    assert r.status == 1
    assert r.stderr.startswith("error: Failed to resize block device 'vdz'\n")
    r = run("-c", uri, "blockcopy", "test", "vda")
    assert r.status == 1 and "need either --dest or --xml" in r.stderr
