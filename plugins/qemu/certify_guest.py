"""A pytest plugin ``certify.py`` loads into the conformance run: the suite's guests become the
tiny Linux guest, and the image files its device tests name exist.

The suite's generated domains name no operating system (``<os><type>hvm</type></os>``): a real
hypervisor runs firmware that never answers the ACPI power button, so shutdown, reboot and
device unplug could not complete. This plugin adds the tiny guest's kernel, initramfs and command
line, ACPI, and a serial console to every generated domain, and creates (as empty raw files) the
disk images the device tests attach, which QEMU, unlike the test driver, opens. It changes no
assertion of the suite. ``VKQ_KERNEL`` and ``VKQ_INITRD`` name the guest's files.
"""

from __future__ import annotations

import os
from typing import Any

from virtkit_conformance import kit
from virtkit_conformance.suite import test_devices, test_stateful

KERNEL = os.environ["VKQ_KERNEL"]
INITRD = os.environ["VKQ_INITRD"]
_domain_xml = kit.domain_xml
_disk_xml = kit.disk_xml


def domain_xml(name: str, **kwargs: Any) -> str:
    text = _domain_xml(name, **kwargs)
    boot = (f"<os><type>{{os}}</type><kernel>{KERNEL}</kernel><initrd>{INITRD}</initrd>"
            f"<cmdline>console=ttyS0 quiet panic=-1</cmdline></os><features><acpi/></features>")
    assert "<os><type>{os}</type></os>" in text, "the suite's domain template changed"
    text = text.replace("<os><type>{os}</type></os>", boot)
    serial = "<serial type='pty'><target port='0'/></serial>"
    if "<devices>" in text:
        return text.replace("<devices>", f"<devices>{serial}", 1)
    return text.replace("</domain>", f"<devices>{serial}</devices></domain>")


def disk_xml(dev: str, source: str, device: str = "disk", bus: str = "virtio") -> str:
    if source.startswith("/") and os.path.isdir(os.path.dirname(source)) \
            and not os.path.exists(source):
        with open(source, "wb") as f:
            f.truncate(1024 * 1024)
    return _disk_xml(dev, source, device, bus)


kit.domain_xml = domain_xml
kit.disk_xml = disk_xml
test_devices.disk_xml = disk_xml
test_stateful.disk_xml = disk_xml
