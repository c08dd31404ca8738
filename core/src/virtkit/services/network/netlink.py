"""Links, addresses and routes through netlink (pyroute2), in the caller's network namespace.

pyroute2 is imported on first use only, so a connection that never starts a network or lists
host interfaces does not pay for it. Netlink errors become VirtError OPERATION_FAILED naming the
interface and what was attempted.
"""

from __future__ import annotations

import errno
import ipaddress
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError

_local = threading.local()


@attrs.frozen
class Link:
    """One host link as netlink reports it."""

    index: int
    name: str
    mac: str
    up: bool
    kind: str
    mtu: int
    master: int | None
    addresses: tuple[tuple[str, int], ...] = ()
    vlan_id: int | None = None
    vlan_link: int | None = None


def _ipr() -> Any:
    ipr = getattr(_local, "ipr", None)
    if ipr is None:
        from pyroute2 import IPRoute  # type: ignore[import-not-found,import-untyped,unused-ignore]

        ipr = IPRoute()
        _local.ipr = ipr
    return ipr


def close() -> None:
    """Close this thread's netlink socket (a new one opens on next use)."""
    ipr = getattr(_local, "ipr", None)
    if ipr is not None:
        _local.ipr = None
        ipr.close()


def failed(what: str, exc: BaseException, domain: ErrorDomain = ErrorDomain.NETWORK) -> VirtError:
    code = getattr(exc, "code", None)
    reason = errno.errorcode.get(code, "") if isinstance(code, int) else ""
    detail = f"{reason}: {exc}" if reason else str(exc)
    if code == errno.EPERM:
        detail += " (managing host links needs CAP_NET_ADMIN)"
    return VirtError(ErrorCode.OPERATION_FAILED, f"{what}: {detail}", domain)


@contextmanager
def netlink(what: str, domain: ErrorDomain = ErrorDomain.NETWORK) -> Iterator[Any]:
    """The thread's IPRoute; any netlink error inside becomes OPERATION_FAILED about ``what``."""
    from pyroute2.netlink.exceptions import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
        NetlinkError,
    )

    ipr = _ipr()
    try:
        yield ipr
    except NetlinkError as exc:
        raise failed(what, exc, domain) from None
    except OSError as exc:
        raise failed(what, exc, domain) from None


def index(name: str) -> int | None:
    """The index of link ``name``, or None when there is none."""
    with netlink(f"cannot look up interface '{name}'") as ipr:
        found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def _link(msg: Any, addrs: dict[int, list[tuple[str, int]]]) -> Link:
    info = msg.get("IFLA_LINKINFO")
    kind = ""
    vlan_id = None
    if info is not None:
        kind = info.get("IFLA_INFO_KIND") or ""
        data = info.get("IFLA_INFO_DATA")
        if kind == "vlan" and data is not None:
            vlan_id = data.get("IFLA_VLAN_ID")
    idx = msg["index"]
    return Link(
        index=idx,
        name=msg.get("IFLA_IFNAME") or "",
        mac=(msg.get("IFLA_ADDRESS") or "").lower(),
        up=bool(msg["flags"] & 1),
        kind=kind,
        mtu=msg.get("IFLA_MTU") or 0,
        master=msg.get("IFLA_MASTER"),
        addresses=tuple(addrs.get(idx, ())),
        vlan_id=vlan_id,
        vlan_link=msg.get("IFLA_LINK") if kind == "vlan" else None,
    )


def links(name: str | None = None) -> list[Link]:
    """Every link (or the one named ``name``) with its addresses."""
    with netlink("cannot list host interfaces", ErrorDomain.INTERFACE) as ipr:
        msgs = ipr.get_links(ifname=name) if name is not None else ipr.get_links()
        addrs: dict[int, list[tuple[str, int]]] = {}
        for a in ipr.get_addr():
            addrs.setdefault(a["index"], []).append((a.get("IFA_ADDRESS"), a["prefixlen"]))
    return [_link(m, addrs) for m in msgs]


def link(name: str) -> Link | None:
    try:
        found = links(name)
    except VirtError:
        return None
    return found[0] if found else None


def addresses_in(
    subnet: ipaddress.IPv4Network | ipaddress.IPv6Network,
) -> list[tuple[str, str]]:
    """(interface, address) of every host address inside ``subnet``."""
    out = []
    by_index = {ln.index: ln.name for ln in links()}
    with netlink("cannot list host addresses") as ipr:
        for a in ipr.get_addr(family=2 if subnet.version == 4 else 10):
            addr = a.get("IFA_ADDRESS")
            if addr and ipaddress.ip_address(addr) in subnet:
                out.append((by_index.get(a["index"], str(a["index"])), addr))
    return out


def routes_overlapping(
    subnet: ipaddress.IPv4Network | ipaddress.IPv6Network,
) -> list[tuple[str, str]]:
    """(interface, route) of every non-default host route that overlaps ``subnet``."""
    out = []
    by_index = {ln.index: ln.name for ln in links()}
    with netlink("cannot list host routes") as ipr:
        for r in ipr.get_routes(family=2 if subnet.version == 4 else 10, table=254):
            dst = r.get("RTA_DST")
            if dst is None or r["dst_len"] == 0:
                continue
            route = ipaddress.ip_network(f"{dst}/{r['dst_len']}", strict=False)
            if route.overlaps(subnet) and not route.is_link_local:
                out.append((by_index.get(r.get("RTA_OIF"), "?"), str(route)))
    return out


def add_bridge(name: str, stp: bool, delay: int, mtu: int | None, mac: str | None) -> int:
    """Create bridge ``name`` (down) and return its index."""
    what = f"cannot create bridge '{name}'"
    with netlink(what) as ipr:
        ipr.link("add", ifname=name, kind="bridge", br_stp_state=1 if stp else 0,
                 br_forward_delay=delay * 100)
        idx: int = ipr.link_lookup(ifname=name)[0]
        settings: dict[str, Any] = {}
        if mtu:
            settings["mtu"] = mtu
        if mac:
            settings["address"] = mac
        if settings:
            ipr.link("set", index=idx, **settings)
    return idx


def add_link(name: str, kind: str, domain: ErrorDomain, **settings: Any) -> int:
    """Create a link of ``kind`` (``bridge``, ``vlan``, ``bond``...) and return its index."""
    with netlink(f"cannot create {kind} interface '{name}'", domain) as ipr:
        ipr.link("add", ifname=name, kind=kind, **settings)
        idx: int = ipr.link_lookup(ifname=name)[0]
    return idx


def set_link(idx: int, what: str, domain: ErrorDomain = ErrorDomain.NETWORK, **kw: Any) -> None:
    with netlink(what, domain) as ipr:
        ipr.link("set", index=idx, **kw)


def add_address(idx: int, name: str, address: str, prefix: int,
                domain: ErrorDomain = ErrorDomain.NETWORK) -> None:
    with netlink(f"cannot add address {address}/{prefix} to '{name}'", domain) as ipr:
        ipr.addr("add", index=idx, address=address, prefixlen=prefix)


def delete_link(name: str, domain: ErrorDomain = ErrorDomain.NETWORK) -> None:
    """Delete link ``name``; absent is fine."""
    idx = index(name)
    if idx is None:
        return
    with netlink(f"cannot delete interface '{name}'", domain) as ipr:
        try:
            ipr.link("del", index=idx)
        except Exception as exc:
            if getattr(exc, "code", None) != errno.ENODEV:
                raise


def add_route(dst: str, gateway: str, metric: int | None) -> None:
    kw: dict[str, Any] = {"dst": dst, "gateway": gateway}
    if metric is not None:
        kw["priority"] = metric
    with netlink(f"cannot add route to {dst} via {gateway}") as ipr:
        ipr.route("add", **kw)


def delete_route(dst: str, gateway: str) -> None:
    """Delete the route to ``dst`` via ``gateway``; absent is fine."""
    from pyroute2.netlink.exceptions import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
        NetlinkError,
    )

    with netlink(f"cannot delete route to {dst} via {gateway}") as ipr:
        try:
            ipr.route("del", dst=dst, gateway=gateway)
        except NetlinkError as exc:
            if exc.code not in (errno.ESRCH, errno.ENOENT):
                raise
