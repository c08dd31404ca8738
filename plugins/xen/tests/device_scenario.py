"""Devices of a tiny PV guest through the xen driver's xl backend: attach, detach (also by
alias) and cdrom media changes, live and config, with the refusals. The same calls write the
synthetic transcript (data/make_xl_devices.py, against a model dom0) and replay it
(test_xldev.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lxml import etree

import virtkit
from virtkit.sdk.errors import ErrorCode, VirtError

GUEST = """<domain type='xen'><name>vk-dev</name>
  <uuid>3f0c9a1e-7b42-4e55-a0d3-5c8e2b9f6a17</uuid>
  <memory unit='MiB'>128</memory><vcpu>1</vcpu>
  <os><type>linux</type><kernel>/guest/vmlinux</kernel><initrd>/guest/initrd.cpio</initrd>
  <cmdline>console=hvc0 quiet</cmdline></os>
  <devices>
    <disk type='file' device='disk'><source file='/srv/root.img'/>
      <target dev='xvda' bus='xen'/></disk>
    <disk type='file' device='cdrom'><source file='/srv/one.iso'/>
      <target dev='xvdc' bus='xen'/><readonly/></disk>
  </devices></domain>"""

#: a transient HVM guest (libxl changes a cdrom's media in HVM guests only; HVM needs the
#: device model, which the model dom0 has)
HVM = """<domain type='xen'><name>vk-hvm</name>
  <uuid>8a2d4c6e-1f3b-4a5c-9e7d-0b2c4e6f8a19</uuid>
  <memory unit='MiB'>128</memory><vcpu>1</vcpu>
  <os><type>hvm</type><boot dev='cdrom'/></os>
  <devices>
    <disk type='file' device='cdrom'><source file='/srv/one.iso'/>
      <target dev='hdc' bus='ide'/><readonly/></disk>
  </devices></domain>"""

MAC = "00:16:3e:00:00:2a"
DATA = ("<disk type='file' device='disk'><source file='/srv/data.img'/>"
        "<target dev='xvdb' bus='xen'/><alias name='ua-data'/></disk>")
SCRATCH = ("<disk type='file' device='disk'><source file='/srv/scratch.img'/>"
           "<target dev='xvdd' bus='xen'/></disk>")
#: the model dom0 has no such file: its block-attach fails
MISSING = ("<disk type='file' device='disk'><source file='/srv/missing.img'/>"
           "<target dev='xvde' bus='xen'/></disk>")
NIC = f"<interface type='bridge'><mac address='{MAC}'/><source bridge='xenbr0'/></interface>"


def cdrom(media: str | None, bus: str = "xen", dev: str = "xvdc") -> str:
    src = f"<source file='{media}'/>" if media else ""
    return (f"<disk type='file' device='cdrom'>{src}<target dev='{dev}' bus='{bus}'/>"
            "<readonly/></disk>")


def disks(xml: str) -> dict[str, str | None]:
    """Target -> source file of each disk of a domain document."""
    root = etree.fromstring(xml.encode())
    return {str(d.find("target").get("dev")): (d.find("source").get("file")
                                                if d.find("source") is not None else None)
            for d in root.iterfind("devices/disk")}


def macs(xml: str) -> list[str]:
    root = etree.fromstring(xml.encode())
    return [str(m.get("address")) for m in root.iterfind("devices/interface/mac")]


def refused(code: ErrorCode, call: Callable[..., Any], *args: Any, **kw: Any) -> str:
    try:
        call(*args, **kw)
    except VirtError as e:
        assert e.code == code, (code, e.code, e.message)
        return e.message
    raise AssertionError(f"{call} did not refuse")


def devices(uri: str) -> tuple[list[tuple[str, str, str]], list[str]]:
    """The scenario, with the definitions checked after each step. Returns the device events
    seen (kind, domain, device) and the refusals' messages."""
    events: list[tuple[str, str, str]] = []
    said: list[str] = []
    conn = virtkit.open(uri)
    try:
        for kind in ("domain-device-added", "domain-device-removed"):
            conn.event_register(kind, lambda ev, k=kind: events.append(
                (k, ev.obj.name, ev.device)))
        dom = conn.define_xml(GUEST)
        # shut off: config only (neither flag: config), no xl command
        dom.attach_device(DATA)
        assert "xvdb" in disks(dom.xml_desc(inactive=True))
        said.append(refused(ErrorCode.OPERATION_FAILED, dom.attach_device, DATA, config=True))
        said.append(refused(ErrorCode.OPERATION_INVALID, dom.attach_device, SCRATCH,
                            live=True))
        for bad, code in (("<disk", ErrorCode.XML_ERROR),
                          ("<blender/>", ErrorCode.XML_ERROR),
                          ("<graphics type='vnc'/>", ErrorCode.CONFIG_UNSUPPORTED)):
            said.append(refused(code, dom.attach_device, bad, config=True))
        dom.create()
        # live only: xl block-attach, in the live definition only
        dom.attach_device(SCRATCH, live=True)
        assert "xvdd" in disks(dom.xml_desc())
        assert "xvdd" not in disks(dom.xml_desc(inactive=True))
        # live and config: xl network-attach, in both
        dom.attach_device(NIC, live=True, config=True)
        assert MAC in macs(dom.xml_desc()) and MAC in macs(dom.xml_desc(inactive=True))
        # xl refuses: nothing stored, no event
        said.append(refused(ErrorCode.OPERATION_FAILED, dom.attach_device, MISSING,
                            live=True, config=True))
        assert "xvde" not in disks(dom.xml_desc())
        assert "xvde" not in disks(dom.xml_desc(inactive=True))
        dom.detach_device(SCRATCH, live=True)
        assert "xvdd" not in disks(dom.xml_desc())
        said.append(refused(ErrorCode.DEVICE_MISSING, dom.detach_device, SCRATCH, live=True))
        # by alias, neither flag on a running guest: live only
        said.append(refused(ErrorCode.DEVICE_MISSING, dom.detach_device_alias, "ua-none"))
        dom.detach_device_alias("ua-data")
        assert "xvdb" not in disks(dom.xml_desc())
        assert "xvdb" in disks(dom.xml_desc(inactive=True))
        said.append(refused(ErrorCode.DEVICE_MISSING, dom.detach_device_alias, "ua-data",
                            live=True, config=True))
        dom.detach_device_alias("ua-data", config=True)
        assert "xvdb" not in disks(dom.xml_desc(inactive=True))
        dom.detach_device(NIC, live=True, config=True)
        assert MAC not in macs(dom.xml_desc()) and MAC not in macs(dom.xml_desc(inactive=True))
        # cdrom media of a PV guest: not live (libxl: HVM only), config only (no xl command)
        said.append(refused(ErrorCode.OPERATION_UNSUPPORTED, dom.update_device,
                            cdrom("/srv/two.iso"), live=True, config=True))
        assert disks(dom.xml_desc(inactive=True))["xvdc"] == "/srv/one.iso", "nothing changed"
        dom.update_device(cdrom("/srv/two.iso"), config=True)
        assert disks(dom.xml_desc())["xvdc"] == "/srv/one.iso"
        assert disks(dom.xml_desc(inactive=True))["xvdc"] == "/srv/two.iso"
        dom.update_device(cdrom("/srv/two.iso"), config=True)  # as it is: nothing to do
        # what cannot change in place
        said.append(refused(ErrorCode.OPERATION_UNSUPPORTED, dom.update_device,
                            "<disk type='file' device='disk'><source file='/srv/other.img'/>"
                            "<target dev='xvda' bus='xen'/></disk>"))
        said.append(refused(ErrorCode.OPERATION_UNSUPPORTED, dom.update_device,
                            cdrom("/srv/one.iso", bus="ide")))
        said.append(refused(ErrorCode.OPERATION_UNSUPPORTED, dom.update_device, NIC))
        said.append(refused(ErrorCode.DEVICE_MISSING, dom.update_device,
                            cdrom("/srv/two.iso", dev="xvdq")))
        dom.destroy()
        said.append(refused(ErrorCode.OPERATION_INVALID, dom.update_device,
                            cdrom("/srv/one.iso"), live=True))
        # a transient HVM guest: no configuration to change; its cdrom's media change live
        # (xl cd-insert), given as it is (no xl command), then ejected (xl cd-eject)
        hvm = conn.create_xml(HVM)
        said.append(refused(ErrorCode.OPERATION_INVALID, hvm.attach_device, SCRATCH,
                            config=True))
        said.append(refused(ErrorCode.OPERATION_INVALID, hvm.update_device,
                            cdrom("/srv/two.iso", "ide", "hdc"), config=True))
        hvm.update_device(cdrom("/srv/two.iso", "ide", "hdc"))
        assert disks(hvm.xml_desc())["hdc"] == "/srv/two.iso"
        hvm.update_device(cdrom("/srv/two.iso", "ide", "hdc"), live=True)
        hvm.update_device(cdrom(None, "ide", "hdc"))
        assert disks(hvm.xml_desc())["hdc"] is None
        hvm.destroy()
        # xl has no libvirt networks: an interface must name a bridge (nothing changes)
        said.append(refused(ErrorCode.CONFIG_UNSUPPORTED, dom.attach_device,
                            "<interface type='network'><mac address='00:16:3e:00:00:2b'/>"
                            "<source network='default'/></interface>", config=True))
        assert "00:16:3e:00:00:2b" not in macs(dom.xml_desc(inactive=True))
        dom.undefine()
        deadline = time.monotonic() + 10  # events come on the connection's own thread
        while len(events) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        conn.close()
    return events, said


#: the device events of the scenario: the live changes only, each device named by its alias,
#: else its target or MAC
EVENTS = [("domain-device-added", "vk-dev", "xvdd"),
          ("domain-device-added", "vk-dev", MAC),
          ("domain-device-removed", "vk-dev", "xvdd"),
          ("domain-device-removed", "vk-dev", "ua-data"),
          ("domain-device-removed", "vk-dev", MAC)]
