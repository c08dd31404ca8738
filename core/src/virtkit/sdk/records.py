"""Plain-data records that cross the hook boundary.

Every hook argument and result is plain data: str, int, float, bool, bytes, None, lists, dicts and
the attrs records below. Each record has a stable dict form (:func:`to_plain` / :func:`from_plain`)
so the remote driver forwards any hook without per-hook code. Object handles cross as identity
records (name, uuid, id), never as live objects.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

import attrs

_RECORDS: dict[str, type[Any]] = {}
#: Every registered record type by its class name: a live read-only view (no copy), for code
#: that looks a type up per value, such as the wire protocol's decoder.
RECORD_TYPES: Mapping[str, type[Any]] = MappingProxyType(_RECORDS)


_T = TypeVar("_T")


def record(cls: type[_T]) -> type[_T]:
    """Register a frozen attrs class for the plain-data form (use below ``@attrs.frozen``)."""
    if not attrs.has(cls):
        raise TypeError(f"{cls.__name__} must be an attrs class")
    _RECORDS[cls.__name__] = cls
    return cls  # type: ignore[return-value]  # attrs.has narrows to AttrsInstance


# -- identities -----------------------------------------------------------------------------------


@record
@attrs.frozen
class DomainRef:
    """A domain's identity: name, uuid (canonical 36-character form) and id (-1 when inactive)."""

    name: str
    uuid: str
    id: int = -1


@record
@attrs.frozen
class NetworkRef:
    name: str
    uuid: str


@record
@attrs.frozen
class PoolRef:
    name: str
    uuid: str


@record
@attrs.frozen
class VolumeRef:
    """A storage volume's identity: its pool's name, its name, its key and its path."""

    pool: str
    name: str
    key: str
    path: str


@record
@attrs.frozen
class InterfaceRef:
    name: str
    mac: str


@record
@attrs.frozen
class SnapshotRef:
    domain: DomainRef
    name: str


@record
@attrs.frozen
class NodeDeviceRef:
    """A host device's identity: its name (``pci_0000_00_02_0``, ``scsi_host3``, ``mdev_...``)."""

    name: str


@record
@attrs.frozen
class SecretRef:
    """A secret's identity: its uuid and its usage (``usage_type`` ``none``, ``volume``,
    ``ceph``, ``iscsi``, ``tls`` or ``vtpm``; ``usage_id`` the volume path, the ceph/tls/vtpm
    name or the iSCSI target, "" for none)."""

    uuid: str
    usage_type: str = "none"
    usage_id: str = ""


# -- information ----------------------------------------------------------------------------------


class TupleLike:
    """Indexable in libvirt-python's order as well as by attribute: ``info[0]``, ``len(info)``,
    ``state, max_mem, *rest = info``. A record lists its libvirt-order values in
    :meth:`as_tuple` (its fields in order unless it says otherwise). Not a ``tuple`` subclass,
    so the plain-data form stays a tagged dict and equality stays between records."""

    __slots__ = ()

    def as_tuple(self) -> tuple[Any, ...]:
        """The values in libvirt-python's order (what its method returns as a list)."""
        return attrs.astuple(self, recurse=False)  # type: ignore[arg-type]

    def __getitem__(self, index: int | slice) -> Any:
        return self.as_tuple()[index]

    def __len__(self) -> int:
        return len(self.as_tuple())

    def __iter__(self) -> Iterator[Any]:
        return iter(self.as_tuple())


@record
@attrs.frozen
class DomainInfo(TupleLike):
    """As libvirt's virDomainGetInfo: state, max memory and memory in KiB, vcpus, cpu time in ns."""

    state: int
    max_mem: int
    memory: int
    nr_virt_cpu: int
    cpu_time: int


@record
@attrs.frozen
class DomainStateInfo(TupleLike):
    state: int
    reason: int


@record
@attrs.frozen
class DomainControlInfo(TupleLike):
    """As libvirt's virDomainGetControlInfo: the state of the driver's control of the guest
    (0 ok, 1 a background job, 2 occupied by a call, 3 error), its details (an error's reason)
    and for how long it has been in that state, in ms (0 when ok)."""

    state: int
    details: int
    state_time: int


@record
@attrs.frozen
class NodeInfo(TupleLike):
    """As libvirt's virNodeGetInfo: memory in KiB, mhz, NUMA nodes, sockets, cores, threads
    (indexed, ``[1]`` is MiB as libvirt-python's ``getInfo()`` gives it)."""

    model: str
    memory: int
    cpus: int
    mhz: int
    nodes: int
    sockets: int
    cores: int
    threads: int

    def as_tuple(self) -> tuple[Any, ...]:
        """libvirt-python's ``getInfo()`` order; as there, ``[1]`` is the memory in MiB."""
        return (self.model, self.memory // 1024, self.cpus, self.mhz, self.nodes, self.sockets,
                self.cores, self.threads)


@record
@attrs.frozen
class PoolInfo(TupleLike):
    """state (0 inactive, 1 building, 2 running, 3 degraded, 4 inaccessible), bytes."""

    state: int
    capacity: int
    allocation: int
    available: int


@record
@attrs.frozen
class VolumeInfo(TupleLike):
    """type (0 file, 1 block, 2 dir, 3 network, 4 netdir, 5 ploop), bytes."""

    type: int
    capacity: int
    allocation: int


@record
@attrs.frozen
class VolumeSource:
    """What a domain disk ``<source pool='P' volume='V'/>`` means on this host: the volume's
    ``path``, its declared ``format`` (never probed) and the disk ``type`` to use (``file`` or
    ``block``)."""

    path: str
    format: str
    type: str


@record
@attrs.frozen
class JobInfo(TupleLike):
    """type (0 none, 1 bounded, 2 unbounded, 3 completed, 4 failed, 5 cancelled), progress."""

    type: int
    time_elapsed_ms: int = 0
    data_total: int = 0
    data_processed: int = 0
    data_remaining: int = 0
    operation: str = ""

    def as_tuple(self) -> tuple[Any, ...]:
        """libvirt-python's ``jobInfo()`` order: type, time elapsed, time remaining, data
        total/processed/remaining, memory total/processed/remaining, file
        total/processed/remaining (the parts virtkit does not track are 0)."""
        return (self.type, self.time_elapsed_ms, 0, self.data_total, self.data_processed,
                self.data_remaining, 0, 0, 0, 0, 0, 0)


@record
@attrs.frozen
class DhcpLease:
    iface: str
    expiry_time: int
    mac: str
    ip_type: int
    ipaddr: str
    prefix: int
    hostname: str | None = None
    client_id: str | None = None


@record
@attrs.frozen
class InterfaceAddress:
    """One guest interface and its addresses, as libvirt-python's interfaceAddresses gives them:
    ``name`` (the guest's name for it, ``vnet0``), ``hwaddr`` (its MAC), and ``addrs``, each a
    dict ``{"type": 0 for IPv4 or 1 for IPv6, "addr": "192.168.122.5", "prefix": 24}``."""

    name: str
    hwaddr: str
    addrs: list[dict[str, Any]]


@record
@attrs.frozen
class GuestFilesystem(TupleLike):
    """A mounted filesystem as the guest agent reports it (libvirt-python's fsInfo entries):
    mount point, device name in the guest, filesystem type, and the domain's disk targets
    (``vda``) it lives on."""

    mountpoint: str
    name: str
    fstype: str
    devices: list[str] = attrs.field(factory=list, hash=False)


@record
@attrs.frozen
class BlockInfo(TupleLike):
    """A disk's sizes in bytes as libvirt-python's ``blockInfo()`` lists them: capacity (what
    the guest sees), allocation (what is written on the host) and physical (the host file or
    device's size)."""

    capacity: int
    allocation: int
    physical: int


@record
@attrs.frozen
class VcpuInfo(TupleLike):
    """One vcpu as libvirt-python's ``vcpus()`` gives it: number, state (0 offline, 1 running,
    2 blocked), cpu time in ns and the host cpu it runs on (-1 when offline)."""

    number: int
    state: int
    cpu_time: int
    cpu: int


@record
@attrs.frozen
class IOThreadInfo(TupleLike):
    """One IOThread as libvirt-python's ``ioThreadInfo()`` gives it: its id and its CPU
    affinity (one boolean per host CPU)."""

    id: int
    cpumap: list[bool]


@record
@attrs.frozen
class DomainStats:
    """One domain's statistics from ``get_all_domain_stats``: its identity and libvirt's typed
    parameters (``state.state``, ``cpu.time``, ``block.0.name``...) as a flat dict."""

    ref: DomainRef
    stats: dict[str, Any] = attrs.field(factory=dict, hash=False)


# -- network ports ---------------------------------------------------------------------------------


@record
@attrs.frozen
class NetworkPortRef:
    """A network port's identity: its network and its uuid (canonical 36-character form)."""

    net: NetworkRef
    uuid: str


@record
@attrs.frozen
class NetworkPortPlug:
    """What a hypervisor driver needs to connect a guest interface to a port, as plain data.

    ``plug_type`` is ``network`` (a bridge the network service made), ``bridge`` (an existing
    host bridge the network names) or ``none``; ``bridge`` is the bridge to enslave the tap to;
    ``mac`` the guest interface's MAC; ``mtu`` the MTU the tap should use (0: the bridge's);
    ``mac_table_manager`` ``kernel`` or ``libvirt``; ``vlan_tags`` the VLAN ids the tap carries
    (from the port's portgroup, else the network; empty: none), ``vlan_trunk`` whether they are
    tagged and ``vlan_native`` the untagged one (0: none); ``portgroup`` the portgroup applied;
    ``owner_name`` and ``owner_uuid`` the guest that owns the port.
    """

    ref: NetworkPortRef
    plug_type: str
    bridge: str
    mac: str
    mtu: int = 0
    mac_table_manager: str = "kernel"
    vlan_tags: list[int] = attrs.field(factory=list)
    vlan_trunk: bool = False
    vlan_native: int = 0
    portgroup: str = ""
    owner_name: str = ""
    owner_uuid: str = ""


@record
@attrs.frozen
class NodeDeviceSummary:
    """A host device as a listing gives it: ``parent`` ("" for the root, ``computer``),
    ``caps`` its capability types in document order, nested ones included (``pci``,
    ``mdev_types``, ``scsi_host``, ``fc_host``, ``vports``, ``mdev``...), ``active`` (an mdev
    or vHBA that exists now), ``persistent`` (defined), ``driver`` the host driver bound to it
    ("" when none), ``autostart`` (a defined device that starts on its own)."""

    ref: NodeDeviceRef
    parent: str
    caps: list[str] = attrs.field(factory=list)
    active: bool = True
    persistent: bool = False
    driver: str = ""
    autostart: bool = False


@record
@attrs.frozen
class SecretSummary:
    """A secret as a listing gives it: ``ephemeral`` (kept in memory only), ``private``
    (its value is never read back) and whether it has a value."""

    ref: SecretRef
    ephemeral: bool = False
    private: bool = False
    has_value: bool = False


@record
@attrs.frozen
class SecurityModel(TupleLike):
    """The host's security driver, as libvirt's virNodeGetSecurityModel: its ``model``
    (``selinux``, ``apparmor``, ``none``...) and domain of interpretation ``doi``."""

    model: str
    doi: str = ""


@record
@attrs.frozen
class SecurityLabel(TupleLike):
    """A running domain's label under one security driver, as libvirt's
    virDomainGetSecurityLabel: the ``label`` (``system_u:system_r:svirt_t:s0:c1,c2``; "" for a
    domain that is not running) and whether the driver is ``enforcing`` it."""

    label: str
    enforcing: bool = False


@record
@attrs.frozen
class NWFilterRef:
    """A network filter's identity: its name and uuid."""

    name: str
    uuid: str


@record
@attrs.frozen
class NWFilterBindingRef:
    """A network filter binding's identity: the port device it filters and the filter's
    name."""

    port_dev: str
    filter_name: str


@record
@attrs.frozen
class CheckpointRef:
    """A checkpoint's identity: its domain and its name."""

    domain: DomainRef
    name: str


@record
@attrs.frozen
class CheckpointSummary:
    """A checkpoint as a listing gives it: its parent's name (None for a root), its creation
    time (seconds since the epoch) and how many children it has."""

    ref: CheckpointRef
    parent: str | None
    creation_time: int
    children: int = 0


#: Every event kind a driver may emit (``Event.kind``); anything else is dropped with a logged
#: error. The ``event`` and ``detail`` numbers of lifecycle events are libvirt's
#: (:class:`virtkit.sdk.states.EventType` and its detail enums).
EVENT_KINDS: tuple[str, ...] = (
    "domain-lifecycle",
    "domain-reboot",
    "domain-device-added",
    "domain-device-removed",
    # the rest of libvirt's 27 domain event ids (virtkit.sdk.domain_events lists their arguments)
    "domain-rtc-change",
    "domain-watchdog",
    "domain-io-error",
    "domain-graphics",
    "domain-io-error-reason",
    "domain-control-error",
    "domain-block-job",
    "domain-disk-change",
    "domain-tray-change",
    "domain-pm-wakeup",
    "domain-pm-suspend",
    "domain-balloon-change",
    "domain-pm-suspend-disk",
    "domain-block-job-2",
    "domain-tunable",
    "domain-agent-lifecycle",
    "domain-migration-iteration",
    "domain-job-completed",
    "domain-device-removal-failed",
    "domain-metadata-change",
    "domain-block-threshold",
    "domain-memory-failure",
    "domain-memory-device-size-change",
    "network-lifecycle",
    "pool-lifecycle",
    "pool-refresh",
    "nodedev-lifecycle",
    "nodedev-update",
    "secret-lifecycle",
    "secret-value-changed",
)


@record
@attrs.frozen
class Event:
    """An event on its way to callbacks.

    ``kind`` is ``domain-lifecycle``, ``domain-reboot``, ``domain-device-added``,
    ``domain-device-removed``, ``network-lifecycle``, ``pool-lifecycle``,
    ``nodedev-lifecycle`` (event: 0 created, 1 deleted, 2 defined, 3 undefined, libvirt's
    virNodeDeviceEventLifecycleType), ``nodedev-update``, ``secret-lifecycle`` (0 defined,
    1 undefined) or ``secret-value-changed`` (never carrying the value); ``obj`` is the
    identity record of the object; ``event`` and ``detail`` are libvirt's numbers for lifecycle
    kinds; ``device`` names the device of a device event (its alias, else its target);
    ``params`` holds the arguments of the other domain events (rtc-change, block-job, tunable...)
    by the names :mod:`virtkit.sdk.domain_events` lists, in plain data.
    """

    kind: str
    obj: Any
    event: int = 0
    detail: int = 0
    device: str = ""
    params: dict[str, Any] = attrs.field(factory=dict, hash=False)


@record
@attrs.frozen
class Version:
    major: int
    minor: int
    release: int

    def as_int(self) -> int:
        """libvirt's encoding: major * 1,000,000 + minor * 1,000 + release."""
        return self.major * 1_000_000 + self.minor * 1_000 + self.release


# -- list entries: what a listing returns, so filters need no further calls -----------------------


@record
@attrs.frozen
class DomainSummary:
    ref: DomainRef
    state: int
    reason: int
    persistent: bool
    autostart: bool = False
    managed_save: bool = False
    snapshots: int = 0

    @property
    def active(self) -> bool:
        return self.ref.id != -1


@record
@attrs.frozen
class NetworkSummary:
    ref: NetworkRef
    active: bool
    persistent: bool
    autostart: bool = False
    bridge: str = ""


@record
@attrs.frozen
class PoolSummary:
    ref: PoolRef
    active: bool
    persistent: bool
    autostart: bool = False


@record
@attrs.frozen
class InterfaceSummary:
    ref: InterfaceRef
    active: bool


@record
@attrs.frozen
class SnapshotSummary:
    ref: SnapshotRef
    parent: str | None
    state: str
    creation_time: int
    current: bool = False
    children: int = 0


# -- the plain-data form --------------------------------------------------------------------------


def to_plain(value: Any) -> Any:
    """Turn a hook argument or result into JSON-like data; records become tagged dicts."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, bytes):
        return {"__bytes__": value.hex()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    cls = type(value)
    if _RECORDS.get(cls.__name__) is cls:
        out: dict[str, Any] = {"__record__": cls.__name__}
        for field in attrs.fields(cls):
            out[field.name] = to_plain(getattr(value, field.name))
        return out
    raise TypeError(f"{cls.__name__} is not plain data and cannot cross a hook boundary")


def from_plain(value: Any) -> Any:
    """Inverse of :func:`to_plain`."""
    if isinstance(value, list):
        return [from_plain(v) for v in value]
    if isinstance(value, dict):
        if "__bytes__" in value and len(value) == 1:
            return bytes.fromhex(value["__bytes__"])
        tag = value.get("__record__")
        if tag is not None:
            cls = _RECORDS.get(tag)
            if cls is None:
                raise ValueError(f"unknown record type {tag!r}")
            return cls(**{k: from_plain(v) for k, v in value.items() if k != "__record__"})
        return {k: from_plain(v) for k, v in value.items()}
    return value


def record_types() -> dict[str, type[Any]]:
    """A copy of :data:`RECORD_TYPES`."""
    return dict(_RECORDS)
