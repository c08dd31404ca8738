"""The fixtures of ../tests (a busybox root, a private state root, a connection, cleanup), for
the tests that run inside the cgroup v2 guest (see v2vm.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "lxc_tests_conftest", Path(__file__).resolve().parents[1] / "tests" / "conftest.py")
assert _spec is not None and _spec.loader is not None
lxc_tests_conftest = importlib.util.module_from_spec(_spec)
sys.modules["lxc_tests_conftest"] = lxc_tests_conftest
_spec.loader.exec_module(lxc_tests_conftest)

rootdir = lxc_tests_conftest.rootdir
state = lxc_tests_conftest.state
conn = lxc_tests_conftest.conn
