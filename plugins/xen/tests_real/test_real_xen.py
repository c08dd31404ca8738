"""The real run: Xen 4.17 and a Debian dom0 under QEMU TCG (slow; `tox -e xen-real`).

Boots the image built from Debian packages (cached under VIRTKIT_XEN_CACHE), drives a tiny PV
guest's lifecycle through the driver over the dom0 command channel, and records the xl
transcript the default tests replay (written to VIRTKIT_XEN_TRANSCRIPT when set)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from scenario import lifecycle

from virtkit_xen.realrun import Dom0, build_image


def test_pv_guest_lifecycle_on_real_xen(tmp_path: Path, monkeypatch) -> None:
    cache = Path(os.environ.get("VIRTKIT_XEN_CACHE", Path.home() / ".cache/virtkit-xen-real"))
    t0 = time.monotonic()
    image = build_image(cache)
    built = time.monotonic() - t0
    transcript = Path(os.environ.get("VIRTKIT_XEN_TRANSCRIPT", tmp_path / "xl.jsonl"))
    transcript.unlink(missing_ok=True)
    with Dom0(image, tmp_path / "vm") as dom0:
        monkeypatch.setenv("VIRTKIT_STATE_ROOT", str(tmp_path / "state"))
        monkeypatch.setenv("VIRTKIT_XEN_RUNNER", dom0.spec)
        monkeypatch.setenv("VIRTKIT_XEN_RECORD", str(transcript))
        monkeypatch.setenv("VIRTKIT_XEN_POLL", "0")  # no watcher: a deterministic transcript
        t1 = time.monotonic()
        events = lifecycle("xen:///system")
        ran = time.monotonic() - t1
    print(f"\nimage {built:.1f} s, boot {dom0.boot_seconds:.1f} s, lifecycle {ran:.1f} s")
    # defined, started, suspended, resumed, shutdown(finished), stopped(shutdown), started,
    # stopped(saved), started(restored), stopped(destroyed), undefined
    assert [e for e, _ in events] == [0, 2, 3, 4, 6, 5, 2, 5, 2, 5, 1]
