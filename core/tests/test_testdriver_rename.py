"""Renaming a test domain: only an inactive persistent one without managed-save image,
snapshots or checkpoints, to a free usable name; the definition, lookups and events follow
at once, and a refused rename changes nothing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vktest import expect as _expect
from vktest import inbox

import virtkit
from virtkit.drivers.test.node import reset_default_node
from virtkit.sdk.errors import ErrorCode
from virtkit.sdk.states import DefinedDetail, EventType, UndefinedDetail

OTHER = ("<domain type='test'><name>other</name><memory>1024</memory>"
         "<os><type>hvm</type></os></domain>")


@pytest.fixture
def conn() -> virtkit.Connection:
    c = virtkit.open("test:///default")  # fresh for each test (conftest)
    c.lookup_by_name("test").destroy()
    return c


@pytest.mark.hook("domain_rename")
def test_rename_moves_the_definition_and_emits_renamed(conn: virtkit.Connection) -> None:
    box = inbox(conn, "domain-lifecycle")
    dom = conn.lookup_by_name("test")
    uuid = dom.uuid
    dom.rename("renamed")
    assert dom.name == "renamed" and dom.uuid == uuid
    assert conn.lookup_by_name("renamed").uuid == uuid
    assert conn.lookup_by_uuid(uuid).name == "renamed"
    _expect(ErrorCode.NO_DOMAIN, conn.lookup_by_name, "test")
    assert "<name>renamed</name>" in dom.xml_desc(inactive=True)
    assert [s.ref.name for s in conn.list_domain_summaries()] == ["renamed"]
    conn.events.wait_idle()
    got = [box.get(timeout=5) for _ in range(2)]
    assert [(e.obj.name, e.event, e.detail) for e in got] == [
        ("test", EventType.UNDEFINED, UndefinedDetail.RENAMED),
        ("renamed", EventType.DEFINED, DefinedDetail.RENAMED)]
    conn.define_xml(OTHER.replace("other", "test"))  # the old name is free
    dom.create()
    assert dom.name == "renamed" and dom.is_active()


def test_refusals_change_nothing(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    conn.define_xml(OTHER)
    before = dom.xml_desc(inactive=True)
    for new_name, code, words in (("other", ErrorCode.OPERATION_INVALID, "already exists"),
                                  ("test", ErrorCode.OPERATION_INVALID, "itself"),
                                  ("a/b", ErrorCode.XML_ERROR, "'/'"),
                                  ("", ErrorCode.INVALID_ARG, "non-empty")):
        err = _expect(code, dom.rename, new_name)
        assert words in err.message, err.message
    dom.create()
    err = _expect(ErrorCode.OPERATION_INVALID, dom.rename, "x")
    assert "active" in err.message and "'test'" in err.message
    dom.managed_save()
    err = _expect(ErrorCode.OPERATION_INVALID, dom.rename, "x")
    assert "managed save" in err.message
    dom.managed_save_remove()
    dom.snapshot_create_xml("<domainsnapshot><name>s1</name></domainsnapshot>")
    err = _expect(ErrorCode.OPERATION_INVALID, dom.rename, "x")
    assert "snapshots" in err.message
    dom.snapshot_lookup_by_name("s1").delete()
    dom.checkpoint_create_xml("<domaincheckpoint><name>c1</name></domaincheckpoint>")
    err = _expect(ErrorCode.OPERATION_INVALID, dom.rename, "x")
    assert "checkpoints" in err.message
    assert dom.xml_desc(inactive=True) == before
    assert conn.lookup_by_name("test") == dom
    ro = virtkit.open("test:///default", read_only=True)
    try:
        _expect(ErrorCode.OPERATION_DENIED, ro.lookup_by_name("other").rename, "y")
    finally:
        ro.close()


@settings(max_examples=30, deadline=None)
@given(name=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20))
def test_any_name_is_taken_or_refused_whole(name: str) -> None:
    reset_default_node()
    conn = virtkit.open("test:///default")
    try:
        dom = conn.lookup_by_name("test")
        dom.destroy()
        try:
            dom.rename(name)
        except virtkit.VirtError as err:
            assert err.code in (ErrorCode.XML_ERROR, ErrorCode.INVALID_ARG,
                                ErrorCode.OPERATION_INVALID), err
            assert conn.lookup_by_name("test") == dom
        else:
            assert conn.lookup_by_name(name).uuid == dom.uuid and dom.name == name
    finally:
        conn.close()
