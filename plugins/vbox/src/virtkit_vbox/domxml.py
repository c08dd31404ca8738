"""Domain XML <-> :class:`~virtkit_vbox.model.Machine`, both ways.

What maps to what (VirtualBox has no field for the rest, which is refused or reported):

- ``<memory>`` is the machine's RAM (rounded up to whole MiB); ``<currentMemory>`` is RAM less the
  configured memory balloon (``--guestmemoryballoon``).
- ``<vcpu current=N>M</vcpu>``: M CPUs; N < M turns CPU hot-plug on with N CPUs plugged.
- ``<os firmware='efi'>`` (or a pflash loader): EFI firmware; otherwise BIOS.
- ``<os><boot dev=.../>``: the four boot slots (hd->disk, cdrom->dvd, fd->floppy, network->net).
- ``<disk>``: a drive on the controller of its bus. Target names give the slot: ``hdX`` on IDE
  (port = index / 2, device = index % 2), ``sdX`` on SATA/SCSI (port = index), ``vdX`` on the
  VirtIO SCSI controller (port = index), ``fdX`` on the floppy controller. ``device`` disk /
  cdrom / floppy -> hdd / dvddrive / fdd; the image format (VDI, VMDK, VHD) follows the file.
- ``<controller type='ide|sata|scsi|fdc' model=...>``: the controller type (PIIX3/PIIX4/ICH6,
  AHCI, LsiLogic/BusLogic/LsiLogicSas, VirtioSCSI as ``scsi`` model ``virtio-scsi``).
- ``<interface>``: ``user`` -> NAT, ``bridge`` -> bridged to ``source bridge``, ``network`` ->
  host-only adapter named by ``source network``, ``network`` with ``portgroup='internal'`` ->
  the internal network of that name; ``<mac>``, ``<model type>`` (VirtualBox's adapter names:
  82540EM, virtio...), ``<link state='down'>`` (cable disconnected).
- ``<graphics type='rdp'>`` / ``<graphics type='vnc'>``: the VRDE server (VNC through the VNC
  extension pack) with its port and listen address.
- ``<serial>``: ``file`` -> raw file, ``tcp`` bind/connect -> TCP server/client, ``unix`` and
  ``pipe`` -> host pipe (server for bind), ``dev`` -> host device, ``null`` -> disconnected;
  ``<target port=N>`` is COM N+1.
- ``<filesystem type='mount'>``: a shared folder named by ``<target dir>``, writable unless
  ``<readonly/>``.
- ``<description>``, ``<features><acpi/><pae/><apic/>`` (ACPI is always on: every VirtualBox
  machine has it, and ACPI shutdown needs it).
"""

from __future__ import annotations

import logging

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.xml.common import MacAddress
from virtkit.xml.domain import (
    Apic,
    BootDev,
    ChardevSource,
    ChardevTarget,
    Controller,
    Devices,
    Disk,
    DiskDriver,
    DiskSource,
    DiskTarget,
    Domain,
    Features,
    Filesystem,
    FsSource,
    FsTarget,
    Graphics,
    Input,
    Interface,
    InterfaceSource,
    LinkState,
    ModelType,
    Os,
    OsType,
    Serial,
    Vcpu,
)
from virtkit_vbox.model import (
    COM_PORTS,
    CONTROLLER_NAMES,
    DEFAULT_PORTS,
    NIC_TYPES,
    Attachment,
    Machine,
    Nic,
    SerialPort,
    SharedFolder,
    StorageController,
    Vrde,
    format_of,
    mac_from_vbox,
    mac_to_vbox,
)

__all__ = ["domain_from_machine", "machine_from_domain", "unsupported"]

log = logging.getLogger("virtkit_vbox")

MAX_NICS = 8  # VirtualBox's ICH9 chipset maximum (PIIX3: 8 as well on 6.1/7.x)

_BOOT_TO_VBOX = {"hd": "disk", "cdrom": "dvd", "fd": "floppy", "network": "net"}
_BOOT_FROM_VBOX = {v: k for k, v in _BOOT_TO_VBOX.items()}
_DEVICE_TO_VBOX = {"disk": "hdd", "cdrom": "dvddrive", "floppy": "fdd", None: "hdd"}
_DEVICE_FROM_VBOX = {"hdd": "disk", "dvddrive": "cdrom", "fdd": "floppy"}
_BUS_PREFIX = {"ide": "hd", "sata": "sd", "scsi": "sd", "sas": "sd", "virtio": "vd",
               "floppy": "fd", "usb": "sd", "pcie": "nvme"}
_DISK_BUS_TO_VBOX = {"ide": "ide", "sata": "sata", "scsi": "scsi", "virtio": "virtio",
                     "fdc": "floppy", "usb": "usb"}
_DISK_BUS_FROM_VBOX = {"ide": "ide", "sata": "sata", "scsi": "scsi", "sas": "scsi",
                       "virtio": "virtio", "floppy": "fdc", "usb": "usb", "pcie": "sata"}
#: <controller type model> -> VirtualBox controller type
_CONTROLLER_MODELS = {
    ("ide", "piix3"): "PIIX3", ("ide", "piix4"): "PIIX4", ("ide", "ich6"): "ICH6",
    ("sata", "ahci"): "IntelAhci", ("scsi", "lsilogic"): "LsiLogic",
    ("scsi", "buslogic"): "BusLogic", ("scsi", "lsisas1068"): "LsiLogicSas",
    ("scsi", "virtio-scsi"): "VirtioSCSI", ("fdc", None): "I82078",
}
_CONTROLLER_XML = {
    "PIIX3": ("ide", "piix3"), "PIIX4": ("ide", "piix4"), "ICH6": ("ide", "ich6"),
    "IntelAhci": ("sata", "ahci"), "LsiLogic": ("scsi", "lsilogic"),
    "BusLogic": ("scsi", "buslogic"), "LsiLogicSas": ("scsi", "lsisas1068"),
    "VirtioSCSI": ("scsi", "virtio-scsi"), "I82078": ("fdc", None), "USB": ("usb", None),
    "NVMe": ("nvme", None),
}
_DEFAULT_TYPE = {"ide": "PIIX4", "sata": "IntelAhci", "scsi": "LsiLogic", "virtio": "VirtioSCSI",
                 "floppy": "I82078", "usb": "USB"}
_VBOX_BUS = {"PIIX3": "ide", "PIIX4": "ide", "ICH6": "ide", "IntelAhci": "sata",
             "LsiLogic": "scsi", "BusLogic": "scsi", "LsiLogicSas": "sas", "VirtioSCSI": "virtio",
             "I82078": "floppy", "USB": "usb", "NVMe": "pcie"}
#: <controller type='usb' model=...> -> VirtualBox's USB controller
_USB_MODELS = {None: "ohci", "pci-ohci": "ohci", "piix3-uhci": "ohci", "ehci": "ehci",
               "ich9-ehci1": "ehci", "qemu-xhci": "xhci", "nec-xhci": "xhci", "none": ""}
_USB_XML = {"ohci": "pci-ohci", "ehci": "ehci", "xhci": "qemu-xhci"}
_POINTING = {("mouse", "ps2"): "ps2mouse", ("mouse", "usb"): "usbmouse",
             ("tablet", "usb"): "usbtablet"}
_KEYBOARD = {("keyboard", "ps2"): "ps2kbd", ("keyboard", "usb"): "usbkbd"}
_NIC_MODEL_ALIASES = {"e1000": "82540EM", "pcnet": "Am79C973", "virtio": "virtio"}


def unsupported(name: str, what: str) -> VirtError:
    """CONFIG_UNSUPPORTED naming the domain and what VirtualBox cannot do."""
    return VirtError(
        ErrorCode.CONFIG_UNSUPPORTED,
        f"unsupported configuration: domain '{name}': {what}",
        ErrorDomain.VBOX,
    )


def _dev_index(dev: str, prefix: str) -> int:
    """``sdc`` -> 2, ``sdaa`` -> 26."""
    letters = dev[len(prefix):]
    if not letters or not letters.isalpha() or not letters.islower():
        raise ValueError(dev)
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - ord("a") + 1)
    return n - 1


def _dev_name(prefix: str, index: int) -> str:
    letters = ""
    index += 1
    while index > 0:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return prefix + letters


# -- domain -> machine -------------------------------------------------------------------------


def _slot_of(name: str, disk: Disk) -> tuple[str, int, int]:
    """(VirtualBox bus, port, device) of a disk from its target."""
    dev, bus = disk.target.dev, disk.target.bus
    if bus is None:
        bus = {"hd": "ide", "sd": "sata", "vd": "virtio", "fd": "fdc"}.get(dev[:2], "")
    vbus = _DISK_BUS_TO_VBOX.get(bus)
    if vbus is None:
        raise unsupported(name, f"disk '{dev}': VirtualBox has no '{bus}' disk bus")
    prefix = _BUS_PREFIX[vbus]
    try:
        index = _dev_index(dev, prefix)
    except ValueError:
        raise unsupported(
            name, f"disk '{dev}': a disk on bus '{bus}' needs a target named {prefix}X"
        ) from None
    if vbus == "ide":
        if index > 3:
            raise unsupported(name, f"disk '{dev}': IDE has only hda to hdd")
        return vbus, index // 2, index % 2
    if vbus == "floppy":
        if index > 1:
            raise unsupported(name, f"disk '{dev}': the floppy controller has only fda and fdb")
        return vbus, 0, index
    if index >= DEFAULT_PORTS[vbus]:
        raise unsupported(name, f"disk '{dev}': the {vbus} controller has "
                                f"{DEFAULT_PORTS[vbus]} ports")
    return vbus, index, 0


def _attachment(name: str, disk: Disk, port: int, device: int) -> Attachment:
    kind = _DEVICE_TO_VBOX.get(disk.device)
    if kind is None:
        raise unsupported(name, f"disk '{disk.target.dev}': device '{disk.device}'")
    if disk.type not in ("file", "block"):
        raise unsupported(name, f"disk '{disk.target.dev}': VirtualBox attaches image files, "
                                f"not '{disk.type}' disks")
    path = None
    if disk.source is not None:
        path = disk.source.file or disk.source.dev
    if path is None and kind == "hdd":
        raise unsupported(name, f"disk '{disk.target.dev}': a hard disk needs a source file")
    fmt = None
    if disk.driver is not None and disk.driver.type:
        fmt = disk.driver.type.upper()
        if fmt not in ("VDI", "VMDK", "VHD", "RAW"):
            raise unsupported(name, f"disk '{disk.target.dev}': image format "
                                    f"'{disk.driver.type}' (VirtualBox: vdi, vmdk, vhd, raw)")
    elif path is not None:
        fmt = format_of(path)
    return Attachment(port, device, kind, path, None, fmt, False, disk.readonly)


def _controllers(name: str, dom: Domain) -> tuple[StorageController, ...]:
    devs = dom.devices
    wanted_types: dict[str, str] = {}
    if devs is not None:
        for c in devs.controllers:
            vtype = _CONTROLLER_MODELS.get((c.type, c.model))
            if vtype is None and c.type in ("ide", "sata", "scsi", "fdc") and c.model is None:
                vtype = _DEFAULT_TYPE[_DISK_BUS_TO_VBOX[c.type]]
            if vtype is None:
                if c.type == "usb":
                    continue  # the USB controller: see machine_from_domain
                if c.type in ("pci", "virtio-serial", "ccid"):
                    log.warning("domain '%s': ignoring controller type '%s': VirtualBox "
                                "machines have no such setting", name, c.type)
                    continue
                raise unsupported(name, f"controller type '{c.type}' model '{c.model}'")
            wanted_types[_VBOX_BUS[vtype] if _VBOX_BUS[vtype] != "sas" else "scsi"] = vtype
    slots: dict[str, list[Attachment]] = {}
    for disk in devs.disks if devs is not None else ():
        vbus, port, device = _slot_of(name, disk)
        if vbus == "scsi" and wanted_types.get("scsi") == "VirtioSCSI":
            vbus = "virtio"
        taken = slots.setdefault(vbus, [])
        if any(a.port == port and a.device == device for a in taken):
            raise unsupported(name, f"disk '{disk.target.dev}': its slot is used twice")
        taken.append(_attachment(name, disk, port, device))
    for bus in wanted_types:
        key = "virtio" if wanted_types[bus] == "VirtioSCSI" else bus
        slots.setdefault(_DISK_BUS_TO_VBOX.get(key, key), [])
    out = []
    for vbus in ("ide", "sata", "scsi", "virtio", "floppy", "usb"):
        if vbus not in slots:
            continue
        vtype = wanted_types.get("scsi" if vbus == "virtio" else vbus) or _DEFAULT_TYPE[vbus]
        if vbus == "virtio":
            vtype = "VirtioSCSI"
        elif vbus == "scsi" and vtype == "VirtioSCSI":
            vtype = _DEFAULT_TYPE["scsi"]
        atts = tuple(sorted(slots[vbus], key=lambda a: (a.port, a.device)))
        ports = DEFAULT_PORTS[vbus]  # SATA: all 30 ports, so that disks can be hot-plugged
        out.append(StorageController(CONTROLLER_NAMES[vbus], _VBOX_BUS[vtype], vtype, ports,
                                     True, atts))
    return tuple(out)


def _nic(name: str, slot: int, iface: Interface) -> Nic:
    if iface.mac is None:
        raise unsupported(name, "an interface without a MAC address")  # defaults fill one
    src = iface.source
    if iface.type == "user":
        attachment, network = "nat", ""
    elif iface.type == "bridge":
        if src is None or not src.bridge:
            raise unsupported(name, "a bridge interface needs <source bridge=...>")
        attachment, network = "bridged", src.bridge
    elif iface.type == "network":
        if src is None or not src.network:
            raise unsupported(name, "a network interface needs <source network=...>")
        attachment = "intnet" if src.portgroup == "internal" else "hostonly"
        network = src.network
    elif iface.type == "null":
        attachment, network = "null", ""
    else:
        raise unsupported(name, f"interface type '{iface.type}' (VirtualBox: user, bridge, "
                                f"network, null)")
    nic_type = "82540EM"
    if iface.model is not None:
        nic_type = _NIC_MODEL_ALIASES.get(iface.model.type, iface.model.type)
        if nic_type not in NIC_TYPES:
            raise unsupported(name, f"interface model '{iface.model.type}' (VirtualBox: "
                                    f"{', '.join(NIC_TYPES)})")
    cable = iface.link is None or iface.link.state == "up"
    return Nic(slot, attachment, mac_to_vbox(iface.mac.address), nic_type, network, cable)


def _serial(name: str, index: int, ch: Serial) -> SerialPort:
    port = index
    if ch.target is not None and ch.target.port is not None:
        port = ch.target.port
    if port > 3:
        raise unsupported(name, f"serial port {port}: VirtualBox has COM1 to COM4")
    src = ch.source or ChardevSource()
    if ch.type == "file":
        mode, path = "file", src.path or ""
    elif ch.type == "tcp":
        if src.mode == "connect":
            mode, path = "tcpclient", f"{src.host or '127.0.0.1'}:{src.service or ''}"
        else:
            mode, path = "tcpserver", src.service or ""
    elif ch.type in ("unix", "pipe"):
        mode = "client" if src.mode == "connect" else "server"
        path = src.path or ""
    elif ch.type == "dev":
        mode, path = "device", src.path or ""
    elif ch.type == "null":
        mode, path = "disconnected", ""
    else:
        raise unsupported(name, f"serial type '{ch.type}' (VirtualBox: file, tcp, unix, "
                                f"pipe, dev, null)")
    if mode != "disconnected" and not path:
        raise unsupported(name, f"serial port {port} of type '{ch.type}' needs a source")
    iobase, irq = COM_PORTS[port]
    return SerialPort(port + 1, mode, path, iobase, irq)


def machine_from_domain(dom: Domain) -> Machine:
    """The VirtualBox settings for a (defaults-filled) domain; CONFIG_UNSUPPORTED for what
    VirtualBox cannot represent."""
    name = dom.name
    if dom.type != "vbox":
        raise unsupported(name, f"domain type '{dom.type}' (this driver runs type 'vbox')")
    if dom.os.type.name != "hvm":
        raise unsupported(name, f"os type '{dom.os.type.name}' (VirtualBox runs hvm guests)")
    arch = dom.os.type.arch or "x86_64"
    if arch not in ("x86_64", "i686"):
        raise unsupported(name, f"architecture '{arch}'")
    kib = dom.memory or 0
    mib = max(1, -(-kib // 1024))
    cur_kib = dom.current_memory if dom.current_memory else kib
    balloon = max(0, mib - max(1, -(-cur_kib // 1024)))
    vcpu = dom.vcpu or Vcpu(count=1)
    current = vcpu.current if vcpu.current is not None and vcpu.current != vcpu.count else None
    firmware = "BIOS"
    if dom.os.firmware == "efi" or (dom.os.loader is not None and dom.os.loader.type == "pflash"):
        firmware = "EFI"
    boots = [_BOOT_TO_VBOX[b.dev] for b in dom.os.boot][:4] or ["disk"]
    boot = tuple(boots + ["none"] * (4 - len(boots)))
    devs = dom.devices or Devices()
    nics = []
    for i, iface in enumerate(devs.interfaces):
        if i >= MAX_NICS:
            raise unsupported(name, f"{len(devs.interfaces)} interfaces (VirtualBox: "
                                    f"{MAX_NICS} at most)")
        nics.append(_nic(name, i + 1, iface))
    serials = [_serial(name, i, ch) for i, ch in enumerate(devs.serials)]
    if len({s.slot for s in serials}) != len(serials):
        raise unsupported(name, "two serial ports on one COM port")
    vrde = Vrde()
    if devs.graphics:
        if len(devs.graphics) > 1:
            raise unsupported(name, "more than one graphics device (VirtualBox has one VRDE "
                                    "server)")
        g = devs.graphics[0]
        if g.type not in ("rdp", "vnc"):
            raise unsupported(name, f"graphics type '{g.type}' (VirtualBox: rdp, vnc)")
        port = g.port if g.port is not None and g.port > 0 and not g.autoport else None
        listen = g.listen or next((lst.address for lst in g.listens if lst.address), None)
        default_ports = "5900-5999" if g.type == "vnc" else "3389"
        if g.passwd and g.type != "vnc":
            raise unsupported(name, "graphics type 'rdp' with a password (VirtualBox's RDP "
                                    "server authenticates host users, not a password)")
        vrde = Vrde(True, str(port) if port else default_ports, listen or "", g.type == "vnc",
                    g.passwd or "")
    folders = []
    for fs in devs.filesystems:
        if fs.type not in (None, "mount"):
            raise unsupported(name, f"filesystem type '{fs.type}' (VirtualBox shares host "
                                    f"directories: type 'mount')")
        if fs.source is None or not fs.source.dir:
            raise unsupported(name, f"filesystem '{fs.target.dir}' needs <source dir=...>")
        folders.append(SharedFolder(fs.target.dir, fs.source.dir, not fs.readonly, False))
    for kind, present in (
        ("console", devs.consoles), ("channel", devs.channels), ("parallel", devs.parallels),
        ("video", devs.videos), ("sound", devs.sounds), ("rng", devs.rngs),
        ("watchdog", devs.watchdogs), ("tpm", devs.tpms), ("panic", devs.panics),
        ("hostdev", devs.hostdevs),
    ):
        if present:
            raise unsupported(name, f"{kind} devices are not mapped to VirtualBox settings by "
                                    f"this driver")
    if devs.memballoon is not None and devs.memballoon.model != "none":
        raise unsupported(name, f"memballoon model '{devs.memballoon.model}' (VirtualBox's "
                                f"balloon is its own: set <currentMemory> instead)")
    usb = ""
    for c in devs.controllers:
        if c.type == "usb":
            kind = _USB_MODELS.get(c.model)
            if kind is None:
                raise unsupported(name, f"controller type 'usb' model '{c.model}' (VirtualBox: "
                                        f"{', '.join(m for m in _USB_MODELS if m)})")
            usb = kind
    pointing, keyboard = "ps2mouse", "ps2kbd"
    for inp in devs.inputs:
        key = (inp.type, inp.bus or ("usb" if inp.type == "tablet" else "ps2"))
        if key in _POINTING:
            pointing = _POINTING[key]
        elif key in _KEYBOARD:
            keyboard = _KEYBOARD[key]
        else:
            raise unsupported(name, f"input type '{inp.type}' bus '{inp.bus}' (VirtualBox: "
                                    f"PS/2 or USB mouse, USB tablet, PS/2 or USB keyboard)")
    feats = dom.features or Features()
    return Machine(
        name=name,
        uuid=str(dom.uuid),
        ostype="Other_64" if arch == "x86_64" else "Other",
        description=dom.description or "",
        memory_mib=mib,
        balloon_mib=balloon,
        cpus=vcpu.count,
        cpus_current=current,
        firmware=firmware,
        acpi=True,
        ioapic=feats.apic is not None or vcpu.count > 1,
        pae=feats.pae,
        boot=boot,
        controllers=_controllers(name, dom),
        nics=tuple(nics),
        serials=tuple(serials),
        vrde=vrde,
        shared_folders=tuple(folders),
        usb=usb,
        pointing=pointing,
        keyboard=keyboard,
    )


# -- machine -> domain -------------------------------------------------------------------------


def _disks(m: Machine) -> tuple[list[Disk], list[Controller]]:
    disks: list[Disk] = []
    controllers: list[Controller] = []
    used: set[str] = set()
    counters: dict[str, int] = {}
    for ctl in m.controllers:
        ctype, cmodel = _CONTROLLER_XML.get(ctl.type, ("sata", None))
        index = counters.get(ctype, 0)
        counters[ctype] = index + 1
        controllers.append(Controller(type=ctype, index=index, model=cmodel))
        bus = _DISK_BUS_FROM_VBOX.get(ctl.bus, "sata")
        prefix = _BUS_PREFIX.get(ctl.bus, "sd")
        for a in ctl.attachments:
            if ctl.bus == "ide":
                idx = a.port * 2 + a.device
            elif ctl.bus == "floppy":
                idx = a.device
            else:
                idx = a.port
            dev = _dev_name(prefix, idx)
            while dev in used:
                idx += 1
                dev = _dev_name(prefix, idx)
            used.add(dev)
            device = _DEVICE_FROM_VBOX.get(a.type, "disk")
            source = DiskSource(file=a.medium) if a.medium else None
            fmt = a.format or (format_of(a.medium) if a.medium else None)
            driver = DiskDriver(name="vbox", type=fmt.lower()) if fmt else None
            disks.append(Disk(type="file", device=device, driver=driver, source=source,
                              target=DiskTarget(dev=dev, bus=bus), readonly=a.readonly))
    return disks, controllers


def _interface(nic: Nic) -> Interface:
    mac = MacAddress(address=mac_from_vbox(nic.mac))
    model = ModelType(type=nic.type)
    link = None if nic.cable else LinkState(state="down")
    if nic.attachment == "nat":
        return Interface(type="user", mac=mac, model=model, link=link)
    if nic.attachment == "bridged":
        return Interface(type="bridge", mac=mac, source=InterfaceSource(bridge=nic.network),
                         model=model, link=link)
    if nic.attachment == "hostonly":
        return Interface(type="network", mac=mac, source=InterfaceSource(network=nic.network),
                         model=model, link=link)
    if nic.attachment == "intnet":
        return Interface(type="network", mac=mac,
                         source=InterfaceSource(network=nic.network, portgroup="internal"),
                         model=model, link=link)
    return Interface(type="null", mac=mac, model=model, link=link)


def _serial_xml(port: SerialPort) -> Serial:
    target = ChardevTarget(port=port.slot - 1)
    if port.mode == "file":
        return Serial(type="file", source=ChardevSource(path=port.path), target=target)
    if port.mode == "tcpserver":
        return Serial(type="tcp", source=ChardevSource(mode="bind", host="0.0.0.0",
                                                       service=port.path), target=target)
    if port.mode == "tcpclient":
        host, _, service = port.path.rpartition(":")
        return Serial(type="tcp", source=ChardevSource(mode="connect", host=host or None,
                                                       service=service), target=target)
    if port.mode in ("server", "client"):
        mode = "bind" if port.mode == "server" else "connect"
        return Serial(type="unix", source=ChardevSource(mode=mode, path=port.path),
                      target=target)
    if port.mode == "device":
        return Serial(type="dev", source=ChardevSource(path=port.path), target=target)
    return Serial(type="null", target=target)


def domain_from_machine(m: Machine, dom_id: int | None = None) -> Domain:
    """The domain XML model of VirtualBox settings (``id`` set for an active domain)."""
    kib = m.memory_mib * 1024
    boots = tuple(BootDev(dev=_BOOT_FROM_VBOX[b]) for b in m.boot if b in _BOOT_FROM_VBOX)
    disks, controllers = _disks(m)
    graphics: tuple[Graphics, ...] = ()
    if m.vrde.enabled:
        port = None
        first = m.vrde.ports.split(",")[0]
        if first.isdigit() and "-" not in m.vrde.ports:
            port = int(first)
        graphics = (Graphics(type="vnc" if m.vrde.vnc else "rdp", port=port,
                             autoport=None if port else True,
                             listen=m.vrde.address or None,
                             passwd=m.vrde.password or None),)
    devices = Devices(
        disks=tuple(disks),
        controllers=tuple(controllers) + ((Controller(type="usb", index=0,
                                                      model=_USB_XML[m.usb]),) if m.usb
                                          else ()),
        filesystems=tuple(
            Filesystem(type="mount", accessmode="passthrough",
                       source=FsSource(dir=f.path), target=FsTarget(dir=f.name),
                       readonly=not f.writable)
            for f in m.shared_folders
        ),
        interfaces=tuple(_interface(n) for n in m.nics),
        serials=tuple(_serial_xml(s) for s in m.serials),
        inputs=tuple(Input(type=t, bus=b) for (t, b), v in (*_POINTING.items(),
                                                             *_KEYBOARD.items())
                     if v in (m.pointing, m.keyboard)),
        graphics=graphics,
    )
    current = m.cpus_current if m.cpus_current is not None else None
    return Domain(
        type="vbox",
        id=dom_id if dom_id is not None and dom_id > 0 else None,
        name=m.name,
        uuid=m.uuid,
        description=m.description or None,
        memory=kib,
        current_memory=max(1024, kib - m.balloon_mib * 1024),
        vcpu=Vcpu(placement="static", current=current, count=m.cpus),
        os=Os(firmware="efi" if m.firmware.startswith("EFI") else None,
              type=OsType(arch="x86_64" if m.ostype.endswith("_64") else "i686", name="hvm"),
              boot=boots),
        features=Features(acpi=m.acpi, pae=m.pae, apic=Apic() if m.ioapic else None),
        on_poweroff="destroy",
        on_reboot="restart",
        on_crash="destroy",
        devices=devices,
    )


def canonical(dom: Domain) -> Domain:
    """A definition as it comes back from VirtualBox (what ``machine_from_domain`` keeps)."""
    return attrs.evolve(domain_from_machine(machine_from_domain(dom)), id=dom.id)
