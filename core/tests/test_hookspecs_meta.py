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


def test_typed_hooks_are_generated_from_the_specs() -> None:
    from virtkit.sdk.hookspecs.__main__ import typed_calls

    module = REPO / "core" / "src" / "virtkit" / "runtime" / "hooks.py"
    assert module.read_text() == typed_calls(), (
        "regenerate: python -m virtkit.sdk.hookspecs --calls > core/src/virtkit/runtime/hooks.py"
    )


# -- the checklist for a hook family: what is not derived from the specs must be there ------------

SPEC_DIR = REPO / "core" / "src" / "virtkit" / "sdk" / "hookspecs"
API_DIR = REPO / "core" / "src" / "virtkit" / "api"


def test_every_spec_module_is_registered() -> None:
    """A new spec module must be added to MODULES, or its hooks are never specs."""
    from virtkit.sdk.hookspecs import MODULES

    registered = {m.__name__.rsplit(".", 1)[-1] for m in MODULES}
    files = {p.stem for p in SPEC_DIR.glob("*.py")} - {"__init__", "__main__", "markers"}
    assert files <= registered, f"spec modules not in MODULES: {sorted(files - registered)}"


#: operations the runtime itself calls, not the facade, and why
RUNTIME_ONLY = {
    "connect_probe": "called on a fresh driver while picking the default URI",
    "vol_translate": "called by hypervisor drivers on their own connection (context.call)",
}


@pytest.mark.parametrize("hook", SPECS)
def test_every_hook_is_reachable_from_the_facade(hook: str) -> None:
    """The API facade calls every operation (through the typed hooks) somewhere."""
    op = hook[len(PREFIX):]
    if op in RUNTIME_ONLY:
        return
    facade = "".join(p.read_text() for p in API_DIR.glob("*.py"))
    assert re.search(rf"hooks\.{op}\(", facade), f"no facade method calls {op}"


def test_the_test_driver_implements_every_hook() -> None:
    """The reference driver implements every hookspec, so the suite and the docs cover it, but
    for those it leaves out by design, each with its reason (``NOT_IMPLEMENTED``)."""
    import virtkit
    from virtkit.drivers.test import NOT_IMPLEMENTED

    conn = virtkit.open("test:///default")
    missing = [h[len(PREFIX):] for h in SPECS if not conn.implements(h[len(PREFIX):])]
    assert sorted(missing) == sorted(NOT_IMPLEMENTED)
    assert all(len(why) > 20 for why in NOT_IMPLEMENTED.values())


@pytest.mark.parametrize("hook", SPECS)
def test_every_object_argument_names_an_identity_record(hook: str) -> None:
    """Audit and access control find the object of every call from the specs: each argument
    named like an object (dom, net, pool, vol, iface, port) is typed with its ``*Ref``."""
    from virtkit.sdk.hookspecs import object_args

    objects = {"dom", "net", "pool", "vol", "iface", "port"}
    params = set(inspect.signature(all_specs()[hook]).parameters)
    assert params & objects <= set(object_args()[hook]), hook


@pytest.mark.parametrize("hook", SPECS)
def test_a_hook_returning_a_stream_id_declares_it_opens_a_stream(hook: str) -> None:
    """Without ``opens_stream`` the dispatcher does not record which provider owns the id, so
    the ``stream_*`` calls on it could reach a host service whose stream has the same id."""
    fn = all_specs()[hook]
    returns_stream = ":return: a stream id" in (inspect.getdoc(fn) or "")
    assert fn.virtkit_meta.opens_stream == returns_stream, (
        f"{hook}: its result is{'' if returns_stream else ' not'} a stream id, so "
        f"@spec(opens_stream={returns_stream})")
