"""Group ``migration``: between two hosts (``--virtkit-uri2``), the five phases."""

from __future__ import annotations

from typing import ClassVar

import pytest

from virtkit.api.connection import Connection
from virtkit.sdk.errors import ErrorCode as C
from virtkit.sdk.states import DomainState as S
from virtkit.sdk.states import EventType as E
from virtkit.sdk.states import RunningReason, StartedDetail, StoppedDetail, SuspendedDetail

from ..kit import Kit, expect_error

MIG_OPS = ("migrate_begin", "migrate_prepare", "migrate_perform", "migrate_finish",
           "migrate_confirm", "domain_define_xml", "domain_create")


class TestMigration:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("migration"), pytest.mark.ops(*MIG_OPS)]

    @pytest.mark.requires("live_migration")
    def test_live_migration(self, vk: Kit, vk_conn2: Connection) -> None:
        dom = vk.running()
        vk.track_domain(vk_conn2, dom.name)
        src = vk.recorder(dom)
        dst = vk.recorder(conn=vk_conn2)
        moved = dom.migrate(vk_conn2, live=True, persistent=True, undefine_source=True)
        assert moved.uuid == dom.uuid and moved.connection is vk_conn2
        assert moved.state() == (S.RUNNING, RunningReason.MIGRATED) and moved.is_persistent()
        expect_error(C.NO_DOMAIN, vk.conn.lookup_by_uuid, dom.uuid)
        assert src.wait_for(3) == [(E.SUSPENDED, SuspendedDetail.MIGRATED),
                                   (E.STOPPED, StoppedDetail.MIGRATED),
                                   (E.UNDEFINED, 0)]
        dst.wait_for(1)
        mine = dst.pairs(uuid=dom.uuid)
        assert mine[:1] == [(E.STARTED, StartedDetail.MIGRATED)]
        back = moved.migrate(vk.conn, live=True, persistent=True, undefine_source=True)
        assert back.state() == (S.RUNNING, RunningReason.MIGRATED)
        expect_error(C.NO_DOMAIN, vk_conn2.lookup_by_uuid, dom.uuid)

    @pytest.mark.requires("live_migration")
    def test_failed_migration_keeps_source(self, vk: Kit, vk_conn2: Connection) -> None:
        dom = vk.running()
        vk.define(dom.name, conn=vk_conn2, uuid=vk.new_uuid())  # a different guest, same name
        expect_error(C.OPERATION_FAILED, dom.migrate, vk_conn2, live=True)
        assert dom.state()[0] == S.RUNNING, "the guest runs on exactly one host"

    @pytest.mark.requires("offline_migration")
    def test_offline_migration(self, vk: Kit, vk_conn2: Connection) -> None:
        dom = vk.define()
        vk.track_domain(vk_conn2, dom.name)
        expect_error(C.OPERATION_INVALID, dom.migrate, vk_conn2)
        copy = dom.migrate(vk_conn2, offline=True, persistent=True)
        assert copy.state()[0] == S.SHUTOFF and copy.is_persistent()
