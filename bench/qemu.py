"""The qemu driver against libvirtd's qemu driver, in one run, interleaved A B A B.

    python bench/qemu.py [-n 5] [--skip-libvirt]

Reference: Debian's libvirtd with its qemu driver, started here with its own configuration (its
unix sockets in a temporary directory), ``virtlogd`` running, the ``libvirt-qemu`` user and group
present; its capability probe is cached by one define before anything is timed. The client is
Debian's ``python3-libvirt`` under ``/usr/bin/python3`` (a helper process this script drives over
a pipe, so both sides are timed around the same kind of call).

Operations: define; start of a diskless KVM guest; suspend; resume; destroy; save and restore of
a 256 MiB guest; managed save and start from it; ACPI shutdown of the tiny Linux guest (TCG).
Also: virtkit's start against a bare QEMU started with the same argv and resumed over QMP.
Prints median and spread (min-max) per side and the ratio virtkit/libvirt (< 1: virtkit faster).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid as uuidlib
from pathlib import Path
from typing import Any

# this file is named qemu.py: keep its directory off the path, or it shadows the qemu package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "plugins" / "qemu" / "tests"

LIBVIRT_HELPER = r'''
import json, sys, time, libvirt
conn = libvirt.open(sys.argv[1])
for line in sys.stdin:
    req = json.loads(line)
    op, arg = req["op"], req.get("arg")
    t = time.perf_counter()
    err = None
    try:
        if op == "define":
            conn.defineXML(arg)
        elif op == "undefine":
            d = conn.lookupByName(arg)
            d.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
        elif op == "restore":
            conn.restore(arg)
        elif op == "wait_off":
            d = conn.lookupByName(arg)
            while d.isActive():
                time.sleep(0.005)
        else:
            name = arg[0] if isinstance(arg, list) else arg
            d = conn.lookupByName(name)
            if op == "start": d.create()
            elif op == "suspend": d.suspend()
            elif op == "resume": d.resume()
            elif op == "destroy": d.destroy()
            elif op == "save": d.save(arg[1])
            elif op == "managed_save": d.managedSave()
            elif op == "shutdown": d.shutdown()
    except libvirt.libvirtError as e:
        err = str(e)
    print(json.dumps({"t": time.perf_counter() - t, "err": err}), flush=True)
'''


def diskless(name: str, memory_mib: int = 128) -> str:
    return (f"<domain type='kvm'><name>{name}</name><uuid>{uuidlib.uuid4()}</uuid>"
            f"<memory unit='MiB'>{memory_mib}</memory><vcpu>1</vcpu>"
            f"<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>"
            f"<devices><memballoon model='none'/></devices></domain>")


class Libvirt:
    """libvirtd with its own configuration, and a python3-libvirt helper process."""

    def __init__(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="vkbench-libvirt-")
        self._ensure_user()
        self.virtlogd: subprocess.Popen[bytes] | None = None
        if not os.path.exists("/run/libvirt/virtlogd-sock"):
            self.virtlogd = subprocess.Popen(["virtlogd"], stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        conf = Path(self.tmp) / "libvirtd.conf"
        conf.write_text(textwrap.dedent(f"""\
            unix_sock_dir = "{self.tmp}"
            listen_tcp = 0
            listen_tls = 0
            auth_unix_rw = "none"
            log_outputs = "3:file:{self.tmp}/libvirtd.log"
        """))
        self.daemon = subprocess.Popen(["libvirtd", "-f", str(conf)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       start_new_session=True)
        sock = Path(self.tmp) / "libvirt-sock"
        deadline = time.monotonic() + 30
        while not sock.exists():
            if time.monotonic() > deadline or self.daemon.poll() is not None:
                raise SystemExit(f"libvirtd did not start (see {self.tmp}/libvirtd.log)")
            time.sleep(0.05)
        self.helper = subprocess.Popen(
            ["/usr/bin/python3", "-c", LIBVIRT_HELPER, f"qemu:///system?socket={sock}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    @staticmethod
    def _ensure_user() -> None:
        if subprocess.run(["getent", "group", "libvirt-qemu"], capture_output=True).returncode:
            subprocess.run(["groupadd", "--system", "libvirt-qemu"], check=True)
        if subprocess.run(["id", "libvirt-qemu"], capture_output=True).returncode:
            subprocess.run(["useradd", "--system", "--no-create-home", "-g", "libvirt-qemu",
                            "-G", "kvm", "-s", "/usr/sbin/nologin", "libvirt-qemu"], check=True)

    def call(self, op: str, arg: Any = None) -> float:
        assert self.helper.stdin is not None and self.helper.stdout is not None
        self.helper.stdin.write(json.dumps({"op": op, "arg": arg}) + "\n")
        self.helper.stdin.flush()
        reply = json.loads(self.helper.stdout.readline())
        if reply.get("err"):
            raise RuntimeError(f"libvirt {op}: {reply['err']}")
        return float(reply["t"])

    def close(self) -> None:
        with contextlib.suppress(Exception):
            assert self.helper.stdin is not None
            self.helper.stdin.close()
            self.helper.wait(10)
        self.daemon.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.daemon.wait(20)
        if self.virtlogd is not None:
            self.virtlogd.terminate()
            self.virtlogd.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


class Virtkit:
    """virtkit's qemu driver in this process, its state under a temporary root."""

    def __init__(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="vkb-")
        os.environ["VIRTKIT_STATE_ROOT"] = self.tmp
        import virtkit

        self.conn = virtkit.open("qemu:///session")

    def call(self, op: str, arg: Any = None) -> float:
        c = self.conn
        t = time.perf_counter()
        if op == "define":
            c.define_xml(arg)
        elif op == "undefine":
            c.lookup_by_name(arg).undefine(managed_save=True)
        elif op == "restore":
            c.restore(arg)
        elif op == "wait_off":
            d = c.lookup_by_name(arg)
            while d.is_active():
                time.sleep(0.005)
        else:
            name = arg[0] if isinstance(arg, list) else arg
            d = c.lookup_by_name(name)
            if op == "start":
                d.create()
            elif op == "suspend":
                d.suspend()
            elif op == "resume":
                d.resume()
            elif op == "destroy":
                d.destroy()
            elif op == "save":
                d.save(arg[1])
            elif op == "managed_save":
                d.managed_save()
            elif op == "shutdown":
                d.shutdown()
        return time.perf_counter() - t

    def close(self) -> None:
        for d in self.conn.list_domains():
            with contextlib.suppress(Exception):
                if d.is_active():
                    d.destroy()
            with contextlib.suppress(Exception):
                d.undefine(managed_save=True)
        self.conn.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def bare_start(argv: list[str], qmp: str) -> float:
    """A bare QEMU with virtkit's argv: spawn, connect QMP, ``cont``; then kill it."""
    import asyncio

    from qemu.qmp import QMPClient

    async def go() -> float:
        t = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        client = QMPClient("bare")
        while True:
            try:
                await client.connect(qmp)
                break
            except Exception:
                await asyncio.sleep(0.002)
        await client.execute("cont")
        took = time.perf_counter() - t
        with contextlib.suppress(Exception):
            await client.disconnect()
        proc.kill()
        proc.wait()
        return took

    return asyncio.run(go())


def summary(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:8.1f} ms ({min(xs) * 1000:.1f}-{max(xs) * 1000:.1f})"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--skip-libvirt", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(TESTS))
    import tinyguest

    kernel, initrd = tinyguest.kernel_path(), tinyguest.build_initramfs(TESTS / ".cache")
    vk = Virtkit()
    lv = None if args.skip_libvirt else Libvirt()
    sides: list[tuple[str, Any]] = [("virtkit", vk)] + ([("libvirt", lv)] if lv else [])
    tmp = Path(tempfile.mkdtemp(prefix="vkbench-img-"))
    os.chmod(tmp, 0o777)
    times: dict[str, dict[str, list[float]]] = {s: {} for s in ("virtkit", "libvirt", "bare")}

    def rec(side: str, op: str, t: float) -> None:
        times[side].setdefault(op, []).append(t)

    try:
        # warm-up: each side probes QEMU's capabilities once (libvirt: about a minute here)
        for side, drv in sides:
            name = f"warm-{side}"
            drv.call("define", diskless(name))
            drv.call("undefine", name)
        for i in range(args.n):
            for side, drv in sides:  # A B A B: each round runs both sides in turn
                name = f"b{i}-{side}"
                rec(side, "define", drv.call("define", diskless(name, 256)))
                rec(side, "start", drv.call("start", name))
                rec(side, "suspend", drv.call("suspend", name))
                rec(side, "resume", drv.call("resume", name))
                img = str(tmp / f"{name}.save")
                rec(side, "save 256 MiB", drv.call("save", [name, img]))
                rec(side, "restore", drv.call("restore", img))
                rec(side, "managed save", drv.call("managed_save", name))
                rec(side, "start from managed save", drv.call("start", name))
                rec(side, "destroy", drv.call("destroy", name))
                drv.call("undefine", name)
                os.unlink(img)
        for i in range(max(1, args.n // 2)):
            for side, drv in sides:
                name = f"t{i}-{side}"
                drv.call("define", tinyguest.domain_xml(name, kernel, initrd))
                drv.call("start", name)
                time.sleep(25)  # the guest boots to its ACPI daemon (TCG, shared cores)
                t0 = time.perf_counter()
                drv.call("shutdown", name)
                drv.call("wait_off", name)
                rec(side, "ACPI shutdown (tiny guest)", time.perf_counter() - t0)
                drv.call("undefine", name)
        # virtkit's start against a bare QEMU with the same argv
        from virtkit.xml.domain import Domain
        from virtkit_qemu import argv as argvmod
        from virtkit_qemu.driver import _hosts

        host = next(iter(_hosts.values()))
        dom = Domain.from_xml(diskless("bare")).with_defaults()
        caps = host.caps()
        gdir = Path(tempfile.mkdtemp(prefix="vkbare-"))
        launch = argvmod.Launch(caps.binary, caps.machine("pc").name, "kvm", str(gdir))
        bare_argv = argvmod.build(dom, launch)
        for i in range(args.n):
            rec("bare", "start", bare_start(bare_argv, launch.qmp))
            name = f"o{i}"
            vk.call("define", diskless(name))
            rec("virtkit", "start (vs bare)", vk.call("start", name))
            vk.call("destroy", name)
            vk.call("undefine", name)
    finally:
        vk.close()
        if lv is not None:
            lv.close()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"qemu driver benchmark, {time.strftime('%Y-%m-%d')}, n={args.n}, median (min-max)")
    for op, xs in times["virtkit"].items():
        if op == "start (vs bare)":
            continue
        line = f"{op:28s} virtkit {summary(xs)}"
        if lv is not None and op in times["libvirt"]:
            ys = times["libvirt"][op]
            ratio = statistics.median(xs) / statistics.median(ys)
            line += f"  libvirt {summary(ys)}  ratio {ratio:.2f}"
        print(line)
    bare, ours = times["bare"]["start"], times["virtkit"]["start (vs bare)"]
    over = statistics.median(ours) / statistics.median(bare) - 1
    print(f"{'start vs bare QEMU':28s} virtkit {summary(ours)}  bare {summary(bare)}  "
          f"overhead {over * 100:+.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
