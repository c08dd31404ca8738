"""The test driver's reading of domain XML: identity, memory and vcpus, and the uuid filled in.

Everything is parsed with the one hardened parser (:func:`virtkit.xml.parser.parse_document`).
"""

from __future__ import annotations

import uuid as uuidlib

import attrs
from lxml import etree

from ...xml.parser import parse_document, xml_error
from ...xml.units import UnitError, to_kib


@attrs.frozen
class DomainDef:
    """What the test driver needs of a definition; ``xml`` is the document with uuid filled."""

    name: str
    uuid: str
    memory: int  # KiB, the maximum (<memory>)
    current_memory: int  # KiB (<currentMemory>, defaults to memory)
    vcpus: int
    max_vcpus: int
    xml: str


def _memory(root: etree._Element, tag: str) -> int | None:
    el = root.find(tag)
    if el is None:
        return None
    try:
        return to_kib(el.text, el.get("unit"))
    except UnitError as exc:
        raise xml_error(f"domain <{tag}>: {exc}") from None


def parse_domain(text: str) -> DomainDef:
    """Read a ``<domain>`` document; XML_ERROR names the element and the problem."""
    root = parse_document(text, "domain")
    if root.tag != "domain":
        raise xml_error(f"expected a <domain> document, got <{root.tag}>")
    if not root.get("type"):
        raise xml_error("domain: missing the 'type' attribute of <domain>")
    name = (root.findtext("name") or "").strip()
    if not name:
        raise xml_error("domain: missing <name>")
    if "/" in name or len(name) > 255:
        raise xml_error(f"domain <name>: invalid domain name '{name}'")
    uuid_el = root.find("uuid")
    if uuid_el is None:
        name_el = root.find("name")
        uuid_el = etree.Element("uuid")
        root.insert(0 if name_el is None else root.index(name_el) + 1, uuid_el)
        uuid_el.text = str(uuidlib.uuid4())
        uuid_el.tail = None if name_el is None else name_el.tail
    try:
        uuid = str(uuidlib.UUID((uuid_el.text or "").strip()))
    except ValueError:
        raise xml_error(f"domain <uuid>: malformed uuid '{uuid_el.text}'") from None
    uuid_el.text = uuid
    memory = _memory(root, "memory")
    if memory is None:
        raise xml_error("domain: missing <memory>")
    if memory < 1:
        raise xml_error("domain <memory>: memory size must be greater than zero")
    current = _memory(root, "currentMemory")
    if current is None:
        current = memory
    elif current > memory:
        current = memory  # libvirt clamps currentMemory to memory
    vcpu_el = root.find("vcpu")
    max_vcpus = vcpus = 1
    if vcpu_el is not None:
        try:
            max_vcpus = int((vcpu_el.text or "").strip())
            vcpus = int(vcpu_el.get("current", max_vcpus))
        except ValueError:
            raise xml_error(f"domain <vcpu>: invalid vcpu count '{vcpu_el.text}'") from None
        if max_vcpus < 1 or not 1 <= vcpus <= max_vcpus:
            raise xml_error(f"domain <vcpu>: invalid vcpu count {vcpus} of {max_vcpus}")
    if "id" in root.attrib:
        del root.attrib["id"]
    xml = etree.tostring(root, encoding="unicode")
    return DomainDef(name, uuid, memory, current, vcpus, max_vcpus, xml)


def with_id(xml: str, dom_id: int) -> str:
    """The document with ``<domain id='N'>`` while active."""
    if dom_id < 0:
        return xml
    head, sep, rest = xml.partition("<domain")
    return f"{head}{sep} id='{dom_id}'{rest}" if sep else xml
