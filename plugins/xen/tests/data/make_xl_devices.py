"""Writes xl-devices.jsonl: the transcript of device_scenario.py's calls against a MODEL of a
dom0, not recorded (the real run's dom0 has no block or network backend, so xl hotplug cannot
run there yet). Every entry is marked ``"synthetic"``. The model is test_xlsnap.py's stand-in
dom0 (``xl info`` and ``xl list -v`` in the formats recorded in xl-lifecycle.jsonl) taught
the device commands as xl 4.17's manual gives them: ``block-attach``, ``block-detach``,
``network-attach``, ``network-detach``, ``cd-insert``, ``cd-eject`` answer nothing on success;
a ``block-attach`` of a file the model does not have (``/srv/missing.img``) fails as libxl
reports a failed hotplug script. The model has the device model (``test -x`` answers 0),
for the scenario's HVM guest.

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
NOTE = ("written by hand, not recorded (the real run's dom0 has no block or network backend): "
        "a model of an xl 4.17 dom0 answering device_scenario.py's calls "
        "(tests/data/make_xl_devices.py)")
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
                domid = self.doms[a[2]][0]
                return RunResult(1, "", f"libxl: error: libxl_device.c:1189:device_hotplug_child"
                                 f"_death_cb: Domain {domid}:script: /etc/xen/scripts/block "
                                 "failed; error detected.\nlibxl: error: libxl_device.c:1265:"
                                 f"device_addrm_aocomplete: Domain {domid}:unable to add device\n")
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
