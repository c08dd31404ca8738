"""vSphere tasks as jobs: progress while a task runs, and cancellation.

govmomi 0.24's simulator finishes every task inside the call; the simulator program of this
package can make chosen task methods run as real vSphere runs them (``-slow METHOD=SECONDS``:
the task returns at once, advances its progress, accepts CancelTask, then does the work)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import virtkit
from virtkit.sdk.errors import ErrorCode
from virtkit.sdk.states import DomainState, RunningReason
from virtkit_vmware.vcsim import Simulator, unavailable_reason

from .helpers import domain_xml, name, wait_for


@pytest.fixture
def slow_sim() -> Iterator[Simulator]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"no vSphere simulator: {reason}")
    sim = Simulator("esx", slow_tasks={"PowerOnVM_Task": 2.0}).start()
    try:
        yield sim
    finally:
        sim.stop()


def _start_in_thread(dom: Any) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            dom.create()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_progress_of_a_running_task(slow_sim: Simulator) -> None:
    conn = virtkit.open(slow_sim.uri())
    try:
        dom = conn.define_xml(domain_xml(name("job")))
        thread, errors = _start_in_thread(dom)
        seen = wait_for(lambda: (lambda i: i if i.type == 1 and i.data_processed > 0 else None)(
            dom.job_info()), timeout=10)
        assert seen, "no progress reported while the task ran"
        assert seen.data_total == 100 and 0 < seen.data_processed < 100
        assert seen.data_remaining == 100 - seen.data_processed and "start" in seen.operation
        thread.join(timeout=20)
        assert not thread.is_alive() and not errors
        assert dom.state() == (DomainState.RUNNING, RunningReason.BOOTED)
        assert dom.job_info().type == 3
        dom.destroy()
        dom.undefine()
    finally:
        conn.close()


def test_abort_cancels_the_task(slow_sim: Simulator) -> None:
    conn = virtkit.open(slow_sim.uri())
    try:
        dom = conn.define_xml(domain_xml(name("abort")))
        thread, errors = _start_in_thread(dom)
        assert wait_for(lambda: dom.job_info().type == 1, timeout=10)
        began = time.monotonic()
        dom.abort_job()
        thread.join(timeout=10)
        assert not thread.is_alive() and time.monotonic() - began < 5
        assert errors and isinstance(errors[0], virtkit.VirtError)
        assert errors[0].code == ErrorCode.OPERATION_ABORTED and dom.name in errors[0].message
        assert dom.job_info().type == 5  # cancelled
        assert dom.state()[0] == DomainState.SHUTOFF, "a cancelled power-on leaves it off"
        dom.create()  # and it can start afterwards
        dom.destroy()
        dom.undefine()
    finally:
        conn.close()
