"""A vSphere VirtualMachine's configuration as domain XML, and domain XML as a vSphere ConfigSpec.

What maps where (the same choices as libvirt's esx driver where it has one):

- ``name`` = the VM's name; ``uuid`` = ``config.uuid`` (the BIOS uuid the guest sees, VMX
  ``uuid.bios``); ``description`` = ``config.annotation``;
- ``memory`` = ``hardware.memoryMB`` (whole MiB: other sizes are refused); ``currentMemory`` =
  ``memoryAllocation.limit`` (VMX ``sched.mem.max``), the same as ``memory`` when unlimited;
- ``vcpu`` = ``hardware.numCPU``; a ``current`` below the maximum runs ``current`` vCPUs with CPU
  hot-add enabled and keeps the maximum in ``extraConfig["virtkit.vcpu.max"]``;
- ``os/@firmware`` = ``config.firmware`` (bios or efi);
- disks: VirtualDisk and VirtualCdrom with datastore paths (``[datastore] dir/file.vmdk``) as
  ``<disk type='file'>``; a ``<disk type='volume'>`` names ``pool`` = datastore and ``volume`` =
  path; targets ``sdX`` (SCSI: controller = index / 15, unit = index % 15, skipping unit 7) and
  ``hdX`` (IDE: bus = index / 2, unit = index % 2);
- interfaces: VirtualEthernetCard on a port group as ``<interface type='bridge'>`` with the port
  group in ``source/@bridge`` (``type='network'`` is accepted the same way on input); models
  e1000, e1000e, vmxnet2, vmxnet3, vlance;
- serial ports: file, pipe (``type='pipe'``) and network (``type='tcp'``) backings.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.xml.common import MacAddress
from virtkit.xml.domain import (
    Chardev,
    ChardevSource,
    ChardevTarget,
    Devices,
    Disk,
    DiskSource,
    DiskTarget,
    Domain,
    Graphics,
    Interface,
    InterfaceSource,
    ModelType,
    Os,
    OsType,
    Vcpu,
)

DOMAIN_TYPE = "vmware"
TRANSIENT_KEY = "org.virtkit.transient"
VCPU_MAX_KEY = "virtkit.vcpu.max"
NIC_MODELS = ("e1000", "e1000e", "vmxnet", "vmxnet2", "vmxnet3", "vlance")
DATASTORE_PATH = re.compile(r"^\[([^\]]+)\] ?(.*)$")


def config_error(message: str) -> VirtError:
    return VirtError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: {message}",
                     ErrorDomain.ESX)


def extra_config(config: Any) -> dict[str, str]:
    """``config.extraConfig`` as a dict; a later entry of a key wins, an empty value is unset."""
    out: dict[str, str] = {}
    for opt in getattr(config, "extraConfig", None) or ():
        out[opt.key] = str(opt.value)
    return {k: v for k, v in out.items() if v != ""}


# -- targets ---------------------------------------------------------------------------------


def _letters(index: int) -> str:
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(ord("a") + rem) + out
    return out


def _index(letters: str) -> int:
    value = 0
    for ch in letters:
        value = value * 26 + (ord(ch) - ord("a") + 1)
    return value - 1


def scsi_target(controller: int, unit: int) -> str:
    return "sd" + _letters(controller * 15 + (unit - 1 if unit > 7 else unit))


def ide_target(bus: int, unit: int) -> str:
    return "hd" + _letters(bus * 2 + unit)


def target_slot(dev: str, bus: str | None) -> tuple[str, int, int]:
    """(controller kind, controller/bus number, unit) for a target name such as ``sdb``."""
    m = re.fullmatch(r"(sd|hd)([a-z]+)", dev)
    if not m:
        raise config_error(f"disk target '{dev}' (use sdX for SCSI or hdX for IDE)")
    index = _index(m.group(2))
    kind = bus or ("ide" if m.group(1) == "hd" else "scsi")
    if kind == "scsi" and m.group(1) == "sd":
        controller, unit = divmod(index, 15)
        if unit >= 7:
            unit += 1
        if controller > 3:
            raise config_error(f"disk target '{dev}': vSphere has 4 SCSI controllers")
        return "scsi", controller, unit
    if kind == "ide" and m.group(1) == "hd":
        bus_no, unit = divmod(index, 2)
        if bus_no > 1:
            raise config_error(f"disk target '{dev}': vSphere has 2 IDE buses")
        return "ide", bus_no, unit
    raise config_error(f"disk target '{dev}' with bus '{bus}' (use sdX/scsi or hdX/ide)")


# -- VirtualMachine -> Domain ----------------------------------------------------------------


def domain_from_vm(config: Any, name: str, active_id: int | None = None) -> Domain:
    """The domain model of a VM's ``config`` (a ``vim.vm.ConfigInfo``)."""
    from pyVmomi import vim

    hw = config.hardware
    memory = int(hw.memoryMB) * 1024
    limit = getattr(config.memoryAllocation, "limit", None) if config.memoryAllocation else None
    current = int(limit) * 1024 if limit is not None and 0 < int(limit) < hw.memoryMB else memory
    extra = extra_config(config)
    numcpu = int(hw.numCPU)
    vcpu_max = int(extra.get(VCPU_MAX_KEY, numcpu)) if extra.get(VCPU_MAX_KEY, "").isdigit() \
        else numcpu
    vcpu = Vcpu(count=max(vcpu_max, numcpu), current=numcpu if vcpu_max > numcpu else None)
    guest = config.guestId or ""
    arch = "x86_64" if "64" in guest else "i686"
    firmware = config.firmware if config.firmware in ("bios", "efi") else None
    controllers: dict[int, tuple[str, int]] = {}
    for dev in hw.device:
        if isinstance(dev, vim.vm.device.VirtualSCSIController):
            controllers[dev.key] = ("scsi", dev.busNumber)
        elif isinstance(dev, vim.vm.device.VirtualIDEController):
            controllers[dev.key] = ("ide", dev.busNumber)
        elif isinstance(dev, vim.vm.device.VirtualSATAController):
            controllers[dev.key] = ("sata", dev.busNumber)
    disks: list[Disk] = []
    nics: list[Interface] = []
    serials: list[Chardev] = []
    graphics = vnc_from_extra(extra)
    for dev in hw.device:
        if isinstance(dev, (vim.vm.device.VirtualDisk, vim.vm.device.VirtualCdrom)):
            kind, number = controllers.get(dev.controllerKey or 0, ("scsi", 0))
            unit = dev.unitNumber or 0
            if kind == "ide":
                target = DiskTarget(dev=ide_target(number, unit), bus="ide")
            else:
                target = DiskTarget(dev=scsi_target(number, unit), bus=kind)
            fname = getattr(dev.backing, "fileName", None) or None
            device = "disk" if isinstance(dev, vim.vm.device.VirtualDisk) else "cdrom"
            disks.append(Disk(type="file", device=device,
                              source=DiskSource(file=fname) if fname else None, target=target))
        elif isinstance(dev, vim.vm.device.VirtualEthernetCard):
            bridge = getattr(dev.backing, "deviceName", None) or None
            nics.append(Interface(
                type="bridge",
                mac=MacAddress(address=dev.macAddress) if dev.macAddress else None,
                source=InterfaceSource(bridge=bridge) if bridge else None,
                model=ModelType(type=_nic_model(dev)),
            ))
        elif isinstance(dev, vim.vm.device.VirtualSerialPort):
            serials.append(_serial(dev, len(serials)))
    return Domain(
        type=DOMAIN_TYPE,
        id=active_id,
        name=name,
        uuid=config.uuid,
        description=config.annotation or None,
        memory=memory,
        current_memory=current,
        vcpu=vcpu,
        os=Os(type=OsType(name="hvm", arch=arch), firmware=firmware),
        devices=Devices(disks=tuple(disks), interfaces=tuple(nics), serials=tuple(serials),
                        graphics=graphics)
        if disks or nics or serials or graphics else None,
    )


#: VNC on vSphere: the VMX keys libvirt's esx driver uses, in ``extraConfig``.
VNC_KEYS = ("RemoteDisplay.vnc.enabled", "RemoteDisplay.vnc.port", "RemoteDisplay.vnc.password",
            "RemoteDisplay.vnc.ip", "RemoteDisplay.vnc.keyMap")


def vnc_from_extra(extra: dict[str, str]) -> tuple[Graphics, ...]:
    """``<graphics type='vnc'>`` from the RemoteDisplay.vnc.* keys, when enabled."""
    if extra.get("RemoteDisplay.vnc.enabled", "").upper() != "TRUE":
        return ()
    port_text = extra.get("RemoteDisplay.vnc.port", "")
    port = int(port_text) if port_text.isdigit() else -1
    return (Graphics(type="vnc", port=port, autoport=port == -1,
                     listen=extra.get("RemoteDisplay.vnc.ip") or None,
                     passwd=extra.get("RemoteDisplay.vnc.password") or None,
                     keymap=extra.get("RemoteDisplay.vnc.keyMap") or None),)


def vnc_to_extra(graphics: tuple[Graphics, ...]) -> list[tuple[str, str]]:
    """The RemoteDisplay.vnc.* values for ``graphics`` (all emptied when there is none)."""
    if not graphics:
        return [(key, "") for key in VNC_KEYS]
    g = graphics[0]
    port = "" if g.port is None or g.port < 0 or g.autoport else str(g.port)
    return [("RemoteDisplay.vnc.enabled", "TRUE"), ("RemoteDisplay.vnc.port", port),
            ("RemoteDisplay.vnc.password", g.passwd or ""),
            ("RemoteDisplay.vnc.ip", g.listen or ""), ("RemoteDisplay.vnc.keyMap", g.keymap or "")]


def _nic_model(dev: Any) -> str:
    from pyVmomi import vim

    d = vim.vm.device
    for cls, model in ((d.VirtualVmxnet3, "vmxnet3"), (d.VirtualVmxnet2, "vmxnet2"),
                       (d.VirtualE1000e, "e1000e"), (d.VirtualE1000, "e1000"),
                       (d.VirtualPCNet32, "vlance"), (d.VirtualVmxnet, "vmxnet")):
        if isinstance(dev, cls):
            return model
    return "e1000"


def _serial(dev: Any, port: int) -> Chardev:
    from pyVmomi import vim

    b = dev.backing
    target = ChardevTarget(port=port)
    s = vim.vm.device.VirtualSerialPort
    if isinstance(b, s.FileBackingInfo):
        return Chardev(type="file", source=ChardevSource(path=b.fileName), target=target)
    if isinstance(b, s.PipeBackingInfo):
        return Chardev(type="pipe", source=ChardevSource(path=b.pipeName), target=target)
    if isinstance(b, s.URIBackingInfo):
        m = re.match(r"^(?:tcp|telnet)://([^:]*):(\d+)", b.serviceURI or "")
        mode = "bind" if b.direction == "server" else "connect"
        if m:
            return Chardev(type="tcp", source=ChardevSource(mode=mode, host=m.group(1) or None,
                                                            service=m.group(2)), target=target)
    return Chardev(type="null", target=target)


# -- Domain -> ConfigSpec --------------------------------------------------------------------


@attrs.frozen
class Plan:
    """What a domain document asks of vSphere: the ConfigSpec and the datastore it names."""

    spec: Any
    datastores: tuple[str, ...]


def check_domain(dom: Domain) -> None:
    """Refuse what vSphere cannot represent, naming it (CONFIG_UNSUPPORTED / XML_ERROR)."""
    if dom.type != DOMAIN_TYPE:
        raise config_error(f"domain type '{dom.type}' (the esx driver runs '{DOMAIN_TYPE}')")
    if dom.os.type.name != "hvm":
        raise config_error(f"os type '{dom.os.type.name}' (vSphere runs 'hvm' guests)")
    if dom.memory is None:
        raise VirtError(ErrorCode.XML_ERROR, f"domain '{dom.name}': missing <memory>",
                        ErrorDomain.ESX)
    if dom.memory % 1024 or (dom.current_memory or 1024) % 1024:
        raise config_error(f"domain '{dom.name}': memory must be whole MiB for vSphere")
    arch = dom.os.type.arch
    if arch not in (None, "x86_64", "i686"):
        raise config_error(f"architecture '{arch}' (vSphere runs x86_64 and i686)")
    devices = dom.devices
    if devices is None:
        return
    for field in attrs.fields(type(devices)):
        value = getattr(devices, field.name)
        if field.name in ("disks", "interfaces", "serials") or not value:
            continue
        if field.name == "graphics" and len(value) == 1 and value[0].type == "vnc":
            continue
        kind = {"memballoon": "memballoon", "emulator": "emulator"}.get(
            field.name, field.name.rstrip("s") if field.name != "graphics" else "graphics")
        raise config_error(f"domain '{dom.name}': <{kind}> devices (this driver maps disk, "
                           f"interface and serial to vSphere)")
    for serial in devices.serials:
        if serial.type not in ("file", "pipe", "tcp"):
            raise config_error(f"domain '{dom.name}': <serial type='{serial.type}'> (vSphere "
                               f"serial ports are file, pipe or tcp)")
    for nic in devices.interfaces:
        nic_network(nic)


def config_spec(dom: Domain, datastore: str, *, existing: Any = None) -> Plan:
    """The ConfigSpec that creates (``existing`` None) or reconfigures a VM to match ``dom``."""
    from pyVmomi import vim

    check_domain(dom)
    memory_mb = (dom.memory or 0) // 1024
    current_mb = (dom.current_memory or dom.memory or 0) // 1024
    vcpu = dom.vcpu or Vcpu(count=1)
    current_cpus = vcpu.current if vcpu.current is not None else vcpu.count
    spec = vim.vm.ConfigSpec(memoryMB=memory_mb, numCPUs=current_cpus)
    spec.memoryAllocation = vim.ResourceAllocationInfo(
        limit=current_mb if current_mb < memory_mb else -1
    )
    spec.annotation = dom.description or ""
    extra: list[Any] = [vim.option.OptionValue(
        key=VCPU_MAX_KEY, value=str(vcpu.count) if vcpu.count > current_cpus else "")]
    graphics = dom.devices.graphics if dom.devices is not None else ()
    extra += [vim.option.OptionValue(key=k, value=v) for k, v in vnc_to_extra(graphics)]
    spec.cpuHotAddEnabled = vcpu.count > current_cpus
    spec.extraConfig = extra
    if dom.os.firmware:
        spec.firmware = dom.os.firmware
    datastores: list[str] = []
    if existing is None:
        spec.name = dom.name
        if dom.uuid:
            spec.uuid = dom.uuid
        spec.guestId = "otherGuest64" if dom.os.type.arch != "i686" else "otherGuest"
        spec.files = vim.vm.FileInfo(vmPathName=f"[{datastore}]")
        datastores.append(datastore)
        spec.deviceChange = device_changes(dom.devices, None, datastores)
    else:
        spec.deviceChange = device_changes(dom.devices, existing, datastores)
    return Plan(spec, tuple(datastores))


def disk_path(disk: Disk) -> str | None:
    src = disk.source
    if src is None:
        return None
    if disk.type == "volume" and src.pool and src.volume:
        return f"[{src.pool}] {src.volume}"
    if disk.type == "file" and src.file:
        if not DATASTORE_PATH.match(src.file):
            raise config_error(
                f"disk '{disk.target.dev}': source '{src.file}' is not a datastore path "
                f"('[datastore] directory/file.vmdk')"
            )
        return src.file
    raise config_error(f"disk '{disk.target.dev}' of type '{disk.type}' (use file or volume)")


def nic_network(nic: Interface) -> str:
    src = nic.source
    name = None
    if nic.type == "bridge" and src is not None:
        name = src.bridge
    elif nic.type == "network" and src is not None:
        name = src.network
    if not name:
        raise config_error(
            f"interface of type '{nic.type}' (use type='bridge' with <source bridge='PORTGROUP'/>"
            f" or type='network' with <source network='PORTGROUP'/>)"
        )
    return name


def device_changes(devices: Devices | None, existing: Any, datastores: list[str]) -> list[Any]:
    """Device add/remove specs that make the VM's disks, NICs and serial ports match."""
    from pyVmomi import vim

    changes: list[Any] = []
    have: list[Any] = list(existing.config.hardware.device) if existing is not None else []
    want_disks = list(devices.disks) if devices else []
    want_nics = list(devices.interfaces) if devices else []
    Op = vim.vm.device.VirtualDeviceSpec.Operation
    # what exists and is still wanted stays; the rest goes
    have_disk_paths = {}
    have_macs = {}
    for dev in have:
        if isinstance(dev, (vim.vm.device.VirtualDisk, vim.vm.device.VirtualCdrom)):
            have_disk_paths[getattr(dev.backing, "fileName", None)] = dev
        elif isinstance(dev, vim.vm.device.VirtualEthernetCard):
            have_macs[(dev.macAddress or "").lower()] = dev
    wanted_paths = {disk_path(d) for d in want_disks}
    wanted_macs = {n.mac.address for n in want_nics if n.mac is not None}
    for path, dev in have_disk_paths.items():
        if path not in wanted_paths:
            changes.append(vim.vm.device.VirtualDeviceSpec(operation=Op.remove, device=dev))
    for mac, dev in have_macs.items():
        if mac not in wanted_macs:
            changes.append(vim.vm.device.VirtualDeviceSpec(operation=Op.remove, device=dev))
    controllers = _controllers(have)
    next_key = [-100]

    def key() -> int:
        next_key[0] -= 1
        return next_key[0]

    for disk in want_disks:
        path = disk_path(disk)
        if path in have_disk_paths:
            continue
        changes.extend(disk_add(disk, path, controllers, key, datastores))
    for nic in want_nics:
        if nic.mac is not None and nic.mac.address in have_macs:
            continue
        changes.append(nic_add(nic, key()))
    return changes


def _controllers(have: list[Any]) -> dict[tuple[str, int], int]:
    from pyVmomi import vim

    out: dict[tuple[str, int], int] = {}
    for dev in have:
        if isinstance(dev, vim.vm.device.VirtualSCSIController):
            out[("scsi", dev.busNumber)] = dev.key
        elif isinstance(dev, vim.vm.device.VirtualIDEController):
            out[("ide", dev.busNumber)] = dev.key
    return out


def disk_add(disk: Disk, path: str | None, controllers: dict[tuple[str, int], int],
             key: Any, datastores: list[str]) -> list[Any]:
    """Specs adding ``disk`` (and the SCSI controller it needs when missing)."""
    from pyVmomi import vim

    Op = vim.vm.device.VirtualDeviceSpec.Operation
    kind, number, unit = target_slot(disk.target.dev, disk.target.bus)
    out: list[Any] = []
    ckey = controllers.get((kind, number))
    if ckey is None:
        if kind == "ide":
            raise config_error(f"disk '{disk.target.dev}': no IDE bus {number} in this VM")
        ckey = key()
        ctrl = vim.vm.device.VirtualLsiLogicController(
            key=ckey, busNumber=number,
            sharedBus=vim.vm.device.VirtualSCSIController.Sharing.noSharing)
        out.append(vim.vm.device.VirtualDeviceSpec(operation=Op.add, device=ctrl))
        controllers[(kind, number)] = ckey
    if path is not None:
        m = DATASTORE_PATH.match(path)
        if m:
            datastores.append(m.group(1))
    if disk.device == "cdrom":
        backing: Any = (vim.vm.device.VirtualCdrom.IsoBackingInfo(fileName=path) if path
                        else vim.vm.device.VirtualCdrom.RemotePassthroughBackingInfo(
                            deviceName="", exclusive=False))
        dev: Any = vim.vm.device.VirtualCdrom(key=key(), controllerKey=ckey, unitNumber=unit,
                                              backing=backing)
    elif disk.device in (None, "disk"):
        if path is None:
            raise config_error(f"disk '{disk.target.dev}' without a source")
        backing = vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
            fileName=path, diskMode="persistent" if not disk.readonly else "independent_persistent")
        dev = vim.vm.device.VirtualDisk(key=key(), controllerKey=ckey, unitNumber=unit,
                                        backing=backing, capacityInKB=0)
    else:
        raise config_error(f"disk device '{disk.device}' (vSphere has disk and cdrom)")
    out.append(vim.vm.device.VirtualDeviceSpec(operation=Op.add, device=dev))
    return out


def nic_add(nic: Interface, key: int) -> Any:
    from pyVmomi import vim

    network = nic_network(nic)
    model = nic.model.type if nic.model is not None else "e1000"
    classes = {"e1000": vim.vm.device.VirtualE1000, "e1000e": vim.vm.device.VirtualE1000e,
               "vmxnet": vim.vm.device.VirtualVmxnet, "vmxnet2": vim.vm.device.VirtualVmxnet2,
               "vmxnet3": vim.vm.device.VirtualVmxnet3, "vlance": vim.vm.device.VirtualPCNet32}
    cls = classes.get(model)
    if cls is None:
        raise config_error(f"interface model '{model}' (vSphere has {', '.join(NIC_MODELS)})")
    card = cls(key=key, backing=vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(
        deviceName=network))
    if nic.mac is not None:
        card.addressType = "manual"
        card.macAddress = nic.mac.address
    else:
        card.addressType = "generated"
    return vim.vm.device.VirtualDeviceSpec(
        operation=vim.vm.device.VirtualDeviceSpec.Operation.add, device=card)
