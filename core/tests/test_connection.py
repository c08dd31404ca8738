"""Opening connections: default URI, aliases, read-only refusal, dispatch errors, audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import virtkit
from virtkit.api.connection import Connection, default_uri
from virtkit.sdk.driver import Driver
from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.sdk.hookspecs import all_specs, hookimpl, readonly_ops
from virtkit.sdk.uri import parse_uri


def test_first_check_of_the_issue() -> None:
    c = virtkit.open("test:///default")
    assert [d.name for d in c.list_domains()] == ["test"]


def test_default_uri_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert default_uri() == "test:///default"  # nothing else can run here among core's drivers
    cfg = tmp_path / "virtkit.conf"
    cfg.write_text('uri_default = "test:///from-config.xml"\n')
    monkeypatch.setenv("VIRTKIT_CONFIG", str(cfg))
    assert default_uri() == "test:///from-config.xml"
    monkeypatch.setenv("VIRTKIT_DEFAULT_URI", "test:///default")
    assert default_uri() == "test:///default"
    assert virtkit.open().uri == "test:///default"


def test_aliases(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "virtkit.conf"
    cfg.write_text('uri_aliases = [\n  "lab=test:///default",\n  "lab=test:///shadowed",\n]\n')
    monkeypatch.setenv("VIRTKIT_CONFIG", str(cfg))
    assert virtkit.open("lab").uri == "test:///default"
    with pytest.raises(VirtError) as info:
        virtkit.open("nolab")
    assert info.value.code == ErrorCode.INVALID_ARG and "'nolab'" in info.value.message


@pytest.mark.parametrize(
    "text, why",
    [
        ('uri_aliases = ["no-equals-sign"]', "expected 'name=uri'"),
        ('uri_aliases = ["bad name=test:///default"]', "malformed alias name"),
        ('uri_aliases = ["x=not a uri"]', "malformed URI"),
        ("uri_default = 3", "uri_default must be a string"),
        ("uri_default = ", "configuration file"),
    ],
)
def test_bad_config_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                text: str, why: str) -> None:
    cfg = tmp_path / "virtkit.conf"
    cfg.write_text(text + "\n")
    monkeypatch.setenv("VIRTKIT_CONFIG", str(cfg))
    with pytest.raises(VirtError) as info:
        virtkit.open("alias")
    assert why in info.value.message
    assert str(cfg) in info.value.message or info.value.code == ErrorCode.INVALID_ARG


def test_remote_uri_without_a_daemon() -> None:
    with pytest.raises(VirtError) as info:
        virtkit.open("test+tcp://127.0.0.1:1/default")
    assert info.value.code == ErrorCode.NO_CONNECT
    assert "test+tcp://127.0.0.1:1/default" in info.value.message


def test_read_only_refuses_every_change_before_the_driver() -> None:
    ro = virtkit.open("test:///default", read_only=True)
    dom = ro.lookup_by_name("test")
    assert dom.state() == (1, 1)
    for action in (dom.suspend, dom.destroy, dom.shutdown, lambda: dom.set_autostart(True),
                   lambda: ro.define_xml("<domain type='test'><name>x</name></domain>"),
                   lambda: ro.define_xml("<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>"),
                   lambda: dom.xml_desc(security_info=True)):
        with pytest.raises(VirtError) as info:
            action()
        assert info.value.code == ErrorCode.OPERATION_DENIED
    assert dom.state() == (1, 1)
    rw = virtkit.open("test:///default")
    assert [d.name for d in rw.list_domains()] == ["test"]


def test_every_changing_hookspec_is_refused_read_only() -> None:
    ro = virtkit.open("test:///default", read_only=True)
    writes = set(all_specs()) - readonly_ops()
    assert "virtkit_domain_define_xml" in writes and "virtkit_domain_get_info" not in writes
    for hook in sorted(writes):
        with pytest.raises(VirtError) as info:
            ro.call(hook.removeprefix("virtkit_"))
        assert info.value.code == ErrorCode.OPERATION_DENIED, hook


class _Partial(Driver):
    name = "partial"

    @hookimpl
    def virtkit_connect_open(self, uri: str, read_only: bool) -> bool:
        return True

    @hookimpl
    def virtkit_connect_get_hostname(self) -> str:
        raise KeyError("oops")


def _partial() -> Connection:
    return Connection("partial:///", parse_uri("partial:///"), False, _Partial)


def test_missing_hookimpl_is_no_support_naming_operation_and_driver() -> None:
    conn = _partial()
    assert not conn.implements("domain_suspend")
    with pytest.raises(VirtError) as info:
        conn.lookup_by_name("x")
    assert info.value.code == ErrorCode.NO_SUPPORT
    assert "domain_lookup_by_name" in info.value.message and "'partial'" in info.value.message


def test_driver_bug_becomes_internal_error() -> None:
    with pytest.raises(VirtError) as info:
        _partial().get_hostname()
    assert info.value.code == ErrorCode.INTERNAL_ERROR
    assert "'partial'" in info.value.message and "connect_get_hostname" in info.value.message


def test_closed_connection() -> None:
    conn = virtkit.open("test:///default")
    conn.close()
    conn.close()
    with pytest.raises(VirtError) as info:
        conn.list_domains()
    assert info.value.code == ErrorCode.INVALID_CONN
    with virtkit.open("test:///default") as c2:
        assert c2.is_alive()
    assert not c2.is_alive()


def test_audit_log_records_who_did_what_to_which_object(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("VIRTKIT_AUDIT_LOG", str(log))
    conn = virtkit.open("test:///default")
    dom = conn.lookup_by_name("test")
    dom.suspend()
    with pytest.raises(VirtError):
        dom.create()
    conn.define_xml("<domain type='test'><name>new1</name><memory>1024</memory><os><type>hvm</type></os></domain>")
    lines: list[dict[str, Any]] = [json.loads(x) for x in log.read_text().splitlines()]
    ops = [(e["op"], e["object"].get("name"), e["outcome"]) for e in lines]
    assert ops == [
        ("domain_suspend", "test", "ok"),
        ("domain_create", "test", "error"),
        ("domain_define_xml", "new1", "ok"),
    ]
    assert lines[-2]["error"]["code"] == "OPERATION_INVALID"
    assert all(e["uri"] == "test:///default" and "user" in e and "uid" in e for e in lines)
    assert not any(e["op"] == "domain_lookup_by_name" for e in lines)
