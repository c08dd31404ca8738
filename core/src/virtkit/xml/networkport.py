"""libvirt's ``<networkport>`` document: a guest interface's port on a virtual network.

:func:`parse_port` reads what a hypervisor driver sends (owner, MAC, optional uuid and portgroup);
:func:`port_xml` writes a port with the plug the network service chose. Shared by every provider
of the network-port hooks (the host network service, the test driver).
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from lxml import etree

from virtkit.xml.parser import parse_document, xml_error

__all__ = ["parse_port", "port_xml"]


def _mac(text: str) -> str:
    parts = text.strip().split(":")
    try:
        if len(parts) != 6 or any(not 1 <= len(p) <= 2 for p in parts):
            raise ValueError
        octets = [int(p, 16) for p in parts]
    except ValueError:
        raise xml_error(f"networkport: <mac>: '{text}' is not a MAC address") from None
    if octets[0] & 1:
        raise xml_error(f"networkport: <mac>: '{text}' is a multicast address")
    return ":".join(f"{o:02x}" for o in octets)


def parse_port(xml: str) -> dict[str, Any]:
    """The fields of a ``<networkport>`` document that a port keeps."""
    root = parse_document(xml, "networkport")
    if root.tag != "networkport":
        raise xml_error(f"networkport: expected <networkport>, found <{root.tag}>")
    uuid = root.findtext("uuid")
    if uuid:
        try:
            uuid = str(uuidlib.UUID(uuid.strip()))
        except ValueError:
            raise xml_error(f"networkport: <uuid>: '{uuid}' is not a uuid") from None
    owner = root.find("owner")
    if owner is None or not (owner.findtext("name") or "").strip():
        raise xml_error("networkport: <owner><name> is required")
    owner_uuid = (owner.findtext("uuid") or "").strip()
    if owner_uuid:
        try:
            owner_uuid = str(uuidlib.UUID(owner_uuid))
        except ValueError:
            raise xml_error(f"networkport: <owner><uuid>: '{owner_uuid}' is not a uuid") \
                from None
    mac = root.find("mac")
    if mac is None or not mac.get("address"):
        raise xml_error("networkport: <mac address='...'/> is required")
    bandwidth: dict[str, int] = {}
    for direction in ("inbound", "outbound"):
        el = root.find(f"bandwidth/{direction}")
        for key in ("average", "peak", "burst", "floor") if el is not None else ():
            text = el.get(key) if el is not None else None
            if text is not None:
                if not text.isdigit():
                    raise xml_error(f"networkport: <{direction} {key}='{text}'> is not a number")
                bandwidth[f"{direction}.{key}"] = int(text)
    return {
        "bandwidth": bandwidth,
        "uuid": uuid or str(uuidlib.uuid4()),
        "owner_name": (owner.findtext("name") or "").strip(),
        "owner_uuid": owner_uuid,
        "mac": _mac(mac.get("address", "")),
        "group": (root.findtext("group") or "").strip(),
    }


def port_xml(port: dict[str, Any]) -> str:
    root = etree.Element("networkport")
    etree.SubElement(root, "uuid").text = port["uuid"]
    owner = etree.SubElement(root, "owner")
    etree.SubElement(owner, "name").text = port["owner_name"]
    if port["owner_uuid"]:
        etree.SubElement(owner, "uuid").text = port["owner_uuid"]
    if port["portgroup"]:
        etree.SubElement(root, "group").text = port["portgroup"]
    etree.SubElement(root, "mac", address=port["mac"])
    limits = {k: v for k, v in port.get("bandwidth", {}).items() if v}
    if limits:
        bw = etree.SubElement(root, "bandwidth")
        for direction in ("inbound", "outbound"):
            attrs = {k.split(".")[1]: str(v) for k, v in limits.items()
                     if k.startswith(direction + ".")}
            if attrs:
                etree.SubElement(bw, direction, attrs)
    if port["vlan_tags"]:
        vlan = etree.SubElement(root, "vlan")
        if port["vlan_trunk"]:
            vlan.set("trunk", "yes")
        for tag in port["vlan_tags"]:
            el = etree.SubElement(vlan, "tag", id=str(tag))
            if tag == port["vlan_native"]:
                el.set("nativeMode", "untagged")
    plug = etree.SubElement(root, "plug", type=port["plug_type"])
    if port["bridge"]:
        plug.set("bridge", port["bridge"])
    plug.set("macTableManager", port["mac_table_manager"])
    return etree.tostring(root, pretty_print=True, encoding="unicode")
