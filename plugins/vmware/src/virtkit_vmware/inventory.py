"""Reading the vSphere inventory in few round trips: one property-collector call per listing.

The scope of a connection is the whole inventory for ``esx://`` and for a bare ``vpx://vc/``; a
``vpx://vc/DC[/CLUSTER[/HOST]]`` path narrows it to that datacenter, compute resource or host
(libvirt's esx driver uses the path the same way).
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit_vmware.domxml import TRANSIENT_KEY
from virtkit_vmware.session import Session, esx_error

VM_PROPS = ["name", "config.uuid", "runtime.powerState", "config.template", "config.managedBy",
            "snapshot", "runtime.host"]
_DIGITS = re.compile(r"(\d+)$")


def moref_id(moid: str) -> int:
    """A VM's domain id: the number of its managed object id (``vm-42`` -> 42)."""
    m = _DIGITS.search(moid)
    return int(m.group(1)) if m else abs(hash(moid)) % (2**31 - 1) + 1


@attrs.frozen
class VmRow:
    """What one listing call says of a VM."""

    vm: Any
    moid: str
    name: str
    uuid: str
    power: str  # poweredOn, poweredOff, suspended
    transient: str  # "" (persistent), "created" or "undefined"
    snapshots: int
    host: str = ""  # moid of the host it runs on


@attrs.frozen
class Scope:
    """Where this connection's VMs, datastores and networks live."""

    datacenter: Any  # vim.Datacenter
    compute: Any  # vim.ComputeResource (standalone host or cluster)
    host: Any  # vim.HostSystem or None (a cluster picks)
    container: Any  # the folder or entity a container view starts from
    hosts: frozenset[str] = frozenset()  # moids of the hosts a VM must run on (empty: any)
    vm_folder: Any = None  # where new VMs go (the datacenter's VM folder)
    resource_pool: Any = None  # the compute resource's root resource pool


def resolve_scope(session: Session) -> Scope:
    """The datacenter / compute resource / host the URI names (vpx) or the one there is (esx)."""
    from pyVmomi import vim

    content = session.content
    path = session.endpoint.path
    dcs = [e for e in content.rootFolder.childEntity if isinstance(e, vim.Datacenter)]
    if not dcs:
        raise esx_error(ErrorCode.NO_CONNECT, f"{session.endpoint.where} has no datacenter")
    if session.endpoint.scheme == "vpx" and path:
        dc = next((d for d in dcs if d.name == path[0]), None)
        if dc is None:
            raise esx_error(ErrorCode.INVALID_ARG,
                            f"invalid argument: vpx: no datacenter named '{path[0]}' "
                            f"(there are: {', '.join(d.name for d in dcs)})")
    else:
        dc = dcs[0]
    computes = [c for c in dc.hostFolder.childEntity if isinstance(c, vim.ComputeResource)]
    if not computes:
        raise esx_error(ErrorCode.NO_CONNECT, f"datacenter '{dc.name}' has no compute resource")
    compute: Any = computes[0]
    container: Any = content.rootFolder if session.endpoint.scheme == "esx" else dc.vmFolder
    host = None
    if len(path) >= 2:
        compute = next((c for c in computes if c.name == path[1]), None)
        if compute is None:
            raise esx_error(ErrorCode.INVALID_ARG,
                            f"invalid argument: vpx: no cluster or compute resource named "
                            f"'{path[1]}' in datacenter '{dc.name}'")
    if len(path) >= 3:
        host = next((h for h in compute.host if h.name == path[2]), None)
        if host is None:
            raise esx_error(ErrorCode.INVALID_ARG,
                            f"invalid argument: vpx: no host named '{path[2]}' in "
                            f"'{compute.name}'")
    if len(path) > 3:
        raise esx_error(ErrorCode.INVALID_ARG,
                        f"invalid argument: vpx path '/{'/'.join(path)}' is longer than "
                        f"/DATACENTER/CLUSTER/HOST")
    if host is None and session.endpoint.scheme == "esx":
        host = compute.host[0] if compute.host else None
    hosts: frozenset[str] = frozenset()
    if host is not None and session.endpoint.scheme == "vpx":
        hosts = frozenset({host._moId})
    elif len(path) >= 2:
        hosts = frozenset(h._moId for h in compute.host)
    return Scope(dc, compute, host, container, hosts, dc.vmFolder, compute.resourcePool)


class Inventory:
    """Container views (made once per connection) and the property collector over them."""

    def __init__(self, session: Session, scope: Scope) -> None:
        self.session = session
        self.scope = scope
        self.rebuild()

    def rebuild(self) -> None:
        """Make the container view and the filter spec (again, after a new login)."""
        from pyVmomi import vim, vmodl

        content = self.session.content
        scope = self.scope
        self._pc = content.propertyCollector
        view = content.viewManager.CreateContainerView(scope.container, [vim.VirtualMachine], True)
        self.vm_view = view
        PF = vmodl.query.PropertyCollector
        traversal = PF.TraversalSpec(name="view", path="view", skip=False,
                                     type=vim.view.ContainerView)
        self._vm_spec = PF.FilterSpec(
            objectSet=[PF.ObjectSpec(obj=view, skip=True, selectSet=[traversal])],
            propSet=[PF.PropertySpec(type=vim.VirtualMachine, pathSet=VM_PROPS)],
        )
        self._options = PF.RetrieveOptions()

    def vms(self) -> list[VmRow]:
        """Every VM (templates left out) in scope, in one RetrievePropertiesEx (plus pages)."""
        pc = self._pc
        result = self.session.call("listing virtual machines",
                                   lambda: pc.RetrievePropertiesEx([self._vm_spec],
                                                                   self._options))
        rows: list[VmRow] = []
        while result is not None:
            hosts = self.scope.hosts
            for obj in result.objects:
                row = _row(obj)
                if row is not None and (not hosts or row.host in hosts):
                    rows.append(row)
            token = result.token
            if not token:
                break
            def more(t: str = token) -> Any:
                return pc.ContinueRetrievePropertiesEx(t)

            result = self.session.call("listing virtual machines", more)
        return rows

    def destroy(self) -> None:
        try:
            self.vm_view.DestroyView()
        except Exception:  # the session may be gone already; the view dies with it
            pass


def _row(obj: Any) -> VmRow | None:
    props = {p.name: p.val for p in obj.propSet or ()}
    if props.get("config.template") or "config.uuid" not in props:
        return None  # templates are not domains; a VM without config is inaccessible
    managed = props.get("config.managedBy")
    transient = ""
    if managed is not None and getattr(managed, "extensionKey", "") == TRANSIENT_KEY:
        transient = managed.type or "created"
    snap = props.get("snapshot")
    count = _count(snap.rootSnapshotList) if snap is not None else 0
    host = props.get("runtime.host")
    return VmRow(obj.obj, obj.obj._moId, props.get("name", ""), props["config.uuid"],
                 str(props.get("runtime.powerState", "poweredOff")), transient, count,
                 host._moId if host is not None else "")


def _count(tree: Any) -> int:
    return sum(1 + _count(t.childSnapshotList) for t in tree or ())


def vm_props(session: Session, vm: Any, props: list[str], what: str) -> dict[str, Any]:
    """Some properties of one VM in one call; NO_DOMAIN when it is gone."""
    from pyVmomi import vim, vmodl

    PF = vmodl.query.PropertyCollector
    spec = PF.FilterSpec(objectSet=[PF.ObjectSpec(obj=vm, skip=False)],
                         propSet=[PF.PropertySpec(type=vim.VirtualMachine, pathSet=props)])
    pc = session.content.propertyCollector

    def fetch() -> Any:
        try:
            return pc.RetrievePropertiesEx([spec], PF.RetrieveOptions())
        except vmodl.fault.ManagedObjectNotFound:
            return None

    result = session.call(what, fetch)
    if result is None or not result.objects:
        raise VirtError(ErrorCode.NO_DOMAIN, f"Domain not found: {what}: the virtual machine "
                        f"is gone", 20)
    return {p.name: p.val for p in result.objects[0].propSet or ()}
