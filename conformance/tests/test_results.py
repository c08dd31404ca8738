"""The verdict and the outputs built from a result record, without running the suite."""

from __future__ import annotations

from virtkit_conformance import MANDATORY_GROUPS, matrix
from virtkit_conformance.results import markdown_report, summarize, summary_lines


def _tests() -> list[dict[str, object]]:
    return [{"group": g, "outcome": "passed"} for g in sorted(MANDATORY_GROUPS)]


def _record(backend: str) -> dict[str, object]:
    record: dict[str, object] = {
        "suite": {"version": "0"}, "uri": "x:///", "backend": backend, "tests": [],
        "driver": {"name": "x", "backend": backend}, "host": {},
    }
    record.update(summarize(_tests(), backend))  # type: ignore[arg-type]
    return record


def test_real_and_recorded_are_certified_and_told_apart() -> None:
    real, recorded = _record("real"), _record("recorded")
    assert real["verdict"] == recorded["verdict"] == "certified"
    assert summary_lines(real)[-1].endswith(": CERTIFIED")
    assert "CERTIFIED (against a recorded backend)" in summary_lines(recorded)[-2]
    assert "not a live one" in summary_lines(recorded)[-1]
    assert "- backend: real" in markdown_report(real)
    text = matrix.markdown([recorded, real])
    assert text.index("## Real backends") < text.index("## Certified against a recorded")
    assert matrix.markdown([real]).count(matrix.RECORDED_MARK) == 1  # only the legend


def test_unknown_backend_is_refused() -> None:
    record = _record("simulated")
    assert record["verdict"] == "refused"
    assert any("capabilities['backend']" in r for r in record["reasons"])  # type: ignore[attr-defined]
