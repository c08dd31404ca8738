"""Checks of the names the network service puts on the host: interfaces, bridges, tables."""

from __future__ import annotations

import re

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError

#: Linux's IFNAMSIZ is 16 bytes with the terminating NUL.
IFNAME_MAX = 15
_IFNAME = re.compile(r"^[A-Za-z0-9_.:-]+$")
_NETNAME = re.compile(r'^[^/\x00-\x1f\x7f"\\]{1,200}$')


def check_ifname(name: str, what: str = "interface") -> str:
    """``name`` if Linux accepts it as an interface name, else INVALID_ARG saying why."""
    if not isinstance(name, str) or not name:
        raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: {what} name must not be empty")
    if len(name.encode()) > IFNAME_MAX:
        raise VirtError(
            ErrorCode.INVALID_ARG,
            f"invalid argument: {what} name '{name}' is longer than {IFNAME_MAX} characters",
        )
    if name in (".", "..") or not _IFNAME.match(name):
        raise VirtError(
            ErrorCode.INVALID_ARG,
            f"invalid argument: {what} name '{name}' may only hold letters, digits and '_.:-'",
        )
    return name


def check_network_name(name: str) -> str:
    """A network name that is safe as a file name and inside dnsmasq's configuration (no '/',
    no quote or backslash, no control characters)."""
    if not _NETNAME.match(name) or name in (".", ".."):
        raise VirtError(
            ErrorCode.XML_ERROR,
            f"XML error: network name {name!r} must be 1-200 characters without '/', '\"', "
            f"'\\' or control characters",
            ErrorDomain.NETWORK,
        )
    return name


def nft_table(bridge: str) -> str:
    """The nftables table (family inet) virtkit makes for the network on ``bridge``."""
    return "virtkit_" + re.sub(r"[^A-Za-z0-9_]", "_", bridge)
