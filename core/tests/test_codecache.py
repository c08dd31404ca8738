"""virtkit._codecache: the methods attrs generates are compiled once, kept, and stay correct."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
import virtkit.xml.domain, virtkit.sdk.records
from virtkit import _codecache
from virtkit.sdk.records import DomainRef
ref = DomainRef("web", "7c2b9e4e-8a57-4b6a-9d6b-0f4c2d0c1e11", 3)
print(json.dumps({"cached": len(_codecache._cache), "new": len(_codecache._new),
                  "hash": hash(ref), "eq": ref == DomainRef("web", ref.uuid, 3),
                  "repr": repr(ref)}))
"""


def _probe(cache: Path, seed: str = "1", **extra: str) -> dict[str, object]:
    env = dict(os.environ, XDG_CACHE_HOME=str(cache), PYTHONHASHSEED=seed, **extra)
    env.pop("VIRTKIT_NO_CODE_CACHE", None)
    env.update(extra)
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env,
                         timeout=120, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_second_process_compiles_nothing(tmp_path: Path) -> None:
    first = _probe(tmp_path)
    assert first["new"] == first["cached"] and int(first["new"]) > 50  # type: ignore[call-overload]
    files = list((tmp_path / "virtkit" / "code").iterdir())
    assert len(files) == 1 and (files[0].stat().st_mode & 0o077) == 0
    second = _probe(tmp_path)
    assert second["new"] == 0 and second["cached"] == first["cached"]


def test_cached_methods_behave_as_freshly_compiled_ones(tmp_path: Path) -> None:
    """A frozen record's __hash__ embeds a per-process number: read back in a process with
    another hash seed, it gives what attrs' own compilation gives there."""
    _probe(tmp_path, seed="1")
    cached = _probe(tmp_path, seed="2")
    fresh = _probe(tmp_path / "other", seed="2", VIRTKIT_NO_CODE_CACHE="1")
    assert cached["new"] == 0
    assert fresh["cached"] == 0
    assert (cached["hash"], cached["eq"], cached["repr"]) == \
        (fresh["hash"], fresh["eq"], fresh["repr"])


def test_a_cache_others_can_write_is_not_read(tmp_path: Path) -> None:
    _probe(tmp_path)
    code = tmp_path / "virtkit" / "code"
    code.chmod(0o777)
    try:
        again = _probe(tmp_path)
        assert again["cached"] == again["new"]  # everything compiled anew, nothing read
    finally:
        code.chmod(0o700)


def test_a_corrupt_cache_is_replaced(tmp_path: Path) -> None:
    _probe(tmp_path)
    (cache_file,) = (tmp_path / "virtkit" / "code").iterdir()
    cache_file.write_bytes(b"\x00garbage")
    again = _probe(tmp_path)
    assert again["cached"] == again["new"]
    assert _probe(tmp_path)["new"] == 0
