"""vol-upload/vol-download --sparse through the real executable: a file's holes travel as holes
and come back as holes (the downloaded file allocates only its data)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

Run = Callable[..., Any]  # the ``run`` fixture of conftest.py
DEFAULT = ("-c", "test:///default")


def test_sparse_round_trip(run: Run, tmp_path: Path) -> None:
    src, out, plain = tmp_path / "src.img", tmp_path / "out.img", tmp_path / "plain.img"
    with open(src, "wb") as f:
        f.write(b"A" * 5000)
        f.seek(1024 * 1024)
        f.write(b"B" * 100)
        f.truncate(3 * 1024 * 1024)
    r = run(*DEFAULT, stdin=f"""
vol-create-as default-pool s.img 4M
vol-upload s.img {src} --pool default-pool --sparse
vol-download s.img {out} --pool default-pool --sparse
vol-download s.img {plain} --pool default-pool
""")
    assert r.status == 0, r.stderr
    data = out.read_bytes()
    assert len(data) == 4 * 1024 * 1024 and data == plain.read_bytes()
    assert data[:3 * 1024 * 1024] == src.read_bytes()
    # the sparse copy allocates its two data runs only (a few pages); the plain one all 4 MiB
    assert os.stat(out).st_blocks * 512 < 64 * 1024 < os.stat(plain).st_blocks * 512
