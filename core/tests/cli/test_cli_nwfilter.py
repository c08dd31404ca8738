"""virsh's nwfilter-* and nwfilter-binding-* commands through the real executable (libvirt's
test driver has no network filters, so there is no recorded virsh output to compare with)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

Run = Callable[..., Any]  # the ``run`` fixture of conftest.py
DEFAULT = ("-c", "test:///default")
UUID = "0c1f2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"


def test_nwfilter_commands_in_one_session(run: Run, tmp_path: Path) -> None:
    filt = tmp_path / "f.xml"
    filt.write_text(f"<filter name='no-arp' chain='arp'><uuid>{UUID}</uuid>"
                    "<rule action='drop' direction='inout'/></filter>")
    bind = tmp_path / "b.xml"
    bind.write_text("<filterbinding><owner><name>test</name>"
                    "<uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid></owner>"
                    "<portdev name='testnet0'/><mac address='aa:bb:cc:dd:ee:ff'/>"
                    "<filterref filter='no-arp'/></filterbinding>")
    r = run(*DEFAULT, stdin=f"""
nwfilter-define {filt}
nwfilter-list
nwfilter-dumpxml {UUID}
nwfilter-binding-create {bind}
nwfilter-binding-list
nwfilter-binding-dumpxml testnet0
nwfilter-undefine no-arp
nwfilter-binding-delete testnet0
nwfilter-undefine no-arp
nwfilter-list --json
""")
    out = r.stdout
    assert f"Network filter no-arp defined from {filt}\n" in out
    assert (" UUID                                   Name\n"
            + "-" * 48 + "\n"
            f" {UUID}   no-arp\n") in out
    assert "<filter name='no-arp' chain='arp'>\n  <uuid>" in out
    assert f"Network filter binding on testnet0 created from {bind}\n" in out
    assert " Port Dev   Filter\n" + "-" * 20 + "\n testnet0   no-arp\n" in out
    assert "<portdev name='testnet0'/>" in out
    assert "error: Failed to undefine network filter no-arp" in r.stderr
    assert "in use by binding of port 'testnet0'" in r.stderr
    assert "Network filter binding on testnet0 deleted\n" in out
    assert "Network filter no-arp undefined\n" in out
    assert out.rstrip().endswith("[]")
    r = run(*DEFAULT, "nwfilter-dumpxml", "nope")
    assert r.status == 1 and "failed to get nwfilter 'nope'" in r.stderr
    r = run(*DEFAULT, "nwfilter-binding-list", "--json")
    assert json.loads(r.stdout) == []
