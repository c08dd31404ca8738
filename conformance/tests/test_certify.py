"""``virtkit-certify`` end to end: the test driver is certified; an out-of-tree driver
(pip-installed in the test) is certified or refused with no change to core or suite; the
matrix merges result records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest


def certify(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "virtkit_conformance", *args],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, **(env or {})))


def test_test_driver_is_certified(tmp_path: Path) -> None:
    start = time.monotonic()
    out = certify("test:///default", "-q", "--json", str(tmp_path / "r.json"),
                  "--junit", str(tmp_path / "j.xml"), "--report", str(tmp_path / "r.md"))
    elapsed = time.monotonic() - start
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "CERTIFIED" in out.stdout
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["verdict"] == "certified" and record["totals"]["failed"] == 0
    assert record["driver"]["distribution"] == "virtkit" and record["uri"] == "test:///default"
    assert record["suite"]["name"] == "virtkit-conformance" and record["host"]["node"]["cpus"]
    assert all(g["status"] == "passed" for g in record["groups"].values()), record["groups"]
    assert "<testsuite" in (tmp_path / "j.xml").read_text()
    assert "Verdict: CERTIFIED" in (tmp_path / "r.md").read_text()
    assert elapsed < 60
    matrix = certify("--matrix", str(tmp_path / "r.json"), "--markdown", str(tmp_path / "m.md"),
                     "--html", str(tmp_path / "m.html"))
    assert matrix.returncode == 0, matrix.stderr
    assert "| lifecycle * |" in (tmp_path / "m.md").read_text()
    assert "<table>" in (tmp_path / "m.html").read_text()


def test_only_group(tmp_path: Path) -> None:
    out = certify("test:///default", "-q", "--only", "connection", "--json",
                  str(tmp_path / "r.json"), "--report", str(tmp_path / "r.md"),
                  "--note", "against a stand-in")
    record = json.loads((tmp_path / "r.json").read_text())
    assert {t["group"] for t in record["tests"]} == {"connection"}
    assert out.returncode == 1 and record["verdict"] == "refused", "mandatory groups did not run"
    # the note stays with the record, and the report and the matrix's list of runs show it
    assert record["note"] == "against a stand-in"
    assert "— against a stand-in" in (tmp_path / "r.md").read_text()
    matrix = certify("--matrix", str(tmp_path / "r.json"))
    assert "- test (test:///default) against a stand-in: `" in matrix.stdout


DRIVER = '''
from virtkit.drivers.test import TestDriver
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef


class GoodDriver(TestDriver):
    name = "oot"


class BadDriver(TestDriver):
    name = "ootbad"

    @hookimpl
    def virtkit_domain_suspend(self, dom: DomainRef) -> bool:
        return True  # claims success, does nothing
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("oot")
    pkg = root / "virtkit-oot"
    pkg.mkdir()
    (pkg / "oot_driver.py").write_text(DRIVER)
    (pkg / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "virtkit-oot"
        version = "4.5.6"
        dependencies = []

        [project.entry-points."virtkit.drivers"]
        oot = "oot_driver:GoodDriver"
        ootbad = "oot_driver:BadDriver"

        [tool.setuptools]
        py-modules = ["oot_driver"]
    """))
    target = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(pkg)],
                   check=True, timeout=300)
    return target


def test_out_of_tree_driver_certified(site: Path, tmp_path: Path) -> None:
    out = certify("oot:///default", "-q", "--json", str(tmp_path / "r.json"),
                  env={"PYTHONPATH": str(site)})
    assert out.returncode == 0, out.stdout[-3000:]
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["driver"]["distribution"] == "virtkit-oot"
    assert record["driver"]["version"] == "4.5.6"
    assert record["groups"]["migration"]["status"] == "not supported", "no second host given"


def test_out_of_tree_driver_refused(site: Path, tmp_path: Path) -> None:
    out = certify("ootbad:///default", "-q", "--json", str(tmp_path / "r.json"),
                  "--report", str(tmp_path / "r.md"), env={"PYTHONPATH": str(site)})
    assert out.returncode == 1 and "REFUSED" in out.stdout
    record = json.loads((tmp_path / "r.json").read_text())
    names = {t["name"] for t in record["tests"] if t["outcome"] == "failed"}
    assert "test_suspend_resume" in names
    report = (tmp_path / "r.md").read_text()
    assert "test_suspend_resume" in report and "Minimal failing example" in report
