"""Run the lxc driver on a real cgroup v2 kernel: v2kernel/ inside a guest.

This host mounts every controller on v1, so its unified hierarchy has none. This script boots
Debian's kernel (``/boot/vmlinuz-*``, with its initrd) under ``qemu-system-x86_64`` (TCG: this
machine's nested KVM does not get past the kernel's decompression), on an ext4 image of the
files the driver's tests need, staged as hard links at the same absolute paths (the system's
/usr, this venv and its base Python, this checkout); the guest's init mounts cgroup2 alone at
/sys/fs/cgroup (every controller: cpuset cpu io memory hugetlb pids rdma misc), tmpfs on /tmp
and /run, and runs ``pytest v2kernel``. The image is opened with ``snapshot=on``, so nothing is
written back; it is deleted at the end. Slow (the guest is emulated): about 10 minutes.

    sudo python plugins/lxc/v2vm.py [pytest arguments...]

Needs: qemu-system-x86 and e2fsprogs (``mkfs.ext4 -d``); Debian's linux-image-cloud-amd64
(or any /boot/vmlinuz with cgroup v2 controllers and virtio_blk in its initrd).
"""

from __future__ import annotations

import base64
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

INIT = """#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc; mount -t sysfs sys /sys 2>/dev/null
mount -t devtmpfs dev /dev 2>/dev/null; mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp; mount -t tmpfs tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
ip link set lo up
echo "VKV2: kernel $(uname -r), /sys/fs/cgroup: $(stat -f -c %T /sys/fs/cgroup), controllers: \
$(cat /sys/fs/cgroup/cgroup.controllers)"
cmd=$(sed -n 's/.*vkv2cmd=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
sh -c "$(echo $cmd | base64 -d)"
echo "VKV2-RC=$?"
echo o > /proc/sysrq-trigger
sleep 30
"""


def _link_tree(src: str, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", src, str(dst)], check=True)


def stage(work: Path) -> Path:
    """The guest's root: hard links (no copies) at the host's paths, then an ext4 image."""
    s = work / "stage"
    for d in ("bin", "sbin", "lib64", "lib/x86_64-linux-gnu"):
        _link_tree(f"/usr/{d}", s / "usr" / d)
    shutil.copytree("/etc", s / "etc", symlinks=True, ignore_dangling_symlinks=True,
                    dirs_exist_ok=True, copy_function=shutil.copy)
    base = Path(sys.base_prefix)
    _link_tree(str(base), s / base.relative_to("/"))
    pylib = s / base.relative_to("/") / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    shutil.rmtree(pylib / "test", ignore_errors=True)
    for p in (pylib / "site-packages").glob("*"):  # the venv has its own
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    if Path(sys.prefix) != base:
        _link_tree(sys.prefix, s / Path(sys.prefix).relative_to("/"))
    _link_tree(str(REPO), s / REPO.relative_to("/"))
    shutil.rmtree(s / REPO.relative_to("/") / ".git", ignore_errors=True)
    for link, target in (("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"),
                         ("lib64", "usr/lib64")):
        (s / link).symlink_to(target)
    for d in ("proc", "sys", "dev", "tmp", "run", "var/tmp", "vkv2"):
        (s / d).mkdir(parents=True, exist_ok=True)
    (s / "vkv2" / "init").write_text(INIT)
    (s / "vkv2" / "init").chmod(0o755)
    img = work / "root.img"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(s), str(img), "3G"], check=True)
    shutil.rmtree(s)
    return img


def main() -> int:
    if os.geteuid() != 0:
        print("v2vm.py makes real containers: run it as root")
        return 1
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    if not kernels:
        print("no /boot/vmlinuz-*: install a kernel package (linux-image-cloud-amd64)")
        return 1
    kernel = kernels[-1]
    initrd = kernel.replace("vmlinuz", "initrd.img")
    args = " ".join(sys.argv[1:]) or "-v"
    cmd = (f"cd {HERE} && PYTHONDONTWRITEBYTECODE=1 {sys.executable} -m pytest v2kernel "
           f"-p no:cacheprovider --color=no --tb=short {args}")
    work = Path(tempfile.mkdtemp(prefix="vkv2-", dir="/var/tmp"))
    try:
        img = stage(work)
        enc = base64.b64encode(cmd.encode()).decode()
        qemu = ["qemu-system-x86_64", "-accel", "tcg,thread=multi", "-m", "3072", "-smp", "2",
                "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
                "-kernel", kernel, "-initrd", initrd,
                "-drive", f"file={img},format=raw,if=virtio,snapshot=on",
                "-append", f"root=/dev/vda rw init=/vkv2/init console=ttyS0 panic=-1 quiet "
                           f"vkv2cmd={enc}"]
        print(f"booting {kernel} (TCG) to run: {cmd}", flush=True)
        proc = subprocess.Popen(qemu, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                text=True, errors="replace")
        rc = 1
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                if line.startswith("VKV2-RC="):
                    rc = int(line.strip().split("=")[1])
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return rc
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
