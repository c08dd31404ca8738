"""Attaching and detaching disks and NICs (live on a powered-on VM: vSphere hot-adds them)."""

from __future__ import annotations

from typing import Any

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef, Event
from virtkit.sdk.states import affected
from virtkit.xml.device import parse_device
from virtkit_vmware.domxml import _controllers, disk_add, disk_path, nic_add


def _device(xml: str) -> Any:
    """The Disk or Interface model of a device document."""
    return parse_device(xml, ("disk", "interface"), driver="vSphere",
                        domain=ErrorDomain.ESX)[1]


class DeviceHooks:
    """Mixed into the driver."""

    def _check_flags(self: Any, known: Any, live: bool, config: bool) -> None:
        """Live on a stopped VM, or config on a transient one, is refused (vSphere keeps one
        configuration: with neither flag, a device joins the VM, hot-added when it runs)."""
        affected(known.name, known.status.active, known.status.persistent, live, config)

    @hookimpl
    def virtkit_domain_attach_device(self: Any, dom: DomainRef, xml: str, live: bool,
                                     config: bool) -> bool:
        from pyVmomi import vim

        from virtkit.xml.domain import Disk

        moid, known = self._current(dom)
        self._check_flags(known, live, config)
        device = _device(xml)
        have = list(self._vm_props(known, ["config.hardware.device"])
                    .get("config.hardware.device") or [])
        keys = iter(range(-200, -400, -1))
        if isinstance(device, Disk):
            path = disk_path(device)
            for dev in have:
                if getattr(getattr(dev, "backing", None), "fileName", None) == path and path:
                    raise VirtError(ErrorCode.OPERATION_FAILED,
                                    f"domain '{known.name}' already has disk '{path}'",
                                    ErrorDomain.ESX)
            changes = disk_add(device, path, _controllers(have), lambda: next(keys), [])
            name = device.target.dev
        else:
            mac = device.mac.address if device.mac is not None else None
            for dev in have:
                if mac and (getattr(dev, "macAddress", "") or "").lower() == mac:
                    raise VirtError(ErrorCode.OPERATION_FAILED,
                                    f"domain '{known.name}' already has an interface with MAC "
                                    f"'{mac}'", ErrorDomain.ESX)
            changes = [nic_add(device, next(keys))]
            name = mac or "interface"
        spec = vim.vm.ConfigSpec(deviceChange=changes)
        self._check_networks(spec)
        self._task(known, f"attach a device to '{known.name}'",
                   lambda: known.vm.ReconfigVM_Task(spec=spec))
        if known.status.active:
            self.emit(Event("domain-device-added", self._ref(moid, known), device=name))
        return True

    @hookimpl
    def virtkit_domain_detach_device(self: Any, dom: DomainRef, xml: str, live: bool,
                                     config: bool) -> bool:
        from pyVmomi import vim

        from virtkit.xml.domain import Disk
        from virtkit_vmware.domxml import domain_from_vm

        moid, known = self._current(dom)
        self._check_flags(known, live, config)
        device = _device(xml)
        cfg = self._vm_props(known, ["config"])["config"]
        current = domain_from_vm(cfg, known.name)
        target: Any = None
        if isinstance(device, Disk):
            want = device.target.dev
            have = current.devices.disks if current.devices is not None else ()
            if any(d.target.dev == want for d in have):
                index = [d.target.dev for d in have].index(want)
                disks = [d for d in cfg.hardware.device
                         if isinstance(d, (vim.vm.device.VirtualDisk, vim.vm.device.VirtualCdrom))]
                target = disks[index]
            name = want
        else:
            mac = device.mac.address if device.mac is not None else None
            for dev in cfg.hardware.device:
                if isinstance(dev, vim.vm.device.VirtualEthernetCard) and mac and \
                        (dev.macAddress or "").lower() == mac:
                    target = dev
            name = mac or "interface"
        if target is None:
            raise VirtError(ErrorCode.DEVICE_MISSING,
                            f"domain '{known.name}' has no device matching '{name}'",
                            ErrorDomain.ESX)
        spec = vim.vm.ConfigSpec(deviceChange=[vim.vm.device.VirtualDeviceSpec(
            operation=vim.vm.device.VirtualDeviceSpec.Operation.remove, device=target)])
        self._task(known, f"detach '{name}' from '{known.name}'",
                   lambda: known.vm.ReconfigVM_Task(spec=spec))
        if known.status.active:
            self.emit(Event("domain-device-removed", self._ref(moid, known), device=name))
        return True
