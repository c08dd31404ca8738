"""Device hotplug of a running tiny PV guest through the xen driver's xl backend, the same calls
on the real Xen (tests_real/test_real_xen.py, which records tests/data/xl-devices-real.jsonl)
and in their replay (test_xldev.py): a disk attached live and config, detached live, attached
live again and detached by alias (live and config), an attach of a missing file refused, an
interface attached on the dom0 bridge and detached, with the definitions and device events
checked after each step. On the real run ``view`` also reads dom0 (outside the driver, not
recorded): ``xl block-list`` / ``xl network-list`` must list what the live definition has, each
device connected (backend state 4: the guest's frontend joined), and the disk's loop device
and the interface's bridge port must come and go with it."""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs
from device_scenario import disks, macs
from scenario import guest_xml

import virtkit
from virtkit.sdk.errors import ErrorCode, VirtError

GUEST = guest_xml("vk-hot", "5b8e1d2c-4a6f-4c3e-8d1b-7e9a0c2f4b63")

#: the real run's dom0 has this sparse raw image (virtkit_xen.realrun.DISK_IMAGE) and bridge
IMAGE = "/srv/data.img"
BRIDGE = "xenbr0"
MAC = "00:16:3e:5a:00:01"
DISK = (f"<disk type='file' device='disk'><source file='{IMAGE}'/>"
        "<target dev='xvdb' bus='xen'/><alias name='ua-data'/></disk>")
#: xl's number for xvdb (202 << 8 | 1 << 4), as ``xl block-list`` prints it
XVDB = "51728"
MISSING = ("<disk type='file' device='disk'><source file='/srv/missing.img'/>"
           "<target dev='xvdc' bus='xen'/></disk>")
NIC = (f"<interface type='bridge'><mac address='{MAC}'/><source bridge='{BRIDGE}'/>"
       "<alias name='ua-net'/></interface>")


@attrs.frozen
class Dom0View:
    """What dom0 has for the guest: ``xl block-list`` (vdev -> backend state), ``xl
    network-list`` (MAC -> state), the files of the loop devices, the bridge's ports."""

    disks: dict[str, int]
    nics: dict[str, int]
    loops: list[str]
    ports: list[str]


#: the xl device commands of the scenario, in order (the replay checks them)
ISSUED = [["block-attach", "vk-hot", f"vdev=xvdb, access=rw, target={IMAGE}"],
          ["block-detach", "vk-hot", "xvdb"],
          ["block-attach", "vk-hot", f"vdev=xvdb, access=rw, target={IMAGE}"],
          ["block-detach", "vk-hot", "xvdb"],
          ["block-attach", "vk-hot", "vdev=xvdc, access=rw, target=/srv/missing.img"],
          ["network-attach", "vk-hot", f"mac={MAC}", f"bridge={BRIDGE}"],
          ["network-detach", "vk-hot", MAC]]

#: its device events: each live change, the device named by its alias
EVENTS = [("domain-device-added", "vk-hot", "ua-data"),
          ("domain-device-removed", "vk-hot", "ua-data"),
          ("domain-device-added", "vk-hot", "ua-data"),
          ("domain-device-removed", "vk-hot", "ua-data"),
          ("domain-device-added", "vk-hot", "ua-net"),
          ("domain-device-removed", "vk-hot", "ua-net")]


def _wait(what: str, cond: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(0.5)


def hotplug(uri: str, view: Callable[[int], Dom0View] | None = None,
            connect_timeout: float = 120.0) -> tuple[list[tuple[str, str, str]], str]:
    """The scenario; ``view(domid)`` reads dom0 (the real run only). Returns the device events
    seen (kind, domain, device) and the refused attach's message."""
    events: list[tuple[str, str, str]] = []
    conn = virtkit.open(uri)

    def seen(n: int) -> None:  # events come on the connection's own thread
        _wait(f"{n} device events (have {events})", lambda: len(events) >= n, 10)
        assert events == EVENTS[:n], events

    def dom0(ndisks: int, nics: int) -> None:
        if view is None:
            return
        want_disks = {XVDB: 4} if ndisks else {}
        want_nics = {MAC: 4} if nics else {}
        # the backend reaches state 4 once the guest's frontend has connected
        views: list[Dom0View] = []

        def listed() -> bool:
            views.append(view(domid))
            return (views[-1].disks, views[-1].nics) == (want_disks, want_nics)

        _wait(f"dom0 listing {want_disks} {want_nics} (last: {views[-1:]})", listed,
              connect_timeout)
        v = views[-1]
        assert v.loops == ([IMAGE] if ndisks else []), v
        assert v.ports == ([f"vif{domid}.0"] if nics else []), v

    try:
        for kind in ("domain-device-added", "domain-device-removed"):
            conn.event_register(kind, lambda ev, k=kind: events.append(
                (k, ev.obj.name, ev.device)))
        dom = conn.define_xml(GUEST)
        dom.create()
        domid = dom.id  # asked once, in the replay too (it asks xl)
        dom0(0, 0)
        # a disk, live and config: xl block-attach; in both definitions
        dom.attach_device(DISK, live=True, config=True)
        assert "xvdb" in disks(dom.xml_desc()) and "xvdb" in disks(dom.xml_desc(inactive=True))
        assert disks(dom.xml_desc())["xvdb"] == IMAGE
        seen(1)
        dom0(1, 0)
        # detached live only: xl block-detach; the persistent definition keeps it
        dom.detach_device(DISK, live=True)
        assert "xvdb" not in disks(dom.xml_desc())
        assert "xvdb" in disks(dom.xml_desc(inactive=True))
        seen(2)
        dom0(0, 0)
        # attached live again, then detached by its alias from both definitions
        dom.attach_device(DISK, live=True)
        assert "xvdb" in disks(dom.xml_desc())
        seen(3)
        dom0(1, 0)
        dom.detach_device_alias("ua-data", live=True, config=True)
        assert "xvdb" not in disks(dom.xml_desc())
        assert "xvdb" not in disks(dom.xml_desc(inactive=True))
        seen(4)
        dom0(0, 0)
        # xl refuses a file dom0 does not have: nothing stored, no event
        try:
            dom.attach_device(MISSING, live=True, config=True)
            raise AssertionError("attaching a missing file must fail")
        except VirtError as e:
            assert e.code == ErrorCode.OPERATION_FAILED, e
            refused = e.message
        assert "xvdc" not in disks(dom.xml_desc())
        assert "xvdc" not in disks(dom.xml_desc(inactive=True))
        dom0(0, 0)
        # an interface on the bridge, live and config: xl network-attach
        dom.attach_device(NIC, live=True, config=True)
        assert MAC in macs(dom.xml_desc()) and MAC in macs(dom.xml_desc(inactive=True))
        seen(5)
        dom0(0, 1)
        dom.detach_device(NIC, live=True, config=True)
        assert MAC not in macs(dom.xml_desc()) and MAC not in macs(dom.xml_desc(inactive=True))
        seen(6)
        dom0(0, 0)
        dom.destroy()
        dom.undefine()
        time.sleep(0.2)
        assert events == EVENTS, "no further event"
    finally:
        conn.close()
    return events, refused
