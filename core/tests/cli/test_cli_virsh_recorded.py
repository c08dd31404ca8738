"""Commands whose output must match virsh's on libvirt's test driver: each line of
data/virsh/commands.txt was run as ``virsh -c test:///default ARGS`` (libvirt 9.0; recorded by
data/virsh/record.sh into NAME.out and NAME.status) and is run here as ``virtkit -c
test:///.../node.xml ARGS`` against data/virsh/node.xml, which holds libvirt's default test
domain. Output and exit status must be the same."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data" / "virsh"
Run = Callable[..., Any]


def _commands() -> list[tuple[str, str]]:
    out = []
    for line in (DATA / "commands.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, args = line.partition(": ")
            out.append((name, args))
    return out


@pytest.mark.parametrize(("name", "args"), _commands(), ids=[n for n, _ in _commands()])
def test_output_matches_recorded_virsh(run: Run, name: str, args: str) -> None:
    r = run("-c", f"test://{DATA / 'node.xml'}", *args.split())
    assert r.status == int((DATA / f"{name}.status").read_text()), r.stderr
    assert r.stdout == (DATA / f"{name}.out").read_text()
