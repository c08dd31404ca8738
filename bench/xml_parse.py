"""Benchmark: parse + format of a typical domain document, virtkit against libvirt.

virtkit side: ``Domain.from_xml(text).to_xml()`` (hardened parse, semantic checks, format).
libvirt side: ``conn.defineXML(text)`` + ``dom.XMLDesc(0)`` on ``test:///default`` through
python3-libvirt, run in a subprocess of the system Python (/usr/bin/python3), for which Debian
builds the binding. Both in the same run; prints the ratio (libvirt time / virtkit time: >= 1.0
means virtkit is at least as fast). Then times the refusal of each hostile document and prints
the worst.

Run: python bench/xml_parse.py [--seconds N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="time per side (default 2)")
    args = ap.parse_args()

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

    from test_hostile import HOSTILE  # the tests' hostile corpus

    print("hostile documents, time to refuse (best of 3):")
    worst = ("", 0.0)
    for name, (doc, _) in HOSTILE.items():
        t = refusal_time(doc)
        print(f"  {name:32s} {t * 1e3:8.3f} ms")
        if t > worst[1]:
            worst = (name, t)
    print(f"  worst: {worst[0]} {worst[1] * 1e3:.3f} ms  (limit 50 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
