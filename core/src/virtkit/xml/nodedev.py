"""libvirt's ``<device>`` document for host devices: what ``nodedev-create``/``-define`` accept.

:func:`parse_device` reads a request for a mediated device (mdev) or an NPIV virtual HBA (vHBA)
through the one hardened parser; :func:`device_xml` writes a device's document from its parts.
Shared by every provider of the node-device hooks.
"""

from __future__ import annotations

import re
import uuid as uuidlib

import attrs
from lxml import etree

from virtkit.xml.parser import parse_document, xml_error

__all__ = ["DeviceRequest", "device_xml", "parse_device"]

_WWN = re.compile(r"^(0x)?[0-9a-fA-F]{16}$")


@attrs.frozen
class DeviceRequest:
    """A ``<device>`` to create or define: ``kind`` is ``mdev`` or ``vhba``; ``parent`` the
    parent's name ("" when not given); an mdev's ``mdev_type`` and ``uuid`` (generated when
    absent); a vHBA's ``wwnn`` and ``wwpn`` (lower-case hex, "" when absent)."""

    kind: str
    parent: str = ""
    name: str = ""
    mdev_type: str = ""
    uuid: str = ""
    wwnn: str = ""
    wwpn: str = ""


def _wwn(text: str | None, what: str) -> str:
    if text is None or not text.strip():
        return ""
    value = text.strip()
    if not _WWN.match(value):
        raise xml_error(f"device: <{what}>: '{value}' is not a 16-digit hex world wide name")
    return value.lower().removeprefix("0x")


def parse_device(xml: str) -> DeviceRequest:
    """Parse a ``<device>`` request; XML_ERROR names what is wrong."""
    root = parse_document(xml, "device")
    if root.tag != "device":
        raise xml_error(f"device: expected <device>, found <{root.tag}>")
    parent = (root.findtext("parent") or "").strip()
    name = (root.findtext("name") or "").strip()
    caps = root.findall("capability")
    if len(caps) != 1:
        raise xml_error("device: exactly one <capability> is required")
    cap = caps[0]
    ctype = cap.get("type")
    if ctype == "mdev":
        type_el = cap.find("type")
        mdev_type = (type_el.get("id") or "").strip() if type_el is not None else ""
        if not mdev_type:
            raise xml_error("device: <capability type='mdev'> needs <type id='...'/>")
        text = (cap.findtext("uuid") or root.findtext("uuid") or "").strip()
        try:
            uuid = str(uuidlib.UUID(text)) if text else str(uuidlib.uuid4())
        except ValueError:
            raise xml_error(f"device: <uuid>: '{text}' is not a uuid") from None
        return DeviceRequest("mdev", parent, name, mdev_type=mdev_type, uuid=uuid)
    if ctype == "scsi_host":
        fc = cap.find("capability[@type='fc_host']")
        if fc is None:
            raise xml_error("device: a vHBA's <capability type='scsi_host'> needs "
                            "<capability type='fc_host'>")
        wwnn = _wwn(fc.findtext("wwnn"), "wwnn")
        wwpn = _wwn(fc.findtext("wwpn"), "wwpn")
        if bool(wwnn) != bool(wwpn):
            raise xml_error("device: give both <wwnn> and <wwpn>, or neither")
        return DeviceRequest("vhba", parent, name, wwnn=wwnn, wwpn=wwpn)
    raise xml_error(f"device: cannot create a device of capability type '{ctype}' "
                    f"(only mdev and an NPIV scsi_host)")


def device_xml(name: str, parent: str, caps: list[etree._Element], *, path: str = "",
               driver: str = "") -> str:
    """A ``<device>`` document from its parts (each of ``caps`` a ``<capability>`` element)."""
    root = etree.Element("device")
    etree.SubElement(root, "name").text = name
    if path:
        etree.SubElement(root, "path").text = path
    if parent:
        etree.SubElement(root, "parent").text = parent
    if driver:
        etree.SubElement(etree.SubElement(root, "driver"), "name").text = driver
    for cap in caps:
        root.append(cap)
    etree.indent(root, space="  ")
    return etree.tostring(root, encoding="unicode") + "\n"
