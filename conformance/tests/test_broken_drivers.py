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


def message(record: dict, name: str) -> str:
    [test] = [t for t in record["tests"] if t["name"] == name]
    return str(test["message"])


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


def test_omitting_domains_from_the_list(pytester: pytest.Pytester) -> None:
    record = run_suite(pytester, "OmitsTransient", "connection")
    assert failed(record) == {"test_list_shows_every_domain"}
    assert "omits the transient domain" in message(record, "test_list_shows_every_domain")
    assert record["verdict"] == "refused"


def test_secrets_in_xml(pytester: pytest.Pytester) -> None:
    record = run_suite(pytester, "LeaksSecrets", "readonly,definition")
    assert "test_xml_hides_secrets" in failed(record)
    assert "without security_info" in message(record, "test_xml_hides_secrets")
    assert record["verdict"] == "refused"


def test_change_beyond_maximum(pytester: pytest.Pytester) -> None:
    record = run_suite(pytester, "ExceedsMaximum", "resources")
    assert failed(record) == {"test_changes_beyond_maximum_refused"}
    assert "INVALID_ARG" in message(record, "test_changes_beyond_maximum_refused")


def test_silently_dropped_device(pytester: pytest.Pytester) -> None:
    record = run_suite(pytester, "DropsDevices", "definition")
    assert failed(record) == {"test_devices_kept_or_refused"}
    assert "silently dropped these devices: watchdog" in message(
        record, "test_devices_kept_or_refused")


def test_os_type_comes_from_the_capabilities(pytester: pytest.Pytester) -> None:
    """A driver that runs only ``<os><type>exe`` is certified: the suite asks for what the
    capabilities offer instead of hvm."""
    record = run_suite(pytester, "ExeOnly", "connection,definition,lifecycle,readonly,bad-input")
    assert not failed(record), failed(record)
    assert record["verdict"] == "certified"
    assert outcome(record, "test_round_trip") == "passed"


def test_no_migration_hooks(pytester: pytest.Pytester) -> None:
    record = run_suite(pytester, "NoMigration", "migration")
    assert record["groups"]["migration"]["status"] == "not supported"
    for t in record["tests"]:
        assert t["outcome"] == "not-supported"
        assert "the driver implements no migration hooks" in t["message"], t["message"]
        assert "second host" not in t["message"]


def test_pool_autostart_ignored(pytester: pytest.Pytester) -> None:
    record = run_suite(pytester, "IgnoresPoolAutostart", "storage")
    assert failed(record) == {"test_pool_autostart"}


def test_abort_ignored(pytester: pytest.Pytester) -> None:
    record = run_suite(pytester, "IgnoresAbort", "save-restore")
    assert failed(record) == {"test_job_progress_and_abort"}
    assert "not OPERATION_ABORTED" in message(record, "test_job_progress_and_abort")


def test_recorded_backend_is_marked(pytester: pytest.Pytester) -> None:
    from virtkit_conformance import matrix
    from virtkit_conformance.results import markdown_report, summary_lines

    record = run_suite(pytester, "Recorded", "connection,definition,lifecycle,readonly,bad-input")
    assert record["verdict"] == "certified" and record["backend"] == "recorded"
    assert record["driver"]["backend"] == "recorded"
    assert "CERTIFIED (against a recorded backend)" in "\n".join(summary_lines(record))
    assert "Verdict: CERTIFIED (against a recorded backend)" in markdown_report(record)
    real = dict(record, backend="real", driver=dict(record["driver"], backend="real"))
    text = matrix.markdown([record, real])
    real_part, recorded_part = text.split("## Certified against a recorded backend")
    real_table = real_part.split("## Real backends")[1]
    assert matrix.RECORDED_MARK not in real_table, "never mixed with real runs"
    assert "**certified** (📼 recorded)" in recorded_part, "never mixed with real runs"
    assert "<h2>Certified against a recorded backend" in matrix.to_html([record, real])


RECORDER_CONFTEST = """
import json
import pytest
from virtkit.api.connection import Connection
from virtkit.sdk.uri import parse_uri
import hook_recorder

@pytest.fixture(scope="session")
def virtkit_connection_factory():
    def factory(uri, read_only=False):
        return Connection(uri, parse_uri(uri), read_only, hook_recorder.RecordingDriver)
    return factory

@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    hook_recorder.IN_CALL.set()
    try:
        return (yield)
    finally:
        hook_recorder.IN_CALL.clear()

def pytest_sessionfinish(session):
    with open({out!r}, "w") as f:
        json.dump(sorted(hook_recorder.SUCCEEDED), f)
"""


def test_every_hookspec_has_a_success_path_test(pytester: pytest.Pytester) -> None:
    """The meta-test (as datasette has for its hooks): the whole suite, run against the test
    driver, calls every hookspec at least once in a test body where it succeeds."""
    from virtkit.sdk.hookspecs import PREFIX, all_specs

    pytester.syspathinsert()
    pytester.makepyfile(hook_recorder=(HERE / "hook_recorder.py").read_text())
    hooks = pytester.path / "hooks.json"
    pytester.makeconftest(RECORDER_CONFTEST.format(out=str(hooks)))
    pytester.makepyfile(test_cert="from virtkit_conformance.suite import *  # noqa: F403\n")
    out = pytester.path / "result.json"
    # in a process of its own: an in-process run shares the driver classes that earlier
    # in-process runs of this module loaded, whose modules hold classes of their own run
    pytester.runpytest_subprocess("--virtkit-uri", "test:///default", "--virtkit-json",
                                  str(out), "-p", "no:cacheprovider", "-q")
    record = json.loads(out.read_text())
    assert record["verdict"] == "certified", record["reasons"]
    from virtkit.drivers.test import NOT_IMPLEMENTED

    succeeded = set(json.loads(hooks.read_text()))
    by_design = {PREFIX + op for op in NOT_IMPLEMENTED}  # the test driver leaves these out
    missing = sorted(set(all_specs()) - succeeded - by_design)
    assert not missing, (
        f"hookspecs no conformance test calls on their success path: {', '.join(missing)}; "
        f"add a suite test that does")
