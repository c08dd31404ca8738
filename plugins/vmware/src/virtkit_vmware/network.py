"""Virtual switches as networks, their port groups as ``<portgroup>`` (libvirt's esx mapping).

An ESX host's standard vSwitches (from its HostNetworkSystem) and, on a vCenter, the distributed
switches of the datacenter are networks: always active, persistent and autostarted, in bridge
mode. Each port group of a switch is a ``<portgroup name=...>`` with its VLAN; a domain's NIC
names the port group (``<source bridge='VM Network'/>``). A network's uuid is derived from the
switch's identity (``uuid5``) unless vSphere gives it one (a distributed switch's uuid).
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from virtkit.sdk.errors import no_network
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import NetworkRef, NetworkSummary


class NetworkHooks:
    """Mixed into the driver."""

    def _switches(self: Any) -> list[dict[str, Any]]:
        """Each switch: name, uuid, mtu, and its port groups as (name, vlan)."""
        from pyVmomi import vim

        scope = self.scope

        def read() -> list[dict[str, Any]]:
            out: list[dict[str, Any]] = []
            hosts = [scope.host] if scope.host is not None else list(scope.compute.host)
            seen: set[str] = set()
            for host in hosts:
                info = host.configManager.networkSystem.networkInfo
                groups: dict[str, list[tuple[str, int]]] = {}
                for pg in info.portgroup or ():
                    groups.setdefault(pg.spec.vswitchName, []).append(
                        (pg.spec.name, int(pg.spec.vlanId or 0)))
                for sw in info.vswitch or ():
                    if sw.name in seen:
                        continue
                    seen.add(sw.name)
                    out.append({"name": sw.name, "uuid": str(uuidlib.uuid5(
                        uuidlib.NAMESPACE_URL, f"vswitch:{self.endpoint.host}:{sw.name}")),
                        "mtu": sw.mtu, "portgroups": groups.get(sw.name, [])})
            for net in scope.datacenter.networkFolder.childEntity:
                if isinstance(net, vim.dvs.VmwareDistributedVirtualSwitch) or \
                        isinstance(net, vim.DistributedVirtualSwitch):
                    pgs = [(pg.name, 0) for pg in net.portgroup]
                    out.append({"name": net.name, "uuid": _uuid(net.uuid), "mtu": None,
                                "portgroups": pgs})
            return out

        return self.session.call("listing virtual switches", read)

    def _switch(self: Any, net: NetworkRef) -> dict[str, Any]:
        for sw in self._switches():
            if sw["name"] == net.name:
                return sw
        raise no_network(net.name)

    @hookimpl
    def virtkit_network_list(self: Any) -> list[NetworkSummary]:
        return [NetworkSummary(NetworkRef(sw["name"], sw["uuid"]), True, True, True, sw["name"])
                for sw in self._switches()]

    @hookimpl
    def virtkit_network_get_summary(self: Any, net: NetworkRef) -> NetworkSummary:
        sw = self._switch(net)
        return NetworkSummary(NetworkRef(sw["name"], sw["uuid"]), True, True, True, sw["name"])

    @hookimpl
    def virtkit_network_lookup_by_name(self: Any, name: str) -> NetworkRef:
        for sw in self._switches():
            if sw["name"] == name:
                return NetworkRef(name, sw["uuid"])
        raise no_network(name)

    @hookimpl
    def virtkit_network_lookup_by_uuid(self: Any, uuid: str) -> NetworkRef:
        for sw in self._switches():
            if sw["uuid"] == uuid:
                return NetworkRef(sw["name"], uuid)
        raise no_network(uuid=uuid)

    @hookimpl
    def virtkit_network_get_autostart(self: Any, net: NetworkRef) -> bool:
        self._switch(net)
        return True

    @hookimpl
    def virtkit_network_get_xml(self: Any, net: NetworkRef, inactive: bool) -> str:
        sw = self._switch(net)
        parts = [f"<network>\n  <name>{escape(sw['name'])}</name>\n  <uuid>{sw['uuid']}</uuid>\n",
                 "  <forward mode='bridge'/>\n", f"  <bridge name={quoteattr(sw['name'])}/>\n"]
        if sw["mtu"]:
            parts.append(f"  <mtu size='{int(sw['mtu'])}'/>\n")
        for name, vlan in sw["portgroups"]:
            if vlan:
                parts.append(f"  <portgroup name={quoteattr(name)}>\n    <vlan>\n"
                             f"      <tag id='{vlan}'/>\n    </vlan>\n  </portgroup>\n")
            else:
                parts.append(f"  <portgroup name={quoteattr(name)}/>\n")
        parts.append("</network>\n")
        return "".join(parts)


def _uuid(text: str) -> str:
    hexes = "".join(c for c in text if c in "0123456789abcdefABCDEF")
    if len(hexes) == 32:
        return str(uuidlib.UUID(hexes))
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"dvs:{text}"))
