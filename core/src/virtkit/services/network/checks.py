"""Checks of the values a network definition carries onto the host (dnsmasq's configuration,
nftables rules, netlink), beyond what the XML layer checks.

Every value ends up in a configuration line or a rule, so a control character (a newline
written as ``&#10;`` in the XML) could add a line of the author's choosing, such as a dnsmasq
``dhcp-script`` run as root. Every string of the definition is refused if it holds one; names
are held to the characters their place allows, addresses must parse.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.services.network.names import check_ifname
from virtkit.xml.network import Network

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DNS_NAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})$")
_SAFE_TEXT = re.compile(r'^[^,"\\]*$')


def _bad(net: Network, what: str, value: str, why: str) -> VirtError:
    return VirtError(
        ErrorCode.XML_ERROR,
        f"XML error: network '{net.name}': {what} {value!r} {why}",
        ErrorDomain.NETWORK,
    )


def _strings(value: Any, path: str) -> list[tuple[str, str]]:
    """Every string inside an attrs model, with where it is."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, (tuple, list)):
        out = []
        for i, v in enumerate(value):
            out += _strings(v, f"{path}[{i}]")
        return out
    if attrs.has(type(value)):
        out = []
        for field in attrs.fields(type(value)):
            out += _strings(getattr(value, field.name), f"{path}.{field.name}" if path
                            else field.name)
        return out
    return []


def check_network_values(net: Network) -> None:
    """Refuse control characters anywhere, and malformed names and addresses where they reach
    dnsmasq, nftables or netlink (XML_ERROR naming the network and the value)."""
    for where, text in _strings(net, ""):
        if where in ("description", "title") or where.startswith("metadata"):
            continue
        if _CONTROL.search(text):
            raise _bad(net, where, text, "holds a control character")
    if net.forward is not None:
        for dev in [net.forward.dev, *(i.dev for i in net.forward.interfaces)]:
            if dev:
                check_ifname(dev, f"network '{net.name}' forward device")
    names: list[tuple[str, str]] = []
    addrs: list[tuple[str, str]] = []
    if net.domain is not None:
        names.append(("domain", net.domain.name))
    dns = net.dns
    if dns is not None:
        for fw in dns.forwarders:
            if fw.domain:
                names.append(("forwarder domain", fw.domain))
            if fw.addr:
                addrs.append(("forwarder address", fw.addr))
        for host in dns.hosts:
            addrs.append(("DNS host address", host.ip))
            names += [("DNS host name", h) for h in host.hostnames]
        for txt in dns.txts:
            names.append(("TXT record name", txt.name))
            if not _SAFE_TEXT.match(txt.value):
                raise _bad(net, "TXT record value", txt.value, "cannot hold ',', '\"' or '\\'")
        for srv in dns.srvs:
            names += [(f"SRV {k}", v) for k, v in (("service", srv.service),
                                                   ("domain", srv.domain),
                                                   ("target", srv.target)) if v]
    for ip in net.ips:
        if ip.dhcp is not None:
            for h in ip.dhcp.hosts:
                if h.name:
                    names.append(("DHCP host name", h.name))
                if h.ip:
                    addrs.append(("DHCP host address", h.ip))
                if h.id and not _SAFE_TEXT.match(h.id):
                    raise _bad(net, "DHCP host id", h.id, "cannot hold ',', '\"' or '\\'")
            if ip.dhcp.bootp is not None:
                for what, text in (("bootp file", ip.dhcp.bootp.file),
                                   ("bootp server", ip.dhcp.bootp.server or "")):
                    if not _SAFE_TEXT.match(text):
                        raise _bad(net, what, text, "cannot hold ',', '\"' or '\\'")
        if ip.tftp is not None and not _SAFE_TEXT.match(ip.tftp.root):
            raise _bad(net, "TFTP root", ip.tftp.root, "cannot hold ',', '\"' or '\\'")
    for route in net.routes:
        addrs += [("route address", route.address), ("route gateway", route.gateway)]
    for what, name in names:
        if not _DNS_NAME.match(name):
            raise _bad(net, what, name, "is not a DNS name (letters, digits, '_.-')")
    for what, addr in addrs:
        try:
            ipaddress.ip_address(addr)
        except ValueError:
            raise _bad(net, what, addr, "is not an IP address") from None
