"""The test driver's in-memory host: one shared state per process for ``test:///default``.

A :class:`TestNode` holds the domains, virtual networks, host interfaces and storage pools (with
their in-memory volumes) under one lock. Every connection to the same node sees the same objects
and receives the same events. ``test:///default`` is preloaded as REFERENCE.md describes; any
other path is a fresh, private node.
"""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import attrs

from virtkit.drivers.test.domxml import DomainDef, parse_domain
from virtkit.sdk.errors import no_domain
from virtkit.sdk.records import DomainRef, Event, InterfaceRef, NetworkRef, NodeInfo, PoolRef
from virtkit.sdk.states import DomainState, DomainStatus, RunningReason
from virtkit.xml.interface import HostInterface
from virtkit.xml.network import Network
from virtkit.xml.storage import StoragePool, StorageVolume

DEFAULT_DOMAIN_XML = """<domain type='test'>
  <name>test</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory unit='KiB'>8388608</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/diskimage1'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </disk>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/>
      <source network='default'/>
      <target dev='testnet0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
    </interface>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </memballoon>
  </devices>
</domain>"""

DEFAULT_NETWORK_XML = """<network>
  <name>default</name>
  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>"""

DEFAULT_INTERFACE_XML = """<interface type='ethernet' name='eth1'>
  <start mode='onboot'/>
  <mac address='aa:bb:cc:dd:ee:ff'/>
  <mtu size='1492'/>
  <protocol family='ipv4'>
    <ip address='192.168.0.5' prefix='24'/>
    <route gateway='192.168.0.1'/>
  </protocol>
</interface>"""

DEFAULT_POOL_XML = """<pool type='dir'>
  <name>default-pool</name>
  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>
  <target>
    <path>/default-pool</path>
  </target>
</pool>"""

#: After this many domains added to a node, the collector's tracked objects are frozen (see
#: TestNode.add): a bulk load of 100,000 domains freezes 20 times.
FREEZE_EVERY = 5000

#: Capacity of a test pool whose XML gives none (libvirt's test driver uses the same 100 GiB).
DEFAULT_POOL_CAPACITY = 100 * 1024**3

DEFAULT_NODE_INFO = NodeInfo(
    model="i686", memory=3 * 1024 * 1024, cpus=16, mhz=1400, nodes=2, sockets=2, cores=2, threads=2
)


@attrs.define
class TestDomain:
    """One domain: its persistent definition, live definition, status and flags."""

    definition: DomainDef  # what the next boot uses
    live: DomainDef | None  # what runs now (None while inactive)
    status: DomainStatus
    id: int = -1
    autostart: bool = False
    memory: int = 0  # current balloon, KiB
    cpu_time: int = 0
    snapshots: dict[str, Any] = attrs.field(factory=dict)  # name -> snapshots.Snapshot, in order
    current_snapshot: str | None = None
    last_job: Any = None  # records.JobInfo of the last completed job
    #: saveimage.SaveImage of the managed-save image; valid while status.has_managed_save
    managed_image: Any = None
    job: Any = None  # jobs.ActiveJob while a job runs
    console: Any = None  # the ConsoleStream holding the console, if any
    started_at: float = 0.0  # time.monotonic() at the last start
    #: what the guest's agent, block jobs and tuning keep while it runs (cleared at start/stop)
    runtime: dict[str, Any] = attrs.field(factory=dict)
    #: settings kept with the definition: tunables, metadata ("config" and "live" parts)
    settings: dict[str, Any] = attrs.field(factory=dict)
    #: (summary, status) of the last list entry made, kept while both still hold (see
    #: TestDriver._summary): a listing of 100,000 domains rebuilds only what changed
    listed: tuple[Any, ...] | None = None

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def uuid(self) -> str:
        return self.definition.uuid

    _ref: DomainRef | None = None

    @property
    def ref(self) -> DomainRef:
        ref = self._ref
        if ref is None or ref.id != self.id:
            ref = self._ref = DomainRef(self.definition.name, self.definition.uuid, self.id)
        return ref

    @property
    def current(self) -> DomainDef:
        return self.live or self.definition


M = TypeVar("M", Network, StoragePool)


@attrs.define(eq=False)
class Configured(Generic[M]):
    """An object with a persistent ``config`` (what the next start uses) and, while active, a
    ``live`` definition (what runs now)."""

    config: M
    live: M | None = None
    persistent: bool = True
    autostart: bool = False

    @property
    def name(self) -> str:
        name: str = self.config.name
        return name

    @property
    def uuid(self) -> str:
        assert self.config.uuid is not None
        uuid: str = self.config.uuid
        return uuid

    @property
    def active(self) -> bool:
        return self.live is not None

    @property
    def current(self) -> M:
        return self.live or self.config


@attrs.define(eq=False)
class TestNetwork(Configured[Network]):
    """A virtual network."""

    started_at: int = 0
    #: the ports of guest interfaces while the network is active, by uuid
    ports: dict[str, dict[str, Any]] = attrs.field(factory=dict)

    @property
    def ref(self) -> NetworkRef:
        return NetworkRef(self.name, self.uuid)


@attrs.define(eq=False)
class TestInterface:
    """A host interface: its definition and whether it is up."""

    config: HostInterface
    active: bool = False

    @property
    def name(self) -> str:
        assert self.config.name is not None
        return self.config.name

    @property
    def mac(self) -> str:
        return self.config.mac.address if self.config.mac is not None else ""

    @property
    def ref(self) -> InterfaceRef:
        return InterfaceRef(self.name, self.mac)


@attrs.define(eq=False)
class TestVolume:
    """An in-memory volume. ``data`` holds the bytes written so far; the rest of the capacity
    reads as zeros, so a large sparse volume costs no memory."""

    config: StorageVolume
    capacity: int
    allocation: int
    format: str = "raw"
    data: bytearray = attrs.field(factory=bytearray)

    @property
    def name(self) -> str:
        return self.config.name

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset`` (within the capacity), zeros where nothing was
        written."""
        chunk = bytes(self.data[offset : offset + length])
        return chunk + b"\0" * (length - len(chunk))

    def write(self, offset: int, chunk: bytes) -> None:
        """Write ``chunk`` at ``offset`` (the caller checked it fits the capacity)."""
        end = offset + len(chunk)
        if end > len(self.data):
            self.data.extend(b"\0" * (end - len(self.data)))
        self.data[offset:end] = chunk


@attrs.define(eq=False)
class TestPool(Configured[StoragePool]):
    """A storage pool with its volumes by name; the volumes stay while it is inactive."""

    built: bool = True
    volumes: dict[str, TestVolume] = attrs.field(factory=dict)

    @property
    def ref(self) -> PoolRef:
        return PoolRef(self.name, self.uuid)

    @property
    def target(self) -> str:
        target = self.current.target
        path = target.path if target is not None and target.path else f"/{self.name}"
        return path.rstrip("/") or "/"

    def vol_path(self, name: str) -> str:
        return f"{self.target.rstrip('/')}/{name}"

    @property
    def capacity(self) -> int:
        return self.capacity_of(self.current)

    @staticmethod
    def capacity_of(model: StoragePool) -> int:
        cap = model.capacity
        return DEFAULT_POOL_CAPACITY if cap is None or cap <= 0 else cap

    @property
    def allocation(self) -> int:
        return sum(v.allocation for v in self.volumes.values())

    @property
    def available(self) -> int:
        return max(self.capacity - self.allocation, 0)


class TestNode:
    """Shared state of one test host; take ``lock`` around every read-modify-write."""

    def __init__(self, info: NodeInfo = DEFAULT_NODE_INFO) -> None:
        self.lock = threading.RLock()
        self.info = info
        self.hostname = "localhost"
        self.domains: dict[str, TestDomain] = {}  # by uuid
        self.names: dict[str, str] = {}  # name -> uuid
        self.ids: dict[int, str] = {}  # id -> uuid
        self.next_id = 1
        self.networks: dict[str, TestNetwork] = {}  # by name
        self.interfaces: dict[str, TestInterface] = {}  # by name
        #: the host interfaces as iface-begin found them, until commit or rollback
        self.iface_snapshot: dict[str, TestInterface] | None = None
        self.pools: dict[str, TestPool] = {}  # by name
        self._emitters: dict[int, Callable[[Event], None]] = {}
        self._added = 0  # domains added since the last gc.freeze()

    # -- events -------------------------------------------------------------------------------

    def subscribe(self, driver: Any, emit: Callable[[Event], None]) -> None:
        with self.lock:
            self._emitters[id(driver)] = emit
            weakref.finalize(driver, self._emitters.pop, id(driver), None)

    def unsubscribe(self, driver: Any) -> None:
        with self.lock:
            self._emitters.pop(id(driver), None)

    def emit(self, event: Event) -> None:
        for emit in list(self._emitters.values()):
            emit(event)

    # -- domains ------------------------------------------------------------------------------

    def find(self, ref: DomainRef) -> TestDomain:
        dom = self.domains.get(ref.uuid)
        if dom is None:
            raise no_domain(ref.name)
        return dom

    def by_name(self, name: str) -> TestDomain:
        uuid = self.names.get(name)
        if uuid is None:
            raise no_domain(name)
        return self.domains[uuid]

    def add(self, dom: TestDomain) -> None:
        self.domains[dom.uuid] = dom
        self.names[dom.name] = dom.uuid
        self._added += 1
        if self._added >= FREEZE_EVERY:
            # Stored domains live long, and each holds several objects the cyclic collector
            # tracks (about 9: at 50,000 domains, 434,000). A listing allocates two records per
            # domain, enough to start a full collection that would walk all of them every
            # time. After each bulk of additions, move what is tracked now into the
            # collector's permanent generation, so full passes walk only newer objects.
            self._added = 0
            gc.freeze()

    def remove(self, dom: TestDomain) -> None:
        self.domains.pop(dom.uuid, None)
        self.names.pop(dom.name, None)
        if dom.id > 0:
            self.ids.pop(dom.id, None)

    def activate(self, dom: TestDomain) -> None:
        dom.id = self.next_id
        self.next_id += 1
        self.ids[dom.id] = dom.uuid
        dom.live = dom.definition
        dom.memory = dom.definition.current_memory
        dom.started_at = time.monotonic()
        dom.runtime = {"booted": dom.definition}  # what the guest started from (is_updated)

    def deactivate(self, dom: TestDomain) -> None:
        if dom.id > 0:
            self.ids.pop(dom.id, None)
        dom.id = -1
        dom.live = None
        for channel in dom.runtime.get("channels", {}).values():
            channel.close()  # the guest's end is gone
        for client in dom.runtime.get("graphics", ()):
            client.close()  # the guest's graphics servers are gone
        dom.runtime = {}
        if dom.console is not None:
            dom.console.close()
            dom.console = None


def default_node() -> TestNode:
    """A node preloaded as libvirt's test:///default is."""
    node = TestNode()
    definition = parse_domain(DEFAULT_DOMAIN_XML)
    dom = TestDomain(
        definition, None, DomainStatus(DomainState.RUNNING, RunningReason.BOOTED, True)
    )
    node.add(dom)
    node.activate(dom)
    preload_default_objects(node)
    return node


def preload_default_objects(node: TestNode) -> None:
    """Add test:///default's network ``default``, interface ``eth1`` and pool ``default-pool``."""
    import time

    net = Network.from_xml(DEFAULT_NETWORK_XML)
    node.networks[net.name] = TestNetwork(net, net, autostart=False, started_at=int(time.time()))
    iface = HostInterface.from_xml(DEFAULT_INTERFACE_XML)
    assert iface.name is not None
    node.interfaces[iface.name] = TestInterface(iface, active=True)
    pool = StoragePool.from_xml(DEFAULT_POOL_XML)
    node.pools[pool.name] = TestPool(pool, pool, autostart=False)


_SHARED: dict[str, TestNode] = {}
_SHARED_LOCK = threading.Lock()


def shared_default_node() -> TestNode:
    with _SHARED_LOCK:
        node = _SHARED.get("default")
        if node is None:
            node = _SHARED["default"] = default_node()
        return node


def reset_default_node() -> None:
    """Forget the shared default node (tests)."""
    with _SHARED_LOCK:
        _SHARED.pop("default", None)
