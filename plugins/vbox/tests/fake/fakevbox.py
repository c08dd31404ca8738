"""A fake ``VBoxManage`` for virtkit-vbox's tests: NOT VirtualBox.

It keeps a small machine registry in ``$VBOX_USER_HOME/fakevbox.json`` (default
``$HOME/.config/VirtualBox``), checks every argument list it receives against the options the
real VBoxManage of ``$FAKE_VBOX_VERSION`` (6.1.50, 7.0.14 or 7.1.4; default 7.0.14) accepts, and
answers with the output formats recorded (reconstructed) under ``recorded/``. Every call is
appended as a JSON line to ``$FAKE_VBOX_LOG`` when set, so tests can check the exact arguments.

Guest behaviour it simulates: an ACPI power button press powers the machine off after
``$FAKE_VBOX_ACPI_DELAY`` seconds (default 0.2), as a guest that honours it would.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
import time


def new_uuid() -> str:
    """A random (version 4) UUID, without importing the uuid module (slow to import)."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = os.environ.get("FAKE_VBOX_VERSION", "7.0.14")
MAJOR = int(VERSION.split(".")[0])
MINOR = int(VERSION.split(".")[1])
REVISION = {"6.1": "161033", "7.0": "161095", "7.1": "165100"}.get(f"{MAJOR}.{MINOR}", "1")
RECORDED = os.path.join(HERE, "recorded", "6.1" if MAJOR == 6 else "7.0")
with open(os.path.join(HERE, "recorded", "messages.json"), encoding="utf-8") as _f:
    MSG = json.load(_f)

HOME = os.environ.get("VBOX_USER_HOME") or os.path.join(
    os.path.expanduser("~"), ".config", "VirtualBox")
STATE = os.path.join(HOME, "fakevbox.json")
ACPI_DELAY = float(os.environ.get("FAKE_VBOX_ACPI_DELAY", "0.2"))
ONLINE = ("running", "paused", "gurumeditation")
OSTYPES = {"Other_64": "Other/Unknown (64-bit)", "Other": "Other/Unknown"}


class Fail(Exception):
    def __init__(self, text: str, code: int = 1) -> None:
        super().__init__(text)
        self.text = text
        self.code = code


def err(key: str, **kw: str) -> Fail:
    return Fail(MSG[key].format(**kw))


def state_err(detail: str, component: str = "ConsoleWrap", interface: str = "IConsole") -> Fail:
    return err("err_state", detail=detail, component=component, interface=interface)


def syntax(option: str) -> Fail:
    return Fail(MSG["err_syntax"].format(option=option), 2)


def now_iso() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


# -- the registry --------------------------------------------------------------------------------

def load() -> dict:
    try:
        with open(STATE, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {"vms": {}, "hdds": {}, "hostonlyifs": {}, "machinefolder":
                os.path.join(os.path.dirname(HOME.rstrip("/")) if HOME.endswith(
                    "/.config/VirtualBox") else HOME, "VirtualBox VMs")}


def save(reg: dict) -> None:
    tmp = STATE + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(reg, f)
    os.replace(tmp, STATE)


def settle(reg: dict) -> None:
    """Let time pass for guests: a pressed ACPI power button powers the machine off."""
    for vm in reg["vms"].values():
        due = vm.get("acpi_at")
        if due is not None and time.time() >= due and vm["state"] == "running":
            vm["state"] = "poweroff"
            vm["statetime"] = now_iso()
            vm.pop("acpi_at", None)
            vm["session"] = None


def find(reg: dict, ref: str) -> dict:
    ref_l = ref.strip("{}").lower()
    for vm in reg["vms"].values():
        if vm["uuid"] == ref_l or vm["name"] == ref:
            return vm
    raise err("err_no_vm", name=ref)


def unlocked(vm: dict) -> None:
    if vm["state"] in ONLINE or vm.get("session"):
        raise err("err_locked", name=vm["name"])


def write_vbox(vm: dict) -> None:
    """A settings file as VirtualBox keeps one (the registry is the fake's truth)."""
    ver = "1.16-linux" if MAJOR == 6 else "1.19-linux"
    with open(vm["cfgfile"], "w", encoding="utf-8") as f:
        f.write(f'<?xml version="1.0"?>\n<VirtualBox xmlns="http://www.virtualbox.org/" '
                f'version="{ver}">\n  <Machine uuid="{{{vm["uuid"]}}}" name="{vm["name"]}" '
                f'OSType="{vm["ostype"]}" snapshotFolder="Snapshots"/>\n</VirtualBox>\n')


# -- option parsing -----------------------------------------------------------------------------

def opts(args: list[str], spec: dict[str, int], aliases: dict[str, str] | None = None
         ) -> tuple[dict[str, list[str]], list[str]]:
    """Options of ``spec`` (name -> number of values) with ``--opt=value`` forms; positionals."""
    aliases = aliases or {}
    got: dict[str, list[str]] = {}
    pos: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            name, eq, val = a.partition("=")
            name = aliases.get(name, name)
            if name not in spec:
                raise syntax(a)
            n = spec[name]
            if eq:
                got[name] = [val]
                i += 1
                continue
            if i + n >= len(args) + (0 if n else 1):
                raise Fail(f"VBoxManage: error: Missing value for option {a}\n", 2)
            got[name] = args[i + 1:i + 1 + n]
            i += 1 + n
        else:
            pos.append(a)
            i += 1
    return got, pos


# modifyvm: 6.1 spellings; 7.x accepts these and the dashed ones (VBoxManageModifyVM.cpp OPT2).
MODIFY_INDEXED = {"--nic": 1, "--nictype": 1, "--macaddress": 1, "--cableconnected": 1,
                  "--bridgeadapter": 1, "--hostonlyadapter": 1, "--intnet": 1, "--uart": 2,
                  "--uartmode": 1, "--uarttype": 1, "--boot": 1}
MODIFY_PLAIN = {"--memory": 1, "--cpus": 1, "--cpuhotplug": 1, "--plugcpu": 1, "--unplugcpu": 1,
                "--firmware": 1, "--acpi": 1, "--ioapic": 1, "--pae": 1, "--description": 1,
                "--vrde": 1, "--vrdeport": 1, "--vrdeaddress": 1, "--vrdeextpack": 1,
                "--guestmemoryballoon": 1, "--autostart-enabled": 1, "--name": 1,
                "--ostype": 1, "--mouse": 1, "--keyboard": 1, "--usbohci": 1, "--usbehci": 1,
                "--usbxhci": 1, "--vrdeproperty": 1}
V7 = {"--nic-type": "--nictype", "--mac-address": "--macaddress",
      "--cable-connected": "--cableconnected", "--bridge-adapter": "--bridgeadapter",
      "--host-only-adapter": "--hostonlyadapter", "--uart-mode": "--uartmode",
      "--uart-type": "--uarttype", "--vrde-port": "--vrdeport", "--vrde-address": "--vrdeaddress",
      "--vrde-extpack": "--vrdeextpack", "--guest-memory-balloon": "--guestmemoryballoon",
      "--cpu-hotplug": "--cpuhotplug", "--plug-cpu": "--plugcpu", "--unplug-cpu": "--unplugcpu",
      "--os-type": "--ostype", "--usb-ohci": "--usbohci", "--usb-ehci": "--usbehci",
      "--usb-xhci": "--usbxhci", "--vrde-property": "--vrdeproperty"}
_INDEXED = re.compile(r"^(--[a-z-]+?)(\d+)$")


def modify_opts(args: list[str]) -> list[tuple[str, int | None, list[str]]]:
    out = []
    i = 0
    while i < len(args):
        a = args[i]
        name, eq, val = a.partition("=")
        idx = None
        m = _INDEXED.match(name)
        base = name
        if m is not None and (m.group(1) in MODIFY_INDEXED or m.group(1) in V7):
            base, idx = m.group(1), int(m.group(2))
        if base in V7:
            if MAJOR < 7:
                raise syntax(a)
            base = V7[base]
        if idx is not None and base not in MODIFY_INDEXED:
            raise syntax(a)
        if idx is None and base not in MODIFY_PLAIN:
            raise syntax(a)
        n = MODIFY_INDEXED[base] if idx is not None else MODIFY_PLAIN[base]
        if base == "--uart" and not eq and i + 1 < len(args) and args[i + 1] == "off":
            n = 1
        if base == "--uartmode" and not eq and i + 1 < len(args) and args[i + 1] in (
                "file", "tcpserver", "tcpclient", "server", "client"):
            n = 2
        if eq:
            vals = [val]
            i += 1
        else:
            vals = args[i + 1:i + 1 + n]
            if len(vals) < n:
                raise Fail(f"VBoxManage: error: Missing value for option {a}\n", 2)
            i += 1 + n
        out.append((base, idx, vals))
    return out


def onoff(v: str, option: str) -> bool:
    if v not in ("on", "off"):
        raise Fail(f"VBoxManage: error: Invalid {option} argument '{v}'\n", 2)
    return v == "on"


# -- commands -----------------------------------------------------------------------------------

def cmd_version(reg: dict, args: list[str]) -> str:
    return f"{VERSION}r{REVISION}\n"


def _vm_dir(reg: dict, name: str, base: str | None) -> str:
    return os.path.join(base or reg["machinefolder"], name)


def cmd_createvm(reg: dict, args: list[str]) -> str:
    o, pos = opts(args, {"--name": 1, "--uuid": 1, "--ostype": 1, "--register": 0,
                         "--basefolder": 1, "--default": 0, "--groups": 1},
                  {"--os-type": "--ostype"} if MAJOR >= 7 else {})
    if pos or "--name" not in o:
        raise Fail("VBoxManage: error: Parameter --name is required\n", 2)
    name = o["--name"][0]
    uid = (o.get("--uuid") or [new_uuid()])[0].lower()
    vmdir = _vm_dir(reg, name, (o.get("--basefolder") or [None])[0])
    cfg = os.path.join(vmdir, name + ".vbox")
    if os.path.exists(cfg):
        raise err("err_exists", cfgfile=cfg)
    if any(v["uuid"] == uid for v in reg["vms"].values()):
        raise err("err_invalid_arg", detail=f"A machine with UUID {{{uid}}} is already "
                  "registered", component="VirtualBoxWrap", interface="IVirtualBox")
    ostype = (o.get("--ostype") or ["Other"])[0]
    if ostype not in OSTYPES:
        raise err("err_object", detail=f"Guest OS type '{ostype}' is invalid",
                  component="VirtualBoxWrap", interface="IVirtualBox")
    os.makedirs(os.path.join(vmdir, "Logs"), exist_ok=True)
    vm = {"name": name, "uuid": uid, "ostype": ostype, "cfgfile": cfg, "dir": vmdir,
          "memory": 128, "cpus": 1, "cpuhotplug": False, "plugged": None, "firmware": "BIOS",
          "acpi": True, "ioapic": True, "pae": False, "boot": ["floppy", "dvd", "disk", "none"],
          "description": "", "balloon": 0, "autostart": False, "controllers": [], "nics": {},
          "uarts": {}, "vrde": {"on": False, "ports": "3389", "address": "", "extpack": ""},
          "sharedfolders": [], "extradata": {}, "state": "poweroff", "statetime": now_iso(),
          "statefile": "", "session": None, "snapshots": [], "current": None,
          "registered": "--register" in o}
    if not vm["registered"]:
        raise Fail("VBoxManage: error: this fake only makes registered machines "
                   "(createvm --register)\n", 2)
    reg["vms"][uid] = vm
    write_vbox(vm)
    return MSG["createvm"].format(name=name, uuid=uid, cfgfile=cfg)


def cmd_modifyvm(reg: dict, args: list[str]) -> str:
    if not args:
        raise syntax("(no machine)")
    vm = find(reg, args[0])
    unlocked(vm)
    for base, idx, vals in modify_opts(args[1:]):
        v = vals[0]
        if base == "--memory":
            vm["memory"] = int(v)
        elif base == "--cpus":
            if not 1 <= int(v) <= 32:
                raise err("err_invalid_arg", detail=f"Invalid virtual CPU count: {v} (must be "
                          "in range [1, 32])", component="MachineWrap", interface="IMachine")
            vm["cpus"] = int(v)
            if vm["plugged"] is not None:
                vm["plugged"] = [c for c in range(int(v))]
        elif base == "--cpuhotplug":
            vm["cpuhotplug"] = onoff(v, base)
            vm["plugged"] = list(range(vm["cpus"])) if vm["cpuhotplug"] else None
        elif base in ("--plugcpu", "--unplugcpu"):
            if not vm["cpuhotplug"]:
                raise err("err_state", detail="CPU hotplug is not enabled",
                          component="MachineWrap", interface="IMachine")
            cpu = int(v)
            if base == "--unplugcpu":
                if cpu == 0:
                    raise err("err_invalid_arg", detail="It is not possible to detach CPU 0",
                              component="MachineWrap", interface="IMachine")
                vm["plugged"] = [c for c in vm["plugged"] if c != cpu]
            elif cpu not in vm["plugged"]:
                vm["plugged"] = sorted(vm["plugged"] + [cpu])
        elif base == "--firmware":
            if v.lower() not in ("bios", "efi", "efi32", "efi64"):
                raise Fail(f"VBoxManage: error: Invalid --firmware argument '{v}'\n", 2)
            vm["firmware"] = v.upper()
        elif base in ("--acpi", "--ioapic", "--pae"):
            vm[base[2:]] = onoff(v, base)
        elif base == "--boot":
            if not 1 <= idx <= 4 or v not in ("none", "floppy", "dvd", "disk", "net"):
                raise Fail(f"VBoxManage: error: Invalid boot device '{v}'\n", 2)
            vm["boot"][idx - 1] = v
        elif base == "--description":
            vm["description"] = v
        elif base == "--guestmemoryballoon":
            vm["balloon"] = int(v)
        elif base == "--autostart-enabled":
            vm["autostart"] = onoff(v, base)
        elif base == "--nic":
            if not 1 <= idx <= 8:
                raise Fail(f"VBoxManage: error: Invalid NIC number {idx}\n", 2)
            if v == "none":
                vm["nics"].pop(str(idx), None)
            elif v in ("null", "nat", "bridged", "intnet", "hostonly"):
                nic = vm["nics"].setdefault(str(idx), {"type": "82540EM", "cable": True,
                                                       "mac": fresh_mac(), "net": ""})
                nic["kind"] = v
            else:
                raise Fail(f"VBoxManage: error: Invalid type '{v}' specfied for NIC {idx}\n", 2)
        elif base in ("--nictype", "--macaddress", "--cableconnected", "--bridgeadapter",
                      "--hostonlyadapter", "--intnet"):
            nic = vm["nics"].get(str(idx))
            if nic is None:
                raise Fail(f"VBoxManage: error: NIC {idx} is not enabled\n", 1)
            if base == "--nictype":
                if v not in ("Am79C970A", "Am79C973", "Am79C960", "82540EM", "82543GC",
                             "82545EM", "virtio"):
                    raise Fail(f"VBoxManage: error: Invalid NIC type '{v}' specified for "
                               f"NIC {idx}\n", 2)
                nic["type"] = v
            elif base == "--macaddress":
                if not re.fullmatch(r"[0-9A-Fa-f]{12}", v):
                    raise err("err_invalid_arg", detail=f"Invalid MAC address format "
                              f"'{v}'", component="NetworkAdapterWrap",
                              interface="INetworkAdapter")
                nic["mac"] = v.upper()
            elif base == "--cableconnected":
                nic["cable"] = onoff(v, base)
            else:
                nic["net"] = v
        elif base == "--uart":
            if vals[0] == "off":
                vm["uarts"].pop(str(idx), None)
            else:
                vm["uarts"].setdefault(str(idx), {"mode": "disconnected", "path": "",
                                                  "type": "16550A"})
                vm["uarts"][str(idx)]["io"] = int(vals[0], 16)
                vm["uarts"][str(idx)]["irq"] = int(vals[1])
        elif base in ("--uartmode", "--uarttype"):
            u = vm["uarts"].get(str(idx))
            if u is None:
                raise Fail(f"VBoxManage: error: UART {idx} is not enabled\n", 1)
            if base == "--uarttype":
                u["type"] = v
            elif len(vals) == 2:
                u["mode"], u["path"] = vals
            else:
                u["mode"], u["path"] = ("disconnected", "") if v == "disconnected" else (
                    "device", v)
        elif base == "--vrde":
            vm["vrde"]["on"] = onoff(v, base)
        elif base == "--vrdeport":
            vm["vrde"]["ports"] = v
        elif base == "--vrdeaddress":
            vm["vrde"]["address"] = v
        elif base == "--vrdeproperty":
            key, eq, val = v.partition("=")
            if not eq:
                raise Fail(f"VBoxManage: error: Invalid --vrdeproperty argument '{v}'\n", 2)
            props = vm["vrde"].setdefault("props", {})
            if val:
                props[key] = val
            else:
                props.pop(key, None)
        elif base == "--vrdeextpack":
            if v not in ("default", "VNC"):
                raise err("err_object", detail=f"Extension pack '{v}' does not exist",
                          component="VRDEServerWrap", interface="IVRDEServer")
            vm["vrde"]["extpack"] = "" if v == "default" else v
        elif base in ("--usbohci", "--usbehci", "--usbxhci"):
            vm[base[2:]] = onoff(v, base)
        elif base == "--mouse":
            if v not in ("ps2", "usb", "usbtablet", "usbmultitouch"):
                raise Fail(f"VBoxManage: error: Invalid type '{v}' specfied for pointing "
                           "device\n", 2)
            vm["mouse"] = {"ps2": "ps2mouse", "usb": "usbmouse"}.get(v, v)
        elif base == "--keyboard":
            if v not in ("ps2", "usb"):
                raise Fail(f"VBoxManage: error: Invalid type '{v}' specfied for keyboard\n", 2)
            vm["keyboard"] = {"ps2": "ps2kbd", "usb": "usbkbd"}.get(v, v)
        elif base == "--name":
            vm["name"] = v
        elif base == "--ostype":
            vm["ostype"] = v
    write_vbox(vm)
    return ""


def fresh_mac() -> str:
    return "080027" + new_uuid()[:6].upper()


# storagectl --controller spellings (VBoxManage compares them case-insensitively) and the type
# showvminfo prints for each.
CTL_TYPES = {"ide": ("PIIX4", "PIIX3", "ICH6"), "sata": ("IntelAHCI",),
             "scsi": ("LSILogic", "BusLogic"), "sas": ("LSILogicSAS",), "floppy": ("I82078",),
             "usb": ("USB",), "pcie": ("NVMe",), "virtio": ("VirtIO",)}
CTL_PRINT = {"intelahci": "IntelAhci", "lsilogic": "LsiLogic", "lsilogicsas": "LsiLogicSas",
             "virtio": "VirtioSCSI", "piix4": "PIIX4", "piix3": "PIIX3", "ich6": "ICH6",
             "buslogic": "BusLogic", "i82078": "I82078", "usb": "USB", "nvme": "NVMe"}


def cmd_storagectl(reg: dict, args: list[str]) -> str:
    vm = find(reg, args[0])
    unlocked(vm)
    o, _pos = opts(args[1:], {"--name": 1, "--add": 1, "--controller": 1, "--portcount": 1,
                             "--bootable": 1, "--remove": 0, "--hostiocache": 1},
                  {"--port-count": "--portcount", "--host-io-cache": "--hostiocache"}
                  if MAJOR >= 7 else {})
    name = o["--name"][0]
    if "--remove" in o:
        before = len(vm["controllers"])
        vm["controllers"] = [c for c in vm["controllers"] if c["name"] != name]
        if len(vm["controllers"]) == before:
            raise err("err_object", detail=f"Could not find a storage controller named "
                      f"'{name}'", component="MachineWrap", interface="IMachine")
        return ""
    bus = o["--add"][0]
    if bus not in CTL_TYPES:
        raise Fail(f"VBoxManage: error: Invalid --add argument '{bus}'\n", 2)
    ctype = (o.get("--controller") or [CTL_TYPES[bus][0]])[0]
    if ctype.lower() not in [t.lower() for t in CTL_TYPES[bus]]:
        raise Fail(f"VBoxManage: error: Invalid --type argument '{ctype}'\n", 2)
    if any(c["name"] == name for c in vm["controllers"]):
        raise err("err_object", detail=f"Storage controller named '{name}' already exists",
                  component="MachineWrap", interface="IMachine")
    ports = int((o.get("--portcount") or ["1"])[0])
    vm["controllers"].append({"name": name, "bus": bus, "type": CTL_PRINT[ctype.lower()],
                              "ports": ports, "bootable": (o.get("--bootable") or ["on"])[0] ==
                              "on", "atts": {}})
    write_vbox(vm)
    return ""


def register_medium(reg: dict, path: str, kind: str) -> str:
    for uid, m in reg["hdds"].items():
        if m["location"] == path:
            return uid
    if not os.path.exists(path):
        raise err("err_file", path=path)
    uid = new_uuid()
    fmt = {".vdi": "VDI", ".vmdk": "VMDK", ".vhd": "VHD"}.get(
        os.path.splitext(path)[1].lower(), "RAW")
    reg["hdds"][uid] = {"location": path, "format": fmt, "kind": kind,
                        "capacity": max(1, os.path.getsize(path) // (1024 * 1024))}
    return uid


def cmd_storageattach(reg: dict, args: list[str]) -> str:
    vm = find(reg, args[0])
    o, _pos = opts(args[1:], {"--storagectl": 1, "--port": 1, "--device": 1, "--type": 1,
                             "--medium": 1, "--hotpluggable": 1, "--forceunmount": 0},
                  {"--hot-pluggable": "--hotpluggable"} if MAJOR >= 7 else {})
    ctl = next((c for c in vm["controllers"] if c["name"] == o["--storagectl"][0]), None)
    if ctl is None:
        raise err("err_object", detail=f"Could not find a storage controller named "
                  f"'{o['--storagectl'][0]}'", component="MachineWrap", interface="IMachine")
    port, dev = int((o.get("--port") or ["0"])[0]), int((o.get("--device") or ["0"])[0])
    if port >= ctl["ports"] or dev > (1 if ctl["bus"] in ("ide", "floppy") else 0):
        raise err("err_invalid_arg", detail=f"Invalid port/device ({port}/{dev}) for "
                  f"controller '{ctl['name']}'", component="MachineWrap", interface="IMachine")
    key = f"{port}-{dev}"
    medium = o["--medium"][0]
    online = vm["state"] in ONLINE
    existing = ctl["atts"].get(key)
    if online:
        dvd_change = existing is not None and existing["type"] == "dvddrive" and medium != "none"
        hot = ctl["bus"] == "sata" and (
            (o.get("--hotpluggable") or ["off"])[0] == "on"
            or (existing is not None and existing.get("hot")))
        if not dvd_change and not hot:
            raise state_err(f"Controller '{ctl['name']}' does not support hot-plugging",
                            "SessionMachine", "IMachine")
    if medium == "none":
        if existing is None:
            raise err("err_object", detail=f"No storage device attached to device slot {dev} "
                      f"on port {port} of controller '{ctl['name']}'",
                      component="SessionMachine", interface="IMachine")
        del ctl["atts"][key]
    else:
        kind = (o.get("--type") or [existing["type"] if existing else "hdd"])[0]
        if kind not in ("hdd", "dvddrive", "fdd"):
            raise Fail(f"VBoxManage: error: Invalid --type argument '{kind}'\n", 2)
        att = {"type": kind, "medium": None, "uuid": None,
               "hot": (o.get("--hotpluggable") or ["on" if existing and existing.get("hot")
                                                  else "off"])[0] == "on"}
        if medium not in ("emptydrive", "additions"):
            att["uuid"] = register_medium(reg, medium, kind)
            att["medium"] = medium
        elif kind == "hdd":
            raise err("err_invalid_arg", detail="A hard disk needs a medium",
                      component="MachineWrap", interface="IMachine")
        ctl["atts"][key] = att
    write_vbox(vm)
    return ""


def cmd_sharedfolder(reg: dict, args: list[str]) -> str:
    action = args[0]
    vm = find(reg, args[1])
    o, _pos = opts(args[2:], {"--name": 1, "--hostpath": 1, "--readonly": 0, "--automount": 0,
                             "--transient": 0}, {"--host-path": "--hostpath",
                                                 "--auto-mount": "--automount"}
                  if MAJOR >= 7 else {})
    unlocked(vm)
    name = o["--name"][0]
    if action == "add":
        if any(s["name"] == name for s in vm["sharedfolders"]):
            raise err("err_object", detail=f"Shared folder named '{name}' already exists",
                      component="MachineWrap", interface="IMachine")
        vm["sharedfolders"].append({"name": name, "path": o["--hostpath"][0],
                                    "writable": "--readonly" not in o})
    elif action == "remove":
        vm["sharedfolders"] = [s for s in vm["sharedfolders"] if s["name"] != name]
    else:
        raise syntax(action)
    write_vbox(vm)
    return ""


def cmd_setextradata(reg: dict, args: list[str]) -> str:
    vm = find(reg, args[0])
    if len(args) > 2 and args[2] != "":
        vm["extradata"][args[1]] = args[2]
    else:
        vm["extradata"].pop(args[1], None)
    return ""


def cmd_getextradata(reg: dict, args: list[str]) -> str:
    vm = find(reg, args[0])
    if args[1] == "enumerate":
        return "".join(f"Key: {k}, Value: {v}\n" for k, v in sorted(vm["extradata"].items()))
    v = vm["extradata"].get(args[1])
    return "No value set!\n" if v is None else f"Value: {v}\n"


def cmd_startvm(reg: dict, args: list[str]) -> str:
    o, pos = opts(args, {"--type": 1})
    vm = find(reg, pos[0])
    kind = (o.get("--type") or ["gui"])[0]
    if kind not in ("gui", "headless", "sdl", "separate"):
        raise Fail(f"VBoxManage: error: Invalid session type '{kind}'\n", 2)
    if vm["state"] in ONLINE:
        raise state_err(f"The machine '{vm['name']}' is already locked by a session (or being "
                        "locked or unlocked)", "MachineWrap", "IMachine")
    for ctl in vm["controllers"]:
        for att in ctl["atts"].values():
            if att["medium"] and not os.path.exists(att["medium"]):
                raise err("err_file", path=att["medium"])
    if vm["state"] == "saved":
        vm.pop("statefile_data", None)
        if vm["statefile"] and os.path.exists(vm["statefile"]):
            os.unlink(vm["statefile"])
        vm["statefile"] = ""
    vm["state"] = "running"
    vm["statetime"] = now_iso()
    vm["session"] = "headless"
    return MSG["startvm"].format(name=vm["name"])


def _stop(vm: dict, state: str) -> None:
    vm["state"] = state
    vm["statetime"] = now_iso()
    vm["session"] = None
    vm.pop("acpi_at", None)


def cmd_controlvm(reg: dict, args: list[str]) -> str:
    vm = find(reg, args[0])
    action = args[1]
    st = vm["state"]
    if st not in ONLINE:
        raise state_err(f"Machine '{vm['name']}' is not currently running", "MachineWrap",
                        "IMachine")
    if action == "pause":
        if st != "running":
            raise state_err(f"Invalid machine state: {st.capitalize()}")
        vm["state"] = "paused"
    elif action == "resume":
        if st != "paused":
            raise state_err(f"Invalid machine state: {st.capitalize()}")
        vm["state"] = "running"
    elif action == "reset":
        pass
    elif action == "poweroff":
        _stop(vm, "poweroff")
        return MSG["progress"]
    elif action == "acpipowerbutton":
        if st != "running":
            raise state_err(f"Invalid machine state: {st.capitalize()} (must be Running)")
        if vm["acpi"]:
            vm["acpi_at"] = time.time() + ACPI_DELAY
    elif action == "savestate":
        snapdir = os.path.join(vm["dir"], "Snapshots")
        os.makedirs(snapdir, exist_ok=True)
        path = os.path.join(snapdir, time.strftime("%Y-%m-%dT%H-%M-%S-") +
                            f"{int(time.time() * 1e6) % 1000000:06d}Z.sav")
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"fakevbox-saved-state": vm["uuid"], "paused": st == "paused"}, f)
        _stop(vm, "saved")
        vm["statefile"] = path
        return MSG["progress"]
    elif action in ("plugcpu", "unplugcpu"):
        if not vm["cpuhotplug"]:
            raise state_err("CPU hotplug is not enabled", "MachineWrap", "IMachine")
        cpu = int(args[2])
        if cpu >= vm["cpus"]:
            raise err("err_invalid_arg", detail=f"CPU id {cpu} is out of range",
                      component="MachineWrap", interface="IMachine")
        if action == "unplugcpu":
            if cpu == 0:
                raise err("err_invalid_arg", detail="It is not possible to detach CPU 0",
                          component="MachineWrap", interface="IMachine")
            vm["plugged"] = [c for c in vm["plugged"] if c != cpu]
        elif cpu not in vm["plugged"]:
            vm["plugged"] = sorted(vm["plugged"] + [cpu])
    elif action == "guestmemoryballoon":
        mb = int(args[2])
        if mb > vm["memory"]:
            raise err("err_invalid_arg", detail=f"Invalid memory balloon size {mb}",
                      component="MachineWrap", interface="IMachine")
        vm["balloon"] = mb
    else:
        raise syntax(action)
    return ""


def cmd_discardstate(reg: dict, args: list[str]) -> str:
    vm = find(reg, args[0])
    if vm["state"] != "saved":
        raise state_err(f"Cannot discard the saved state as the machine is not in the saved "
                        f"state (machine state: {vm['state'].capitalize()})", "MachineWrap",
                        "IMachine")
    if vm["statefile"] and os.path.exists(vm["statefile"]):
        os.unlink(vm["statefile"])
    _stop(vm, "poweroff")
    vm["statefile"] = ""
    return ""


def cmd_adoptstate(reg: dict, args: list[str]) -> str:
    vm = find(reg, args[0])
    path = os.path.abspath(args[1])
    if vm["state"] not in ("poweroff", "aborted"):
        raise state_err(f"Cannot adopt the saved machine state as the machine is not in "
                        f"Powered Off or Aborted state (machine state: "
                        f"{vm['state'].capitalize()})", "MachineWrap", "IMachine")
    if not os.path.exists(path):
        raise err("err_file", path=path)
    _stop(vm, "saved")
    vm["statefile"] = path
    return ""


def _snap_walk(snaps: list[dict], parent: str | None) -> list[dict]:
    return [s for s in snaps if s["parent"] == parent]


def cmd_snapshot(reg: dict, args: list[str]) -> str:
    vm = find(reg, args[0])
    action = args[1]
    snaps = vm["snapshots"]
    if action == "take":
        o, _pos = opts(args[3:], {"--description": 1, "--live": 0, "--uniquename": 1},
                      {"--unique-name": "--uniquename"} if MAJOR >= 7 else {})
        name = args[2]
        uid = new_uuid()
        if vm["state"] == "saved":
            raise state_err("Cannot take a snapshot of a machine in saved state with this "
                            "fake", "MachineWrap", "IMachine")
        snaps.append({"name": name, "uuid": uid, "parent": vm["current"],
                      "description": (o.get("--description") or [""])[0],
                      "online": vm["state"] in ONLINE, "paused": vm["state"] == "paused",
                      "settings": _settings_copy(vm)})
        vm["current"] = uid
        return MSG["snapshot_take"].format(uuid=uid)
    if action == "list":
        if not snaps:
            return "This machine does not have any snapshots\n"
        return _snapshot_lines(vm)
    if action in ("restore", "delete", "showvminfo", "edit"):
        ref = args[2]
        snap = next((s for s in snaps if s["uuid"] == ref.strip("{}").lower() or
                     s["name"] == ref), None)
        if snap is None:
            raise err("err_object", detail=f"Could not find a snapshot named '{ref}'",
                      component="MachineWrap", interface="IMachine")
        if action == "restore":
            if vm["state"] in ONLINE:
                raise state_err("Cannot restore a snapshot of a running machine",
                                "SessionMachine", "IMachine")
            _settings_restore(vm, snap["settings"])
            vm["current"] = snap["uuid"]
            if vm["statefile"] and os.path.exists(vm["statefile"]):
                os.unlink(vm["statefile"])
            if snap["online"]:
                path = os.path.join(vm["dir"], "Snapshots", snap["uuid"] + ".sav")
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as f:
                    json.dump({"fakevbox-saved-state": vm["uuid"], "paused": snap["paused"]}, f)
                _stop(vm, "saved")
                vm["statefile"] = path
            else:
                _stop(vm, "poweroff")
                vm["statefile"] = ""
            return MSG["snapshot_restore"].format(name=snap["name"], uuid=snap["uuid"])
        if action == "delete":
            children = _snap_walk(snaps, snap["uuid"])
            if len(children) > 1:
                raise err("err_state", detail=f"Snapshot '{snap['name']}' of the machine "
                          f"'{vm['name']}' has more than one child snapshot (medium has more "
                          "than one child)", component="SnapshotWrap", interface="ISnapshot")
            for c in children:
                c["parent"] = snap["parent"]
            if vm["current"] == snap["uuid"]:
                vm["current"] = snap["parent"]
            vm["snapshots"] = [s for s in snaps if s is not snap]
            return MSG["snapshot_delete"].format(name=snap["name"], uuid=snap["uuid"])
        raise syntax(action)
    raise syntax(action)


def _settings_copy(vm: dict) -> dict:
    keep = ("memory", "cpus", "cpuhotplug", "plugged", "firmware", "boot", "description",
            "balloon", "controllers", "nics", "uarts", "vrde", "sharedfolders", "acpi",
            "ioapic", "pae")
    return json.loads(json.dumps({k: vm[k] for k in keep}))


def _settings_restore(vm: dict, settings: dict) -> None:
    vm.update(json.loads(json.dumps(settings)))


def _snapshot_lines(vm: dict) -> str:
    out: list[str] = []

    def walk(parent: str | None, prefix: str) -> None:
        kids = _snap_walk(vm["snapshots"], parent)
        for i, s in enumerate(kids):
            p = prefix if parent is None and i == 0 else f"{prefix}-{i + 1}"
            if parent is None and i > 0:  # VirtualBox has one root; a fake never makes two
                p = f"-{i + 1}"
            out.append(f'SnapshotName{p}="{esc(s["name"])}"')
            out.append(f'SnapshotUUID{p}="{s["uuid"]}"')
            if s["description"]:
                out.append(f'SnapshotDescription{p}="{esc(s["description"])}"')
            if vm["current"] == s["uuid"]:
                out.append(f'CurrentSnapshotName="{esc(s["name"])}"')
                out.append(f'CurrentSnapshotUUID="{s["uuid"]}"')
                out.append(f'CurrentSnapshotNode="SnapshotName{p}"')
            walk(s["uuid"], p)

    walk(None, "")
    return "\n".join(out) + "\n"


def esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def cmd_showvminfo(reg: dict, args: list[str]) -> str:
    o, pos = opts(args, {"--machinereadable": 0, "--details": 0, "--log": 1},
                  {"--machine-readable": "--machinereadable"} if MAJOR >= 7 else {})
    vm = find(reg, pos[0])
    if "--machinereadable" not in o:
        raise Fail("VBoxManage: error: this fake only prints --machinereadable output\n", 2)
    with open(os.path.join(RECORDED, "showvminfo.txt"), encoding="utf-8") as f:
        template = f.read()
    boot = vm["boot"]
    text = template.format(
        name=esc(vm["name"]), uuid=vm["uuid"], ostype_desc=OSTYPES.get(vm["ostype"],
                                                                    vm["ostype"]),
        cfgfile=esc(vm["cfgfile"]), snapfldr=esc(os.path.join(vm["dir"], "Snapshots")),
        logfldr=esc(os.path.join(vm["dir"], "Logs")), memory=vm["memory"],
        firmware=vm["firmware"], cpus=vm["cpus"], pae="on" if vm["pae"] else "off",
        longmode="on" if vm["ostype"].endswith("_64") else "off", boot1=boot[0],
        boot2=boot[1], boot3=boot[2], boot4=boot[3], acpi="on" if vm["acpi"] else "off",
        ioapic="on" if vm["ioapic"] else "off", vmstate=vm["state"],
        statetime=vm["statetime"], autostart="on" if vm["autostart"] else "off",
        balloon=vm["balloon"], mouse=vm.get("mouse", "ps2mouse"),
        keyboard=vm.get("keyboard", "ps2kbd"),
        ohci="on" if vm.get("usbohci") else "off", ehci="on" if vm.get("usbehci") else "off",
        xhci="on" if vm.get("usbxhci") else "off", nvram=esc(os.path.join(vm["dir"], vm["name"] + ".nvram")))
    parts: dict[str, list[str]] = {k: [] for k in ("STATEFILE", "STORAGE", "NICS", "UARTS",
                                                  "SESSION", "VRDE", "SHAREDFOLDERS",
                                                  "RUNTIME", "DESCRIPTION", "SNAPSHOTS")}
    if vm["statefile"]:
        parts["STATEFILE"].append(f'VMStateFile="{esc(vm["statefile"])}"')
    for i, c in enumerate(vm["controllers"]):
        parts["STORAGE"] += [f'storagecontrollername{i}="{esc(c["name"])}"',
                             f'storagecontrollertype{i}="{c["type"]}"',
                             f'storagecontrollerinstance{i}="0"',
                             f'storagecontrollermaxportcount{i}="{c["ports"] if c["bus"] != "sata" else 30}"',
                             f'storagecontrollerportcount{i}="{c["ports"]}"',
                             f'storagecontrollerbootable{i}="{"on" if c["bootable"] else "off"}"']
    for c in vm["controllers"]:
        n = esc(c["name"])
        devices = 2 if c["bus"] in ("ide", "floppy") else 1
        for port in range(c["ports"]):
            for dev in range(devices):
                att = c["atts"].get(f"{port}-{dev}")
                if att is None:
                    parts["STORAGE"].append(f'"{n}-{port}-{dev}"="none"')
                    continue
                if att["medium"] is None:
                    parts["STORAGE"].append(f'"{n}-{port}-{dev}"="emptydrive"')
                    if att["type"] == "dvddrive":
                        key = f"{n}-IsEjected-{port}-{dev}" if MAJOR >= 7 else f"{n}-IsEjected"
                        parts["STORAGE"].append(f'"{key}"="off"')
                    continue
                parts["STORAGE"].append(f'"{n}-{port}-{dev}"="{esc(att["medium"])}"')
                parts["STORAGE"].append(f'"{n}-ImageUUID-{port}-{dev}"="{att["uuid"]}"')
                if att["type"] == "dvddrive":
                    sfx = f"-{port}-{dev}" if MAJOR >= 7 else ""
                    parts["STORAGE"].append(f'"{n}-tempeject{sfx}"="off"')
                    parts["STORAGE"].append(f'"{n}-IsEjected{sfx}"="off"')
                if c["name"].upper() in ("SATA", "USB"):
                    parts["STORAGE"].append(f'"{n}-hot-pluggable-{port}-{dev}"='
                                            f'"{"on" if att.get("hot") else "off"}"')
                parts["STORAGE"].append(f'"{n}-nonrotational-{port}-{dev}"="off"')
                parts["STORAGE"].append(f'"{n}-discard-{port}-{dev}"="off"')
    for slot in range(1, 9):
        nic = vm["nics"].get(str(slot))
        if nic is None:
            parts["NICS"].append(f'nic{slot}="none"')
            continue
        kind = nic["kind"]
        if kind == "nat":
            parts["NICS"].append(f'natnet{slot}="nat"')
        elif kind == "bridged":
            parts["NICS"].append(f'bridgeadapter{slot}="{esc(nic["net"])}"')
        elif kind == "hostonly":
            parts["NICS"].append(f'hostonlyadapter{slot}="{esc(nic["net"])}"')
        elif kind == "intnet":
            parts["NICS"].append(f'intnet{slot}="{esc(nic["net"])}"')
        parts["NICS"] += [f'macaddress{slot}="{nic["mac"]}"',
                          f'cableconnected{slot}="{"on" if nic["cable"] else "off"}"',
                          f'nic{slot}="{kind}"', f'nictype{slot}="{nic["type"]}"',
                          f'nicspeed{slot}="0"']
        if kind == "nat":
            parts["NICS"] += ['mtu="0"', 'sockSnd="64"', 'sockRcv="64"', 'tcpWndSnd="64"',
                              'tcpWndRcv="64"']
    for slot in range(1, 5):
        u = vm["uarts"].get(str(slot))
        if u is None:
            parts["UARTS"].append(f'uart{slot}="off"')
            continue
        parts["UARTS"].append(f'uart{slot}="{u["io"]:#06x},{u["irq"]}"')
        if u["mode"] == "disconnected":
            parts["UARTS"].append(f'uartmode{slot}="disconnected"')
        elif u["mode"] == "device":
            parts["UARTS"].append(f'uartmode{slot}="{esc(u["path"])}"')
        else:
            parts["UARTS"].append(f'uartmode{slot}="{u["mode"]},{esc(u["path"])}"')
        parts["UARTS"].append(f'uarttype{slot}="{u["type"].replace("U", "")}"')
    if vm["state"] in ONLINE:
        parts["SESSION"].append('SessionName="headless"')
        parts["RUNTIME"] += ['VRDEActiveConnection="off"', "VRDEClients=0"]
    v = vm["vrde"]
    if v["on"]:
        port = -1
        if vm["state"] in ONLINE:
            first = v["ports"].split(",")[0].split("-")[0]
            port = int(first) if first.isdigit() else 3389
        parts["VRDE"] += ['vrde="on"', f"vrdeport={port}", f'vrdeports="{v["ports"]}"',
                          f'vrdeaddress="{esc(v["address"])}"', 'vrdeauthtype="null"',
                          'vrdemulticon="off"', 'vrdereusecon="off"', 'vrdevideochannel="off"']
        if v["extpack"] == "VNC":
            parts["VRDE"] += ['vrdeproperty[TCP/Ports]="' + v["ports"] + '"',
                              'vrdeproperty[TCP/Address]=' + (
                                  f'"{v["address"]}"' if v["address"] else "<not set>"),
                              "vrdeproperty[VNCPassword]=" + (
                                  f'"{esc(v["props"]["VNCPassword"])}"'
                                  if v.get("props", {}).get("VNCPassword") else "<not set>")]
        else:
            parts["VRDE"] += ['vrdeproperty[TCP/Ports]="' + v["ports"] + '"',
                              'vrdeproperty[TCP/Address]=' + (
                                  f'"{v["address"]}"' if v["address"] else "<not set>"),
                              "vrdeproperty[VideoChannel/Enabled]=<not set>",
                              "vrdeproperty[VideoChannel/Quality]=<not set>",
                              "vrdeproperty[VideoChannel/DownscaleProtection]=<not set>",
                              "vrdeproperty[Client/DisableDisplay]=<not set>",
                              "vrdeproperty[Client/DisableInput]=<not set>",
                              "vrdeproperty[Client/DisableAudio]=<not set>",
                              "vrdeproperty[Client/DisableUSB]=<not set>",
                              "vrdeproperty[Client/DisableClipboard]=<not set>",
                              "vrdeproperty[Client/DisableUpstreamAudio]=<not set>",
                              "vrdeproperty[Client/DisableRDPDR]=<not set>",
                              "vrdeproperty[H3DRedirect/Enabled]=<not set>",
                              "vrdeproperty[Security/Method]=<not set>",
                              "vrdeproperty[Security/ServerCertificate]=<not set>",
                              "vrdeproperty[Security/ServerPrivateKey]=<not set>",
                              "vrdeproperty[Security/CACertificate]=<not set>",
                              "vrdeproperty[Audio/RateCorrectionMode]=<not set>",
                              "vrdeproperty[Audio/LogPath]=<not set>"]
    else:
        parts["VRDE"].append('vrde="off"')
    for i, s in enumerate(vm["sharedfolders"], start=1):
        parts["SHAREDFOLDERS"] += [f'SharedFolderNameMachineMapping{i}="{esc(s["name"])}"',
                                   f'SharedFolderPathMachineMapping{i}="{esc(s["path"])}"']
    if vm["description"]:
        parts["DESCRIPTION"].append(f'description="{esc(vm["description"])}"')
    if vm["snapshots"]:
        parts["SNAPSHOTS"].append(_snapshot_lines(vm).rstrip("\n"))
    lines = []
    for line in text.split("\n"):
        if line.startswith("@@") and line.endswith("@@"):
            lines += parts[line.strip("@")]
        else:
            lines.append(line)
    if MAJOR == 7 and MINOR >= 1:
        lines.insert(3, 'platformArchitecture="x86"')
    return "\n".join(lines)


def cmd_unregistervm(reg: dict, args: list[str]) -> str:
    o, pos = opts(args, {"--delete": 0, "--delete-all": 0})
    vm = find(reg, pos[0])
    unlocked(vm)
    del reg["vms"][vm["uuid"]]
    if "--delete" in o or "--delete-all" in o:
        for ctl in vm["controllers"]:
            for att in ctl["atts"].values():
                if att["uuid"] and att["type"] == "hdd" and "--delete-all" in o:
                    m = reg["hdds"].pop(att["uuid"], None)
                    if m and os.path.exists(m["location"]):
                        os.unlink(m["location"])
        for root, dirs, files in os.walk(vm["dir"], topdown=False):
            for f in files:
                os.unlink(os.path.join(root, f))
            for d in dirs:
                os.rmdir(os.path.join(root, d))
        if os.path.isdir(vm["dir"]):
            os.rmdir(vm["dir"])
        return MSG["progress"]
    return ""


def _in_use(reg: dict, uid: str) -> list[str]:
    return [vm["name"] for vm in reg["vms"].values() for c in vm["controllers"]
            for a in c["atts"].values() if a["uuid"] == uid]


def cmd_list(reg: dict, args: list[str]) -> str:
    what = args[0] if args else ""
    if what == "vms":
        return "".join(f'"{v["name"]}" {{{v["uuid"]}}}\n' for v in reg["vms"].values())
    if what == "runningvms":
        return "".join(f'"{v["name"]}" {{{v["uuid"]}}}\n' for v in reg["vms"].values()
                       if v["state"] in ONLINE)
    if what == "hdds":
        out = []
        for uid, m in reg["hdds"].items():
            if m["kind"] != "hdd":
                continue
            users = _in_use(reg, uid)
            out.append(f"UUID:           {uid}\nParent UUID:    base\nState:          created\n"
                       f"Type:           normal (base)\nLocation:       {m['location']}\n"
                       f"Storage format: {m['format']}\nCapacity:       {m['capacity']} MBytes\n"
                       f"Encryption:     disabled\n" + (f"In use by VMs:  {', '.join(users)}\n"
                                                        if users else ""))
        return "\n".join(out)
    if what == "hostonlyifs":
        out = []
        for name, h in sorted(reg["hostonlyifs"].items()):
            out.append(f"Name:            {name}\nGUID:            {h['guid']}\n"
                       f"DHCP:            Disabled\nIPAddress:       {h['ip']}\n"
                       f"NetworkMask:     {h['mask']}\nIPV6Address:     \n"
                       f"IPV6NetworkMaskPrefixLength: 0\nHardwareAddress: {h['mac']}\n"
                       f"MediumType:      Ethernet\nWireless:        No\n"
                       f"Status:          {h['status']}\n"
                       f"VBoxNetworkName: HostInterfaceNetworking-{name}\n")
        return "\n".join(out)
    if what == "systemproperties":
        return (f"API version:                     {VERSION.replace('.', '_')[:3]}\n"
                f"Minimum guest RAM size:          4 Megabytes\n"
                f"Maximum guest RAM size:          2097152 Megabytes\n"
                f"Maximum guest CPU count:         32\n"
                f"Default machine folder:          {reg['machinefolder']}\n")
    if what == "hostinfo":
        return ("Host Information:\n\nHost time: 2026-01-01T00:00:00.000000000Z\n"
                "Processor online count: 4\nProcessor count: 4\nProcessor online core count: 4\n"
                "Processor core count: 4\nProcessor supports HW virtualization: yes\n"
                "Processor supports PAE: yes\nProcessor supports long mode: yes\n"
                "Processor supports nested HW virtualization: yes\n"
                "Processor supports unrestricted guest: yes\n"
                "Processor#0 speed: 2400 MHz\n"
                "Processor#0 description: Fake CPU for virtkit-vbox tests\n"
                "Memory size: 16384 MByte\nMemory available: 12288 MByte\n"
                "Operating system: Linux\nOperating system version: 6.1.0\n")
    raise syntax(what)


def cmd_createmedium(reg: dict, args: list[str]) -> str:
    rest = args[1:] if args and not args[0].startswith("--") else args
    o, _pos = opts(rest, {"--filename": 1, "--size": 1, "--format": 1, "--variant": 1})
    path = os.path.abspath(o["--filename"][0])
    fmt = (o.get("--format") or ["VDI"])[0].upper()
    if fmt not in ("VDI", "VMDK", "VHD"):
        raise err("err_invalid_arg", detail=f"Invalid medium storage format '{fmt}'",
                  component="VirtualBoxWrap", interface="IVirtualBox")
    if os.path.exists(path):
        raise err("err_invalid_arg", detail=f"Could not create the medium storage unit "
                  f"'{path}'.\nVBoxManage: error: VD: The file '{path}' already exists "
                  "(VERR_ALREADY_EXISTS)", component="MediumWrap", interface="IMedium")
    size = int(o["--size"][0])
    header = {"VDI": b"<<< Oracle VM VirtualBox Disk Image >>>\n\x00",
              "VMDK": b"KDMV\x01\x00\x00\x00", "VHD": b"conectix"}[fmt]
    with open(path, "wb") as f:
        f.write(header)
    uid = new_uuid()
    reg["hdds"][uid] = {"location": path, "format": fmt, "kind": "hdd", "capacity": size}
    return MSG["createmedium"].format(uuid=uid)


def _medium(reg: dict, ref: str) -> tuple[str, dict]:
    for uid, m in reg["hdds"].items():
        if uid == ref.strip("{}").lower() or m["location"] == os.path.abspath(ref):
            return uid, m
    raise err("err_file", path=ref)


def cmd_closemedium(reg: dict, args: list[str]) -> str:
    rest = args[1:] if args[0] in ("disk", "dvd", "floppy") else args
    o, pos = opts(rest, {"--delete": 0})
    uid, m = _medium(reg, pos[0])
    users = _in_use(reg, uid)
    if users:
        raise err("err_state", detail=f"Cannot close medium '{m['location']}' because it is "
                  f"still attached to 1 virtual machines", component="MediumWrap",
                  interface="IMedium")
    del reg["hdds"][uid]
    if "--delete" in o and os.path.exists(m["location"]):
        os.unlink(m["location"])
        return MSG["progress"]
    return ""


def cmd_showmediuminfo(reg: dict, args: list[str]) -> str:
    rest = args[1:] if args[0] in ("disk", "dvd", "floppy") else args
    uid, m = _medium(reg, rest[0])
    users = _in_use(reg, uid)
    size = os.path.getsize(m["location"]) if os.path.exists(m["location"]) else 0
    return (f"UUID:           {uid}\nParent UUID:    base\nState:          created\n"
            f"Type:           normal (base)\nLocation:       {m['location']}\n"
            f"Storage format: {m['format']}\nFormat variant: dynamic default\n"
            f"Capacity:       {m['capacity']} MBytes\nSize on disk:   {size // 1048576} MBytes\n"
            f"Encryption:     disabled\nProperty:       AllocationBlockSize=1048576\n"
            + (f"In use by VMs:  {', '.join(users)} (UUID: ...)\n" if users else ""))


def cmd_modifymedium(reg: dict, args: list[str]) -> str:
    rest = args[1:] if args[0] in ("disk", "dvd", "floppy") else args
    o, _pos = opts(rest[1:], {"--resize": 1, "--compact": 0})
    _uid, m = _medium(reg, rest[0])
    if "--resize" in o:
        new = int(o["--resize"][0])
        if new < m["capacity"]:
            raise err("err_invalid_arg", detail="Shrinking is not yet supported for medium "
                      f"'{m['location']}'", component="MediumWrap", interface="IMedium")
        m["capacity"] = new
        return MSG["progress"]
    return ""


def cmd_hostonlyif(reg: dict, args: list[str]) -> str:
    action = args[0]
    ifs = reg["hostonlyifs"]
    if action == "create":
        n = 0
        while f"vboxnet{n}" in ifs:
            n += 1
        name = f"vboxnet{n}"
        ifs[name] = {"guid": new_uuid(), "ip": f"192.168.{56 + n}.1",
                     "mask": "255.255.255.0", "mac": f"0a:00:27:00:00:{n:02x}",
                     "status": "Down"}
        return MSG["hostonlyif_create"].format(name=name)
    name = args[1]
    if name not in ifs:
        raise err("err_object", detail=f"Could not find a host interface named '{name}'",
                  component="HostWrap", interface="IHost")
    if action == "remove":
        del ifs[name]
        return MSG["progress"]
    if action == "ipconfig":
        o, _pos = opts(args[2:], {"--ip": 1, "--netmask": 1, "--dhcp": 0})
        ifs[name]["ip"] = (o.get("--ip") or [ifs[name]["ip"]])[0]
        ifs[name]["mask"] = (o.get("--netmask") or [ifs[name]["mask"]])[0]
        return ""
    raise syntax(action)


COMMANDS = {
    "--version": cmd_version, "createvm": cmd_createvm, "modifyvm": cmd_modifyvm,
    "storagectl": cmd_storagectl, "storageattach": cmd_storageattach,
    "sharedfolder": cmd_sharedfolder, "setextradata": cmd_setextradata,
    "getextradata": cmd_getextradata, "startvm": cmd_startvm, "controlvm": cmd_controlvm,
    "discardstate": cmd_discardstate, "adoptstate": cmd_adoptstate, "snapshot": cmd_snapshot,
    "showvminfo": cmd_showvminfo, "unregistervm": cmd_unregistervm, "list": cmd_list,
    "createmedium": cmd_createmedium, "createhd": cmd_createmedium,
    "closemedium": cmd_closemedium, "showmediuminfo": cmd_showmediuminfo,
    "modifymedium": cmd_modifymedium, "hostonlyif": cmd_hostonlyif,
}
READ_ONLY = {"--version", "showvminfo", "list", "getextradata", "showmediuminfo"}


def main(argv: list[str]) -> int:
    args = [a for a in argv if a not in ("-q", "--nologo")]
    log = os.environ.get("FAKE_VBOX_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps(args) + "\n")
    if not args or args[0] not in COMMANDS:
        sys.stderr.write(f"VBoxManage: error: Invalid command '{args[0] if args else ''}'\n")
        return 2
    os.makedirs(HOME, exist_ok=True)
    with open(os.path.join(HOME, "fakevbox.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        reg = load()
        settle(reg)
        try:
            out = COMMANDS[args[0]](reg, args[1:])
        except Fail as exc:
            if args[0] in READ_ONLY:
                save(reg)
            sys.stderr.write(exc.text)
            return exc.code
        except (IndexError, KeyError, ValueError) as exc:
            sys.stderr.write(f"VBoxManage: error: Syntax error: {exc}\n")
            return 2
        save(reg)
    sys.stdout.write(out)
    return 0


if __name__ == "__main__":  # pragma: no cover - run through ./VBoxManage
    sys.exit(main(sys.argv[1:]))
