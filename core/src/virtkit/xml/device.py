"""Device documents: one ``<disk>``, ``<interface>``, ... element on its own, as attach-device,
detach-device and update-device take them.

Every driver that attaches devices parses their documents here, so that a document is refused
the same way everywhere: :func:`parse_device` gives the element's kind and its model (the same
model a domain's ``<devices>`` holds), :func:`device_name` how device events name the device
and :func:`describe_device` how messages name it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.xml import domain as dx
from virtkit.xml._model import ParseContext
from virtkit.xml.parser import parse_document, xml_error

__all__ = ["DEVICE_KINDS", "describe_device", "device_name", "parse_device"]

#: element name -> (the field of :class:`~virtkit.xml.domain.Devices` that holds such devices,
#: their model class); ``<memballoon>`` is left out: a domain has one, never attached
DEVICE_KINDS: dict[str, tuple[str, type[Any]]] = {
    "disk": ("disks", dx.Disk),
    "controller": ("controllers", dx.Controller),
    "filesystem": ("filesystems", dx.Filesystem),
    "interface": ("interfaces", dx.Interface),
    "serial": ("serials", dx.Chardev),
    "parallel": ("parallels", dx.Chardev),
    "console": ("consoles", dx.Chardev),
    "channel": ("channels", dx.Chardev),
    "input": ("inputs", dx.Input),
    "tpm": ("tpms", dx.Tpm),
    "graphics": ("graphics", dx.Graphics),
    "sound": ("sounds", dx.Sound),
    "video": ("videos", dx.Video),
    "hostdev": ("hostdevs", dx.Hostdev),
    "watchdog": ("watchdogs", dx.Watchdog),
    "rng": ("rngs", dx.Rng),
    "panic": ("panics", dx.Panic),
}


def parse_device(
    xml: str,
    kinds: Collection[str] | None = None,
    *,
    driver: str = "this",
    domain: ErrorDomain = ErrorDomain.DOMAIN,
) -> tuple[str, Any]:
    """A device document's element name and model.

    :param xml: one device element (``<disk type='file'>...</disk>``).
    :param kinds: the element names the caller handles (None: every one of
        :data:`DEVICE_KINDS`).
    :param driver: the driver's name, for the refusal of a kind outside ``kinds``.
    :param domain: the error domain of that refusal (the driver's own).
    :returns: ``(kind, model)``, e.g. ``("disk", Disk(...))``.
    :raises VirtError: XML_ERROR for a malformed document or an element that is no device
        (``unknown device type <blender>``); CONFIG_UNSUPPORTED for a device kind the caller
        does not handle, naming it and the kinds handled.
    """
    root = parse_document(xml, "device")
    kind = root.tag
    if not isinstance(kind, str) or kind not in DEVICE_KINDS:
        raise xml_error(f"device: unknown device type <{kind}>")
    if kinds is not None and kind not in kinds:
        raise VirtError(
            ErrorCode.CONFIG_UNSUPPORTED,
            f"unsupported configuration: the {driver} driver cannot attach <{kind}> devices "
            f"(it attaches {', '.join(f'<{k}>' for k in kinds)})",
            domain,
        )
    return kind, DEVICE_KINDS[kind][1].from_element(root, ParseContext("device"))


def device_name(kind: str, dev: Any) -> str:
    """How device events (device-added, device-removed) name a device, as libvirt does: its
    alias, else a disk's target, an interface's MAC, else its kind."""
    alias = getattr(dev, "alias", None)
    if alias is not None and getattr(alias, "name", None):
        return str(alias.name)
    if kind == "disk":
        return str(dev.target.dev)
    if kind == "interface" and dev.mac is not None:
        return str(dev.mac.address)
    return kind


def describe_device(kind: str, dev: Any) -> str:
    """How messages name a device: ``disk 'vdb'``, ``interface 52:54:00:...``, ``filesystem
    '/srv'``, else ``<kind> device``."""
    if kind == "disk":
        return f"disk '{dev.target.dev}'"
    if kind == "interface" and dev.mac is not None:
        return f"interface {dev.mac.address}"
    if kind == "filesystem" and getattr(dev, "target", None) is not None:
        return f"filesystem '{dev.target.dir}'"
    return f"<{kind}> device"
