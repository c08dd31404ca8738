"""Host devices of the test driver, in memory: a small plausible tree, as libvirt's test host has.

``computer`` is the root; ``pci_0000_00_02_0`` is a graphics card that offers mediated device
types (so mdevs can be created and defined on it) and can be detached for passthrough;
``pci_0000_00_1f_2`` a SATA controller; ``scsi_host1`` and ``scsi_host2`` are Fibre Channel HBAs
with NPIV (``vports``), so vHBAs can be created on them; ``scsi_host0`` a plain SCSI host.
Every connection to the same test node sees the same devices.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

import attrs
from lxml import etree

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import Event, NodeDeviceRef, NodeDeviceSummary
from virtkit.xml.nodedev import device_xml, parse_device

if TYPE_CHECKING:
    from virtkit.drivers.test.node import TestNode

CREATED, DELETED, DEFINED, UNDEFINED = 0, 1, 2, 3
MDEV_TYPES = ("i915-GVTg_V5_4", "i915-GVTg_V5_8")
STUB_DRIVERS = {"vfio": "vfio-pci", "xen": "pciback"}
KNOWN_CAPS = frozenset({
    "system", "pci", "usb_device", "usb", "net", "scsi_host", "scsi_target", "scsi", "storage",
    "fc_host", "vports", "scsi_generic", "drm", "mdev_types", "mdev", "ccw", "css", "vdpa",
    "ap_card", "ap_queue", "ap_matrix", "vpd",
})


@attrs.define
class HostDevice:
    """One device: ``caps_xml`` its ``<capability>`` elements as text."""

    name: str
    parent: str
    caps_xml: list[str]
    driver: str = ""
    host_driver: str = ""  # the driver a detached PCI device goes back to
    path: str = ""
    kind: str = "host"  # host, mdev, vhba
    active: bool = True
    persistent: bool = False
    wwnn: str = ""
    wwpn: str = ""
    autostart: bool = False

    def cap_elements(self) -> list[etree._Element]:
        return [etree.fromstring(x) for x in self.caps_xml]

    def caps(self) -> list[str]:
        out: list[str] = []
        for el in self.cap_elements():
            for cap in el.iter("capability"):
                t = cap.get("type", "")
                t = "vports" if t == "vport_ops" else t
                if t not in out:
                    out.append(t)
        return out

    def summary(self) -> NodeDeviceSummary:
        return NodeDeviceSummary(NodeDeviceRef(self.name), self.parent, self.caps(), self.active,
                                 self.persistent, self.driver, self.autostart)


def _hba(n: int, wwnn: str, wwpn: str, vports: int = 0, max_vports: int = 127) -> HostDevice:
    return HostDevice(
        f"scsi_host{n}", "pci_0000_00_1f_2",
        [f"<capability type='scsi_host'><host>{n}</host><unique_id>{n}</unique_id>"
         f"<capability type='fc_host'><wwnn>{wwnn}</wwnn><wwpn>{wwpn}</wwpn>"
         f"<fabric_wwn>2000000012341234</fabric_wwn></capability>"
         f"<capability type='vport_ops'><max_vports>{max_vports}</max_vports>"
         f"<vports>{vports}</vports></capability></capability>"],
        wwnn=wwnn, wwpn=wwpn,
    )


def default_devices() -> dict[str, HostDevice]:
    mdev_types = "".join(
        f"<type id='{t}'><name>GVTg_V5_{t[-1]}</name><deviceAPI>vfio-pci</deviceAPI>"
        f"<availableInstances>{2 if t.endswith('8') else 1}</availableInstances></type>"
        for t in MDEV_TYPES)
    devs = [
        HostDevice("computer", "", [
            "<capability type='system'><hardware><vendor>Libvirt</vendor>"
            "<version>Test driver</version><serial>123456</serial>"
            "<uuid>11111111-2222-3333-4444-555555555555</uuid></hardware>"
            "<firmware><vendor>Libvirt</vendor><version>Test Driver</version>"
            "<release_date>01/22/2007</release_date></firmware></capability>"]),
        HostDevice("pci_0000_00_02_0", "computer", [
            "<capability type='pci'><class>0x030000</class><domain>0</domain><bus>0</bus>"
            "<slot>2</slot><function>0</function>"
            "<product id='0x5916'>HD Graphics 620</product>"
            "<vendor id='0x8086'>Intel Corporation</vendor>"
            f"<capability type='mdev_types'>{mdev_types}</capability>"
            "<iommuGroup number='1'><address domain='0x0000' bus='0x00' slot='0x02' "
            "function='0x0'/></iommuGroup></capability>"],
            driver="i915", host_driver="i915", path="/sys/devices/pci0000:00/0000:00:02.0"),
        HostDevice("pci_0000_00_1f_2", "computer", [
            "<capability type='pci'><class>0x010601</class><domain>0</domain><bus>0</bus>"
            "<slot>31</slot><function>2</function>"
            "<product id='0x9d03'>Sunrise Point-LP SATA Controller [AHCI mode]</product>"
            "<vendor id='0x8086'>Intel Corporation</vendor>"
            "<iommuGroup number='7'><address domain='0x0000' bus='0x00' slot='0x1f' "
            "function='0x2'/></iommuGroup></capability>"],
            driver="ahci", host_driver="ahci", path="/sys/devices/pci0000:00/0000:00:1f.2"),
        HostDevice("scsi_host0", "pci_0000_00_1f_2", [
            "<capability type='scsi_host'><host>0</host><unique_id>0</unique_id></capability>"]),
        _hba(1, "2000000012341234", "1000000012341234"),
        _hba(2, "2000000056785678", "1000000056785678"),
    ]
    return {d.name: d for d in devs}


@attrs.define
class DeviceTable:
    devices: dict[str, HostDevice] = attrs.field(factory=default_devices)
    lock: threading.RLock = attrs.field(factory=threading.RLock)


_TABLES: weakref.WeakKeyDictionary[TestNode, DeviceTable] = weakref.WeakKeyDictionary()
_TABLES_LOCK = threading.Lock()


def _no_device(name: str) -> VirtError:
    return VirtError(ErrorCode.NO_NODE_DEVICE,
                     f"Node device not found: no node device with matching name '{name}'",
                     ErrorDomain.NODEDEV)


def _invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, message, ErrorDomain.NODEDEV)


def _failed(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_FAILED, message, ErrorDomain.NODEDEV)


class NodeDeviceMixin:
    """Node-device hooks of :class:`~virtkit.drivers.test.driver.TestDriver`."""

    if TYPE_CHECKING:

        @property
        def _node(self) -> TestNode: ...

    @property
    def _devices(self) -> DeviceTable:
        node = self._node
        with _TABLES_LOCK:
            table = _TABLES.get(node)
            if table is None:
                table = _TABLES[node] = DeviceTable()
            return table

    def _device(self, name: str) -> HostDevice:
        found = self._devices.devices.get(name)
        if found is None:
            raise _no_device(name)
        return found

    def _emit(self, dev: HostDevice, event: int) -> None:
        self._node.emit(Event("nodedev-lifecycle", NodeDeviceRef(dev.name), event, 0))

    @hookimpl
    def virtkit_nodedev_list(self, caps: list[str]) -> list[NodeDeviceSummary]:
        unknown = sorted(set(caps) - KNOWN_CAPS)
        if unknown:
            raise VirtError(ErrorCode.INVALID_ARG,
                            f"unknown node device capability type(s): {', '.join(unknown)}",
                            ErrorDomain.NODEDEV)
        with self._devices.lock:
            out = [d.summary() for _, d in sorted(self._devices.devices.items())]
        return [s for s in out if not caps or set(caps) & set(s.caps)]

    @hookimpl
    def virtkit_nodedev_lookup_by_name(self, name: str) -> NodeDeviceRef:
        return NodeDeviceRef(self._device(name).name)

    @hookimpl
    def virtkit_nodedev_lookup_scsi_host_by_wwn(self, wwnn: str, wwpn: str) -> NodeDeviceRef:
        nn, pn = wwnn.lower().removeprefix("0x"), wwpn.lower().removeprefix("0x")
        with self._devices.lock:
            for dev in self._devices.devices.values():
                if dev.wwnn and (dev.wwnn, dev.wwpn) == (nn, pn) and dev.active:
                    return NodeDeviceRef(dev.name)
        raise VirtError(ErrorCode.NO_NODE_DEVICE,
                        f"Node device not found: no node device with matching wwnn '{wwnn}' "
                        f"and wwpn '{wwpn}'", ErrorDomain.NODEDEV)

    @hookimpl
    def virtkit_nodedev_get_summary(self, dev: NodeDeviceRef) -> NodeDeviceSummary:
        return self._device(dev.name).summary()

    @hookimpl
    def virtkit_nodedev_get_xml(self, dev: NodeDeviceRef) -> str:
        d = self._device(dev.name)
        return device_xml(d.name, d.parent, d.cap_elements(), path=d.path,
                          driver=d.driver if d.active else "")

    # -- created and defined devices ----------------------------------------------------------

    def _new_device(self, xml: str, define: bool) -> tuple[HostDevice, bool]:
        """The device a create/define request makes (not yet stored), and whether it is new."""
        req = parse_device(xml)
        devices = self._devices.devices
        if req.kind == "mdev":
            parent = self._device(req.parent) if req.parent else None
            if parent is None:
                raise VirtError(ErrorCode.INVALID_ARG, "an mdev needs a <parent>",
                                ErrorDomain.NODEDEV)
            if "mdev_types" not in parent.caps():
                raise VirtError(ErrorCode.INVALID_ARG,
                                f"node device '{parent.name}' offers no mediated device types",
                                ErrorDomain.NODEDEV)
            if req.mdev_type not in MDEV_TYPES:
                raise VirtError(ErrorCode.INVALID_ARG,
                                f"node device '{parent.name}' has no mdev type "
                                f"'{req.mdev_type}'", ErrorDomain.NODEDEV)
            addr = parent.name.removeprefix("pci_")
            name = f"mdev_{req.uuid.replace('-', '_')}_{addr}"
            old = devices.get(name)
            if old is not None and not define:
                raise _failed(f"an mdev with uuid '{req.uuid}' already exists")
            cap = (f"<capability type='mdev'><type id='{req.mdev_type}'/>"
                   f"<uuid>{req.uuid}</uuid><iommuGroup number='{20 + len(devices)}'/>"
                   f"</capability>")
            dev = HostDevice(name, parent.name, [cap], driver="vfio_mdev", kind="mdev",
                             path=f"/sys/devices/pci0000:00/{addr}/{req.uuid}")
            if old is not None:
                dev.active, dev.persistent = old.active, old.persistent
                dev.autostart = old.autostart
            return dev, old is None
        if define:
            raise VirtError(ErrorCode.OPERATION_UNSUPPORTED,
                            "only mediated devices can be defined; create a vHBA instead",
                            ErrorDomain.NODEDEV)
        hbas = [d for d in devices.values() if "vports" in d.caps() and d.kind == "host"]
        if req.parent:
            parent = self._device(req.parent)
            if parent not in hbas:
                raise VirtError(ErrorCode.INVALID_ARG,
                                f"node device '{parent.name}' is not an NPIV-capable HBA",
                                ErrorDomain.NODEDEV)
        elif hbas:
            parent = hbas[0]
        else:
            raise _failed("no NPIV-capable HBA on this host")
        wwnn, wwpn = req.wwnn, req.wwpn
        if not wwnn:
            serial = 0x10 + len(devices)
            wwnn, wwpn = f"5001a4a{serial:09x}", f"5001a4b{serial:09x}"
        if any((d.wwnn, d.wwpn) == (wwnn, wwpn) for d in devices.values()):
            raise _failed(f"a SCSI host with wwnn '{wwnn}' and wwpn '{wwpn}' already exists")
        number = 1 + max(int(n.removeprefix("scsi_host")) for n in devices
                         if n.startswith("scsi_host"))
        dev = HostDevice(
            f"scsi_host{number}", parent.name,
            [f"<capability type='scsi_host'><host>{number}</host><unique_id>{number}"
             f"</unique_id><capability type='fc_host'><wwnn>{wwnn}</wwnn><wwpn>{wwpn}</wwpn>"
             f"<fabric_wwn>2000000012341234</fabric_wwn></capability></capability>"],
            kind="vhba", wwnn=wwnn, wwpn=wwpn)
        return dev, True

    @hookimpl
    def virtkit_nodedev_create_xml(self, xml: str) -> NodeDeviceRef:
        with self._devices.lock:
            dev, _ = self._new_device(xml, define=False)
            self._devices.devices[dev.name] = dev
            self._vports(dev, +1)
        self._emit(dev, CREATED)
        return NodeDeviceRef(dev.name)

    @hookimpl
    def virtkit_nodedev_define_xml(self, xml: str) -> NodeDeviceRef:
        with self._devices.lock:
            dev, new = self._new_device(xml, define=True)
            if new:
                dev.active = False
            dev.persistent = True
            self._devices.devices[dev.name] = dev
        self._emit(dev, DEFINED)
        return NodeDeviceRef(dev.name)

    def _vports(self, dev: HostDevice, delta: int) -> None:
        """Count a vHBA in its HBA's ``<vports>`` (caller holds the lock)."""
        if dev.kind != "vhba":
            return
        parent = self._devices.devices[dev.parent]
        el = parent.cap_elements()[0]
        ops = el.find("capability[@type='vport_ops']")
        assert ops is not None
        count = int(ops.findtext("vports") or 0) + delta
        limit = int(ops.findtext("max_vports") or 0)
        if count > limit:
            del self._devices.devices[dev.name]
            raise _failed(f"HBA '{parent.name}' has no free vport (max {limit})")
        vports = ops.find("vports")
        assert vports is not None
        vports.text = str(count)
        parent.caps_xml = [etree.tostring(el, encoding="unicode")]

    @hookimpl
    def virtkit_nodedev_create(self, dev: NodeDeviceRef) -> bool:
        with self._devices.lock:
            d = self._device(dev.name)
            if d.active:
                raise _invalid(f"node device '{d.name}' is already active")
            d.active = True
        self._emit(d, CREATED)
        return True

    @hookimpl
    def virtkit_nodedev_destroy(self, dev: NodeDeviceRef) -> bool:
        with self._devices.lock:
            d = self._device(dev.name)
            if d.kind == "host":
                raise _invalid(f"node device '{d.name}' belongs to the host and cannot be "
                               f"destroyed")
            if not d.active:
                raise _invalid(f"node device '{d.name}' is not active")
            d.active = False
            if not d.persistent:
                del self._devices.devices[d.name]
                self._vports(d, -1)
        self._emit(d, DELETED)
        return True

    @hookimpl
    def virtkit_nodedev_undefine(self, dev: NodeDeviceRef) -> bool:
        with self._devices.lock:
            d = self._device(dev.name)
            if not d.persistent:
                raise _invalid(f"node device '{d.name}' is not defined")
            d.persistent = d.autostart = False
            if not d.active:
                del self._devices.devices[d.name]
        self._emit(d, UNDEFINED)
        return True

    @hookimpl
    def virtkit_nodedev_get_autostart(self, dev: NodeDeviceRef) -> bool:
        with self._devices.lock:
            return self._device(dev.name).autostart

    @hookimpl
    def virtkit_nodedev_set_autostart(self, dev: NodeDeviceRef, autostart: bool) -> bool:
        with self._devices.lock:
            d = self._device(dev.name)
            if not d.persistent:
                raise _invalid(f"cannot set autostart for transient node device '{d.name}'")
            d.autostart = autostart
        return True

    # -- PCI passthrough ----------------------------------------------------------------------

    def _pci(self, name: str) -> HostDevice:
        d = self._device(name)
        if "pci" not in d.caps() or d.kind != "host":
            raise _invalid(f"node device '{d.name}' is not a PCI device")
        return d

    def _update(self, d: HostDevice) -> None:
        self._node.emit(Event("nodedev-update", NodeDeviceRef(d.name)))

    @hookimpl
    def virtkit_nodedev_detach(self, dev: NodeDeviceRef, driver_name: str | None) -> bool:
        stub = STUB_DRIVERS.get(driver_name or "vfio")
        if stub is None:
            raise VirtError(ErrorCode.INVALID_ARG,
                            f"unknown PCI stub driver '{driver_name}' (vfio or xen)",
                            ErrorDomain.NODEDEV)
        with self._devices.lock:
            d = self._pci(dev.name)
            changed = d.driver != stub
            d.driver = stub
        if changed:
            self._update(d)
        return True

    @hookimpl
    def virtkit_nodedev_reattach(self, dev: NodeDeviceRef) -> bool:
        with self._devices.lock:
            d = self._pci(dev.name)
            changed = d.driver != d.host_driver
            d.driver = d.host_driver
        if changed:
            self._update(d)
        return True

    @hookimpl
    def virtkit_nodedev_reset(self, dev: NodeDeviceRef) -> bool:
        with self._devices.lock:
            d = self._pci(dev.name)
            if d.driver == d.host_driver:
                raise _invalid(f"node device '{d.name}' is bound to its host driver "
                               f"'{d.driver}': detach it before a reset")
        return True
