"""VMX (VMware's ``.vmx`` configuration file) <-> domain XML, both ways.

The same job as libvirt's ``domxml-from-native vmware-vmx`` / ``domxml-to-native``; the mapping:

=============================================  ==================================================
VMX                                            domain XML
=============================================  ==================================================
``displayName``                                ``<name>``
``uuid.bios`` (``56 4d ... 2e af`` form)       ``<uuid>``
``annotation`` (``|0A`` escapes)               ``<description>``
``memsize`` (MiB)                              ``<memory>``
``sched.mem.max`` (MiB)                        ``<currentMemory>``
``numvcpus``, ``cpuid.coresPerSocket``         ``<vcpu>``, ``<cpu><topology>``
``guestOS`` (``*-64``: x86_64)                 ``<os><type arch>``; the guestOS itself is kept
``firmware`` (``efi``)                         ``<os firmware='efi'>``
``scsiN.virtualDev``                           ``<controller type='scsi' index=N model>``
``scsiN:M.*``, ``ideN:M.*``, ``sataN:M.*``     ``<disk>``: ``deviceType`` scsi-hardDisk/disk ->
                                               disk, cdrom-image -> cdrom with a file,
                                               atapi-cdrom/cdrom-raw -> cdrom with a block device;
                                               ``fileName`` -> source; target sdX (SCSI: index
                                               controller*15+unit, unit 7 skipped), hdX (IDE:
                                               bus*2+unit), sdX with bus sata (SATA: 30+N*30+M)
``ethernetN.*``                                ``<interface type='bridge'>``: ``networkName`` ->
                                               source bridge, ``virtualDev`` -> model,
                                               ``address`` (static) or ``generatedAddress`` ->
                                               mac, ``addressType`` kept
``serialN.*``                                  ``<serial>``: ``fileType`` file -> file, pipe ->
                                               pipe, device -> dev, network -> tcp
``RemoteDisplay.vnc.*`` (when enabled)         ``<graphics type='vnc'>``: port, ip (listen),
                                               password, keyMap
=============================================  ==================================================

Every other key (and every key of the mapped devices this converter does not interpret) is kept
in the domain's ``<metadata>`` as ``<vmx:key name='...'>value</vmx:key>`` elements (namespace
``http://virtkit.org/xmlns/vmx/1``), and written back by :func:`domain_to_vmx`: nothing in a
VMX file is dropped. :func:`vmx_to_domain` also returns those keys' names, so a caller can
report what was kept without interpretation.
"""

from __future__ import annotations

import re
import sys
import uuid as uuidlib
from collections.abc import Iterable
from xml.sax.saxutils import escape, quoteattr

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.xml.common import MacAddress
from virtkit.xml.domain import (
    Chardev,
    ChardevSource,
    ChardevTarget,
    Controller,
    Cpu,
    CpuTopology,
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

NS = "http://virtkit.org/xmlns/vmx/1"
_LINE = re.compile(r'^\s*([A-Za-z0-9_.:\-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|(\S*))\s*(#.*)?$')
_DISK = re.compile(r"^(scsi|ide|sata)(\d+):(\d+)\.(.+)$")
_CTRL = re.compile(r"^(scsi|sata)(\d+)\.(.+)$")
_NIC = re.compile(r"^ethernet(\d+)\.(.+)$")
_SERIAL = re.compile(r"^serial(\d+)\.(.+)$")
SCSI_MODELS = {"lsilogic": "lsilogic", "buslogic": "buslogic", "lsisas1068": "lsisas1068",
               "pvscsi": "vmpvscsi"}
NIC_MODELS = ("e1000", "e1000e", "vlance", "vmxnet", "vmxnet2", "vmxnet3")


def vmx_error(message: str) -> VirtError:
    return VirtError(ErrorCode.CONFIG_UNSUPPORTED, f"VMX: {message}", ErrorDomain.VMWARE)


# -- the file format -------------------------------------------------------------------------


def _unescape(value: str) -> str:
    """VMware's ``|XX`` hex escapes (``|22`` is a quote, ``|0A`` a newline)."""
    return re.sub(r"\|([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), value)


def _escape(value: str) -> str:
    out = []
    for ch in value:
        if ch in '"|#' or ord(ch) < 0x20:
            out.append(f"|{ord(ch):02X}")
        else:
            out.append(ch)
    return "".join(out)


def parse_vmx(text: str) -> dict[str, str]:
    """The key/value pairs of a VMX file, keys in lower case (VMX keys ignore case), in file
    order; CONF_SYNTAX naming the line for anything that is not ``key = "value"``."""
    out: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            raise VirtError(ErrorCode.CONF_SYNTAX,
                            f"VMX line {number}: expected 'key = \"value\"', got {line[:60]!r}",
                            ErrorDomain.VMWARE)
        value = m.group(2) if m.group(2) is not None else (m.group(3) or "")
        out[m.group(1).lower()] = _unescape(value)
    return out


def format_vmx(entries: Iterable[tuple[str, str]]) -> str:
    lines = ['.encoding = "UTF-8"']
    for key, value in entries:
        if key == ".encoding":
            continue
        lines.append(f'{key} = "{_escape(value)}"')
    return "\n".join(lines) + "\n"


# -- VMX -> domain ---------------------------------------------------------------------------


def _bool(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes")


def _uuid_from_bios(text: str) -> str:
    hexes = re.sub(r"[^0-9A-Fa-f]", "", text)
    if len(hexes) != 32:
        raise vmx_error(f"uuid.bios '{text}' is not 16 bytes")
    return str(uuidlib.UUID(hexes))


def uuid_to_bios(value: str) -> str:
    h = uuidlib.UUID(value).hex
    pairs = [h[i:i + 2] for i in range(0, 32, 2)]
    return " ".join(pairs[:8]) + "-" + " ".join(pairs[8:])


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


def disk_target(bus: str, controller: int, unit: int) -> str:
    if bus == "ide":
        return "hd" + _letters(controller * 2 + unit)
    if bus == "sata":
        return "sd" + _letters(30 + controller * 30 + unit)
    return "sd" + _letters(controller * 15 + (unit - 1 if unit > 7 else unit))


def disk_slot(dev: str, bus: str) -> tuple[int, int]:
    m = re.fullmatch(r"(sd|hd)([a-z]+)", dev)
    if not m:
        raise vmx_error(f"disk target '{dev}' (sdX or hdX)")
    index = _index(m.group(2))
    if bus == "ide":
        return divmod(index, 2)
    if bus == "sata":
        if index < 30:
            raise vmx_error(f"disk target '{dev}' on sata (SATA targets start at sdae)")
        return divmod(index - 30, 30)
    controller, unit = divmod(index, 15)
    return controller, unit + 1 if unit >= 7 else unit


@attrs.frozen
class Converted:
    """A domain made from a VMX file and the keys kept without interpretation."""

    domain: Domain
    kept: tuple[str, ...]


def vmx_to_domain(text: str) -> Converted:
    """The domain a VMX file describes; unknown keys go to ``<metadata>`` (never dropped)."""
    vmx = parse_vmx(text)
    used: set[str] = {".encoding"}

    def take(key: str, default: str | None = None) -> str | None:
        if key in vmx:
            used.add(key)
            return vmx[key]
        return default

    name = take("displayname")
    if not name:
        raise vmx_error("no displayName: a domain needs a name")
    uuid = take("uuid.bios")
    memsize = take("memsize", "32") or "32"
    if not memsize.isdigit():
        raise vmx_error(f"memsize '{memsize}' is not a number of MiB")
    memory = int(memsize) * 1024
    mem_max = take("sched.mem.max")
    current = int(mem_max) * 1024 if mem_max and mem_max.isdigit() and \
        int(mem_max) * 1024 < memory else memory
    vcpus_text = take("numvcpus", "1") or "1"
    if not vcpus_text.isdigit() or int(vcpus_text) < 1:
        raise vmx_error(f"numvcpus '{vcpus_text}' is not a positive number")
    vcpus = int(vcpus_text)
    cps = take("cpuid.corespersocket")
    cpu = None
    if cps and cps.isdigit() and int(cps) > 0 and vcpus % int(cps) == 0:
        cpu = Cpu(topology=CpuTopology(sockets=vcpus // int(cps), cores=int(cps), threads=1))
    guest = vmx.get("guestos", "other")  # kept as a key too: it is not modelled in the XML
    arch = "x86_64" if guest.endswith("-64") or "64" in guest else "i686"
    firmware = take("firmware")
    if firmware not in (None, "bios", "efi"):
        raise vmx_error(f"firmware '{firmware}' (bios or efi)")

    controllers: list[Controller] = []
    for key, value in vmx.items():
        m = _CTRL.match(key)
        if m and m.group(3) == "virtualdev" and m.group(1) == "scsi":
            model = SCSI_MODELS.get(value.lower())
            if model is not None:
                used.add(key)
                controllers.append(Controller(type="scsi", index=int(m.group(2)), model=model))
        if m and m.group(3) == "present" and m.group(1) in ("scsi", "sata") and _bool(value):
            used.add(key)
            if m.group(1) == "sata":
                controllers.append(Controller(type="sata", index=int(m.group(2))))
    for key in list(vmx):
        m = _CTRL.match(key)
        if m and m.group(3) == "present" and m.group(1) == "scsi" and _bool(vmx[key]) and \
                not any(c.type == "scsi" and c.index == int(m.group(2)) for c in controllers):
            controllers.append(Controller(type="scsi", index=int(m.group(2))))
    controllers.sort(key=lambda c: (c.type, c.index or 0))

    disks: list[Disk] = []
    slots = sorted({(m.group(1), int(m.group(2)), int(m.group(3)))
                    for k in vmx if (m := _DISK.match(k))})
    for bus, ctrl, unit in slots:
        prefix = f"{bus}{ctrl}:{unit}."
        if not _bool(vmx.get(prefix + "present")):
            continue
        dtype = (vmx.get(prefix + "devicetype") or "").lower()
        fname = vmx.get(prefix + "filename")
        if dtype in ("", "scsi-harddisk", "disk", "ata-harddisk") and fname and \
                fname.lower().endswith(".vmdk"):
            disk = Disk(type="file", device="disk", source=DiskSource(file=fname),
                        target=DiskTarget(dev=disk_target(bus, ctrl, unit), bus=bus))
        elif dtype == "cdrom-image":
            disk = Disk(type="file", device="cdrom",
                        source=DiskSource(file=fname) if fname else None,
                        target=DiskTarget(dev=disk_target(bus, ctrl, unit), bus=bus))
        elif dtype in ("atapi-cdrom", "cdrom-raw"):
            disk = Disk(type="block", device="cdrom",
                        source=DiskSource(dev=fname) if fname else None,
                        target=DiskTarget(dev=disk_target(bus, ctrl, unit), bus=bus))
        else:
            continue  # kept as keys
        used.update({prefix + "present", prefix + "devicetype", prefix + "filename"})
        disks.append(disk)

    nics: list[Interface] = []
    for index in sorted({int(m.group(1)) for k in vmx if (m := _NIC.match(k))}):
        prefix = f"ethernet{index}."
        if not _bool(vmx.get(prefix + "present")):
            continue
        net = vmx.get(prefix + "networkname")
        model = (vmx.get(prefix + "virtualdev") or "vlance").lower()
        atype = (vmx.get(prefix + "addresstype") or "generated").lower()
        mac = vmx.get(prefix + "address") if atype == "static" else \
            vmx.get(prefix + "generatedaddress")
        if not net or model not in NIC_MODELS:
            continue
        used.update({prefix + k for k in ("present", "networkname", "virtualdev")})
        used.add(prefix + ("address" if atype == "static" else "generatedaddress"))
        nics.append(Interface(type="bridge", mac=MacAddress(address=mac) if mac else None,
                              source=InterfaceSource(bridge=net), model=ModelType(type=model)))

    serials: list[Chardev] = []
    for index in sorted({int(m.group(1)) for k in vmx if (m := _SERIAL.match(k))}):
        prefix = f"serial{index}."
        if not _bool(vmx.get(prefix + "present")):
            continue
        ftype = (vmx.get(prefix + "filetype") or "").lower()
        fname = vmx.get(prefix + "filename") or ""
        target = ChardevTarget(port=index)
        if ftype == "file":
            ser = Chardev(type="file", source=ChardevSource(path=fname), target=target)
        elif ftype == "device":
            ser = Chardev(type="dev", source=ChardevSource(path=fname), target=target)
        elif ftype == "pipe":
            ser = Chardev(type="pipe", source=ChardevSource(path=fname), target=target)
        elif ftype == "network":
            m = re.match(r"^(?:tcp|telnet)://([^:]*):(\d+)$", fname)
            if m is None:
                continue
            mode = "bind" if (vmx.get(prefix + "network.endpoint") or "server") == "server" \
                else "connect"
            used.add(prefix + "network.endpoint")
            ser = Chardev(type="tcp", source=ChardevSource(mode=mode, host=m.group(1) or None,
                                                           service=m.group(2)), target=target)
        else:
            continue
        used.update({prefix + "present", prefix + "filetype", prefix + "filename"})
        serials.append(ser)

    graphics: tuple[Graphics, ...] = ()
    if _bool(vmx.get("remotedisplay.vnc.enabled")):
        port_text = take("remotedisplay.vnc.port") or ""
        port = int(port_text) if port_text.isdigit() else -1
        graphics = (Graphics(type="vnc", port=port, autoport=port == -1,
                             listen=take("remotedisplay.vnc.ip") or None,
                             passwd=take("remotedisplay.vnc.password") or None,
                             keymap=take("remotedisplay.vnc.keymap") or None),)
        used.add("remotedisplay.vnc.enabled")

    description = take("annotation")
    kept = sorted(k for k in vmx if k not in used)
    metadata: tuple[str, ...] = ()
    if kept:
        body = "".join(f"<vmx:key name={quoteattr(k)}>{escape(vmx[k])}</vmx:key>" for k in kept)
        metadata = (f'<vmx:keys xmlns:vmx="{NS}">{body}</vmx:keys>',)
    devices = None
    if disks or nics or serials or controllers or graphics:
        devices = Devices(disks=tuple(disks), controllers=tuple(controllers),
                          interfaces=tuple(nics), serials=tuple(serials), graphics=graphics)
    dom = Domain(
        type="vmware", name=name, uuid=_uuid_from_bios(uuid) if uuid else None,
        description=description or None, metadata=metadata, memory=memory,
        current_memory=current, vcpu=Vcpu(count=vcpus), cpu=cpu,
        os=Os(type=OsType(name="hvm", arch=arch), firmware=firmware), devices=devices,
    )
    return Converted(dom, tuple(kept))


# -- domain -> VMX ---------------------------------------------------------------------------


def _kept_keys(dom: Domain) -> list[tuple[str, str]]:
    from lxml import etree

    out: list[tuple[str, str]] = []
    for raw in dom.metadata:
        el = etree.fromstring(raw.encode())
        if el.tag != f"{{{NS}}}keys":
            continue
        for key in el:
            key_name = key.get("name")
            if key.tag == f"{{{NS}}}key" and key_name:
                out.append((key_name.lower(), key.text or ""))
    return out


def domain_to_vmx(dom: Domain) -> str:
    """The VMX file of ``dom`` (keys kept in its metadata included); CONFIG_UNSUPPORTED naming
    what VMX cannot hold."""
    if dom.type != "vmware":
        raise vmx_error(f"domain type '{dom.type}' (VMX describes 'vmware' guests)")
    if dom.memory is None or dom.memory % 1024:
        raise vmx_error(f"domain '{dom.name}': memory must be whole MiB")
    kept = dict(_kept_keys(dom))
    out: list[tuple[str, str]] = [("config.version", kept.pop("config.version", "8"))]
    if "virtualhw.version" in kept:
        out.append(("virtualhw.version", kept.pop("virtualhw.version")))
    out.append(("displayname", dom.name))
    if dom.uuid:
        out.append(("uuid.bios", uuid_to_bios(dom.uuid)))
    if dom.description:
        out.append(("annotation", dom.description))
    out.append(("guestos", kept.pop("guestos", "other-64" if dom.os.type.arch != "i686"
                                    else "other")))
    out.append(("memsize", str(dom.memory // 1024)))
    if dom.current_memory and dom.current_memory < dom.memory:
        out.append(("sched.mem.max", str(dom.current_memory // 1024)))
    vcpus = dom.vcpu.count if dom.vcpu else 1
    out.append(("numvcpus", str(vcpus)))
    if dom.cpu is not None and dom.cpu.topology is not None:
        out.append(("cpuid.corespersocket", str(dom.cpu.topology.cores)))
    if dom.os.firmware:
        out.append(("firmware", dom.os.firmware))
    devices = dom.devices or Devices()
    for ctrl in devices.controllers:
        if ctrl.type == "scsi":
            out.append((f"scsi{ctrl.index or 0}.present", "TRUE"))
            if ctrl.model:
                rev = {v: k for k, v in SCSI_MODELS.items()}
                if ctrl.model not in rev:
                    raise vmx_error(f"SCSI controller model '{ctrl.model}'")
                out.append((f"scsi{ctrl.index or 0}.virtualdev", rev[ctrl.model]))
        elif ctrl.type == "sata":
            out.append((f"sata{ctrl.index or 0}.present", "TRUE"))
        else:
            raise vmx_error(f"<controller type='{ctrl.type}'>")
    for disk in devices.disks:
        bus = disk.target.bus or ("ide" if disk.target.dev.startswith("hd") else "scsi")
        if bus not in ("scsi", "ide", "sata"):
            raise vmx_error(f"disk '{disk.target.dev}' on bus '{bus}' (scsi, ide or sata)")
        number, unit = disk_slot(disk.target.dev, bus)
        prefix = f"{bus}{number}:{unit}."
        src = disk.source
        out.append((prefix + "present", "TRUE"))
        if disk.device in (None, "disk"):
            if src is None or not src.file:
                raise vmx_error(f"disk '{disk.target.dev}' needs a source file")
            out += [(prefix + "devicetype", "scsi-hardDisk" if bus == "scsi" else "disk"),
                    (prefix + "filename", src.file)]
        elif disk.device == "cdrom" and disk.type == "file":
            out.append((prefix + "devicetype", "cdrom-image"))
            if src is not None and src.file:
                out.append((prefix + "filename", src.file))
        elif disk.device == "cdrom" and disk.type == "block":
            out.append((prefix + "devicetype", "atapi-cdrom"))
            if src is not None and src.dev:
                out.append((prefix + "filename", src.dev))
        else:
            raise vmx_error(f"disk '{disk.target.dev}' of device '{disk.device}'")
    for index, nic in enumerate(devices.interfaces):
        prefix = f"ethernet{index}."
        net = nic.source.bridge if nic.type == "bridge" and nic.source else \
            nic.source.network if nic.type == "network" and nic.source else None
        if not net:
            raise vmx_error(f"interface {index}: type '{nic.type}' without a bridge/network")
        out += [(prefix + "present", "TRUE"), (prefix + "networkname", net)]
        model = nic.model.type if nic.model else "e1000"
        if model not in NIC_MODELS:
            raise vmx_error(f"interface model '{model}'")
        out.append((prefix + "virtualdev", model))
        atype = kept.pop(prefix + "addresstype", None)
        if nic.mac is not None:
            mac = nic.mac.address
            if atype is None:
                atype = "static" if not mac.startswith("00:0c:29") else "generated"
            out.append((prefix + "addresstype", atype))
            out.append((prefix + ("address" if atype == "static" else "generatedaddress"), mac))
        elif atype is not None:
            out.append((prefix + "addresstype", atype))
    for index, ser in enumerate(devices.serials):
        port = ser.target.port if ser.target and ser.target.port is not None else index
        prefix = f"serial{port}."
        chr_src = ser.source
        out.append((prefix + "present", "TRUE"))
        if ser.type in ("file", "pipe", "dev") and chr_src is not None and chr_src.path:
            out += [(prefix + "filetype", {"dev": "device"}.get(ser.type, ser.type)),
                    (prefix + "filename", chr_src.path)]
        elif ser.type == "tcp" and chr_src is not None and chr_src.service:
            out += [(prefix + "filetype", "network"),
                    (prefix + "filename", f"tcp://{chr_src.host or ''}:{chr_src.service}"),
                    (prefix + "network.endpoint",
                     "server" if chr_src.mode in (None, "bind") else "client")]
        else:
            raise vmx_error(f"serial port {port} of type '{ser.type}'")
    vnc = [g for g in devices.graphics if g.type == "vnc"]
    if vnc and len(devices.graphics) == 1:
        g = vnc[0]
        out.append(("remotedisplay.vnc.enabled", "TRUE"))
        if g.port is not None and g.port >= 0 and not g.autoport:
            out.append(("remotedisplay.vnc.port", str(g.port)))
        for key, value in (("ip", g.listen), ("password", g.passwd), ("keymap", g.keymap)):
            if value:
                out.append((f"remotedisplay.vnc.{key}", value))
    others = [f for f in attrs.fields(Devices) if f.name not in
              ("disks", "interfaces", "serials", "controllers")
              and getattr(devices, f.name) and not (f.name == "graphics" and vnc
                                                    and len(devices.graphics) == 1)]
    if others:
        raise vmx_error(f"domain '{dom.name}': <{others[0].name}> has no VMX form here")
    have = {k for k, _ in out}
    out += [(k, v) for k, v in kept.items() if k not in have]
    return format_vmx(out)


def main(argv: list[str] | None = None) -> int:
    """``virtkit-vmx from-native FILE.vmx`` / ``virtkit-vmx to-native FILE.xml``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in ("from-native", "to-native"):
        print("usage: virtkit-vmx from-native FILE.vmx | to-native FILE.xml", file=sys.stderr)
        return 2
    try:
        with open(args[1], encoding="utf-8") as f:
            text = f.read()
        if args[0] == "from-native":
            conv = vmx_to_domain(text)
            if conv.kept:
                print(f"virtkit-vmx: kept {len(conv.kept)} VMX key(s) in <metadata>: "
                      f"{', '.join(conv.kept)}", file=sys.stderr)
            sys.stdout.write(conv.domain.to_xml())
        else:
            sys.stdout.write(domain_to_vmx(Domain.from_xml(text)))
    except OSError as exc:
        print(f"virtkit-vmx: {args[1]}: {exc.strerror}", file=sys.stderr)
        return 1
    except VirtError as exc:
        print(f"virtkit-vmx: {exc.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
