"""``VBoxManage`` both ways: argument lists that make a machine's settings, and the machine's
settings read back from ``showvminfo --machinereadable``.

VirtualBox 7.0 renamed most ``modifyvm`` options to dashed forms (``--nic-type1``,
``--mac-address1``, ``--uart-mode1``, ``--vrde-port``...) and still accepts the 6.1 spellings;
6.1 knows only the old ones. :func:`modifyvm_args` writes the spelling of the version it talks to.
"""

from __future__ import annotations

import re

from virtkit_vbox.model import (
    BUS_OF_TYPE,
    Attachment,
    Machine,
    Nic,
    SerialPort,
    SharedFolder,
    StorageController,
    Vrde,
    format_of,
)

__all__ = ["attach_args", "createvm_args", "machine_from_showvminfo", "modifyvm_args",
           "option", "storagectl_args"]

#: 6.1 spelling -> 7.x spelling of the modifyvm options this driver uses (indexed ones take the
#: slot number after the name).
_V7_NAMES = {
    "--nictype": "--nic-type", "--macaddress": "--mac-address",
    "--cableconnected": "--cable-connected", "--bridgeadapter": "--bridge-adapter",
    "--hostonlyadapter": "--host-only-adapter", "--uartmode": "--uart-mode",
    "--uarttype": "--uart-type", "--vrdeport": "--vrde-port", "--vrdeaddress": "--vrde-address",
    "--vrdeextpack": "--vrde-extpack", "--vrdeproperty": "--vrde-property",
    "--guestmemoryballoon": "--guest-memory-balloon",
    "--cpuhotplug": "--cpu-hotplug", "--usbohci": "--usb-ohci", "--usbehci": "--usb-ehci",
    "--usbxhci": "--usb-xhci", "--plugcpu": "--plug-cpu", "--unplugcpu": "--unplug-cpu",
}
_SERIAL_HOST_MODES = {"file": "file", "tcpserver": "tcpserver", "tcpclient": "tcpclient",
                      "server": "server", "client": "client", "device": "", "disconnected":
                      "disconnected"}


def option(name: str, major: int, index: int | None = None) -> str:
    """The spelling of a modifyvm option for VirtualBox ``major`` (6 or 7)."""
    spelled = _V7_NAMES.get(name, name) if major >= 7 else name
    return spelled if index is None else f"{spelled}{index}"


def createvm_args(m: Machine, basefolder: str | None = None) -> list[str]:
    args = ["createvm", "--name", m.name, "--uuid", m.uuid, "--ostype", m.ostype, "--register"]
    if basefolder:
        args += ["--basefolder", basefolder]
    return args


def _nic_args(n: Nic, major: int) -> list[str]:
    i = n.slot
    args = [f"--nic{i}", {"null": "null"}.get(n.attachment, n.attachment)]
    if n.attachment == "bridged":
        args += [option("--bridgeadapter", major, i), n.network]
    elif n.attachment == "hostonly":
        args += [option("--hostonlyadapter", major, i), n.network]
    elif n.attachment == "intnet":
        args += [f"--intnet{i}", n.network]
    args += [option("--nictype", major, i), n.type, option("--macaddress", major, i), n.mac,
             option("--cableconnected", major, i), "on" if n.cable else "off"]
    return args


def _serial_args(s: SerialPort, major: int) -> list[str]:
    i = s.slot
    args = [f"--uart{i}", f"0x{s.iobase:03X}", str(s.irq)]
    if s.mode == "disconnected":
        args += [option("--uartmode", major, i), "disconnected"]
    elif s.mode == "device":
        args += [option("--uartmode", major, i), s.path]
    else:
        args += [option("--uartmode", major, i), _SERIAL_HOST_MODES[s.mode], s.path]
    args += [option("--uarttype", major, i), s.uart_type]
    return args


def _vrde_args(v: Vrde, major: int) -> list[str]:
    if not v.enabled:
        return ["--vrde", "off"]
    args = ["--vrde", "on", option("--vrdeport", major), v.ports]
    if v.address:
        args += [option("--vrdeaddress", major), v.address]
    args += [option("--vrdeextpack", major), "VNC" if v.vnc else "default"]
    if v.vnc:
        args += [option("--vrdeproperty", major), f"VNCPassword={v.password}"]
    return args


def modifyvm_args(m: Machine, major: int, old: Machine | None = None,
                  max_nics: int = 8, max_serials: int = 4) -> list[str]:
    """``modifyvm NAME ...`` making the machine's settings (all of them, or what differs from
    ``old``). Adapters and serial ports the machine lacks are switched off."""
    a: list[str] = []

    def changed(attr: str) -> bool:
        return old is None or getattr(old, attr) != getattr(m, attr)

    if changed("memory_mib"):
        a += ["--memory", str(m.memory_mib)]
    if changed("balloon_mib"):
        a += [option("--guestmemoryballoon", major), str(m.balloon_mib)]
    if changed("cpus") or changed("cpus_current"):
        hot = m.cpus_current is not None and m.cpus_current < m.cpus
        a += [option("--cpuhotplug", major), "on" if hot else "off", "--cpus", str(m.cpus)]
        if hot:
            assert m.cpus_current is not None
            for cpu in range(m.cpus_current, m.cpus):
                a += [option("--unplugcpu", major), str(cpu)]
    if changed("firmware"):
        a += ["--firmware", m.firmware.lower()]
    if changed("acpi"):
        a += ["--acpi", "on" if m.acpi else "off"]
    if changed("ioapic"):
        a += ["--ioapic", "on" if m.ioapic else "off"]
    if changed("pae"):
        a += ["--pae", "on" if m.pae else "off"]
    if changed("boot"):
        for i, dev in enumerate(m.boot, start=1):
            a += [f"--boot{i}", dev]
    if changed("usb"):
        a += [option("--usbohci", major), "on" if m.usb in ("ohci", "ehci") else "off",
              option("--usbehci", major), "on" if m.usb == "ehci" else "off",
              option("--usbxhci", major), "on" if m.usb == "xhci" else "off"]
    if changed("pointing"):
        a += ["--mouse", {"ps2mouse": "ps2", "usbmouse": "usb"}.get(m.pointing, m.pointing)]
    if changed("keyboard"):
        a += ["--keyboard", {"ps2kbd": "ps2", "usbkbd": "usb"}[m.keyboard]]
    if changed("description"):
        a += ["--description", m.description]
    if changed("nics"):
        by_slot = {n.slot: n for n in m.nics}
        old_slots = {n.slot: n for n in (old.nics if old is not None else ())}
        for slot in range(1, max_nics + 1):
            nic = by_slot.get(slot)
            if nic is not None:
                if old_slots.get(slot) != nic:
                    a += _nic_args(nic, major)
            elif old is None or slot in old_slots:
                a += [f"--nic{slot}", "none"]
    if changed("serials"):
        by_slot_s = {s.slot: s for s in m.serials}
        old_s = {s.slot: s for s in (old.serials if old is not None else ())}
        for slot in range(1, max_serials + 1):
            port = by_slot_s.get(slot)
            if port is not None:
                if old_s.get(slot) != port:
                    a += _serial_args(port, major)
            elif old is None or slot in old_s:
                a += [f"--uart{slot}", "off"]
    if changed("vrde"):
        a += _vrde_args(m.vrde, major)
    return a


#: showvminfo's controller type -> the spelling ``storagectl --controller`` documents
_CONTROLLER_ARG = {"IntelAhci": "IntelAHCI", "LsiLogic": "LSILogic", "LsiLogicSas": "LSILogicSAS",
                   "VirtioSCSI": "VirtIO"}


def storagectl_args(name: str, c: StorageController) -> list[str]:
    """``storagectl NAME --name C --add BUS --controller TYPE --portcount N --bootable on``."""
    return ["storagectl", name, "--name", c.name, "--add", c.bus, "--controller",
            _CONTROLLER_ARG.get(c.type, c.type),
            "--portcount", str(c.ports), "--bootable", "on" if c.bootable else "off"]


def attach_args(name: str, controller: str, a: Attachment, hotplug: bool = False) -> list[str]:
    """``storageattach`` for one drive; ``a.medium`` None: an empty optical drive."""
    args = ["storageattach", name, "--storagectl", controller, "--port", str(a.port),
            "--device", str(a.device), "--type", a.type,
            "--medium", a.medium if a.medium else "emptydrive"]
    if hotplug or a.hotpluggable:
        args += ["--hotpluggable", "on"]
    return args


def detach_args(name: str, controller: str, port: int, device: int) -> list[str]:
    return ["storageattach", name, "--storagectl", controller, "--port", str(port),
            "--device", str(device), "--medium", "none"]


def sharedfolder_args(name: str, f: SharedFolder) -> list[str]:
    args = ["sharedfolder", "add", name, "--name", f.name, "--hostpath", f.path]
    if not f.writable:
        args.append("--readonly")
    if f.automount:
        args.append("--automount")
    return args


# -- showvminfo --machinereadable -> Machine ---------------------------------------------------

_ATTACH_KEY = re.compile(r"^(?P<ctl>.+)-(?P<port>\d+)-(?P<dev>\d+)$")
_OSTYPE_64 = re.compile(r"64|_64")


def _onoff(v: str | None) -> bool:
    return v == "on"


def machine_from_showvminfo(info: dict[str, str], extradata: dict[str, str] | None = None
                            ) -> Machine:
    """Settings from the parsed ``showvminfo --machinereadable`` output (VirtualBox 6.1 and
    7.x print the keys read here alike)."""
    extradata = extradata or {}
    controllers: list[StorageController] = []
    i = 0
    while f"storagecontrollername{i}" in info:
        cname = info[f"storagecontrollername{i}"]
        ctype = info.get(f"storagecontrollertype{i}", "IntelAhci")
        ports = int(info.get(f"storagecontrollerportcount{i}", "1"))
        atts: list[Attachment] = []
        prefix = cname + "-"
        for key, value in info.items():
            if not key.startswith(prefix) or value == "none":
                continue
            m = _ATTACH_KEY.match(key)
            if m is None or m.group("ctl") != cname:
                continue
            port, dev = int(m.group("port")), int(m.group("dev"))
            uuid = info.get(f"{cname}-ImageUUID-{port}-{dev}")
            is_dvd = (f"{cname}-IsEjected-{port}-{dev}" in info
                      or f"{cname}-tempeject-{port}-{dev}" in info)
            if value == "emptydrive":
                kind = "fdd" if BUS_OF_TYPE.get(ctype) == "floppy" else "dvddrive"
                atts.append(Attachment(port, dev, kind))
                continue
            if BUS_OF_TYPE.get(ctype) == "floppy":
                kind = "fdd"
            elif is_dvd or value.lower().endswith(".iso"):
                kind = "dvddrive"
            else:
                kind = "hdd"
            hot = _onoff(info.get(f"{cname}-hot-pluggable-{port}-{dev}"))
            atts.append(Attachment(port, dev, kind, value, uuid, format_of(value), hot))
        atts.sort(key=lambda a: (a.port, a.device))
        controllers.append(StorageController(
            cname, BUS_OF_TYPE.get(ctype, "sata"), ctype, ports,
            _onoff(info.get(f"storagecontrollerbootable{i}", "on")), tuple(atts)))
        i += 1
    nics: list[Nic] = []
    slot = 1
    while f"nic{slot}" in info:
        kind = info[f"nic{slot}"]
        if kind != "none":
            network = {
                "bridged": info.get(f"bridgeadapter{slot}", ""),
                "hostonly": info.get(f"hostonlyadapter{slot}", ""),
                "intnet": info.get(f"intnet{slot}", ""),
            }.get(kind, "")
            nics.append(Nic(slot, kind if kind in ("nat", "bridged", "hostonly", "intnet")
                            else "null", info.get(f"macaddress{slot}", ""),
                            info.get(f"nictype{slot}", "82540EM"), network,
                            info.get(f"cableconnected{slot}", "on") == "on"))
        slot += 1
    serials: list[SerialPort] = []
    slot = 1
    while f"uart{slot}" in info:
        value = info[f"uart{slot}"]
        if value != "off":
            iobase_s, _, irq_s = value.partition(",")
            mode_s = info.get(f"uartmode{slot}", "disconnected")
            kind, _, path = mode_s.partition(",")
            if kind not in ("disconnected", "file", "tcpserver", "tcpclient", "server",
                            "client"):
                kind, path = "device", mode_s
            serials.append(SerialPort(slot, kind, path, int(iobase_s, 16), int(irq_s or 4),
                                      info.get(f"uarttype{slot}", "16550A")))
        slot += 1
    folders: list[SharedFolder] = []
    slot = 1
    while f"SharedFolderNameMachineMapping{slot}" in info:
        folders.append(SharedFolder(info[f"SharedFolderNameMachineMapping{slot}"],
                                    info.get(f"SharedFolderPathMachineMapping{slot}", ""),
                                    extradata.get(f"virtkit/sf-readonly/"
                                                  f"{info[f'SharedFolderNameMachineMapping{slot}']}"
                                                  ) != "1"))
        slot += 1
    vrde = Vrde()
    if info.get("vrde") == "on":
        password = info.get("vrdeproperty[VNCPassword]", "<not set>")
        vrde = Vrde(True, info.get("vrdeports", "3389"), info.get("vrdeaddress", ""),
                    "vrdeproperty[VNCPassword]" in info,
                    "" if password == "<not set>" else password)
    boot = tuple(info.get(f"boot{n}", "none") for n in range(1, 5))
    ostype = info.get("ostype", "Other/Unknown (64-bit)")
    current = extradata.get("virtkit/cpus-plugged")
    return Machine(
        name=info.get("name", ""),
        uuid=info.get("UUID", "").lower(),
        ostype="Other_64" if _OSTYPE_64.search(ostype) else "Other",
        description=info.get("description", ""),
        memory_mib=int(info.get("memory", "128")),
        balloon_mib=int(info.get("GuestMemoryBalloon", "0")),
        cpus=int(info.get("cpus", "1")),
        cpus_current=int(current) if current and current.isdigit() else None,
        firmware=info.get("firmware", "BIOS"),
        acpi=_onoff(info.get("acpi", "on")),
        ioapic=_onoff(info.get("ioapic", "on")),
        pae=_onoff(info.get("pae", "off")),
        boot=boot,
        controllers=tuple(controllers),
        nics=tuple(nics),
        serials=tuple(serials),
        vrde=vrde,
        shared_folders=tuple(folders),
        usb="xhci" if info.get("xhci") == "on" else "ehci" if info.get("ehci") == "on"
        else "ohci" if info.get("usb") == "on" else "",
        pointing=info.get("hidpointing", "ps2mouse"),
        keyboard=info.get("hidkeyboard", "ps2kbd"),
        autostart=_onoff(info.get("autostart-enabled", "off")),
        state=info.get("VMState", "poweroff"),
        state_file=info.get("VMStateFile", ""),
        config_file=info.get("CfgFile", ""),
    )


#: The controller type a bus gets when the domain names none.
_DEFAULT_TYPE_PUBLIC = {"ide": "PIIX4", "sata": "IntelAhci", "scsi": "LsiLogic",
                        "virtio": "VirtioSCSI", "floppy": "I82078", "usb": "USB"}
