"""The tiny Linux test guest, built from Debian packages: the kernel of linux-image-cloud-amd64 and
an initramfs of busybox-static whose init prints a ready line on the serial console, answers
commands there, and powers off on the ACPI power button (evdev.ko, button.ko, busybox acpid).
With a virtio NIC (virtio_net.ko) it asks for a DHCP lease on eth0 with busybox udhcpc in the
background and prints ``LEASE: ADDRESS`` on the console when it has one.

The initramfs is cached under the tests' cache directory, keyed by a digest of every input (the
busybox binary, the modules and this file's init script), so it is built once per change.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import io
import os
import tarfile  # noqa: F401  (kept for readers: cpio is written by hand below)
from pathlib import Path

READY = "VIRTKIT-GUEST-READY"
BUSYBOX = Path("/bin/busybox")
MODULES = ("evdev", "button", "virtio_pci", "virtio_blk", "virtio_balloon", "pvpanic-mmio",
           "virtio_net")

INIT = f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod /lib/modules/$m 2>/dev/null; done
mkdir -p /var/log /var/run
acpid -c /etc/acpi -l /tmp/acpid.log -p /tmp/acpid.pid
if [ -e /sys/class/net/eth0 ]; then
  ip link set eth0 up
  udhcpc -i eth0 -s /etc/udhcpc.sh -t 60 -T 1 -b -q >/dev/null 2>&1
fi
echo "{READY}"
while read -r line; do
  case "$line" in
    ping) echo pong;;
    addr) echo "ADDR: $(ip -4 -o addr show eth0 2>/dev/null | awk '{{print $4}}')";;
    disks) echo "DISKS: $(ls /sys/block | tr '\\n' ' ')";;
    cpus) echo "CPUS: $(cat /sys/devices/system/cpu/present)";;
    poweroff) poweroff -f;;
    dmesg) dmesg | tail -20;;
    panic) echo c > /proc/sysrq-trigger;;
    *) ;;
  esac
done
"""

POWER_SCRIPT = "#!/bin/sh\npoweroff -f\n"

# udhcpc's hook: the leased address on the interface, and a line on the console saying so
DHCP_SCRIPT = """#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    echo "LEASE: $ip" > /dev/console;;
esac
"""


def kernel_path() -> Path:
    found = sorted(glob.glob("/boot/vmlinuz-*-cloud-amd64"))
    if not found:
        raise FileNotFoundError("no /boot/vmlinuz-*-cloud-amd64: install linux-image-cloud-amd64")
    return Path(found[-1])


def _modules(release: str) -> list[Path]:
    base = Path("/usr/lib/modules") / release
    deps: dict[str, list[str]] = {}
    for line in (base / "modules.dep").read_text().splitlines():
        mod, _, rest = line.partition(":")
        deps[mod] = rest.split()
    by_name = {Path(m).name.removesuffix(".ko"): m for m in deps}
    order: list[str] = []

    def add(mod: str) -> None:
        for dep in reversed(deps[mod]):
            add(dep)
        if mod not in order:
            order.append(mod)

    for name in MODULES:
        add(by_name[name])
    return [base / m for m in order]


class _Cpio:
    """newc cpio writer (what the kernel unpacks as an initramfs)."""

    def __init__(self) -> None:
        self.out = io.BytesIO()
        self.ino = 1

    def add(self, name: str, mode: int, data: bytes = b"") -> None:
        nm = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08x}" for v in (
            self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nm), 0))
        self.ino += 1
        self.out.write(hdr.encode() + nm)
        self.out.write(b"\0" * (-(110 + len(nm)) % 4))
        self.out.write(data)
        self.out.write(b"\0" * (-len(data) % 4))

    def finish(self) -> bytes:
        self.add("TRAILER!!!", 0)
        return self.out.getvalue()


def build_initramfs(cache_dir: Path) -> Path:
    """The initramfs, built (or taken from the cache) for the installed kernel."""
    kernel = kernel_path()
    release = kernel.name.removeprefix("vmlinuz-")
    mods = _modules(release)
    digest = hashlib.sha256()
    for part in (INIT.encode(), POWER_SCRIPT.encode(), DHCP_SCRIPT.encode(), BUSYBOX.read_bytes(),
                 *(m.read_bytes() for m in mods)):
        digest.update(hashlib.sha256(part).digest())
    out = cache_dir / f"tiny-initramfs-{digest.hexdigest()[:16]}.cpio.gz"
    if out.exists():
        return out
    cpio = _Cpio()
    for d in ("bin", "sbin", "dev", "proc", "sys", "etc", "etc/acpi", "etc/acpi/PWRF",
              "lib", "lib/modules", "tmp", "var", "var/log", "var/run"):
        cpio.add(d, 0o40755)
    cpio.add("bin/busybox", 0o100755, BUSYBOX.read_bytes())
    cpio.add("init", 0o100755, INIT.encode())
    cpio.add("etc/acpi/PWRF/00000080", 0o100755, POWER_SCRIPT.encode())
    cpio.add("etc/udhcpc.sh", 0o100755, DHCP_SCRIPT.encode())
    names = []
    for m in mods:
        cpio.add(f"lib/modules/{m.name}", 0o100644, m.read_bytes())
        names.append(m.name)
    cpio.add("modules.order", 0o100644, ("\n".join(names) + "\n").encode())
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(gzip.compress(cpio.finish(), 1))
    os.replace(tmp, out)
    return out


def domain_xml(name: str, kernel: Path, initrd: Path, *, devices: str = "",
               memory_mib: int = 128, vcpus: str = "<vcpu>1</vcpu>",
               extra: str = "") -> str:
    """A ``type='qemu'`` (TCG) domain booting the tiny guest with its serial console on a
    unix socket."""
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>{memory_mib}</memory>
  {vcpus}
  <os><type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel><initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 quiet panic=-1</cmdline></os>
  <features><acpi/></features>
  {extra}
  <devices>
    <serial type='pty'><target port='0'/></serial>
    {devices}
  </devices>
</domain>"""
