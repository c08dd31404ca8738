"""A real Xen 4.17 for tests: Debian's hypervisor and dom0 under ``qemu-system-x86_64 -accel tcg``.

``build_image(cache)`` makes (once; cached under ``cache/KEY`` where KEY hashes the package
versions and this file) the three boot inputs from Debian packages fetched with
``apt-get download`` and unpacked with ``dpkg -x``: the hypervisor (``xen``, gunzipped), the
dom0 kernel (``linux-image-amd64``'s ``vmlinuz``) and a dom0 initramfs holding busybox, the xl
toolstack with every library it loads, the Xen modules, the command loop of
:data:`virtkit_xen.runner.CHANNEL_LOOP` on the second serial port, and a tiny PV guest (the
same kernel with a busybox initramfs loading the block and network frontends) under ``/guest``.

For device hotplug (``xl block-attach``, ``xl network-attach``) dom0 also has the kernel's
block and network backends (``xen-blkback``, ``xen-netback``), ``loop`` and ``bridge`` with the
modules they depend on (from the ``modules.dep`` that ``depmod -b`` writes for the unpacked
kernel package, as the package's postinst does), the hotplug scripts xl runs
(``/etc/xen/scripts``: ``block``, ``vif-bridge`` and what they source, from
xen-utils-common), ``bash`` (their interpreter) and util-linux's ``flock`` (their locking;
busybox has none; busybox gives them ``losetup``, ``ip``, ``brctl``, ``stat``), a bridge
:data:`BRIDGE` made at boot and a sparse raw disk image :data:`DISK_IMAGE` on a tmpfs.

``Dom0`` boots it and serves ``channel:SOCKET`` to the driver; it kills QEMU's process group on
exit. Nothing built is committed: it all lives in the cache.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

from virtkit.sdk.errors import VirtError
from virtkit_xen.runner import CHANNEL_LOOP, ChannelRunner
from virtkit_xen.vmlinux import extract_vmlinux

__all__ = ["GUEST_INITRD", "GUEST_KERNEL", "Dom0", "build_image"]

XEN_PACKAGES = ["xen-hypervisor-4.17-amd64", "xen-utils-4.17", "xen-utils-common",
                "libxencall1", "libxenevtchn1", "libxenforeignmemory1", "libxengnttab1",
                "libxenmisc4.17", "libxenstore4", "libxentoollog1", "libyajl2", "xenstore-utils",
                "libxentoolcore1", "libxendevicemodel1", "libxenhypfs1", "busybox-static",
                "bash", "util-linux"]
XEN_BIN = "usr/lib/xen-4.17/bin"
DOM0_TOOLS = ["xl", "xenstored", "xenconsoled", "xen-init-dom0", "libxl-save-helper",
              "xenstore-control"]
MODULES = ["xen-evtchn", "xen-privcmd", "xenfs", "xen-gntdev", "xen-gntalloc"]
#: dom0's device backends (loaded after MODULES, each after the modules it depends on)
BACKEND_MODULES = ["loop", "xen-blkback", "xen-netback", "bridge"]
#: the guest's frontends, loaded by its init (the same kernel as dom0's)
GUEST_MODULES = ["xen-blkfront", "xen-netfront"]
#: the bridge dom0's init makes for guests' interfaces (``vif-bridge`` adds them to it)
BRIDGE = "xenbr0"
#: a sparse raw disk image in dom0 (on a tmpfs), for disks attached to guests
DISK_IMAGE = "/srv/data.img"
#: binaries beside busybox the hotplug scripts need (from the ``bash`` and ``util-linux``
#: packages; with every library ``ldd`` names)
SCRIPT_TOOLS = ["bin/bash", "usr/bin/flock"]
HYPERVISOR_ARGS = ("console=com1 com1=115200,8n1 dom0_mem={mib}M,max:{mib}M dom0_max_vcpus=1 "
                   "smap=0 smep=0 loglvl=warning guest_loglvl=warning")
DOM0_ARGS = "console=hvc0 earlyprintk=xen rdinit=/init quiet"
READY = "VIRTKIT-DOM0-READY"
#: The CPU QEMU emulates: its "max" model without the XSAVE family (and AVX, which needs it).
#: With XSAVE offered, dom0's processes under TCG get corrupted while guests run beside it:
#: busybox and xl processes segfault (in malloc, on a TLS load), xl's printf writes its format
#: string unformatted, ``xl create`` fails with its daemonizing child killed by SIGSEGV or exits
#: 3 with no message, the channel's answers come back empty. Reproduced on every boot with
#: "max" (QEMU 7.2) once 2-4 guests ran; none with XSAVE hidden (dom0 and the guests then
#: save their FPU state with FXSAVE). See docs/xen.md.
CPU = "max,-xsave,-xsaveopt,-xsavec,-xsaves,-avx,-avx2"
#: The PV guest's kernel (the ELF image inside the dom0 kernel's bzImage) and its initramfs
#: (an uncompressed newc archive) in dom0.
GUEST_KERNEL = "/guest/vmlinux"
GUEST_INITRD = "/guest/initrd.cpio"

DOM0_INIT = f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts /run/xen /var/lib/xen/virtkit /var/log/xen /tmp
mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /tmp
# what udev would link: the hotplug scripts' locking stats /dev/stdin
ln -s /proc/self/fd /dev/fd; ln -s fd/0 /dev/stdin; ln -s fd/1 /dev/stdout; ln -s fd/2 /dev/stderr
for m in {' '.join(MODULES)}; do insmod /lib/modules/$m.ko; done
mount -t xenfs xenfs /proc/xen
for m in $(cat /lib/modules/backends); do insmod /lib/modules/$m.ko; done
brctl addbr {BRIDGE}; ip link set {BRIDGE} up
mkdir -p /srv; mount -t tmpfs -o size=64m tmpfs /srv; truncate -s 16M {DISK_IMAGE}
export LD_LIBRARY_PATH=/usr/lib/xen-4.17/lib/x86_64-linux-gnu
/{XEN_BIN}/xenstored --pid-file /run/xen/xenstored.pid
/{XEN_BIN}/xen-init-dom0
/{XEN_BIN}/xenconsoled --pid-file=/run/xen/xenconsoled.pid
stty -F /dev/ttyS1 115200 raw -echo
echo {READY}
exec sh /vkloop.sh < /dev/ttyS1 > /dev/ttyS1 2>&1
"""

# /sbin/poweroff is in the archive, not written by init: the kernel may run it (for xl
# shutdown) as soon as it declares control/feature-poweroff, before init has run.
GUEST_POWEROFF = """#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc 2>/dev/null
echo o > /proc/sysrq-trigger
"""

GUEST_INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m.ko; done
echo VIRTKIT-GUEST-UP
while true; do sleep 3600; done
"""


def _run(*argv: str, cwd: Path | None = None) -> str:
    return subprocess.run(argv, cwd=cwd, check=True, capture_output=True, text=True).stdout


def _kernel_package() -> str:
    out = _run("apt-cache", "depends", "linux-image-amd64")
    for line in out.splitlines():
        dep = line.strip().removeprefix("Depends:").strip()
        if line.strip().startswith("Depends:") and dep.startswith("linux-image-"):
            return dep
    raise RuntimeError("apt-cache depends linux-image-amd64 names no linux-image package")


def _versions(pkgs: list[str]) -> list[str]:
    out = _run("apt-cache", "policy", *pkgs)
    found, cur = [], ""
    for line in out.splitlines():
        if not line.startswith(" "):
            cur = line.rstrip(":")
        elif line.strip().startswith("Candidate:"):
            found.append(f"{cur}={line.split(':', 1)[1].strip()}")
    return found


class _Cpio:
    """A newc cpio archive written in memory."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()
        self.ino = 1

    def add(self, name: str, data: bytes = b"", mode: int = 0o100644) -> None:
        self.ino += 1
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08x}" for v in (
            self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0))
        self.buf.write(hdr.encode() + nb)
        self.buf.write(b"\0" * (-(110 + len(nb)) % 4))
        self.buf.write(data)
        self.buf.write(b"\0" * (-len(data) % 4))

    def tree(self, root: Path, prefix: str = "") -> None:
        for p in sorted(root.rglob("*")):
            rel = prefix + str(p.relative_to(root))
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                self.add(rel, os.readlink(p).encode(), 0o120777)
            elif p.is_dir():
                self.add(rel, mode=0o040755)
            else:
                self.add(rel, p.read_bytes(), 0o100000 | (st.st_mode & 0o7777))

    def finish(self, compress: bool = True) -> bytes:
        self.add("TRAILER!!!", mode=0)
        data = self.buf.getvalue()
        return gzip.compress(data, compresslevel=6) if compress else data


def _libs(binary: Path, libpath: str) -> set[Path]:
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True,
                         env={**os.environ, "LD_LIBRARY_PATH": libpath}).stdout
    found = set()
    if "not found" in out:
        raise RuntimeError(f"{binary.name}: a library is missing from the image:\n{out}")
    for line in out.splitlines():
        parts = line.split()
        for p in parts:
            if p.startswith("/") and Path(p).exists():
                found.add(Path(p))
    return found


def _module_order(tree: Path, kver: str, names: list[str]) -> list[Path]:
    """The module files (under ``tree/lib/modules/KVER``) to load for ``names``, each after the
    modules it depends on, from the ``modules.dep`` that ``depmod -b tree`` writes for them."""
    base = tree / "lib/modules" / kver
    _run("depmod", "-b", str(tree), kver)
    deps: dict[str, list[str]] = {}
    for line in (base / "modules.dep").read_text().splitlines():
        mod, _, rest = line.partition(":")
        deps[mod] = rest.split()
    order: list[str] = []
    for name in names:
        found = next((m for m in deps if Path(m).name.split(".ko")[0] == name), None)
        if found is None:
            raise RuntimeError(f"no module {name} in {base}/modules.dep")
        for m in [*reversed(deps[found]), found]:  # modprobe's order: the last dependency first
            if m not in order:
                order.append(m)
    return [base / m for m in order]


def build_image(cache: Path) -> dict[str, Path]:
    """Build (or find in ``cache``) ``xen``, ``vmlinuz`` and ``dom0.cpio.gz``."""
    kpkg = _kernel_package()
    pkgs = [*XEN_PACKAGES, kpkg]
    key = hashlib.sha256("\n".join([*_versions(pkgs), Path(__file__).read_text()])
                         .encode()).hexdigest()[:16]
    out = cache / key
    files = {n: out / n for n in ("xen", "vmlinuz", "dom0.cpio.gz")}
    if all(f.exists() for f in files.values()):
        return files
    with tempfile.TemporaryDirectory(prefix="vk-xen-build-") as tmp:
        t = Path(tmp)
        (t / "debs").mkdir()
        _run("apt-get", "download", *pkgs, cwd=t / "debs")
        x = t / "x"
        for deb in sorted((t / "debs").glob("*.deb")):
            _run("dpkg", "-x", str(deb), str(x))
        kver = kpkg.removeprefix("linux-image-")
        vmlinuz = x / "boot" / f"vmlinuz-{kver}"
        root = t / "root"
        for d in ("bin", "sbin", "proc", "sys", "dev", "run", "etc", "lib/modules", "guest",
                  "var/lib/xen", "var/log/xen", "usr/sbin", XEN_BIN, "tmp"):
            (root / d).mkdir(parents=True, exist_ok=True)
        os.symlink("/run", root / "var/run")
        shutil.copy(x / "bin/busybox", root / "bin/busybox")
        libpath = ":".join(str(p) for p in (x / "usr/lib/x86_64-linux-gnu",
                                            x / "usr/lib/xen-4.17/lib/x86_64-linux-gnu",
                                            x / "lib/x86_64-linux-gnu"))
        bins = [x / XEN_BIN / b for b in DOM0_TOOLS] + [
            x / "usr/bin" / b for b in ("xenstore-read", "xenstore-write", "xenstore-ls",
                                        "xenstore-list", "xenstore-watch")] + [
            x / b for b in SCRIPT_TOOLS]
        needed: set[Path] = {Path("/lib/x86_64-linux-gnu/libgcc_s.so.1")}
        for b in bins:
            if b.exists():
                dest = root / b.relative_to(x)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(b, dest)
                needed |= _libs(b, libpath)
        needed |= _libs(Path("/lib/x86_64-linux-gnu/libgcc_s.so.1"), libpath)
        for lib in needed:
            real = lib.resolve()
            rel = str(lib).removeprefix(str(x)).lstrip("/")
            for name in {rel, str(real).removeprefix(str(x)).lstrip("/")}:
                dest = root / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                if not dest.exists():
                    shutil.copy(real, dest)
        (root / "lib64").mkdir(exist_ok=True)
        ld = Path("/lib64/ld-linux-x86-64.so.2").resolve()
        shutil.copy(ld, root / "lib64/ld-linux-x86-64.so.2")
        os.symlink(f"/{XEN_BIN}/xl", root / "usr/sbin/xl")
        shutil.copytree(x / "etc/xen", root / "etc/xen", symlinks=True)
        (root / "etc/xen/xl.conf").write_text('autoballoon="off"\n')
        for m in MODULES:
            found = list((x / "lib/modules" / kver).rglob(f"{m}.ko*"))
            shutil.copy(found[0], root / "lib/modules" / f"{m}.ko")
        backends = _module_order(x, kver, BACKEND_MODULES)
        for f in backends:
            shutil.copy(f, root / "lib/modules" / f.name)
        (root / "lib/modules/backends").write_text(
            " ".join(f.name.removesuffix(".ko") for f in backends) + "\n")
        (root / "init").write_text(DOM0_INIT)
        (root / "init").chmod(0o755)
        (root / "vkloop.sh").write_text(CHANNEL_LOOP)
        # the guest: the same kernel, busybox, an init that powers off on request
        g = _Cpio()
        for d in ("bin", "sbin", "proc", "dev", "lib", "lib/modules"):
            g.add(d, mode=0o040755)
        g.add("bin/busybox", (x / "bin/busybox").read_bytes(), 0o100755)
        frontends = _module_order(x, kver, GUEST_MODULES)
        for f in frontends:
            g.add(f"lib/modules/{f.name}", f.read_bytes())
        g.add("lib/modules/order",
              (" ".join(f.name.removesuffix(".ko") for f in frontends) + "\n").encode())
        g.add("init", GUEST_INIT.encode(), 0o100755)
        g.add("sbin/poweroff", GUEST_POWEROFF.encode(), 0o100755)
        guest_initrd = g.finish(compress=False)
        # the guest's files ride uncompressed, ahead of dom0's compressed archive (Linux unpacks a
        # concatenation of archives): the ELF kernel and the plain archive are what make
        # xl create fast (nothing to decompress in dom0); the compressed forms are kept to
        # measure the difference
        gfiles = _Cpio()
        gfiles.add("guest", mode=0o040755)
        gfiles.add(GUEST_KERNEL.lstrip("/"), extract_vmlinux(vmlinuz.read_bytes()))
        gfiles.add(GUEST_INITRD.lstrip("/"), guest_initrd)
        gfiles.add("guest/vmlinuz", vmlinuz.read_bytes())
        gfiles.add("guest/initrd.gz", gzip.compress(guest_initrd, compresslevel=6))
        c = _Cpio()
        c.tree(root)
        out.mkdir(parents=True, exist_ok=True)
        (out / "dom0.cpio.gz.tmp").write_bytes(gfiles.finish(compress=False) + c.finish())
        shutil.copy(vmlinuz, out / "vmlinuz")
        with gzip.open(x / "boot/xen-4.17-amd64.gz") as src:
            (out / "xen.tmp").write_bytes(src.read())
        os.replace(out / "xen.tmp", out / "xen")
        os.replace(out / "dom0.cpio.gz.tmp", out / "dom0.cpio.gz")
    return files


class Dom0:
    """Xen with its dom0 under QEMU TCG; ``runner`` talks to dom0 over the second serial port.
    A context manager: QEMU's process group is killed on exit, also after a failure."""

    def __init__(self, image: dict[str, Path], workdir: Path, memory_mib: int = 2048,
                 boot_timeout: float = 300.0, accel: str = "tcg", cpu: str = CPU,
                 dom0_mib: int = 1024) -> None:
        self.image, self.workdir, self.accel, self.cpu = image, workdir, accel, cpu
        self.dom0_mib = dom0_mib
        self.memory_mib, self.boot_timeout = memory_mib, boot_timeout
        self.sock = workdir / "dom0.sock"
        self.console = workdir / "console.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.boot_seconds = 0.0
        self._chan: ChannelRunner | None = None

    def __enter__(self) -> Dom0:
        self.workdir.mkdir(parents=True, exist_ok=True)
        im = self.image
        argv = ["qemu-system-x86_64", "-accel", self.accel, "-m", str(self.memory_mib),
                "-smp", "2", "-cpu", self.cpu, "-nographic", "-no-reboot", "-nodefaults",
                "-kernel", str(im["xen"]),
                "-append", HYPERVISOR_ARGS.format(mib=self.dom0_mib),
                "-initrd", f"{im['vmlinuz']} {DOM0_ARGS},{im['dom0.cpio.gz']}",
                "-chardev", f"file,id=con,path={self.console}", "-serial", "chardev:con",
                "-chardev", f"socket,id=ch,path={self.sock},server=on,wait=off",
                "-serial", "chardev:ch"]
        start = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(self.workdir / "qemu.err", "wb"),
                                     start_new_session=True)
        try:
            self._wait_ready(start)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.boot_seconds = time.monotonic() - start
        return self

    def _wait_ready(self, start: float) -> None:
        assert self.proc is not None
        while time.monotonic() - start < self.boot_timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"QEMU exited ({self.proc.returncode}): "
                                   f"{(self.workdir / 'qemu.err').read_text()[-2000:]}")
            if self.console.exists() and READY in self.console.read_text(errors="replace"):
                try:  # a ping can race the loop's start: ping again until one is answered
                    r = self._runner.run(["echo", "ok"], timeout=10)
                except VirtError:
                    continue
                if r.stdout.strip() == "ok":
                    return
            time.sleep(0.2)
        raise TimeoutError(f"dom0 not ready after {self.boot_timeout:g} s; console tail: "
                           f"{self.console.read_text(errors='replace')[-3000:]}")

    @property
    def _runner(self) -> ChannelRunner:
        if self._chan is None:
            self._chan = ChannelRunner(str(self.sock))
        return self._chan

    def runner(self) -> ChannelRunner:
        """The channel (one connection; QEMU serves one client at a time)."""
        return self._runner

    def detach(self) -> None:
        """Close this process's connection to the channel, so that another process (the
        conformance suite's) can connect: QEMU serves one client per socket."""
        if self._chan is not None:
            self._chan.close()
            self._chan = None

    @property
    def spec(self) -> str:
        return f"channel:{self.sock}"

    def __exit__(self, *exc: object) -> None:
        self.detach()
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)
        self.proc = None
