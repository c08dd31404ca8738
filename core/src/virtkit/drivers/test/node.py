"""The test driver's in-memory host: one shared state per process for ``test:///default``.

A :class:`TestNode` holds the domains (and, as the driver grows, networks, pools and interfaces)
under one lock. Every connection to the same node sees the same objects and receives the same
events. ``test:///default`` is preloaded as REFERENCE.md describes; any other path is a fresh,
private node.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

import attrs

from ...errors import no_domain
from ...records import DomainRef, Event, NodeInfo
from ...states import DomainState, DomainStatus, RunningReason
from .domxml import DomainDef, parse_domain

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
  </devices>
</domain>"""

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

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def uuid(self) -> str:
        return self.definition.uuid

    @property
    def ref(self) -> DomainRef:
        return DomainRef(self.definition.name, self.definition.uuid, self.id)

    @property
    def current(self) -> DomainDef:
        return self.live or self.definition


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
        self._emitters: dict[int, Callable[[Event], None]] = {}

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

    def deactivate(self, dom: TestDomain) -> None:
        if dom.id > 0:
            self.ids.pop(dom.id, None)
        dom.id = -1
        dom.live = None


def default_node() -> TestNode:
    """A node preloaded as libvirt's test:///default is."""
    node = TestNode()
    definition = parse_domain(DEFAULT_DOMAIN_XML)
    dom = TestDomain(
        definition, None, DomainStatus(DomainState.RUNNING, RunningReason.BOOTED, True)
    )
    node.add(dom)
    node.activate(dom)
    return node


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
