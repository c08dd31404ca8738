"""virsh's secret-* commands through the real executable."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

Run = Callable[..., Any]  # the ``run`` fixture of conftest.py
DEFAULT = ("-c", "test:///default")
UUID = "5a3c1e2d-7b4f-4c6a-9e8d-0f1a2b3c4d5e"
PRIVATE = "6b4d2f3e-8c5a-4d7b-8f9e-1a2b3c4d5e6f"


def test_secret_lifecycle_in_batch(run: Run, tmp_path: Path) -> None:
    xml = tmp_path / "s.xml"
    xml.write_text(f"<secret ephemeral='no' private='no'><uuid>{UUID}</uuid>"
                   f"<usage type='ceph'><name>client.admin</name></usage></secret>")
    hidden = tmp_path / "p.xml"
    hidden.write_text(f"<secret ephemeral='no' private='yes'><uuid>{PRIVATE}</uuid></secret>")
    raw = tmp_path / "raw"
    raw.write_bytes(b"plain value")
    b64 = base64.b64encode(b"passphrase").decode()
    r = run(*DEFAULT, stdin=f"""
secret-define {xml}
secret-define {hidden}
secret-list
secret-set-value {UUID} {b64}
secret-get-value {UUID}
secret-set-value {UUID} --file {raw} --plain
secret-get-value {UUID} --plain
secret-set-value {PRIVATE} --base64 {b64}
secret-undefine {UUID}
""")
    assert r.status == 0, r.stderr
    assert r.stdout == (
        f"Secret {UUID} created\n\n"
        f"Secret {PRIVATE} created\n\n"
        " UUID                                   Usage\n"
        "-----------------------------------------------------------\n"
        f" {UUID}   ceph client.admin\n"
        f" {PRIVATE}   Unused\n\n"
        "Secret value set\n\n"
        f"{b64}\n\n"
        "Secret value set\n\n"
        "plain value\n\n"
        "Secret value set\n\n"
        f"Secret {UUID} deleted\n\n"
    )
    assert "passphrase" not in r.stdout and "passphrase" not in r.stderr


def test_secret_refusals(run: Run, tmp_path: Path) -> None:
    hidden = tmp_path / "p.xml"
    hidden.write_text(f"<secret ephemeral='no' private='yes'><uuid>{PRIVATE}</uuid></secret>")
    r = run(*DEFAULT, stdin=f"""
secret-define {hidden}
secret-set-value {PRIVATE} {base64.b64encode(b"x").decode()}
secret-get-value {PRIVATE}
""")
    assert r.status == 1 and "secret is private" in r.stderr
    r = run(*DEFAULT, "secret-dumpxml", UUID)
    assert r.status == 1 and UUID in r.stderr
    r = run("-r", *DEFAULT, "secret-define", str(hidden))
    assert r.status == 1 and "read" in r.stderr.lower()


def test_secret_list_json_and_events(run: Run) -> None:
    r = run(*DEFAULT, "secret-list", "--json")
    assert r.status == 0 and json.loads(r.stdout) == []
    r = run(*DEFAULT, "secret-event", "--list")
    assert r.stdout == "lifecycle\nvalue-changed\n\n"
