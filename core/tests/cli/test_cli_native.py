"""domxml-from-native / domxml-to-native: the test driver has no native format (its drivers'
conversions are tested with each plugin); the commands read their files and report clearly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

Run = Callable[..., Any]  # the ``run`` fixture of conftest.py

DEFAULT = ("-c", "test:///default")


def test_a_driver_without_native_formats_says_so(run: Run, tmp_path: Path) -> None:
    cfg = tmp_path / "web1.vmx"
    cfg.write_text('displayName = "web1"\n')
    for args in (("domxml-from-native", "vmware-vmx", str(cfg)),
                 ("domxml-from-native", "--format", "vmware-vmx", "--config", str(cfg)),
                 ("domxml-to-native", "vmware-vmx", str(cfg))):
        r = run(*DEFAULT, *args)
        assert r.status == 1, r
        assert "not supported" in r.stderr and "connect_domain_xml" in r.stderr
    r = run(*DEFAULT, "domxml-from-native", "vmware-vmx", str(tmp_path / "missing.vmx"))
    assert r.status == 1 and "missing.vmx" in r.stderr
