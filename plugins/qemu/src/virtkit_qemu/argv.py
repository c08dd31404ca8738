"""Domain XML to QEMU command line: a pure function, checked by golden files (XML in, argv out).

:func:`build` takes the parsed :class:`virtkit.xml.domain.Domain` and a :class:`Launch` (the
emulator, the resolved machine type, the accelerator and the guest's socket paths) and returns
the argv. Nothing here touches the host; :mod:`virtkit_qemu.files` checks files before start.

Rules kept here: ``-sandbox on`` with every optional deny; ``-nodefaults`` and
``-no-user-config`` so only what the XML says is created; every disk's format is the declared
one (``raw`` when none is declared) and is passed to ``-blockdev``, so QEMU never probes an image;
the monitor, VNC and serial sockets live in the guest's 0700 directory.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.xml.domain import Chardev, Disk, Domain, Interface

SANDBOX = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"

DISK_FORMATS = ("raw", "qcow2")
NIC_MODELS = {"virtio": "virtio-net-pci", "e1000": "e1000", "rtl8139": "rtl8139",
              "e1000e": "e1000e"}
# cache mode -> (cache.direct, cache.no-flush, device write-cache)
CACHE_MODES = {
    "default": (False, False, True), "writeback": (False, False, True),
    "none": (True, False, True), "writethrough": (False, False, False),
    "directsync": (True, False, False), "unsafe": (False, True, True),
}
WATCHDOG_ACTIONS = {"reset": "reset", "shutdown": "shutdown", "poweroff": "poweroff",
                    "pause": "pause", "none": "none", "inject-nmi": "inject-nmi",
                    "dump": "pause"}


@attrs.frozen
class Launch:
    """What the command line needs besides the XML."""

    binary: str
    machine: str  # resolved machine type (pc-i440fx-7.2)
    accel: str  # kvm or tcg
    guest_dir: str  # the guest's private directory: sockets live here
    vnc_port: int | None = None  # chosen by the driver for autoport
    ovmf: tuple[str, str] | None = None
    nvram: str | None = None
    tap_names: tuple[str, ...] = ()  # one per bridge interface, created by the driver

    @property
    def qmp(self) -> str:
        return f"{self.guest_dir}/qmp.sock"

    def chardev_socket(self, alias: str) -> str:
        return f"{self.guest_dir}/{alias}.sock"

    @property
    def console_log(self) -> str:
        return f"{self.guest_dir}/console.log"


def unsupported(message: str) -> VirtError:
    return VirtError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: {message}",
                     ErrorDomain.QEMU)


def _kv(**opts: Any) -> str:
    parts = []
    for key, value in opts.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "on" if value else "off"
        parts.append(f"{key.replace('_', '-')}={str(value).replace(',', ',,')}")
    return ",".join(parts)


def disk_format(disk: Disk) -> str:
    """The declared format (raw when none is declared); never probed."""
    fmt = (disk.driver.type if disk.driver is not None and disk.driver.type else None) or "raw"
    if fmt not in DISK_FORMATS:
        raise unsupported(f"disk '{disk.target.dev}': format '{fmt}' (supported: raw, qcow2)")
    return fmt


def disk_source(disk: Disk) -> str | None:
    """The host path of a file or block disk, None for an empty cdrom."""
    if disk.type not in ("file", "block"):
        raise unsupported(
            f"disk '{disk.target.dev}' of type '{disk.type}' (file and block disks only; "
            f"volume and network disks need the host storage service)")
    src = disk.source
    if src is None:
        return None
    return src.file if disk.type == "file" else src.dev


def disk_node(disk: Disk) -> str:
    return f"drive-{disk.target.dev}"


def disk_alias(disk: Disk) -> str:
    return disk.alias.name if disk.alias is not None else f"disk-{disk.target.dev}"


def blockdev_args(disk: Disk) -> list[dict[str, Any]]:
    """The ``-blockdev`` (and QMP ``blockdev-add``) objects of one disk: protocol, then format."""
    path = disk_source(disk)
    if path is None:
        return []
    mode = (disk.driver.cache if disk.driver is not None else None) or "default"
    direct, no_flush, _ = CACHE_MODES[mode]
    cache = {"direct": direct, "no-flush": no_flush}
    readonly = disk.readonly or disk.device == "cdrom"
    proto: dict[str, Any] = {
        "driver": "file" if disk.type == "file" else "host_device",
        "filename": path, "node-name": f"{disk_node(disk)}-storage",
        "auto-read-only": True, "cache": cache,
    }
    if disk.driver is not None and disk.driver.discard:
        proto["discard"] = disk.driver.discard
    if disk.driver is not None and disk.driver.io in ("native", "io_uring"):
        proto["aio"] = disk.driver.io
    fmt = {"node-name": disk_node(disk), "driver": disk_format(disk),
           "file": proto["node-name"], "read-only": readonly, "cache": cache}
    return [proto, fmt]


def disk_device(disk: Disk, machine: str, index: dict[str, int]) -> dict[str, Any]:
    """The ``-device`` (and ``device_add``) properties of one disk."""
    bus = disk.target.bus or ("ide" if disk.device == "cdrom" else "virtio")
    has_media = disk_source(disk) is not None
    mode = (disk.driver.cache if disk.driver is not None else None) or "default"
    props: dict[str, Any] = {"id": disk_alias(disk)}
    if has_media:
        props["drive"] = disk_node(disk)
    if disk.device == "cdrom":
        if bus not in ("ide", "sata", "scsi"):
            raise unsupported(f"cdrom '{disk.target.dev}' on bus '{bus}'")
        props["driver"] = "scsi-cd" if bus == "scsi" else "ide-cd"
    elif disk.device in (None, "disk"):
        props["driver"] = {"virtio": "virtio-blk-pci", "ide": "ide-hd", "sata": "ide-hd",
                           "scsi": "scsi-hd"}.get(bus, "")
        if not props["driver"]:
            raise unsupported(f"disk '{disk.target.dev}' on bus '{bus}'")
        props["write-cache"] = CACHE_MODES[mode][2]
    else:
        raise unsupported(f"disk '{disk.target.dev}' of device kind '{disk.device}'")
    if bus == "ide":
        if machine.startswith(("pc-q35", "q35")):
            raise unsupported(f"disk '{disk.target.dev}': q35 machines have no IDE bus (use sata)")
        n = _ide_index(disk.target.dev)
        props["bus"] = f"ide.{n // 2}"
        props["unit"] = n % 2
    elif bus == "sata":
        if not machine.startswith(("pc-q35", "q35")):
            raise unsupported(f"disk '{disk.target.dev}': sata needs a q35 machine")
        props["bus"] = f"ide.{_ide_index(disk.target.dev)}"
    elif bus == "scsi":
        props["bus"] = "scsi0.0"
        props["scsi-id"] = _ide_index(disk.target.dev)
    if disk.serial:
        props["serial"] = disk.serial
    if disk.boot is not None:
        props["bootindex"] = disk.boot.order
    return props


def _ide_index(dev: str) -> int:
    """hda -> 0, hdb -> 1, sdc -> 2."""
    return ord(dev[-1]) - ord("a") if dev[-1].isalpha() else 0


def nic_args(iface: Interface, index: int, tap: str | None) -> tuple[dict[str, Any],
                                                                      dict[str, Any]]:
    """(netdev, device) objects of one interface."""
    alias = iface.alias.name if iface.alias is not None else f"net{index}"
    netdev: dict[str, Any] = {"id": f"host{alias}"}
    if iface.type == "user":
        netdev["type"] = "user"
    elif iface.type in ("bridge", "ethernet"):
        if tap is None:
            raise unsupported(f"interface {index}: no tap device for type '{iface.type}'")
        netdev.update(type="tap", ifname=tap, script="no", downscript="no")
    elif iface.type == "network":
        raise unsupported(
            f"interface {index} of type 'network' needs the host network service, which this "
            f"driver does not use yet (use type 'user' or 'bridge')")
    else:
        raise unsupported(f"interface {index} of type '{iface.type}'")
    model = iface.model.type if iface.model is not None else "virtio"
    driver = NIC_MODELS.get(model)
    if driver is None:
        raise unsupported(f"interface {index}: model '{model}' "
                          f"(supported: {', '.join(sorted(NIC_MODELS))})")
    device: dict[str, Any] = {"driver": driver, "netdev": netdev["id"], "id": alias}
    if iface.mac is not None:
        device["mac"] = iface.mac.address
    if iface.boot is not None:
        device["bootindex"] = iface.boot.order
    return netdev, device


def _device(props: dict[str, Any]) -> str:
    props = dict(props)
    driver = props.pop("driver")
    rest = _kv(**{k.replace("-", "_"): v for k, v in props.items()})
    return f"{driver},{rest}" if rest else str(driver)


def _chardev(dev: Chardev, alias: str, launch: Launch, log: bool) -> str:
    opts: dict[str, Any] = {"id": f"char{alias}"}
    if dev.type == "pty":
        kind = "pty"
    elif dev.type == "unix":
        kind = "socket"
        path = dev.source.path if dev.source is not None and dev.source.path else None
        opts["path"] = path or launch.chardev_socket(alias)
        connect = dev.source is not None and dev.source.mode == "connect"
        opts["server"] = not connect
        if not connect:
            opts["wait"] = False
    elif dev.type == "null":
        kind = "null"
    elif dev.type == "file":
        if dev.source is None or not dev.source.path:
            raise unsupported(f"{alias}: a file chardev needs <source path=...>")
        kind = "file"
        opts["path"] = dev.source.path
    else:
        raise unsupported(f"{alias}: character device type '{dev.type}' (pty, unix, file, null)")
    if log:
        opts["logfile"] = launch.console_log
        opts["logappend"] = True
    return f"{kind},{_kv(**opts)}"


def build(dom: Domain, launch: Launch) -> list[str]:
    """The argv that starts ``dom`` (paused: the driver resumes it once its monitor is up)."""
    argv = [launch.binary, "-name", f"guest={dom.name},debug-threads=on", "-S",
            "-uuid", str(dom.uuid),
            "-no-user-config", "-nodefaults", "-sandbox", SANDBOX, "-msg", "timestamp=on"]
    acpi = dom.features is not None and dom.features.acpi
    machine: dict[str, Any] = {"type": launch.machine, "accel": launch.accel,
                               "usb": False, "dump-guest-core": False}
    if not acpi:
        machine["acpi"] = False
    argv += ["-machine", _kv(**{k.replace("-", "_"): v for k, v in machine.items()})]
    argv += ["-cpu", _cpu(dom, launch)]

    # firmware
    os_ = dom.os
    if os_.loader is not None and os_.loader.path:
        if os_.loader.type == "pflash":
            argv += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={os_.loader.path}"]
            if launch.nvram:
                argv += ["-drive", f"if=pflash,format=raw,unit=1,file={launch.nvram}"]
        else:
            argv += ["-bios", os_.loader.path]
    elif os_.firmware == "efi":
        if launch.ovmf is None:
            raise unsupported("UEFI firmware requested but OVMF is not installed")
        argv += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={launch.ovmf[0]}"]
        if launch.nvram:
            argv += ["-drive", f"if=pflash,format=raw,unit=1,file={launch.nvram}"]

    # memory and cpus
    mem = dom.memory  # boot with the full size; the driver sets the balloon after start
    assert mem is not None
    mem_opt = f"size={mem}k"
    if dom.max_memory is not None:
        mem_opt += f",slots={dom.max_memory.slots or 1},maxmem={dom.max_memory.kib}k"
    argv += ["-m", mem_opt]
    vcpu = dom.vcpu
    total = vcpu.count if vcpu is not None else 1
    current = vcpu.current if vcpu is not None and vcpu.current is not None else total
    # boot with one vcpu; the others are -device cpus, so every vcpu but the first unplugs
    smp: dict[str, Any] = {"cpus": 1, "maxcpus": total}
    topo = dom.cpu.topology if dom.cpu is not None else None
    if topo is not None:
        if topo.sockets * (topo.dies or 1) * topo.cores * topo.threads != total:
            raise unsupported(
                f"cpu topology {topo.sockets}x{topo.cores}x{topo.threads} does not match "
                f"{total} vcpus")
        smp.update(sockets=topo.sockets, dies=topo.dies, cores=topo.cores,
                   threads=topo.threads)
    else:
        smp.update(sockets=total, cores=1, threads=1)
    argv += ["-smp", _kv(**smp)]
    model = argv[argv.index("-cpu") + 1].split(",")[0]
    for n in range(1, current):
        argv += ["-device", _kv_device(cpu_device(model, n, topo_tuple(dom)))]

    argv += ["-chardev", f"socket,id=charmonitor,path={launch.qmp},server=on,wait=off",
             "-mon", "chardev=charmonitor,id=monitor,mode=control"]
    offset = dom.clock.offset if dom.clock is not None and dom.clock.offset else "utc"
    argv += ["-rtc", f"base={'localtime' if offset == 'localtime' else 'utc'}"]
    argv += ["-boot", "strict=on"]
    if os_.kernel:
        argv += ["-kernel", os_.kernel]
        if os_.initrd:
            argv += ["-initrd", os_.initrd]
        if os_.cmdline:
            argv += ["-append", os_.cmdline]
    actions = []
    if dom.on_reboot == "destroy":
        actions.append("reboot=shutdown")
    argv += ["-no-shutdown"]  # the driver decides what a guest shutdown means
    devs = dom.devices
    if devs is not None and devs.panics:
        actions.append("panic=pause")
    if devs is not None and devs.watchdogs:
        actions.append(f"watchdog={WATCHDOG_ACTIONS[devs.watchdogs[0].action or 'reset']}")
    for action in actions:
        argv += ["-action", action]
    argv += _devices(dom, launch)
    return argv


def topo_tuple(dom: Domain) -> tuple[int, int, int, int]:
    """(sockets, dies, cores, threads) of the guest."""
    topo = dom.cpu.topology if dom.cpu is not None else None
    total = dom.vcpu.count if dom.vcpu is not None else 1
    if topo is None:
        return (total, 1, 1, 1)
    return (topo.sockets, topo.dies or 1, topo.cores, topo.threads)


def cpu_device(model: str, n: int, topo: tuple[int, int, int, int]) -> dict[str, Any]:
    """The ``device_add`` properties of vcpu ``n`` (0-based, in socket/die/core/thread order)."""
    _, dies, cores, threads = topo
    thread = n % threads
    core = (n // threads) % cores
    die = (n // (threads * cores)) % dies
    sock = n // (threads * cores * dies)
    props: dict[str, Any] = {"driver": f"{model}-x86_64-cpu", "id": f"vcpu{n}",
                             "socket-id": sock, "core-id": core, "thread-id": thread}
    if dies > 1:
        props["die-id"] = die
    return props


def _kv_device(props: dict[str, Any]) -> str:
    return _device(props)


def _cpu(dom: Domain, launch: Launch) -> str:
    cpu = dom.cpu
    mode = cpu.mode if cpu is not None else None
    if mode == "host-passthrough":
        if launch.accel != "kvm":
            raise unsupported("cpu mode 'host-passthrough' needs KVM (domain type 'kvm')")
        return "host"
    if mode == "maximum":
        return "max"
    if mode == "host-model":
        return "host" if launch.accel == "kvm" else "max"
    if cpu is not None and cpu.model is not None and cpu.model.name:
        name = cpu.model.name
        feats = "".join(
            f",{'+' if f.policy in (None, 'require', 'force') else '-'}{f.name}"
            for f in cpu.features if f.policy != "optional")
        return f"{name}{feats}"
    return "qemu64"


def _devices(dom: Domain, launch: Launch) -> list[str]:
    devs = dom.devices
    argv: list[str] = []
    if devs is None:
        return ["-display", "none", "-device", "virtio-balloon-pci,id=balloon0"]
    index: dict[str, int] = {}
    if any(d.target.bus == "scsi" for d in devs.disks):
        argv += ["-device", "virtio-scsi-pci,id=scsi0"]
    for disk in devs.disks:
        for obj in blockdev_args(disk):
            argv += ["-blockdev", json.dumps(obj, separators=(",", ":"))]
        argv += ["-device", _device(disk_device(disk, launch.machine, index))]
    taps = iter(launch.tap_names)
    for i, iface in enumerate(devs.interfaces):
        tap = next(taps, None) if iface.type in ("bridge", "ethernet") else None
        netdev, device = nic_args(iface, i, tap)
        nd = dict(netdev)
        argv += ["-netdev", f"{nd.pop('type')},{_kv(**nd)}", "-device", _device(device)]
    # serials (a <console> of target serial is the first serial, as libvirt treats it)
    serials = list(devs.serials)
    if not serials:
        serials += [c for c in devs.consoles
                    if c.target is None or c.target.type in (None, "serial")]
    for i, ser in enumerate(serials):
        alias = f"serial{i}"
        argv += ["-chardev", _chardev(ser, alias, launch, log=i == 0),
                 "-device", f"isa-serial,chardev=char{alias},id={alias}"]
    virtio_consoles = [c for c in devs.consoles if c.target is not None
                       and c.target.type == "virtio"]
    if devs.channels or virtio_consoles:
        argv += ["-device", "virtio-serial-pci,id=virtio-serial0"]
    for i, con in enumerate(virtio_consoles):
        alias = f"console{i + 1}"
        argv += ["-chardev", _chardev(con, alias, launch, log=not serials and i == 0),
                 "-device", f"virtconsole,chardev=char{alias},id={alias}"]
    for i, chan in enumerate(devs.channels):
        alias = f"channel{i}"
        if chan.target is None or chan.target.type != "virtio":
            raise unsupported(f"channel {i}: only virtio channels")
        argv += ["-chardev", _chardev(chan, alias, launch, log=False),
                 "-device", _device({"driver": "virtserialport", "bus": "virtio-serial0.0",
                                     "nr": i + 1, "chardev": f"char{alias}", "id": alias,
                                     "name": chan.target.name})]
    vnc = [g for g in devs.graphics if g.type == "vnc"]
    if [g for g in devs.graphics if g.type != "vnc"]:
        raise unsupported("graphics other than VNC")
    if vnc:
        g = vnc[0]
        sock = g.socket or next((li.socket for li in g.listens if li.type == "socket"), None)
        if sock is not None:
            spec = f"unix:{sock}"
        else:
            listen = g.listen or next((li.address for li in g.listens if li.address),
                                      None) or "127.0.0.1"
            port = g.port if g.port is not None and g.port >= 5900 else launch.vnc_port
            if port is None:
                raise unsupported("VNC without a port")
            spec = f"{listen}:{port - 5900}"
        if g.passwd is not None:
            spec += ",password=on"
        argv += ["-vnc", spec, "-device", "VGA,id=video0"]
    else:
        argv += ["-display", "none"]
    for i, rng in enumerate(devs.rngs):
        backend = rng.backend
        if backend.model == "random":
            rng_obj = f"rng-random,id=objrng{i},filename={backend.path or '/dev/urandom'}"
        elif backend.model == "builtin":
            rng_obj = f"rng-builtin,id=objrng{i}"
        else:
            raise unsupported(f"rng backend '{backend.model}'")
        dev = f"virtio-rng-pci,rng=objrng{i},id=rng{i}"
        if rng.rate is not None:
            dev += f",max-bytes={rng.rate.bytes},period={rng.rate.period or 1000}"
        argv += ["-object", rng_obj, "-device", dev]
    for i, wd in enumerate(devs.watchdogs):
        if wd.model not in ("i6300esb", "ib700"):
            raise unsupported(f"watchdog model '{wd.model}'")
        argv += ["-device", f"{wd.model},id=watchdog{i}"]
    for _ in devs.panics:
        argv += ["-device", "pvpanic,id=panic0"]
    bal = devs.memballoon
    if bal is None or bal.model != "none":
        props = "virtio-balloon-pci,id=balloon0"
        if bal is not None and bal.autodeflate is not None:
            props += f",deflate-on-oom={'on' if bal.autodeflate else 'off'}"
        if bal is not None and bal.free_page_reporting is not None:
            props += f",free-page-reporting={'on' if bal.free_page_reporting else 'off'}"
        argv += ["-device", props]
    if devs.hostdevs:
        raise unsupported("host devices (<hostdev>)")
    if devs.filesystems:
        raise unsupported("filesystem passthrough (<filesystem>)")
    return argv
