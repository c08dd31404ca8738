"""Benchmark: parse + format of a typical domain document, virtkit against libvirt.

virtkit side: ``Domain.from_xml(text).to_xml()`` (hardened parse, semantic checks, format).
libvirt side: ``conn.defineXML(text)`` + ``dom.XMLDesc(0)`` on ``test:///default`` through
python3-libvirt, run in a subprocess of the system Python (/usr/bin/python3), for which Debian
builds the binding. Both in the same run; prints the ratio (libvirt time / virtkit time: >= 1.0
means virtkit is at least as fast).

Then the bounded-cost part: the refusal time of each hostile document, and every large shape of
the hostile corpus (core/tests/xml/test_hostile.py: many siblings in <metadata>, many devices,
deep nesting, long values, many attributes, large text, each near a cap) parsed as define_xml
does, without and with validation (libvirt's VALIDATE flag). Each shape is timed interleaved
with libvirt defining the same document on test:///default (``defineXMLFlags`` /
``networkDefineXMLFlags``, with VIR_*_DEFINE_VALIDATE for the validating run): median of the
runs, their spread (max - min), what each side answered, and the ratio libvirt / virtkit where
both did the same work (both accepted, or both refused). Target: every shape under 50 ms.

Run: python bench/xml_parse.py [--seconds N] [--runs N] [--shapes-only]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "core" / "src"))
sys.path.insert(0, str(ROOT / "core" / "tests" / "xml"))

from virtkit.sdk.errors import VirtError  # noqa: E402
from virtkit.xml.domain import Domain  # noqa: E402

# A typical guest as virt-install writes it (type 'test' so libvirt's test driver accepts it).
TYPICAL = """<domain type='test'>
  <name>bench-guest</name>
  <uuid>0f1e2d3c-4b5a-4969-8877-665544332211</uuid>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://debian.org/debian/12"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory unit='KiB'>4194304</memory>
  <currentMemory unit='KiB'>4194304</currentMemory>
  <vcpu placement='static'>4</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
    <pae/>
  </features>
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='allow'>qemu64</model>
    <topology sockets='1' cores='2' threads='2'/>
  </cpu>
  <clock offset='utc'>
    <timer name='rtc' tickpolicy='catchup'/>
    <timer name='pit' tickpolicy='delay'/>
    <timer name='hpet' present='no'/>
  </clock>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/test-hv</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none' discard='unmap'/>
      <source file='/var/lib/libvirt/images/bench-guest.qcow2'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='/var/lib/libvirt/iso/debian-12.iso'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
      <address type='drive' controller='0' bus='0' target='0' unit='0'/>
    </disk>
    <controller type='usb' index='0' model='qemu-xhci' ports='15'>
      <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>
    </controller>
    <controller type='sata' index='0'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x1f' function='0x2'/>
    </controller>
    <controller type='virtio-serial' index='0'>
      <address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>
    </controller>
    <interface type='network'>
      <mac address='52:54:00:12:34:56'/>
      <source network='default'/>
      <model type='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </interface>
    <serial type='pty'>
      <target port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
      <address type='virtio-serial' controller='0' bus='0' port='1'/>
    </channel>
    <input type='tablet' bus='usb'>
      <address type='usb' bus='0' port='1'/>
    </input>
    <input type='mouse' bus='ps2'/>
    <input type='keyboard' bus='ps2'/>
    <graphics type='vnc' port='-1' autoport='yes'>
      <listen type='address'/>
    </graphics>
    <video>
      <model type='vga' vram='16384' heads='1' primary='yes'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
    </video>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>
    </memballoon>
    <rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
      <address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>
    </rng>
  </devices>
</domain>
"""

LIBVIRT_SIDE = r"""
import json, sys, time
import libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
xml = json.loads(sys.stdin.readline())
conn = libvirt.open("test:///default")
for _ in range(200):
    conn.defineXML(xml).XMLDesc(0)
print(json.dumps({"version": libvirt.getVersion()}), flush=True)
for line in sys.stdin:  # one batch size per line; answer with the time per operation
    n = int(line)
    t = time.perf_counter()
    for _ in range(n):
        conn.defineXML(xml).XMLDesc(0)
    print((time.perf_counter() - t) / n, flush=True)
"""


# The libvirt side of the shapes: one document per request, timed define with or without the
# VALIDATE flag; answers the time and what libvirt said.
LIBVIRT_SHAPES = r"""
import json, sys, time
import libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
conn = libvirt.open("test:///default")
print("ready", flush=True)
for line in sys.stdin:
    req = json.loads(line)
    t = time.perf_counter()
    try:
        if req["kind"] == "network":
            conn.networkDefineXMLFlags(req["xml"], req["flags"]).undefine()
        else:
            conn.defineXMLFlags(req["xml"], req["flags"]).undefine()
        said = "ok"
    except libvirt.libvirtError as exc:
        said = "refused: " + (exc.get_error_message() or "")[:60]
    print(json.dumps([time.perf_counter() - t, said]), flush=True)
"""


class LibvirtShapes:
    """libvirt defining documents in a system-Python subprocess; a call that takes longer than
    ``limit`` seconds is abandoned (the process is killed and restarted) and reported so."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            ["/usr/bin/python3", "-c", LIBVIRT_SHAPES],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise SystemExit("libvirt side failed (python3-libvirt installed?)")
        return proc

    def define(self, xml: str, kind: str, validate: bool) -> tuple[float, str]:
        import selectors

        if self.proc is None:
            self.proc = self._start()
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({"xml": xml, "kind": kind, "flags": int(validate)}) + "\n")
        proc.stdin.flush()
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        ready = sel.select(self.limit)
        sel.close()
        if not ready:
            self.close()
            return float("inf"), f"no answer in {self.limit:.0f} s"
        elapsed, said = json.loads(proc.stdout.readline())
        return float(elapsed), str(said)

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def virtkit_define(load: Any, shape: Any, validate: bool) -> tuple[float, float, str]:
    """Wall-clock and CPU time of one parse, and what it said."""
    t, c = time.perf_counter(), time.process_time()
    try:
        load(shape, validate)
        said = "ok"
    except VirtError as exc:
        said = "refused: " + exc.message[:60]
    return time.perf_counter() - t, time.process_time() - c, said


def refusal_time(doc: bytes | str) -> float:
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        try:
            Domain.from_xml(doc)
        except VirtError:
            pass
        else:  # pragma: no cover
            raise SystemExit("a hostile document was accepted")
        best = min(best, time.perf_counter() - t)
    return best


def bench_shapes(runs: int, limit: float) -> float:
    """Time every large shape (interleaved with libvirt); return the worst virtkit median."""
    from test_hostile import SHAPES, load

    logging.getLogger("virtkit.xml").setLevel(logging.ERROR)  # unmodelled-element warnings
    libvirt = LibvirtShapes(limit)
    worst = ("", 0.0)
    worst_cpu = ("", 0.0)
    print(f"large shapes (core/tests/xml/test_hostile.py), median of {runs} runs interleaved "
          "with libvirt on test:///default; spread = max - min of the wall-clock times; cpu = "
          "virtkit's median CPU time (what machine load does not inflate):")
    print(f"  {'shape':54s} {'mode':8s} {'virtkit ms':>10s} {'spread':>7s} {'cpu':>6s} "
          f"{'libvirt ms':>10s} {'ratio':>6s}  answers (virtkit | libvirt)")
    try:
        for name, shape in SHAPES.items():
            for validate in (False, True):
                vk: list[float] = []
                cpu: list[float] = []
                lv: list[float] = []
                vsaid = lsaid = ""
                for _ in range(runs):  # ABAB
                    t, c, vsaid = virtkit_define(load, shape, validate)
                    vk.append(t)
                    cpu.append(c)
                    if not lv or lv[-1] != float("inf"):
                        t, lsaid = libvirt.define(shape.doc, shape.kind, validate)
                        lv.append(t)
                vmed = statistics.median(vk)
                lmed = statistics.median(lv)
                same = vsaid.split(":")[0] == lsaid.split(":")[0]
                ratio = f"{lmed / vmed:6.2f}" if same and lmed != float("inf") else "     -"
                lms = f"{lmed * 1e3:10.1f}" if lmed != float("inf") else f">{limit * 1e3:9.0f}"
                mode = "validate" if validate else "plain"
                cmed = statistics.median(cpu)
                print(f"  {name:54s} {mode:8s} {vmed * 1e3:10.1f} {(max(vk) - min(vk)) * 1e3:7.1f}"
                      f" {cmed * 1e3:6.1f} {lms} {ratio}  {vsaid[:34]} | {lsaid[:40]}", flush=True)
                if vmed > worst[1]:
                    worst = (f"{name} ({mode})", vmed)
                if cmed > worst_cpu[1]:
                    worst_cpu = (f"{name} ({mode})", cmed)
    finally:
        libvirt.close()
    print(f"  worst virtkit median: {worst[0]} {worst[1] * 1e3:.1f} ms  (target < 50 ms)")
    print(f"  worst virtkit median CPU time: {worst_cpu[0]} {worst_cpu[1] * 1e3:.1f} ms")
    print(f"  (load average while measuring: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs)")
    return worst[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="time per side (default 2)")
    ap.add_argument("--runs", type=int, default=5, help="runs per large shape (default 5)")
    ap.add_argument("--libvirt-limit", type=float, default=20.0,
                    help="seconds after which a libvirt define is abandoned (default 20)")
    ap.add_argument("--shapes-only", action="store_true", help="only the bounded-cost part")
    args = ap.parse_args()
    if args.shapes_only:
        bench_hostile()
        bench_shapes(args.runs, args.libvirt_limit)
        return 0

    def virtkit_op() -> str:
        return Domain.from_xml(TYPICAL).to_xml()

    # same document on both sides; libvirt's side runs in a system-Python subprocess, and the
    # two sides alternate batch by batch so that load on the machine hits both alike
    Domain.from_xml(virtkit_op())
    proc = subprocess.Popen(
        ["/usr/bin/python3", "-c", LIBVIRT_SIDE],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(TYPICAL) + "\n")
    proc.stdin.flush()
    hello = proc.stdout.readline()
    if not hello:
        raise SystemExit("libvirt side failed (python3-libvirt installed?)")
    version = json.loads(hello)["version"]
    for _ in range(200):
        virtkit_op()
    vk = lv = float("inf")
    batch = 300
    deadline = time.perf_counter() + 2 * args.seconds
    while time.perf_counter() < deadline:
        t = time.perf_counter()
        for _ in range(batch):
            virtkit_op()
        vk = min(vk, (time.perf_counter() - t) / batch)
        proc.stdin.write(f"{batch}\n")
        proc.stdin.flush()
        lv = min(lv, float(proc.stdout.readline()))
    proc.stdin.close()
    proc.wait()
    print(f"typical domain ({len(TYPICAL)} bytes), parse + format, best batch of {batch}:")
    print(f"  virtkit Domain.from_xml + to_xml                          {vk * 1e6:8.1f} us/op")
    print(f"  libvirt {version} defineXML + XMLDesc on test:///default  {lv * 1e6:8.1f} us/op")
    print(f"  ratio (libvirt / virtkit): {lv / vk:.2f}x  (target >= 1.0x)")

    from virtkit.xml import _model

    def cold_op() -> str:  # no interned leaves, no cached formatted lines
        _model._interned.clear()
        _model._formatted.clear()
        return virtkit_op()

    cold = float("inf")
    for _ in range(20):
        t = time.perf_counter()
        for _ in range(100):
            cold_op()
        cold = min(cold, (time.perf_counter() - t) / 100)
    print(f"  (virtkit with its leaf caches emptied before every op: {cold * 1e6:.1f} us/op, "
          f"ratio {lv / cold:.2f}x)")

    bench_hostile()
    bench_shapes(args.runs, args.libvirt_limit)
    return 0


def bench_hostile() -> None:
    from test_hostile import HOSTILE  # the tests' hostile corpus

    print("hostile documents, time to refuse (best of 3):")
    worst = ("", 0.0)
    for name, (doc, _) in HOSTILE.items():
        t = refusal_time(doc)
        print(f"  {name:32s} {t * 1e3:8.3f} ms")
        if t > worst[1]:
            worst = (name, t)
    print(f"  worst: {worst[0]} {worst[1] * 1e3:.3f} ms  (limit 50 ms)")


if __name__ == "__main__":
    sys.exit(main())
