"""From a definition to the supervisor's configuration: the root and bind mounts (directories,
or pool volumes through the storage service), init, ids, resources, and the veth pairs (plugged
through the network service's ports for ``<interface type='network'>``)."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from virtkit.sdk.driver import DriverContext
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.records import NetworkPortRef, NetworkRef
from virtkit_lxc.spec import Definition, config_error

#: device lists of the model a container cannot have, with their element names
_REFUSED_DEVICES = {"disks": "disk", "controllers": "controller", "hostdevs": "hostdev",
                    "graphics": "graphics", "videos": "video", "sounds": "sound",
                    "inputs": "input", "tpms": "tpm", "watchdogs": "watchdog", "rngs": "rng",
                    "panics": "panic", "parallels": "parallel", "channels": "channel"}
_FS_TYPES = (None, "mount", "bind", "volume", "ram")
_NIC_TYPES = ("network", "bridge", "ethernet")


_ACCEPTED_MAX = 256
#: device lists found acceptable, by id (each entry holds its object, so the id is not reused):
#: the XML layer shares the ``<devices>`` model of documents made from one template
_accepted: dict[int, Any] = {}


def check_supported(d: Definition) -> None:
    """Refuse, at define time, what a container cannot have (CONFIG_UNSUPPORTED names it)."""
    name = d.name
    devs = d.domain.devices
    if devs is None or _accepted.get(id(devs)) is devs:
        return
    for kind, tag in _REFUSED_DEVICES.items():
        if getattr(devs, kind):
            raise config_error(f"domain '{name}': <{tag}> devices are not supported by the "
                               f"lxc driver")
    for fs in devs.filesystems:
        if fs.type not in _FS_TYPES:
            raise config_error(f"domain '{name}': <filesystem type='{fs.type}'> is not "
                               f"supported (mount, bind, volume and ram are)")
        if fs.type in (None, "mount", "bind") and (fs.source is None or not fs.source.dir):
            raise config_error(f"domain '{name}': <filesystem> for '{fs.target.dir}' needs "
                               f"<source dir='...'/>")
        if fs.type == "volume" and (fs.source is None or not fs.source.pool
                                    or not fs.source.volume):
            raise config_error(f"domain '{name}': <filesystem type='volume'> for "
                               f"'{fs.target.dir}' needs <source pool='...' volume='...'/>")
        if not fs.target.dir.startswith("/") or ".." in fs.target.dir.split("/"):
            raise config_error(f"domain '{name}': <filesystem> target '{fs.target.dir}' must "
                               f"be an absolute path without '..'")
    for nic in devs.interfaces:
        if nic.type not in _NIC_TYPES:
            raise config_error(f"domain '{name}': <interface type='{nic.type}'> is not "
                               f"supported (network, bridge and ethernet are)")
    for ch in (*devs.consoles, *devs.serials):
        if ch.type not in (None, "pty"):
            raise config_error(f"domain '{name}': a console of type '{ch.type}' is not "
                               f"supported (pty is)")
    if len(_accepted) >= _ACCEPTED_MAX:
        _accepted.clear()
    _accepted[id(devs)] = devs


def host_dev_name(d: Definition, index: int) -> str:
    """The host end of interface ``index``: its ``<target dev>``, else a name from the domain's
    uuid (unique on the host whatever the instance or id)."""
    nic = d.domain.devices.interfaces[index]  # type: ignore[union-attr]
    if nic.target is not None and nic.target.dev:
        return nic.target.dev
    return f"vkl{(d.domain.uuid or '').replace('-', '')[:8]}n{index}"


def host_dev_for(d: Definition, device: str) -> str | None:
    """The host end of the interface named by its host device name or its MAC."""
    nics = d.domain.devices.interfaces if d.domain.devices else ()
    for i, nic in enumerate(nics):
        host = host_dev_name(d, i)
        if device in (host, nic.mac.address if nic.mac else None):
            return host
    return None


def _port_dict(ref: NetworkPortRef) -> dict[str, Any]:
    return {"net": {"name": ref.net.name, "uuid": ref.net.uuid}, "uuid": ref.uuid}


def release_ports(context: DriverContext, ports: list[dict[str, Any]]) -> None:
    for p in ports:
        ref = NetworkPortRef(NetworkRef(p["net"]["name"], p["net"]["uuid"]), p["uuid"])
        with contextlib.suppress(VirtError):
            context.call("network_port_delete", {"port": ref})


def _volume_dir(context: DriverContext, name: str, pool: str, volume: str) -> str:
    src = context.call("vol_translate", {"pool_name": pool, "volume_name": volume})
    if not os.path.isdir(src.path):
        raise config_error(f"domain '{name}': volume '{volume}' of pool '{pool}' is a "
                           f"{src.type} ({src.path}), not a directory: the lxc driver mounts "
                           f"directory volumes")
    return str(src.path)


def resources_of(d: Definition) -> dict[str, Any]:
    """The cgroup limits of a definition (what the supervisor's ``apply_limits`` writes):
    memory in bytes (``<currentMemory>``, the lower ``<memtune><hard_limit>`` wins), cpu
    shares, CFS quota and period, the pids limit, the blkio weight, and the cpuset (the vcpu
    element's, else the first N host cpus for N active vcpus when that is fewer than the
    host's)."""
    dom, ex = d.domain, d.extras
    mem_kib = dom.current_memory or dom.memory
    if ex.hard_limit_kib:
        mem_kib = min(mem_kib or ex.hard_limit_kib, ex.hard_limit_kib)
    resources: dict[str, Any] = {
        "memory": mem_kib * 1024 if mem_kib else None, "cpu_shares": ex.cpu_shares,
        "cpu_quota": ex.cpu_quota, "cpu_period": ex.cpu_period, "pids": ex.pids,
        "blkio_weight": ex.blkio_weight,
    }
    vcpu = dom.vcpu
    if vcpu is not None and vcpu.cpuset:
        resources["cpuset"] = vcpu.cpuset
    elif vcpu is not None:
        host = sorted(os.sched_getaffinity(0))
        active = vcpu.current or vcpu.count
        if active < len(host):
            resources["cpuset"] = ",".join(map(str, host[:active]))
    return resources


def build_config(context: DriverContext, d: Definition, paths: dict[str, str],
                 dom_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The supervisor's configuration and the network ports created for it (to delete when
    the container stops; deleted here already if this fails)."""
    name, dom, ex = d.name, d.domain, d.extras
    root: str | None = None
    root_ro = False
    binds: list[dict[str, Any]] = []
    devs = dom.devices
    for fs in devs.filesystems if devs else ():
        if fs.type == "ram":  # a tmpfs of <source usage='N' units='KiB'/>
            usage, units = (fs.source.usage, fs.source.units) if fs.source else (None, None)
            mult = {None: 1, "k": 1, "kib": 1, "m": 1024, "mib": 1024, "g": 1 << 20,
                    "gib": 1 << 20}.get((units or "").lower() or None)
            if not usage or mult is None:
                raise config_error(f"domain '{name}': <filesystem type='ram'> for "
                                   f"'{fs.target.dir}' needs <source usage='N' units='KiB'/>")
            binds.append({"ram_kib": usage * mult, "target": fs.target.dir})
            continue
        src = (_volume_dir(context, name, fs.source.pool, fs.source.volume)  # type: ignore
               if fs.type == "volume" else fs.source.dir)  # type: ignore[union-attr]
        if not os.path.isdir(src):  # type: ignore[arg-type]
            raise VirtError(ErrorCode.OPERATION_FAILED,
                            f"domain '{name}': filesystem source '{src}' is not a directory",
                            ErrorDomain.LXC)
        if fs.target.dir.rstrip("/") == "":
            root, root_ro = src, fs.readonly
        else:
            binds.append({"source": src, "target": fs.target.dir, "readonly": fs.readonly})
    if root is None:
        raise config_error(f"domain '{name}' has no root filesystem (<filesystem> with target "
                           f"'/'): the lxc driver never shares the host's root")
    resources = resources_of(d)
    cfg: dict[str, Any] = {
        "name": name, "uuid": dom.uuid, "id": dom_id, "root": root, "root_readonly": root_ro,
        "binds": binds, "init": dom.os.init or "/sbin/init", "initargs": list(dom.os.initargs),
        "env": dict(ex.env), "workdir": ex.workdir, "user": ex.user, "group": ex.group,
        "idmap": {"uid": ex.uid_map, "gid": ex.gid_map} if ex.uid_map else None,
        "resources": resources, "cgroup_name": f"{name}.{dom.uuid}",
        "cgroup_version": int(os.environ["VIRTKIT_LXC_CGROUP"])
        if os.environ.get("VIRTKIT_LXC_CGROUP") else None,
        "socket": paths["socket"], "exit_file": paths["exit_file"], "interfaces": [],
    }
    ports: list[dict[str, Any]] = []
    try:
        for i, nic in enumerate(devs.interfaces if devs else ()):
            mac = nic.mac.address if nic.mac else None
            peer = f"vkp{(dom.uuid or '').replace('-', '')[:8]}n{i}"
            entry = {"host": host_dev_name(d, i), "peer": peer,
                     "mac": mac, "bridge": None, "mtu": nic.mtu.size if nic.mtu else None}
            if nic.type == "bridge":
                entry["bridge"] = nic.source.bridge if nic.source else None
                if not entry["bridge"]:
                    raise config_error(f"domain '{name}': <interface type='bridge'> needs "
                                       f"<source bridge='...'/>")
            elif nic.type == "network":
                netname = nic.source.network if nic.source else None
                if not netname:
                    raise config_error(f"domain '{name}': <interface type='network'> needs "
                                       f"<source network='...'/>")
                net = context.call("network_lookup_by_name", {"name": netname})
                port_xml = (f"<networkport><owner><name>{name}</name><uuid>{dom.uuid}</uuid>"
                            f"</owner><mac address='{mac}'/></networkport>")
                ref = context.call("network_port_create_xml", {"net": net, "xml": port_xml})
                ports.append(_port_dict(ref))
                plug = context.call("network_port_get_plug", {"port": ref})
                entry["bridge"] = plug.bridge or None
                entry["mtu"] = entry["mtu"] or plug.mtu or None
            cfg["interfaces"].append(entry)
    except BaseException:
        release_ports(context, ports)
        raise
    return cfg, ports
