"""Group ``connection``: opening, closing, host facts, listing and lookup."""

from __future__ import annotations

import uuid as uuidlib
from typing import ClassVar

import pytest
from lxml import etree

from virtkit.api.connection import Connection
from virtkit.sdk.errors import ErrorCode as C

from ..kit import Kit, expect_error
from ..plugin import ConnectionFactory
from ..requirements import Requirements


class TestConnection:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.group("connection")]

    @pytest.mark.ops("connect_open")
    def test_open_and_close(self, virtkit_connection_factory: ConnectionFactory,
                            virtkit_uri: str) -> None:
        conn = virtkit_connection_factory(virtkit_uri)
        assert conn.is_alive() and conn.uri == virtkit_uri and conn.get_type()
        if conn.implements("connect_probe"):
            probed = conn.call("connect_probe")
            assert probed is None or (isinstance(probed, str) and "://" in probed), (
                f"connect_probe answers a URI the driver serves, or None: {probed!r}")
        conn.close()
        assert not conn.is_alive()
        expect_error(C.INVALID_CONN, conn.list_domain_summaries)
        conn.close()  # twice is harmless

    @pytest.mark.ops("connect_get_hostname", "connect_get_version")
    def test_hostname_and_version(self, vk_conn: Connection) -> None:
        hostname = vk_conn.get_hostname()
        assert isinstance(hostname, str) and hostname
        version = vk_conn.get_version()
        assert isinstance(version, int) and version >= 0
        assert vk_conn.get_lib_version() > 0

    @pytest.mark.ops("connect_get_capabilities")
    def test_capabilities_document(self, vk_conn: Connection) -> None:
        root = etree.fromstring(vk_conn.get_capabilities().encode())
        assert root.tag == "capabilities"
        assert root.find("host") is not None, "capabilities need a <host> element"
        assert root.findall("guest"), "capabilities need at least one <guest>"

    @pytest.mark.ops("connect_get_domain_capabilities")
    def test_domain_capabilities(self, vk: Kit) -> None:
        for given in ({}, {"virttype": vk.domain_type}):
            root = etree.fromstring(vk.conn.get_domain_capabilities(**given).encode())
            assert root.tag == "domainCapabilities", root.tag
            assert root.findtext("domain") == vk.domain_type, (
                "the domain capabilities name the domain type of the capabilities document")
            assert root.findtext("arch"), "the domain capabilities name an architecture"
        expect_error((C.INVALID_ARG, C.OPERATION_FAILED, C.CONFIG_UNSUPPORTED),
                     vk.conn.get_domain_capabilities, virttype="no-such-virttype")

    @pytest.mark.ops("node_get_info")
    def test_node_info(self, vk_conn: Connection) -> None:
        info = vk_conn.node_info()
        assert info.memory > 0 and info.cpus >= 1 and info.nodes >= 1
        assert info.sockets >= 1 and info.cores >= 1 and info.threads >= 1
        assert isinstance(info.model, str) and info.model

    @pytest.mark.ops("node_get_info", "node_get_free_memory", "node_get_cells_free_memory")
    def test_free_memory(self, vk_conn: Connection) -> None:
        free = vk_conn.node_free_memory()
        assert 0 <= free <= vk_conn.node_info().memory * 1024, "free memory is in bytes"
        cells = vk_conn.node_cells_free_memory(0, 64)
        assert 1 <= len(cells) <= vk_conn.node_info().nodes and all(c >= 0 for c in cells)
        expect_error(C.INVALID_ARG, vk_conn.node_cells_free_memory, -1, 1)

    @pytest.mark.ops("domain_list", "domain_lookup_by_name", "domain_lookup_by_uuid",
                     "domain_lookup_by_id", "domain_define_xml", "domain_create")
    def test_list_and_lookup_agree(self, vk: Kit) -> None:
        mine = vk.define()
        running = vk.running()
        summaries = vk.conn.list_domain_summaries()
        names = {s.ref.name for s in summaries}
        assert {mine.name, running.name} <= names
        for s in summaries:
            if not s.ref.name.startswith(vk.prefix):
                continue  # never assume anything about other guests
            assert vk.conn.lookup_by_name(s.ref.name).uuid == s.ref.uuid
            assert vk.conn.lookup_by_uuid(s.ref.uuid).name == s.ref.name
            if s.active:
                assert s.ref.id > 0 and vk.conn.lookup_by_id(s.ref.id).uuid == s.ref.uuid
            else:
                assert s.ref.id == -1
        assert running in vk.conn.list_domains(active=True)
        assert mine in vk.conn.list_domains(active=False)
        assert mine not in vk.conn.list_domains(active=True)

    @pytest.mark.ops("domain_list", "domain_define_xml", "domain_create", "domain_get_state")
    def test_list_shows_every_domain(self, vk: Kit, virtkit_requirements: Requirements,
                                     vk_ro_conn: Connection) -> None:
        """Every domain the suite made is listed, whatever its state, with the right flags."""
        req = virtkit_requirements
        made: dict[str, tuple[str, bool, bool]] = {}  # uuid: (what, active, persistent)
        for _ in range(3):
            made[vk.define().uuid] = ("defined", False, True)
        for _ in range(3):
            made[vk.running().uuid] = ("running", True, True)
        if req.supports("domain_suspend"):
            dom = vk.running()
            dom.suspend()
            made[dom.uuid] = ("paused", True, True)
        if req.supports("domain_create_xml") and req.has("transient_domains"):
            made[vk.create().uuid] = ("transient", True, False)
        if req.supports("domain_managed_save"):
            dom = vk.running()
            dom.managed_save()
            made[dom.uuid] = ("managed-saved", False, True)
        if req.supports("domain_destroy"):
            dom = vk.running()
            dom.destroy()
            made[dom.uuid] = ("destroyed", False, True)
        listed = {s.ref.uuid: s for s in vk.conn.list_domain_summaries()}
        missing = sorted(what for uuid, (what, _, _) in made.items() if uuid not in listed)
        assert not missing, f"the domain list omits the {', '.join(missing)} domain(s)"
        for uuid, (what, active, persistent) in made.items():
            s = listed[uuid]
            assert (s.active, s.persistent) == (active, persistent), (
                f"the {what} domain is listed with active={s.active}, persistent={s.persistent}")
            assert (s.state, s.reason) == vk.conn.lookup_by_uuid(uuid).state(), (
                f"the list and the domain disagree on the {what} domain's state")
        on = {d.uuid for d in vk.conn.list_domains(active=True)}
        off = {d.uuid for d in vk.conn.list_domains(active=False)}
        assert {u for u, m in made.items() if m[1]} <= on
        assert {u for u, m in made.items() if not m[1]} <= off and not on & off
        seen = {s.ref.uuid for s in vk_ro_conn.list_domain_summaries()}
        assert set(made) <= seen, "a read-only connection lists every domain too"

    @pytest.mark.ops("domain_lookup_by_name", "domain_lookup_by_uuid", "domain_lookup_by_id")
    def test_lookup_missing(self, vk: Kit) -> None:
        expect_error(C.NO_DOMAIN, vk.conn.lookup_by_name, vk.name("missing"))
        expect_error(C.NO_DOMAIN, vk.conn.lookup_by_uuid, str(uuidlib.uuid4()))
        expect_error(C.NO_DOMAIN, vk.conn.lookup_by_id, 2**31 - 7)

    def test_event_registration(self, vk_conn: Connection) -> None:
        cid = vk_conn.event_register("domain-lifecycle", lambda ev: None)
        vk_conn.event_deregister(cid)
        expect_error(C.INVALID_ARG, vk_conn.event_register, "no-such-kind", lambda ev: None)
