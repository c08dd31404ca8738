#!/usr/bin/env python3
"""Certify the qemu driver: ``python certify.py OUTDIR``.

Runs ``virtkit-certify qemu:///session`` with the session's state under a private temporary XDG
directory, writes result.json, junit.xml and report.md into OUTDIR, kills any QEMU the run left
behind, and exits non-zero unless the driver is certified. The suite's guests are firmware-only
guests under KVM when ``/dev/kvm`` can be used (else TCG), and the tiny Linux guest under TCG for
the few tests whose guest must cooperate (see certify_guest.py). Groups that need what this
driver or this host cannot do are left out: migration (no second host), and resources, whose
live vcpu unplug needs a guest OS that ejects the cpu, which here is only the tiny guest under
TCG, where QEMU 7.2 crashes on a cpu unplug (the driver refuses it; see docs/qemu.md). Run as
root, the whole run is in a network namespace of its own (``unshare -n``, loopback up): the host
network service's bridges, dnsmasq and nftables tables live and die there and the host's
networking is never touched; the network ``default`` is defined and started there first.
"""


from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
GROUPS = ("connection,definition,lifecycle,save-restore,snapshots,devices,storage,networks,"
          "interfaces,nodedev,secrets,host,nwfilters,checkpoints,console,guest-info,"
          "guest-agent,block-jobs,tuning,readonly,concurrency,bad-input,stateful")

DEFAULT_NET_SETUP = """
import virtkit
c = virtkit.open("qemu:///session")
net = c.network_define_xml(
    "<network><name>default</name><forward mode='nat'/><bridge name='vkdefault0'/>"
    "<mac address='52:54:00:5e:cd:01'/>"
    "<ip address='192.168.122.1' netmask='255.255.255.0'><dhcp>"
    "<range start='192.168.122.2' end='192.168.122.254'/></dhcp></ip></network>")
net.create()
c.close()
"""


def _kill_qemus(root: str) -> None:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            if (b"qemu-system" in cmd or b"dnsmasq" in cmd) and root.encode() in cmd:
                os.kill(int(entry), signal.SIGKILL)


def main() -> int:
    outdir = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(HERE / "tests"))
    import tinyguest  # type: ignore[import-not-found]  # tests/, put on the path above

    from virtkit_qemu import caps

    domain_type = "kvm" if caps.kvm_usable() else "qemu"
    cache = Path(os.environ.get("VIRTKIT_QEMU_TEST_CACHE") or HERE / "tests" / ".cache")
    kernel, initrd = tinyguest.kernel_path(), tinyguest.build_initramfs(cache)
    root = tempfile.mkdtemp(prefix="vkqc-")
    env = {k: v for k, v in os.environ.items() if k != "VIRTKIT_STATE_ROOT"}
    env.update(XDG_CONFIG_HOME=f"{root}/config", XDG_RUNTIME_DIR=f"{root}/run",
               XDG_CACHE_HOME=f"{root}/cache", VKQ_KERNEL=str(kernel), VKQ_INITRD=str(initrd),
               PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")])))
    os.makedirs(f"{root}/run", mode=0o700)
    certify = shutil.which("virtkit-certify") or str(Path(sys.executable).parent /
                                                     "virtkit-certify")
    groups = os.environ.get("VKQ_GROUPS") or GROUPS  # by hand: other groups (not a certification)
    cmd = [certify, "qemu:///session", "--only", groups,
           "--json", str(outdir / "result.json"), "--junit", str(outdir / "junit.xml"),
           "--report", str(outdir / "report.md"), "-q",
           "--", "-p", "certify_guest", "--virtkit-domain-type", domain_type,
           "--virtkit-event-timeout", "30", "--virtkit-timeout", "120"]
    if os.geteuid() == 0 and shutil.which("unshare"):
        # the suite's guests plug into the network 'default' (as libvirt installs one): it is
        # defined and started in the run's namespace first
        setup = f'{shlex.quote(sys.executable)} -c {shlex.quote(DEFAULT_NET_SETUP)}'
        cmd = ["unshare", "-n", "sh", "-c", f'ip link set lo up && {setup} && exec "$0" "$@"',
               *cmd]
    try:
        return subprocess.call(cmd, env=env)
    finally:
        _kill_qemus(root)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
