"""Devices of ``xen:///system`` guests (attach, detach, detach by alias, cdrom media) against
tests/data/xl-devices.jsonl.

LABELLED: that transcript is SYNTHETIC, written by data/make_xl_devices.py against a model
dom0 (every entry is marked ``"synthetic"``), not recorded: the real run's dom0 has no block
or network backend, so xl hotplug has not run on a real Xen. The replay checks the driver's xl
commands, in order, with their arguments, and what it does with xl's answers (a failed
``block-attach`` included) against its own reading of xl, not against a real dom0."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from device_scenario import EVENTS, devices

from virtkit_xen.replay import ReplayRunner, shared_replay

TRANSCRIPT = Path(__file__).parent / "data" / "xl-devices.jsonl"
DEVICE_COMMANDS = {"block-attach", "block-detach", "network-attach", "network-detach",
                   "cd-insert", "cd-eject"}


@pytest.fixture
def replay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplayRunner]:
    monkeypatch.setenv("VIRTKIT_STATE_ROOT", str(tmp_path / "state"))
    monkeypatch.setenv("VIRTKIT_XEN_POLL", "0")
    monkeypatch.setenv("VIRTKIT_XEN_RUNNER", f"replay:{TRANSCRIPT}")
    ReplayRunner.forget(str(TRANSCRIPT))
    yield shared_replay(str(TRANSCRIPT))
    ReplayRunner.forget(str(TRANSCRIPT))


def test_every_entry_is_marked_synthetic() -> None:
    for line in TRANSCRIPT.read_text().splitlines():
        assert "written by hand" in json.loads(line)["synthetic"]


def test_devices_replay_the_xl_sequence(replay: ReplayRunner) -> None:
    events, said = devices("xen:///system")
    assert replay.done  # every command of the transcript was issued, in order
    assert events == EVENTS
    # the xl device commands issued: only the live changes, none for a refusal, a
    # config-only change or a device given as it is
    issued = [e["argv"][1:] for e in replay.entries
              if e["argv"][0] == "xl" and e["argv"][1] in DEVICE_COMMANDS]
    assert issued == [
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
    assert "'xl block-attach' for domain 'vk-dev'" in said[5] and "block failed" in said[5]
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
