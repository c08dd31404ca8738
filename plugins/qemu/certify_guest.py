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


# -- a started guest is a booted guest ---------------------------------------------------------
# A user's guest is up before they hotplug or unplug: the guest kernel must have its ACPI
# handlers to answer an eject (QEMU 7.2 under TCG dies when a cpu unplug is requested again while
# the guest boots). After each start (not paused, not a restore of a saved guest) the run waits
# until the tiny guest prints its ready line, read from the guest's console log.

import glob  # noqa: E402
import time  # noqa: E402

from virtkit.api.connection import Connection  # noqa: E402
from virtkit.api.domain import Domain  # noqa: E402

READY = os.environ.get("VKQ_READY", "VIRTKIT-GUEST-READY").encode()
RUN = os.environ.get("XDG_RUNTIME_DIR", "")
BOOT_WAIT = float(os.environ.get("VKQ_BOOT_WAIT", "60"))


def _console_log(uuid: str) -> str | None:
    # the driver's private guest directory: run/virtkit/qemu/g/ + the uuid's first 16 hex digits
    found = glob.glob(f"{RUN}/**/g/{uuid.replace('-', '')[:16]}/console.log", recursive=True)
    return found[0] if found else None


def _size(uuid: str) -> int:
    path = _console_log(uuid)
    try:
        return os.path.getsize(path) if path else 0
    except OSError:
        return 0


def wait_booted(dom: Domain, offset: int) -> None:
    """Wait (up to VKQ_BOOT_WAIT seconds) until the guest's console log shows the ready line
    after ``offset``; a guest that is not running is not waited for."""
    deadline = time.monotonic() + BOOT_WAIT
    while time.monotonic() < deadline:
        path = _console_log(dom.uuid)
        if path:
            with open(path, "rb") as f:
                f.seek(offset)
                if READY in f.read():
                    return
        try:
            if dom.state()[0] != 1:  # not RUNNING (paused, shut off, crashed)
                return
        except Exception:
            return
        time.sleep(0.05)


_create = Domain.create
_create_xml = Connection.create_xml


def create(self: Domain, paused: bool = False, force_boot: bool = False) -> None:
    restoring = not force_boot and self.has_managed_save_image()
    offset = _size(self.uuid)
    _create(self, paused=paused, force_boot=force_boot)
    if not paused and not restoring:
        wait_booted(self, offset)


def create_xml(self: Connection, xml: str, paused: bool = False,
               validate: bool = False) -> Domain:
    import re

    m = re.search(r"<uuid>\s*([0-9a-fA-F-]{32,36})\s*</uuid>", xml)
    offset = _size(m.group(1).lower()) if m else 0
    dom = _create_xml(self, xml, paused=paused, validate=validate)
    if not paused:
        wait_booted(dom, offset)
    return dom


Domain.create = create  # type: ignore[method-assign]
Connection.create_xml = create_xml  # type: ignore[method-assign]
