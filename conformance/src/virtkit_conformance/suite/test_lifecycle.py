"""Groups ``lifecycle`` (the whole transition table) and ``save-restore``."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import ClassVar

import pytest

from virtkit.api.connection import Connection
from virtkit.api.domain import Domain
from virtkit.sdk.errors import ErrorCode as C
from virtkit.sdk.errors import VirtError
from virtkit.sdk.states import (
    DomainState as S,
)
from virtkit.sdk.states import (
    EventType as E,
)
from virtkit.sdk.states import (
    PausedReason,
    ResumedDetail,
    RunningReason,
    ShutdownDetail,
    ShutoffReason,
    StartedDetail,
    StoppedDetail,
    SuspendedDetail,
    UndefinedDetail,
)

from ..kit import Kit, expect_error

#: Job types (libvirt's virDomainJobType).
JOB_NONE, JOB_BOUNDED, JOB_UNBOUNDED = 0, 1, 2

BASIC = ("domain_define_xml", "domain_create", "domain_destroy", "domain_get_state",
         "domain_undefine")


class TestLifecycle:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("lifecycle"), pytest.mark.ops(*BASIC)]

    def test_start(self, vk: Kit) -> None:
        dom = vk.define()
        rec = vk.recorder(dom)
        dom.create()
        assert dom.state() == (S.RUNNING, RunningReason.BOOTED)
        assert dom.is_active() and dom.id > 0
        assert vk.conn.lookup_by_id(dom.id) == dom
        assert rec.wait_for(1) == [(E.STARTED, StartedDetail.BOOTED)]

    @pytest.mark.requires("start_paused")
    def test_start_paused(self, vk: Kit) -> None:
        dom = vk.define()
        rec = vk.recorder(dom)
        dom.create(paused=True)
        assert dom.state() == (S.PAUSED, PausedReason.USER)
        assert rec.wait_for(2) == [(E.STARTED, StartedDetail.BOOTED),
                                   (E.SUSPENDED, SuspendedDetail.PAUSED)]

    def test_start_running_is_invalid(self, vk: Kit) -> None:
        dom = vk.running()
        expect_error(C.OPERATION_INVALID, dom.create)
        assert dom.state()[0] == S.RUNNING

    def test_ids_are_unique(self, vk: Kit) -> None:
        doms = [vk.running() for _ in range(3)]
        ids = [d.id for d in doms]
        assert len(set(ids)) == 3 and all(i > 0 for i in ids)
        doms[0].destroy()
        doms[0].create()
        assert doms[0].id not in ids[1:], "a restarted domain gets an id no other domain holds"

    @pytest.mark.ops("domain_suspend", "domain_resume")
    def test_suspend_resume(self, vk: Kit) -> None:
        dom = vk.running()
        rec = vk.recorder(dom)
        dom.suspend()
        assert dom.state() == (S.PAUSED, PausedReason.USER), "suspend leaves PAUSED/USER"
        assert dom.info().state == S.PAUSED and dom.is_active()
        assert rec.take(1) == [(E.SUSPENDED, SuspendedDetail.PAUSED)]
        dom.resume()
        assert dom.state() == (S.RUNNING, RunningReason.UNPAUSED)
        assert rec.take(1) == [(E.RESUMED, ResumedDetail.UNPAUSED)]

    def test_destroy_persistent(self, vk: Kit) -> None:
        dom = vk.running()
        rec = vk.recorder(dom)
        dom.destroy()
        assert dom.state() == (S.SHUTOFF, ShutoffReason.DESTROYED)
        assert not dom.is_active() and dom.id == -1 and dom.is_persistent()
        assert rec.wait_for(1) == [(E.STOPPED, StoppedDetail.DESTROYED)]

    @pytest.mark.ops("domain_create_xml")
    @pytest.mark.requires("transient_domains")
    def test_transient_create_and_destroy(self, vk: Kit) -> None:
        rec = vk.recorder()
        dom = vk.create()
        assert dom.state() == (S.RUNNING, RunningReason.BOOTED)
        assert not dom.is_persistent() and dom.id > 0
        dom.destroy()
        expect_error(C.NO_DOMAIN, vk.conn.lookup_by_name, dom.name)
        rec.wait_for(2)
        mine = rec.pairs(uuid=dom.uuid)
        assert mine == [(E.STARTED, StartedDetail.BOOTED), (E.STOPPED, StoppedDetail.DESTROYED)]

    @pytest.mark.ops("domain_create_xml")
    @pytest.mark.requires("transient_domains", "start_paused")
    def test_transient_create_paused(self, vk: Kit) -> None:
        dom = vk.create(paused=True)
        assert dom.state() == (S.PAUSED, PausedReason.USER)

    @pytest.mark.ops("domain_create_xml")
    @pytest.mark.requires("transient_domains")
    def test_transient_duplicate_is_invalid(self, vk: Kit) -> None:
        dom = vk.create()
        xml = dom.xml_desc()
        expect_error((C.OPERATION_INVALID, C.OPERATION_FAILED), vk.conn.create_xml, xml)
        assert dom.state()[0] == S.RUNNING

    @pytest.mark.ops("domain_shutdown")
    def test_shutdown(self, vk: Kit, pytestconfig: pytest.Config) -> None:
        dom = vk.running()
        rec = vk.recorder(dom)
        dom.shutdown()
        state = vk.wait_state(dom, S.SHUTOFF, pytestconfig.getoption("--virtkit-timeout"))
        assert state == (S.SHUTOFF, ShutoffReason.SHUTDOWN)
        assert rec.wait_for(2) == [(E.SHUTDOWN, ShutdownDetail.FINISHED),
                                   (E.STOPPED, StoppedDetail.SHUTDOWN)]

    @pytest.mark.ops("domain_shutdown")
    @pytest.mark.requires("shutdown_modes")
    def test_shutdown_modes(self, vk: Kit, pytestconfig: pytest.Config) -> None:
        for mode in vk.conn.driver.capabilities.get("shutdown_modes", ()):
            dom = vk.running()
            dom.shutdown(mode=mode)
            state = vk.wait_state(dom, S.SHUTOFF, pytestconfig.getoption("--virtkit-timeout"))
            assert state[0] == S.SHUTOFF, f"shutdown mode {mode!r} did not stop the guest"

    @pytest.mark.ops("domain_shutdown", "domain_create_xml")
    @pytest.mark.requires("transient_domains")
    def test_shutdown_transient_vanishes(self, vk: Kit, pytestconfig: pytest.Config) -> None:
        dom = vk.create()
        dom.shutdown()
        timeout = pytestconfig.getoption("--virtkit-timeout")
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                vk.conn.lookup_by_uuid(dom.uuid)
            except Exception:
                break
            time.sleep(0.05)
        expect_error(C.NO_DOMAIN, vk.conn.lookup_by_uuid, dom.uuid)

    @pytest.mark.ops("domain_reboot")
    def test_reboot(self, vk: Kit) -> None:
        dom = vk.running()
        rec = vk.recorder(dom, kind="domain-reboot")
        dom.reboot()
        assert dom.is_active()
        assert len(rec.wait_for(1)) == 1, "a reboot emits one domain-reboot event"

    @pytest.mark.ops("domain_reset")
    def test_reset(self, vk: Kit) -> None:
        dom = vk.running()
        dom.reset()
        assert dom.state()[0] == S.RUNNING

    def test_undefine_running_becomes_transient(self, vk: Kit) -> None:
        dom = vk.running()
        rec = vk.recorder(dom)
        dom.undefine()
        assert dom.is_active() and not dom.is_persistent()
        assert rec.take(1) == [(E.UNDEFINED, UndefinedDetail.REMOVED)]
        dom.destroy()
        expect_error(C.NO_DOMAIN, vk.conn.lookup_by_uuid, dom.uuid)

    @pytest.mark.ops("domain_create_xml")
    @pytest.mark.requires("transient_domains")
    def test_undefine_transient_is_invalid(self, vk: Kit) -> None:
        dom = vk.create()
        expect_error(C.OPERATION_INVALID, dom.undefine)
        assert dom.is_active()

    @pytest.mark.parametrize("op", ["destroy", "shutdown", "suspend", "resume", "reboot",
                                    "reset"])
    def test_invalid_on_inactive(self, vk: Kit, op: str) -> None:
        dom = vk.define()
        if not vk.conn.implements(f"domain_{op}"):
            pytest.skip(f"not supported: domain_{op} (no hookimpl)")
        expect_error(C.OPERATION_INVALID, getattr(dom, op))
        assert dom.state()[0] == S.SHUTOFF

    @pytest.mark.ops("domain_resume")
    def test_resume_running_is_invalid(self, vk: Kit) -> None:
        dom = vk.running()
        expect_error(C.OPERATION_INVALID, dom.resume)
        assert dom.state()[0] == S.RUNNING

    @pytest.mark.ops("domain_suspend")
    def test_suspend_paused_keeps_paused(self, vk: Kit) -> None:
        dom = vk.running()
        dom.suspend()
        rec = vk.recorder(dom)
        dom.suspend()
        assert dom.state() == (S.PAUSED, PausedReason.USER)
        assert rec.wait_for(0) == [], "suspending a paused guest emits nothing"

    def test_operations_on_undefined_domain(self, vk: Kit) -> None:
        dom = vk.define()
        dom.undefine()
        for action in (dom.create, dom.state, dom.info, dom.undefine):
            expect_error(C.NO_DOMAIN, action)


def _described(xml: str, text: str) -> str:
    """``xml`` with a description (a change any driver keeps and no guest notices)."""
    head, _, tail = xml.partition("</uuid>")
    return f"{head}</uuid><description>{text}</description>{tail}"


def _saved(vk: Kit, dom: Domain) -> str:
    path = vk.path(f"{dom.name}.save")
    dom.save(path)
    return path


class TestSaveRestore:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("save-restore"), pytest.mark.ops(*BASIC)]

    @pytest.mark.ops("domain_save", "domain_restore")
    def test_save_and_restore(self, vk: Kit) -> None:
        dom = vk.running()
        rec = vk.recorder(dom)
        path = _saved(vk, dom)
        assert dom.state() == (S.SHUTOFF, ShutoffReason.SAVED)
        assert rec.take(1) == [(E.STOPPED, StoppedDetail.SAVED)]
        assert Path(path).exists()
        back = vk.conn.restore(path)
        assert back == dom and back.state() == (S.RUNNING, RunningReason.RESTORED)
        assert rec.take(1) == [(E.STARTED, StartedDetail.RESTORED)]

    @pytest.mark.ops("domain_save", "domain_restore", "domain_suspend")
    def test_paused_guest_restores_paused(self, vk: Kit) -> None:
        dom = vk.running()
        dom.suspend()
        path = _saved(vk, dom)
        vk.conn.restore(path)
        assert dom.state()[0] == S.PAUSED
        dom.destroy()
        vk.conn.restore(path, start_state="running")
        assert dom.state()[0] == S.RUNNING

    @pytest.mark.ops("domain_save", "domain_create_xml")
    @pytest.mark.requires("transient_domains")
    def test_save_transient_vanishes(self, vk: Kit) -> None:
        dom = vk.create()
        path = _saved(vk, dom)
        expect_error(C.NO_DOMAIN, vk.conn.lookup_by_uuid, dom.uuid)
        back = vk.conn.restore(path)
        assert back.state()[0] == S.RUNNING and not back.is_persistent()

    @pytest.mark.ops("domain_save")
    def test_save_inactive_is_invalid(self, vk: Kit) -> None:
        dom = vk.define()
        expect_error(C.OPERATION_INVALID, dom.save, vk.path("never.save"))
        assert not Path(vk.path("never.save")).exists()

    @pytest.mark.ops("domain_restore")
    def test_restore_bad_files(self, vk: Kit) -> None:
        expect_error((C.SYSTEM_ERROR, C.OPERATION_INVALID), vk.conn.restore,
                     vk.path("missing.save"))
        junk = Path(vk.path("junk.save"))
        junk.write_bytes(b"\x00not a save image\xff" * 10)
        expect_error((C.OPERATION_INVALID, C.OPERATION_FAILED), vk.conn.restore, str(junk))

    @pytest.mark.ops("domain_save", "domain_restore")
    def test_restore_over_active_is_invalid(self, vk: Kit) -> None:
        dom = vk.running()
        path = _saved(vk, dom)
        dom.create()
        expect_error(C.OPERATION_INVALID, vk.conn.restore, path)
        assert dom.state() == (S.RUNNING, RunningReason.BOOTED)

    @pytest.mark.ops("domain_managed_save", "domain_managed_save_remove")
    def test_managed_save(self, vk: Kit) -> None:
        dom = vk.running()
        rec = vk.recorder(dom)
        dom.managed_save()
        assert dom.state() == (S.SHUTOFF, ShutoffReason.SAVED) and dom.has_managed_save_image()
        assert dom in vk.conn.list_domains(managed_save=True)
        assert rec.take(1) == [(E.STOPPED, StoppedDetail.SAVED)]
        expect_error(C.OPERATION_INVALID, dom.undefine)
        dom.create()
        assert dom.state() == (S.RUNNING, RunningReason.RESTORED)
        assert not dom.has_managed_save_image()
        assert rec.take(1) == [(E.STARTED, StartedDetail.RESTORED)]
        dom.managed_save()
        dom.create(force_boot=True)
        assert dom.state() == (S.RUNNING, RunningReason.BOOTED) and not dom.has_managed_save_image()
        dom.managed_save()
        dom.managed_save_remove()
        assert not dom.has_managed_save_image()
        dom.create()
        assert dom.state() == (S.RUNNING, RunningReason.BOOTED)

    @pytest.mark.ops("domain_save", "domain_restore", "domain_save_image_get_xml",
                     "domain_save_image_define_xml")
    def test_save_image_xml(self, vk: Kit) -> None:
        dom = vk.running()
        path = _saved(vk, dom)
        xml = vk.conn.save_image_get_xml_desc(path)
        assert f"<name>{dom.name}</name>" in xml and dom.uuid in xml
        described = _described(xml, "vkcert image")
        vk.conn.save_image_define_xml(path, described, start_state="paused")
        assert "vkcert image" in vk.conn.save_image_get_xml_desc(path)
        assert "vkcert image" not in dom.xml_desc(inactive=True)
        expect_error(C.OPERATION_INVALID, vk.conn.save_image_define_xml, path,
                     xml.replace(dom.uuid, vk.new_uuid()))
        assert "vkcert image" in vk.conn.save_image_get_xml_desc(path), "refused: unchanged"
        vk.conn.restore(path)
        assert dom.state()[0] == S.PAUSED and "vkcert image" in dom.xml_desc()
        expect_error((C.SYSTEM_ERROR, C.OPERATION_INVALID), vk.conn.save_image_get_xml_desc,
                     vk.path("missing.save"))

    @pytest.mark.ops("domain_managed_save", "domain_managed_save_get_xml",
                     "domain_managed_save_define_xml")
    def test_managed_save_image_xml(self, vk: Kit) -> None:
        dom = vk.running()
        expect_error(C.OPERATION_INVALID, dom.managed_save_get_xml_desc)
        dom.managed_save()
        xml = dom.managed_save_get_xml_desc()
        assert f"<name>{dom.name}</name>" in xml
        dom.managed_save_define_xml(_described(xml, "vkcert managed"), start_state="paused")
        assert "vkcert managed" in dom.managed_save_get_xml_desc()
        dom.create()
        assert dom.state()[0] == S.PAUSED and "vkcert managed" in dom.xml_desc()
        expect_error(C.OPERATION_INVALID, dom.managed_save_get_xml_desc)

    @pytest.mark.ops("domain_managed_save", "domain_create_xml")
    @pytest.mark.requires("transient_domains")
    def test_managed_save_transient_is_invalid(self, vk: Kit) -> None:
        dom = vk.create()
        expect_error(C.OPERATION_INVALID, dom.managed_save)
        assert dom.is_active()

    @pytest.mark.ops("domain_managed_save")
    def test_undefine_with_managed_save_flag(self, vk: Kit) -> None:
        dom = vk.running()
        dom.managed_save()
        dom.undefine(managed_save=True)
        expect_error(C.NO_DOMAIN, vk.conn.lookup_by_uuid, dom.uuid)

    @pytest.mark.ops("domain_save", "domain_get_job_info", "domain_abort_job")
    @pytest.mark.requires("concurrency")
    def test_job_progress_and_abort(self, vk: Kit, vk_job_conn: Connection) -> None:
        """A save is a job: its progress shows while it runs, and aborting it leaves the guest
        running. (A driver whose jobs end at once declares ``job_uri_params``.)"""
        dom = vk.running(memory_mib=256)
        assert dom.job_info().type == JOB_NONE, "no job on a guest that is doing nothing"
        expect_error(C.OPERATION_INVALID, dom.abort_job)
        path = vk.path("aborted.save")
        outcome: dict[str, object] = {}

        def save() -> None:
            try:
                vk_job_conn.lookup_by_uuid(dom.uuid).save(path)
                outcome["saved"] = True
            except VirtError as exc:
                outcome["error"] = exc

        worker = threading.Thread(target=save, daemon=True)
        worker.start()
        seen = None
        deadline = time.monotonic() + 30
        while worker.is_alive() and time.monotonic() < deadline:
            info = dom.job_info()
            if info.type in (JOB_BOUNDED, JOB_UNBOUNDED):
                seen = info
                break
            time.sleep(0.002)
        try:
            assert seen is not None, (
                "no active job was seen while the guest was being saved (a driver whose jobs "
                "end at once declares capabilities['job_uri_params'])")
            assert seen.time_elapsed_ms >= 0 and seen.data_processed >= 0
            if seen.type == JOB_BOUNDED:
                assert seen.data_processed <= seen.data_total, seen
            dom.abort_job()
        finally:
            worker.join(60)
        error = outcome.get("error")
        assert isinstance(error, VirtError) and error.code == C.OPERATION_ABORTED, (
            f"the aborted save ended with {outcome!r}, not OPERATION_ABORTED")
        assert dom.state()[0] == S.RUNNING, "an aborted save leaves the guest running"
        expect_error(C.OPERATION_INVALID, dom.abort_job)
