"""The contract the core enforces on every hook call and on every driver and plugin.

Checks live at dispatch, declared with the hookspecs, so the tests here call hooks raw
(``conn.call``), as a forwarding daemon will, and use drivers and plugins that misbehave.
"""

from __future__ import annotations

import inspect
import json
import logging
import subprocess
import typing
from pathlib import Path
from typing import Any

import pytest

import virtkit
from virtkit.api.connection import Connection
from virtkit.runtime import registry
from virtkit.runtime.dispatch import op_specs
from virtkit.sdk.driver import Driver
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import PREFIX, all_specs, hookimpl
from virtkit.sdk.hookspecs.markers import meta
from virtkit.sdk.records import DomainRef, Event, NodeInfo
from virtkit.sdk.uri import parse_uri
from virtkit.sdk.wrap import Around, wrap_every_hook

REF = DomainRef("web1", "6695eb01-f6a4-8304-79aa-97f2502e193f", 1)


def connect(driver_cls: Any, *, read_only: bool = False, plugins: tuple[Any, ...] = (),
            services: tuple[Any, ...] = ()) -> Connection:
    uri = "spy:///default"
    return Connection(uri, parse_uri(uri), read_only, driver_cls, plugins, services=services)


# -- a driver that implements every hook and records what reaches it ------------------------------


def _spy_class() -> type[Driver]:
    namespace: dict[str, Any] = {"hookimpl": hookimpl}
    body = []
    for hook, fn in all_specs().items():
        params = list(inspect.signature(fn).parameters)
        args = "".join(f", {a}" for a in params)
        body.append(
            f"    @hookimpl\n    def {hook}(self{args}):\n"
            f"        self.calls.append(({hook[len(PREFIX):]!r}, dict({', '.join(f'{a}={a}' for a in params)})))\n"
            f"        return self.answer({hook[len(PREFIX):]!r})\n"
        )
    source = "class Spy:\n" + "\n".join(body)
    exec(compile(source, "<spy driver>", "exec"), namespace)

    class SpyDriver(Driver, namespace["Spy"]):  # type: ignore[misc]
        name = "spy"

        def __init__(self, context: Any) -> None:
            super().__init__(context)
            self.calls: list[tuple[str, dict[str, Any]]] = []

        def answer(self, op: str) -> Any:
            return True if op == "connect_open" else None

    return SpyDriver


SpyDriver = _spy_class()


def _wrong_value(hint: Any) -> Any:
    """A value no annotation of a hookspec argument admits."""
    return object()


def _good_value(arg: str, hint: Any) -> Any:
    """A value of the annotated type that passes the name checks."""
    members = [m for m in typing.get_args(hint) if m is not type(None)] or [hint]
    target = members[0]
    if arg == "uuid":
        return REF.uuid
    if arg == "xml":
        return "<domain/>"
    if typing.get_origin(target) is list:
        return []
    if typing.get_origin(target) is dict:
        return {}
    if target is bool:
        return False
    if target is int:
        return 1
    if target is float:
        return 1.0
    if target is str:
        return {"mode": None, "source": "lease", "algorithm": "zero", "start_state": None,
                "name": "x", "path": "/tmp/x"}.get(arg, "x")
    if target is bytes:
        return b""
    if isinstance(target, type) and target.__name__.endswith("Ref"):
        fields = {f: ("x" if f != "id" else 1) for f in target.__annotations__}
        if target.__name__ == "SnapshotRef":
            fields = {"domain": REF, "name": "s"}
        return target(**fields)
    return None


OPS = sorted(op_specs())


def _args(op: str) -> dict[str, Any]:
    fn = all_specs()[PREFIX + op]
    hints = typing.get_type_hints(fn)
    return {a: _good_value(a, hints.get(a, Any)) for a in inspect.signature(fn).parameters}


@pytest.mark.parametrize("op", OPS)
def test_every_hook_refuses_missing_and_unknown_arguments_before_the_driver(op: str) -> None:
    conn = connect(SpyDriver)
    spy = conn.driver
    spy.calls.clear()  # connect_open ran at open
    good = _args(op)
    if good:
        missing = dict(good)
        missing.pop(next(iter(missing)))
        with pytest.raises(VirtError) as info:
            conn.call(op, **missing)
        assert info.value.code == ErrorCode.INVALID_ARG and "missing argument" in info.value.message
    with pytest.raises(VirtError) as info:
        conn.call(op, **good, bogus=1)
    assert info.value.code == ErrorCode.INVALID_ARG and "unknown argument bogus" in info.value.message
    assert [c for c in spy.calls if c[0] == op] == []


@pytest.mark.parametrize("op", [op for op in OPS if _args(op)])
def test_every_hook_checks_each_argument_type_before_the_driver(op: str) -> None:
    conn = connect(SpyDriver)
    spy = conn.driver
    spy.calls.clear()
    good = _args(op)
    hints = typing.get_type_hints(all_specs()[PREFIX + op])
    for arg in good:
        if hints.get(arg, Any) is Any:
            continue
        bad = dict(good, **{arg: _wrong_value(hints[arg])})
        with pytest.raises(VirtError) as info:
            conn.call(op, **bad)
        assert info.value.code in (ErrorCode.INVALID_ARG, ErrorCode.XML_ERROR), (op, arg)
        assert op in info.value.message or "invalid" in info.value.message
    assert [c for c in spy.calls if c[0] == op] == []


@pytest.mark.parametrize("op", OPS)
def test_a_wrong_type_gets_the_words_of_the_annotations_type_check(op: str) -> None:
    """The dispatcher checks a plain class (a record, str, bool) itself, without calling
    ``type_check``'s closure, and skips a type that a check by the argument's name guarantees:
    each argument's error is still ``type_check``'s, word for word, or the name check's."""
    import copy

    from virtkit.sdk.checks import BY_NAME, type_check

    spec = op_specs()[op]
    hints = typing.get_type_hints(all_specs()[PREFIX + op])
    for entry in spec.checks:
        arg = entry[0]
        hint = hints.get(arg, Any)
        check = BY_NAME.get(arg) or type_check(hint, f"argument '{arg}'")
        assert check is not None, (op, arg)
        alone = copy.copy(spec)
        alone.checks = (entry,)  # this argument's checks only, the others' values left None
        for value in (_wrong_value(hint), b"x", 3, 2.5, True, "x", [], None):
            if value is None and entry[1]:
                continue  # an optional argument's None is never checked
            try:
                check(value, op)
                continue  # admitted by the annotation (or the name's check): not a wrong type
            except VirtError as exc:
                want = exc
            with pytest.raises(VirtError) as got:
                alone.check_args({**dict.fromkeys(spec.argnames), arg: value})
            assert (got.value.code, got.value.message) == (want.code, want.message), (op, arg)


def test_the_class_a_result_passes_by_is_the_declared_class_itself() -> None:
    """Only a result declared as one class (``X`` or ``X | None``) passes by that class; a
    list of records is not passed by its item's class (a driver returning one record where a
    list is declared still meets the result check)."""
    from virtkit.runtime.dispatch import OpSpec
    from virtkit.sdk.hookspecs.markers import spec

    def virtkit_fake_list(dom: DomainRef) -> list[DomainRef]: ...
    def virtkit_fake_list_or_none(dom: DomainRef) -> list[DomainRef] | None: ...
    def virtkit_fake_one(dom: DomainRef) -> DomainRef: ...
    def virtkit_fake_one_or_none(dom: DomainRef) -> DomainRef | None: ...

    made = {fn.__name__: OpSpec(fn.__name__, spec(readonly=True)(fn)).result_type
            for fn in (virtkit_fake_list, virtkit_fake_list_or_none, virtkit_fake_one,
                       virtkit_fake_one_or_none)}
    assert made == {"virtkit_fake_list": None, "virtkit_fake_list_or_none": None,
                    "virtkit_fake_one": DomainRef, "virtkit_fake_one_or_none": DomainRef}


def test_a_result_of_the_declared_class_passes_and_a_wrong_one_does_not() -> None:
    """A result of exactly the declared class passes without the result check's call; any
    other class still goes through it."""
    conn = connect(SpyDriver)
    conn.driver.answer = lambda op: REF  # type: ignore[method-assign]
    assert conn.call("domain_lookup_by_name", name="x") == REF
    for wrong in ("web1", 1, [REF], True):
        conn.driver.answer = lambda op, wrong=wrong: wrong  # type: ignore[method-assign]
        with pytest.raises(VirtError) as info:
            conn.call("domain_lookup_by_name", name="x")
        assert info.value.code == ErrorCode.INTERNAL_ERROR
        assert "not what the hookspec declares" in info.value.message
    conn.driver.answer = lambda op: True  # type: ignore[method-assign]
    with pytest.raises(VirtError) as info:
        conn.call("domain_get_vcpus_count", dom=REF, live=True, config=False,
                  maximum=False)  # an int: a bool is not one
    assert info.value.code == ErrorCode.INTERNAL_ERROR


@pytest.mark.parametrize(
    "op, arg, value, words",
    [
        ("domain_set_memory", "kib", -5, "memory size in KiB -5"),
        ("domain_set_memory", "kib", 0, "must be an integer >= 1"),
        ("domain_set_vcpus", "count", 0, "vcpu count 0"),
        ("domain_shutdown", "mode", "gently", "unknown shutdown mode 'gently'"),
        ("domain_reboot", "mode", "now", "unknown reboot mode 'now'"),
        ("domain_restore", "start_state", "sleeping", "unknown start state"),
        ("domain_interface_addresses", "source", "dns", "unknown address source 'dns'"),
        ("vol_wipe", "algorithm", "shred", "unknown wipe algorithm 'shred'"),
        ("vol_lookup_by_name", "name", "../etc", "cannot contain '/'"),
        ("vol_lookup_by_name", "name", "..", "cannot contain '..'"),
        ("vol_upload", "offset", -1, "offset -1 must be a non-negative"),
        ("domain_lookup_by_uuid", "uuid", "not-a-uuid", "is not a valid uuid"),
        ("domain_lookup_by_name", "name", "", "must be a non-empty string"),
        ("domain_lookup_by_id", "id", -3, "id -3 must be a non-negative"),
        ("domain_set_memory", "kib", True, "must be int, not bool"),
    ],
)
def test_declared_checks_run_on_a_raw_call(op: str, arg: str, value: Any, words: str) -> None:
    conn = connect(SpyDriver)
    with pytest.raises(VirtError) as info:
        conn.call(op, **dict(_args(op), **{arg: value}))
    assert info.value.code == ErrorCode.INVALID_ARG
    assert words in info.value.message, info.value.message
    assert conn.driver.calls == [("connect_open", {"uri": "spy:///default", "read_only": False})]


def test_checks_normalise_what_they_accept() -> None:
    conn = connect(SpyDriver)
    conn.driver.answer = lambda op: REF  # type: ignore[method-assign]
    conn.call("domain_lookup_by_uuid", uuid=REF.uuid.upper())
    conn.call("domain_define_xml", xml=b"<domain/>", validate=False)
    calls = dict(conn.driver.calls)
    assert calls["domain_lookup_by_uuid"] == {"uuid": REF.uuid}
    assert calls["domain_define_xml"]["xml"] == "<domain/>"


def test_a_negative_memory_size_never_reaches_the_stored_definition() -> None:
    conn = virtkit.open("test:///default")
    dom = conn.lookup_by_name("test")
    before = dom.xml_desc(inactive=True)
    for value in (-5, 0):
        with pytest.raises(VirtError) as info:
            conn.call("domain_set_memory", dom=dom.ref, kib=value, live=False, config=True,
                      maximum=False)
        assert info.value.code == ErrorCode.INVALID_ARG
    with pytest.raises(VirtError):
        conn.call("domain_set_vcpus", dom=dom.ref, count=0, live=True, config=False,
                  maximum=False)
    with pytest.raises(VirtError):
        conn.call("domain_shutdown", dom=dom.ref, mode="bogus")
    assert dom.xml_desc(inactive=True) == before
    assert dom.is_active()


# -- read-only, generated from the hookspecs ------------------------------------------------------


def _denied_args(op: str) -> dict[str, Any] | None:
    """Arguments with which a read-only connection must refuse ``op``, or None if it may."""
    rule = meta(all_specs()[PREFIX + op]).readonly
    args = _args(op)
    if rule is False:
        return args
    if rule is True:
        return None
    for candidate in (dict(args, security_info=True), dict(args, source="agent")):
        if set(candidate) == set(args) and not rule(candidate):
            return candidate
    raise AssertionError(f"{op}: a read-only rule refuses no arguments this test knows")


@pytest.mark.parametrize("op", OPS)
def test_read_only_refuses_every_write_and_secret_before_the_driver(op: str) -> None:
    conn = connect(SpyDriver, read_only=True)
    conn.driver.calls.clear()
    denied = _denied_args(op)
    if denied is None:
        return
    with pytest.raises(VirtError) as info:
        conn.call(op, **denied)
    assert info.value.code == ErrorCode.OPERATION_DENIED
    assert f"read only access prevents {op}" in info.value.message
    assert [c for c in conn.driver.calls if c[0] == op] == []


@pytest.mark.parametrize(
    "op, allowed, refused",
    [
        ("domain_get_xml", {"security_info": False}, {"security_info": True}),
        ("snapshot_get_xml", {"security_info": False}, {"security_info": True}),
        ("domain_interface_addresses", {"source": "lease"}, {"source": "agent"}),
    ],
)
def test_read_only_rules_that_depend_on_arguments(op: str, allowed: dict[str, Any],
                                                  refused: dict[str, Any]) -> None:
    conn = connect(SpyDriver, read_only=True)
    conn.driver.answer = lambda o: "x" if "xml" in o else []  # type: ignore[method-assign]
    conn.call(op, **dict(_args(op), **allowed))
    with pytest.raises(VirtError) as info:
        conn.call(op, **dict(_args(op), **refused))
    assert info.value.code == ErrorCode.OPERATION_DENIED
    assert "secrets" in info.value.message or "agent" in info.value.message


def test_secrets_and_data_on_a_read_only_test_connection() -> None:
    rw = virtkit.open("test:///default")
    dom = rw.define_xml(
        "<domain type='test'><name>vnc</name><memory>1024</memory><os><type>hvm</type></os>"
        "<devices><graphics type='vnc' passwd='s3cret'/></devices></domain>"
    )
    dom.create()
    dom.snapshot_create_xml("<domainsnapshot><name>s1</name></domainsnapshot>")
    ro = virtkit.open("test:///default", read_only=True)
    rdom = ro.lookup_by_name("vnc")
    assert "s3cret" not in rdom.xml_desc(inactive=True)
    assert "s3cret" not in rdom.snapshot_lookup_by_name("s1").xml_desc()
    for call in (lambda: rdom.xml_desc(inactive=True, security_info=True),
                 lambda: rdom.snapshot_lookup_by_name("s1").xml_desc(security_info=True),
                 lambda: rdom.interface_addresses(source="agent")):
        with pytest.raises(VirtError) as info:
            call()
        assert info.value.code == ErrorCode.OPERATION_DENIED
    assert "s3cret" in dom.snapshot_lookup_by_name("s1").xml_desc(security_info=True)


# -- drivers and plugins that do not match the specs ----------------------------------------------


class Minimal(Driver):
    name = "minimal"

    @hookimpl
    def virtkit_connect_open(self, uri: str, read_only: bool) -> bool:
        return True


def test_a_misspelt_hookimpl_is_refused_naming_the_driver() -> None:
    class Typo(Minimal):
        name = "typo"

        @hookimpl
        def virtkit_domain_suspnd(self, dom: DomainRef) -> bool:
            return True

    with pytest.raises(VirtError) as info:
        connect(Typo)
    assert info.value.code == ErrorCode.INTERNAL_ERROR
    assert "'typo'" in info.value.message and "virtkit_domain_suspnd" in info.value.message
    assert "did you mean virtkit_domain_suspend" in info.value.message


def test_a_misspelt_method_without_the_marker_is_refused_too() -> None:
    class Unmarked(Minimal):
        name = "unmarked"

        def virtkit_domain_resum(self, dom: DomainRef) -> bool:
            return True

    with pytest.raises(VirtError) as info:
        connect(Unmarked)
    assert "virtkit_domain_resum" in info.value.message


def test_a_hookimpl_with_an_argument_the_spec_lacks_is_refused() -> None:
    class Extra(Minimal):
        name = "extra"

        @hookimpl
        def virtkit_domain_suspend(self, dom: DomainRef, force: bool) -> bool:
            return True

    with pytest.raises(VirtError) as info:
        connect(Extra)
    assert info.value.code == ErrorCode.INTERNAL_ERROR
    assert "'extra'" in info.value.message and "force" in info.value.message


def test_a_plugin_may_only_wrap() -> None:
    class Impostor:
        name = "impostor"

        def __init__(self, context: Any) -> None:
            pass

        @hookimpl
        def virtkit_domain_lookup_by_name(self, name: str) -> DomainRef:
            return REF

    with pytest.raises(VirtError) as info:
        connect(Minimal, plugins=(Impostor,))
    assert info.value.code == ErrorCode.INTERNAL_ERROR
    assert "plugin 'impostor'" in info.value.message
    assert "virtkit_domain_lookup_by_name" in info.value.message and "only wrap" in info.value.message


def test_a_plugin_whose_constructor_raises_is_named() -> None:
    class Broken:
        name = "broken-plugin"

        def __init__(self, context: Any) -> None:
            raise RuntimeError("no config")

    with pytest.raises(VirtError) as info:
        connect(Minimal, plugins=(Broken,))
    assert "plugin 'broken-plugin'" in info.value.message and "no config" in info.value.message


def test_a_wrapper_that_raises_is_reported_as_the_plugins_fault() -> None:
    @wrap_every_hook
    class Faulty:
        name = "faulty"

        def __init__(self, context: Any) -> None:
            pass

        def around(self, op: str, args: dict[str, Any]) -> Around:
            result = yield
            if op == "node_get_info":
                raise ValueError("metrics backend down")
            return result

    class Node(Minimal):
        @hookimpl
        def virtkit_node_get_info(self) -> NodeInfo:
            return NodeInfo("x86_64", 1024, 1, 1000, 1, 1, 1, 1)

    conn = connect(Node, plugins=(Faulty,))
    with pytest.raises(VirtError) as info:
        conn.call("node_get_info")
    assert info.value.code == ErrorCode.INTERNAL_ERROR
    assert "plugin 'faulty'" in info.value.message and "driver" not in info.value.message


def test_an_unwritable_audit_log_never_misreports_the_change(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("VIRTKIT_AUDIT_LOG", str(tmp_path / "missing-dir" / "audit.log"))
    registry.plugin_classes.cache_clear()
    try:
        conn = virtkit.open("test:///default")
        with caplog.at_level(logging.ERROR):
            dom = conn.define_xml("<domain type='test'><name>audited</name><memory>1024</memory>"
                                  "<os><type>hvm</type></os></domain>")
        assert dom.name == "audited"
        assert "audit log" in caplog.text and "cannot be written" in caplog.text
    finally:
        registry.plugin_classes.cache_clear()


# -- results a driver returns ---------------------------------------------------------------------


class Liar(Minimal):
    name = "liar"
    answers: typing.ClassVar[dict[str, Any]] = {}

    @hookimpl
    def virtkit_domain_lookup_by_name(self, name: str) -> Any:
        return self.answers["lookup"]

    @hookimpl
    def virtkit_domain_get_info(self, dom: DomainRef) -> Any:
        return self.answers["info"]

    @hookimpl
    def virtkit_node_get_info(self) -> Any:
        return self.answers["node"]

    @hookimpl
    def virtkit_domain_list(self) -> Any:
        return self.answers["list"]


@pytest.mark.parametrize(
    "op, key, value, kwargs",
    [
        ("domain_lookup_by_name", "lookup", {"name": "x"}, {"name": "x"}),
        ("domain_lookup_by_name", "lookup", None, {"name": "x"}),
        ("domain_get_info", "info", "running", {"dom": REF}),
        ("node_get_info", "node", 42, {}),
        ("domain_list", "list", ["not a summary"], {}),
        ("domain_list", "list", {"a": 1}, {}),
    ],
)
def test_a_wrong_result_is_an_internal_error_naming_the_driver(
    op: str, key: str, value: Any, kwargs: dict[str, Any]
) -> None:
    Liar.answers = {key: value}
    conn = connect(Liar)
    with pytest.raises(VirtError) as info:
        conn.call(op, **kwargs)
    assert info.value.code == ErrorCode.INTERNAL_ERROR
    assert "driver 'liar'" in info.value.message and op in info.value.message


def test_deep_result_checks_look_at_every_item(monkeypatch: pytest.MonkeyPatch) -> None:
    from virtkit.sdk.records import DomainSummary
    from virtkit.sdk.states import DomainState

    good = DomainSummary(REF, DomainState.RUNNING, 1, True, False, False, 0)
    Liar.answers = {"list": [good, "bad"]}
    assert connect(Liar).call("domain_list")[1] == "bad"  # the cheap check reads the first
    monkeypatch.setenv("VIRTKIT_CHECK_RESULTS", "1")
    with pytest.raises(VirtError) as info:
        connect(Liar).call("domain_list")
    assert info.value.code == ErrorCode.INTERNAL_ERROR


@pytest.mark.parametrize("exc, code", [(SystemExit(3), ErrorCode.INTERNAL_ERROR),
                                       (KeyboardInterrupt(), ErrorCode.OPERATION_ABORTED),
                                       (ZeroDivisionError(), ErrorCode.INTERNAL_ERROR)])
def test_nothing_but_virterror_escapes_a_driver(exc: BaseException, code: ErrorCode) -> None:
    class Raiser(Minimal):
        name = "raiser"

        @hookimpl
        def virtkit_domain_suspend(self, dom: DomainRef) -> bool:
            raise exc

    with pytest.raises(VirtError) as info:
        connect(Raiser).call("domain_suspend", dom=REF)
    assert info.value.code == code and "domain_suspend" in info.value.message


def test_virterror_with_a_code_libvirt_lacks_still_has_a_repr() -> None:
    err = VirtError(9999, "odd", 777)
    assert repr(err) == "VirtError(9999, 'odd', domain=777)"
    assert VirtError.from_dict(err.to_dict()).code == 9999


def test_error_numbers_are_libvirts() -> None:
    """Every ErrorCode and ErrorDomain has libvirt's number (python3-libvirt's constants)."""
    script = (
        "import json, libvirt\n"
        "print(json.dumps({k: v for k, v in vars(libvirt).items()"
        " if k.startswith(('VIR_ERR_', 'VIR_FROM_')) and isinstance(v, int)}))\n"
    )
    out = subprocess.run(["/usr/bin/python3", "-c", script], capture_output=True, text=True,
                         check=True)
    theirs = json.loads(out.stdout)
    for code in ErrorCode:
        assert theirs.get(f"VIR_ERR_{code.name}") == code.value, code
    for dom in ErrorDomain:
        assert theirs.get(f"VIR_FROM_{dom.name}") == dom.value, dom
    errors = {k[8:] for k in theirs if k.startswith("VIR_ERR_")} - {"NONE", "WARNING", "ERROR"}
    assert errors <= set(ErrorCode.__members__), errors - set(ErrorCode.__members__)


# -- events ---------------------------------------------------------------------------------------


def test_a_bad_event_is_dropped_and_delivery_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    conn = virtkit.open("test:///default")
    seen: list[Event] = []
    conn.event_register("domain-lifecycle", seen.append)
    with caplog.at_level(logging.ERROR):
        conn.events.emit("not an event")  # type: ignore[arg-type]
        conn.events.emit(Event("domain-exploded", REF))
        conn.events.emit(Event("domain-lifecycle", REF, 0, 0))
    assert conn.events.wait_idle()
    assert len(seen) == 1
    assert caplog.text.count("dropped a bad event") == 2
    conn.lookup_by_name("test").suspend()
    assert conn.events.wait_idle() and len(seen) == 2


# -- providers: the driver and the host services it declares ---------------------------------------


class Lookups:
    name = "lookups"

    def __init__(self, context: Any) -> None:
        self.context = context

    @hookimpl
    def virtkit_domain_lookup_by_name(self, name: str) -> DomainRef:
        return DomainRef(name, REF.uuid, -1)

    @hookimpl
    def virtkit_node_get_free_memory(self) -> int:
        return 7


def test_a_host_service_answers_what_the_driver_lacks_and_the_driver_wins() -> None:
    class Own(Minimal):
        name = "own"

        @hookimpl
        def virtkit_node_get_free_memory(self) -> int:
            return 1

    conn = connect(Own, services=(Lookups,))
    assert conn.implements("domain_lookup_by_name") and conn.implements("node_get_free_memory")
    assert conn.call("domain_lookup_by_name", name="a").name == "a"
    assert conn.call("node_get_free_memory") == 1
    assert conn.node_free_memory() == 1


def test_two_services_may_not_answer_one_hook() -> None:
    class Twin(Lookups):
        name = "twin"

    with pytest.raises(VirtError) as info:
        connect(Minimal, services=(Lookups, Twin))
    assert "'lookups' and 'twin' both implement" in info.value.message


def test_a_forwarding_driver_restricts_what_it_implements() -> None:
    class Forward(SpyDriver):  # type: ignore[misc,valid-type]
        def implemented_operations(self) -> frozenset[str]:
            return frozenset({"connect_open", "domain_list"})

    conn = connect(Forward)
    assert conn.implements("domain_list") and not conn.implements("domain_suspend")
    with pytest.raises(VirtError) as info:
        conn.call("domain_suspend", dom=REF)
    assert info.value.code == ErrorCode.NO_SUPPORT and "'spy'" in info.value.message


def test_client_side_drivers_take_host_uris(monkeypatch: pytest.MonkeyPatch) -> None:
    class Esxish(Minimal):
        name = "esxish"
        takes_host_uris = True

    class Remote(Minimal):
        name = "remote"

    classes = {"esxish": Esxish, "plain": Minimal, "remote": Remote}
    monkeypatch.setattr(registry, "_claims", lambda s: [s] if s in classes else [])
    monkeypatch.setattr(registry, "load_driver", lambda s: classes[s])
    assert registry.driver_for(parse_uri("esxish://root@127.0.0.1/")) is Esxish
    assert registry.driver_for(parse_uri("esxish+ssh://root@127.0.0.1/")) is Remote
    assert registry.driver_for(parse_uri("plain://host/system")) is Remote
    assert registry.driver_for(parse_uri("unknown://host/system")) is Remote
    assert registry.driver_for(parse_uri("plain:///system")) is Minimal


def test_open_refuses_a_uri_that_is_not_a_string() -> None:
    with pytest.raises(VirtError) as info:
        virtkit.open(5)  # type: ignore[arg-type]
    assert info.value.code == ErrorCode.INVALID_ARG and "int" in info.value.message


def test_the_caller_identity_reaches_the_driver() -> None:
    conn = virtkit.open("test:///default")
    identity = conn.driver.context.identity
    assert identity is not None and identity.uid is not None and identity.pid is not None


@pytest.mark.hook("network_get_summary", "pool_get_summary", "interface_get_summary")
def test_per_object_summaries_need_no_full_list() -> None:
    conn = virtkit.open("test:///default")
    net = conn.network_lookup_by_name("default")
    pool = conn.storage_pool_lookup_by_name("default-pool")
    iface = conn.interface_lookup_by_name("eth1")
    assert net.summary().ref == net.ref and net.is_active()
    assert pool.is_active() and pool.is_persistent()
    assert iface.is_active()
    net.destroy()
    assert not net.is_active()
    gone = virtkit.open("test:///default")
    stale = gone.network_lookup_by_name("default")
    net.undefine()
    with pytest.raises(VirtError) as info:
        stale.is_active()
    assert info.value.code == ErrorCode.NO_NETWORK


# -- streams belong to the provider that opened them; drivers call their own connection ----------


class _Streams:
    """A provider with streams of its own, numbered from ``base``."""

    base = 0

    def __init__(self, context: Any) -> None:
        self.context = context
        self.open: dict[int, bytes] = {}
        self.closed = 0

    def _new(self, data: bytes) -> int:
        sid = self.base + len(self.open) + 1
        self.open[sid] = data
        return sid

    def _get(self, stream: int) -> bytes:
        if stream not in self.open:
            raise VirtError(ErrorCode.INVALID_STREAM, f"no stream {stream} in {self.name}")
        return self.open[stream]

    @hookimpl
    def virtkit_stream_recv(self, stream: int, nbytes: int, timeout: float | None) -> bytes:
        return self._get(stream)[:nbytes]

    @hookimpl
    def virtkit_stream_finish(self, stream: int) -> bool:
        self._get(stream)
        del self.open[stream]
        return True


class ConsoleDriver(_Streams, Minimal):
    name = "console"

    @hookimpl
    def virtkit_domain_open_console(self, dom: DomainRef, device: str | None, force: bool) -> int:
        return self._new(b"console of " + dom.name.encode())


class VolumeService(_Streams):
    name = "volumes"
    base = 1 << 32

    @hookimpl
    def virtkit_vol_download(self, vol: Any, offset: int, length: int) -> int:
        return self._new(b"content of " + vol.name.encode())

    @hookimpl
    def virtkit_vol_translate(self, pool_name: str, volume_name: str) -> Any:
        from virtkit.sdk.records import VolumeSource

        return VolumeSource(f"/pools/{pool_name}/{volume_name}", "qcow2", "file")

    def close(self) -> None:
        self.closed += 1


@pytest.mark.hook("vol_translate")
def test_stream_calls_go_to_the_provider_that_opened_the_stream() -> None:
    from virtkit.sdk.records import VolumeRef

    conn = connect(ConsoleDriver, services=(VolumeService,))
    console = conn.call("domain_open_console", dom=REF, device=None, force=False)
    download = conn.call("vol_download", vol=VolumeRef("p", "disk.img", "k", "/p/disk.img"),
                         offset=0, length=0)
    assert download > console
    assert conn.call("stream_recv", stream=download, nbytes=100, timeout=None) == \
        b"content of disk.img"
    assert conn.call("stream_recv", stream=console, nbytes=100, timeout=None) == b"console of web1"
    conn.call("stream_finish", stream=download)
    with pytest.raises(VirtError) as info:
        conn.call("stream_recv", stream=download, nbytes=1, timeout=None)
    assert info.value.code == ErrorCode.INVALID_STREAM
    # a driver reaches its own connection's host services through its context
    source = conn.driver.context.call("vol_translate", {"pool_name": "p", "volume_name": "v"})
    assert (source.path, source.format, source.type) == ("/pools/p/v", "qcow2", "file")
    service = conn._dispatch.providers[1]
    conn.close()
    assert service.closed == 1


def test_the_test_driver_translates_volume_disks() -> None:
    conn = virtkit.open("test:///default")
    pool = conn.storage_pool_lookup_by_name("default-pool")
    pool.create_xml("<volume><name>boot.qcow2</name><capacity>1024</capacity>"
                    "<target><format type='qcow2'/></target></volume>")
    source = conn.driver.context.call(
        "vol_translate", {"pool_name": "default-pool", "volume_name": "boot.qcow2"}
    )
    assert source.path.endswith("/boot.qcow2") and source.format == "qcow2"
    for bad, code in ((("nopool", "boot.qcow2"), ErrorCode.NO_STORAGE_POOL),
                      (("default-pool", "missing"), ErrorCode.NO_STORAGE_VOL),
                      (("default-pool", "../etc/passwd"), ErrorCode.INVALID_ARG)):
        with pytest.raises(VirtError) as info:
            conn.driver.context.call("vol_translate",
                                     {"pool_name": bad[0], "volume_name": bad[1]})
        assert info.value.code == code


def test_a_stuck_driver_costs_its_caller_a_timeout_not_a_hang() -> None:
    import threading
    import time

    release = threading.Event()

    class Stuck(Minimal):
        name = "stuck"

        @hookimpl
        def virtkit_domain_suspend(self, dom: DomainRef) -> bool:
            release.wait(30)
            return True

        @hookimpl
        def virtkit_node_get_free_memory(self) -> int:
            return 5

    uri = "spy:///default"
    conn = Connection(uri, parse_uri(uri), False, Stuck, call_timeout=0.3)
    start = time.monotonic()
    with pytest.raises(VirtError) as info:
        conn.call("domain_suspend", dom=REF)
    assert info.value.code == ErrorCode.OPERATION_TIMEOUT
    assert "domain_suspend" in info.value.message and "0.3 s" in info.value.message
    assert time.monotonic() - start < 5
    assert conn.node_free_memory() == 5  # other calls go on meanwhile
    release.set()
    conn.close()
    with pytest.raises(VirtError) as info:
        Connection(uri, parse_uri(uri), False, Stuck, call_timeout=-1)
    assert info.value.code == ErrorCode.INVALID_ARG


@pytest.mark.hook("connect_domain_xml_from_native", "connect_domain_xml_to_native")
def test_native_configuration_round_trip_through_the_facade() -> None:
    class Native(Minimal):
        name = "native"

        @hookimpl
        def virtkit_connect_domain_xml_from_native(self, native_format: str,
                                                   native_config: str) -> str:
            if native_format != "kv":
                raise VirtError(ErrorCode.CONFIG_UNSUPPORTED,
                                f"unsupported configuration: native format '{native_format}'")
            name = dict(line.split("=", 1) for line in native_config.splitlines())["name"]
            return f"<domain type='test'><name>{name}</name></domain>"

        @hookimpl
        def virtkit_connect_domain_xml_to_native(self, native_format: str, xml: str) -> str:
            return "name=" + xml.split("<name>")[1].split("</name>")[0]

    conn = connect(Native)
    xml = conn.domain_xml_from_native("kv", "name=web1")
    assert "<name>web1</name>" in xml
    assert conn.domain_xml_to_native("kv", xml.encode()) == "name=web1"
    with pytest.raises(VirtError) as info:
        conn.domain_xml_from_native("vmx", "x")
    assert info.value.code == ErrorCode.CONFIG_UNSUPPORTED and "'vmx'" in info.value.message
    with pytest.raises(VirtError) as info:
        virtkit.open("test:///default").domain_xml_to_native("kv", "<domain/>")
    assert info.value.code == ErrorCode.NO_SUPPORT


def test_events_filtered_by_an_object_without_a_uuid() -> None:
    """Node devices are known by name: an event registration for one device sees only its own."""
    conn = virtkit.open("test:///default")
    host = conn.node_device_lookup_by_name("scsi_host1")
    everything: list[Event] = []
    for_host: list[Event] = []
    conn.event_register("nodedev-lifecycle", everything.append)
    conn.event_register("nodedev-lifecycle", for_host.append, obj=host)
    vhba = conn.node_device_create_xml(
        "<device><parent>scsi_host1</parent><capability type='scsi_host'>"
        "<capability type='fc_host'/></capability></device>")
    for_vhba: list[Event] = []
    conn.event_register("nodedev-lifecycle", for_vhba.append, obj=vhba)
    vhba.destroy()
    assert conn.events.wait_idle()
    assert len(everything) >= 2  # created, then deleted
    assert for_host == []
    assert for_vhba and {e.obj.name for e in for_vhba} == {vhba.name}


def test_event_bus_tells_its_watchers_which_kinds_are_wanted() -> None:
    from virtkit.runtime.events import EventBus

    bus = EventBus()
    told: list[frozenset[str]] = []
    bus.watch(told.append)
    first = bus.register("domain-lifecycle", lambda ev: None)
    second = bus.register("domain-lifecycle", lambda ev: None)  # no change: not told again
    reboot = bus.register("domain-reboot", lambda ev: None)
    bus.deregister(first)
    bus.deregister(second)
    bus.deregister(reboot)
    assert told == [frozenset({"domain-lifecycle"}),
                    frozenset({"domain-lifecycle", "domain-reboot"}),
                    frozenset({"domain-reboot"}), frozenset()]

    def refuse(kinds: frozenset[str]) -> None:
        raise VirtError(ErrorCode.RPC, "the daemon is gone")

    bus.watch(refuse)
    with pytest.raises(VirtError):
        bus.register("network-lifecycle", lambda ev: None)
    assert bus.wanted() == frozenset()  # the failed registration left no callback
    bus.close()
