"""xl.cfg <-> domain XML (``domxml-from-native xen-xl`` / ``domxml-to-native xen-xl``).

What an xl.cfg key maps to in the domain XML (libvirt's conventions for Xen):

- ``type``/``builder``: ``<os><type>`` ``linux`` (PV, machine ``xenpv``), ``xenpvh`` (PVH),
  ``hvm`` (HVM, machine ``xenfv``, with hvmloader as ``<loader>``).
- ``kernel``/``ramdisk``/``cmdline`` (or ``root`` + ``extra``): ``<os>`` kernel, initrd,
  cmdline. ``bootloader``/``bootloader_args``: ``<bootloader>``/``<bootloader_args>``.
- ``memory`` (MiB): ``<currentMemory>``; ``maxmem``: ``<memory>``.
- ``maxvcpus``/``vcpus``: ``<vcpu current=vcpus>maxvcpus``; ``cpus`` (a cpuset): the vcpu's
  ``cpuset``; ``cpus`` as a list (one entry per vcpu): ``<cputune><vcpupin>``;
  ``cpu_weight``: ``<cputune><shares>``.
- ``disk``: ``<disk>`` (target -> source, format -> driver type, backendtype -> driver name
  phy/qemu/tap, vdev -> target dev, access ro -> readonly, devtype=cdrom -> device cdrom).
- ``vif``: ``<interface>`` (bridge, mac, model, script, ip, vifname -> target, rate ->
  bandwidth outbound average in KiB/s, mtu).
- ``vfb`` (PV) or ``vnc``/``sdl``... (HVM): ``<graphics>``. ``serial``: ``<serial>``.
  ``pci``: ``<hostdev type='pci'>``. ``on_*``: the lifecycle actions. ``boot``, ``acpi``,
  ``apic``, ``pae``, ``hap`` (HVM): boot devices and features. ``localtime``: the clock.

Everything else (an unknown key, a value with no XML form, a device option with no XML form)
is kept verbatim in the domain's ``<metadata>`` under :data:`NS`, written back by the reverse
conversion, and listed in the result's ``kept``: reported, never dropped. What the XML has that
xl.cfg cannot say is listed in ``dropped`` of :func:`xml_to_xl` (``strict=True`` refuses it).
"""

from __future__ import annotations

import re
from typing import Any

import attrs
from lxml import etree

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.xml.parser import parse_document
from virtkit_xen import devspec
from virtkit_xen.xlcfg import Scalar, Value, format_config, format_value, parse_config

__all__ = ["NS", "Conversion", "canonical", "xl_to_xml", "xml_to_xl"]

#: The namespace of the xl settings kept in ``<metadata>``.
NS = "urn:virtkit:xen:xl:1"
HVMLOADER = "/usr/lib/xen/boot/hvmloader"
ACTIONS = ("destroy", "restart", "preserve", "rename-restart", "coredump-destroy",
           "coredump-restart")
BOOT_LETTERS = {"a": "fd", "c": "hd", "d": "cdrom", "n": "network"}
BACKENDS = {"phy": "phy", "qdisk": "qemu", "tap": "tap", "standalone": "standalone"}
CPUSET = re.compile(r"^\^?\d+(-\d+)?(,\s*\^?\d+(-\d+)?)*$")
OS_BY_TYPE = {"pv": ("linux", "xenpv"), "pvh": ("xenpvh", "xenpvh"), "hvm": ("hvm", "xenfv")}


@attrs.frozen
class Conversion:
    """A converted document and what it did with what has no counterpart on the other side:
    ``kept`` (xl -> XML: kept in the metadata, e.g. ``cpu_cap``, ``vif[0].rate``) or
    ``dropped`` (XML -> xl: not expressible, e.g. ``/domain/devices/video``)."""

    text: str
    kept: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()


def _unsupported(msg: str) -> VirtError:
    return VirtError(ErrorCode.CONFIG_UNSUPPORTED, msg, ErrorDomain.XENXL)


def _sub(parent: etree._Element, tag: str, text: str | None = None,
         **attrib: str) -> etree._Element:
    el = etree.SubElement(parent, tag, {k.rstrip("_"): v for k, v in attrib.items()})
    if text is not None:
        el.text = text
    return el


def _as_list(v: Value | None) -> list[Any]:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _str(key: str, v: Value) -> str:
    if isinstance(v, list):
        raise devspec.bad(key, format_value(v), "expected a single value, not a list")
    return str(v)


def _int(key: str, v: Value) -> int:
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.strip().isdigit():
        return int(v)
    raise devspec.bad(key, format_value(v), "expected a number")


# ---------------------------------------------------------------------- xl.cfg -> XML


class _FromXl:
    def __init__(self, cfg: dict[str, Value]) -> None:
        self.cfg = dict(cfg)
        self.kept: list[str] = []
        self.keep_settings: list[tuple[str, Value]] = []
        self.keep_devices: list[tuple[str, int, dict[str, str]]] = []

    def pop(self, key: str) -> Value | None:
        return self.cfg.pop(key, None)

    def keep(self, key: str, value: Value) -> None:
        self.kept.append(key)
        self.keep_settings.append((key, value))

    def keep_opts(self, kind: str, index: int, opts: dict[str, str]) -> None:
        if opts:
            self.kept.extend(f"{kind}[{index}].{k}" for k in opts)
            self.keep_devices.append((kind, index, opts))

    def convert(self) -> Conversion:
        cfg = self
        builder = cfg.pop("builder")
        gtype = cfg.pop("type")
        kind = _str("type", gtype) if gtype is not None else (
            "hvm" if builder is not None and _str("builder", builder) == "hvm" else "pv")
        if builder is not None and _str("builder", builder) not in ("hvm", "generic"):
            cfg.keep("builder", builder)
        if kind not in OS_BY_TYPE:
            raise devspec.bad("type", kind, "expected pv, pvh or hvm")
        hvm = kind == "hvm"
        name = cfg.pop("name")
        if name is None:
            raise VirtError(ErrorCode.CONF_SYNTAX, "xl.cfg has no 'name'", ErrorDomain.XENXL)
        root = etree.Element("domain", type="xen")
        _sub(root, "name", _str("name", name))
        uuid = cfg.pop("uuid")
        if uuid is not None:
            _sub(root, "uuid", _str("uuid", uuid))
        meta = _sub(root, "metadata")
        mem = cfg.pop("memory")
        maxmem = cfg.pop("maxmem")
        mem_mib = _int("memory", mem) if mem is not None else 128  # xl's default
        _sub(root, "memory", str((_int("maxmem", maxmem) if maxmem is not None else mem_mib)
                                 * 1024), unit="KiB")
        _sub(root, "currentMemory", str(mem_mib * 1024), unit="KiB")
        self._vcpus(root)
        self._boot(root, kind)
        self._features_clock(root, hvm)
        for key in ("on_poweroff", "on_reboot", "on_crash"):
            v = cfg.pop(key)
            if v is None:
                continue
            if _str(key, v) in ACTIONS and (key == "on_crash" or "coredump" not in str(v)):
                _sub(root, key, str(v))
            else:
                cfg.keep(key, v)
        devices = _sub(root, "devices")
        self._disks(devices)
        self._vifs(devices)
        self._graphics(devices, hvm)
        self._serials(devices)
        self._pci(devices)
        for key, value in list(cfg.cfg.items()):
            cfg.keep(key, value)
        if cfg.keep_settings or cfg.keep_devices:
            xl = etree.SubElement(meta, f"{{{NS}}}config", nsmap={"xl": NS})
            for key, value in cfg.keep_settings:
                etree.SubElement(xl, f"{{{NS}}}setting", name=key).text = format_value(value)
            for kind_, index, opts in cfg.keep_devices:
                dev = etree.SubElement(xl, f"{{{NS}}}device", kind=kind_, index=str(index))
                for k, v in opts.items():
                    etree.SubElement(dev, f"{{{NS}}}option", name=k).text = v
        else:
            root.remove(meta)
        etree.indent(root, space="  ")
        return Conversion(etree.tostring(root, encoding="unicode") + "\n", tuple(cfg.kept))

    def _vcpus(self, root: etree._Element) -> None:
        vcpus = self.pop("vcpus")
        maxv = self.pop("maxvcpus")
        n = _int("vcpus", vcpus) if vcpus is not None else 1
        top = _int("maxvcpus", maxv) if maxv is not None else n
        el = _sub(root, "vcpu", str(top), placement="static")
        if top != n:
            el.set("current", str(n))
        cpus = self.pop("cpus")
        tune: etree._Element | None = None
        if isinstance(cpus, list):
            tune = _sub(root, "cputune")
            for i, c in enumerate(cpus):
                if not CPUSET.match(str(c)):
                    raise devspec.bad("cpus", str(c), "expected a cpuset such as 0-3,^2")
                _sub(tune, "vcpupin", vcpu=str(i), cpuset=str(c))
        elif cpus is not None:
            if CPUSET.match(str(cpus)):
                el.set("cpuset", str(cpus))
            else:
                self.keep("cpus", cpus)  # "all", "nodes:0" and the like
        weight = self.pop("cpu_weight")
        if weight is not None:
            if tune is None:
                tune = etree.Element("cputune")
                root.append(tune)
            tune.insert(0, etree.Element("shares"))
            tune[0].text = str(_int("cpu_weight", weight))

    def _boot(self, root: etree._Element, kind: str) -> None:
        bl = self.pop("bootloader")
        if bl is not None:
            _sub(root, "bootloader", _str("bootloader", bl))
        bla = self.pop("bootloader_args")
        if bla is not None:
            if isinstance(bla, list):
                if any(" " in str(a) for a in bla):
                    self.keep("bootloader_args", bla)
                    bla = None
                else:
                    bla = " ".join(str(a) for a in bla)
            if bla is not None:
                _sub(root, "bootloader_args", str(bla))
        os_el = _sub(root, "os")
        name, machine = OS_BY_TYPE[kind]
        _sub(os_el, "type", name, arch="x86_64", machine=machine)
        if kind == "hvm":
            _sub(os_el, "loader", HVMLOADER, type="rom")
        for key, tag in (("kernel", "kernel"), ("ramdisk", "initrd")):
            v = self.pop(key)
            if v is not None:
                _sub(os_el, tag, _str(key, v))
        cmdline = self.pop("cmdline")
        rootdev, extra = self.pop("root"), self.pop("extra")
        if cmdline is None and (rootdev is not None or extra is not None):
            parts = ([f"root={rootdev}"] if rootdev is not None else []) + (
                [str(extra)] if extra is not None else [])
            cmdline = " ".join(parts)
        if cmdline is not None:
            _sub(os_el, "cmdline", _str("cmdline", cmdline))
        boot = self.pop("boot")
        if boot is not None:
            letters = _str("boot", boot)
            if kind != "hvm" or any(c not in BOOT_LETTERS for c in letters):
                self.keep("boot", boot)
            else:
                for c in letters:
                    _sub(os_el, "boot", dev=BOOT_LETTERS[c])

    def _features_clock(self, root: etree._Element, hvm: bool) -> None:
        feats = []
        for key in ("pae", "acpi", "apic", "hap"):
            v = self.pop(key)
            if v is None:
                continue
            if not hvm or _int(key, v) not in (0, 1):
                self.keep(key, v)
            else:
                feats.append((key, _int(key, v)))
        if feats:
            f = _sub(root, "features")
            for key, on in feats:
                if key == "hap":
                    _sub(f, "hap", state="on" if on else "off")
                elif on:
                    _sub(f, key)
                else:
                    self.keep(key, 0)  # an explicit 0: the absence of the flag says less
        lt = self.pop("localtime")
        if lt is not None:
            _sub(root, "clock", offset="localtime" if _int("localtime", lt) else "utc")

    def _disks(self, devices: etree._Element) -> None:
        for i, spec in enumerate(_as_list(self.pop("disk"))):
            d = devspec.parse_disk(str(spec))
            target = d.pop("target", "")
            fmt = d.pop("format", None)
            vdev = d.pop("vdev")
            access = d.pop("access", None)
            backend = d.pop("backendtype", None)
            devtype = d.pop("devtype", None)
            block = backend == "phy" or target.startswith("/dev/")
            disk = _sub(devices, "disk", type="block" if block else "file",
                        device="cdrom" if devtype == "cdrom" else "disk")
            drv: dict[str, str] = {}
            if backend is not None:
                if backend not in BACKENDS:
                    raise devspec.bad("disk", str(spec), f"unknown backendtype '{backend}'")
                drv["name"] = BACKENDS[backend]
            if fmt is not None:
                drv["type"] = fmt
            if drv:
                _sub(disk, "driver", **drv)
            if target:
                _sub(disk, "source", **{"dev" if block else "file": target})
            bus = {"xvd": "xen", "hd": "ide", "sd": "scsi"}.get(
                re.sub(r"[a-z]+$", "", vdev) if vdev.startswith("xvd") else vdev[:2], "xen")
            _sub(disk, "target", dev=vdev, bus=bus)
            if access == "ro" or (access is None and devtype == "cdrom"):
                _sub(disk, "readonly")
            if devtype not in (None, "cdrom"):
                d["devtype"] = devtype
            self.keep_opts("disk", i, d)

    def _vifs(self, devices: etree._Element) -> None:
        for i, spec in enumerate(_as_list(self.pop("vif"))):
            v = devspec.parse_kv("vif", str(spec))
            bridge = v.pop("bridge", None)
            iface = _sub(devices, "interface", type="bridge" if bridge else "ethernet")
            mac = v.pop("mac", None)
            if mac:
                _sub(iface, "mac", address=mac)
            if bridge:
                _sub(iface, "source", bridge=bridge)
            script = v.pop("script", None)
            if script:
                _sub(iface, "script", path=script)
            for addr in (v.pop("ip", None) or "").split():
                _sub(iface, "ip", address=addr)
            vifname = v.pop("vifname", None)
            if vifname:
                _sub(iface, "target", dev=vifname)
            model = v.pop("model", None)
            if model:
                _sub(iface, "model", type=model)
            rate = v.get("rate")
            if rate is not None:
                nbytes, interval = devspec.parse_rate(rate)
                if interval is None and nbytes % 1024 == 0:
                    v.pop("rate")
                    bw = _sub(iface, "bandwidth")
                    _sub(bw, "outbound", average=str(nbytes // 1024))
            mtu = v.pop("mtu", None)
            if mtu:
                _sub(iface, "mtu", size=mtu)
            self.keep_opts("vif", i, v)

    def _graphics(self, devices: etree._Element, hvm: bool) -> None:
        specs: list[dict[str, str]] = []
        for spec in _as_list(self.pop("vfb")):
            specs.append(devspec.parse_kv("vfb", str(spec)))
        keys = ("vnc", "vnclisten", "vncdisplay", "vncunused", "vncpasswd", "keymap", "sdl")
        top: dict[str, str] = {k: str(self.pop(k)) for k in keys if k in self.cfg}
        if top:
            specs.append(top)
        for i, g in enumerate(specs):
            if g.pop("vnc", "0") not in ("0", ""):
                attrs_: dict[str, str] = {}
                disp = g.pop("vncdisplay", None)
                unused = g.pop("vncunused", "1")
                if disp is not None:
                    attrs_["port"] = str(5900 + int(disp))
                    attrs_["autoport"] = "no" if unused == "0" else "yes"
                else:
                    attrs_["port"], attrs_["autoport"] = "-1", "yes"
                for k, a in (("vnclisten", "listen"), ("vncpasswd", "passwd"),
                             ("keymap", "keymap")):
                    if k in g:
                        attrs_[a] = g.pop(k)
                _sub(devices, "graphics", type="vnc", **attrs_)
            else:
                g.pop("vncunused", None)
            if g.pop("sdl", "0") not in ("0", ""):
                _sub(devices, "graphics", type="sdl")
            self.keep_opts("vfb", i, g)

    def _serials(self, devices: etree._Element) -> None:
        for i, spec in enumerate(_as_list(self.pop("serial"))):
            s = str(spec)
            el = etree.Element("serial")
            if s == "pty" or s == "null":
                el.set("type", s)
            elif s.startswith("file:"):
                el.set("type", "file")
                _sub(el, "source", path=s[5:])
            elif s.startswith("/dev/"):
                el.set("type", "dev")
                _sub(el, "source", path=s)
            elif s.startswith(("tcp:", "unix:")):
                kind, _, rest = s.partition(":")
                head, *opts = rest.split(",")
                if any(o not in ("server", "nowait") for o in opts):
                    self.keep(f"serial[{i}]", s)
                    continue
                el.set("type", kind)
                mode = "bind" if "server" in opts else "connect"
                if kind == "tcp":
                    host, _, port = head.rpartition(":")
                    _sub(el, "source", mode=mode, host=host, service=port)
                    _sub(el, "protocol", type="raw")
                else:
                    _sub(el, "source", mode=mode, path=head)
            else:
                self.keep(f"serial[{i}]", s)
                continue
            _sub(el, "target", port=str(i))
            devices.append(el)

    def _pci(self, devices: etree._Element) -> None:
        for i, spec in enumerate(_as_list(self.pop("pci"))):
            (dom, bus, slot, fn), vslot, opts = devspec.parse_pci_bdf(str(spec))
            hd = _sub(devices, "hostdev", mode="subsystem", type="pci", managed="no")
            src = _sub(hd, "source")
            _sub(src, "address", domain=f"0x{dom:04x}", bus=f"0x{bus:02x}",
                 slot=f"0x{slot:02x}", function=f"0x{fn:x}")
            if vslot is not None:
                _sub(hd, "address", type="pci", domain="0x0000", bus="0x00",
                     slot=f"0x{vslot:02x}", function="0x0")
            self.keep_opts("pci", i, opts)


def xl_to_xml(text: str) -> Conversion:
    """The domain XML for an xl.cfg file (``domxml-from-native xen-xl``). Raises
    ``CONF_SYNTAX`` naming the line or the key for a malformed file."""
    return _FromXl(parse_config(text)).convert()


# ---------------------------------------------------------------------- XML -> xl.cfg


class _ToXl:
    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self.out: dict[str, Value] = {}
        self.dropped: list[str] = []
        self.extras: dict[tuple[str, int], dict[str, str]] = {}
        self.settings: dict[str, Value] = {}
        self.used: set[etree._Element] = set()

    def find(self, path: str) -> etree._Element | None:
        el = self.root.find(path)
        if el is not None:
            self.used.add(el)
        return el

    def findall(self, path: str) -> list[etree._Element]:
        els: list[etree._Element] = list(self.root.findall(path))
        self.used.update(els)
        return els

    def text(self, path: str) -> str | None:
        el = self.find(path)
        return el.text.strip() if el is not None and el.text else None

    def convert(self) -> Conversion:
        self._metadata()
        name = self.text("name")
        if not name:
            raise _unsupported("the domain has no <name>")
        os_type = self.text("os/type") or "linux"
        kind = {"linux": "pv", "xen": "pv", "xenpvh": "pvh", "hvm": "hvm"}.get(os_type)
        if kind is None:
            raise _unsupported(f"domain '{name}': os type '{os_type}' is not a Xen guest type")
        out = self.out
        out["name"] = name
        out["type"] = kind
        uuid = self.text("uuid")
        if uuid:
            out["uuid"] = uuid
        self._memory_vcpus()
        self._os(kind)
        for key in ("on_poweroff", "on_reboot", "on_crash"):
            v = self.text(key)
            if v:
                out[key] = v
        self._disks()
        self._vifs()
        self._graphics(kind)
        self._serials()
        self._pci()
        for key, value in self.settings.items():
            if key.startswith("serial["):
                serial = out.setdefault("serial", [])
                assert isinstance(serial, list)
                serial.append(value if isinstance(value, str) else format_value(value))
            elif key not in out:
                out[key] = value
        if isinstance(out.get("serial"), list) and len(out["serial"]) == 1:  # type: ignore[arg-type]
            out["serial"] = out["serial"][0]  # type: ignore[index]
        self._unused(self.root, "/domain")
        return Conversion(format_config(out), dropped=tuple(self.dropped))

    IGNORED = frozenset({"metadata", "title", "description", "clock", "resource", "seclabel", "pm",
               "cpu", "on_lockfailure"})

    def _unused(self, el: etree._Element, path: str) -> None:
        for child in el:
            if not isinstance(child.tag, str):
                continue
            p = f"{path}/{child.tag}"
            if child in self.used:
                continue
            if path == "/domain" and child.tag in self.IGNORED:
                continue
            if path == "/domain/devices" and (
                    child.tag in ("emulator", "console", "memballoon", "video", "controller")
                    or (child.tag == "input" and child.get("bus") in ("xen", "ps2", None))):
                continue  # implied by the guest type: xl creates them itself
            if child.tag in ("devices", "os", "features", "cputune") and path == "/domain":
                self._unused(child, p)
                continue
            self.dropped.append(p)

    def _metadata(self) -> None:
        for s in self.findall(f"metadata/{{{NS}}}config/{{{NS}}}setting"):
            key = s.get("name") or ""
            text = s.text or ""
            try:
                self.settings[key] = parse_config(f"v = {text}\n")["v"] if not key.startswith(
                    "serial[") else text
            except VirtError:
                self.settings[key] = text
        for d in self.findall(f"metadata/{{{NS}}}config/{{{NS}}}device"):
            opts = {o.get("name") or "": o.text or "" for o in d.findall(f"{{{NS}}}option")}
            self.extras[(d.get("kind") or "", int(d.get("index") or "0"))] = opts

    def _memory_vcpus(self) -> None:
        def kib(path: str) -> int | None:
            el = self.find(path)
            if el is None or not el.text:
                return None
            from virtkit.xml.units import to_kib  # lazy: only for conversions

            return to_kib(el.text.strip(), el.get("unit") or "KiB")

        mem, cur = kib("memory"), kib("currentMemory")
        if mem is None and cur is None:
            raise _unsupported("the domain has no <memory>")
        top = mem if mem is not None else cur
        cur = cur if cur is not None else top
        assert top is not None and cur is not None
        self.out["memory"] = cur // 1024
        if top != cur:
            self.out["maxmem"] = top // 1024
        vcpu = self.find("vcpu")
        if vcpu is not None and vcpu.text:
            top_v = int(vcpu.text.strip())
            cur_v = int(vcpu.get("current") or top_v)
            self.out["vcpus"] = cur_v
            if top_v != cur_v:
                self.out["maxvcpus"] = top_v
            if vcpu.get("cpuset"):
                self.out["cpus"] = vcpu.get("cpuset") or ""
        tune = self.find("cputune")
        if tune is not None:
            shares = self.text("cputune/shares")
            if shares:
                self.out["cpu_weight"] = int(shares)
            pins = sorted((int(p.get("vcpu") or 0), p.get("cpuset") or "")
                           for p in self.findall("cputune/vcpupin"))
            if pins:
                cpus: list[Any] = ["all"] * (pins[-1][0] + 1)
                for i, c in pins:
                    cpus[i] = c
                self.out["cpus"] = cpus

    def _os(self, kind: str) -> None:
        self.find("os")
        self.find("os/type")
        self.find("os/loader")
        bl = self.text("bootloader")
        if bl:
            self.out["bootloader"] = bl
        bla = self.text("bootloader_args")
        if bla:
            self.out["bootloader_args"] = bla
        for tag, key in (("kernel", "kernel"), ("initrd", "ramdisk"), ("cmdline", "cmdline")):
            v = self.text(f"os/{tag}")
            if v:
                self.out[key] = v
        boots = [b.get("dev") for b in self.findall("os/boot")]
        if boots and kind == "hvm":
            rev = {v: k for k, v in BOOT_LETTERS.items()}
            self.out["boot"] = "".join(rev[b] for b in boots if b in rev)
        elif boots:
            self.dropped.append("/domain/os/boot")
        feats = self.find("features")
        if feats is not None:
            for f in feats:
                if not isinstance(f.tag, str):
                    continue
                if f.tag in ("pae", "acpi", "apic") and kind == "hvm":
                    self.out[f.tag] = 1
                    self.used.add(f)
                elif f.tag == "hap" and kind == "hvm":
                    self.out["hap"] = 0 if f.get("state") == "off" else 1
                    self.used.add(f)
        clock = self.root.find("clock")
        if clock is not None and clock.get("offset") == "localtime":
            self.out["localtime"] = 1

    def _disks(self) -> None:
        specs = []
        for i, disk in enumerate(self.findall("devices/disk")):
            d: dict[str, str] = {}
            drv = disk.find("driver")
            if drv is not None and drv.get("type"):
                d["format"] = drv.get("type") or ""
            tgt = disk.find("target")
            if tgt is None or not tgt.get("dev"):
                raise _unsupported(f"disk {i} has no <target dev=...>")
            d["vdev"] = tgt.get("dev") or ""
            d["access"] = "ro" if disk.find("readonly") is not None else "rw"
            if drv is not None and drv.get("name"):
                rev = {v: k for k, v in BACKENDS.items()}
                name = drv.get("name") or ""
                if name not in rev:
                    raise _unsupported(f"disk '{d['vdev']}': driver name '{name}' is not a Xen "
                                       "disk backend (phy, qemu, tap)")
                d["backendtype"] = rev[name]
            if disk.get("device") == "cdrom":
                d["devtype"] = "cdrom"
            d.update(self.extras.get(("disk", i), {}))
            src = disk.find("source")
            path = None
            if src is not None:
                path = src.get("file") or src.get("dev")
                if path is None:
                    raise _unsupported(f"disk '{d['vdev']}': only file and block sources "
                                       "convert to xl.cfg")
            d["target"] = path or ""
            specs.append(devspec.format_disk(d))
        if specs:
            self.out["disk"] = _values(specs)

    def _vifs(self) -> None:
        specs = []
        for i, iface in enumerate(self.findall("devices/interface")):
            v: dict[str, str] = {}
            mac = iface.find("mac")
            if mac is not None and mac.get("address"):
                v["mac"] = mac.get("address") or ""
            src = iface.find("source")
            if src is not None and src.get("bridge"):
                v["bridge"] = src.get("bridge") or ""
            elif iface.get("type") not in ("ethernet", "bridge"):
                raise _unsupported(f"interface {i}: type '{iface.get('type')}' does not "
                                   "convert to xl.cfg (bridge or ethernet)")
            for tag, attr, key in (("model", "type", "model"), ("script", "path", "script"),
                                   ("target", "dev", "vifname"), ("mtu", "size", "mtu")):
                el = iface.find(tag)
                if el is not None and el.get(attr):
                    v[key] = el.get(attr) or ""
            ips = [ip.get("address") for ip in iface.findall("ip") if ip.get("address")]
            if ips:
                v["ip"] = " ".join(str(x) for x in ips)
            avg = iface.find("bandwidth/outbound")
            if avg is not None and avg.get("average"):
                v["rate"] = f"{int(avg.get('average') or 0) * 1024}B/s"
            v.update(self.extras.get(("vif", i), {}))
            for child in iface:
                if isinstance(child.tag, str) and child.tag not in (
                        "mac", "source", "model", "script", "target", "mtu", "ip", "bandwidth",
                        "alias", "address"):
                    self.dropped.append(f"/domain/devices/interface[{i + 1}]/{child.tag}")
            specs.append(devspec.format_kv(v))
        if specs:
            self.out["vif"] = _values(specs)

    def _graphics(self, kind: str) -> None:
        vnc: dict[str, str] = {}
        for i, g in enumerate(self.findall("devices/graphics")):
            gtype = g.get("type")
            if gtype == "vnc":
                vnc["vnc"] = "1"
                port = int(g.get("port") or -1)
                if g.get("autoport") == "no" and port >= 5900:
                    vnc["vncdisplay"] = str(port - 5900)
                    vnc["vncunused"] = "0"
                lel = g.find("listen")
                listen = g.get("listen") or (lel.get("address") if lel is not None else None)
                if listen:
                    vnc["vnclisten"] = str(listen)
                for a, k in (("passwd", "vncpasswd"), ("keymap", "keymap")):
                    if g.get(a):
                        vnc[k] = g.get(a) or ""
            elif gtype == "sdl":
                vnc["sdl"] = "1"
            else:
                self.dropped.append(f"/domain/devices/graphics[{i + 1}]")
        extras = self.extras.get(("vfb", 0), {})
        vnc.update(extras)
        if not vnc:
            return
        if kind == "hvm":
            for k, val in vnc.items():
                self.out[k] = int(val) if val.isdigit() and k != "vncpasswd" else val
        else:
            self.out["vfb"] = [devspec.format_kv(vnc)]

    def _serials(self) -> None:
        specs: list[str] = []
        for s in self.findall("devices/serial"):
            t = s.get("type")
            src = s.find("source")
            path = src.get("path") if src is not None else None
            if t in ("pty", "null"):
                specs.append(str(t))
            elif t == "file" and path:
                specs.append(f"file:{path}")
            elif t == "dev" and path:
                specs.append(path)
            elif t in ("tcp", "unix") and src is not None:
                head = (f"{src.get('host') or ''}:{src.get('service') or ''}" if t == "tcp"
                        else str(path))
                server = ",server,nowait" if src.get("mode") == "bind" else ""
                specs.append(f"{t}:{head}{server}")
            else:
                self.dropped.append(f"/domain/devices/serial[@type='{t}']")
        if specs:
            self.out["serial"] = _values(specs) if len(specs) > 1 else specs[0]

    def _pci(self) -> None:
        specs = []
        for i, hd in enumerate(self.findall("devices/hostdev")):
            if hd.get("type") != "pci":
                self.dropped.append(f"/domain/devices/hostdev[@type='{hd.get('type')}']")
                continue
            a = hd.find("source/address")
            if a is None:
                raise _unsupported(f"pci hostdev {i} has no source address")
            nums = [int(a.get(k) or "0", 16) for k in ("domain", "bus", "slot", "function")]
            spec = f"{nums[0]:04x}:{nums[1]:02x}:{nums[2]:02x}.{nums[3]}"
            ga = hd.find("address")
            if ga is not None and ga.get("slot"):
                spec += f"@{int(ga.get('slot') or '0', 16):02x}"
            opts = self.extras.get(("pci", i), {})
            if opts:
                spec += "," + devspec.format_kv(opts)
            specs.append(spec)
        if specs:
            self.out["pci"] = _values(specs)


def xml_to_xl(xml: str, *, strict: bool = False) -> Conversion:
    """The xl.cfg for a domain XML document (``domxml-to-native xen-xl``). What the XML holds
    that xl.cfg cannot say is listed in ``dropped``; with ``strict`` it is refused with
    ``CONFIG_UNSUPPORTED`` naming it."""
    root = parse_document(xml, "domain")
    conv = _ToXl(root).convert()
    if strict and conv.dropped:
        name = root.findtext("name") or "?"
        raise _unsupported(f"domain '{name}': xl.cfg cannot express "
                           f"{', '.join(conv.dropped)}")
    return conv


def canonical(text: str) -> dict[str, Any]:
    """An xl.cfg file's meaning, for comparing two files: device specifications parsed (with
    xl's defaults filled: access rw, ro for a cdrom), ``root``/``extra`` folded into
    ``cmdline``, ``builder`` into ``type``, one-item ``serial`` lists as the item."""
    cfg: dict[str, Any] = dict(parse_config(text))
    if "builder" in cfg:
        b = cfg.pop("builder")
        cfg.setdefault("type", "hvm" if b == "hvm" else "pv")
    cfg.setdefault("type", "pv")
    cfg.setdefault("vcpus", 1)  # xl's defaults
    cfg.setdefault("memory", 128)
    if "cmdline" not in cfg and ("root" in cfg or "extra" in cfg):
        parts = ([f"root={cfg['root']}"] if "root" in cfg else []) + (
            [str(cfg["extra"])] if "extra" in cfg else [])
        cfg["cmdline"] = " ".join(parts)
    cfg.pop("root", None)
    cfg.pop("extra", None)
    disks = []
    for spec in _as_list(cfg.get("disk")):
        d = devspec.parse_disk(str(spec))
        d.setdefault("access", "ro" if d.get("devtype") == "cdrom" else "rw")
        d.setdefault("target", "")
        disks.append(d)
    if disks:
        cfg["disk"] = disks
    for key in ("vif", "vfb"):
        if key in cfg:
            cfg[key] = [devspec.parse_kv(key, str(s)) for s in _as_list(cfg[key])]
    for v in cfg.get("vif", []):
        if "rate" in v:
            v["rate"] = devspec.parse_rate(v["rate"])
    for g in cfg.get("vfb", []):
        if g.get("vncunused") == "1":
            del g["vncunused"]
    if cfg.get("vncunused") == 1:
        del cfg["vncunused"]
    if isinstance(cfg.get("serial"), list) and len(cfg["serial"]) == 1:
        cfg["serial"] = cfg["serial"][0]
    if "pci" in cfg:
        cfg["pci"] = [devspec.parse_pci_bdf(str(s)) for s in _as_list(cfg["pci"])]
    if "maxmem" in cfg and cfg["maxmem"] == cfg.get("memory"):
        del cfg["maxmem"]
    if "maxvcpus" in cfg and cfg["maxvcpus"] == cfg.get("vcpus"):
        del cfg["maxvcpus"]
    return cfg


def _values(specs: list[str]) -> list[Scalar]:
    """A list of xl.cfg strings as a Value (lists are invariant: list[str] is not list[Scalar])."""
    return list[Scalar](specs)
