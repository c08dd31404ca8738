"""One lifecycle of a tiny PV guest through the xen driver, the same calls in the real Xen run
(tests_real/, recording the transcript) and in its replay (tests/test_replay.py)."""

from __future__ import annotations

import time

import virtkit
from virtkit.sdk.errors import ErrorCode, VirtError

GUEST = """<domain type='xen'><name>vk-tiny</name>
  <uuid>6d1e0f7a-3c55-4c1b-9a70-2f5d0c3e9b11</uuid>
  <memory unit='MiB'>128</memory><vcpu>1</vcpu>
  <os><type>linux</type><kernel>/guest/vmlinux</kernel><initrd>/guest/initrd.cpio</initrd>
  <cmdline>console=hvc0 quiet</cmdline></os>
  <on_poweroff>destroy</on_poweroff></domain>"""

RUNNING, PAUSED, SHUTOFF = 1, 3, 5


def lifecycle(uri: str) -> list[tuple[int, int]]:
    """Define, start, pause, resume, shut down, start again, save, restore, destroy, undefine;
    with the state after each step checked, and the lifecycle events seen. Returns the
    (event, detail) pairs."""
    events: list[tuple[int, int]] = []
    conn = virtkit.open(uri)
    try:
        conn.event_register("domain-lifecycle", lambda ev: events.append((ev.event, ev.detail)))
        assert conn.get_version() == 4_017_000
        dom = conn.define_xml(GUEST)
        assert dom.state()[0] == SHUTOFF
        dom.create()
        assert dom.state() == (RUNNING, 1) and dom.id > 0
        first_id = dom.id
        other = virtkit.open(uri)  # a second connection finds it running (the state store)
        try:
            assert other.lookup_by_name("vk-tiny").state()[0] == RUNNING
        finally:
            other.close()
        dom.suspend()
        assert dom.state()[0] == PAUSED
        dom.resume()
        assert dom.state()[0] == RUNNING
        try:
            dom.create()
            raise AssertionError("starting a running domain must fail")
        except VirtError as e:
            assert e.code == ErrorCode.OPERATION_INVALID
        dom.shutdown()
        assert dom.state()[0] == SHUTOFF
        dom.create()
        assert dom.id > first_id
        dom.save("/tmp/vk-tiny.save")
        assert dom.state()[0] == SHUTOFF
        conn.restore("/tmp/vk-tiny.save")
        assert dom.state()[0] == RUNNING
        dom.destroy()
        assert dom.state()[0] == SHUTOFF
        dom.undefine()
        assert conn.list_domain_summaries() == []
        # events are delivered by the connection's own thread: wait for the last one (UNDEFINED)
        # before closing, or a loaded machine may close the connection first
        deadline = time.monotonic() + 10
        while (not events or events[-1][0] != 1) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        conn.close()
    return events
