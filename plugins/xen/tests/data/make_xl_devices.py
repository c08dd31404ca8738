"""Writes xl-devices.jsonl: the transcript of device_scenario.py's calls against a MODEL of a
dom0, not recorded. Every entry is marked ``"synthetic"``. Device hotplug on a PV guest has
been recorded on the real run since (xl-devices-real.jsonl, hotplug_scenario.py); this one is
kept for what that run cannot show: a cdrom's media changed live (``xl cd-insert`` /
``cd-eject``, which libxl does in HVM guests only; the real run's dom0 has no device model to
run one), and the scenario's refusals and config-only changes around it. The model is
test_xlsnap.py's stand-in dom0 (``xl info`` and ``xl list -v`` in the formats recorded in
xl-lifecycle.jsonl) taught the device commands as xl 4.17's manual gives them:
``block-attach``, ``block-detach``, ``network-attach``, ``network-detach``, ``cd-insert``,
``cd-eject`` answer nothing on success; a ``block-attach`` of a file the model does not have
(``/srv/missing.img``) fails with the message the real run recorded for one. The model has
the device model (``test -x`` answers 0), for the scenario's HVM guest.

Run from plugins/xen/tests: ``python data/make_xl_devices.py``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from device_scenario import devices  # noqa: E402
from test_xlsnap import StandInDom0  # noqa: E402

import virtkit_xen.driver  # noqa: E402
from virtkit_xen.runner import RunResult  # noqa: E402

OUT = HERE / "xl-devices.jsonl"
NOTE = ("written by hand, not recorded: a model of an xl 4.17 dom0 answering "
        "device_scenario.py's calls, for what the real run cannot show (a cdrom's media "
        "changed live needs an HVM guest, and the real run's dom0 has no device model) "
        "(tests/data/make_xl_devices.py)")
#: what xl block-attach answered on the real run for a file dom0 does not have
#: (xl-devices-real.jsonl: libxl stats the file before any hotplug script runs)
MISSING_FILE = ("libxl: error: libxl_device.c:455:libxl__device_disk_set_backend: Disk "
                "vdev={vdev} failed to stat: /srv/missing.img: No such file or directory\n"
                "libxl: error: libxl_device.c:1486:device_addrm_aocomplete: unable to add "
                "device\nlibxl_device_disk_add failed.\n")
DEVICE_COMMANDS = ("block-attach", "block-detach", "network-attach", "network-detach",
                   "cd-insert", "cd-eject")


class DeviceDom0(StandInDom0):
    def run(self, argv: Sequence[str], *, input: bytes | None = None,
            timeout: float = 120.0) -> RunResult:
        a = list(argv)
        if a[:1] == ["xl"] and len(a) > 2 and a[1] in DEVICE_COMMANDS:
            self.log.append(a)
            assert a[2] in self.doms, f"the model has no domain {a[2]}"
            if a[1] == "block-attach" and "/srv/missing.img" in a[3]:
                vdev = a[3].split(",")[0].removeprefix("vdev=")
                return RunResult(1, "", MISSING_FILE.format(vdev=vdev))
            return RunResult(0, "", "")
        return super().run(argv, input=input, timeout=timeout)


def main() -> None:
    model = DeviceDom0()
    model.device_model = True  # for the HVM guest
    virtkit_xen.driver.runner_from_spec = lambda spec: model  # type: ignore[assignment]
    OUT.unlink(missing_ok=True)
    os.environ.update(VIRTKIT_STATE_ROOT=tempfile.mkdtemp(), VIRTKIT_XEN_POLL="0",
                      VIRTKIT_XEN_RUNNER="model", VIRTKIT_XEN_RECORD=str(OUT))
    print(devices("xen:///system"))
    entries = [json.loads(x) for x in OUT.read_text().splitlines()]
    OUT.write_text("".join(json.dumps({**e, "seconds": 0.0, "synthetic": NOTE}) + "\n"
                           for e in entries))


if __name__ == "__main__":
    main()
