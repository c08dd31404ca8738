"""Devices and resources: disks (``storageattach``; SATA hot-plug while running), network
adapters and shared folders (while off), memory (``--memory``; the balloon live) and vcpus
(``--cpus``; CPU hot-plug live)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef, Event
from virtkit.sdk.states import affected
from virtkit.xml import device
from virtkit.xml.domain import Disk, Filesystem, Interface
from virtkit.xml.parser import xml_error
from virtkit_vbox import records
from virtkit_vbox.domxml import MAX_NICS, _attachment, _nic, _slot_of
from virtkit_vbox.model import CONTROLLER_NAMES, DEFAULT_PORTS, StorageController, mac_to_vbox
from virtkit_vbox.vboxmanage import (
    _DEFAULT_TYPE_PUBLIC,
    attach_args,
    detach_args,
    option,
    sharedfolder_args,
    storagectl_args,
)

if TYPE_CHECKING:
    from virtkit_vbox.driver import VBoxDriver
    from virtkit_vbox.model import Machine

DeviceModel = Disk | Interface | Filesystem


def _invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, message, ErrorDomain.VBOX)


def _unsupported(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_UNSUPPORTED, message, ErrorDomain.VBOX)


def parse_device(xml: str) -> DeviceModel:
    """The Disk, Interface or Filesystem model of a device document."""
    dev: DeviceModel = device.parse_device(xml, ("disk", "interface", "filesystem"),
                                           driver="vbox", domain=ErrorDomain.VBOX)[1]
    return dev


class DeviceMixin:
    def _flags(self: VBoxDriver, rec: records.MachineRecord, live: bool,
               config: bool) -> tuple[bool, bool]:
        return affected(rec.name, rec.status.active, rec.persistent, live, config,
                        ErrorDomain.VBOX)

    def _device_change(self: VBoxDriver, dom: DomainRef, xml: str, live: bool, config: bool,
                       attach: bool) -> bool:
        dev = parse_device(xml)
        with self._locked():
            rec, info = self._find(dom)
            live, config = self._flags(rec, live, config)
            if rec.status.active and config and not live:
                raise _unsupported(f"VirtualBox cannot change the settings of running domain "
                                   f"'{rec.name}' for its next boot only")
            if live and not config and rec.persistent:
                raise _unsupported(f"VirtualBox keeps hot-plugged devices in the settings of "
                                   f"domain '{rec.name}': attach with both live and config")
            m = self._machine(info)
            if isinstance(dev, Disk):
                self._disk_change(rec, m, dev, attach, live)
                label = dev.target.dev
            elif isinstance(dev, Interface):
                if live:
                    raise _unsupported(f"VirtualBox cannot add or remove network adapters of "
                                       f"running domain '{rec.name}'")
                self._nic_change(rec, m, dev, attach)
                label = dev.mac.address if dev.mac is not None else "interface"
            else:
                if live:
                    raise _unsupported(f"shared folders of running domain '{rec.name}' are "
                                       f"changed while it is off")
                self._folder_change(rec, m, dev, attach)
                label = dev.target.dir
            if live:
                self.emit(Event("domain-device-added" if attach else "domain-device-removed",
                                self._ref(rec), device=label))
            return True

    def _disk_change(self: VBoxDriver, rec: records.MachineRecord, m: Machine, disk: Disk,
                     attach: bool, live: bool) -> None:
        vbus, port, device = _slot_of(rec.name, disk)
        ctl = next((c for c in m.controllers if c.bus == vbus), None)
        used = ctl is not None and any(a.port == port and a.device == device
                                       for a in ctl.attachments)
        if not attach:
            if ctl is None or not used:
                raise VirtError(ErrorCode.DEVICE_MISSING,
                                f"domain '{rec.name}' has no disk '{disk.target.dev}'",
                                ErrorDomain.VBOX)
            if live and vbus != "sata":
                raise _unsupported(f"VirtualBox hot-plugs SATA disks only, not "
                                   f"'{disk.target.dev}' of domain '{rec.name}'")
            self._vbm.run(*detach_args(rec.uuid, ctl.name, port, device))
            return
        if used:
            raise VirtError(ErrorCode.OPERATION_FAILED,
                            f"domain '{rec.name}' already has a disk '{disk.target.dev}'",
                            ErrorDomain.VBOX)
        a = _attachment(rec.name, disk, port, device)
        if a.medium is not None:
            import os

            if not os.path.exists(a.medium):
                raise VirtError(ErrorCode.OPERATION_FAILED,
                                f"cannot attach '{a.medium}' to domain '{rec.name}': the image "
                                f"does not exist", ErrorDomain.VBOX)
        if live and vbus != "sata":
            raise _unsupported(f"VirtualBox hot-plugs SATA disks only, not "
                               f"'{disk.target.dev}' of domain '{rec.name}'")
        if ctl is None:
            if live:
                raise _unsupported(f"domain '{rec.name}' has no SATA controller to hot-plug "
                                   f"into")
            ctype = _DEFAULT_TYPE_PUBLIC[vbus]
            ctl = StorageController(CONTROLLER_NAMES[vbus], vbus, ctype, DEFAULT_PORTS[vbus])
            self._vbm.run(*storagectl_args(rec.uuid, ctl))
        elif port >= ctl.ports:
            if live:
                raise _unsupported(f"SATA port {port} of domain '{rec.name}' does not exist")
            self._vbm.run("storagectl", rec.uuid, "--name", ctl.name, "--portcount",
                          str(port + 1))
        self._vbm.run(*attach_args(rec.uuid, ctl.name, a, hotplug=live or vbus == "sata"))

    def _nic_change(self: VBoxDriver, rec: records.MachineRecord, m: Machine,
                    iface: Interface, attach: bool) -> None:
        if iface.mac is None:
            if attach:
                from virtkit.xml.common import MacAddress
                from virtkit.xml.domain import random_mac

                iface = attrs.evolve(iface, mac=MacAddress(address=random_mac()))
            else:
                raise xml_error("interface: detaching needs <mac address=...>")
        assert iface.mac is not None
        mac = mac_to_vbox(iface.mac.address)
        existing = next((n for n in m.nics if n.mac == mac), None)
        if not attach:
            if existing is None:
                raise VirtError(ErrorCode.DEVICE_MISSING,
                                f"domain '{rec.name}' has no interface with MAC "
                                f"{iface.mac.address}", ErrorDomain.VBOX)
            self._vbm.run("modifyvm", rec.uuid, f"--nic{existing.slot}", "none")
            return
        if existing is not None:
            raise VirtError(ErrorCode.OPERATION_FAILED,
                            f"domain '{rec.name}' already has an interface with MAC "
                            f"{iface.mac.address}", ErrorDomain.VBOX)
        free = next((s for s in range(1, MAX_NICS + 1) if all(n.slot != s for n in m.nics)),
                    None)
        if free is None:
            raise VirtError(ErrorCode.OPERATION_FAILED,
                            f"domain '{rec.name}' has all {MAX_NICS} network adapters in use",
                            ErrorDomain.VBOX)
        from virtkit_vbox.vboxmanage import _nic_args

        self._vbm.run("modifyvm", rec.uuid, *_nic_args(_nic(rec.name, free, iface),
                                                       self._vbm.major))

    def _folder_change(self: VBoxDriver, rec: records.MachineRecord, m: Machine,
                       fs: Filesystem, attach: bool) -> None:
        name = fs.target.dir
        existing = next((f for f in m.shared_folders if f.name == name), None)
        if not attach:
            if existing is None:
                raise VirtError(ErrorCode.DEVICE_MISSING,
                                f"domain '{rec.name}' has no shared folder '{name}'",
                                ErrorDomain.VBOX)
            self._vbm.run("sharedfolder", "remove", rec.uuid, "--name", name)
            self._set_extra(rec.uuid, f"virtkit/sf-readonly/{name}", None)
            return
        if existing is not None:
            raise VirtError(ErrorCode.OPERATION_FAILED,
                            f"domain '{rec.name}' already has a shared folder '{name}'",
                            ErrorDomain.VBOX)
        if fs.source is None or not fs.source.dir:
            raise xml_error(f"filesystem '{name}' needs <source dir=...>")
        from virtkit_vbox.model import SharedFolder

        folder = SharedFolder(name, fs.source.dir, not fs.readonly)
        self._vbm.run(*sharedfolder_args(rec.uuid, folder))
        if fs.readonly:
            self._set_extra(rec.uuid, f"virtkit/sf-readonly/{name}", "1")

    @hookimpl
    def virtkit_domain_attach_device(self: VBoxDriver, dom: DomainRef, xml: str, live: bool,
                                     config: bool) -> bool:
        return self._device_change(dom, xml, live, config, True)

    @hookimpl
    def virtkit_domain_detach_device(self: VBoxDriver, dom: DomainRef, xml: str, live: bool,
                                     config: bool) -> bool:
        return self._device_change(dom, xml, live, config, False)

    @hookimpl
    def virtkit_domain_update_device(self: VBoxDriver, dom: DomainRef, xml: str, live: bool,
                                     config: bool, force: bool) -> bool:
        dev = parse_device(xml)
        if not isinstance(dev, Disk) or dev.device not in ("cdrom", "floppy"):
            raise _unsupported("VirtualBox changes the medium of optical and floppy drives "
                               "only")
        with self._locked():
            rec, info = self._find(dom)
            self._flags(rec, live, config)
            m = self._machine(info)
            vbus, port, device = _slot_of(rec.name, dev)
            ctl = next((c for c in m.controllers if c.bus == vbus), None)
            if ctl is None or not any(a.port == port and a.device == device
                                      for a in ctl.attachments):
                raise VirtError(ErrorCode.DEVICE_MISSING,
                                f"domain '{rec.name}' has no drive '{dev.target.dev}'",
                                ErrorDomain.VBOX)
            a = _attachment(rec.name, dev, port, device)
            args = attach_args(rec.uuid, ctl.name, a)
            if force:
                args.append("--forceunmount")
            self._vbm.run(*args)
            return True

    # -- resources ----------------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_set_memory(self: VBoxDriver, dom: DomainRef, kib: int, live: bool,
                                  config: bool, maximum: bool) -> bool:
        with self._locked():
            rec, info = self._find(dom)
            live, config = self._flags(rec, live, config)
            m = self._machine(info)
            mib = -(-kib // 1024)
            if kib < 1:
                raise VirtError(ErrorCode.INVALID_ARG,
                                f"invalid argument: memory size {kib} KiB for domain "
                                f"'{rec.name}' must be at least 1 KiB", ErrorDomain.VBOX)
            if maximum:
                if live:
                    raise _invalid(f"cannot resize the maximum memory of running domain "
                                   f"'{rec.name}'")
                current = m.memory_mib - m.balloon_mib
                balloon = max(0, mib - min(current, mib))
                self._vbm.run("modifyvm", rec.uuid, "--memory", str(mib),
                              option("--guestmemoryballoon", self._vbm.major), str(balloon))
                return True
            if mib > m.memory_mib:
                raise VirtError(ErrorCode.INVALID_ARG,
                                f"invalid argument: cannot set memory of domain '{rec.name}' "
                                f"above its maximum of {m.memory_mib * 1024} KiB",
                                ErrorDomain.VBOX)
            balloon = m.memory_mib - mib
            if live:
                self._vbm.run("controlvm", rec.uuid, "guestmemoryballoon", str(balloon))
            elif config:
                if rec.status.active:
                    raise _unsupported(f"VirtualBox cannot change the settings of running "
                                       f"domain '{rec.name}'")
                self._vbm.run("modifyvm", rec.uuid,
                              option("--guestmemoryballoon", self._vbm.major), str(balloon))
            return True

    @hookimpl
    def virtkit_domain_set_vcpus(self: VBoxDriver, dom: DomainRef, count: int, live: bool,
                                 config: bool, maximum: bool) -> bool:
        with self._locked():
            rec, info = self._find(dom)
            live, config = self._flags(rec, live, config)
            m = self._machine(info)
            if count < 1:
                raise VirtError(ErrorCode.INVALID_ARG,
                                f"invalid argument: vcpu count {count} for domain "
                                f"'{rec.name}' must be at least 1", ErrorDomain.VBOX)
            if maximum:
                if live:
                    raise _invalid(f"cannot change the maximum vcpus of running domain "
                                   f"'{rec.name}'")
                new = attrs.evolve(m, cpus=count, cpus_current=None if (
                    m.cpus_current is None or m.cpus_current >= count) else m.cpus_current)
                from virtkit_vbox.vboxmanage import modifyvm_args

                self._vbm.run("modifyvm", rec.uuid, *modifyvm_args(new, self._vbm.major, m))
                self._write_extradata(new, m)
                return True
            if count > m.cpus:
                raise VirtError(ErrorCode.INVALID_ARG,
                                f"invalid argument: vcpu count {count} of domain '{rec.name}' "
                                f"is above its maximum {m.cpus}", ErrorDomain.VBOX)
            if live:
                if m.cpus_current is None and count != m.cpus and rec.live_vcpus is None:
                    raise _unsupported(f"domain '{rec.name}' was started without CPU "
                                       f"hot-plug (define it with <vcpu current=...>)")
                now = rec.live_vcpus or m.cpus_current or m.cpus
                for cpu in range(now, count):
                    self._vbm.run("controlvm", rec.uuid, "plugcpu", str(cpu))
                for cpu in range(now - 1, count - 1, -1):
                    self._vbm.run("controlvm", rec.uuid, "unplugcpu", str(cpu))
                rec = records.load(self._store, rec.uuid) or rec
                rec.live_vcpus = count
                records.save(self._store, rec)
            if config:
                if rec.status.active:
                    raise _unsupported(f"VirtualBox cannot change the settings of running "
                                       f"domain '{rec.name}'")
                new = attrs.evolve(m, cpus_current=None if count == m.cpus else count)
                from virtkit_vbox.vboxmanage import modifyvm_args

                self._vbm.run("modifyvm", rec.uuid, *modifyvm_args(new, self._vbm.major, m))
                self._write_extradata(new, m)
            return True

    @hookimpl
    def virtkit_domain_get_vcpus_count(self: VBoxDriver, dom: DomainRef, live: bool,
                                       config: bool, maximum: bool) -> int:
        with self._locked():
            rec, info = self._find(dom)
            if live and not rec.status.active:
                raise _invalid(f"domain '{rec.name}' is not running")
            m = self._machine(info)
            if maximum:
                return m.cpus
            if (live or (not config and rec.status.active)) and rec.live_vcpus is not None:
                return rec.live_vcpus
            return m.cpus_current or m.cpus
