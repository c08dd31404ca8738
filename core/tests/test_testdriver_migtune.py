"""The test driver's migration tuning through the facade: downtime, speeds, compression
cache, the parameter forms migrate3/migrate_to_uri3, post-copy switching of a running
migration, and migration-iteration events."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vktest import expect as _expect

import virtkit
from virtkit.sdk.errors import ErrorCode
from virtkit.sdk.records import Event

GUEST = """<domain type='test'><name>m1</name><memory>1048576</memory><vcpu>1</vcpu>
<os><type>hvm</type></os></domain>"""


def _node(tmp_path: Path, name: str, body: str = "") -> Path:
    path = tmp_path / name
    path.write_text(f"<node>{body}</node>")
    return path


@pytest.fixture
def src(tmp_path: Path) -> Iterator[virtkit.Connection]:
    c = virtkit.open(f"test://{_node(tmp_path, 'src.xml', GUEST)}")
    yield c
    c.close()




@pytest.mark.hook("domain_migrate_get_max_downtime", "domain_migrate_set_max_downtime",
                  "domain_migrate_get_max_speed", "domain_migrate_set_max_speed",
                  "domain_migrate_get_compression_cache",
                  "domain_migrate_set_compression_cache")
def test_settings_read_back(src: virtkit.Connection) -> None:
    dom = src.lookup_by_name("m1")
    assert dom.migrate_get_max_downtime() == 300
    dom.migrate_set_max_downtime(50)
    assert dom.migrate_get_max_downtime() == 50
    assert dom.migrate_get_max_speed() == 8796093022207
    assert dom.migrate_get_max_speed(postcopy=True) == 0
    dom.migrate_set_max_speed(100)
    dom.migrate_set_max_speed(200, postcopy=True)
    assert (dom.migrate_get_max_speed(), dom.migrate_get_max_speed(True)) == (100, 200)
    assert dom.migrate_get_compression_cache() == 64 << 20
    dom.migrate_set_compression_cache(128 << 20)
    assert dom.migrate_get_compression_cache() == 128 << 20
    _expect(ErrorCode.INVALID_ARG, dom.migrate_set_compression_cache, 2 << 30)  # > memory
    _expect(ErrorCode.INVALID_ARG, dom.migrate_set_max_downtime, 0)
    _expect(ErrorCode.INVALID_ARG, dom.migrate_set_max_speed, 8796093022208)
    _expect(ErrorCode.OPERATION_INVALID, dom.migrate_start_post_copy)  # not migrating
    dom.destroy()  # settings last until the guest stops
    assert dom.migrate_get_max_downtime() == 300
    _expect(ErrorCode.OPERATION_INVALID, dom.migrate_set_max_downtime, 10)


def test_parameter_forms_and_iteration_event(src: virtkit.Connection, tmp_path: Path) -> None:
    dom = src.lookup_by_name("m1")
    box: queue.SimpleQueue[Event] = queue.SimpleQueue()
    src.event_register("domain-migration-iteration", box.put)
    dest = virtkit.open(f"test://{_node(tmp_path, 'dst.xml')}")
    try:
        moved = dom.migrate3(dest, {"destination_name": "m2", "bandwidth": 10}, live=True)
        assert moved.name == "m2" and moved.is_active()
        assert box.get(timeout=5).params == {"iteration": 1}
        _expect(ErrorCode.INVALID_ARG, moved.migrate3, src, {"nonsense": 1})
    finally:
        dest.close()
    other = _node(tmp_path, "other.xml", GUEST.replace("m1", "u1").replace(
        "<memory>", "<uuid>8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d</uuid><memory>"))
    third = virtkit.open(f"test://{other}")
    try:
        # migrate_to_uri3 opens the URI itself: a node file is a fresh host each time, so
        # this shows the call goes through (the guest leaves its source)
        third.lookup_by_name("u1").migrate_to_uri3(f"test://{_node(tmp_path, 'x.xml')}",
                                                   live=True)
        assert not third.lookup_by_name("u1").is_active()
    finally:
        third.close()


@pytest.mark.hook("domain_migrate_start_post_copy")
def test_post_copy_switches_a_running_migration(tmp_path: Path) -> None:
    src = virtkit.open(f"test://{_node(tmp_path, 'src.xml', GUEST)}?job_seconds=2")
    dest = virtkit.open(f"test://{_node(tmp_path, 'dst.xml')}")
    box: queue.SimpleQueue[Event] = queue.SimpleQueue()
    src.event_register("domain-migration-iteration", box.put)
    try:
        dom = src.lookup_by_name("m1")
        result: list[Any] = []
        worker = threading.Thread(
            target=lambda: result.append(dom.migrate3(dest, live=True, postcopy=True)))
        started = time.monotonic()
        worker.start()
        deadline = time.monotonic() + 5
        while dom.job_info().type != 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert dom.job_info().operation == "migration"
        dom.migrate_start_post_copy()
        worker.join(10)
        assert result and result[0].is_active()
        assert time.monotonic() - started < 1.8, "post-copy ended the pre-copy early"
        iterations = []
        while not box.empty():
            iterations.append(box.get().params["iteration"])
        assert iterations and iterations[-1] < 5
        _expect(ErrorCode.OPERATION_INVALID, result[0].migrate_start_post_copy)  # done
    finally:
        src.close()
        dest.close()


@pytest.mark.hook("domain_abort_job_postcopy")
def test_post_copy_is_interrupted_only_with_the_postcopy_flag(tmp_path: Path) -> None:
    src = virtkit.open(f"test://{_node(tmp_path, 'src.xml', GUEST)}?job_seconds=3")
    dest = virtkit.open(f"test://{_node(tmp_path, 'dst.xml')}")
    box: queue.SimpleQueue[Event] = queue.SimpleQueue()
    src.event_register("domain-lifecycle", box.put)
    try:
        dom = src.lookup_by_name("m1")
        err = _expect(ErrorCode.OPERATION_INVALID, dom.abort_job, postcopy=True)
        assert "'m1'" in err.message and "post-copy" in err.message
        failure: list[virtkit.VirtError] = []

        def move() -> None:
            try:
                dom.migrate3(dest, live=True, postcopy=True)
            except virtkit.VirtError as exc:
                failure.append(exc)

        worker = threading.Thread(target=move)
        worker.start()
        deadline = time.monotonic() + 5
        while dom.job_info().type != 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        _expect(ErrorCode.OPERATION_INVALID, dom.abort_job, postcopy=True)  # still pre-copy
        dom.migrate_start_post_copy()
        err = _expect(ErrorCode.OPERATION_INVALID, dom.abort_job)
        assert "post-copy mode" in err.message
        dom.abort_job(postcopy=True)
        worker.join(10)
        assert failure and failure[0].code == ErrorCode.OPERATION_FAILED
        assert "interrupted in post-copy" in failure[0].message
        assert dom.state() == (3, 13), "paused, post-copy failed"
        src.events.wait_idle()
        events = []
        while not box.empty():
            e = box.get()
            events.append((e.event, e.detail))
        assert (3, 8) in events, "SUSPENDED/POSTCOPY_FAILED"
        _expect(ErrorCode.NO_DOMAIN, dest.lookup_by_name, "m1")
        _expect(ErrorCode.OPERATION_INVALID, dom.abort_job, postcopy=True)  # the job is over
        dom.resume()  # the test source kept the whole guest
        assert dom.state()[0] == 1
    finally:
        src.close()
        dest.close()
