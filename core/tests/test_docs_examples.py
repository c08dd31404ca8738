"""Every Python example in docs/api.md runs as written and prints what its comments say."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[2] / "docs" / "api.md"
BLOCKS = re.findall(r"```python\n(.*?)```", API.read_text(), re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"example{i}" for i in range(len(BLOCKS))])
def test_example_runs(code: str) -> None:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # a commented print shows what it prints: its text up to any '...', '(' note or ':' note
    for m in re.finditer(r"print\(.*?#\s*(.+)$", code, re.M):
        want = re.split(r"\.\.\.| \(|: ", m.group(1))[0].strip()
        assert want in out.stdout, (want, out.stdout)
