"""The result record's summary: per-group counts, the verdict, and the human report."""

from __future__ import annotations

from typing import Any

from . import GROUPS, MANDATORY_GROUPS

OUTCOMES = ("passed", "failed", "not-supported", "skipped")

#: What a driver's ``capabilities["backend"]`` may say: ``real`` (the default: the suite ran
#: against the live hypervisor or service) or ``recorded`` (against recorded backend output,
#: such as VBoxManage transcripts replayed by a fake tool).
BACKENDS = ("real", "recorded")


def summarize(tests: list[dict[str, Any]], backend: str = "real") -> dict[str, Any]:
    """``groups`` (counts per group), ``totals``, ``verdict`` and ``reasons`` for a test list.

    Certified only when nothing failed and every mandatory group ran, has at least one passed
    test and no failed one, and the backend is one of :data:`BACKENDS`.
    """
    groups: dict[str, dict[str, Any]] = {}
    for name in GROUPS:
        groups[name] = {o: 0 for o in OUTCOMES} | {"mandatory": name in MANDATORY_GROUPS}
    for test in tests:
        entry = groups.setdefault(test["group"], {o: 0 for o in OUTCOMES} | {"mandatory": False})
        entry[test["outcome"]] = entry.get(test["outcome"], 0) + 1
    totals = {o: sum(int(g[o]) for g in groups.values()) for o in OUTCOMES}
    reasons: list[str] = []
    if totals["failed"]:
        reasons.append(f"{totals['failed']} test(s) failed")
    for name in sorted(MANDATORY_GROUPS, key=GROUPS.index):
        g = groups[name]
        if g["failed"]:
            reasons.append(f"mandatory group '{name}' has failures")
        elif not g["passed"]:
            reasons.append(f"mandatory group '{name}' did not pass (nothing passed in it)")
    if backend not in BACKENDS:
        reasons.append(f"capabilities['backend'] is {backend!r}; it must be one of "
                       f"{', '.join(BACKENDS)}")
    for g in groups.values():
        g["status"] = group_status(g)
    return {
        "groups": groups,
        "totals": totals,
        "verdict": "certified" if not reasons else "refused",
        "reasons": reasons,
    }


def group_status(g: dict[str, Any]) -> str:
    """``failed``, ``passed`` (all ran passed), ``partial`` (some not supported), ``not
    supported`` (nothing ran), or ``not run``."""
    if g["failed"]:
        return "failed"
    if g["passed"] and not g["not-supported"]:
        return "passed"
    if g["passed"]:
        return "partial"
    if g["not-supported"]:
        return "not supported"
    return "not run"


def is_recorded(record: dict[str, Any]) -> bool:
    """Whether the run was against a recorded backend (never to be mixed with real runs)."""
    return record.get("backend") == "recorded"


def verdict_text(record: dict[str, Any]) -> str:
    """``CERTIFIED``, ``CERTIFIED (against a recorded backend)`` or ``REFUSED``."""
    text = str(record["verdict"]).upper()
    if is_recorded(record):
        text += " (against a recorded backend)"
    return text


RECORDED_NOTE = ("certified against a recorded backend: the driver ran against recorded output "
                 "of its backend, not a live one; this says the driver handles what was "
                 "recorded, not that it works with the backend today")


def summary_lines(record: dict[str, Any]) -> list[str]:
    lines = [f"{'group':<14} {'passed':>6} {'failed':>6} {'n/s':>5}  status"]
    for name, g in record["groups"].items():
        if not any(g[o] for o in OUTCOMES):
            continue
        star = "*" if g["mandatory"] else " "
        lines.append(f"{name + star:<14} {g['passed']:>6} {g['failed']:>6} "
                     f"{g['not-supported']:>5}  {g['status']}")
    lines.append("(* mandatory; n/s = not supported)")
    driver = record.get("driver") or {}
    lines.append(f"driver {driver.get('name')} ({driver.get('distribution')} "
                 f"{driver.get('version')}) at {record.get('uri')}: "
                 f"{verdict_text(record)}"
                 + (f" - {'; '.join(record['reasons'])}" if record["reasons"] else ""))
    if is_recorded(record):
        lines.append(f"note: {RECORDED_NOTE}")
    return lines


def markdown_report(record: dict[str, Any]) -> str:
    """The human report: verdict, per-group table, failing tests with their minimal example."""
    driver = record.get("driver") or {}
    host = record.get("host") or {}
    out = [
        f"# virtkit conformance report: {driver.get('name')} at `{record.get('uri')}`",
        "",
        f"**Verdict: {verdict_text(record)}**"
        + (f" — {'; '.join(record['reasons'])}" if record["reasons"] else ""),
        "",
        f"- backend: {record.get('backend', 'real')}"
        + (f" — {RECORDED_NOTE}" if is_recorded(record) else "")
        + (f" — {record['note']}" if record.get("note") else ""),
        f"- driver: `{driver.get('class')}` from distribution `{driver.get('distribution')}` "
        f"{driver.get('version')}",
        f"- suite: virtkit-conformance {record['suite']['version']}; virtkit "
        f"{record.get('virtkit_version')}",
        f"- host: {host.get('hostname')} ({host.get('platform')}, Python {host.get('python')})",
        f"- duration: {record.get('duration_s')} s",
        "",
        "| group | mandatory | passed | failed | not supported | status |",
        "|---|---|---:|---:|---:|---|",
    ]
    for name, g in record["groups"].items():
        out.append(f"| {name} | {'yes' if g['mandatory'] else ''} | {g['passed']} | "
                   f"{g['failed']} | {g['not-supported']} | {g['status']} |")
    failed = [t for t in record["tests"] if t["outcome"] == "failed"]
    out += ["", "## Failing tests", ""]
    if not failed:
        out.append("None.")
    for t in failed:
        out += [f"### `{t['nodeid']}` ({t['group']})", "", "```", t["message"].strip(), "```"]
        if t.get("example"):
            out += ["", "Minimal failing example:", "", "```python", t["example"], "```"]
        out.append("")
    unsupported = [t for t in record["tests"] if t["outcome"] == "not-supported"]
    out += ["", "## Not supported", ""]
    if not unsupported:
        out.append("Nothing: every operation the suite tests is supported.")
    for t in unsupported:
        out.append(f"- `{t['name']}` ({t['group']}): {t['message']}")
    return "\n".join(out).rstrip() + "\n"
