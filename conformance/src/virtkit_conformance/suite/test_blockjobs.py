"""Group ``block-jobs``: block jobs (pull, copy with pivot and cancel, commit), their info,
speed, abort and events, and block devices (sizes, resize, peek, write thresholds)."""

from __future__ import annotations

import contextlib
import queue
import time
from collections.abc import Iterator
from typing import ClassVar

import pytest

from virtkit.api.domain import Domain
from virtkit.sdk import domain_events as ev
from virtkit.sdk.errors import ErrorCode as C
from virtkit.sdk.errors import VirtError
from virtkit.sdk.records import Event

from .. import NOT_SUPPORTED
from ..kit import Kit, disk_xml, expect_error


def _guest(vk: Kit) -> Domain:
    dom = vk.define(devices=disk_xml("vda", vk.path("blockjob.img")))
    dom.create()
    return dom


def _wait_job(dom: Domain, disk: str, timeout: float, ready: bool) -> dict[str, int]:
    """Poll until the disk's job is ready (``ready``) or gone; the last info."""
    deadline = time.monotonic() + timeout
    while True:
        info = dom.block_job_info(disk)
        if (ready and info and info["cur"] == info["end"]) or (not ready and not info):
            return info
        assert time.monotonic() < deadline, f"block job on {disk} still at {info}"
        time.sleep(0.05)


@contextlib.contextmanager
def _events(vk: Kit, kind: str) -> Iterator[queue.SimpleQueue[Event]]:
    inbox: queue.SimpleQueue[Event] = queue.SimpleQueue()
    cid = vk.conn.event_register(kind, inbox.put)
    try:
        yield inbox
    finally:
        vk.conn.event_deregister(cid)


class TestBlockJobs:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("block-jobs"),
        pytest.mark.ops("domain_define_xml", "domain_create", "domain_get_xml")]

    @pytest.mark.ops("domain_block_copy", "domain_get_block_job_info", "domain_block_job_abort",
                     "domain_block_job_set_speed")
    def test_copy_cancel_then_pivot(self, vk: Kit) -> None:
        dom = _guest(vk)
        dest = vk.path("blockjob-copy.img")
        with _events(vk, "domain-block-job-2") as inbox:
            dom.block_copy("vda", f"<disk type='file'><source file='{dest}'/></disk>")
            dom.block_job_set_speed("vda", 100)
            info = _wait_job(dom, "vda", vk.event_timeout, ready=True)
            assert info["type"] == ev.JOB_COPY, info
            got = inbox.get(timeout=vk.event_timeout)
            assert (got.params["dst"], got.params["status"]) == ("vda", ev.JOB_READY)
            dom.block_job_abort("vda")
            assert inbox.get(timeout=vk.event_timeout).params["status"] == ev.JOB_CANCELED
            assert dest not in dom.xml_desc(), "a canceled copy leaves the disk as it was"
            dom.block_copy("vda", f"<disk type='file'><source file='{dest}'/></disk>")
            _wait_job(dom, "vda", vk.event_timeout, ready=True)
            dom.block_job_abort("vda", pivot=True)
        assert f"'{dest}'" in dom.xml_desc(), "after pivot the disk runs on the copy"
        assert dom.block_job_info("vda") == {}
        expect_error(C.OPERATION_INVALID, dom.block_job_abort, "vda")

    @pytest.mark.ops("domain_block_rebase")
    def test_pull(self, vk: Kit) -> None:
        dom = _guest(vk)
        dom.block_pull("vda")
        _wait_job(dom, "vda", vk.event_timeout, ready=False)
        expect_error(C.INVALID_ARG, dom.block_pull, "vdz")

    @pytest.mark.ops("domain_block_commit", "domain_block_job_abort")
    def test_active_commit(self, vk: Kit) -> None:
        dom = _guest(vk)
        try:
            dom.block_commit("vda", active=True)
        except VirtError as exc:
            if exc.code == C.OPERATION_INVALID and "backing" in exc.message:
                pytest.skip(f"{NOT_SUPPORTED} the suite's disk has no backing chain here")
            raise
        _wait_job(dom, "vda", vk.event_timeout, ready=True)
        dom.block_job_abort("vda", pivot=True)
        assert dom.block_job_info("vda") == {}

    @pytest.mark.ops("domain_get_block_info", "domain_block_resize", "domain_block_peek")
    def test_sizes_resize_peek(self, vk: Kit) -> None:
        dom = _guest(vk)
        info = dom.block_info("vda")
        assert info.capacity > 0 and info.allocation >= 0 and info.physical >= 0
        dom.block_resize("vda", 64 * 1024 * 1024, bytes=True)
        assert dom.block_info("vda").capacity == 64 * 1024 * 1024
        assert len(dom.block_peek("vda", 0, 512)) == 512
        expect_error(C.INVALID_ARG, dom.block_peek, "vda", 0, 5 * 1024 * 1024)
        expect_error(C.INVALID_ARG, dom.block_info, "vdz")

    @pytest.mark.ops("domain_set_block_threshold")
    def test_threshold(self, vk: Kit) -> None:
        dom = _guest(vk)
        dom.set_block_threshold("vda", 1 << 40)
        dom.set_block_threshold("vda", 0)
        expect_error(C.INVALID_ARG, dom.set_block_threshold, "vdz", 1)
