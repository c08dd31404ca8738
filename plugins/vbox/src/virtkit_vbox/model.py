"""One VirtualBox machine's settings as plain records, between the three forms the driver
speaks: libvirt-style domain XML, the ``.vbox`` settings file, and ``VBoxManage`` (arguments in,
``showvminfo --machinereadable`` out).

Sizes are VirtualBox's: memory in MiB. Slots and ports are VirtualBox's numbering: network
adapters and serial ports count from 1 as ``VBoxManage`` does (``--nic1``, ``--uart1``).
"""

from __future__ import annotations

import attrs

#: Storage controller kinds: VirtualBox's controller type per bus, and the name VirtualBox's own
#: tools give a controller of that bus.
CONTROLLER_TYPES: dict[str, tuple[str, ...]] = {
    "ide": ("PIIX4", "PIIX3", "ICH6"),
    "sata": ("IntelAhci",),
    "scsi": ("LsiLogic", "BusLogic"),
    "sas": ("LsiLogicSas",),
    "floppy": ("I82078",),
    "usb": ("USB",),
    "pcie": ("NVMe",),
    "virtio": ("VirtioSCSI",),
}
BUS_OF_TYPE: dict[str, str] = {t: bus for bus, types in CONTROLLER_TYPES.items() for t in types}
CONTROLLER_NAMES: dict[str, str] = {
    "ide": "IDE", "sata": "SATA", "scsi": "SCSI", "sas": "SAS", "floppy": "Floppy",
    "usb": "USB", "pcie": "NVMe", "virtio": "VirtIO",
}
#: Ports a new controller gets (IDE: two channels of master/slave).
DEFAULT_PORTS: dict[str, int] = {
    "ide": 2, "sata": 30, "scsi": 16, "sas": 8, "floppy": 1, "usb": 8, "pcie": 1, "virtio": 16,
}
#: Medium formats by file extension, as VirtualBox names them.
FORMATS = {".vdi": "VDI", ".vmdk": "VMDK", ".vhd": "VHD", ".img": "RAW", ".raw": "RAW",
           ".iso": "RAW"}
#: Standard COM port resources, as VirtualBox offers them (COM1..COM4).
COM_PORTS = ((0x3F8, 4), (0x2F8, 3), (0x3E8, 4), (0x2E8, 3))
NIC_TYPES = ("Am79C970A", "Am79C973", "Am79C960", "82540EM", "82543GC", "82545EM", "virtio")
ATTACHMENTS = ("nat", "bridged", "hostonly", "intnet", "null")
BOOT_DEVICES = ("none", "floppy", "dvd", "disk", "net")
SERIAL_MODES = ("disconnected", "file", "tcpserver", "tcpclient", "server", "client", "device")


@attrs.frozen
class Attachment:
    """A drive on a controller: ``type`` is ``hdd``, ``dvddrive`` or ``fdd``; ``medium`` the
    image path, or None for an empty drive."""

    port: int
    device: int
    type: str
    medium: str | None = None
    medium_uuid: str | None = None
    format: str | None = None
    hotpluggable: bool = False
    readonly: bool = False


@attrs.frozen
class StorageController:
    name: str
    bus: str
    type: str
    ports: int
    bootable: bool = True
    attachments: tuple[Attachment, ...] = ()


@attrs.frozen
class Nic:
    """A network adapter: ``attachment`` is nat, bridged, hostonly, intnet or null; ``network``
    names the host interface (bridged, hostonly) or the internal network (intnet)."""

    slot: int
    attachment: str
    mac: str  # VirtualBox's form: 12 upper-case hex digits
    type: str = "82540EM"
    network: str = ""
    cable: bool = True


@attrs.frozen
class SerialPort:
    slot: int
    mode: str = "disconnected"
    path: str = ""
    iobase: int = 0x3F8
    irq: int = 4
    uart_type: str = "16550A"


@attrs.frozen
class SharedFolder:
    name: str
    path: str
    writable: bool = True
    automount: bool = False


@attrs.frozen
class Vrde:
    """The remote display server: RDP, or VNC through the VNC extension pack."""

    enabled: bool = False
    ports: str = "3389"
    address: str = ""
    vnc: bool = False
    password: str = ""  # VNC only: the VNC extension pack's VNCPassword property (a secret)


@attrs.frozen
class Machine:
    name: str
    uuid: str
    ostype: str = "Other_64"
    description: str = ""
    memory_mib: int = 128
    balloon_mib: int = 0
    cpus: int = 1
    cpus_current: int | None = None  # with CPU hot-plug: how many are plugged
    firmware: str = "BIOS"
    acpi: bool = True
    ioapic: bool = True
    pae: bool = False
    boot: tuple[str, ...] = ("disk", "none", "none", "none")
    controllers: tuple[StorageController, ...] = ()
    nics: tuple[Nic, ...] = ()
    serials: tuple[SerialPort, ...] = ()
    vrde: Vrde = Vrde()
    shared_folders: tuple[SharedFolder, ...] = ()
    usb: str = ""  # the USB controller: "", ohci, ehci (with ohci) or xhci
    pointing: str = "ps2mouse"  # ps2mouse, usbmouse, usbtablet
    keyboard: str = "ps2kbd"  # ps2kbd, usbkbd
    autostart: bool = False
    state: str = "poweroff"
    state_file: str = ""
    config_file: str = ""


def mac_to_vbox(mac: str) -> str:
    """``52:54:00:aa:bb:cc`` -> ``525400AABBCC``."""
    return mac.replace(":", "").replace("-", "").upper()


def mac_from_vbox(mac: str) -> str:
    """``525400AABBCC`` -> ``52:54:00:aa:bb:cc``."""
    m = mac.lower()
    return ":".join(m[i:i + 2] for i in range(0, 12, 2))


def format_of(path: str) -> str | None:
    """VirtualBox's format name for an image path by its extension, or None."""
    lower = path.lower()
    for ext, fmt in FORMATS.items():
        if lower.endswith(ext):
            return fmt
    return None
