"""Self-test: the suite catches each deliberately broken driver with the test meant to catch it,
and reports unimplemented operations as "not supported"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

HERE = Path(__file__).parent

CONFTEST = """
import pytest
from virtkit.api.connection import Connection
from virtkit.sdk.uri import parse_uri
from broken_drivers import DRIVERS

@pytest.fixture(scope="session")
def virtkit_connection_factory():
    def factory(uri, read_only=False):
        return Connection(uri, parse_uri(uri), read_only, DRIVERS[{driver!r}])
    return factory
"""


def run_suite(pytester: pytest.Pytester, driver: str, groups: str) -> dict:
    pytester.syspathinsert()
    pytester.makepyfile(broken_drivers=(HERE / "broken_drivers.py").read_text())
    pytester.makeconftest(CONFTEST.format(driver=driver))
    pytester.makepyfile(test_cert="from virtkit_conformance.suite import *  # noqa: F403\n")
    out = pytester.path / "result.json"
    pytester.runpytest("--virtkit-uri", "test:///default", "--virtkit-only", groups,
                       "--virtkit-json", str(out), "-p", "no:cacheprovider", "-q")
    return json.loads(out.read_text())


def failed(record: dict) -> set[str]:
    return {t["name"] for t in record["tests"] if t["outcome"] == "failed"}


def outcome(record: dict, name: str) -> str:
    [test] = [t for t in record["tests"] if t["name"] == name]
    return str(test["outcome"])


def test_wrong_state_after_suspend(pytester: pytest.Pytester) -> None:
    record = run_suite(pytester, "WrongSuspendState", "lifecycle,stateful")
    assert "test_suspend_resume" in failed(record)
    [t] = [t for t in record["tests"] if t["name"] == "test_suspend_resume"]
    assert "suspend leaves PAUSED/USER" in t["message"]
    assert record["verdict"] == "refused"
    # the stateful test finds it too, and reports the shrunk sequence
    [s] = [t for t in record["tests"] if t["name"] == "test_random_lifecycle_sequences"]
    assert s["outcome"] == "failed" and s["example"] and ".suspend(" in s["example"]
    assert "test_destroy_persistent" not in failed(record)


def test_missing_event(pytester: pytest.Pytester) -> None:
    record = run_suite(pytester, "MissingDestroyEvent", "lifecycle")
    assert "test_destroy_persistent" in failed(record)
    assert "test_suspend_resume" not in failed(record)
    assert record["verdict"] == "refused"


def test_wrong_error_code(pytester: pytest.Pytester) -> None:
    record = run_suite(pytester, "WrongResumeError", "lifecycle")
    assert "test_resume_running_is_invalid" in failed(record)
    [t] = [t for t in record["tests"] if t["name"] == "test_resume_running_is_invalid"]
    assert "OPERATION_FAILED" in t["message"] and "OPERATION_INVALID" in t["message"]
    assert "test_suspend_resume" not in failed(record)


def test_accepting_traversal(pytester: pytest.Pytester) -> None:
    record = run_suite(pytester, "AcceptsTraversal", "bad-input,storage")
    assert failed(record) == {"test_volume_name_traversal_refused"}
    assert record["verdict"] == "refused"


def test_missing_hookimpl_is_not_supported(pytester: pytest.Pytester) -> None:
    record = run_suite(pytester, "NoSuspend", "lifecycle,snapshots")
    assert outcome(record, "test_suspend_resume") == "not-supported"
    assert outcome(record, "test_revert_states_and_events") == "not-supported"
    [t] = [t for t in record["tests"] if t["name"] == "test_invalid_on_inactive[suspend]"]
    assert t["outcome"] == "not-supported" and t["message"].startswith("not supported:")
    assert not failed(record)
    assert record["groups"]["lifecycle"]["not-supported"] >= 3
    assert record["groups"]["lifecycle"]["status"] == "partial"


def test_declared_but_refused_fails(pytester: pytest.Pytester) -> None:
    record = run_suite(pytester, "RefusesDeclaredSuspend", "lifecycle")
    assert "test_suspend_resume" in failed(record)
    assert record["verdict"] == "refused"
