"""A pytest plugin ``certify_real.py`` loads into the conformance run against the real Xen:
every domain the suite generates boots the tiny PV guest.

The suite's generated domains name no operating system (``<os><type>{os}</type></os>``; the
driver's capabilities make that ``linux``, a PV guest). A Xen PV guest cannot start without a
kernel (``xl create`` fails in the domain builder), so each one gets the guest kernel and
initramfs the dom0 image carries (``virtkit_xen.realrun.GUEST_KERNEL``/``GUEST_INITRD``: paths
in dom0, where xl reads them) and a console command line. It changes no assertion of the
suite: the domains keep their names, uuids, memory, vcpus and devices.
"""

from __future__ import annotations

from typing import Any

from virtkit_conformance import kit
from virtkit_xen.realrun import GUEST_INITRD, GUEST_KERNEL

_domain_xml = kit.domain_xml
BOOT = (f"<os><type>{{os}}</type><kernel>{GUEST_KERNEL}</kernel><initrd>{GUEST_INITRD}</initrd>"
        "<cmdline>console=hvc0 quiet</cmdline></os>")


def domain_xml(name: str, **kwargs: Any) -> str:
    text = _domain_xml(name, **kwargs)
    assert "<os><type>{os}</type></os>" in text, "the suite's domain template changed"
    return text.replace("<os><type>{os}</type></os>", BOOT)


kit.domain_xml = domain_xml
