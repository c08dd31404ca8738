"""The test driver's domain lifecycle through the public API, REFERENCE.md's table row by row."""

from __future__ import annotations

from pathlib import Path

import pytest

import virtkit
from virtkit.api.connection import Connection
from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.sdk.records import Event
from virtkit.sdk.states import DomainState as S
from virtkit.sdk.states import EventType as E

hook = pytest.mark.hook

XML = ("<domain type='test'><name>{name}</name><memory unit='MiB'>{mem}</memory><vcpu>2</vcpu>"
       "<os><type>hvm</type></os></domain>")


@pytest.fixture
def conn() -> Connection:
    c = virtkit.open("test:///default")
    yield c
    c.close()


@pytest.fixture
def events(conn: Connection) -> list[tuple[str, int, int]]:
    got: list[tuple[str, int, int]] = []
    conn.event_register("domain-lifecycle", lambda ev: got.append((ev.obj.name, ev.event, ev.detail)))
    return got


def _drain(conn: Connection, events: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    assert conn.events.wait_idle()
    out = list(events)
    events.clear()
    return out


def _raises(code: ErrorCode, text: str, fn, *args, **kwargs) -> VirtError:  # type: ignore[no-untyped-def]
    with pytest.raises(VirtError) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, info.value
    assert text in info.value.message, info.value.message
    return info.value


@hook("connect_open", "connect_close", "domain_list", "domain_lookup_by_name",
      "domain_lookup_by_uuid", "domain_lookup_by_id", "domain_get_state", "domain_get_info")
def test_default_preload(conn: Connection) -> None:
    [dom] = conn.list_domains()
    assert (dom.name, dom.uuid, dom.id) == ("test", "6695eb01-f6a4-8304-79aa-97f2502e193f", 1)
    assert dom.state() == (S.RUNNING, 1)
    assert conn.lookup_by_id(1) == dom == conn.lookup_by_uuid(dom.uuid.upper())
    info = dom.info()
    assert (info.state, info.max_mem, info.memory, info.nr_virt_cpu) == (1, 8388608, 2097152, 2)
    _raises(ErrorCode.NO_DOMAIN, "no domain with matching name 'nope'", conn.lookup_by_name, "nope")
    _raises(ErrorCode.NO_DOMAIN, "no domain with matching id 99", conn.lookup_by_id, 99)
    _raises(ErrorCode.NO_DOMAIN, "matching uuid", conn.lookup_by_uuid,
            "00000000-0000-0000-0000-000000000001")
    _raises(ErrorCode.INVALID_ARG, "not a valid uuid", conn.lookup_by_uuid, "zz")


@hook("connect_get_hostname", "connect_get_version", "connect_get_capabilities", "node_get_info",
      "node_get_free_memory", "node_get_cells_free_memory")
def test_host(conn: Connection) -> None:
    assert conn.get_hostname()
    assert conn.get_version() == 2
    assert conn.get_lib_version() == 1000
    assert "<capabilities>" in conn.get_capabilities()
    assert conn.node_info().cpus == 16
    assert conn.node_info().memory == 3 * 1024 * 1024
    free = conn.node_free_memory()
    assert 0 < free < 3 * 1024**3
    assert conn.node_cells_free_memory(0, 8) == [free // 2, free // 2]
    _raises(ErrorCode.INVALID_ARG, "start cell 5 out of range", conn.node_cells_free_memory, 5, 1)


@hook("domain_define_xml", "domain_create", "domain_suspend", "domain_resume", "domain_destroy",
      "domain_undefine", "domain_get_summary")
def test_persistent_lifecycle_and_events(conn: Connection, events: list) -> None:  # type: ignore[type-arg]
    dom = conn.define_xml(XML.format(name="web1", mem=64))
    assert dom.state() == (S.SHUTOFF, 0) and dom.id == -1 and dom.is_persistent()
    assert _drain(conn, events) == [("web1", E.DEFINED, 0)]
    dom.create()
    assert dom.state() == (S.RUNNING, 1) and dom.id > 1 and dom.is_active()
    dom.suspend()
    assert dom.state() == (S.PAUSED, 1)
    dom.suspend()  # already paused: no change, no event
    dom.resume()
    assert dom.state() == (S.RUNNING, 5)
    dom.destroy()
    assert dom.state() == (S.SHUTOFF, 2) and dom.id == -1
    dom.undefine()
    assert _drain(conn, events) == [
        ("web1", E.STARTED, 0), ("web1", E.SUSPENDED, 0), ("web1", E.RESUMED, 0),
        ("web1", E.STOPPED, 1), ("web1", E.UNDEFINED, 0),
    ]
    _raises(ErrorCode.NO_DOMAIN, "'web1'", conn.lookup_by_name, "web1")
    _raises(ErrorCode.NO_DOMAIN, "'web1'", dom.create)


@hook("domain_create_xml", "domain_shutdown", "domain_reboot", "domain_reset")
def test_transient_vanishes(conn: Connection, events: list) -> None:  # type: ignore[type-arg]
    dom = conn.create_xml(XML.format(name="tmp", mem=32))
    assert dom.state() == (S.RUNNING, 1) and not dom.is_persistent()
    dom.reboot()
    dom.reset()
    _raises(ErrorCode.OPERATION_INVALID, "cannot undefine transient domain 'tmp'", dom.undefine)
    dom.shutdown()
    _raises(ErrorCode.NO_DOMAIN, "'tmp'", conn.lookup_by_name, "tmp")
    assert _drain(conn, events) == [
        ("tmp", E.STARTED, 0), ("tmp", E.SHUTDOWN, 0), ("tmp", E.STOPPED, 0),
    ]
    paused = conn.create_xml(XML.format(name="tmp2", mem=32), paused=True)
    assert paused.state() == (S.PAUSED, 1)


def test_reboot_event(conn: Connection) -> None:
    got: list[Event] = []
    conn.event_register("domain-reboot", got.append)
    conn.lookup_by_name("test").reboot()
    assert conn.events.wait_idle()
    assert [e.obj.name for e in got] == ["test"]


def test_invalid_transitions_name_the_domain(conn: Connection) -> None:
    dom = conn.define_xml(XML.format(name="idle", mem=16))
    for action in (dom.destroy, dom.shutdown, dom.suspend, dom.reboot, dom.reset, dom.managed_save,
                   lambda: dom.save("/tmp/never")):
        _raises(ErrorCode.OPERATION_INVALID, "domain 'idle' is not running", action)
    dom.create()
    _raises(ErrorCode.OPERATION_INVALID, "domain 'idle' is already running", dom.create)
    _raises(ErrorCode.OPERATION_INVALID, "domain 'idle' is not paused", dom.resume)
    _raises(ErrorCode.INVALID_ARG, "unknown shutdown mode 'polite'", dom.shutdown, "polite")


def test_define_conflicts_and_redefine(conn: Connection, events: list) -> None:  # type: ignore[type-arg]
    first = conn.define_xml(XML.format(name="a", mem=16))
    _raises(ErrorCode.OPERATION_FAILED, "domain 'a' already exists with uuid " + first.uuid,
            conn.define_xml, XML.format(name="a", mem=16))
    clash = (f"<domain type='test'><name>b</name><uuid>{first.uuid}</uuid><memory>1</memory>"
             "<os><type>hvm</type></os></domain>")
    _raises(ErrorCode.OPERATION_FAILED, f"domain 'a' is already defined with uuid {first.uuid}",
            conn.define_xml, clash)
    again = conn.define_xml(
        f"<domain type='test'><name>a</name><uuid>{first.uuid}</uuid>"
        f"<memory unit='MiB'>128</memory><os><type>hvm</type></os></domain>")
    assert again == first and first.info().max_mem == 128 * 1024
    assert [e[1:] for e in _drain(conn, events)] == [(E.DEFINED, 0), (E.DEFINED, 1)]
    # the running test domain: redefining applies at next boot; live XML unchanged
    test = conn.lookup_by_name("test")
    xml = test.xml_desc(inactive=True).replace("8388608", "4194304")
    conn.define_xml(xml)
    assert test.info().max_mem == 8388608
    assert "4194304" in test.xml_desc(inactive=True)
    test.destroy()
    test.create()
    assert test.info().max_mem == 4194304


@pytest.mark.parametrize(
    "xml, code, text",
    [
        ("<domain type='test'><memory>1</memory><os><type>hvm</type></os></domain>",
         ErrorCode.XML_ERROR, "missing element <name>"),
        ("<domain><name>x</name><memory>1</memory></domain>", ErrorCode.XML_ERROR, "'type'"),
        ("<domain type='test'><name>x</name><os><type>hvm</type></os></domain>",
         ErrorCode.XML_ERROR, "memory size must be specified and greater than zero"),
        ("<domain type='test'><name>x</name><memory>1</memory></domain>",
         ErrorCode.XML_ERROR, "missing element <os>"),
        ("<domain type='test'><name>x</name><memory>-5</memory></domain>", ErrorCode.XML_ERROR,
         "negative"),
        ("<domain type='test'><name>x</name><memory unit='parsecs'>5</memory></domain>",
         ErrorCode.XML_ERROR, "unknown unit 'parsecs'"),
        ("<domain type='test'><name>x</name><uuid>nope</uuid><memory>1</memory></domain>",
         ErrorCode.XML_ERROR, "invalid value 'nope' for <uuid>"),
        ("<network/>", ErrorCode.XML_ERROR, "expected root element <domain>, found <network>"),
        ("<domain type='test'><name>x", ErrorCode.XML_ERROR, "not well-formed"),
        ("<!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><domain type='test'><name>&x;"
         "</name><memory>1</memory></domain>", ErrorCode.XML_ERROR, "DOCTYPE"),
    ],
)
def test_bad_xml_is_refused_and_nothing_changes(conn: Connection, xml: str, code: ErrorCode,
                                                text: str) -> None:
    before = [(d.name, d.state()) for d in conn.list_domains()]
    _raises(code, text, conn.define_xml, xml)
    _raises(code, text, conn.create_xml, xml)
    assert [(d.name, d.state()) for d in conn.list_domains()] == before


@hook("domain_save", "domain_restore")
def test_save_and_restore(conn: Connection, tmp_path: Path, events: list) -> None:  # type: ignore[type-arg]
    dom = conn.lookup_by_name("test")
    dom.suspend()
    image = tmp_path / "test.save"
    dom.save(str(image))
    assert dom.state() == (S.SHUTOFF, 5)
    assert image.stat().st_mode & 0o777 == 0o600
    restored = conn.restore(str(image))
    assert restored == dom and dom.state() == (S.PAUSED, 1)  # saved paused, restored paused
    dom.destroy()
    conn.restore(str(image), start_state="running")
    assert dom.state() == (S.RUNNING, 3)
    _raises(ErrorCode.OPERATION_INVALID, "already active", conn.restore, str(image))
    evts = _drain(conn, events)
    assert ("test", E.STOPPED, 4) in evts and ("test", E.STARTED, 2) in evts
    foreign = tmp_path / "foreign"
    foreign.write_bytes(b"QEVM\x00\x00\x00\x03 not ours")
    corrupt = tmp_path / "corrupt"
    corrupt.write_bytes(image.read_bytes()[:40])
    dom.destroy()
    _raises(ErrorCode.OPERATION_INVALID, "is not a save image of the test driver",
            conn.restore, str(foreign))
    _raises(ErrorCode.OPERATION_INVALID, "corrupt", conn.restore, str(corrupt))
    _raises(ErrorCode.SYSTEM_ERROR, "cannot read save image", conn.restore, str(tmp_path / "none"))
    dom.create()
    _raises(ErrorCode.SYSTEM_ERROR, "cannot write save image", dom.save, "/nonexistent/dir/x")
    assert dom.state() == (S.RUNNING, 1), "a failed save leaves the guest running"


@hook("domain_managed_save", "domain_managed_save_remove")
def test_managed_save(conn: Connection) -> None:
    dom = conn.lookup_by_name("test")
    dom.managed_save()
    assert dom.state() == (S.SHUTOFF, 5) and dom.has_managed_save_image()
    _raises(ErrorCode.OPERATION_INVALID, "managed save image", dom.undefine)
    dom.create()
    assert dom.state() == (S.RUNNING, 3) and not dom.has_managed_save_image()
    dom.managed_save()
    dom.managed_save_remove()
    dom.create()
    assert dom.state() == (S.RUNNING, 1)
    dom.managed_save()
    dom.undefine(managed_save=True)
    assert conn.list_domains() == []
    t = conn.create_xml(XML.format(name="t", mem=8))
    _raises(ErrorCode.OPERATION_INVALID, "transient domain 't'", t.managed_save)


@hook("domain_get_xml", "domain_get_autostart", "domain_set_autostart")
def test_xml_and_autostart(conn: Connection) -> None:
    dom = conn.lookup_by_name("test")
    live = dom.xml_desc()
    assert "id='1'" in live and "<name>test</name>" in live
    assert "id=" not in dom.xml_desc(inactive=True).split(">")[0]
    assert dom.autostart is False
    dom.set_autostart(True)
    assert dom.autostart is True
    assert conn.list_domains(autostart=True) == [dom]
    t = conn.create_xml(XML.format(name="t", mem=8))
    _raises(ErrorCode.OPERATION_INVALID, "transient domain 't'", t.set_autostart, True)


def test_list_filters(conn: Connection) -> None:
    conn.define_xml(XML.format(name="off", mem=8))
    conn.create_xml(XML.format(name="tr", mem=8))
    names = lambda **kw: [d.name for d in conn.list_domains(**kw)]  # noqa: E731
    assert names() == ["test", "tr", "off"]
    assert names(active=True) == ["test", "tr"]
    assert names(active=False) == ["off"]
    assert names(persistent=False) == ["tr"]
    assert names(states=(S.SHUTOFF,)) == ["off"]


def test_node_file(tmp_path: Path) -> None:
    node = tmp_path / "node.xml"
    node.write_text(
        "<node><cpu><nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>1</threads>"
        "<active>4</active><mhz>2000</mhz><model>x86_64</model></cpu><memory>8388608</memory>"
        + XML.format(name="one", mem=16)
        + XML.format(name="two", mem=16).replace("<domain ", "<domain state='shutoff' ")
        + "</node>"
    )
    conn = virtkit.open(f"test://{node}")
    assert [(d.name, d.state()[0]) for d in conn.list_domains()] == [("one", 1), ("two", 5)]
    assert conn.node_info().cpus == 4 and conn.node_info().model == "x86_64"
    other = virtkit.open(f"test://{node}")
    conn.lookup_by_name("one").destroy()
    assert other.lookup_by_name("one").state()[0] == S.RUNNING, "each open of a file is private"
    bad = tmp_path / "bad.xml"
    bad.write_text("<node><domain type='test'><name>x</name></domain></node>")
    _raises(ErrorCode.NO_CONNECT, f"cannot load test node file '{bad}'", virtkit.open, f"test://{bad}")
    _raises(ErrorCode.NO_CONNECT, "No such file", virtkit.open, f"test://{tmp_path}/missing.xml")
    _raises(ErrorCode.NO_CONNECT, "not 'test:///weird'", virtkit.open, "test:///weird")


@hook("domain_define_xml", "domain_create_xml")
def test_validate_flag_uses_the_schema(conn: Connection, caplog: pytest.LogCaptureFixture) -> None:
    odd = XML.format(name="odd", mem=16).replace("</os>", "</os><gizmo/>")
    _raises(ErrorCode.XML_INVALID_SCHEMA, "gizmo", conn.define_xml, odd, validate=True)
    _raises(ErrorCode.XML_INVALID_SCHEMA, "gizmo", conn.create_xml, odd, validate=True)
    assert [d.name for d in conn.list_domains()] == ["test"]
    dom = conn.define_xml(odd)  # without the flag: accepted; the unmodelled element is reported
    assert "gizmo" not in dom.xml_desc()
    assert "ignoring what virtkit does not model: /domain/gizmo" in caplog.text
    assert conn.define_xml(XML.format(name="fine", mem=16), validate=True).name == "fine"
