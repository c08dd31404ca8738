"""Capabilities probed over QMP and cached by binary, size and mtime."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import virtkit
from virtkit_qemu import caps


def test_probe_is_cached_until_the_binary_changes(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "qemu-system-x86_64"  # a wrapper whose mtime the test may change
    binary.write_text(f'#!/bin/sh\nexec {caps.default_binary()} "$@"\n')
    binary.chmod(0o755)
    first = caps.probe(str(binary), tmp_path / "cache")
    assert first.version >= (7, 0, 0) and first.machine("pc").name.startswith("pc-i440fx-")
    calls: list[str] = []
    real = caps._probe_now
    monkeypatch.setattr(caps, "_probe_now", lambda b: calls.append(b) or real(b))
    t0 = time.monotonic()
    assert caps.probe(str(binary), tmp_path / "cache") == first
    assert calls == [] and time.monotonic() - t0 < 0.2, "answered from the cache"
    st = binary.stat()
    os.utime(binary, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    caps.probe(str(binary), tmp_path / "cache")
    assert calls == [str(binary)], "a changed mtime probes again"


def test_capabilities_documents(state_root: str) -> None:
    conn = virtkit.open("qemu:///session")
    try:
        text = conn.get_capabilities()
        assert "<domain type='qemu'/>" in text and "pc-i440fx-" in text
        # the one cell holds every host cpu, as node_info counts them
        assert text.count("<cpu id=") == conn.node_info().cpus
        dcaps = conn.get_domain_capabilities(virttype="qemu")
        assert "<domain>qemu</domain>" in dcaps and "qemu64" in dcaps
        with pytest.raises(virtkit.VirtError) as info:
            conn.get_domain_capabilities(virttype="xen")
        assert info.value.code == virtkit.ErrorCode.INVALID_ARG
        assert conn.get_version() >= 7_000_000
        # the default domain type is the first the capabilities list: kvm where usable
        first = "kvm" if caps.kvm_usable() else "qemu"
        assert text.index(f"<domain type='{first}'/>") == text.index("<domain type=")
        assert f"<domain>{first}</domain>" in conn.get_domain_capabilities()
    finally:
        conn.close()
