"""Long jobs in the CLI: a progress line, and Ctrl-C aborting the job cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from .conftest import Run, virtkit_executable

SLOW = "test:///default?job_seconds=1"


def test_save_shows_progress(run: Run, tmp_path: Path) -> None:
    res = run("-c", SLOW, "save", "test", str(tmp_path / "t.save"), "--verbose")
    assert res.status == 0, res.stderr
    assert "Save: [" in res.stderr and "Save: [100 %]" in res.stderr
    assert any(f"[{n:3d} %]" in res.stderr for n in range(1, 100)), "intermediate progress"
    assert "Domain 'test' saved to" in res.stdout


def test_ctrl_c_aborts_the_job(tmp_path: Path) -> None:
    image = tmp_path / "t.save"
    # batch mode: save (interrupted), then show the state the domain was left in
    proc = subprocess.Popen(
        [virtkit_executable(), "-c", SLOW, "save", "test", str(image), "--verbose"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, XDG_CACHE_HOME=str(tmp_path)),
    )
    # interrupt once the job is under way: its progress line has been drawn
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + 30
    while "Save: [" not in seen and time.monotonic() < deadline:
        seen += proc.stderr.read(1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    err = seen + err
    assert proc.returncode == 1, (out, err)
    assert "aborted" in err and "Traceback" not in err
    assert not image.exists(), "an aborted save writes no image"
