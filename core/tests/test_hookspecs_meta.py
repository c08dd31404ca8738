"""Every hookspec is documented, remotable, listed in docs/hooks.md, and has a test."""

from __future__ import annotations

import inspect
import re
import typing
from pathlib import Path

import pytest

from virtkit.sdk.hookspecs import PREFIX, all_specs
from virtkit.sdk.hookspecs.__main__ import reference

TESTS = Path(__file__).parent
REPO = TESTS.parent.parent
SPECS = sorted(all_specs())
_PLAIN = {"str", "int", "float", "bool", "bytes", "None", "list", "dict", "Any", "|", "[", "]", ","}


@pytest.mark.parametrize("hook", SPECS)
def test_docstring_states_result_errors_and_state(hook: str) -> None:
    doc = inspect.getdoc(all_specs()[hook]) or ""
    assert len(doc.splitlines()[0]) > 10, f"{hook}: no summary line"
    assert ":state:" in doc, f"{hook}: the docstring must say its state change (':state:')"
    assert ":raises" in doc, f"{hook}: the docstring must say its errors (':raises')"


@pytest.mark.parametrize("hook", SPECS)
def test_arguments_and_result_are_plain_data(hook: str) -> None:
    from virtkit.sdk import records

    known = set(records.record_types())
    for name, hint in typing.get_type_hints(all_specs()[hook]).items():
        words = set(re.findall(r"[A-Za-z_]+", str(hint).replace("typing.", "")))
        words -= {"NoneType", "virtkit", "sdk", "records", "class", "builtins"}
        strange = words - _PLAIN - known
        assert not strange, f"{hook}: {name} uses {strange}, which is not plain data"


def test_docs_hooks_md_is_generated_from_the_specs() -> None:
    page = (REPO / "docs" / "hooks.md").read_text()
    assert page == reference(), "regenerate: python -m virtkit.hookspecs > docs/hooks.md"


def _tested_hooks() -> set[str]:
    found: set[str] = set()
    for path in TESTS.rglob("test_*.py"):
        for args in re.findall(r"(?:mark\.hook|@hook)\(([^)]*)\)", path.read_text()):
            found.update(re.findall(r"[\"']([a-z_]+)[\"']", args))
    return found


def test_every_hookspec_has_a_test() -> None:
    tested = _tested_hooks()
    missing = sorted(h for h in SPECS if h[len(PREFIX):] not in tested)
    assert not missing, f"hookspecs without a @pytest.mark.hook(...) test: {missing}"
    unknown = sorted(t for t in tested if PREFIX + t not in all_specs())
    assert not unknown, f"tests mark hooks that do not exist: {unknown}"
