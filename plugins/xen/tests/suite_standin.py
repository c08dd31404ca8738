"""A pytest plugin that plugins/xen/certify.py (``xl_standin``) loads into a conformance run
against ``xen:///system``: every connection's xl runs against one stand-in dom0 (test_xlsnap.py's, taught the device commands
by data/make_xl_devices.py and the console by test_xlconsole.py; it has the device model, for
HVM guests). No Xen runs: see those modules' labels."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "data"))

from make_xl_devices import DeviceDom0
from test_xlconsole import ConsoleDom0

import virtkit_xen.driver


class SuiteDom0(DeviceDom0, ConsoleDom0):
    pass


DOM0 = SuiteDom0()
DOM0.device_model = True
virtkit_xen.driver.runner_from_spec = lambda spec: DOM0  # type: ignore[assignment]
