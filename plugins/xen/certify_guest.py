"""A pytest plugin ``certify_real.py`` loads into the conformance run against the real Xen:
every domain the suite generates boots the tiny PV guest.

The suite's generated domains name no operating system (``<os><type>{os}</type></os>``; the
driver's capabilities make that ``linux``, a PV guest). A Xen PV guest cannot start without a
kernel (``xl create`` fails in the domain builder), so each one gets the guest kernel and
initramfs the dom0 image carries (``virtkit_xen.realrun.GUEST_KERNEL``/``GUEST_INITRD``: paths
in dom0, where xl reads them) and a console command line. It changes no assertion of the
suite: the domains keep their names, uuids, memory, vcpus and devices.

The suite's disks are image files under its work directory on this host; xl opens them in
dom0, another filesystem. So each file a disk document of the suite names there
(``kit.disk_xml``) is made in dom0 too, a sparse 16 MiB file at the same path, through the
dom0 channel (``VIRTKIT_XEN_RUNNER``; the driver's runners share its connection).
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from virtkit_conformance import kit
from virtkit_xen.realrun import GUEST_INITRD, GUEST_KERNEL
from virtkit_xen.runner import ChannelRunner

_domain_xml = kit.domain_xml
BOOT = (f"<os><type>{{os}}</type><kernel>{GUEST_KERNEL}</kernel><initrd>{GUEST_INITRD}</initrd>"
        "<cmdline>console=hvc0 quiet</cmdline></os>")


def domain_xml(name: str, **kwargs: Any) -> str:
    text = _domain_xml(name, **kwargs)
    assert "<os><type>{os}</type></os>" in text, "the suite's domain template changed"
    return text.replace("<os><type>{os}</type></os>", BOOT)


kit.domain_xml = domain_xml

_disk_xml = kit.disk_xml


def _make_in_dom0(path: str) -> None:
    spec = os.environ.get("VIRTKIT_XEN_RUNNER", "")
    if not spec.startswith("channel:") or not path.startswith("/tmp/"):
        return
    runner = ChannelRunner(spec.removeprefix("channel:"))
    try:
        q = shlex.quote(path)
        r = runner.run(["sh", "-c", f"mkdir -p $(dirname {q}) && {{ [ -e {q} ] || "
                        f"truncate -s 16M {q}; }}"], timeout=60)
        assert r.rc == 0, f"making {path} in dom0: {r.stderr}"
    finally:
        runner.close()


def disk_xml(dev: str, source: str, *args: Any, **kwargs: Any) -> str:
    _make_in_dom0(source)
    return str(_disk_xml(dev, source, *args, **kwargs))


kit.disk_xml = disk_xml
