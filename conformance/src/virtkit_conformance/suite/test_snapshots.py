"""Group ``snapshots``: create, list, current, revert (states, reasons, events), delete."""

from __future__ import annotations

from typing import ClassVar

import pytest

from virtkit.sdk.errors import ErrorCode as C
from virtkit.sdk.states import DomainState as S
from virtkit.sdk.states import EventType as E
from virtkit.sdk.states import (
    PausedReason,
    RunningReason,
    ShutoffReason,
    StartedDetail,
    StoppedDetail,
    SuspendedDetail,
)

from ..kit import Kit, expect_error

SNAP_OPS = ("domain_define_xml", "domain_create", "snapshot_create_xml", "snapshot_list",
            "snapshot_get_xml", "snapshot_current", "snapshot_revert", "snapshot_delete")


def _snap(name: str) -> str:
    return f"<domainsnapshot><name>{name}</name></domainsnapshot>"


class TestSnapshots:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("snapshots"), pytest.mark.ops(*SNAP_OPS)]

    def test_create_list_current(self, vk: Kit) -> None:
        dom = vk.running()
        expect_error(C.NO_DOMAIN_SNAPSHOT, dom.snapshot_current)
        s1 = dom.snapshot_create_xml(_snap("s1"))
        s2 = dom.snapshot_create_xml(_snap("s2"))
        assert dom.snapshot_current() == s2 and s2.parent() == s1 and s1.parent() is None
        assert [s.name for s in dom.list_all_snapshots()] == ["s1", "s2"]
        assert [s.name for s in dom.list_all_snapshots(roots=True)] == ["s1"]
        assert dom in vk.conn.list_domains(has_snapshot=True)
        assert "<name>s1</name>" in s1.xml_desc()
        expect_error(C.OPERATION_INVALID, dom.snapshot_create_xml, _snap("s1"))
        expect_error(C.NO_DOMAIN_SNAPSHOT, dom.snapshot_lookup_by_name, "nope")

    @pytest.mark.ops("domain_suspend", "domain_destroy")
    def test_revert_states_and_events(self, vk: Kit) -> None:
        dom = vk.running()
        running = dom.snapshot_create_xml(_snap("running"))
        dom.suspend()
        paused = dom.snapshot_create_xml(_snap("paused"))
        dom.destroy()
        off = dom.snapshot_create_xml(_snap("off"))
        rec = vk.recorder(dom)
        running.revert()
        assert dom.state() == (S.RUNNING, RunningReason.FROM_SNAPSHOT)
        assert dom.snapshot_current() == running
        assert rec.take(1) == [(E.STARTED, StartedDetail.FROM_SNAPSHOT)]
        paused.revert()
        assert dom.state() == (S.PAUSED, PausedReason.FROM_SNAPSHOT)
        assert rec.take(1) == [(E.SUSPENDED, SuspendedDetail.FROM_SNAPSHOT)]
        off.revert()
        assert dom.state() == (S.SHUTOFF, ShutoffReason.FROM_SNAPSHOT)
        assert rec.take(1) == [(E.STOPPED, StoppedDetail.FROM_SNAPSHOT)]
        paused.revert(running=True)
        assert dom.state() == (S.RUNNING, RunningReason.FROM_SNAPSHOT)

    def test_delete_reparents(self, vk: Kit) -> None:
        dom = vk.running()
        s1 = dom.snapshot_create_xml(_snap("a"))
        s2 = dom.snapshot_create_xml(_snap("b"))
        s3 = dom.snapshot_create_xml(_snap("c"))
        s2.delete()
        assert s3.parent() == s1, "children move to the deleted snapshot's parent"
        s1.delete(children_only=True)
        assert [s.name for s in dom.list_all_snapshots()] == ["a"]
        expect_error(C.NO_DOMAIN_SNAPSHOT, s2.delete)

    @pytest.mark.ops("domain_destroy", "domain_undefine")
    def test_undefine_needs_flag(self, vk: Kit) -> None:
        dom = vk.define()
        dom.snapshot_create_xml(_snap("x"))
        expect_error(C.OPERATION_INVALID, dom.undefine)
        dom.undefine(snapshots_metadata=True)
        expect_error(C.NO_DOMAIN, vk.conn.lookup_by_uuid, dom.uuid)
