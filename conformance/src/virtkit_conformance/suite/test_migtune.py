"""Group ``migration-tuning``: downtime, bandwidth and compression cache read back; the
parameter form of migration; switching a running migration to post-copy (between two hosts,
``--virtkit-uri2``, on a connection whose jobs last: ``job_uri_params``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from virtkit.api.connection import Connection
from virtkit.sdk.errors import ErrorCode as C
from virtkit.sdk.errors import VirtError
from virtkit.sdk.states import DomainState

from ..kit import Kit, expect_error
from .test_migration import MIG_OPS

JOB_BOUNDED, JOB_UNBOUNDED = 1, 2


class TestMigrationTuning:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("migration-tuning"),
        pytest.mark.ops("domain_define_xml", "domain_create")]

    @pytest.mark.ops("domain_migrate_get_max_downtime", "domain_migrate_set_max_downtime",
                     "domain_migrate_get_max_speed", "domain_migrate_set_max_speed",
                     "domain_migrate_get_compression_cache",
                     "domain_migrate_set_compression_cache")
    def test_settings_read_back(self, vk: Kit) -> None:
        dom = vk.running(memory_mib=256)
        assert dom.migrate_get_max_downtime() > 0
        dom.migrate_set_max_downtime(123)
        assert dom.migrate_get_max_downtime() == 123
        dom.migrate_set_max_speed(77)
        assert dom.migrate_get_max_speed() == 77
        dom.migrate_set_compression_cache(32 * 1024 * 1024)
        assert dom.migrate_get_compression_cache() == 32 * 1024 * 1024
        expect_error(C.INVALID_ARG, dom.migrate_set_max_downtime, 0)

    @pytest.mark.ops(*MIG_OPS)
    @pytest.mark.requires("live_migration")
    def test_parameter_form(self, vk: Kit, vk_conn2: Connection) -> None:
        dom = vk.running()
        vk.track_domain(vk_conn2, dom.name)
        expect_error(C.INVALID_ARG, dom.migrate3, vk_conn2, {"vkcert_nonsense": 1})
        moved = dom.migrate3(vk_conn2, {"destination_xml": dom.xml_desc()}, live=True,
                             persistent=True, undefine_source=True)
        assert moved.is_active() and moved.uuid == dom.uuid
        moved.migrate3(vk.conn, live=True, persistent=True, undefine_source=True)

    @pytest.mark.ops(*MIG_OPS, "domain_migrate_start_post_copy", "domain_get_job_info")
    @pytest.mark.requires("live_migration")
    @pytest.mark.requires("concurrency")
    def test_post_copy(self, vk: Kit, vk_conn2: Connection, vk_job_conn: Connection) -> None:
        dom = vk.running()
        vk.track_domain(vk_conn2, dom.name)
        expect_error(C.OPERATION_INVALID, dom.migrate_start_post_copy)
        switched, outcome = _during_post_copy_migration(
            vk_job_conn, vk_conn2, dom, dom.migrate_start_post_copy)
        # as the save job of the lifecycle group: a driver whose jobs end at once declares
        # capabilities['job_uri_params'], and the suite's job connection uses them
        assert switched, ("no active migration job was seen, so post-copy could not start (a "
                          "driver whose jobs end at once declares capabilities['job_uri_params'])")
        assert "error" not in outcome, outcome.get("error")
        assert outcome["dom"].is_active(), "after post-copy the guest runs on the destination"

    @pytest.mark.ops(*MIG_OPS, "domain_migrate_start_post_copy", "domain_get_job_info",
                     "domain_abort_job", "domain_abort_job_postcopy")
    @pytest.mark.requires("live_migration")
    @pytest.mark.requires("concurrency")
    def test_post_copy_interrupted(self, vk: Kit, vk_conn2: Connection,
                                   vk_job_conn: Connection) -> None:
        dom = vk.running()
        vk.track_domain(vk_conn2, dom.name)
        expect_error(C.OPERATION_INVALID, dom.abort_job, postcopy=True)

        def interrupt() -> None:
            dom.migrate_start_post_copy()
            expect_error(C.OPERATION_INVALID, dom.abort_job)  # post-copy: no plain abort
            dom.abort_job(postcopy=True)

        interrupted, outcome = _during_post_copy_migration(vk_job_conn, vk_conn2, dom, interrupt)
        assert interrupted, "no active migration job was seen (see test_post_copy)"
        assert "dom" not in outcome, "an interrupted post-copy migration must fail"
        assert outcome["error"].code == C.OPERATION_FAILED, outcome["error"]
        assert dom.state()[0] == DomainState.PAUSED, "the source is left paused"


def _during_post_copy_migration(job_conn: Connection, dest: Connection, dom: Any,
                                act: Callable[[], None]) -> tuple[bool, dict[str, Any]]:
    """Migrate ``dom`` live with post-copy (from the job connection, in a thread) and run
    ``act`` once while its job is active; whether it ran, and the migration's result
    (``dom`` on the destination) or its ``error``."""
    outcome: dict[str, Any] = {}

    def move() -> None:
        try:
            outcome["dom"] = job_conn.lookup_by_uuid(dom.uuid).migrate3(
                dest, live=True, postcopy=True)
        except VirtError as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=move, daemon=True)
    worker.start()
    acted = False
    deadline = time.monotonic() + 30
    while worker.is_alive() and time.monotonic() < deadline:
        if dom.job_info().type in (JOB_BOUNDED, JOB_UNBOUNDED):
            act()
            acted = True
            break
        time.sleep(0.002)
    worker.join(60)
    return acted, outcome
