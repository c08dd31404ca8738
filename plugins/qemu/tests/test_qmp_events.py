"""How QMP events complete an unplug. CPU_UNPLUG is a recorded transcript (QEMU 7.2 here, the
tiny guest ejecting ``vcpu1`` under TCG); NIC_UNPLUG is written by hand in the form QEMU's QMP
reference gives DEVICE_DELETED (a child without ``device``, then the device with its id)."""

from __future__ import annotations

import threading

from virtkit.sdk.states import DomainStatus
from virtkit_qemu.host import Guest, QemuHost

# recorded 2026-12-02 from qemu-system-x86_64 7.2.22 (Debian), in this order: QEMU reports the
# cpu's end only through its lapic child
CPU_UNPLUG = [
    ("ACPI_DEVICE_OST", {"info": {"device": "vcpu1", "source": 3, "status": 132, "slot": "1",
                                  "slot-type": "CPU"}}),
    ("DEVICE_DELETED", {"path": "/machine/peripheral/vcpu1/lapic"}),
    ("ACPI_DEVICE_OST", {"info": {"source": 3, "status": 0, "slot": "1", "slot-type": "CPU"}}),
]
NIC_UNPLUG = [
    ("DEVICE_DELETED", {"path": "/machine/peripheral/net1/virtio-backend"}),
    ("DEVICE_DELETED", {"device": "net1", "path": "/machine/peripheral/net1"}),
]


def _feed(alias: str, events: list[tuple[str, dict[str, object]]]) -> list[bool]:
    """Feed ``events`` to a guest waiting for ``alias``; whether it was done after each."""
    g = Guest("g", "00000000-0000-0000-0000-000000000001", None, DomainStatus())
    done = threading.Event()
    g.deleted[alias] = done
    host = QemuHost.__new__(QemuHost)  # only the event routing is used: no threads, no files
    put = QemuHost._queue(host, g)
    out = []
    for name, data in events:
        put(name, data)
        out.append(done.is_set())
    return out


def test_cpu_unplug_completes_on_its_lapic_deleted() -> None:
    # done at the DEVICE_DELETED of the cpu's child, without queueing the ACPI_DEVICE_OST events
    # (whose handling once waited for the lock the unplugging call holds)
    assert _feed("vcpu1", CPU_UNPLUG) == [False, True, True]


def test_other_devices_complete_only_on_their_own_event() -> None:
    assert _feed("net1", NIC_UNPLUG) == [False, True]
    assert _feed("net2", NIC_UNPLUG) == [False, False]
    assert _feed("vcpu2", CPU_UNPLUG) == [False, False, False]
