"""The domain document (libvirt's ``<domain>``, https://libvirt.org/formatdomain.html).

``Domain.from_xml(text)`` parses, checks the semantic rules and returns a frozen model;
``dom.to_xml()`` formats it the way libvirt's dumpxml does; ``dom.with_defaults()`` fills what
libvirt fills on define (uuid, currentMemory, vcpu, lifecycle actions, clock, MAC addresses).
"""

# Field helpers (attr, child, ...) build attrs fields; they are not shared mutable defaults.
# ruff: noqa: RUF009

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import attrs
from lxml import etree

from virtkit.xml._model import (
    DEV,
    HOST,
    INT,
    NAME,
    ONOFF,
    PATH,
    UINT,
    UUID,
    YESNO,
    Model,
    ParseContext,
    attr,
    child,
    child_text,
    child_texts,
    children,
    flag,
    raw,
    replace,
    text,
    unit,
    unit_text,
)
from virtkit.xml.common import Address, Alias, Boot, MacAddress, State
from virtkit.xml.parser import parse_document, xml_error

__all__ = [
    "DOMAIN_TYPES",
    "OS_TYPES",
    "BlkioTune",
    "Channel",
    "Chardev",
    "ChardevSource",
    "ChardevTarget",
    "Clock",
    "Console",
    "Controller",
    "Cpu",
    "CpuFeature",
    "CpuModel",
    "CpuTopology",
    "CpuTune",
    "Devices",
    "Disk",
    "DiskDriver",
    "DiskSource",
    "DiskTarget",
    "Domain",
    "Features",
    "Filesystem",
    "Graphics",
    "GraphicsListen",
    "Hostdev",
    "IdMap",
    "IdMapRange",
    "InitEnv",
    "Input",
    "Interface",
    "IoThread",
    "IoThreadIds",
    "Loader",
    "MemTune",
    "Memballoon",
    "Os",
    "OsType",
    "Panic",
    "Rng",
    "Serial",
    "Sound",
    "Timer",
    "Tpm",
    "Vcpu",
    "VcpuState",
    "VcpuStates",
    "Video",
    "Watchdog",
    "random_mac",
    "type_choices",
]

#: libvirt's built-in domain types (``<domain type='...'>``): accepted unless a driver passes
#: its own set (``Domain.from_xml(text, domain_types=...)``).
DOMAIN_TYPES: tuple[str, ...] = (
    "qemu", "kqemu", "kvm", "xen", "lxc", "uml", "openvz", "test", "vmware", "hyperv", "vbox",
    "phyp", "vz", "bhyve", "ch",
)
#: libvirt's built-in OS types (``<os><type>...</type>``): accepted unless a driver passes its
#: own set (``Domain.from_xml(text, os_types=...)``).
OS_TYPES: tuple[str, ...] = ("hvm", "xen", "linux", "xenpvh", "exe", "uml")
LIFECYCLE = ("destroy", "restart", "preserve", "rename-restart")
CRASH = (*LIFECYCLE, "coredump-destroy", "coredump-restart")


def random_mac() -> str:
    """A locally administered MAC in libvirt's 52:54:00 (QEMU/KVM) prefix."""
    b = os.urandom(3)
    return f"52:54:00:{b[0]:02x}:{b[1]:02x}:{b[2]:02x}"


# ---------------------------------------------------------------- general sections


@attrs.frozen(kw_only=True)
class BlkioTune(Model):
    """``<blkiotune><weight>500</weight></blkiotune>`` (per-device settings are not modelled)."""

    weight: int | None = child_text(conv=UINT)


@attrs.frozen(kw_only=True)
class MemTune(Model):
    """``<memtune>``: the limits in KiB."""

    hard_limit: int | None = unit()
    soft_limit: int | None = unit()
    swap_hard_limit: int | None = unit()
    min_guarantee: int | None = unit()


@attrs.frozen(kw_only=True)
class CpuTune(Model):
    """``<cputune>``: shares and CFS bandwidth (pinning is not modelled)."""

    shares: int | None = child_text(conv=UINT)
    period: int | None = child_text(conv=UINT)
    quota: int | None = child_text(conv=INT)
    global_period: int | None = child_text(conv=UINT)
    global_quota: int | None = child_text(conv=INT)
    emulator_period: int | None = child_text(conv=UINT)
    emulator_quota: int | None = child_text(conv=INT)


@attrs.frozen(kw_only=True)
class IdMapRange(Model):
    """``<uid start='0' target='100000' count='65536'/>`` (or ``<gid .../>``)."""

    start: int = attr(conv=UINT, required=True)
    target: int = attr(conv=UINT, required=True)
    count: int = attr(conv=UINT, required=True)


@attrs.frozen(kw_only=True)
class IdMap(Model):
    """``<idmap>``: a container's user namespace maps."""

    uids: tuple[IdMapRange, ...] = children(IdMapRange, "uid")
    gids: tuple[IdMapRange, ...] = children(IdMapRange, "gid")


@attrs.frozen(kw_only=True)
class MaxMemory(Model):
    slots: int | None = attr(conv=UINT)
    kib: int = unit_text(required=True)


@attrs.frozen(kw_only=True)
class Vcpu(Model):
    """``<vcpu placement='static' cpuset='1-3' current='2'>4</vcpu>``."""

    placement: str | None = attr(choices=("static", "auto"))
    cpuset: str | None = attr()
    current: int | None = attr(conv=UINT)
    count: int = text(conv=UINT, required=True)


@attrs.frozen(kw_only=True)
class VcpuState(Model):
    """``<vcpu id='1' enabled='yes' hotpluggable='yes' order='2'/>`` inside ``<vcpus>``."""

    id: int = attr(conv=UINT, required=True)
    enabled: bool | None = attr(conv=YESNO)
    hotpluggable: bool | None = attr(conv=YESNO)
    order: int | None = attr(conv=UINT)


@attrs.frozen(kw_only=True)
class VcpuStates(Model):
    """``<vcpus>``: each vcpu's state (enabled or not, hotpluggable or not)."""

    vcpus: tuple[VcpuState, ...] = children(VcpuState, "vcpu")


@attrs.frozen(kw_only=True)
class IoThread(Model):
    """``<iothread id='2'/>`` inside ``<iothreadids>``."""

    id: int = attr(conv=UINT, required=True)


@attrs.frozen(kw_only=True)
class IoThreadIds(Model):
    """``<iothreadids>``: the IOThreads' ids (those not listed up to ``<iothreads>``'s count
    take the lowest free ids)."""

    iothreads: tuple[IoThread, ...] = children(IoThread, "iothread")


@attrs.frozen(kw_only=True)
class OsType(Model):
    arch: str | None = attr()
    machine: str | None = attr()
    name: str = text(choices=OS_TYPES, required=True)


@attrs.frozen(kw_only=True)
class Loader(Model):
    readonly: bool | None = attr(conv=YESNO)
    secure: bool | None = attr(conv=YESNO)
    type: str | None = attr(choices=("rom", "pflash"))
    path: str | None = text(conv=PATH)


@attrs.frozen(kw_only=True)
class Nvram(Model):
    template: str | None = attr(conv=PATH)
    path: str | None = text(conv=PATH)


@attrs.frozen(kw_only=True)
class BootDev(Model):
    dev: str = attr(choices=("hd", "fd", "cdrom", "network"), required=True)


@attrs.frozen(kw_only=True)
class BootMenu(Model):
    enable: bool = attr(conv=YESNO, required=True)
    timeout: int | None = attr(conv=UINT)


@attrs.frozen(kw_only=True)
class InitEnv(Model):
    """``<initenv name='MODE'>prod</initenv>``: one variable of a container's init."""

    name: str = attr(required=True)
    value: str | None = text()


@attrs.frozen(kw_only=True)
class Os(Model):
    """``<os>``: type/arch/machine, firmware loader and NVRAM, direct kernel boot, boot order."""

    firmware: str | None = attr(choices=("bios", "efi"))
    type: OsType = child(OsType, required=True)
    loader: Loader | None = child(Loader)
    nvram: Nvram | None = child(Nvram)
    init: str | None = child_text(conv=PATH)
    initargs: tuple[str, ...] = child_texts("initarg")
    initenvs: tuple[InitEnv, ...] = children(InitEnv, "initenv")
    initdir: str | None = child_text(conv=PATH)
    inituser: str | None = child_text()
    initgroup: str | None = child_text()
    kernel: str | None = child_text(conv=PATH)
    initrd: str | None = child_text(conv=PATH)
    cmdline: str | None = child_text()
    dtb: str | None = child_text(conv=PATH)
    boot: tuple[BootDev, ...] = children(BootDev, "boot")
    bootmenu: BootMenu | None = child(BootMenu)


@attrs.frozen(kw_only=True)
class Apic(Model):
    eoi: bool | None = attr(conv=ONOFF)


@attrs.frozen(kw_only=True)
class Features(Model):
    """``<features>``: acpi, apic, pae, hap and a few common switches."""

    pae: bool = flag()
    acpi: bool = flag()
    apic: Apic | None = child(Apic)
    hap: State | None = child(State)
    privnet: bool = flag()
    vmport: State | None = child(State)
    pvspinlock: State | None = child(State)
    smm: State | None = child(State)
    vmcoreinfo: State | None = child(State)


@attrs.frozen(kw_only=True)
class CpuModel(Model):
    fallback: str | None = attr(choices=("allow", "forbid"))
    vendor_id: str | None = attr()
    name: str | None = text()


@attrs.frozen(kw_only=True)
class CpuTopology(Model):
    sockets: int = attr(conv=UINT, required=True)
    dies: int | None = attr(conv=UINT)
    cores: int = attr(conv=UINT, required=True)
    threads: int = attr(conv=UINT, required=True)


@attrs.frozen(kw_only=True)
class CpuFeature(Model):
    policy: str | None = attr(choices=("force", "require", "optional", "disable", "forbid"))
    name: str = attr(required=True)


@attrs.frozen(kw_only=True)
class Cpu(Model):
    """``<cpu mode='host-model'>`` with model, vendor, topology and features."""

    mode: str | None = attr(
        choices=("custom", "host-model", "host-passthrough", "maximum")
    )
    match: str | None = attr(choices=("minimum", "exact", "strict"))
    check: str | None = attr(choices=("none", "partial", "full"))
    migratable: bool | None = attr(conv=ONOFF)
    model: CpuModel | None = child(CpuModel)
    vendor: str | None = child_text()
    topology: CpuTopology | None = child(CpuTopology)
    features: tuple[CpuFeature, ...] = children(CpuFeature, "feature")


@attrs.frozen(kw_only=True)
class Timer(Model):
    name: str = attr(
        choices=("platform", "pit", "rtc", "hpet", "tsc", "kvmclock", "hypervclock", "armvtimer"),
        required=True,
    )
    tickpolicy: str | None = attr(choices=("delay", "catchup", "merge", "discard"))
    track: str | None = attr(choices=("boot", "guest", "wall", "realtime"))
    present: bool | None = attr(conv=YESNO)


@attrs.frozen(kw_only=True)
class Clock(Model):
    offset: str | None = attr(choices=("utc", "localtime", "timezone", "variable", "absolute"))
    timezone: str | None = attr()
    adjustment: str | None = attr()
    basis: str | None = attr(choices=("utc", "localtime"))
    timers: tuple[Timer, ...] = children(Timer, "timer")


# ---------------------------------------------------------------- devices

DISK_BUSES = ("ide", "scsi", "virtio", "xen", "usb", "uml", "sata", "sd", "fdc", "none")


@attrs.frozen(kw_only=True)
class DiskDriver(Model):
    name: str | None = attr()
    type: str | None = attr()
    cache: str | None = attr(
        choices=("default", "none", "writethrough", "writeback", "directsync", "unsafe")
    )
    io: str | None = attr(choices=("threads", "native", "io_uring"))
    discard: str | None = attr(choices=("ignore", "unmap"))
    error_policy: str | None = attr(choices=("stop", "report", "ignore", "enospace"))
    iothread: int | None = attr(conv=UINT)


@attrs.frozen(kw_only=True)
class SourceHost(Model):
    name: str | None = attr(conv=HOST)
    port: int | None = attr(conv=UINT)
    transport: str | None = attr(choices=("tcp", "unix", "rdma"))
    socket: str | None = attr(conv=PATH)


@attrs.frozen(kw_only=True)
class DiskSource(Model):
    """``<source>`` of a disk: ``file`` (type file), ``dev`` (block), ``dir`` (dir),
    ``protocol``/``name``/hosts (network), ``pool``/``volume``/``mode`` (volume)."""

    file: str | None = attr(conv=PATH)
    dev: str | None = attr(conv=PATH)
    dir: str | None = attr(conv=PATH)
    protocol: str | None = attr(
        choices=("nbd", "iscsi", "rbd", "sheepdog", "gluster", "http", "https", "ftp", "ftps",
                 "tftp", "ssh", "vxhs", "nfs")
    )
    name: str | None = attr()
    pool: str | None = attr(conv=NAME)
    volume: str | None = attr()
    mode: str | None = attr(choices=("host", "direct"))
    startup_policy: str | None = attr("startupPolicy", choices=("mandatory", "requisite",
                                                                 "optional"))
    hosts: tuple[SourceHost, ...] = children(SourceHost, "host")


@attrs.frozen(kw_only=True)
class DiskTarget(Model):
    dev: str = attr(conv=DEV, required=True)
    bus: str | None = attr(choices=DISK_BUSES)
    tray: str | None = attr(choices=("open", "closed"))
    removable: bool | None = attr(conv=ONOFF)


@attrs.frozen(kw_only=True)
class Disk(Model):
    """``<disk type='file|block|dir|network|volume' device='disk|cdrom|floppy|lun'>``."""

    type: str = attr(
        choices=("file", "block", "dir", "network", "volume", "nvme", "vhostuser"), required=True
    )
    device: str | None = attr(choices=("disk", "cdrom", "floppy", "lun"))
    snapshot: str | None = attr(choices=("internal", "external", "no", "manual"))
    driver: DiskDriver | None = child(DiskDriver)
    source: DiskSource | None = child(DiskSource)
    target: DiskTarget = child(DiskTarget, required=True)
    readonly: bool = flag()
    shareable: bool = flag()
    transient: bool = flag()
    serial: str | None = child_text()
    wwn: str | None = child_text()
    boot: Boot | None = child(Boot)
    alias: Alias | None = child(Alias)
    address: Address | None = child(Address)


@attrs.frozen(kw_only=True)
class FsDriver(Model):
    type: str | None = attr(choices=("path", "handle", "loop", "nbd", "ploop", "virtiofs"))
    format: str | None = attr()
    wrpolicy: str | None = attr(choices=("immediate",))


@attrs.frozen(kw_only=True)
class FsSource(Model):
    dir: str | None = attr(conv=PATH)
    file: str | None = attr(conv=PATH)
    dev: str | None = attr(conv=PATH)
    name: str | None = attr()
    pool: str | None = attr(conv=NAME)
    volume: str | None = attr()
    usage: int | None = attr(conv=UINT)
    units: str | None = attr()
    socket: str | None = attr(conv=PATH)


@attrs.frozen(kw_only=True)
class FsTarget(Model):
    dir: str = attr(required=True)


@attrs.frozen(kw_only=True)
class Filesystem(Model):
    type: str | None = attr(
        choices=("mount", "block", "file", "template", "ram", "bind", "volume")
    )
    accessmode: str | None = attr(choices=("passthrough", "mapped", "squash"))
    driver: FsDriver | None = child(FsDriver)
    source: FsSource | None = child(FsSource)
    target: FsTarget = child(FsTarget, required=True)
    readonly: bool = flag()
    alias: Alias | None = child(Alias)
    address: Address | None = child(Address)


CONTROLLER_TYPES = (
    "ide", "fdc", "scsi", "sata", "usb", "ccid", "virtio-serial", "pci", "xenbus", "isa", "nvme",
)


@attrs.frozen(kw_only=True)
class Controller(Model):
    type: str = attr(choices=CONTROLLER_TYPES, required=True)
    index: int | None = attr(conv=UINT)
    model: str | None = attr()
    ports: int | None = attr(conv=UINT)
    vectors: int | None = attr(conv=UINT)
    alias: Alias | None = child(Alias)
    address: Address | None = child(Address)


INTERFACE_TYPES = (
    "network", "bridge", "direct", "user", "ethernet", "vhostuser", "hostdev", "server",
    "client", "mcast", "udp", "vdpa", "null", "vds",
)


@attrs.frozen(kw_only=True)
class InterfaceSource(Model):
    """``<source>`` of an interface: ``network`` (+``portgroup``), ``bridge``, ``dev`` and
    ``mode`` (direct), ``address``/``port`` (socket types), ``path`` (vhostuser)."""

    network: str | None = attr(conv=NAME)
    portgroup: str | None = attr()
    bridge: str | None = attr(conv=DEV)
    dev: str | None = attr(conv=DEV)
    mode: str | None = attr()
    type: str | None = attr()
    path: str | None = attr(conv=PATH)
    address: str | None = attr(conv=HOST)
    port: int | None = attr(conv=UINT)


@attrs.frozen(kw_only=True)
class InterfaceTarget(Model):
    dev: str = attr(conv=DEV, required=True)
    managed: bool | None = attr(conv=YESNO)


@attrs.frozen(kw_only=True)
class ModelType(Model):
    type: str = attr(required=True)


@attrs.frozen(kw_only=True)
class InterfaceDriver(Model):
    name: str | None = attr(choices=("qemu", "vhost", "kvm", "vfio", "xen"))
    queues: int | None = attr(conv=UINT)
    txmode: str | None = attr(choices=("iothread", "timer"))


@attrs.frozen(kw_only=True)
class Mtu(Model):
    size: int = attr(conv=UINT, required=True)


@attrs.frozen(kw_only=True)
class LinkState(Model):
    state: str = attr(choices=("up", "down"), required=True)


@attrs.frozen(kw_only=True)
class Interface(Model):
    """``<interface type='network|bridge|direct|user|ethernet|...'>``."""

    type: str = attr(choices=INTERFACE_TYPES, required=True)
    trust_guest_rx_filters: bool | None = attr("trustGuestRxFilters", conv=YESNO)
    mac: MacAddress | None = child(MacAddress)
    source: InterfaceSource | None = child(InterfaceSource)
    target: InterfaceTarget | None = child(InterfaceTarget)
    model: ModelType | None = child(ModelType)
    driver: InterfaceDriver | None = child(InterfaceDriver)
    mtu: Mtu | None = child(Mtu)
    link: LinkState | None = child(LinkState)
    boot: Boot | None = child(Boot)
    alias: Alias | None = child(Alias)
    address: Address | None = child(Address)


@attrs.frozen(kw_only=True)
class Input(Model):
    type: str = attr(choices=("mouse", "tablet", "keyboard", "passthrough", "evdev"),
                     required=True)
    bus: str | None = attr(choices=("ps2", "usb", "xen", "virtio", "parallels", "none"))
    alias: Alias | None = child(Alias)
    address: Address | None = child(Address)


@attrs.frozen(kw_only=True)
class GraphicsListen(Model):
    type: str = attr(choices=("address", "network", "socket", "none"), required=True)
    address: str | None = attr(conv=HOST)
    network: str | None = attr(conv=NAME)
    socket: str | None = attr(conv=PATH)


@attrs.frozen(kw_only=True)
class Graphics(Model):
    """``<graphics type='vnc|spice|...'>``. ``passwd`` is a secret: see ``Domain.to_xml``."""

    type: str = attr(
        choices=("sdl", "vnc", "rdp", "desktop", "spice", "egl-headless", "dbus"), required=True
    )
    port: int | None = attr(conv=INT)
    tls_port: int | None = attr("tlsPort", conv=INT)
    autoport: bool | None = attr(conv=YESNO)
    websocket: int | None = attr(conv=INT)
    listen: str | None = attr(conv=HOST)
    socket: str | None = attr(conv=PATH)
    passwd: str | None = attr()
    passwd_valid_to: str | None = attr("passwdValidTo")
    connected: str | None = attr(choices=("keep", "disconnect", "fail"))
    keymap: str | None = attr()
    display: str | None = attr()
    listens: tuple[GraphicsListen, ...] = children(GraphicsListen, "listen")


@attrs.frozen(kw_only=True)
class VideoModel(Model):
    type: str = attr(
        choices=("vga", "cirrus", "vmvga", "xen", "vbox", "qxl", "parallels", "virtio", "gop",
                 "none", "bochs", "ramfb"),
        required=True,
    )
    vram: int | None = attr(conv=UINT)
    ram: int | None = attr(conv=UINT)
    vgamem: int | None = attr(conv=UINT)
    heads: int | None = attr(conv=UINT)
    primary: bool | None = attr(conv=YESNO)


@attrs.frozen(kw_only=True)
class Video(Model):
    model: VideoModel | None = child(VideoModel)
    alias: Alias | None = child(Alias)
    address: Address | None = child(Address)


CHARDEV_TYPES = (
    "null", "vc", "pty", "dev", "file", "pipe", "stdio", "udp", "tcp", "unix", "spicevmc",
    "spiceport", "nmdm", "qemu-vdagent", "dbus",
)


@attrs.frozen(kw_only=True)
class ChardevSource(Model):
    mode: str | None = attr(choices=("bind", "connect"))
    path: str | None = attr(conv=PATH)
    host: str | None = attr(conv=HOST)
    service: str | None = attr()
    append: bool | None = attr(conv=ONOFF)
    channel: str | None = attr()


@attrs.frozen(kw_only=True)
class Protocol(Model):
    type: str = attr(choices=("raw", "telnet", "telnets", "tls"), required=True)


@attrs.frozen(kw_only=True)
class ModelName(Model):
    name: str = attr(required=True)


@attrs.frozen(kw_only=True)
class ChardevTarget(Model):
    type: str | None = attr()
    port: int | None = attr(conv=UINT)
    name: str | None = attr()
    address: str | None = attr(conv=HOST)
    state: str | None = attr(choices=("connected", "disconnected"))
    model: ModelName | None = child(ModelName)


@attrs.frozen(kw_only=True)
class Chardev(Model):
    """Common shape of ``<serial>``, ``<console>``, ``<channel>`` and ``<parallel>``."""

    type: str = attr(choices=CHARDEV_TYPES, required=True)
    tty: str | None = attr(conv=PATH)
    source: ChardevSource | None = child(ChardevSource)
    protocol: Protocol | None = child(Protocol)
    target: ChardevTarget | None = child(ChardevTarget)
    alias: Alias | None = child(Alias)
    address: Address | None = child(Address)


Serial = Chardev
Console = Chardev
Channel = Chardev


@attrs.frozen(kw_only=True)
class Sound(Model):
    model: str = attr(
        choices=("sb16", "es1370", "pcspk", "ac97", "ich6", "ich9", "usb", "ich7"), required=True
    )
    alias: Alias | None = child(Alias)
    address: Address | None = child(Address)


@attrs.frozen(kw_only=True)
class IdValue(Model):
    id: str = attr(required=True)


@attrs.frozen(kw_only=True)
class HostdevSource(Model):
    startup_policy: str | None = attr("startupPolicy", choices=("mandatory", "requisite",
                                                                 "optional"))
    vendor: IdValue | None = child(IdValue)
    product: IdValue | None = child(IdValue)
    address: Address | None = child(Address)


@attrs.frozen(kw_only=True)
class Hostdev(Model):
    """``<hostdev mode='subsystem' type='pci|usb|scsi|...' managed='yes'>``."""

    mode: str = attr(choices=("subsystem", "capabilities"), required=True)
    type: str = attr(
        choices=("pci", "usb", "scsi", "scsi_host", "mdev", "storage", "misc", "net"),
        required=True,
    )
    managed: bool | None = attr(conv=YESNO)
    model: str | None = attr()
    source: HostdevSource = child(HostdevSource, required=True)
    readonly: bool = flag()
    shareable: bool = flag()
    boot: Boot | None = child(Boot)
    alias: Alias | None = child(Alias)
    address: Address | None = child(Address)


@attrs.frozen(kw_only=True)
class Watchdog(Model):
    model: str = attr(choices=("i6300esb", "ib700", "diag288", "itco"), required=True)
    action: str | None = attr(
        choices=("reset", "shutdown", "poweroff", "pause", "none", "dump", "inject-nmi")
    )
    alias: Alias | None = child(Alias)
    address: Address | None = child(Address)


@attrs.frozen(kw_only=True)
class BalloonStats(Model):
    period: int = attr(conv=UINT, required=True)


@attrs.frozen(kw_only=True)
class Memballoon(Model):
    model: str = attr(choices=("virtio", "xen", "none", "virtio-transitional",
                               "virtio-non-transitional"), required=True)
    autodeflate: bool | None = attr(conv=ONOFF)
    free_page_reporting: bool | None = attr(
        "freePageReporting", conv=ONOFF
    )
    stats: BalloonStats | None = child(BalloonStats)
    alias: Alias | None = child(Alias)
    address: Address | None = child(Address)


@attrs.frozen(kw_only=True)
class RngRate(Model):
    bytes: int = attr(conv=UINT, required=True)
    period: int | None = attr(conv=UINT)


@attrs.frozen(kw_only=True)
class RngBackend(Model):
    model: str = attr(choices=("random", "egd", "builtin"), required=True)
    type: str | None = attr(choices=CHARDEV_TYPES)
    path: str | None = text(conv=PATH)


@attrs.frozen(kw_only=True)
class Rng(Model):
    model: str = attr(choices=("virtio", "virtio-transitional", "virtio-non-transitional"),
                      required=True)
    rate: RngRate | None = child(RngRate)
    backend: RngBackend = child(RngBackend, required=True)
    alias: Alias | None = child(Alias)
    address: Address | None = child(Address)


@attrs.frozen(kw_only=True)
class TpmDevice(Model):
    path: str = attr(conv=PATH, required=True)


@attrs.frozen(kw_only=True)
class TpmBackend(Model):
    type: str = attr(choices=("passthrough", "emulator", "external"), required=True)
    version: str | None = attr(choices=("1.2", "2.0"))
    device: TpmDevice | None = child(TpmDevice)


@attrs.frozen(kw_only=True)
class Tpm(Model):
    model: str | None = attr(choices=("tpm-tis", "tpm-crb", "tpm-spapr", "spapr-tpm-proxy"))
    backend: TpmBackend = child(TpmBackend, required=True)
    alias: Alias | None = child(Alias)


@attrs.frozen(kw_only=True)
class Panic(Model):
    model: str | None = attr(choices=("isa", "pseries", "hyperv", "s390"))
    alias: Alias | None = child(Alias)
    address: Address | None = child(Address)


@attrs.frozen(kw_only=True)
class Devices(Model):
    """``<devices>``, each kind in libvirt's output order."""

    emulator: str | None = child_text(conv=PATH)
    disks: tuple[Disk, ...] = children(Disk, "disk")
    controllers: tuple[Controller, ...] = children(Controller, "controller")
    filesystems: tuple[Filesystem, ...] = children(Filesystem, "filesystem")
    interfaces: tuple[Interface, ...] = children(Interface, "interface")
    serials: tuple[Chardev, ...] = children(Chardev, "serial")
    parallels: tuple[Chardev, ...] = children(Chardev, "parallel")
    consoles: tuple[Chardev, ...] = children(Chardev, "console")
    channels: tuple[Chardev, ...] = children(Chardev, "channel")
    inputs: tuple[Input, ...] = children(Input, "input")
    tpms: tuple[Tpm, ...] = children(Tpm, "tpm")
    graphics: tuple[Graphics, ...] = children(Graphics, "graphics")
    sounds: tuple[Sound, ...] = children(Sound, "sound")
    videos: tuple[Video, ...] = children(Video, "video")
    hostdevs: tuple[Hostdev, ...] = children(Hostdev, "hostdev")
    watchdogs: tuple[Watchdog, ...] = children(Watchdog, "watchdog")
    memballoon: Memballoon | None = child(Memballoon)
    rngs: tuple[Rng, ...] = children(Rng, "rng")
    panics: tuple[Panic, ...] = children(Panic, "panic")


# ---------------------------------------------------------------- the document


@attrs.frozen(kw_only=True)
class Domain(Model):
    """A ``<domain>`` document. Memory sizes are in KiB."""

    TAG = "domain"
    WHAT = "domain"

    type: str = attr(choices=DOMAIN_TYPES, required=True)
    id: int | None = attr(conv=INT)
    name: str = child_text(conv=NAME, required=True)
    uuid: str | None = child_text(conv=UUID)
    title: str | None = child_text()
    description: str | None = child_text()
    metadata: tuple[str, ...] = raw()
    max_memory: MaxMemory | None = child(MaxMemory, "maxMemory")
    memory: int | None = unit()
    current_memory: int | None = unit("currentMemory")
    blkiotune: BlkioTune | None = child(BlkioTune)
    memtune: MemTune | None = child(MemTune)
    vcpu: Vcpu | None = child(Vcpu)
    vcpus: VcpuStates | None = child(VcpuStates)
    iothreads: int | None = child_text(conv=UINT)
    iothreadids: IoThreadIds | None = child(IoThreadIds)
    cputune: CpuTune | None = child(CpuTune)
    os: Os = child(Os, required=True)
    idmap: IdMap | None = child(IdMap)
    features: Features | None = child(Features)
    cpu: Cpu | None = child(Cpu)
    clock: Clock | None = child(Clock)
    on_poweroff: str | None = child_text(choices=LIFECYCLE)
    on_reboot: str | None = child_text(choices=LIFECYCLE)
    on_crash: str | None = child_text(choices=CRASH)
    devices: Devices | None = child(Devices)

    @classmethod
    def from_xml(
        cls,
        text: str | bytes,
        *,
        validate: bool = False,
        strict: bool = False,
        domain_types: Iterable[str] | None = None,
        os_types: Iterable[str] | None = None,
    ) -> Domain:
        """Parse a domain document and check libvirt's semantic rules.

        ``validate``: first validate against virtkit's RelaxNG schema (libvirt's VALIDATE flag;
        ``XML_INVALID_SCHEMA``). ``strict``: refuse elements and attributes virtkit does not
        model instead of reporting them (``Domain.parse`` returns that report).
        ``domain_types`` / ``os_types``: the values ``<domain type=...>`` and ``<os><type>``
        may take, in place of libvirt's built-in :data:`DOMAIN_TYPES` / :data:`OS_TYPES` (a
        driver passes its own, see :func:`type_choices`); the schema check uses them too.
        """
        result: Domain = _load(
            cls, text, validate=validate, strict=strict,
            choices=type_choices(domain_types, os_types),
        )
        return result

    @classmethod
    def parse(
        cls,
        text: str | bytes,
        *,
        domain_types: Iterable[str] | None = None,
        os_types: Iterable[str] | None = None,
    ) -> tuple[Domain, list[str]]:
        """Parse without checks; return the model and the XPaths of what it did not
        understand. ``domain_types`` / ``os_types`` as for :meth:`from_xml`."""
        root = parse_document(text, cls.WHAT)
        ctx = ParseContext(cls.WHAT, type_choices(domain_types, os_types))
        return cls.from_element(root, ctx), ctx.ignored

    def check(self) -> None:
        """Raise ``XML_ERROR`` naming the element and the problem if a semantic rule fails."""
        from virtkit.xml.checks import check_domain

        check_domain(self)

    def to_xml(self, tag: str | None = None, *, secure: bool = True) -> str:
        """The document. ``secure=False`` leaves out secrets (graphics passwords), as libvirt
        does without VIR_DOMAIN_XML_SECURE."""
        return Model.to_xml(self if secure else self.without_secrets(), tag)

    def without_secrets(self) -> Domain:
        """This definition without its secrets (graphics passwords): what a caller without
        ``security_info`` sees, here and inside snapshots."""
        if self.devices is None or all(g.passwd is None for g in self.devices.graphics):
            return self
        devs = attrs.evolve(
            self.devices,
            graphics=tuple(attrs.evolve(g, passwd=None) for g in self.devices.graphics),
        )
        return attrs.evolve(self, devices=devs)

    def with_defaults(self) -> Domain:
        """A copy with what libvirt fills on define: a uuid, currentMemory (from memory, and
        clamped to it), ``<vcpu placement='static'>1</vcpu>``, the lifecycle actions
        (destroy/restart/destroy), ``<clock offset='utc'/>``, and a 52:54:00 MAC for every
        interface without one."""
        changes: dict[str, Any] = {}
        if self.uuid is None:
            changes["uuid"] = random_uuid()
        mem = self.memory
        if mem is not None and (
            self.current_memory is None or self.current_memory == 0 or self.current_memory > mem
        ):
            changes["current_memory"] = mem
        if self.vcpu is None:
            changes["vcpu"] = _ONE_STATIC_VCPU
        elif self.vcpu.placement is None:
            changes["vcpu"] = attrs.evolve(self.vcpu, placement="static")
        if self.on_poweroff is None:
            changes["on_poweroff"] = "destroy"
        if self.on_reboot is None:
            changes["on_reboot"] = "restart"
        if self.on_crash is None:
            changes["on_crash"] = "destroy"
        if self.clock is None:
            changes["clock"] = _UTC_CLOCK
        if self.devices is not None and any(i.mac is None for i in self.devices.interfaces):
            used = {i.mac.address for i in self.devices.interfaces if i.mac is not None}
            ifaces = []
            for iface in self.devices.interfaces:
                if iface.mac is None:
                    mac = random_mac()
                    while mac in used:
                        mac = random_mac()
                    used.add(mac)
                    iface = attrs.evolve(iface, mac=MacAddress(address=mac))
                ifaces.append(iface)
            changes["devices"] = attrs.evolve(self.devices, interfaces=tuple(ifaces))
        return replace(self, **changes) if changes else self


_ONE_STATIC_VCPU = Vcpu(placement="static", count=1)  # models are frozen: shared defaults
_UTC_CLOCK = Clock(offset="utc")


def random_uuid() -> str:
    """A random (version 4) uuid, as ``str(uuid.uuid4())`` spells it, in a third of its time."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _names(what: str, values: Iterable[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise TypeError(f"{what} must be a collection of names, not a string")
    names = tuple(dict.fromkeys(values))
    if not names:
        raise ValueError(f"{what} must name at least one type")
    for v in names:
        if not isinstance(v, str) or not v or v.split() != [v]:
            raise ValueError(f"{what}: {v!r} is not a type name (a non-empty word)")
    return names


def type_choices(
    domain_types: Iterable[str] | None = None, os_types: Iterable[str] | None = None
) -> dict[tuple[type, str], tuple[str, ...]] | None:
    """The open enumerations of a domain document for a driver's own types: what
    ``Domain.from_xml``, ``Domain.parse``, ``DomainSnapshot.from_xml`` and
    ``virtkit.xml.schema.validate`` take as ``choices``. ``None`` for libvirt's built-in sets.
    Raises ``ValueError`` for an empty set or a name that is not a single word."""
    key: tuple[Any, Any] | None = (domain_types, os_types)
    try:  # a driver passes the same tuples on every parse: their choices are made once
        hit = (_choices_made.get(key)  # type: ignore[arg-type]
               if isinstance(domain_types, (tuple, type(None)))
               and isinstance(os_types, (tuple, type(None))) else None)
    except TypeError:  # not hashable: checked below
        hit = key = None
    if hit is not None:
        return dict(hit) if hit else None
    if not (isinstance(domain_types, (tuple, type(None)))
            and isinstance(os_types, (tuple, type(None)))):
        key = None
    dt = _names("domain_types", domain_types)
    ot = _names("os_types", os_types)
    choices: dict[tuple[type, str], tuple[str, ...]] = {}
    if dt is not None and dt != DOMAIN_TYPES:
        choices[(Domain, "type")] = dt
    if ot is not None and ot != OS_TYPES:
        choices[(OsType, "name")] = ot
    if key is not None and len(_choices_made) < 64:
        _choices_made[key] = dict(choices)
    return choices or None


_choices_made: dict[tuple[Any, Any], dict[tuple[type, str], tuple[str, ...]]] = {}


#: At most this many unmodelled items are named in a message (all are in ``Model.parse``).
NAMED_IGNORED = 20


def describe_ignored(paths: list[str]) -> str:
    """The XPaths of what was not understood, for a message: the first few and how many more."""
    if len(paths) <= NAMED_IGNORED:
        return ", ".join(paths)
    return f"{', '.join(paths[:NAMED_IGNORED])} and {len(paths) - NAMED_IGNORED} more"


def _load(
    cls: Any,
    text: str | bytes,
    *,
    validate: bool,
    strict: bool,
    choices: dict[tuple[type, str], tuple[str, ...]] | None = None,
) -> Any:
    what = cls.WHAT
    root = parse_document(text, what)
    if validate:
        from virtkit.xml.schema import validate as _validate

        _validate(root, cls.SCHEMA if hasattr(cls, "SCHEMA") else what, choices=choices)
    ctx = ParseContext(what, choices)
    obj = cls.from_element(root, ctx)
    if ctx._nodes:
        if strict:
            raise xml_error(
                f"{what}: unsupported configuration: {describe_ignored(ctx.ignored)}"
            )
        # reported, not silently dropped: what virtkit does not model is named in the log
        import logging

        logging.getLogger("virtkit.xml").warning(
            "%s: ignoring what virtkit does not model: %s", what, describe_ignored(ctx.ignored)
        )
    obj.check()
    return obj


def element_of(text: str | bytes, what: str) -> etree._Element:
    return parse_document(text, what)
