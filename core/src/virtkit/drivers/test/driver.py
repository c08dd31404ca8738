"""The in-memory ``test`` driver: libvirt's test driver semantics, no hypervisor needed.

``test:///default`` is one shared state per process, preloaded with a running domain ``test``.
Every state change goes through :func:`virtkit.states.transition`; shutdown completes at once.
As in libvirt's test driver, a shutdown of a guest whose ``<on_poweroff>`` is ``restart`` (or
``rename-restart``) leaves it running, and a reboot of one whose ``<on_reboot>`` is ``destroy``
or ``preserve`` stops it as a shutdown does.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any, ClassVar

from virtkit.drivers.test import host
from virtkit.drivers.test.agent import AgentMixin
from virtkit.drivers.test.blockjobs import BlockJobMixin
from virtkit.drivers.test.checkpoints import CheckpointMixin
from virtkit.drivers.test.definition import DefinitionMixin
from virtkit.drivers.test.devices import DeviceMixin
from virtkit.drivers.test.domxml import DomainDef, parse_domain
from virtkit.drivers.test.graphics import GraphicsMixin
from virtkit.drivers.test.guest import GuestMixin
from virtkit.drivers.test.health import HealthMixin
from virtkit.drivers.test.hoststats import HostMixin
from virtkit.drivers.test.jobs import JobMixin, job_seconds
from virtkit.drivers.test.migration import MigrationMixin
from virtkit.drivers.test.migtune import MigrationTuningMixin
from virtkit.drivers.test.netupdate import NetworkUpdateMixin
from virtkit.drivers.test.network import NetworkMixin
from virtkit.drivers.test.node import TestDomain, TestNode, shared_default_node
from virtkit.drivers.test.nodedev import NodeDeviceMixin
from virtkit.drivers.test.nwfilters import NWFilterMixin
from virtkit.drivers.test.ports import PortMixin
from virtkit.drivers.test.saveimage import (
    SaveImage,
    SaveImageMixin,
    read_image,
    start_paused,
    write_image,
)
from virtkit.drivers.test.secrets import SecretMixin
from virtkit.drivers.test.snapshots import SnapshotMixin
from virtkit.drivers.test.storage import StorageMixin
from virtkit.drivers.test.streams import StreamMixin, close_streams
from virtkit.drivers.test.tuning import TuningMixin
from virtkit.sdk.driver import Driver, DriverContext
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import (
    DomainInfo,
    DomainRef,
    DomainStateInfo,
    DomainSummary,
    Event,
    JobInfo,
    NodeInfo,
)
from virtkit.sdk.states import DomainState, DomainStatus, Op, Transition, transition

#: the lifecycle actions after which the guest runs again
RESTARTS = ("restart", "rename-restart")


def _running_ns(dom: TestDomain) -> int:
    """CPU time a running guest used since its start: each vcpu busy all along, as the test
    hypervisor counts it (libvirt's test driver reports a CPU time too)."""
    if not dom.status.active:
        return 0
    return int((time.monotonic() - dom.started_at) * 1e9) * dom.current.vcpus


def _failed(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_FAILED, message, ErrorDomain.TEST)


def _invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, message, ErrorDomain.TEST)


class TestDriver(
    CheckpointMixin,  # before JobMixin: its abort_job ends a backup first
    AgentMixin,
    BlockJobMixin,
    DefinitionMixin,
    DeviceMixin,
    GraphicsMixin,
    SnapshotMixin,
    GuestMixin,
    HealthMixin,
    HostMixin,
    JobMixin,
    MigrationMixin,
    MigrationTuningMixin,
    NetworkMixin,
    NetworkUpdateMixin,
    NodeDeviceMixin,
    NWFilterMixin,
    PortMixin,
    SaveImageMixin,
    SecretMixin,
    StorageMixin,
    StreamMixin,
    TuningMixin,
    Driver,
):
    """Driver for ``test:///default`` and ``test:///ABSOLUTE/PATH.xml``."""

    __test__ = False  # not a pytest class
    name = "test"
    error_domain = ErrorDomain.TEST
    capabilities: ClassVar[dict[str, Any]] = {
        "shutdown_modes": ["acpi", "agent", "initctl", "signal", "paravirt"],
        # jobs end at once unless slowed: the conformance suite watches and aborts one here
        "job_uri_params": {"job_seconds": "1"},
        # a pretend SATA controller the suite may detach, reset and re-attach
        "nodedev_passthrough_device": "pci_0000_00_1f_2",
    }

    def __init__(self, context: DriverContext) -> None:
        super().__init__(context)
        self.node: TestNode | None = None

    # -- connection ---------------------------------------------------------------------------

    @hookimpl
    def virtkit_connect_probe(self) -> str | None:
        return None  # the core falls back to test:///default itself

    @hookimpl
    def virtkit_connect_open(self, uri: str, read_only: bool) -> bool:
        path = self.context.uri.path
        if path in ("/default", ""):
            node = shared_default_node()
        elif path.startswith("/") and path.endswith(".xml"):
            from virtkit.drivers.test.nodefile import load_node_file

            node = load_node_file(Path(path))
        else:
            raise VirtError(
                ErrorCode.NO_CONNECT,
                f"the test driver serves test:///default or test:///ABSOLUTE/PATH.xml, "
                f"not '{uri}'",
                ErrorDomain.TEST,
            )
        self.job_seconds = job_seconds(self.context)
        node.subscribe(self, self.context.emit)
        self.node = node
        return True

    @hookimpl
    def virtkit_connect_close(self) -> bool:
        close_streams(self)
        if self.node is not None:
            self.node.unsubscribe(self)
        return True

    @property
    def _node(self) -> TestNode:
        assert self.node is not None
        return self.node

    @hookimpl
    def virtkit_connect_get_hostname(self) -> str:
        return self._node.hostname or socket.gethostname()

    @hookimpl
    def virtkit_connect_get_version(self) -> int:
        return 2

    @hookimpl
    def virtkit_connect_get_domain_capabilities(
        self, emulator: str | None, arch: str | None, machine: str | None, virttype: str | None
    ) -> str:
        return host.domain_capabilities(emulator, arch, machine, virttype)

    @hookimpl
    def virtkit_node_get_info(self) -> NodeInfo:
        return self._node.info

    # -- helpers ------------------------------------------------------------------------------

    def _apply(self, dom: TestDomain, t: Transition) -> None:
        """Store the transition's outcome and emit its events (caller holds the lock)."""
        node = self._node
        was_active = dom.status.active
        if t.status is None:
            if was_active:
                node.deactivate(dom)
            node.remove(dom)
        else:
            dom.status = t.status
            if t.status.active and not was_active:
                node.activate(dom)
            elif was_active and not t.status.active:
                node.deactivate(dom)
        ref = dom.ref
        for event_type, detail in t.events:
            node.emit(Event("domain-lifecycle", ref, int(event_type), int(detail)))
        if t.reboot:
            node.emit(Event("domain-reboot", ref))
        now_active = t.status is not None and t.status.active
        if now_active != was_active:
            self._agent_follows(dom, now_active)

    def _place(self, definition: DomainDef, existing: TestDomain | None) -> TestDomain:
        """``existing``, or a new inactive domain added to the node for ``definition``."""
        if existing is not None:
            return existing
        dom = TestDomain(definition, None, DomainStatus(persistent=False))
        self._node.add(dom)
        return dom

    def _op(self, ref: DomainRef, op: Op, **flags: bool) -> TestDomain:
        node = self._node
        with node.lock:
            dom = node.find(ref)
            self._apply(dom, transition(op, dom.name, dom.status, **flags))
            return dom

    @staticmethod
    def _summary(dom: TestDomain) -> DomainSummary:
        status, ref, snapshots = dom.status, dom.ref, len(dom.snapshots)
        listed = dom.listed
        if listed is not None and listed[1] is status:
            summary: DomainSummary = listed[0]
            if (summary.ref is ref and summary.autostart == dom.autostart
                    and summary.snapshots == snapshots):
                return summary
        summary = DomainSummary(ref, int(status.state), int(status.reason), status.persistent,
                                dom.autostart, status.has_managed_save, snapshots)
        dom.listed = (summary, status)
        return summary

    # -- listing and lookup -------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_list(self) -> list[DomainSummary]:
        node = self._node
        with node.lock:
            return [self._summary(d) for d in node.domains.values()]

    @hookimpl
    def virtkit_domain_lookup_by_name(self, name: str) -> DomainRef:
        node = self._node
        with node.lock:
            return node.by_name(name).ref

    @hookimpl
    def virtkit_domain_lookup_by_uuid(self, uuid: str) -> DomainRef:
        node = self._node
        with node.lock:
            dom = node.domains.get(uuid)
            if dom is None:
                from virtkit.sdk.errors import no_domain

                raise no_domain(uuid=uuid)
            return dom.ref

    @hookimpl
    def virtkit_domain_lookup_by_id(self, id: int) -> DomainRef:
        node = self._node
        with node.lock:
            uuid = node.ids.get(id)
            if uuid is None:
                from virtkit.sdk.errors import no_domain

                raise no_domain(id=id)
            return node.domains[uuid].ref

    # -- definition ---------------------------------------------------------------------------

    def _check_unique(self, new: DomainDef) -> TestDomain | None:
        """The existing domain ``new`` redefines, or None; refuses a name/uuid clash."""
        node = self._node
        by_uuid = node.domains.get(new.uuid)
        by_name_uuid = node.names.get(new.name)
        if by_uuid is not None and by_uuid.name != new.name:
            raise _failed(
                f"domain '{by_uuid.name}' is already defined with uuid {new.uuid}"
            )
        if by_name_uuid is not None and by_name_uuid != new.uuid:
            raise _failed(
                f"domain '{new.name}' already exists with uuid {by_name_uuid}"
            )
        return by_uuid

    @hookimpl
    def virtkit_domain_define_xml(self, xml: str, validate: bool) -> DomainRef:
        new = parse_domain(xml, validate)
        node = self._node
        with node.lock:
            existing = self._check_unique(new)
            t = transition(Op.DEFINE, new.name, None if existing is None else existing.status)
            dom = self._place(new, existing)
            dom.definition = new
            self._apply(dom, t)
            return dom.ref

    @hookimpl
    def virtkit_domain_create_xml(self, xml: str, paused: bool, validate: bool) -> DomainRef:
        new = parse_domain(xml, validate)
        node = self._node
        with node.lock:
            existing = self._check_unique(new)
            if existing is not None and existing.status.active:
                raise _invalid(f"domain '{new.name}' is already active")
            t = transition(
                Op.CREATE_XML, new.name, None if existing is None else existing.status,
                paused=paused,
            )
            dom = self._place(new, existing)
            self._apply(dom, t)
            dom.live = new
            return dom.ref

    @hookimpl
    def virtkit_domain_undefine(
        self, dom: DomainRef, managed_save: bool, snapshots_metadata: bool, nvram: bool
    ) -> bool:
        node = self._node
        with node.lock:
            d = node.find(dom)
            if d.status.has_managed_save and not managed_save and d.status.persistent:
                raise _invalid(
                    f"domain '{d.name}' has a managed save image; "
                    f"use the managed_save flag to remove it too"
                )
            if d.snapshots and not snapshots_metadata and not d.status.active:
                raise _invalid(
                    f"cannot undefine domain '{d.name}' with {len(d.snapshots)} snapshots; "
                    f"use the snapshots_metadata flag to remove them too"
                )
            self._apply(d, transition(Op.UNDEFINE, d.name, d.status))
            return True

    # -- lifecycle ----------------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_create(self, dom: DomainRef, paused: bool, force_boot: bool) -> DomainRef:
        node = self._node
        with node.lock:
            d = node.find(dom)
            image = d.managed_image if d.status.has_managed_save and not force_boot else None
            if image is not None:
                paused = paused or image.paused
            self._apply(d, transition(Op.CREATE, d.name, d.status, paused=paused,
                                      force_boot=force_boot))
            d.managed_image = None
            if image is not None:  # the guest runs what was saved
                d.live, d.memory = image.definition, image.memory
            return d.ref

    @hookimpl
    def virtkit_domain_shutdown(self, dom: DomainRef, mode: str | None) -> bool:
        node = self._node
        with node.lock:
            d = node.find(dom)
            t = transition(Op.SHUTDOWN, d.name, d.status)
            if d.current.model.on_poweroff in RESTARTS:
                return True  # <on_poweroff>restart: the guest starts again (libvirt's test)
            self._apply(d, t)
            return True

    @hookimpl
    def virtkit_domain_reboot(self, dom: DomainRef, mode: str | None) -> bool:
        node = self._node
        with node.lock:
            d = node.find(dom)
            t = transition(Op.REBOOT, d.name, d.status)
            if d.current.model.on_reboot not in (None, *RESTARTS):
                # <on_reboot>destroy or preserve: the guest stops instead (libvirt's test)
                t = transition(Op.SHUTDOWN, d.name, d.status)
            self._apply(d, t)
            return True

    @hookimpl
    def virtkit_domain_reset(self, dom: DomainRef) -> bool:
        self._op(dom, Op.RESET)
        return True

    @hookimpl
    def virtkit_domain_destroy(self, dom: DomainRef, graceful: bool) -> bool:
        self._op(dom, Op.DESTROY)
        return True

    @hookimpl
    def virtkit_domain_suspend(self, dom: DomainRef) -> bool:
        self._op(dom, Op.SUSPEND)
        return True

    @hookimpl
    def virtkit_domain_resume(self, dom: DomainRef) -> bool:
        self._op(dom, Op.RESUME)
        return True

    @hookimpl
    def virtkit_domain_managed_save(self, dom: DomainRef, start_state: str | None) -> bool:
        self._run_job(dom, "managed save", self._image_size(dom),
                      lambda d: transition(Op.MANAGED_SAVE, d.name, d.status))
        node = self._node
        with node.lock:
            d = node.find(dom)
            t = transition(Op.MANAGED_SAVE, d.name, d.status)
            paused = d.status.state == DomainState.PAUSED
            image = SaveImage(d.current, paused if start_state is None
                              else start_state == "paused", d.memory)
            self._apply(d, t)
            d.managed_image = image
            d.last_job = JobInfo(3, data_total=d.memory * 1024, data_processed=d.memory * 1024,
                                 operation="managed save")
            return True

    def _image_size(self, dom: DomainRef) -> int:
        with self._node.lock:
            return self._node.find(dom).memory * 1024

    @hookimpl
    def virtkit_domain_managed_save_remove(self, dom: DomainRef) -> bool:
        self._op(dom, Op.MANAGED_SAVE_REMOVE).managed_image = None
        return True

    @hookimpl
    def virtkit_domain_save(
        self, dom: DomainRef, path: str, xml: str | None, start_state: str | None
    ) -> bool:
        self._run_job(dom, "save", self._image_size(dom),
                      lambda d: transition(Op.SAVE, d.name, d.status))
        node = self._node
        with node.lock:
            d = node.find(dom)
            t = transition(Op.SAVE, d.name, d.status)
            definition = d.current if xml is None else parse_domain(xml)
            if (definition.name, definition.uuid) != (d.name, d.uuid):
                raise _invalid(f"the XML given for saving domain '{d.name}' names another domain")
            paused = d.status.state == DomainState.PAUSED
            image = SaveImage(definition, paused if start_state is None
                              else start_state == "paused", d.memory)
            write_image(path, image, d.name)
            self._apply(d, t)
            d.last_job = JobInfo(3, data_total=d.memory * 1024, data_processed=d.memory * 1024,
                                 operation="save")
            return True

    @hookimpl
    def virtkit_domain_restore(
        self, path: str, xml: str | None, start_state: str | None
    ) -> DomainRef:
        image = read_image(path)
        saved = image.definition
        definition = saved if xml is None else parse_domain(xml)
        if (definition.name, definition.uuid) != (saved.name, saved.uuid):
            raise _invalid(f"the XML given to restore '{path}' names another domain")
        paused = start_paused(image, start_state)
        node = self._node
        with node.lock:
            existing = self._check_unique(definition)
            t = transition(
                Op.RESTORE, definition.name, None if existing is None else existing.status,
                paused=paused,
            )
            d = self._place(definition, existing)
            self._apply(d, t)
            d.live = definition
            d.memory = image.memory
            d.managed_image = None
            return d.ref

    # -- information --------------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_get_summary(self, dom: DomainRef) -> DomainSummary:
        node = self._node
        with node.lock:
            return self._summary(node.find(dom))

    @hookimpl
    def virtkit_domain_get_info(self, dom: DomainRef) -> DomainInfo:
        node = self._node
        with node.lock:
            d = node.find(dom)
            cur = d.current
            return DomainInfo(
                int(d.status.state),
                cur.memory,
                d.memory if d.status.active else cur.current_memory,
                cur.vcpus,
                d.cpu_time + _running_ns(d),
            )

    @hookimpl
    def virtkit_domain_get_state(self, dom: DomainRef) -> DomainStateInfo:
        node = self._node
        with node.lock:
            d = node.find(dom)
            return DomainStateInfo(int(d.status.state), int(d.status.reason))

    @hookimpl
    def virtkit_domain_get_xml(self, dom: DomainRef, inactive: bool, security_info: bool) -> str:
        node = self._node
        with node.lock:
            d = node.find(dom)
            if inactive:
                return d.definition.public_xml(-1, security_info)
            return d.current.public_xml(d.id, security_info)

    @hookimpl
    def virtkit_domain_get_autostart(self, dom: DomainRef) -> bool:
        node = self._node
        with node.lock:
            return node.find(dom).autostart

    @hookimpl
    def virtkit_domain_set_autostart(self, dom: DomainRef, autostart: bool) -> bool:
        node = self._node
        with node.lock:
            d = node.find(dom)
            if not d.status.persistent:
                raise _invalid(f"cannot set autostart for transient domain '{d.name}'")
            d.autostart = autostart
            return True
