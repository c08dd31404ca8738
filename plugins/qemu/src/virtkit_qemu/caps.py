"""What the installed QEMU can do, probed over QMP and cached by binary path, size and mtime.

The probe starts ``qemu-system-ARCH -machine none`` with a QMP socket, asks for its version,
machine types and CPU models, and quits (a fraction of a second). The answer is cached as JSON
under the cache directory; a binary whose size or mtime changed is probed again. The host
capabilities and domain capabilities documents are built from it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.store import atomic_write

CACHE_VERSION = 1
KVM_GET_API_VERSION = 0xAE00
OVMF_CODE = ("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_CODE.fd")
OVMF_VARS = ("/usr/share/OVMF/OVMF_VARS_4M.fd", "/usr/share/OVMF/OVMF_VARS.fd")


@attrs.frozen
class Machine:
    name: str
    alias: str | None
    default: bool
    max_cpus: int
    hotpluggable_cpus: bool


@attrs.frozen
class QemuCaps:
    """The probe's answer for one binary."""

    binary: str
    arch: str
    version: tuple[int, int, int]
    machines: tuple[Machine, ...]
    cpu_models: tuple[str, ...]

    @property
    def version_number(self) -> int:
        major, minor, micro = self.version
        return major * 1_000_000 + minor * 1_000 + micro

    def machine(self, name: str | None) -> Machine:
        """The machine ``name`` names (an alias like ``pc`` resolves to its versioned type)."""
        want = name or next((m.name for m in self.machines if m.default), "pc")
        for m in self.machines:
            if want in (m.name, m.alias):
                return m
        raise VirtError(
            ErrorCode.CONFIG_UNSUPPORTED,
            f"unsupported configuration: emulator '{self.binary}' does not support machine "
            f"type '{want}'",
            ErrorDomain.QEMU,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "binary": self.binary, "arch": self.arch, "version": list(self.version),
            "machines": [attrs.asdict(m) for m in self.machines],
            "cpu_models": list(self.cpu_models),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QemuCaps:
        return cls(d["binary"], d["arch"], tuple(d["version"]),
                   tuple(Machine(**m) for m in d["machines"]), tuple(d["cpu_models"]))


def host_arch() -> str:
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine(), platform.machine())


def default_binary(arch: str | None = None) -> str:
    arch = arch or host_arch()
    found = shutil.which(f"qemu-system-{arch}")
    if found is None:
        raise VirtError(
            ErrorCode.CONFIG_UNSUPPORTED,
            f"unsupported configuration: no emulator for architecture '{arch}' "
            f"(qemu-system-{arch} is not installed)",
            ErrorDomain.QEMU,
        )
    return found


def kvm_usable() -> bool:
    """True when /dev/kvm opens read-write and answers the KVM API version (12)."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return fcntl.ioctl(fd, KVM_GET_API_VERSION) == 12
    except OSError:
        return False
    finally:
        os.close(fd)


def ovmf() -> tuple[str, str] | None:
    """(code, vars template) of an installed OVMF, or None."""
    for code, nvram in zip(OVMF_CODE, OVMF_VARS, strict=True):
        if os.path.exists(code) and os.path.exists(nvram):
            return code, nvram
    return None


def probe(binary: str, cache_dir: Path) -> QemuCaps:
    """The capabilities of ``binary``, from the cache when its size and mtime are unchanged."""
    try:
        st = os.stat(binary)
    except OSError as exc:
        raise VirtError(ErrorCode.CONFIG_UNSUPPORTED,
                        f"unsupported configuration: emulator '{binary}': {exc.strerror}",
                        ErrorDomain.QEMU) from None
    key = hashlib.sha256(os.path.realpath(binary).encode()).hexdigest()[:20]
    path = cache_dir / "capabilities" / f"{key}.json"
    stamp = {"version": CACHE_VERSION, "binary": binary, "size": st.st_size,
             "mtime_ns": st.st_mtime_ns}
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        cached = json.loads(path.read_bytes())
        if all(cached.get(k) == v for k, v in stamp.items()):
            return QemuCaps.from_dict(cached["caps"])
    caps = _probe_now(binary)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(path, json.dumps({**stamp, "caps": caps.to_dict()}).encode(), 0o644)
    return caps


def _probe_now(binary: str) -> QemuCaps:
    from virtkit_qemu.monitor import Monitor

    with tempfile.TemporaryDirectory(prefix="vkq-probe-") as tmp:
        sock = os.path.join(tmp, "qmp.sock")
        proc = subprocess.Popen(
            [binary, "-machine", "none", "-nodefaults", "-display", "none", "-no-user-config",
             "-chardev", f"socket,id=m,path={sock},server=on,wait=off",
             "-mon", "chardev=m,mode=control"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            for _ in range(200):
                if os.path.exists(sock) or proc.poll() is not None:
                    break
                time.sleep(0.01)
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
                raise VirtError(ErrorCode.INTERNAL_ERROR,
                                f"probing emulator '{binary}' failed: {err}", ErrorDomain.QEMU)
            for attempt in range(200):  # the socket exists from bind(), accepts from listen()
                mon = Monitor(f"probe of {binary}", sock, lambda _e, _d: None)
                try:
                    mon.connect()
                    break
                except VirtError:
                    if attempt == 199 or proc.poll() is not None:
                        raise
                    time.sleep(0.005)
            ver = mon.execute("query-version")["qemu"]
            machines = tuple(
                Machine(m["name"], m.get("alias"), bool(m.get("is-default")),
                        int(m.get("cpu-max", 1)), bool(m.get("hotpluggable-cpus")))
                for m in mon.execute("query-machines")
            )
            target = mon.execute("query-target")["arch"]
            cpus = tuple(sorted(c["name"] for c in mon.execute("query-cpu-definitions")))
            with contextlib.suppress(Exception):
                mon.execute("quit")
            mon.close()
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()
            if proc.stderr:
                proc.stderr.close()
    return QemuCaps(binary, str(target), (ver["major"], ver["minor"], ver["micro"]),
                    machines, cpus)


def capabilities_xml(caps: QemuCaps, host_cpus: int, memory_kib: int) -> str:
    """libvirt's ``<capabilities>``: the host and one guest entry (kvm when usable, and qemu)."""
    machines = "".join(
        f"<machine maxCpus='{m.max_cpus}'>{m.name}</machine>"
        + (f"<machine canonical='{m.name}' maxCpus='{m.max_cpus}'>{m.alias}</machine>"
           if m.alias else "")
        for m in caps.machines if m.name != "none"
    )
    # the default type first: kvm where it can be used (as libvirt's domain capabilities
    # default to it), then qemu, which every host can run
    domains = "<domain type='qemu'/>"
    if kvm_usable():
        domains = "<domain type='kvm'/>" + domains
    # one cell (node_info's one node), each host cpu a core of one socket
    cpus = "".join(f"<cpu id='{n}' socket_id='0' core_id='{n}' siblings='{n}'/>"
                   for n in range(host_cpus))
    return (
        "<capabilities><host>"
        f"<cpu><arch>{host_arch()}</arch></cpu>"
        f"<topology><cells num='1'><cell id='0'><memory unit='KiB'>{memory_kib}</memory>"
        f"<cpus num='{host_cpus}'>{cpus}</cpus></cell></cells></topology>"
        "<secmodel><model>none</model><doi>0</doi></secmodel>"
        "</host>"
        f"<guest><os_type>hvm</os_type><arch name='{caps.arch}'><wordsize>64</wordsize>"
        f"<emulator>{caps.binary}</emulator>{machines}{domains}</arch>"
        "<features><acpi default='on' toggle='yes'/><apic default='on' toggle='no'/>"
        "</features></guest></capabilities>"
    )


def domain_capabilities_xml(caps: QemuCaps, virttype: str, machine: str) -> str:
    m = caps.machine(machine)
    firmware = ovmf()
    loader = ""
    if firmware is not None:
        loader = (f"<loader supported='yes'><value>{firmware[0]}</value>"
                  "<enum name='type'><value>rom</value><value>pflash</value></enum></loader>")
    models = "".join(f"<model usable='unknown'>{c}</model>" for c in caps.cpu_models)
    host_pt = "yes" if virttype == "kvm" else "no"
    return (
        f"<domainCapabilities><path>{caps.binary}</path><domain>{virttype}</domain>"
        f"<machine>{m.name}</machine><arch>{caps.arch}</arch>"
        f"<vcpu max='{m.max_cpus}'/>"
        f"<os supported='yes'><enum name='firmware'><value>bios</value>"
        f"{'<value>efi</value>' if firmware else ''}</enum>{loader}</os>"
        f"<cpu><mode name='host-passthrough' supported='{host_pt}'/>"
        f"<mode name='maximum' supported='yes'/>"
        f"<mode name='custom' supported='yes'>{models}</mode></cpu>"
        "<devices>"
        "<disk supported='yes'><enum name='diskDevice'><value>disk</value><value>cdrom</value>"
        "</enum><enum name='bus'><value>ide</value><value>scsi</value><value>virtio</value>"
        "<value>sata</value></enum><enum name='model'><value>virtio</value></enum></disk>"
        "<graphics supported='yes'><enum name='type'><value>vnc</value></enum></graphics>"
        "<video supported='no'/><hostdev supported='no'/>"
        "<rng supported='yes'><enum name='model'><value>virtio</value></enum>"
        "<enum name='backendModel'><value>random</value><value>builtin</value></enum></rng>"
        "</devices></domainCapabilities>"
    )
