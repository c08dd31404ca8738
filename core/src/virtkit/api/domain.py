"""The :class:`Domain` handle: an identity and typed calls to its connection's driver."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from virtkit.api.checkpoint import CheckpointMethods
from virtkit.api.domain_agent import AgentMethods
from virtkit.api.domain_blockjobs import BlockJobMethods
from virtkit.api.domain_graphics import GraphicsMethods
from virtkit.api.domain_migration import MigrationMethods
from virtkit.api.domain_tuning import TuningMethods
from virtkit.api.handle import Handle
from virtkit.sdk import checks as args
from virtkit.sdk.errors import ErrorCode, VirtError, invalid_arg
from virtkit.sdk.records import (
    DomainControlInfo,
    DomainInfo,
    DomainRef,
    DomainSummary,
    InterfaceAddress,
    JobInfo,
    SecurityLabel,
    SnapshotSummary,
)

SAVE_PARAMS = ("file", "dxml")  # libvirt's VIR_DOMAIN_SAVE_PARAM_FILE and _DXML


def _named(value: int | str, names: tuple[str, ...], what: str) -> str:
    """A libvirt enum value given by number or by name, as its name (INVALID_ARG naming an
    unknown number; unknown names are refused where the call is dispatched)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return value  # type: ignore[return-value]  # checked at dispatch
    if not 0 <= value < len(names):
        raise invalid_arg(f"invalid {what} '{value}'")
    return names[value]


def save_image_params(params: Any, op: str) -> tuple[str, str | None]:
    """The file and optional XML of libvirt's save and restore parameters; INVALID_ARG for a
    missing file, an unknown name or a value that is not a string."""
    if not isinstance(params, dict):
        raise invalid_arg(f"{op}: parameters must be a mapping of names to values")
    for name, value in params.items():
        if name not in SAVE_PARAMS:
            raise invalid_arg(f"{op}: unknown parameter {name!r} (known: file, dxml)")
        if not isinstance(value, str):
            raise invalid_arg(f"{op}: parameter {name!r} must be a string")
    if "file" not in params:
        raise invalid_arg(f"{op}: the 'file' parameter is required")
    return params["file"], params.get("dxml")


if TYPE_CHECKING:
    from virtkit.api.connection import Connection
    from virtkit.api.snapshot import Snapshot
    from virtkit.api.stream import Stream

SHUTDOWN_MODES = ("acpi", "agent", "initctl", "signal", "paravirt")


class Domain(AgentMethods, BlockJobMethods, TuningMethods, GraphicsMethods, MigrationMethods,
             CheckpointMethods, Handle[DomainRef]):
    """A domain on one connection. ``name`` and ``uuid`` are fixed; ``id`` asks the driver."""

    __slots__ = ()
    ARG = "dom"

    # -- identity -----------------------------------------------------------------------------

    @property
    def uuid(self) -> str:
        return self._ref.uuid

    @property
    def id(self) -> int:
        """The id while active (> 0), -1 while inactive; asks the driver."""
        return self.summary().ref.id

    def _identity(self) -> str:
        return self._ref.uuid  # the id changes as the domain starts and stops

    def __repr__(self) -> str:
        return f"<virtkit.Domain {self._ref.name!r} {self._ref.uuid}>"

    def _update(self, ref: DomainRef | None) -> None:
        if ref is not None:
            self._ref = ref

    def rename(self, new_name: str) -> None:
        """Rename this inactive domain (libvirt's virDomainRename); the handle takes the new
        name."""
        self._update(self._conn.hooks.domain_rename(dom=self._ref, new_name=new_name))

    def set_lifecycle_action(
        self, type: int | str, action: int | str, live: bool = False, config: bool = False
    ) -> None:
        """Set what happens when the guest powers off, reboots or crashes (libvirt's
        setLifecycleAction): ``type`` ``poweroff``/``reboot``/``crash`` (or libvirt's numbers
        0-2), ``action`` ``destroy``, ``restart``, ``rename-restart``, ``preserve``,
        ``coredump-destroy``, ``coredump-restart`` (or 0-5)."""
        self._conn.hooks.domain_set_lifecycle_action(
            dom=self._ref, event=_named(type, args.LIFECYCLE_EVENTS, "lifecycle type"),
            action=_named(action, args.LIFECYCLE_ACTIONS, "lifecycle action"),
            live=live, config=config)

    # -- lifecycle ----------------------------------------------------------------------------

    def create(self, paused: bool = False, force_boot: bool = False) -> None:
        """Start the domain (virsh start)."""
        self._update(
            self._conn.hooks.domain_create(dom=self._ref, paused=paused, force_boot=force_boot)
        )

    def shutdown(self, mode: str | None = None) -> None:
        if mode is not None and mode not in SHUTDOWN_MODES:
            raise invalid_arg(
                f"unknown shutdown mode '{mode}' (known: {', '.join(SHUTDOWN_MODES)})"
            )
        self._conn.hooks.domain_shutdown(dom=self._ref, mode=mode)

    def reboot(self, mode: str | None = None) -> None:
        if mode is not None and mode not in SHUTDOWN_MODES:
            raise invalid_arg(f"unknown reboot mode '{mode}' (known: {', '.join(SHUTDOWN_MODES)})")
        self._conn.hooks.domain_reboot(dom=self._ref, mode=mode)

    def reset(self) -> None:
        self._conn.hooks.domain_reset(dom=self._ref)

    def destroy(self, graceful: bool = False) -> None:
        self._conn.hooks.domain_destroy(dom=self._ref, graceful=graceful)
        self._ref = DomainRef(self._ref.name, self._ref.uuid, -1)

    def suspend(self) -> None:
        self._conn.hooks.domain_suspend(dom=self._ref)

    def resume(self) -> None:
        self._conn.hooks.domain_resume(dom=self._ref)

    def save(self, path: str, xml: str | None = None, start_state: str | None = None) -> None:
        args.start_state(start_state)
        self._conn.hooks.domain_save(
            dom=self._ref, path=os.fspath(path), xml=xml, start_state=start_state
        )

    def save_params(self, params: dict[str, Any], start_state: str | None = None) -> None:
        """libvirt's ``saveParams``: :meth:`save` with its arguments as typed parameters,
        ``{"file": PATH, "dxml": XML}`` (libvirt's VIR_DOMAIN_SAVE_PARAM_FILE and _DXML)."""
        path, xml = save_image_params(params, "save_params")
        self.save(path, xml, start_state)

    def os_type(self) -> str:
        """libvirt's ``OSType``: the guest's OS type from its definition (``hvm``, ``linux``
        for Xen PV, ``exe`` for containers)."""
        from virtkit.xml.parser import parse_document

        root = parse_document(self.xml_desc(), "domain")
        found = root.findtext("os/type")
        if not found:
            raise VirtError(ErrorCode.INTERNAL_ERROR,
                            f"internal error: domain '{self.name}' has no <os><type>")
        return found.strip()

    def managed_save(self, start_state: str | None = None) -> None:
        args.start_state(start_state)
        self._conn.hooks.domain_managed_save(dom=self._ref, start_state=start_state)

    def managed_save_remove(self) -> None:
        self._conn.hooks.domain_managed_save_remove(dom=self._ref)

    def managed_save_get_xml_desc(self, security_info: bool = False) -> str:
        """The definition stored in the managed-save image (what the next start runs);
        OPERATION_INVALID when there is none."""
        return self._conn.hooks.domain_managed_save_get_xml(dom=self._ref,
                                                            security_info=security_info)

    def managed_save_define_xml(self, xml: str, start_state: str | None = None) -> None:
        """Replace the definition stored in the managed-save image (same guest), and with
        ``start_state`` (``running`` or ``paused``) how the next start resumes it."""
        args.start_state(start_state)
        self._conn.hooks.domain_managed_save_define_xml(dom=self._ref, xml=xml,
                                                        start_state=start_state)

    def has_managed_save_image(self) -> bool:
        return self.summary().managed_save

    def undefine(
        self, managed_save: bool = False, snapshots_metadata: bool = False, nvram: bool = False
    ) -> None:
        self._conn.hooks.domain_undefine(dom=self._ref, managed_save=managed_save,
            snapshots_metadata=snapshots_metadata,
            nvram=nvram,
        )

    # -- information --------------------------------------------------------------------------

    def summary(self) -> DomainSummary:
        return self._conn.hooks.domain_get_summary(dom=self._ref)

    def security_label_list(self) -> list[SecurityLabel]:
        """The domain's labels, one per host security driver (each indexable as
        libvirt-python's ``[label, enforcing]``); empty labels while it is not running."""
        return self._conn.hooks.domain_get_security_labels(dom=self._ref)

    def security_label(self) -> SecurityLabel:
        """The domain's label under the host's primary security driver (``["", False]`` when
        the host has none)."""
        labels = self.security_label_list()
        return labels[0] if labels else SecurityLabel("", False)

    def info(self) -> DomainInfo:
        return self._conn.hooks.domain_get_info(dom=self._ref)

    def state(self) -> tuple[int, int]:
        """(state, reason), numbers of :class:`virtkit.states.DomainState` and its reasons."""
        st = self._conn.hooks.domain_get_state(dom=self._ref)
        return (st.state, st.reason)

    def is_active(self) -> bool:
        return self.summary().active

    def is_persistent(self) -> bool:
        return self.summary().persistent

    def is_updated(self) -> bool:
        """Whether the persistent definition of this active domain changed since it started."""
        return self._conn.hooks.domain_is_updated(dom=self._ref)

    def control_info(self) -> DomainControlInfo:
        """The state of the driver's control of the guest: ``(state, details, state_time)``
        (libvirt's controlInfo; state 0 ok, 1 background job, 2 occupied, 3 error)."""
        return self._conn.hooks.domain_get_control_info(dom=self._ref)

    def disk_errors(self) -> dict[str, int]:
        """The disks with an I/O error: target -> 1 (unspecified) or 2 (no space)."""
        return self._conn.hooks.domain_get_disk_errors(dom=self._ref)

    def messages(self, tainting: bool = False, deprecation: bool = False) -> list[str]:
        """The guest's taint and deprecation messages (only one kind when asked; neither:
        both)."""
        return self._conn.hooks.domain_get_messages(dom=self._ref, tainting=tainting,
                                                    deprecation=deprecation)

    def xml_desc(self, inactive: bool = False, security_info: bool = False) -> str:
        if security_info and self._conn.read_only:
            raise VirtError(
                ErrorCode.OPERATION_DENIED,
                "operation forbidden: virDomainGetXMLDesc with secure flag on a read only "
                "connection",
            )
        return self._conn.hooks.domain_get_xml(
            dom=self._ref, inactive=inactive, security_info=security_info
        )

    @property
    def autostart(self) -> bool:
        return self._conn.hooks.domain_get_autostart(dom=self._ref)

    def set_autostart(self, autostart: bool) -> None:
        self._conn.hooks.domain_set_autostart(dom=self._ref, autostart=bool(autostart))

    # -- devices and resources ----------------------------------------------------------------

    def attach_device(self, xml: str, live: bool = False, config: bool = False) -> None:
        self._conn.hooks.domain_attach_device(dom=self._ref, xml=xml, live=live, config=config)

    def detach_device(self, xml: str, live: bool = False, config: bool = False) -> None:
        self._conn.hooks.domain_detach_device(dom=self._ref, xml=xml, live=live, config=config)

    def detach_device_alias(self, alias: str, live: bool = False, config: bool = False) -> None:
        """Remove the device whose ``<alias name=...>`` is ``alias``."""
        self._conn.hooks.domain_detach_device_alias(dom=self._ref, alias=alias, live=live,
                                                    config=config)

    def update_device(
        self, xml: str, live: bool = False, config: bool = False, force: bool = False
    ) -> None:
        self._conn.hooks.domain_update_device(
            dom=self._ref, xml=xml, live=live, config=config, force=force
        )

    def set_memory(
        self, kib: int, live: bool = False, config: bool = False, maximum: bool = False
    ) -> None:
        if not isinstance(kib, int) or kib < 1:
            raise invalid_arg(f"memory size {kib!r} KiB for domain '{self.name}' must be >= 1")
        self._conn.hooks.domain_set_memory(
            dom=self._ref, kib=kib, live=live, config=config, maximum=maximum
        )

    def set_max_memory(self, kib: int) -> None:
        self.set_memory(kib, config=True, maximum=True)

    def set_vcpus(
        self, count: int, live: bool = False, config: bool = False, maximum: bool = False
    ) -> None:
        if not isinstance(count, int) or count < 1:
            raise invalid_arg(f"vcpu count {count!r} for domain '{self.name}' must be >= 1")
        self._conn.hooks.domain_set_vcpus(
            dom=self._ref, count=count, live=live, config=config, maximum=maximum
        )

    def vcpus_count(self, live: bool = False, config: bool = False, maximum: bool = False) -> int:
        return self._conn.hooks.domain_get_vcpus_count(
            dom=self._ref, live=live, config=config, maximum=maximum
        )

    # -- snapshots ----------------------------------------------------------------------------

    def snapshot_create_xml(self, xml: str, redefine: bool = False) -> Snapshot:
        """Take a snapshot described by ``<domainsnapshot>``; it becomes the current one."""
        from virtkit.api.snapshot import Snapshot

        return Snapshot(
            self, self._conn.hooks.snapshot_create_xml(dom=self._ref, xml=xml, redefine=redefine)
        )

    def snapshot_summaries(self) -> list[SnapshotSummary]:
        return self._conn.hooks.snapshot_list(dom=self._ref)

    def list_all_snapshots(
        self, roots: bool = False, current: bool | None = None
    ) -> list[Snapshot]:
        """Snapshots in creation order; ``roots`` only those without a parent."""
        from virtkit.api.snapshot import Snapshot

        return [
            Snapshot(self, s.ref.name)
            for s in self.snapshot_summaries()
            if (not roots or s.parent is None) and (current is None or s.current == current)
        ]

    def snapshot_lookup_by_name(self, name: str) -> Snapshot:
        from virtkit.api.snapshot import Snapshot

        # NO_DOMAIN_SNAPSHOT when there is none
        self._conn.hooks.snapshot_get_xml(dom=self._ref, name=name, security_info=False)
        return Snapshot(self, name)

    def snapshot_current(self) -> Snapshot:
        from virtkit.api.snapshot import Snapshot

        return Snapshot(self, self._conn.hooks.snapshot_current(dom=self._ref))

    def has_current_snapshot(self) -> bool:
        return any(s.current for s in self.snapshot_summaries())

    def revert_to_snapshot(
        self, snapshot: Snapshot, running: bool = False, paused: bool = False
    ) -> None:
        snapshot.revert(running=running, paused=paused)

    # -- migration and console ----------------------------------------------------------------

    def migrate(
        self,
        dest: Connection,
        *,
        live: bool = False,
        persistent: bool = False,
        undefine_source: bool = False,
        offline: bool = False,
        dname: str | None = None,
        xml: str | None = None,
    ) -> Domain:
        """Move this domain to ``dest`` through the five phases; returns it on ``dest``.

        A failure in any phase leaves the guest running on exactly one host.
        """
        from virtkit.api.migration import migrate

        return migrate(self, dest, {
            "live": live, "persistent": persistent, "undefine_source": undefine_source,
            "offline": offline, "dname": dname,
        }, xml)

    def open_console(self, device: str | None = None, force: bool = False) -> Stream:
        """The guest's console as a :class:`~virtkit.stream.Stream` (send keys, recv output)."""
        from virtkit.api.stream import Stream

        sid = self._conn.hooks.domain_open_console(dom=self._ref, device=device, force=force)
        return Stream(self._conn, sid, "console")

    def open_channel(self, name: str | None = None, force: bool = False) -> Stream:
        """One of the guest's ``<channel>`` devices (by alias, ``channel0``, or virtio target
        name; None: the first) as a :class:`~virtkit.stream.Stream`; ``force`` takes it from
        another client (libvirt's VIR_DOMAIN_CHANNEL_FORCE)."""
        from virtkit.api.stream import Stream

        sid = self._conn.hooks.domain_open_channel(dom=self._ref, name=name, force=force)
        return Stream(self._conn, sid, "channel")

    # -- guest data, statistics, jobs ---------------------------------------------------------

    def interface_addresses(self, source: str = "lease") -> list[InterfaceAddress]:
        if source not in ("lease", "agent", "arp"):
            raise invalid_arg(f"unknown address source '{source}' (lease, agent, arp)")
        return self._conn.hooks.domain_interface_addresses(
            dom=self._ref, source=source
        )

    def block_stats(self, device: str) -> dict[str, int]:
        return self._conn.hooks.domain_block_stats(dom=self._ref, device=device)

    def interface_stats(self, device: str) -> dict[str, int]:
        return self._conn.hooks.domain_interface_stats(
            dom=self._ref, device=device
        )

    def memory_stats(self) -> dict[str, int]:
        return self._conn.hooks.domain_memory_stats(dom=self._ref)

    def job_info(self) -> JobInfo:
        return self._conn.hooks.domain_get_job_info(dom=self._ref)

    def abort_job(self, postcopy: bool = False) -> None:
        """Abort the current job (libvirt's abortJob and abortJobFlags); with ``postcopy``,
        interrupt an outgoing migration in post-copy mode instead (which only that can stop):
        the source is left paused (POSTCOPY_FAILED)."""
        if postcopy:
            self._conn.hooks.domain_abort_job_postcopy(dom=self._ref)
        else:
            self._conn.hooks.domain_abort_job(dom=self._ref)
