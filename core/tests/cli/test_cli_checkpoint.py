"""virsh's checkpoint-* and backup-* commands through the real executable, compared with virsh's
output on libvirt's test driver (data/virsh/checkpoints.txt, one virsh session recorded as its
README says, as one ``virsh -c test:///default 'cmd; cmd...'`` line; creation times differ
and are masked)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

Run = Callable[..., Any]  # the ``run`` fixture of conftest.py
DEFAULT = ("-c", "test:///default")
VIRSH = Path(__file__).parent / "data" / "virsh"
SESSION = """
checkpoint-create-as test c1 --description first
checkpoint-create-as test c2
checkpoint-list test --parent
checkpoint-list test --tree
checkpoint-info test c2
checkpoint-parent test c2
checkpoint-dumpxml test c1
checkpoint-dumpxml test c2 --no-domain
checkpoint-delete test c1
checkpoint-list test --parent
"""


def _mask(text: str) -> list[str]:
    """The lines, creation times masked; blank lines left out (virsh recorded as one
    ``cmd; cmd`` line prints fewer of them than a session fed on stdin)."""
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}", "TIME", text)
    text = re.sub(r"<creationTime>\d+</creationTime>", "<creationTime>T</creationTime>", text)
    return [line for line in text.splitlines() if line.strip()]


def test_checkpoint_session_matches_virsh(run: Run) -> None:
    r = run(*DEFAULT, stdin=SESSION)
    assert r.status == 0, r.stderr
    assert _mask(r.stdout) == _mask((VIRSH / "checkpoints.txt").read_text())


def test_backup_commands(run: Run, tmp_path: Path) -> None:
    backup = tmp_path / "b.xml"
    backup.write_text("<domainbackup mode='pull'><incremental>c1</incremental>"
                      "<server transport='tcp' name='localhost'/></domainbackup>")
    cp = tmp_path / "c.xml"
    cp.write_text("<domaincheckpoint><name>c2</name></domaincheckpoint>")
    r = run(*DEFAULT, stdin=f"""
backup-dumpxml test
checkpoint-create-as test c1
backup-begin test {backup} {cp}
backup-dumpxml test
checkpoint-delete test c1
domjobabort test
checkpoint-list test --name
""")
    assert "no domain backup job present on domain 'test'" in r.stderr
    assert "Backup started\n" in r.stdout
    assert ("<domainbackup mode='pull'>\n  <incremental>c1</incremental>\n"
            "  <server transport='tcp' name='localhost'/>\n") in r.stdout
    assert "a backup job is running on domain 'test'" in r.stderr
    assert r.stdout.rstrip().endswith("c1\nc2")
    r = run(*DEFAULT, "checkpoint-create-as", "test", "x", "--diskspec", "vdz")
    assert r.status == 1 and "no disk 'vdz'" in r.stderr
