"""The test driver's block jobs and block devices through the facade: pull, rebase, commit,
copy with pivot and cancel, job info and speed, resize, peek, sizes, thresholds and the
block-job, block-job-2 and block-threshold events."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from vktest import expect as _expect
from vktest import inbox as _events

import virtkit
from virtkit.sdk import domain_events as ev
from virtkit.sdk.errors import ErrorCode
from virtkit.sdk.records import Event

GUEST = """<domain type='test'><name>b1</name><memory>1048576</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices>
<disk type='file' device='disk'><source file='/img/b1.qcow2'/><target dev='vda'/></disk>
<disk type='file' device='cdrom'><source file='/img/b1.iso'/><target dev='hdc'/><readonly/></disk>
</devices></domain>"""
MiB = 1024 * 1024


def _open(tmp_path: Path, query: str = "") -> virtkit.Connection:
    node = tmp_path / "node.xml"
    node.write_text(f"<node>{GUEST}</node>")
    return virtkit.open(f"test://{node}{query}")


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[virtkit.Connection]:
    c = _open(tmp_path)
    yield c
    c.close()






def _take(inbox: queue.SimpleQueue[Event], n: int) -> list[Event]:
    return [inbox.get(timeout=5) for _ in range(n)]


@pytest.mark.hook("domain_block_rebase", "domain_get_block_info")
def test_pull_merges_the_chain_and_grows_the_allocation(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("b1")
    inbox = _events(conn, "domain-block-job", "domain-block-job-2")
    before = dom.block_info("vda")
    assert tuple(before) == (1099506450432, 1099511627776, 1099511627776)
    _expect(ErrorCode.INVALID_ARG, dom.block_rebase, "vda", "/not/in/chain")
    dom.block_pull("vda")
    old, new = _take(inbox, 2)
    assert old.params == {"disk": "/img/b1.qcow2", "type": ev.JOB_PULL,
                          "status": ev.JOB_COMPLETED}
    assert new.params == {"dst": "vda", "type": ev.JOB_PULL, "status": ev.JOB_COMPLETED}
    assert dom.block_info("vda").allocation == before.allocation + (1 << 30)
    assert dom.block_job_info("vda") == {}
    # the chain is gone: a commit has nothing to merge into
    _expect(ErrorCode.OPERATION_INVALID, dom.block_commit, "vda", active=True)
    _expect(ErrorCode.INVALID_ARG, dom.block_info, "vdq")


@pytest.mark.hook("domain_block_copy", "domain_block_job_abort", "domain_get_block_job_info",
                  "domain_block_job_set_speed")
def test_copy_mirrors_until_pivot_or_cancel(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("b1")
    inbox = _events(conn, "domain-block-job-2")
    dom.block_copy("vda", "<disk type='file'><source file='/img/copy1.qcow2'/></disk>",
                   {"bandwidth": 5 * MiB})
    assert _take(inbox, 1)[0].params["status"] == ev.JOB_READY
    info = dom.block_job_info("vda")
    assert info["type"] == ev.JOB_COPY and info["cur"] == info["end"] > 0
    assert info["bandwidth"] == 5
    dom.block_job_set_speed("vda", 7)
    assert dom.block_job_info("vda", bytes=True)["bandwidth"] == 7 * MiB
    _expect(ErrorCode.OPERATION_INVALID, dom.block_copy, "vda",
            "<disk type='file'><source file='/img/c2'/></disk>")  # one job a disk
    dom.block_job_abort("vda")  # cancel: the disk keeps its source
    assert _take(inbox, 1)[0].params["status"] == ev.JOB_CANCELED
    assert "/img/b1.qcow2" in dom.xml_desc()
    dom.block_copy("vda", "<disk type='file'><source file='/img/copy1.qcow2'/></disk>")
    _take(inbox, 1)
    dom.block_job_abort("vda", pivot=True)
    assert _take(inbox, 1)[0].params["status"] == ev.JOB_COMPLETED
    assert "/img/copy1.qcow2" in dom.xml_desc() and "/img/b1.qcow2" not in dom.xml_desc()
    assert "/img/b1.qcow2" in dom.xml_desc(inactive=True)  # the definition is unchanged
    _expect(ErrorCode.OPERATION_INVALID, dom.block_job_abort, "vda")
    _expect(ErrorCode.XML_ERROR, dom.block_copy, "vda", "<disk type='file'/>")
    _expect(ErrorCode.INVALID_ARG, dom.block_copy, "vda", "<disk/>", {"speed": 1})


@pytest.mark.hook("domain_block_commit")
def test_active_commit_pivots_onto_the_base(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("b1")
    _expect(ErrorCode.OPERATION_INVALID, dom.block_commit, "vda")  # active needs the flag
    dom.block_commit("vda", active=True)
    assert dom.block_job_info("vda")["type"] == ev.JOB_ACTIVE_COMMIT
    dom.block_job_abort("vda", pivot=True)
    assert "/img/b1.qcow2.base" in dom.xml_desc()


def test_jobs_take_time_with_job_seconds(tmp_path: Path) -> None:
    conn = _open(tmp_path, "?job_seconds=1")
    try:
        dom = conn.lookup_by_name("b1")
        inbox = _events(conn, "domain-block-job")
        dom.block_copy("vda", "<disk type='file'><source file='/img/slow'/></disk>")
        info = dom.block_job_info("vda")
        assert info["cur"] < info["end"]
        _expect(ErrorCode.OPERATION_INVALID, dom.block_job_abort, "vda", pivot=True)
        assert _take(inbox, 1)[0].params["status"] == ev.JOB_READY  # after about a second
        info = dom.block_job_info("vda")
        assert info["cur"] == info["end"]
        dom.block_job_abort("vda")
        dom.block_pull("vda")
        dom.destroy()  # the job ends with the guest; its timer finds nothing to finish
        dom.create()
        assert dom.block_job_info("vda") == {}
        time.sleep(1.2)
        assert inbox.get(timeout=1).params["status"] == ev.JOB_CANCELED  # the copy's abort
        assert inbox.empty()
    finally:
        conn.close()


@pytest.mark.hook("domain_block_resize", "domain_block_peek")
def test_resize_and_peek(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("b1")
    dom.block_resize("vda", 2 * MiB)  # KiB
    assert dom.block_info("vda").capacity == 2 * MiB * 1024
    dom.block_resize("/img/b1.qcow2", 4096, bytes=True)
    assert dom.block_info("vda").capacity == 4096
    head = dom.block_peek("vda", 0, 512)
    assert head.startswith(b"VIRTKIT-TEST-DISK vda") and head[510:] == b"\x55\xaa"
    assert dom.block_peek("vda", 509, 3) == b"\x00\x55\xaa"
    _expect(ErrorCode.INVALID_ARG, dom.block_peek, "vda", 4000, 200)  # beyond the capacity
    _expect(ErrorCode.INVALID_ARG, dom.block_peek, "vda", 0, 5 * MiB)  # above 4 MiB
    _expect(ErrorCode.OPERATION_UNSUPPORTED, dom.block_resize, "hdc", 10)
    _expect(ErrorCode.INVALID_ARG, dom.block_resize, "vda", 0)
    ro = virtkit.open(conn.uri, read_only=True)  # a node file: its own copy of the host
    try:
        _expect(ErrorCode.OPERATION_DENIED, ro.lookup_by_name("b1").block_peek, "vda", 0, 1)
        assert ro.lookup_by_name("b1").block_info("vda").capacity > 0  # sizes are not guest data
    finally:
        ro.close()
    dom.destroy()
    _expect(ErrorCode.OPERATION_INVALID, dom.block_resize, "vda", 10)
    _expect(ErrorCode.OPERATION_INVALID, dom.block_job_info, "vda")


@pytest.mark.hook("domain_set_block_threshold")
def test_block_threshold_fires_once(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("b1")
    inbox = _events(conn, "domain-block-threshold")
    allocation = dom.block_info("vda").allocation
    dom.set_block_threshold("vda", allocation + 100)  # armed, not reached
    assert inbox.empty()
    dom.block_pull("vda")  # merges 1 GiB
    event = _take(inbox, 1)[0]
    assert event.params == {"dev": "vda", "path": "/img/b1.qcow2",
                            "threshold": allocation + 100, "excess": (1 << 30) - 100}
    dom.set_block_threshold("vda", 1)  # already passed: fires at once, then disarmed
    assert _take(inbox, 1)[0].params["threshold"] == 1
    _expect(ErrorCode.INVALID_ARG, dom.set_block_threshold, "vda", -1)
