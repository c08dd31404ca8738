"""A pytest plugin ``certify.py`` loads into the conformance run: what the suite's generated guests
run, and the image files its device tests name.

The suite's generated domains name no operating system (``<os><type>hvm</type></os>``). Run as
they are, they are firmware-only guests: QEMU runs SeaBIOS, which finds nothing to boot and
idles. That is all most tests need (define, start, pause, save, snapshots, hotplug, stats), and
such a guest runs under KVM here (the domain type ``certify.py`` passes). A few operations need
the guest to cooperate, which firmware never does: the ACPI power button (shutdown, reboot) and
the eject of an unplugged device. For the tests in :data:`NEEDS_OS` only, every generated domain
becomes the tiny Linux guest under TCG (``<domain type='qemu'>``: a Linux kernel hangs on this
host's paravirtual KVM) with its kernel, initramfs and command line and ACPI, and each start waits
until it booted (below). Every generated domain gets a serial console, as a user's guest has, so
the console tests have one. Disk images the device tests attach are created as empty raw files
(QEMU opens them; the test driver does not). It changes no assertion of the suite.
``VKQ_KERNEL`` and ``VKQ_INITRD`` name the tiny guest's files.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from virtkit_conformance import kit
from virtkit_conformance.suite import test_devices, test_guest, test_stateful

KERNEL = os.environ["VKQ_KERNEL"]
INITRD = os.environ["VKQ_INITRD"]
_domain_xml = kit.domain_xml
_disk_xml = kit.disk_xml

#: The tests whose guest must run an operating system, and why.
NEEDS_OS = {
    "test_shutdown": "the guest answers the ACPI power button",
    "test_shutdown_modes": "the guest answers the ACPI power button",
    "test_shutdown_transient_vanishes": "the guest answers the ACPI power button",
    "test_reboot": "the guest answers the ACPI power button",
    "test_disk_live": "the guest ejects the unplugged disk",
    "test_interface_live": "the guest ejects the unplugged NIC",
    "test_vcpus_live": "the guest ejects the unplugged vcpu",
}
_running: dict[str, bool] = {"os": False}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _running["os"] = getattr(item, "originalname", item.name) in NEEDS_OS


def pytest_runtest_teardown(item: pytest.Item) -> None:
    _running["os"] = False


def domain_xml(name: str, **kwargs: Any) -> str:
    text = _domain_xml(name, **kwargs)
    assert "<os><type>{os}</type></os>" in text and text.startswith("<domain type='{type}'>"), \
        "the suite's domain template changed"
    if _running["os"]:
        boot = (f"<os><type>{{os}}</type><kernel>{KERNEL}</kernel><initrd>{INITRD}</initrd>"
                f"<cmdline>console=ttyS0 quiet panic=-1</cmdline></os>"
                f"<features><acpi/></features>")
        text = text.replace("<os><type>{os}</type></os>", boot)
        text = text.replace("<domain type='{type}'>", "<domain type='qemu'>", 1)
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
for _module in (test_devices, test_guest, test_stateful):  # each imported kit's disk_xml
    _module.__dict__["disk_xml"] = disk_xml


# -- a started Linux guest is a booted guest ---------------------------------------------------
# A user's guest is up before they press its power button or unplug: the guest kernel must have
# its ACPI handlers running. After each start of the tiny guest (not paused, not a restore of a
# saved guest) the run waits until it prints its ready line, read from its console log.

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
    if not paused and not restoring and _running["os"]:
        wait_booted(self, offset)


def create_xml(self: Connection, xml: str, paused: bool = False,
               validate: bool = False) -> Domain:
    import re

    m = re.search(r"<uuid>\s*([0-9a-fA-F-]{32,36})\s*</uuid>", xml)
    offset = _size(m.group(1).lower()) if m else 0
    dom = _create_xml(self, xml, paused=paused, validate=validate)
    if not paused and _running["os"]:
        wait_booted(dom, offset)
    return dom


Domain.create = create  # type: ignore[method-assign]
Connection.create_xml = create_xml  # type: ignore[method-assign]
