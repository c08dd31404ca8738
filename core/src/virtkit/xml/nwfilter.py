"""libvirt's network filter documents: ``<filter>`` (a named rule set) and ``<filterbinding>``
(a filter applied to one guest port).

A filter has a name, a uuid, a ``chain`` (``root``, ``ipv4``, ``arp``, ``mac``...), an optional
``priority``, references to other filters (``<filterref filter='clean-traffic'/>`` with
``<parameter>``s) and ``<rule>``s, kept verbatim in their order. :func:`parse_filter` and
:func:`parse_binding` read them through the hardened parser; ``to_xml`` writes them back.
"""

from __future__ import annotations

import re
import uuid as uuidlib

import attrs
from lxml import etree

from virtkit.xml.parser import parse_document, xml_error

__all__ = ["BindingDef", "FilterDef", "FilterRef", "parse_binding", "parse_filter"]

_CHAIN = re.compile(r"^(root|mac|stp|vlan|arp|rarp|ipv4|ipv6)(-[a-zA-Z0-9_.:-]{1,12})?$")
_NAME = re.compile(r"^[a-zA-Z0-9_.:-]+$")
_MAC = re.compile(r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$")
_ACTIONS = ("drop", "accept", "reject", "return", "continue")
_DIRECTIONS = ("in", "out", "inout")


_DQ = re.compile(r'="([^"\']*)"')


def _text(root: etree._Element) -> str:
    """The document as libvirt writes it: two-space indent, attributes in single quotes."""
    etree.indent(root, space="  ")
    return _DQ.sub(r"='\1'", etree.tostring(root, encoding="unicode")) + "\n"


@attrs.frozen
class FilterRef:
    """A reference to another filter, with its parameters (name -> values, in order)."""

    filter: str
    parameters: tuple[tuple[str, str], ...] = ()

    def element(self, parent: etree._Element) -> None:
        ref = etree.SubElement(parent, "filterref", filter=self.filter)
        for name, value in self.parameters:
            etree.SubElement(ref, "parameter", name=name, value=value)


def _filterref(el: etree._Element, what: str) -> FilterRef:
    name = el.get("filter", "")
    if not _NAME.match(name):
        raise xml_error(f"{what}: <filterref> needs a filter name, not '{name}'")
    params = []
    for p in el.iterfind("parameter"):
        pname, value = p.get("name", ""), p.get("value")
        if not _NAME.match(pname) or value is None:
            raise xml_error(f"{what}: a <parameter> of filter '{name}' needs a name and a value")
        params.append((pname, value))
    return FilterRef(name, tuple(params))


@attrs.frozen
class FilterDef:
    name: str
    uuid: str
    chain: str = "root"
    priority: int | None = None
    items: tuple[FilterRef | str, ...] = ()  # filter references and verbatim <rule>s, in order

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(i.filter for i in self.items if isinstance(i, FilterRef))

    def to_xml(self) -> str:
        root = etree.Element("filter", name=self.name, chain=self.chain)
        if self.priority is not None:
            root.set("priority", str(self.priority))
        etree.SubElement(root, "uuid").text = self.uuid
        for item in self.items:
            if isinstance(item, FilterRef):
                item.element(root)
            else:
                root.append(etree.fromstring(item))
        return _text(root)


def parse_filter(xml: str) -> FilterDef:
    """Parse a ``<filter>``; a missing uuid is generated. XML_ERROR names what is wrong."""
    root = parse_document(xml, "network filter")
    if root.tag != "filter":
        raise xml_error(f"network filter: expected <filter>, found <{root.tag}>")
    name = root.get("name", "")
    if not _NAME.match(name):
        raise xml_error(f"network filter: name '{name}' must be letters, digits, '_', '.', ':' "
                        f"or '-'")
    chain = root.get("chain", "root")
    if not _CHAIN.match(chain):
        raise xml_error(f"network filter '{name}': unknown chain '{chain}'")
    priority = None
    if root.get("priority") is not None:
        try:
            priority = int(root.get("priority", ""))
        except ValueError:
            priority = 1001
        if not -1000 <= priority <= 1000:
            raise xml_error(f"network filter '{name}': priority must be -1000..1000")
    text = (root.findtext("uuid") or "").strip()
    try:
        uuid = str(uuidlib.UUID(text)) if text else str(uuidlib.uuid4())
    except ValueError:
        raise xml_error(f"network filter '{name}': <uuid>: '{text}' is not a uuid") from None
    items: list[FilterRef | str] = []
    for el in root:
        if not isinstance(el.tag, str) or el.tag == "uuid":
            continue
        if el.tag == "filterref":
            items.append(_filterref(el, f"network filter '{name}'"))
        elif el.tag == "rule":
            if el.get("action") not in _ACTIONS or el.get("direction") not in _DIRECTIONS:
                raise xml_error(f"network filter '{name}': a <rule> needs action "
                                f"({'|'.join(_ACTIONS)}) and direction "
                                f"({'|'.join(_DIRECTIONS)})")
            el.tail = None
            for sub in el.iter():
                sub.text = sub.text.strip() or None if sub.text else None
                sub.tail = None
            items.append(etree.tostring(el, encoding="unicode"))
        else:
            raise xml_error(f"network filter '{name}': unknown element <{el.tag}>")
    if name in (i.filter for i in items if isinstance(i, FilterRef)):
        raise xml_error(f"network filter '{name}' cannot reference itself")
    return FilterDef(name, uuid, chain, priority, tuple(items))


@attrs.frozen
class BindingDef:
    """A filter bound to a guest's port: the owning domain, the port device, its MAC and the
    filter with its parameters."""

    owner_name: str
    owner_uuid: str
    port_dev: str
    mac: str
    filter: FilterRef

    def to_xml(self) -> str:
        root = etree.Element("filterbinding")
        owner = etree.SubElement(root, "owner")
        etree.SubElement(owner, "name").text = self.owner_name
        etree.SubElement(owner, "uuid").text = self.owner_uuid
        etree.SubElement(root, "portdev", name=self.port_dev)
        etree.SubElement(root, "mac", address=self.mac)
        self.filter.element(root)
        return _text(root)


def parse_binding(xml: str) -> BindingDef:
    """Parse a ``<filterbinding>``. XML_ERROR names what is wrong."""
    root = parse_document(xml, "network filter binding")
    if root.tag != "filterbinding":
        raise xml_error(f"network filter binding: expected <filterbinding>, found <{root.tag}>")
    owner = root.find("owner")
    name = (owner.findtext("name") or "").strip() if owner is not None else ""
    text = (owner.findtext("uuid") or "").strip() if owner is not None else ""
    if not name or not text:
        raise xml_error("network filter binding: <owner> needs <name> and <uuid>")
    try:
        uuid = str(uuidlib.UUID(text))
    except ValueError:
        raise xml_error(f"network filter binding: owner <uuid> '{text}' is not a uuid") from None
    port = root.find("portdev")
    dev = port.get("name", "") if port is not None else ""
    if not dev or "/" in dev:
        raise xml_error("network filter binding: <portdev name='...'/> is required")
    mac_el = root.find("mac")
    mac = mac_el.get("address", "") if mac_el is not None else ""
    if not _MAC.match(mac):
        raise xml_error(f"network filter binding: <mac address='{mac}'/> is not a MAC address")
    ref = root.find("filterref")
    if ref is None:
        raise xml_error("network filter binding: <filterref filter='...'/> is required")
    return BindingDef(name, uuid, dev, mac.lower(), _filterref(ref, "network filter binding"))
