"""virsh's guest agent commands through the real executable, as one batch (state carries)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

Run = Callable[..., Any]
NODE = Path(__file__).parent / "data" / "virsh" / "node.xml"


def test_agent_commands_keep_state(run: Run) -> None:
    r = run("-c", f"test://{NODE}", stdin="""
domfsfreeze test --mountpoint /boot
domfsfreeze test
domfstrim test
domfsthaw test
domtime test --time 1000000000
domtime test --pretty
domhostname test --source lease
guestinfo test --timezone --hostname
""")
    assert r.stdout == (
        "Froze 1 filesystem(s)\n\n"
        "Froze 1 filesystem(s)\n\n"
        "\n"
        "Thawed 2 filesystem(s)\n\n"
        "\n"
        "Time: 2001-09-09 01:46:40\n"
        "testhost\n\n"
        "timezone.name       : UTC\ntimezone.offset     : 0\nhostname            : testhost\n\n"
    )
    assert "error: Unable to invoke fstrim on domain 'test'" in r.stderr
    assert "frozen" in r.stderr


def test_agent_json_and_refusals(run: Run) -> None:
    uri = f"test://{NODE}"
    r = run("-c", uri, "domfsinfo", "test", "--json")
    assert r.status == 0
    assert json.loads(r.stdout)[1] == {"mountpoint": "/boot", "name": "vda2", "type": "ext4",
                                       "target": ["vda"]}
    r = run("-c", uri, "domtime", "test", "--json")
    assert json.loads(r.stdout) == {"seconds": 627319920, "nseconds": 0}
    r = run("-c", uri, "-r", "domfsinfo", "test")
    assert r.status == 1 and "forbidden" in r.stderr
    r = run("-c", uri, "set-user-password", "test", "nobody", "pw")
    assert r.status == 1 and "no user 'nobody'" in r.stderr


def test_user_sshkeys_append_remove_reset(run: Run, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# my keys\nssh-ed25519 AAAA1 a@h\n\nssh-ed25519 AAAA2 b@h\n")
    one = tmp_path / "one"
    one.write_text("ssh-ed25519 AAAA1 a@h\n")
    r = run("-c", f"test://{NODE}", stdin=f"""
set-user-sshkeys test root --file {keys}
get-user-sshkeys test root
set-user-sshkeys test root --file {one} --remove
get-user-sshkeys test root
set-user-sshkeys test root --reset
get-user-sshkeys test root
set-user-sshkeys test nobody --file {one}
set-user-sshkeys test root --file {one} --reset --remove
""")
    assert r.stdout == ("\nssh-ed25519 AAAA1 a@h\nssh-ed25519 AAAA2 b@h\n\n\n"
                        "ssh-ed25519 AAAA2 b@h\n\n\n\n\n\n")
    assert "domain 'test' has no user 'nobody'" in r.stderr
    assert "Options --reset and --remove are mutually exclusive" in r.stderr
    r = run("-c", f"test://{NODE}", "get-user-sshkeys", "test", "root", "--json")
    assert json.loads(r.stdout) == []
