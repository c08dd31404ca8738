"""Groups ``readonly`` (read-only connections refuse every change), ``concurrency`` (parallel
callers) and ``bad-input`` (hostile XML, bad names, path traversal, unknown flags)."""

from __future__ import annotations

import inspect
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import pytest

from virtkit.api.connection import Connection
from virtkit.api.storage import StoragePool
from virtkit.sdk.errors import ErrorCode as C
from virtkit.sdk.errors import VirtError
from virtkit.sdk.hookspecs import PREFIX, all_specs
from virtkit.sdk.hookspecs.markers import is_readonly
from virtkit.sdk.states import DomainState as S

from ..kit import Kit, expect_error, nic_xml, vol_xml
from ..plugin import ConnectionFactory
from ..requirements import Requirements

XML_CODES = (C.XML_ERROR, C.XML_DETAIL, C.XML_INVALID_SCHEMA)

GRAPHICS = "<graphics type='vnc' port='-1' autoport='yes' passwd='{secret}'/>"


def _secret() -> str:
    return f"vkpw{secrets.token_hex(6)}"


def _takes(op: str, arg: str) -> bool:
    """Whether hook ``op``'s spec has the parameter ``arg``."""
    return arg in inspect.signature(all_specs()[PREFIX + op]).parameters


def _fill(op: str, given: dict[str, Any]) -> dict[str, Any]:
    """``given`` plus False for every other boolean flag of hook ``op``'s spec."""
    out = dict(given)
    for name, param in inspect.signature(all_specs()[PREFIX + op]).parameters.items():
        if name not in out and param.annotation in ("bool", bool):
            out[name] = False
    return out


class TestReadOnly:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("readonly"), pytest.mark.ops("domain_define_xml")]

    def test_reads_allowed(self, vk: Kit, vk_ro_conn: Connection) -> None:
        dom = vk.define()
        ro = vk_ro_conn.lookup_by_name(dom.name)
        assert ro.uuid == dom.uuid and ro.state()[0] == S.SHUTOFF
        assert ro.info().max_mem == dom.info().max_mem
        assert dom.name in ro.xml_desc()
        assert dom in vk_ro_conn.list_domains()

    def test_every_change_hook_refused(self, vk_ro_conn: Connection) -> None:
        changes = [name[len(PREFIX):] for name, fn in all_specs().items() if not is_readonly(fn)]
        assert len(changes) > 20
        for op in changes:
            expect_error(C.OPERATION_DENIED, vk_ro_conn.call, op)

    def test_api_changes_refused(self, vk: Kit, vk_ro_conn: Connection) -> None:
        dom = vk.running()
        ro_dom = vk_ro_conn.lookup_by_name(dom.name)
        name = vk.name()
        vk.track_domain(vk.conn, name)
        attempts: list[Callable[[], Any]] = [
            lambda: vk_ro_conn.define_xml(vk.xml(name)),
            lambda: vk_ro_conn.create_xml(vk.xml(name)),
            ro_dom.suspend, ro_dom.destroy, ro_dom.shutdown, ro_dom.reboot, ro_dom.undefine,
            lambda: ro_dom.set_autostart(True),
            lambda: ro_dom.attach_device("<disk/>"),
            lambda: ro_dom.set_memory(1024),
            lambda: ro_dom.save(vk.path("ro.save")),
            lambda: ro_dom.xml_desc(security_info=True),
            lambda: ro_dom.snapshot_create_xml("<domainsnapshot/>"),
            lambda: vk_ro_conn.network_define_xml(f"<network><name>{name}</name></network>"),
            lambda: vk_ro_conn.storage_pool_define_xml(
                f"<pool type='dir'><name>{name}</name><target><path>/x</path></target></pool>"),
            lambda: vk_ro_conn.interface_define_xml(
                f"<interface type='ethernet' name='{name[:15]}'/>"),
        ]
        for attempt in attempts:
            expect_error(C.OPERATION_DENIED, attempt)
        assert dom.state()[0] == S.RUNNING and dom.is_persistent()
        expect_error(C.NO_DOMAIN, vk.conn.lookup_by_name, name)

    @pytest.mark.ops("domain_get_xml", "domain_create")
    @pytest.mark.requires("graphics:vnc")
    def test_xml_hides_secrets(self, vk: Kit) -> None:
        """The graphics password is in the XML only when security info is asked for."""
        secret = _secret()
        dom = vk.define(devices=GRAPHICS.format(secret=secret))
        assert secret not in dom.xml_desc(inactive=True), "a secret in XML without security_info"
        assert secret in dom.xml_desc(inactive=True, security_info=True), (
            "security_info gives the password back on a read-write connection")
        dom.create()
        assert secret not in dom.xml_desc(), "a secret in the live XML without security_info"
        assert secret in dom.xml_desc(security_info=True)

    @pytest.mark.ops("domain_get_xml")
    @pytest.mark.requires("graphics:vnc")
    def test_read_only_gets_no_secrets(self, vk: Kit, vk_ro_conn: Connection,
                                       virtkit_requirements: Requirements) -> None:
        """A read-only connection never sees a secret: not through the API, not straight
        through the hook with security_info, not in snapshot XML."""
        secret = _secret()
        dom = vk.define(devices=GRAPHICS.format(secret=secret))
        ro = vk_ro_conn.lookup_by_uuid(dom.uuid)
        snaps = all(virtkit_requirements.supports(op) for op in
                    ("snapshot_create_xml", "snapshot_get_xml"))
        if snaps:
            dom.snapshot_create_xml("<domainsnapshot><name>s1</name></domainsnapshot>")
        for inactive in (True, False):
            assert secret not in ro.xml_desc(inactive=inactive)
            try:  # straight to the hook, as a remote client could
                text = vk_ro_conn.call("domain_get_xml", dom=ro.ref, inactive=inactive,
                                       security_info=True)
            except VirtError as exc:
                assert exc.code == C.OPERATION_DENIED, (exc.code.name, exc.message)
            else:
                assert secret not in text, "a read-only connection got the graphics password"
        if snaps:
            asks = {"security_info": True} if _takes("snapshot_get_xml", "security_info") else {}
            for kwargs in ({}, asks):
                try:
                    text = vk_ro_conn.call("snapshot_get_xml", dom=ro.ref, name="s1",
                                           **_fill("snapshot_get_xml", kwargs))
                except VirtError as exc:
                    assert exc.code == C.OPERATION_DENIED, (exc.code.name, exc.message)
                else:
                    assert secret not in text, (
                        "a read-only connection got the graphics password in snapshot XML")

    @pytest.mark.ops("domain_create", "domain_interface_addresses")
    def test_read_only_gets_no_guest_data(self, vk: Kit, vk_ro_conn: Connection) -> None:
        """What the guest agent reports is guest data: refused on a read-only connection,
        through the API and straight to the hook."""
        dom = vk.running(devices=nic_xml(vk.mac()))
        ro = vk_ro_conn.lookup_by_uuid(dom.uuid)
        expect_error(C.OPERATION_DENIED, ro.interface_addresses, "agent")
        expect_error(C.OPERATION_DENIED, vk_ro_conn.call, "domain_interface_addresses",
                     dom=ro.ref, source="agent")

    def test_read_only_sees_changes(self, vk: Kit, vk_ro_conn: Connection) -> None:
        dom = vk.running()
        assert vk_ro_conn.lookup_by_uuid(dom.uuid).state()[0] == S.RUNNING
        dom.destroy()
        assert vk_ro_conn.lookup_by_uuid(dom.uuid).state()[0] == S.SHUTOFF


class TestConcurrency:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("concurrency"), pytest.mark.requires("concurrency"),
                  pytest.mark.ops("domain_define_xml", "domain_create", "domain_destroy",
                                  "domain_undefine")]

    def test_parallel_lifecycles(self, vk: Kit) -> None:
        names = [vk.name() for _ in range(8)]
        for n in names:
            vk.track_domain(vk.conn, n)
        barrier = threading.Barrier(len(names))

        def cycle(name: str) -> tuple[int, int]:
            barrier.wait(10)
            dom = vk.conn.define_xml(vk.xml(name))
            for _ in range(5):
                dom.create()
                dom.destroy()
            dom.create()
            state = dom.state()
            dom.destroy()
            dom.undefine()
            return state

        with ThreadPoolExecutor(len(names)) as pool:
            states = list(pool.map(cycle, names))
        assert all(s[0] == S.RUNNING for s in states)
        left = {s.ref.name for s in vk.conn.list_domain_summaries()}
        assert not left & set(names)

    def test_racing_starts(self, vk: Kit) -> None:
        dom = vk.define()
        barrier = threading.Barrier(8)

        def start() -> str:
            barrier.wait(10)
            try:
                dom.create()
                return "ok"
            except VirtError as exc:
                return str(exc.code.name)

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: start(), range(8)))
        assert results.count("ok") == 1, results
        assert set(results) <= {"ok", "OPERATION_INVALID"}, results
        assert dom.state()[0] == S.RUNNING

    def test_readers_while_writing(self, vk: Kit,
                                   virtkit_connection_factory: ConnectionFactory,
                                   virtkit_uri: str) -> None:
        stop = threading.Event()
        errors: list[BaseException] = []

        def reader() -> None:
            conn = virtkit_connection_factory(virtkit_uri, read_only=True)
            try:
                while not stop.is_set():
                    for s in conn.list_domain_summaries():
                        try:
                            conn.lookup_by_uuid(s.ref.uuid).state()
                        except VirtError as exc:
                            if exc.code != C.NO_DOMAIN:
                                raise
            except BaseException as exc:
                errors.append(exc)
            finally:
                conn.close()

        threads = [threading.Thread(target=reader) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            for _ in range(15):
                dom = vk.define()
                dom.create()
                dom.destroy()
                dom.undefine()
        finally:
            stop.set()
            for t in threads:
                t.join(10)
        assert not errors, errors


HOSTILE = {
    "xxe": "<!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
           "<domain type='{type}'><name>&x;</name><memory>1024</memory></domain>",
    "billion-laughs": "<!DOCTYPE d [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;'>"
                      "<!ENTITY c '&b;&b;&b;&b;&b;&b;'>]><domain type='{type}'><name>&c;</name>"
                      "</domain>",
    "deep-nesting": "<domain type='{type}'><name>{name}</name>" + "<x>" * 5000 + "</x>" * 5000
                    + "</domain>",
    "huge": "<domain type='{type}'><name>{name}</name><description>"
            + "x" * (24 * 1024 * 1024) + "</description></domain>",
    "not-xml": "this is not XML {name}",
    "wrong-root": "<network><name>{name}</name></network>",
    "unclosed": "<domain type='{type}'><name>{name}</name>",
    "no-memory": "<domain type='{type}'><name>{name}</name><os><type>{os}</type></os></domain>",
}


class TestBadInput:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("bad-input"), pytest.mark.ops("domain_define_xml")]

    @pytest.mark.parametrize("kind", list(HOSTILE))
    def test_hostile_domain_xml(self, vk: Kit, kind: str) -> None:
        name = vk.name("bad")
        vk.track_domain(vk.conn, name)
        xml = vk.fill(HOSTILE[kind]).replace("{name}", name)
        exc = expect_error(XML_CODES, vk.conn.define_xml, xml)
        assert "root:" not in exc.message, "no host file content in the error"
        expect_error(C.NO_DOMAIN, vk.conn.lookup_by_name, name)

    def test_bad_domain_names(self, vk: Kit) -> None:
        for bad in ("", "a/b", f"{vk.prefix}x/../../etc"):
            expect_error((*XML_CODES, C.INVALID_ARG), vk.conn.define_xml, vk.xml(bad))
        expect_error(C.NO_DOMAIN, vk.conn.lookup_by_name, "../../../etc/passwd")
        expect_error(C.INVALID_ARG, vk.conn.lookup_by_uuid, "not-a-uuid")
        expect_error(C.INVALID_ARG, vk.conn.lookup_by_id, -4)

    @pytest.mark.ops("pool_define_xml", "vol_create_xml", "vol_lookup_by_name", "vol_list")
    def test_volume_name_traversal_refused(self, vk: Kit, vk_pool: StoragePool) -> None:
        for bad in ("../escape", f"{vk.prefix}a/../../b", "..", "a/b", "/etc/passwd"):
            # straight to the hook, as a remote client could, bypassing the API's own check
            expect_error((C.INVALID_ARG, C.XML_ERROR), vk.conn.call, "vol_create_xml",
                         pool=vk_pool.ref, xml=vol_xml(bad))
            expect_error((C.INVALID_ARG, C.XML_ERROR), vk_pool.create_xml, vol_xml(bad))
            expect_error((C.NO_STORAGE_VOL, C.INVALID_ARG), vk.conn.call, "vol_lookup_by_name",
                         pool=vk_pool.ref, name=bad)
        assert vk_pool.list_volume_names() == [], "no volume was created"

    @pytest.mark.ops("domain_create", "domain_shutdown")
    def test_unknown_flags(self, vk: Kit) -> None:
        dom = vk.running()
        expect_error(C.INVALID_ARG, dom.shutdown, mode="bogus")
        expect_error(C.INVALID_ARG, dom.reboot, mode="bogus")
        expect_error(C.INVALID_ARG, dom.save, vk.path("x"), start_state="sideways")
        expect_error(C.INVALID_ARG, dom.interface_addresses, "dns")
        expect_error(C.INVALID_ARG, dom.set_memory, -1)
        expect_error(C.INVALID_ARG, dom.set_vcpus, 0)
        expect_error(C.INVALID_ARG, vk.conn.event_register, "domain-explode", lambda e: None)
        assert dom.state()[0] == S.RUNNING

    @pytest.mark.ops("network_define_xml", "pool_define_xml")
    def test_hostile_object_xml(self, vk: Kit) -> None:
        xxe = "<!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
        expect_error(XML_CODES, vk.conn.network_define_xml,
                     f"{xxe}<network><name>&x;</name></network>")
        expect_error(XML_CODES, vk.conn.storage_pool_define_xml,
                     f"{xxe}<pool type='dir'><name>&x;</name></pool>")
        expect_error((*XML_CODES, C.INVALID_ARG), vk.conn.network_define_xml,
                     "<network><name>a/b</name></network>")
