"""Virtual networks on the host: definition, start and stop, leases, autostart and recovery.

Forward modes ``nat``, ``route``, ``open`` and isolated (no ``<forward>``) get a Linux bridge of
their own (``virbrN`` unless named), its addresses, an nftables table of virtkit's own (none for
``open``) and a dnsmasq for DHCP and DNS; ``bridge`` names an existing host bridge and makes
nothing. Start is all or nothing: every step is recorded, and a failure undoes the recorded steps
in reverse. Stop undoes exactly the recorded steps. The status is on disk before the first step,
so a process killed mid-way leaves what the next process needs to finish or undo the work.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError, no_network
from virtkit.sdk.hookspecs.markers import hookimpl
from virtkit.sdk.records import DhcpLease, Event, NetworkRef, NetworkSummary
from virtkit.sdk.states import NetworkEventLifecycle
from virtkit.services.network import dnsmasq, firewall, netlink
from virtkit.services.network.checks import check_network_values
from virtkit.services.network.names import check_ifname, check_network_name, nft_table
from virtkit.services.network.state import Files, Status
from virtkit.xml.network import Bridge, Network

if TYPE_CHECKING:
    from virtkit.sdk.driver import DriverContext

log = logging.getLogger("virtkit.services.network")

#: Forward modes whose network gets a bridge of its own.
OWN_BRIDGE = ("nat", "route", "open", "isolated")
SUPPORTED = (*OWN_BRIDGE, "bridge")

Subnet = ipaddress.IPv4Network | ipaddress.IPv6Network

# The service's hookimpls run after a driver's own: a driver that implements a hook wins.
impl = hookimpl(trylast=True)


def invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, message, ErrorDomain.NETWORK)


def failed(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_FAILED, message, ErrorDomain.NETWORK)


def subnets(net: Network) -> list[Subnet]:
    out: list[Subnet] = []
    for ip in net.ips:
        prefix = ip.prefix
        if prefix is None:
            prefix = (
                ipaddress.ip_network(f"0.0.0.0/{ip.netmask}").prefixlen
                if ip.netmask else (64 if ":" in ip.address else 24)
            )
        out.append(ipaddress.ip_network(f"{ip.address}/{prefix}", strict=False))
    return out


def bridge_of(net: Network) -> str:
    return net.bridge.name or "" if net.bridge is not None else ""


class NetworkMixin:
    """Network hooks of :class:`~virtkit.services.network.HostNetwork`."""

    files: Files
    context: DriverContext

    # -- helpers -------------------------------------------------------------------------------

    def _event(self, ref: NetworkRef, event: NetworkEventLifecycle) -> None:
        self.context.emit(Event("network-lifecycle", ref, int(event), 0))

    def _parse(self, xml: str) -> Network:
        net = Network.from_xml(xml).with_defaults()
        check_network_name(net.name)
        check_network_values(net)
        mode = net.forward_mode
        if mode not in SUPPORTED:
            raise VirtError(
                ErrorCode.CONFIG_UNSUPPORTED,
                f"unsupported configuration: network '{net.name}': forward mode '{mode}' is not "
                f"supported by the host network service (supported: {', '.join(SUPPORTED)})",
                ErrorDomain.NETWORK,
            )
        if mode == "bridge" and not bridge_of(net):
            raise VirtError(
                ErrorCode.CONFIG_UNSUPPORTED,
                f"unsupported configuration: network '{net.name}': forward mode 'bridge' needs "
                f"<bridge name='...'/> (direct macvtap connections are not supported)",
                ErrorDomain.NETWORK,
            )
        if bridge_of(net):
            check_ifname(bridge_of(net), f"network '{net.name}' bridge")
        return net

    def _current(self, name: str) -> tuple[Network | None, Status | None]:
        return self.files.definition(name), self.files.status_of(name)

    def _find(self, ref: NetworkRef) -> tuple[Network | None, Status | None]:
        """The definition and status ``ref`` names; NO_NETWORK when neither exists."""
        try:
            defn, st = self._current(ref.name)
        except VirtError:
            raise no_network(ref.name) from None
        uuid = st.uuid if st is not None else defn.uuid if defn is not None else None
        if uuid is None or uuid != ref.uuid:
            raise no_network(ref.name)
        return defn, st

    def _all(self) -> list[tuple[str, Network | None, Status | None]]:
        return [(n, *self._current(n)) for n in self.files.names()]

    def _live(self, st: Status) -> Network:
        return Network.from_xml(st.xml)

    def _check_clashes(self, new: Network) -> tuple[Network | None, Status | None]:
        """Refuse a name/uuid clash, a bridge or a subnet another network claims."""
        same: tuple[Network | None, Status | None] = (None, None)
        mine_subnets = subnets(new)
        bridge = bridge_of(new)
        for name, defn, st in self._all():
            known = [x for x in (defn, self._live(st) if st is not None else None) if x]
            uuid = known[0].uuid if known else None
            if name == new.name:
                if uuid != new.uuid:
                    raise failed(f"network '{name}' already exists with uuid {uuid}")
                same = (defn, st)
                continue
            if uuid == new.uuid:
                raise failed(f"network '{name}' is already defined with uuid {new.uuid}")
            for other in known:
                if bridge and bridge_of(other) == bridge:
                    raise failed(
                        f"network '{new.name}' cannot use bridge '{bridge}': network '{name}' "
                        f"already uses it"
                    )
                if new.forward_mode == "bridge" or other.forward_mode == "bridge":
                    continue
                for mine in mine_subnets:
                    for theirs in subnets(other):
                        if mine.version == theirs.version and mine.overlaps(theirs):
                            raise failed(
                                f"network '{new.name}' subnet {mine} overlaps subnet {theirs} "
                                f"of network '{name}'"
                            )
        return same

    def _with_bridge(self, new: Network, keep: Network | None) -> Network:
        """Give a network that owns a bridge and names none a free ``virbrN``."""
        if new.forward_mode not in OWN_BRIDGE or bridge_of(new):
            return new
        if keep is not None and bridge_of(keep):
            name = bridge_of(keep)
        else:
            used = {bridge_of(d) for _, d, _ in self._all() if d is not None}
            used |= {st.bridge for _, _, st in self._all() if st is not None}
            host = {ln.name for ln in netlink.links()}
            n = 0
            while f"virbr{n}" in used or f"virbr{n}" in host:
                n += 1
            name = f"virbr{n}"
        bridge = attrs.evolve(new.bridge or Bridge(stp=True, delay=0), name=name)
        return attrs.evolve(new, bridge=bridge)

    # -- starting and stopping -----------------------------------------------------------------

    def _start(self, net: Network, persistent: bool) -> Status:
        """Make the network's host objects; all or nothing."""
        mode = net.forward_mode
        bridge = bridge_of(net)
        assert net.uuid is not None
        st = Status(net.name, net.uuid, net.to_xml(), persistent, bridge=bridge,
                    started_at=int(time.time()))
        self._preflight(net, mode, bridge)
        # On disk first: what this start may make, so that if the process dies half-way the
        # next one undoes it. In memory: what it did make, for undoing a failure here.
        plan = attrs.evolve(st, made_bridge=mode in OWN_BRIDGE,
                            table=nft_table(bridge) if mode not in ("open", "bridge") else "",
                            dnsmasq_pid=-1 if dnsmasq.needed(net) else 0)
        self.files.write_status(plan)
        try:
            self._make(net, mode, st)
        except BaseException as exc:
            try:
                self._teardown(st)
            except VirtError as undo:
                log.error("undoing the failed start of network '%s': %s", net.name, undo)
            self.files.delete_status(net.name)
            if isinstance(exc, VirtError):
                raise
            raise failed(f"cannot start network '{net.name}': {type(exc).__name__}: {exc}") \
                from exc
        st.state = "active"
        self.files.write_status(st)
        return st

    def _preflight(self, net: Network, mode: str, bridge: str) -> None:
        """Refuse to start over host objects virtkit did not make."""
        existing = netlink.link(bridge)
        if mode == "bridge":
            if existing is None:
                raise failed(f"network '{net.name}': host bridge '{bridge}' does not exist")
            if existing.kind != "bridge":
                raise failed(f"network '{net.name}': host interface '{bridge}' is not a bridge")
            return
        if existing is not None:
            raise failed(
                f"network '{net.name}': interface '{bridge}' already exists on the host and "
                f"was not made by this network"
            )
        for subnet in subnets(net):
            for iface, addr in netlink.addresses_in(subnet):
                raise failed(
                    f"network '{net.name}' subnet {subnet} is already in use by interface "
                    f"'{iface}' (address {addr})"
                )
            for iface, route in netlink.routes_overlapping(subnet):
                raise failed(
                    f"network '{net.name}' subnet {subnet} overlaps route {route} of interface "
                    f"'{iface}'"
                )

    def _make(self, net: Network, mode: str, st: Status) -> None:
        if mode == "bridge":
            return
        bridge = st.bridge
        stp = net.bridge.stp if net.bridge is not None and net.bridge.stp is not None else True
        delay = net.bridge.delay if net.bridge is not None and net.bridge.delay else 0
        mtu = net.mtu.size if net.mtu is not None else None
        mac = net.mac.address if net.mac is not None else None
        st.made_bridge = True
        idx = netlink.add_bridge(bridge, stp, delay, mtu, mac)
        for ip in net.ips:
            (subnet,) = subnets(attrs.evolve(net, ips=(ip,)))
            netlink.add_address(idx, bridge, ip.address, subnet.prefixlen)
            st.addresses.append([ip.address, subnet.prefixlen])
        netlink.set_link(idx, f"cannot bring bridge '{bridge}' up", state="up")
        for route in net.routes:
            prefix = route.prefix
            if prefix is None:
                prefix = (ipaddress.ip_network(f"0.0.0.0/{route.netmask}").prefixlen
                          if route.netmask else (64 if ":" in route.address else 24))
            dst = str(ipaddress.ip_network(f"{route.address}/{prefix}", strict=False))
            netlink.add_route(dst, route.gateway, route.metric)
            st.routes.append([dst, route.gateway])
        if mode in ("nat", "route"):
            self._forwarding(net)
        dev = net.forward.dev if net.forward is not None else None
        nat_ipv6 = bool(net.forward and net.forward.nat and net.forward.nat.ipv6)
        script = firewall.ruleset(nft_table(bridge), mode, bridge, subnets(net), dev, nat_ipv6)
        if script is not None:
            firewall.add(nft_table(bridge), script, net.name)
            st.table = nft_table(bridge)
        if dnsmasq.needed(net):
            files = dnsmasq.Files.under(self.files.dnsmasq_dir, net.name)
            st.dnsmasq_pid = -1  # starting: stop looks for the pid file
            st.dnsmasq_pid = dnsmasq.start(net.name, dnsmasq.config(net, bridge, files), files)

    def _forwarding(self, net: Network) -> None:
        """Turn on IP forwarding for the families the network routes (as libvirt does; it stays
        on after the network stops, since other users may rely on it)."""
        families = {s.version for s in subnets(net)} or {4}
        paths = {4: "/proc/sys/net/ipv4/ip_forward", 6: "/proc/sys/net/ipv6/conf/all/forwarding"}
        for fam in families:
            try:
                with open(paths[fam], "r+") as f:
                    if f.read().strip() != "1":
                        f.seek(0)
                        f.write("1\n")
            except OSError as exc:
                raise failed(f"network '{net.name}': cannot enable IPv{fam} forwarding: {exc}") \
                    from None

    def _teardown(self, st: Status) -> None:
        """Undo what ``st`` records, in reverse order of making; absent objects are fine."""
        errors: list[str] = []

        def step(fn: Callable[[], Any]) -> None:
            try:
                fn()
            except VirtError as exc:
                errors.append(exc.message)

        files = dnsmasq.Files.under(self.files.dnsmasq_dir, st.name)
        if st.dnsmasq_pid:
            pid = st.dnsmasq_pid if st.dnsmasq_pid > 0 else dnsmasq.read_pid(files)
            if pid:
                step(lambda: dnsmasq.stop(pid, files))
            else:
                for path in (files.conf, files.pid):
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
        if st.table:
            step(lambda: firewall.remove(st.table))
        for dst, gw in reversed(st.routes):
            step(lambda d=dst, g=gw: netlink.delete_route(d, g))  # type: ignore[misc]
        if st.made_bridge:
            step(lambda: netlink.delete_link(st.bridge))
        if errors:
            raise failed(f"stopping network '{st.name}' left work undone: " + "; ".join(errors))

    def _recover(self) -> None:
        """Find the networks a previous process started: finish or undo half-made starts,
        forget networks whose bridge vanished, restart a dnsmasq that died."""
        with self.files.config.locked():
            for name in self.files.status.names("networks"):
                st = self.files.status_of(name)
                if st is None:
                    continue
                try:
                    self._recover_one(st)
                except VirtError as exc:
                    log.error("recovering network '%s': %s", name, exc.message)

    def _recover_one(self, st: Status) -> None:
        if st.state != "active" or (st.made_bridge and netlink.index(st.bridge) is None):
            log.warning("network '%s' was not fully running; undoing what it left", st.name)
            self._teardown(st)
            self.files.delete_status(st.name)
            return
        net = self._live(st)
        if st.table and not firewall.table_exists(st.table):
            script = firewall.ruleset(
                st.table, net.forward_mode, st.bridge, subnets(net),
                net.forward.dev if net.forward is not None else None,
                bool(net.forward and net.forward.nat and net.forward.nat.ipv6),
            )
            if script is not None:
                firewall.add(st.table, script, net.name)
        files = dnsmasq.Files.under(self.files.dnsmasq_dir, st.name)
        if st.dnsmasq_pid and not dnsmasq.alive(st.dnsmasq_pid, files):
            st.dnsmasq_pid = dnsmasq.start(st.name, dnsmasq.config(net, st.bridge, files), files)
            self.files.write_status(st)

    def _forget_leases(self, name: str) -> None:
        """Remove the lease file of a network that is gone (kept across restarts otherwise, so
        that guests keep their addresses)."""
        with contextlib.suppress(FileNotFoundError):
            dnsmasq.Files.under(self.files.dnsmasq_dir, name).leases.unlink()

    # -- listing and lookup --------------------------------------------------------------------

    @impl
    def virtkit_network_list(self) -> list[NetworkSummary]:
        listing = self.files.listing()
        last = getattr(self, "_last_listing", None)
        if last is not None and last[0] is listing:
            return list(last[1])
        out = []
        for name, defn, st, auto in listing:
            uuid = st.uuid if st is not None else defn.uuid if defn is not None else ""
            bridge = st.bridge if st is not None else bridge_of(defn) if defn is not None else ""
            out.append(NetworkSummary(NetworkRef(name, uuid or ""), st is not None,
                                      defn is not None, defn is not None and auto, bridge))
        self._last_listing = (listing, out)
        return list(out)

    @impl
    def virtkit_network_get_summary(self, net: NetworkRef) -> NetworkSummary:
        defn, st = self._find(net)
        bridge = st.bridge if st is not None else bridge_of(defn) if defn is not None else ""
        persistent = defn is not None
        return NetworkSummary(net, st is not None, persistent,
                              persistent and self.files.autostart(net.name), bridge)

    @impl
    def virtkit_network_lookup_by_name(self, name: str) -> NetworkRef:
        try:
            defn, st = self._current(name)
        except VirtError:
            raise no_network(name) from None
        if st is not None:
            return NetworkRef(name, st.uuid)
        if defn is not None and defn.uuid is not None:
            return NetworkRef(name, defn.uuid)
        raise no_network(name)

    @impl
    def virtkit_network_lookup_by_uuid(self, uuid: str) -> NetworkRef:
        for name, defn, st in self._all():
            found = st.uuid if st is not None else defn.uuid if defn is not None else None
            if found == uuid:
                return NetworkRef(name, uuid)
        raise no_network(uuid=uuid)

    # -- definition and lifecycle --------------------------------------------------------------

    @impl
    def virtkit_network_define_xml(self, xml: str) -> NetworkRef:
        new = self._parse(xml)
        with self.files.config.locked():
            defn, st = self._check_clashes(new)
            new = self._with_bridge(new, defn or (self._live(st) if st else None))
            self._check_clashes(new)
            self.files.write_definition(new)
        assert new.uuid is not None
        ref = NetworkRef(new.name, new.uuid)
        self._event(ref, NetworkEventLifecycle.DEFINED)
        return ref

    @impl
    def virtkit_network_create_xml(self, xml: str) -> NetworkRef:
        new = self._parse(xml)
        with self.files.config.locked():
            defn, st = self._check_clashes(new)
            if st is not None:
                raise invalid(f"network '{new.name}' is already active")
            new = self._with_bridge(new, defn)
            self._check_clashes(new)
            self._start(new, persistent=defn is not None)
        assert new.uuid is not None
        ref = NetworkRef(new.name, new.uuid)
        self._event(ref, NetworkEventLifecycle.STARTED)
        return ref

    @impl
    def virtkit_network_create(self, net: NetworkRef) -> bool:
        with self.files.config.locked():
            defn, st = self._find(net)
            if st is not None:
                raise invalid(f"network '{net.name}' is already active")
            assert defn is not None
            self._start(defn, persistent=True)
        self._event(net, NetworkEventLifecycle.STARTED)
        return True

    @impl
    def virtkit_network_destroy(self, net: NetworkRef) -> bool:
        with self.files.config.locked():
            _defn, st = self._find(net)
            if st is None:
                raise invalid(f"network '{net.name}' is not active")
            self._teardown(st)
            self.files.delete_status(net.name)
            if not st.persistent:
                self._forget_leases(net.name)
        self._event(net, NetworkEventLifecycle.STOPPED)
        return True

    @impl
    def virtkit_network_undefine(self, net: NetworkRef) -> bool:
        with self.files.config.locked():
            defn, st = self._find(net)
            if defn is None:
                raise invalid(f"cannot undefine transient network '{net.name}'")
            self.files.delete_definition(net.name)
            if st is not None:
                st.persistent = False
                self.files.write_status(st)
            else:
                self._forget_leases(net.name)
        self._event(net, NetworkEventLifecycle.UNDEFINED)
        return True

    # -- information ---------------------------------------------------------------------------

    @impl
    def virtkit_network_get_xml(self, net: NetworkRef, inactive: bool) -> str:
        defn, st = self._find(net)
        if st is not None and not (inactive and defn is not None):
            if st.ports:
                return attrs.evolve(self._live(st), connections=len(st.ports)).to_xml()
            return st.xml
        assert defn is not None
        return defn.to_xml()

    @impl
    def virtkit_network_get_autostart(self, net: NetworkRef) -> bool:
        defn, _st = self._find(net)
        return defn is not None and self.files.autostart(net.name)

    @impl
    def virtkit_network_set_autostart(self, net: NetworkRef, autostart: bool) -> bool:
        with self.files.config.locked():
            defn, _st = self._find(net)
            if defn is None:
                raise invalid(f"cannot set autostart for transient network '{net.name}'")
            self.files.set_autostart(net.name, bool(autostart))
        return True

    @impl
    def virtkit_network_get_dhcp_leases(
        self, net: NetworkRef, mac: str | None
    ) -> list[DhcpLease]:
        _defn, st = self._find(net)
        if st is None:
            raise invalid(f"network '{net.name}' is not active")
        files = dnsmasq.Files.under(self.files.dnsmasq_dir, st.name)
        return dnsmasq.leases(files, st.bridge, self._live(st), mac)

    # -- autostart -----------------------------------------------------------------------------

    def _autostart(self) -> None:
        """Start the autostart networks once per boot of the host (the run directory is a
        tmpfs that a boot empties)."""
        mark = self.files.run_dir / "autostarted"
        if mark.exists():
            return
        with self.files.config.locked():
            if mark.exists():
                return
            for name, defn, st in self._all():
                if defn is None or st is not None or not self.files.autostart(name):
                    continue
                try:
                    self._start(defn, persistent=True)
                except VirtError as exc:
                    log.error("autostart of network '%s' failed: %s", name, exc.message)
                    continue
                assert defn.uuid is not None
                self._event(NetworkRef(name, defn.uuid), NetworkEventLifecycle.STARTED)
            mark.parent.mkdir(parents=True, exist_ok=True)
            mark.touch()
