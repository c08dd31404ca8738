"""The :class:`Domain` handle: an identity and typed calls to its connection's driver."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from virtkit.api.handle import Handle
from virtkit.sdk import checks as args
from virtkit.sdk.errors import ErrorCode, VirtError, invalid_arg
from virtkit.sdk.records import (
    DomainInfo,
    DomainRef,
    DomainSummary,
    InterfaceAddress,
    JobInfo,
    SnapshotSummary,
)

if TYPE_CHECKING:
    from virtkit.api.connection import Connection
    from virtkit.api.snapshot import Snapshot
    from virtkit.api.stream import Stream

SHUTDOWN_MODES = ("acpi", "agent", "initctl", "signal", "paravirt")


class Domain(Handle[DomainRef]):
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

    # -- lifecycle ----------------------------------------------------------------------------

    def create(self, paused: bool = False, force_boot: bool = False) -> None:
        """Start the domain (virsh start)."""
        self._update(self._call("domain_create", paused=paused, force_boot=force_boot))

    def shutdown(self, mode: str | None = None) -> None:
        if mode is not None and mode not in SHUTDOWN_MODES:
            raise invalid_arg(
                f"unknown shutdown mode '{mode}' (known: {', '.join(SHUTDOWN_MODES)})"
            )
        self._call("domain_shutdown", mode=mode)

    def reboot(self, mode: str | None = None) -> None:
        if mode is not None and mode not in SHUTDOWN_MODES:
            raise invalid_arg(f"unknown reboot mode '{mode}' (known: {', '.join(SHUTDOWN_MODES)})")
        self._call("domain_reboot", mode=mode)

    def reset(self) -> None:
        self._call("domain_reset")

    def destroy(self, graceful: bool = False) -> None:
        self._call("domain_destroy", graceful=graceful)
        self._ref = DomainRef(self._ref.name, self._ref.uuid, -1)

    def suspend(self) -> None:
        self._call("domain_suspend")

    def resume(self) -> None:
        self._call("domain_resume")

    def save(self, path: str, xml: str | None = None, start_state: str | None = None) -> None:
        args.start_state(start_state)
        self._call("domain_save", path=os.fspath(path), xml=xml, start_state=start_state)

    def managed_save(self, start_state: str | None = None) -> None:
        args.start_state(start_state)
        self._call("domain_managed_save", start_state=start_state)

    def managed_save_remove(self) -> None:
        self._call("domain_managed_save_remove")

    def has_managed_save_image(self) -> bool:
        return self.summary().managed_save

    def undefine(
        self, managed_save: bool = False, snapshots_metadata: bool = False, nvram: bool = False
    ) -> None:
        self._call(
            "domain_undefine",
            managed_save=managed_save,
            snapshots_metadata=snapshots_metadata,
            nvram=nvram,
        )

    # -- information --------------------------------------------------------------------------

    def summary(self) -> DomainSummary:
        result: DomainSummary = self._call("domain_get_summary")
        return result

    def info(self) -> DomainInfo:
        result: DomainInfo = self._call("domain_get_info")
        return result

    def state(self) -> tuple[int, int]:
        """(state, reason), numbers of :class:`virtkit.states.DomainState` and its reasons."""
        st = self._call("domain_get_state")
        return (st.state, st.reason)

    def is_active(self) -> bool:
        return self.summary().active

    def is_persistent(self) -> bool:
        return self.summary().persistent

    def xml_desc(self, inactive: bool = False, security_info: bool = False) -> str:
        if security_info and self._conn.read_only:
            raise VirtError(
                ErrorCode.OPERATION_DENIED,
                "operation forbidden: virDomainGetXMLDesc with secure flag on a read only "
                "connection",
            )
        result: str = self._call("domain_get_xml", inactive=inactive, security_info=security_info)
        return result

    @property
    def autostart(self) -> bool:
        result: bool = self._call("domain_get_autostart")
        return result

    def set_autostart(self, autostart: bool) -> None:
        self._call("domain_set_autostart", autostart=bool(autostart))

    # -- devices and resources ----------------------------------------------------------------

    def attach_device(self, xml: str, live: bool = False, config: bool = False) -> None:
        self._call("domain_attach_device", xml=xml, live=live, config=config)

    def detach_device(self, xml: str, live: bool = False, config: bool = False) -> None:
        self._call("domain_detach_device", xml=xml, live=live, config=config)

    def update_device(
        self, xml: str, live: bool = False, config: bool = False, force: bool = False
    ) -> None:
        self._call("domain_update_device", xml=xml, live=live, config=config, force=force)

    def set_memory(
        self, kib: int, live: bool = False, config: bool = False, maximum: bool = False
    ) -> None:
        if not isinstance(kib, int) or kib < 1:
            raise invalid_arg(f"memory size {kib!r} KiB for domain '{self.name}' must be >= 1")
        self._call("domain_set_memory", kib=kib, live=live, config=config, maximum=maximum)

    def set_max_memory(self, kib: int) -> None:
        self.set_memory(kib, config=True, maximum=True)

    def set_vcpus(
        self, count: int, live: bool = False, config: bool = False, maximum: bool = False
    ) -> None:
        if not isinstance(count, int) or count < 1:
            raise invalid_arg(f"vcpu count {count!r} for domain '{self.name}' must be >= 1")
        self._call("domain_set_vcpus", count=count, live=live, config=config, maximum=maximum)

    def vcpus_count(self, live: bool = False, config: bool = False, maximum: bool = False) -> int:
        result: int = self._call(
            "domain_get_vcpus_count", live=live, config=config, maximum=maximum
        )
        return result

    # -- snapshots ----------------------------------------------------------------------------

    def snapshot_create_xml(self, xml: str, redefine: bool = False) -> Snapshot:
        """Take a snapshot described by ``<domainsnapshot>``; it becomes the current one."""
        from virtkit.api.snapshot import Snapshot

        return Snapshot(self, self._call("snapshot_create_xml", xml=xml, redefine=redefine))

    def snapshot_summaries(self) -> list[SnapshotSummary]:
        result: list[SnapshotSummary] = self._call("snapshot_list")
        return result

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
        self._call("snapshot_get_xml", name=name, security_info=False)
        return Snapshot(self, name)

    def snapshot_current(self) -> Snapshot:
        from virtkit.api.snapshot import Snapshot

        return Snapshot(self, self._call("snapshot_current"))

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

        return Stream(self._conn, self._call("domain_open_console", device=device, force=force),
                      "console")

    # -- guest data, statistics, jobs ---------------------------------------------------------

    def interface_addresses(self, source: str = "lease") -> list[InterfaceAddress]:
        if source not in ("lease", "agent", "arp"):
            raise invalid_arg(f"unknown address source '{source}' (lease, agent, arp)")
        result: list[InterfaceAddress] = self._call("domain_interface_addresses", source=source)
        return result

    def block_stats(self, device: str) -> dict[str, int]:
        result: dict[str, int] = self._call("domain_block_stats", device=device)
        return result

    def interface_stats(self, device: str) -> dict[str, int]:
        result: dict[str, int] = self._call("domain_interface_stats", device=device)
        return result

    def memory_stats(self) -> dict[str, int]:
        result: dict[str, int] = self._call("domain_memory_stats")
        return result

    def job_info(self) -> JobInfo:
        result: JobInfo = self._call("domain_get_job_info")
        return result

    def abort_job(self) -> None:
        self._call("domain_abort_job")
