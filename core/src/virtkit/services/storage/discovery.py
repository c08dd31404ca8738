"""Pool source discovery and pool capabilities of the host storage service.

Discovery runs the host's tools through the service's :class:`~.commands.Runner`, as libvirt's
storage backends do: ``pvs`` lists the volume groups (one source per group, its physical volumes
as devices) for ``logical``; ``showmount -e HOST`` a host's NFS exports for ``netfs``;
``iscsiadm --mode discovery --type sendtargets`` a portal's targets for ``iscsi``. Other pool
types have nothing to discover (NO_SUPPORT). Capabilities list every libvirt pool type, the
service's own (:data:`~.backends.BACKENDS`) as supported with the source formats their backends
accept and their volumes' formats.
"""

from __future__ import annotations

import importlib

from virtkit.sdk.checks import POOL_TYPES
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.services.storage.backends import BACKENDS
from virtkit.services.storage.backends.base import Backend
from virtkit.services.storage.commands import Runner
from virtkit.services.storage.errors import bad_arg
from virtkit.xml.poolcaps import (
    SOURCE_FORMATS,
    PoolTypeCaps,
    capabilities_xml,
    parse_source_spec,
    sources_xml,
)
from virtkit.xml.storage import FormatType, PathValue, PoolSource, SourceDevice, SourceHost

__all__ = ["find_sources", "pool_capabilities"]

#: the source formats the backends accept where they take one (the default first).
_SOURCE_FORMATS = {
    "fs": SOURCE_FORMATS["fs"],          # mount -t, mkfs -t (auto builds ext4)
    "netfs": ("auto", "nfs", "glusterfs", "cifs"),
    "logical": ("lvm2",),
    "disk": ("dos", "gpt"),               # the partition tables build writes
}


def _backend_class(pool_type: str) -> type[Backend]:
    module, cls = BACKENDS[pool_type]
    found: type[Backend] = getattr(
        importlib.import_module(f"virtkit.services.storage.backends.{module}"), cls)
    return found


def pool_capabilities() -> str:
    """The service's ``<storagepoolCapabilities>`` document."""
    return capabilities_xml(
        PoolTypeCaps(t, True, _SOURCE_FORMATS.get(t, ()), _backend_class(t).formats)
        for t in POOL_TYPES if t in BACKENDS)


def _tool(runner: Runner, name: str, pool_type: str) -> None:
    """NO_SUPPORT when this host lacks the discovery tool of ``pool_type``: the host cannot
    discover such sources at all, which is not a discovery that failed."""
    if not runner.which(name):
        raise VirtError(ErrorCode.NO_SUPPORT, f"this function is not supported by the "
                        f"connection driver: discovering {pool_type} pool sources needs "
                        f"'{name}', which is not installed on this host", ErrorDomain.STORAGE)


def _logical(runner: Runner) -> list[PoolSource]:
    _tool(runner, "pvs", "logical")
    out = runner.run(["pvs", "--noheadings", "--separator", "#", "-o", "pv_name,vg_name"],
                     what="cannot discover volume groups").stdout
    groups: dict[str, list[str]] = {}
    for line in out.splitlines():
        pv, _, vg = line.strip().partition("#")
        if pv and vg:  # a physical volume in no group is no pool source
            groups.setdefault(vg, []).append(pv)
    return [PoolSource(devices=tuple(SourceDevice(path=pv) for pv in pvs), name=vg,
                       format=FormatType(type="lvm2"))
            for vg, pvs in sorted(groups.items())]


def _netfs(runner: Runner, host: SourceHost) -> list[PoolSource]:
    _tool(runner, "showmount", "netfs")
    out = runner.run(["showmount", "--no-headers", "-e", host.name],
                     what=f"cannot list the NFS exports of host '{host.name}'").stdout
    return [PoolSource(hosts=(SourceHost(name=host.name),), dir=PathValue(path=line.split()[0]),
                       format=FormatType(type="nfs"))
            for line in out.splitlines() if line.strip().startswith("/")]


def _iscsi(runner: Runner, host: SourceHost) -> list[PoolSource]:
    _tool(runner, "iscsiadm", "iscsi")
    portal = f"{host.name}:{host.port or 3260}"
    out = runner.run(["iscsiadm", "--mode", "discovery", "--type", "sendtargets", "--portal",
                      portal], what=f"cannot discover the targets of iSCSI portal {portal}").stdout
    targets: list[str] = []
    for line in out.splitlines():  # "10.0.0.1:3260,1 iqn.2004-04.com.example:disk1"
        fields = line.split()
        if len(fields) == 2 and fields[1] not in targets:
            targets.append(fields[1])
    return [PoolSource(hosts=(SourceHost(name=host.name, port=host.port or 3260),),
                       devices=(SourceDevice(path=iqn),))
            for iqn in targets]


def find_sources(runner: Runner, pool_type: str, spec: str | None) -> str:
    """The ``<sources>`` a discovery of ``pool_type`` finds on this host."""
    wanted = parse_source_spec(spec)
    if pool_type == "logical":
        return sources_xml(_logical(runner))
    if pool_type in ("netfs", "iscsi"):
        if wanted is None or not wanted.hosts:
            raise bad_arg(f"discovering {pool_type} pool sources needs <source><host "
                          f"name=...>")
        host = wanted.hosts[0]
        return sources_xml(_netfs(runner, host) if pool_type == "netfs"
                           else _iscsi(runner, host))
    raise VirtError(ErrorCode.NO_SUPPORT,
                    f"this function is not supported by the connection driver: pool type "
                    f"'{pool_type}' does not support source discovery", ErrorDomain.STORAGE)
