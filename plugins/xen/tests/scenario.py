"""One lifecycle of a tiny PV guest through the xen driver, the same calls in the real Xen run
(tests_real/, recording the transcript) and in its replay (tests/test_replay.py)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import virtkit
from virtkit.sdk.errors import ErrorCode, VirtError


def guest_xml(name: str, uuid: str) -> str:
    """The tiny PV guest of the real run's dom0 image, as ``name`` with ``uuid``."""
    return f"""<domain type='xen'><name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory unit='MiB'>128</memory><vcpu>1</vcpu>
  <os><type>linux</type><kernel>/guest/vmlinux</kernel><initrd>/guest/initrd.cpio</initrd>
  <cmdline>console=hvc0 quiet</cmdline></os>
  <on_poweroff>destroy</on_poweroff></domain>"""


GUEST = guest_xml("vk-tiny", "6d1e0f7a-3c55-4c1b-9a70-2f5d0c3e9b11")

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


OPS_GUEST = """<domain type='xen'><name>vk-ops</name>
  <uuid>0b7c3e52-8f41-4d0e-b6a2-93c1d7e5f204</uuid>
  <memory unit='MiB'>160</memory><currentMemory unit='MiB'>144</currentMemory>
  <vcpu current='1'>2</vcpu>
  <os><type>linux</type><kernel>/guest/vmlinux</kernel><initrd>/guest/initrd.cpio</initrd>
  <cmdline>console=hvc0 quiet</cmdline></os>
  <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot></domain>"""


#: The (event, detail) pairs of ``operations`` on the real run. The first connection: defined,
#: started (booted), stopped (saved: the managed save), started (restored), undefined; a reboot
#: and a reset keep the guest running and emit none. The watcher's, for xl run outside
#: virtkit: suspended (paused), resumed (unpaused), then for ``xl destroy`` shutdown
#: (finished) and stopped (shutdown): a guest gone from xl's list without virtkit reads as one
#: that shut down (xl does not say why a domain went away).
OPS_EVENTS = [(0, 0), (2, 0), (5, 4), (2, 2), (1, 0)]
WATCHER_EVENTS = [(3, 0), (4, 0), (6, 0), (5, 0)]


def _until(what: str, cond: Callable[[], bool], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(0.5)


def operations(uri: str, watcher_env: dict[str, str],
               outside: Callable[[list[str]], None]) -> tuple[list[tuple[int, int]],
                                                             list[tuple[int, int]]]:
    """Live vcpus and memory, reboot, reset, managed save and the start that restores it, on
    a guest with room for a second vcpu and more memory; then, on a second connection opened
    with ``watcher_env`` (its watcher polling xl), the guest paused, unpaused and destroyed
    outside virtkit by ``outside(xl argv)``, which that connection reports as events. Returns
    the first connection's lifecycle events and the watcher connection's."""
    events: list[tuple[int, int]] = []
    seen: list[tuple[int, int]] = []
    conn = virtkit.open(uri)
    try:
        conn.event_register("domain-lifecycle", lambda ev: events.append((ev.event, ev.detail)))
        dom = conn.define_xml(OPS_GUEST)
        dom.create()
        assert dom.state() == (RUNNING, 1)
        assert dom.vcpus_count(live=True) == 1 and dom.info().nr_virt_cpu == 1
        dom.set_vcpus(2, live=True)  # xl vcpu-set: the guest's second vcpu comes online
        assert dom.vcpus_count(live=True) == 2
        _until("xl lists 2 vcpus", lambda: dom.info().nr_virt_cpu == 2)
        dom.set_memory(112 * 1024, live=True)  # xl mem-set: the balloon gives memory back
        assert "<currentMemory unit='KiB'>114688</currentMemory>" in dom.xml_desc()
        _until("the balloon reaches 112 MiB", lambda: dom.info().memory <= 113 * 1024)
        reboots: list[str] = []
        conn.event_register("domain-reboot", lambda ev: reboots.append(ev.obj.name))
        before = dom.id
        dom.reboot()  # xl reboot: xl restarts the guest under a new domain id
        assert dom.state()[0] == RUNNING and dom.id > before
        _until("the domain-reboot event", lambda: reboots == ["vk-ops"], timeout=10)
        before = dom.id
        dom.reset()  # a PV guest has no reset line: destroy and create again
        assert dom.state()[0] == RUNNING and dom.id > before
        dom.managed_save()
        assert dom.state()[0] == SHUTOFF and dom.has_managed_save_image()
        dom.create()  # restores the managed save image
        assert dom.state()[0] == RUNNING and not dom.has_managed_save_image()

        saved = {k: os.environ.get(k) for k in watcher_env}
        os.environ.update(watcher_env)
        try:
            watcher = virtkit.open(uri)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        try:
            watcher.event_register("domain-lifecycle",
                                   lambda ev: seen.append((ev.event, ev.detail)))
            for argv, count in ((["xl", "pause", "vk-ops"], 1),
                                (["xl", "unpause", "vk-ops"], 2),
                                (["xl", "destroy", "vk-ops"], 3)):
                outside(argv)
                _until(f"the watcher's event for '{' '.join(argv)}'",
                       lambda n=count: len(seen) >= n, timeout=60)  # type: ignore[misc]
        finally:
            watcher.close()
        assert dom.state()[0] == SHUTOFF
        dom.undefine()
        deadline = time.monotonic() + 10
        while (not events or events[-1][0] != 1) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        conn.close()
    return events, seen
