"""domrename: virsh's message and the refusals it reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Run = Callable[..., Any]  # the ``run`` fixture of conftest.py
DEFAULT = ("-c", "test:///default")


def test_domrename(run: Run) -> None:
    r = run(*DEFAULT, stdin="domrename test foo\ndestroy test\ndomrename test foo\n"
                            "list --all --name\ndomrename foo foo\n")
    assert "error: cannot rename active domain 'test'\n" in r.stderr
    assert "Domain successfully renamed\n" in r.stdout and "\nfoo\n" in r.stdout
    assert "error: Can't rename domain 'foo' to itself\n" in r.stderr
