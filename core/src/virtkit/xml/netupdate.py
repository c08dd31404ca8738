"""Network updates (virsh ``net-update``, libvirt's virNetworkUpdate) applied to a ``<network>``
document: one command on one section with one element.

Commands: ``add-first``, ``add-last`` (``add``), ``delete``, ``modify``. Sections and the
element each takes, and what identifies an existing one (for ``delete`` and ``modify``, and to
refuse a duplicate ``add``):

========================  =====================================  ==========================
section                   element (parent)                       matched by
========================  =====================================  ==========================
``ip-dhcp-host``          ``<host>`` (``ip[N]/dhcp``)            mac, else name, else ip
``ip-dhcp-range``         ``<range>`` (``ip[N]/dhcp``)           start and end
``dns-host``              ``<host ip=...>`` (``dns``)            ip
``dns-txt``               ``<txt>`` (``dns``)                    name
``dns-srv``               ``<srv>`` (``dns``)                    service, protocol, domain,
                                                                 target, port
``forward-interface``     ``<interface dev=...>`` (``forward``)  dev
``forward-pf``            ``<pf dev=...>`` (``forward``)         dev
``portgroup``             ``<portgroup>`` (``network``)          name
``bridge``, ``domain``,   the element itself (``network``)       modify only
``forward``
========================  =====================================  ==========================

``N`` is the ``parent_index`` (the N-th ``<ip>``, from 0; -1: the first that has the element's
address family for ``ip-dhcp-*``). :func:`apply_update` returns the new document text; the
caller parses it with its model, so everything is checked again. ``ip`` itself cannot be
updated, as in libvirt.
"""

from __future__ import annotations

import ipaddress

from lxml import etree

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.xml.parser import parse_document, xml_error

__all__ = ["COMMANDS", "SECTIONS", "apply_update"]

#: libvirt's virNetworkUpdateCommand numbers -> virtkit's names
COMMANDS: dict[int, str] = {1: "modify", 2: "delete", 3: "add-last", 4: "add-first"}
#: libvirt's virNetworkUpdateSection numbers -> virsh's names
SECTIONS: dict[int, str] = {
    1: "bridge", 2: "domain", 3: "ip", 4: "ip-dhcp-host", 5: "ip-dhcp-range", 6: "forward",
    7: "forward-interface", 8: "forward-pf", 9: "portgroup", 10: "dns-host", 11: "dns-txt",
    12: "dns-srv",
}
_TAG = {
    "ip-dhcp-host": "host", "ip-dhcp-range": "range", "dns-host": "host", "dns-txt": "txt",
    "dns-srv": "srv", "forward-interface": "interface", "forward-pf": "pf",
    "portgroup": "portgroup", "bridge": "bridge", "domain": "domain", "forward": "forward",
}
_WHOLE = ("bridge", "domain", "forward")


def _unsupported(message: str) -> VirtError:
    return VirtError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: {message}",
                     ErrorDomain.NETWORK)


def _invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, f"Requested operation is not valid: {message}",
                     ErrorDomain.NETWORK)


def _family(address: str | None) -> int | None:
    try:
        return ipaddress.ip_address(address or "").version
    except ValueError:
        return None


def _keys(section: str, el: etree._Element) -> list[tuple[str, ...]]:
    """What identifies ``el`` in its section, most specific first."""
    g = el.get
    if section == "ip-dhcp-host":
        found: list[tuple[str, ...]] = [(k, v) for k in ("mac", "id", "name", "ip")
                                        if (v := g(k))]
        return found[:1] or [("",)]
    if section == "ip-dhcp-range":
        return [(g("start") or "", g("end") or "")]
    if section == "dns-host":
        return [(g("ip") or "",)]
    if section == "dns-txt":
        return [(g("name") or "",)]
    if section == "dns-srv":
        return [tuple(g(k) or "" for k in ("service", "protocol", "domain", "target", "port"))]
    if section in ("forward-interface", "forward-pf"):
        return [(g("dev") or "",)]
    return [(g("name") or "",)]  # portgroup


def _same(section: str, a: etree._Element, b: etree._Element) -> bool:
    if section == "ip-dhcp-host":
        key = _keys(section, b)[0]
        return len(key) == 2 and a.get(key[0]) == key[1]
    return _keys(section, a) == _keys(section, b)


def _parent(root: etree._Element, section: str, parent_index: int,
            el: etree._Element, create: bool) -> etree._Element:
    if section in ("ip-dhcp-host", "ip-dhcp-range"):
        ips = root.findall("ip")
        if parent_index >= 0:
            if parent_index >= len(ips):
                raise _invalid(f"the network has no <ip> element at index {parent_index}")
            ip = ips[parent_index]
        else:
            want = _family(el.get("ip") or el.get("start"))
            if want is None and el.get("mac") is not None:
                want = 4
            found = [i for i in ips if _family(i.get("address")) == (want or 4)]
            if not found:
                raise _invalid("the network has no <ip> element of the address's family")
            ip = found[0]
        dhcp = ip.find("dhcp")
        if dhcp is None:
            if not create:
                raise _invalid("the network's <ip> element has no <dhcp>")
            dhcp = etree.SubElement(ip, "dhcp")
        return dhcp
    if section.startswith("dns-"):
        found_dns = root.find("dns")
        if found_dns is not None:
            return found_dns
        if not create:
            raise _invalid("the network has no <dns> element")
        dns = etree.Element("dns")
        first_ip = root.find("ip")
        if first_ip is not None:
            first_ip.addprevious(dns)
        else:
            root.append(dns)
        return dns
    if section in ("forward-interface", "forward-pf"):
        fwd = root.find("forward")
        if fwd is None:
            raise _invalid("the network has no <forward> element")
        return fwd
    return root


def apply_update(xml: str, command: str, section: str, parent_index: int, element: str) -> str:
    """``xml`` (a ``<network>``) with the update applied; OPERATION_INVALID when a ``delete`` or
    ``modify`` finds no such element or an ``add`` finds one already, CONFIG_UNSUPPORTED for a
    command the section cannot take, XML_ERROR for a malformed or wrong element."""
    if section not in _TAG:
        if section == "ip":
            raise _unsupported("the 'ip' section of a network cannot be updated")
        raise VirtError(ErrorCode.INVALID_ARG,
                        f"invalid argument: unknown network update section '{section}'",
                        ErrorDomain.NETWORK)
    if command not in ("add-first", "add-last", "delete", "modify"):
        raise VirtError(ErrorCode.INVALID_ARG,
                        f"invalid argument: unknown network update command '{command}'",
                        ErrorDomain.NETWORK)
    root = parse_document(xml, "network")
    el = parse_document(element, f"network update of section '{section}'")
    tag = _TAG[section]
    if el.tag != tag:
        raise xml_error(f"network update of section '{section}': expected <{tag}>, "
                        f"found <{el.tag}>")
    el.tail = None
    if section in _WHOLE:
        if command != "modify":
            raise _unsupported(f"the '{section}' section can only be modified")
        old = root.find(tag)
        if old is None:
            raise _invalid(f"the network has no <{tag}> element to modify")
        old.addnext(el)
        root.remove(old)
        return etree.tostring(root, encoding="unicode")
    parent = _parent(root, section, parent_index, el, command.startswith("add"))
    if section == "dns-host" and tag == "host" and el.find("hostname") is None \
            and command.startswith("add"):
        raise xml_error("network update of section 'dns-host': <host> needs a <hostname>")
    found = [c for c in parent.iterfind(tag) if _same(section, c, el)]
    if command.startswith("add"):
        if found:
            raise _invalid(f"there is already a <{tag}> matching {_keys(section, el)[0]} in "
                           f"the '{section}' section")
        if command == "add-first":
            first = parent.find(tag)
            if first is not None:
                first.addprevious(el)
            else:
                parent.append(el)
        else:
            last = parent.findall(tag)
            if last:
                last[-1].addnext(el)
            else:
                parent.append(el)
    else:
        if not found:
            raise _invalid(f"there is no <{tag}> matching {_keys(section, el)[0]} in the "
                           f"'{section}' section")
        if command == "delete":
            parent.remove(found[0])
        else:
            found[0].addnext(el)
            parent.remove(found[0])
    return etree.tostring(root, encoding="unicode")
