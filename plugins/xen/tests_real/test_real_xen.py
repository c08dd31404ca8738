"""The real run: Xen 4.17 and a Debian dom0 under QEMU TCG (slow; `tox -e xen-real`).

Boots the image built from Debian packages (cached under VIRTKIT_XEN_CACHE) once, drives tiny
PV guests through the driver over the dom0 command channel, and records the xl transcripts the
default tests replay (written into VIRTKIT_XEN_TRANSCRIPTS when set: xl-lifecycle.jsonl,
xl-operations.jsonl, xl-watcher.jsonl, xl-devices-real.jsonl)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hotplug_scenario import BRIDGE, Dom0View, hotplug
from hotplug_scenario import EVENTS as HOTPLUG_EVENTS
from scenario import GUEST, OPS_EVENTS, WATCHER_EVENTS, lifecycle, operations

import virtkit
from virtkit.sdk.errors import ErrorCode
from virtkit_xen.realrun import Dom0, build_image


@pytest.fixture(scope="module")
def dom0(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dom0]:
    cache = Path(os.environ.get("VIRTKIT_XEN_CACHE", Path.home() / ".cache/virtkit-xen-real"))
    t0 = time.monotonic()
    image = build_image(cache)
    print(f"\nimage {time.monotonic() - t0:.1f} s")
    with Dom0(image, tmp_path_factory.mktemp("vm")) as d:
        print(f"boot {d.boot_seconds:.1f} s")
        yield d


@pytest.fixture
def transcripts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dom0: Dom0) -> Path:
    out = Path(os.environ.get("VIRTKIT_XEN_TRANSCRIPTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("VIRTKIT_STATE_ROOT", str(tmp_path / "state"))
    monkeypatch.setenv("VIRTKIT_XEN_RUNNER", dom0.spec)
    monkeypatch.setenv("VIRTKIT_XEN_POLL", "0")  # no watcher: a deterministic transcript
    return out


def _record(monkeypatch: pytest.MonkeyPatch, path: Path) -> str:
    path.unlink(missing_ok=True)
    monkeypatch.setenv("VIRTKIT_XEN_RECORD", str(path))
    return str(path)


def test_pv_guest_lifecycle_on_real_xen(transcripts: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _record(monkeypatch, transcripts / "xl-lifecycle.jsonl")
    t1 = time.monotonic()
    events = lifecycle("xen:///system")
    print(f"lifecycle {time.monotonic() - t1:.1f} s")
    # defined, started, suspended, resumed, shutdown(finished), stopped(shutdown), started,
    # stopped(saved), started(restored), stopped(destroyed), undefined
    assert [e for e, _ in events] == [0, 2, 3, 4, 6, 5, 2, 5, 2, 5, 1]


def test_operations_and_watcher_on_real_xen(transcripts: Path, dom0: Dom0,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _record(monkeypatch, transcripts / "xl-operations.jsonl")
    watcher = transcripts / "xl-watcher.jsonl"
    watcher.unlink(missing_ok=True)
    outside = dom0.runner()  # xl run outside virtkit (the same channel, not recorded)

    def run_outside(argv: list[str]) -> None:
        r = outside.run(argv, timeout=120)
        assert r.rc == 0, r.stderr

    t1 = time.monotonic()
    events, seen = operations("xen:///system",
                              {"VIRTKIT_XEN_RECORD": str(watcher), "VIRTKIT_XEN_POLL": "1"},
                              run_outside)
    print(f"operations {time.monotonic() - t1:.1f} s\nevents {events}\nwatcher {seen}")
    assert events == OPS_EVENTS
    assert seen == WATCHER_EVENTS




#: xl's own way to try migration on one host: the "ssh" command xl runs as
#: ``exec SSHCMD HOST xl migrate-receive`` drops the host and runs the receiver in this dom0
LOCAL_SSH = "/tmp/vk-migrate-ssh"


@pytest.fixture
def two_stores(transcripts: Path, dom0: Dom0, monkeypatch: pytest.MonkeyPatch,
               tmp_path: Path) -> Iterator[tuple[virtkit.Connection, virtkit.Connection]]:
    """Two connections to the one dom0 with a state store each: the source, whose ``xl
    migrate`` runs the receiver here through LOCAL_SSH, and the destination at ``localhost``
    (xl renames the outgoing guest ``NAME--migratedaway`` and the incoming
    ``NAME--incoming`` meanwhile)."""
    r = dom0.runner().run(["sh", "-c", f"printf '#!/bin/sh\\nshift\\nexec \"$@\"\\n' > "
                           f"{LOCAL_SSH} && chmod +x {LOCAL_SSH}"])
    assert r.rc == 0, r.stderr
    monkeypatch.setenv("VIRTKIT_STATE_ROOT", str(tmp_path / "a"))
    src = virtkit.open(f"xen:///system?migrate_ssh={LOCAL_SSH}")
    monkeypatch.setenv("VIRTKIT_STATE_ROOT", str(tmp_path / "b"))
    dst = virtkit.open("xen:///system?migrate_host=localhost")
    try:
        yield src, dst
    finally:
        for conn in (src, dst):
            for d in conn.list_domains(active=True):
                d.destroy()
            conn.close()


def _xl_names(dom0: Dom0) -> list[str]:
    return [ln.split()[0] for ln in dom0.runner().run(["xl", "list"]).stdout.splitlines()[1:]]


def test_pv_migration_fails_cleanly_without_shadow_paging(two_stores: tuple, dom0: Dom0) -> None:
    """Debian's Xen 4.17 hypervisor of the real run has no shadow paging (no ``sh_*`` code in
    it), which a PV guest's log-dirty mode needs: ``xl migrate`` of the PV guest fails
    (``xc: error: Failed to enable logdirty: 95,22,0``). The guest must keep running at the
    source, recorded as before, and nothing may be left at the destination."""
    src, dst = two_stores
    dom = src.define_xml(GUEST)
    dom.create()
    first = dom.id
    t1 = time.monotonic()
    with pytest.raises(virtkit.VirtError) as info:
        dom.migrate(dst, live=True, persistent=True, undefine_source=True)
    print(f"failed PV migration {time.monotonic() - t1:.1f} s: {info.value.message}")
    assert info.value.code == ErrorCode.OPERATION_FAILED
    assert "'vk-tiny'" in info.value.message and "'localhost'" in info.value.message
    assert "logdirty" in info.value.message
    assert dom.state()[0] == 1 and dom.id == first and dom.is_persistent()
    assert dst.list_domain_summaries() == []
    assert _xl_names(dom0).count("vk-tiny") == 1 and not any("--" in n for n in _xl_names(dom0))



def _dom0_view(dom0: Dom0) -> Callable[[int], Dom0View]:
    """``xl block-list``, ``xl network-list``, ``losetup -a`` and the bridge's ports, read in
    dom0 outside the driver (the same channel, not recorded)."""

    def view(domid: int) -> Dom0View:
        r = dom0.runner().run(["sh", "-c", f"xl block-list {domid}; echo ==; "
                               f"xl network-list {domid}; echo ==; losetup -a; echo ==; "
                               f"ls /sys/class/net/{BRIDGE}/brif"], timeout=60)
        assert r.rc == 0, r.stderr
        blocks, nets, loops, ports = (part.strip().splitlines()
                                      for part in r.stdout.split("==\n"))
        return Dom0View(disks={ln.split()[0]: int(ln.split()[3]) for ln in blocks[1:]},
                        nics={ln.split()[2]: int(ln.split()[4]) for ln in nets[1:]},
                        loops=[ln.split()[-1] for ln in loops], ports=ports)

    return view


def test_device_hotplug_on_real_xen(transcripts: Path, dom0: Dom0,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """xl block-attach / block-detach (a file through the block script's loop device) and
    network-attach / network-detach (netback's vif on the bridge, through vif-bridge) of a
    running PV guest, through the driver; recorded as xl-devices-real.jsonl, labelled."""
    path = transcripts / "xl-devices-real.jsonl"
    _record(monkeypatch, path)
    t1 = time.monotonic()
    events, refused = hotplug("xen:///system", _dom0_view(dom0))
    took = time.monotonic() - t1
    print(f"hotplug {took:.1f} s\nevents {events}\nrefused {refused}")
    assert events == HOTPLUG_EVENTS
    assert "'xl block-attach' for domain 'vk-hot'" in refused and "missing.img" in refused
    label = (f"RECORDED from the real run (tests_real/test_real_xen.py::"
             f"test_device_hotplug_on_real_xen, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())}"
             f" UTC): Xen 4.17 and Debian's dom0 kernel under QEMU TCG, dom0 image "
             f"{dom0.image['xen'].parent.name} (virtkit_xen.realrun), scenario {took:.0f} s")
    entries = [json.loads(x) for x in path.read_text().splitlines()]
    path.write_text("".join(json.dumps({**e, "recorded": label}) + "\n" for e in entries))
