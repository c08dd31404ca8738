"""Devices of ``xen:///system`` guests against two transcripts.

tests/data/xl-devices-real.jsonl is RECORDED from the real run (tests_real/test_real_xen.py::
test_device_hotplug_on_real_xen: Xen 4.17 and Debian's dom0 under QEMU TCG, every entry
labelled ``"recorded"`` with the date, the dom0 image and how long the scenario took):
hotplug_scenario.py's disk attached live and config to a running PV guest, detached live,
attached again and detached by alias, an attach of a missing file refused by libxl, an
interface attached on the dom0 bridge and detached. Its replay must issue the same xl commands
in the same order (a changed command fails, naming both) and handle what xl really answered.

tests/data/xl-devices.jsonl is SYNTHETIC, written by data/make_xl_devices.py against a model
dom0 (every entry is marked ``"synthetic"``), for what the real run cannot show: a cdrom's
media changed live (``xl cd-insert`` / ``cd-eject``: libxl does it in HVM guests only, and the
real run's dom0 has no device model to run one), and device_scenario.py's refusals, config-only
changes and alias and flag handling around them, checked against the driver's own reading of
xl, not against a real dom0."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from device_scenario import EVENTS, devices
from hotplug_scenario import EVENTS as HOTPLUG_EVENTS
from hotplug_scenario import ISSUED, hotplug

from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit_xen.replay import ReplayRunner, shared_replay

TRANSCRIPT = Path(__file__).parent / "data" / "xl-devices.jsonl"
REAL = Path(__file__).parent / "data" / "xl-devices-real.jsonl"
DEVICE_COMMANDS = {"block-attach", "block-detach", "network-attach", "network-detach",
                   "cd-insert", "cd-eject"}


def _replay(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[ReplayRunner]:
    monkeypatch.setenv("VIRTKIT_STATE_ROOT", str(tmp_path / "state"))
    monkeypatch.setenv("VIRTKIT_XEN_POLL", "0")
    monkeypatch.setenv("VIRTKIT_XEN_RUNNER", f"replay:{path}")
    ReplayRunner.forget(str(path))
    yield shared_replay(str(path))
    ReplayRunner.forget(str(path))


@pytest.fixture
def replay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplayRunner]:
    yield from _replay(TRANSCRIPT, tmp_path, monkeypatch)


@pytest.fixture
def real(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplayRunner]:
    yield from _replay(REAL, tmp_path, monkeypatch)


def _issued(replay: ReplayRunner) -> list[list[str]]:
    return [e["argv"][1:] for e in replay.entries[:replay.pos]
            if e["argv"][0] == "xl" and e["argv"][1] in DEVICE_COMMANDS]


def test_every_entry_of_the_real_transcript_is_labelled_recorded() -> None:
    for line in REAL.read_text().splitlines():
        e = json.loads(line)
        assert e["recorded"].startswith("RECORDED from the real run") and "synthetic" not in e


def test_hotplug_replays_the_sequence_recorded_on_real_xen(real: ReplayRunner) -> None:
    events, refused = hotplug("xen:///system")
    assert real.done  # every recorded command was issued, in order
    assert events == HOTPLUG_EVENTS
    assert _issued(real) == ISSUED
    # the failed attach: libxl's own message (it stats the file before any hotplug script)
    assert refused == ("operation failed: 'xl block-attach' for domain 'vk-hot': libxl: error: "
                       "libxl_device.c:455:libxl__device_disk_set_backend: Disk vdev=xvdc "
                       "failed to stat: /srv/missing.img: No such file or directory")


def test_a_changed_hotplug_command_is_caught(real: ReplayRunner,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The replay fails on a changed xl command: here the disk's spec with ``format=raw``."""
    from virtkit_xen.xl import XL

    attach = XL.block_attach
    monkeypatch.setattr(XL, "block_attach",
                        lambda self, name, spec: attach(self, name, spec + ", format=raw"))
    with pytest.raises(VirtError) as info:
        hotplug("xen:///system")
    assert info.value.code == ErrorCode.INTERNAL_ERROR
    assert "format=raw" in info.value.message and "the transcript has" in info.value.message


def test_every_entry_is_marked_synthetic() -> None:
    for line in TRANSCRIPT.read_text().splitlines():
        assert "written by hand" in json.loads(line)["synthetic"]


def test_devices_replay_the_xl_sequence(replay: ReplayRunner) -> None:
    events, said = devices("xen:///system")
    assert replay.done  # every command of the transcript was issued, in order
    assert events == EVENTS
    # the xl device commands issued: only the live changes, none for a refusal, a
    # config-only change or a device given as it is
    assert _issued(replay) == [
        ["block-attach", "vk-dev", "vdev=xvdd, access=rw, target=/srv/scratch.img"],
        ["network-attach", "vk-dev", "mac=00:16:3e:00:00:2a", "bridge=xenbr0"],
        ["block-attach", "vk-dev", "vdev=xvde, access=rw, target=/srv/missing.img"],
        ["block-detach", "vk-dev", "xvdd"],
        ["block-detach", "vk-dev", "xvdb"],
        ["network-detach", "vk-dev", "00:16:3e:00:00:2a"],
        ["cd-insert", "vk-hvm", "hdc", "/srv/two.iso"],
        ["cd-eject", "vk-hvm", "hdc"]]
    # the refusals name the device, the definition and the domain
    assert "disk 'xvdb' already exists in the persistent definition of domain 'vk-dev'" \
        in said[0]
    assert said[1] == "domain 'vk-dev' is not running"
    assert "unknown device type <blender>" in said[3]
    assert "<graphics>" in said[4] and "xen" in said[4]
    assert "'xl block-attach' for domain 'vk-dev'" in said[5] and "failed to stat" in said[5]
    assert "no disk 'xvdd' in the live definition of domain 'vk-dev'" in said[6]
    assert "no device found with alias 'ua-none' in the live definition" in said[7]
    assert "alias 'ua-data' in the live definition" in said[8]
    assert "media of disk 'xvdc' of running domain 'vk-dev'" in said[9]
    assert "HVM guests only" in said[9]
    assert "<source> of disk 'xvda'" in said[10] and "only the media of a cdrom" in said[10]
    assert "cannot change the target of disk 'xvdc'" in said[11]
    assert "interface 00:16:3e:00:00:2a" in said[12]
    assert "no disk 'xvdq'" in said[13]
    assert said[14] == "domain 'vk-dev' is not running"
    assert "transient domain 'vk-hvm'" in said[15] and "transient domain 'vk-hvm'" in said[16]
    assert "interface 00:16:3e:00:00:2b of domain 'vk-dev'" in said[17]
    assert "type 'network'" in said[17]
    assert len(said) == 18


def test_a_disk_off_the_xen_bus_is_not_hotplugged(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """libxl takes a disk's target as its vdev and refuses one such as ``vdb`` (on the real
    run: ``libxl__device_from_disk: Domain 1:Invalid or unsupported virtual disk identifier
    vdb``); as libvirt's libxl driver, a live plug or unplug of a disk off the xen bus is
    CONFIG_UNSUPPORTED before xl is asked, and nothing changes. Against the model dom0 of
    make_xl_devices.py, which accepts any vdev."""
    sys.path.insert(0, str(Path(__file__).parent / "data"))
    from device_scenario import GUEST, disks
    from make_xl_devices import DeviceDom0

    import virtkit

    model = DeviceDom0()
    monkeypatch.setenv("VIRTKIT_STATE_ROOT", str(tmp_path / "state"))
    monkeypatch.setenv("VIRTKIT_XEN_POLL", "0")
    monkeypatch.setattr("virtkit_xen.driver.runner_from_spec", lambda spec: model)
    vdb = ("<disk type='file' device='disk'><source file='/srv/b.img'/>"
           "<target dev='vdb' bus='virtio'/></disk>")
    hdd = "<disk type='file' device='disk'><source file='/srv/d.img'/><target dev='hdd'/></disk>"
    conn = virtkit.open("xen:///system")
    try:
        dom = conn.define_xml(GUEST)
        dom.attach_device(vdb, config=True)  # the configuration takes it (no xl command)
        dom.create()
        for xml, live_too, bus in ((vdb, False, "virtio"), (hdd, True, "ide")):
            with pytest.raises(VirtError) as info:
                if live_too:
                    dom.attach_device(xml, live=True, config=True)
                else:
                    dom.detach_device(xml, live=True)
            e = info.value
            assert e.code == ErrorCode.CONFIG_UNSUPPORTED, e
            assert f"disk bus '{bus}'" in e.message and "'vk-dev'" in e.message
            assert "xen bus only" in e.message
        assert "vdb" in disks(dom.xml_desc()) and "hdd" not in disks(dom.xml_desc())
        assert "hdd" not in disks(dom.xml_desc(inactive=True))
        assert not [a for a in model.log if a[1:2] in (["block-attach"], ["block-detach"])]
        dom.detach_device(vdb, config=True)  # config only: allowed
        assert "vdb" not in disks(dom.xml_desc(inactive=True))
        dom.destroy()
        dom.undefine()
    finally:
        conn.close()
