"""libvirt's ``<secret>`` definition: uuid, description, usage, ``ephemeral`` and ``private``.

It never holds the value. :func:`parse_secret` reads one through the hardened parser;
:meth:`SecretDef.to_xml` writes it back. Shared by every provider of the secret hooks.
"""

from __future__ import annotations

import uuid as uuidlib

import attrs
from lxml import etree

from virtkit.xml.parser import parse_document, xml_error

__all__ = ["USAGE_ELEMENT", "SecretDef", "parse_secret"]

#: each usage type and the element naming what it is used for
USAGE_ELEMENT: dict[str, str] = {
    "volume": "volume", "ceph": "name", "iscsi": "target", "tls": "name", "vtpm": "name",
}


def _yes(root: etree._Element, attr: str) -> bool:
    value = root.get(attr, "no")
    if value not in ("yes", "no"):
        raise xml_error(f"secret: {attr}='{value}' must be 'yes' or 'no'")
    return value == "yes"


@attrs.frozen
class SecretDef:
    uuid: str
    usage_type: str = "none"
    usage_id: str = ""
    description: str = ""
    ephemeral: bool = False
    private: bool = False

    def to_xml(self) -> str:
        root = etree.Element("secret", ephemeral="yes" if self.ephemeral else "no",
                             private="yes" if self.private else "no")
        etree.SubElement(root, "uuid").text = self.uuid
        if self.description:
            etree.SubElement(root, "description").text = self.description
        if self.usage_type != "none":
            usage = etree.SubElement(root, "usage", type=self.usage_type)
            etree.SubElement(usage, USAGE_ELEMENT[self.usage_type]).text = self.usage_id
        etree.indent(root, space="  ")
        return etree.tostring(root, encoding="unicode") + "\n"


def parse_secret(xml: str) -> SecretDef:
    """Parse a ``<secret>``; a missing uuid is generated. XML_ERROR names what is wrong."""
    root = parse_document(xml, "secret")
    if root.tag != "secret":
        raise xml_error(f"secret: expected <secret>, found <{root.tag}>")
    if root.find("value") is not None:
        raise xml_error("secret: a value never goes in the definition (set it apart)")
    text = (root.findtext("uuid") or "").strip()
    try:
        uuid = str(uuidlib.UUID(text)) if text else str(uuidlib.uuid4())
    except ValueError:
        raise xml_error(f"secret: <uuid>: '{text}' is not a uuid") from None
    usage_type, usage_id = "none", ""
    usage = root.find("usage")
    if usage is not None:
        usage_type = usage.get("type", "")
        if usage_type not in USAGE_ELEMENT:
            raise xml_error(f"secret: unknown usage type '{usage_type}' "
                            f"(volume, ceph, iscsi, tls or vtpm)")
        usage_id = (usage.findtext(USAGE_ELEMENT[usage_type]) or "").strip()
        if not usage_id:
            raise xml_error(f"secret: <usage type='{usage_type}'> needs "
                            f"<{USAGE_ELEMENT[usage_type]}>")
    return SecretDef(uuid, usage_type, usage_id, (root.findtext("description") or "").strip(),
                     _yes(root, "ephemeral"), _yes(root, "private"))
