"""Hypothesis strategies that generate valid virtkit models: valid for virtkit's semantic rules
and for libvirt's own RelaxNG schemas (libvirt 9.0, as Debian 12 installs it)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from virtkit.xml import common as c
from virtkit.xml import domain as d
from virtkit.xml import network as n
from virtkit.xml import storage as s

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


names = st.text(ALNUM + "_-.", min_size=1, max_size=20).filter(
    lambda x: not x.startswith(".") and not x.startswith("-")
)
words = st.text(ALNUM, min_size=1, max_size=12)
# free text: printable, no control characters, not blank (XML drops whitespace-only text)
free_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp")), min_size=1,
    max_size=40,
).filter(lambda x: x.strip() == x and x != "")
paths = st.lists(words, min_size=1, max_size=4).map(lambda p: "/" + "/".join(p))
uuids = st.uuids().map(str)
macs = st.tuples(*[st.integers(0, 255)] * 3).map(
    lambda b: "52:54:00:" + ":".join(f"{x:02x}" for x in b)
)
hexbyte = st.integers(0, 255).map(lambda x: f"0x{x:02x}")


def pci_address() -> st.SearchStrategy[c.Address]:
    return st.builds(
        c.Address, type=st.just("pci"), domain=st.just("0x0000"), bus=hexbyte,
        slot=st.integers(0, 31).map(lambda x: f"0x{x:02x}"),
        function=st.integers(0, 7).map(lambda x: f"0x{x:x}"),
    )


def drive_address() -> st.SearchStrategy[c.Address]:
    small = st.integers(0, 6).map(str)
    return st.builds(c.Address, type=st.just("drive"), controller=small, bus=small, target=small,
                     unit=small)


aliases = opt(st.builds(c.Alias, name=st.text(ALNUM, min_size=1, max_size=8).map("ua-".__add__)))


# ---------------------------------------------------------------- domain


@st.composite
def disks(draw: Any, dev: str, boot: int | None) -> d.Disk:
    kind = draw(st.sampled_from(["file", "block", "network", "volume"]))
    if kind == "file":
        source = d.DiskSource(file=draw(paths))
    elif kind == "block":
        source = d.DiskSource(dev=draw(paths.map(lambda p: "/dev" + p)))
    elif kind == "network":
        protocol = draw(st.sampled_from(["rbd", "gluster", "iscsi"]))
        hosts = draw(st.lists(st.builds(d.SourceHost, name=words, port=opt(st.integers(1, 65535))),
                              min_size=1, max_size=3 if protocol == "rbd" else 1))
        source = d.DiskSource(protocol=protocol, name=draw(words) + "/" + draw(words),
                              hosts=tuple(hosts))
    else:
        source = d.DiskSource(pool=draw(names), volume=draw(names))
    driver = draw(opt(st.builds(
        d.DiskDriver, name=st.just("qemu"), type=opt(st.sampled_from(["raw", "qcow2"])),
        cache=opt(st.sampled_from(["none", "writeback", "writethrough", "directsync", "unsafe"])),
        io=opt(st.sampled_from(["threads", "native"])),
        discard=opt(st.sampled_from(["ignore", "unmap"])),
    )))
    return d.Disk(
        type=kind,
        device=draw(opt(st.sampled_from(["disk", "cdrom"]))),
        driver=driver,
        source=source,
        target=d.DiskTarget(dev=dev, bus=draw(opt(st.sampled_from(["virtio", "scsi", "sata"])))),
        readonly=draw(st.booleans()),
        shareable=draw(st.booleans()),
        serial=draw(opt(words)),
        boot=None if boot is None else c.Boot(order=boot),
        alias=draw(aliases),
        address=draw(opt(pci_address())),
    )


@st.composite
def interfaces(draw: Any, mac: str | None, boot: int | None) -> d.Interface:
    kind = draw(st.sampled_from(["network", "bridge", "direct", "user", "ethernet"]))
    source = None
    target = None
    if kind == "network":
        source = d.InterfaceSource(network=draw(names), portgroup=draw(opt(words)))
    elif kind == "bridge":
        source = d.InterfaceSource(bridge=draw(words))
    elif kind == "direct":
        source = d.InterfaceSource(dev=draw(words),
                                   mode=draw(st.sampled_from(["vepa", "bridge", "private"])))
    if kind != "user":
        target = draw(opt(st.builds(d.InterfaceTarget, dev=words.map("vnet".__add__))))
    return d.Interface(
        type=kind,
        mac=None if mac is None else c.MacAddress(address=mac),
        source=source,
        target=target,
        model=draw(opt(st.builds(d.ModelType, type=st.sampled_from(["virtio", "e1000e", "rtl8139"])))),
        mtu=draw(opt(st.builds(d.Mtu, size=st.integers(68, 65535)))),
        link=draw(opt(st.builds(d.LinkState, state=st.sampled_from(["up", "down"])))),
        boot=None if boot is None else c.Boot(order=boot),
        alias=draw(aliases),
        address=draw(opt(pci_address())),
    )


graphics = st.one_of(
    st.builds(
        d.Graphics, type=st.just("vnc"), port=opt(st.integers(5900, 65535)),
        autoport=opt(st.booleans()), passwd=opt(words), keymap=opt(st.just("en-us")),
        listens=st.lists(st.builds(d.GraphicsListen, type=st.just("address"),
                                   address=st.sampled_from(["127.0.0.1", "0.0.0.0", "::1"])),
                         max_size=1).map(tuple),
    ),
    st.builds(
        d.Graphics, type=st.just("spice"), port=opt(st.integers(5900, 65535)),
        tls_port=opt(st.integers(5900, 65535)), autoport=opt(st.booleans()), passwd=opt(words),
        listens=st.lists(st.builds(d.GraphicsListen, type=st.just("network"), network=names),
                         max_size=1).map(tuple),
    ),
)
videos = st.one_of(
    st.builds(d.Video, model=st.builds(
        d.VideoModel, type=st.sampled_from(["vga", "cirrus", "virtio", "bochs"]),
        vram=opt(st.integers(1024, 65536)), heads=opt(st.integers(1, 4)),
        primary=opt(st.just(True)))),
    st.builds(d.Video, model=st.builds(
        d.VideoModel, type=st.just("qxl"), ram=opt(st.integers(1024, 65536)),
        vram=opt(st.integers(1024, 65536)), vgamem=opt(st.integers(1024, 16384)))),
)
chardev_pty = st.builds(
    d.Chardev, type=st.just("pty"),
    target=st.builds(d.ChardevTarget, port=st.integers(0, 3)), alias=aliases,
)
consoles = st.builds(
    d.Chardev, type=st.just("pty"),
    target=st.builds(d.ChardevTarget, type=st.sampled_from(["serial", "virtio"]), port=st.just(0)),
)
channels = st.builds(
    d.Chardev, type=st.just("unix"),
    source=st.builds(d.ChardevSource, mode=st.just("bind"), path=paths),
    target=st.builds(d.ChardevTarget, type=st.just("virtio"),
                     name=words.map("org.example.".__add__)),
)
inputs = st.builds(
    d.Input, type=st.sampled_from(["mouse", "tablet", "keyboard"]),
    bus=opt(st.sampled_from(["usb", "virtio"])), alias=aliases,
)
sounds = st.builds(d.Sound, model=st.sampled_from(["ich6", "ich9", "ac97", "es1370", "sb16"]))
hostdevs = st.builds(
    d.Hostdev, mode=st.just("subsystem"), type=st.just("pci"), managed=opt(st.booleans()),
    source=st.builds(d.HostdevSource, address=st.builds(
        c.Address, domain=st.just("0x0000"), bus=hexbyte,
        slot=st.integers(0, 31).map(lambda x: f"0x{x:02x}"),
        function=st.integers(0, 7).map(lambda x: f"0x{x:x}"))),
)
watchdogs = st.builds(
    d.Watchdog, model=st.sampled_from(["i6300esb", "ib700"]),
    action=opt(st.sampled_from(["reset", "shutdown", "poweroff", "pause", "none", "dump"])),
)
balloons = st.builds(d.Memballoon, model=st.sampled_from(["virtio", "none"]),
                     stats=opt(st.builds(d.BalloonStats, period=st.integers(1, 100))))
rngs = st.builds(d.Rng, model=st.just("virtio"),
                 rate=opt(st.builds(d.RngRate, bytes=st.integers(1, 4096),
                                    period=opt(st.integers(1, 10000)))),
                 backend=st.builds(d.RngBackend, model=st.just("random"),
                                   path=st.sampled_from(["/dev/urandom", "/dev/random"])))
tpms = st.one_of(
    st.builds(d.Tpm, model=st.sampled_from(["tpm-tis", "tpm-crb"]),
              backend=st.builds(d.TpmBackend, type=st.just("emulator"),
                                version=opt(st.just("2.0")))),
    st.builds(d.Tpm, model=st.just("tpm-tis"),
              backend=st.builds(d.TpmBackend, type=st.just("passthrough"),
                                device=st.builds(d.TpmDevice, path=st.just("/dev/tpm0")))),
)
panics = st.builds(d.Panic, model=st.sampled_from(["isa", "hyperv"]))
filesystems = st.builds(
    d.Filesystem, type=st.just("mount"),
    accessmode=opt(st.sampled_from(["passthrough", "mapped", "squash"])),
    driver=opt(st.builds(d.FsDriver, type=st.sampled_from(["path", "handle"]))),
    source=st.builds(d.FsSource, dir=paths), target=st.builds(d.FsTarget, dir=words),
    readonly=st.booleans(),
)
CONTROLLERS = [
    d.Controller(type="usb", index=0, model="qemu-xhci", ports=15),
    d.Controller(type="sata", index=0),
    d.Controller(type="scsi", index=0, model="virtio-scsi"),
    d.Controller(type="virtio-serial", index=0),
    d.Controller(type="pci", index=0, model="pcie-root"),
]


@st.composite
def devices(draw: Any, device_boot: bool) -> d.Devices:
    ndisks = draw(st.integers(0, 4))
    nifaces = draw(st.integers(0, 3))
    boot_orders = iter(draw(st.permutations(range(1, ndisks + nifaces + 1))))
    disk_list = []
    for i in range(ndisks):
        boot = next(boot_orders) if device_boot and draw(st.booleans()) else None
        disk_list.append(draw(disks("vd" + "abcdefgh"[i], boot)))
    mac_list = draw(st.lists(macs, min_size=nifaces, max_size=nifaces, unique=True))
    iface_list = []
    for i in range(nifaces):
        boot = next(boot_orders) if device_boot and draw(st.booleans()) else None
        iface_list.append(draw(interfaces(draw(opt(st.just(mac_list[i]))), boot)))
    return d.Devices(
        emulator=draw(opt(paths)),
        disks=tuple(disk_list),
        controllers=tuple(draw(st.lists(st.sampled_from(CONTROLLERS), unique=True, max_size=3))),
        filesystems=tuple(draw(st.lists(filesystems, max_size=2))),
        interfaces=tuple(iface_list),
        serials=tuple(draw(st.lists(chardev_pty, max_size=1))),
        consoles=tuple(draw(st.lists(consoles, max_size=1))),
        channels=tuple(draw(st.lists(channels, max_size=2))),
        inputs=tuple(draw(st.lists(inputs, max_size=2))),
        tpms=tuple(draw(st.lists(tpms, max_size=1))),
        graphics=tuple(draw(st.lists(graphics, max_size=2))),
        sounds=tuple(draw(st.lists(sounds, max_size=1))),
        videos=tuple(draw(st.lists(videos, max_size=1))),
        hostdevs=tuple(draw(st.lists(hostdevs, max_size=1))),
        watchdogs=tuple(draw(st.lists(watchdogs, max_size=1))),
        memballoon=draw(opt(balloons)),
        rngs=tuple(draw(st.lists(rngs, max_size=1))),
        panics=tuple(draw(st.lists(panics, max_size=1))),
    )


metadata = st.lists(
    st.tuples(words.map("m".__add__), free_text).map(
        lambda t: f'<app:{t[0]} xmlns:app="http://example.org/{t[0]}">'
        + t[1].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        + f"</app:{t[0]}>"
    ),
    max_size=2,
    unique_by=lambda x: x.split(">")[0],
).map(tuple)


@st.composite
def domains(draw: Any) -> d.Domain:
    device_boot = draw(st.booleans())
    memory = draw(st.integers(1024, 2**40))
    sockets, cores, threads = draw(st.tuples(*[st.integers(1, 4)] * 3))
    with_topology = draw(st.booleans())
    count = sockets * cores * threads if with_topology else draw(st.integers(1, 64))
    cpu = draw(opt(st.builds(
        d.Cpu,
        mode=st.sampled_from(["custom", "host-model", "host-passthrough"]),
        check=opt(st.sampled_from(["none", "partial", "full"])),
        topology=st.just(d.CpuTopology(sockets=sockets, cores=cores, threads=threads)
                         if with_topology else None),
        features=st.lists(st.builds(d.CpuFeature, policy=st.sampled_from(
            ["force", "require", "optional", "disable", "forbid"]), name=words),
            max_size=3, unique_by=lambda f: f.name).map(tuple),
    )))
    if cpu is not None and cpu.mode == "custom":
        cpu = d.Cpu(mode="custom", match=draw(opt(st.sampled_from(["minimum", "exact", "strict"]))),
                    check=cpu.check, model=d.CpuModel(name=draw(words)),
                    topology=cpu.topology, features=cpu.features)
    if cpu is None and with_topology:
        count = draw(st.integers(1, 64))
    os = d.Os(
        type=d.OsType(name="hvm", arch=draw(opt(st.sampled_from(["x86_64", "i686", "aarch64"]))),
                      machine=draw(opt(st.sampled_from(["pc", "q35", "pc-q35-7.2"])))),
        loader=draw(opt(st.builds(d.Loader, readonly=opt(st.booleans()),
                                  type=opt(st.sampled_from(["rom", "pflash"])), path=paths))),
        nvram=draw(opt(st.builds(d.Nvram, path=paths))),
        kernel=draw(opt(paths)),
        initrd=draw(opt(paths)),
        cmdline=draw(opt(free_text)),
        boot=() if device_boot else tuple(
            d.BootDev(dev=x) for x in draw(st.lists(
                st.sampled_from(["hd", "cdrom", "network", "fd"]), unique=True, max_size=3))
        ),
        bootmenu=draw(opt(st.builds(d.BootMenu, enable=st.booleans(),
                                    timeout=opt(st.integers(0, 65535))))),
    )
    return d.Domain(
        type=draw(st.sampled_from(["kvm", "qemu", "test", "xen"])),
        name=draw(names),
        uuid=draw(opt(uuids)),
        title=draw(opt(free_text.filter(lambda t: "\n" not in t))),
        description=draw(opt(free_text)),
        metadata=draw(metadata),
        max_memory=draw(opt(st.builds(d.MaxMemory, slots=st.integers(1, 32),
                                      kib=st.integers(memory, 2**41)))),
        memory=memory,
        current_memory=draw(opt(st.integers(1, memory))),
        vcpu=d.Vcpu(placement=draw(opt(st.sampled_from(["static", "auto"]))), count=count,
                    current=draw(opt(st.integers(1, count)))),
        os=os,
        features=draw(opt(st.builds(
            d.Features, acpi=st.booleans(), pae=st.booleans(),
            apic=opt(st.builds(d.Apic, eoi=opt(st.booleans()))),
            hap=opt(st.builds(c.State, state=opt(st.booleans()))),
        ))),
        cpu=cpu,
        clock=draw(opt(st.builds(
            d.Clock, offset=st.sampled_from(["utc", "localtime"]),
            timers=st.lists(st.builds(
                d.Timer, name=st.sampled_from(["rtc", "pit", "hpet", "kvmclock"]),
                present=opt(st.booleans())), unique_by=lambda t: t.name, max_size=3).map(tuple),
        ))),
        on_poweroff=draw(opt(st.sampled_from(d.LIFECYCLE))),
        on_reboot=draw(opt(st.sampled_from(d.LIFECYCLE))),
        on_crash=draw(opt(st.sampled_from(d.CRASH))),
        devices=draw(opt(devices(device_boot))),
    )


# ---------------------------------------------------------------- network


@st.composite
def networks(draw: Any) -> n.Network:
    mode = draw(st.sampled_from(["isolated", "nat", "route", "open", "bridge"]))
    forward = None
    if mode != "isolated":
        forward = n.Forward(
            mode=mode,
            dev=draw(opt(words)) if mode in ("nat", "route") else None,
            nat=draw(opt(st.builds(n.Nat, ports=st.just((n.NatRange(start="1024",
                                                                       end="65535"),)))))
            if mode == "nat" else None,
        )
    ips: tuple[n.Ip, ...] = ()
    if mode != "bridge":
        third = draw(st.integers(0, 255))
        prefix_form = draw(st.booleans())
        hosts = draw(st.lists(st.integers(2, 99), unique=True, max_size=3))
        host_macs = draw(st.lists(macs, min_size=len(hosts), max_size=len(hosts), unique=True))
        dhcp = n.Dhcp(
            ranges=(n.DhcpRange(start=f"10.{third}.0.100", end=f"10.{third}.0.200"),),
            hosts=tuple(n.DhcpHost(mac=m, name=draw(opt(words)), ip=f"10.{third}.0.{h}")
                        for h, m in zip(hosts, host_macs, strict=True)),
        )
        ips = (n.Ip(address=f"10.{third}.0.1", prefix=24 if prefix_form else None,
                    netmask=None if prefix_form else "255.255.255.0",
                    dhcp=draw(opt(st.just(dhcp)))),)
        if draw(st.booleans()):
            ips += (n.Ip(family="ipv6", address=f"2001:db8:{third:x}::1", prefix=64),)
    vlan = st.builds(c.Vlan, trunk=opt(st.just(True)), tags=st.lists(
        st.builds(c.VlanTag, id=st.integers(1, 4094)), min_size=1, max_size=3,
        unique_by=lambda t: t.id).map(tuple))
    pg_names = draw(st.lists(words, unique=True, max_size=3))
    default_pg = draw(st.integers(-1, len(pg_names) - 1))
    return n.Network(
        name=draw(names),
        uuid=draw(opt(uuids)),
        metadata=draw(metadata),
        forward=forward,
        bridge=n.Bridge(name=draw(words.map("br".__add__)),
                        stp=draw(opt(st.booleans())) if mode != "bridge" else None,
                        delay=draw(opt(st.integers(0, 10))) if mode != "bridge" else None)
        if mode == "bridge" or draw(st.booleans()) else None,
        mtu=draw(opt(st.builds(d.Mtu, size=st.integers(68, 65535)))) if mode != "bridge" else None,
        mac=draw(opt(st.builds(c.MacAddress, address=macs))) if mode != "bridge" else None,
        domain=draw(opt(st.builds(n.NetDomain, name=words, local_only=opt(st.booleans()))))
        if mode != "bridge" else None,
        dns=draw(opt(st.builds(
            n.Dns, enable=opt(st.booleans()),
            forwarders=st.lists(st.builds(n.DnsForwarder, addr=st.just("192.0.2.53")),
                                max_size=1).map(tuple),
            txts=st.lists(st.builds(n.DnsTxt, name=words, value=words), max_size=2,
                          unique_by=lambda t: t.name).map(tuple),
            hosts=st.lists(st.builds(n.DnsHost, ip=st.just("10.99.0.5"),
                                     hostnames=st.lists(words, min_size=1, max_size=2)
                                     .map(tuple)), max_size=1).map(tuple),
        ))) if mode != "bridge" else None,
        portgroups=tuple(
            n.Portgroup(name=p, default=True if i == default_pg else None,
                        vlan=draw(opt(vlan)))
            for i, p in enumerate(pg_names)
        ),
        ips=ips,
    )


# ---------------------------------------------------------------- storage

permissions = st.builds(
    c.Permissions, mode=opt(st.sampled_from(["0700", "0711", "0755", "0600"])),
    owner=opt(st.integers(0, 65535)), group=opt(st.integers(0, 65535)),
    label=opt(st.just("system_u:object_r:virt_image_t:s0")),
)
sizes = st.integers(0, 2**50)


@st.composite
def pools(draw: Any) -> s.StoragePool:
    kind = draw(st.sampled_from(["dir", "fs", "netfs", "logical", "disk", "iscsi"]))
    dev = s.SourceDevice(path=draw(paths.map(lambda p: "/dev" + p)))
    host = s.SourceHost(name=draw(words), port=draw(opt(st.integers(1, 65535))))
    source: s.PoolSource | None
    if kind == "dir":
        source = None
    elif kind == "fs":
        source = s.PoolSource(devices=(dev,), format=draw(opt(st.builds(
            s.FormatType, type=st.sampled_from(["auto", "ext4", "xfs"])))))
    elif kind == "netfs":
        source = s.PoolSource(hosts=(host,), dir=s.PathValue(path=draw(paths)),
                              format=draw(opt(st.builds(s.FormatType,
                                                        type=st.sampled_from(["nfs", "cifs"])))))
    elif kind == "logical":
        source = s.PoolSource(devices=(dev,), name=draw(words),
                              format=draw(opt(st.just(s.FormatType(type="lvm2")))))
    elif kind == "disk":
        source = s.PoolSource(devices=(dev,), format=draw(opt(st.builds(
            s.FormatType, type=st.sampled_from(["dos", "gpt"])))))
    else:
        source = s.PoolSource(hosts=(host,), devices=(s.SourceDevice(path="iqn.2013-06.org.example:t1"),),
                              initiator=draw(opt(st.just(s.Initiator(
                                  iqn=s.IqnName(name="iqn.2013-06.org.example:i1"))))))
    return s.StoragePool(
        type=kind, name=draw(names), uuid=draw(opt(uuids)),
        capacity=draw(opt(sizes)), allocation=draw(opt(sizes)), available=draw(opt(sizes)),
        source=source,
        target=s.PoolTarget(path=draw(paths), permissions=draw(opt(permissions))),
    )


volumes = st.builds(
    s.StorageVolume,
    type=opt(st.sampled_from(["file", "block"])),
    name=names.filter(lambda x: x not in (".", "..")),
    key=opt(paths),
    capacity=sizes,
    allocation=opt(sizes),
    target=(st.builds(
        s.VolumeTarget, path=opt(paths),
        format=opt(st.builds(s.FormatType, type=st.sampled_from(["raw", "qcow2", "vmdk"]))),
        permissions=opt(permissions),
    )),
    backing_store=opt(st.builds(
        s.BackingStore, path=paths,
        format=opt(st.builds(s.FormatType, type=st.sampled_from(["raw", "qcow2"]))),
    )),
)
