"""The :class:`Snapshot` handle: one snapshot of one domain."""

from __future__ import annotations

from typing import TYPE_CHECKING

from virtkit.sdk.records import SnapshotSummary

if TYPE_CHECKING:
    from virtkit.api.connection import Connection
    from virtkit.api.domain import Domain


class Snapshot:
    """A domain snapshot, named within its domain (libvirt's virDomainSnapshot)."""

    __slots__ = ("_dom", "_name")

    def __init__(self, dom: Domain, name: str) -> None:
        self._dom = dom
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def domain(self) -> Domain:
        return self._dom

    @property
    def connection(self) -> Connection:
        return self._dom.connection

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Snapshot) and (other._dom, other._name) == (self._dom, self._name)

    def __hash__(self) -> int:
        return hash((self._dom.uuid, self._name))

    def __repr__(self) -> str:
        return f"<virtkit.Snapshot {self._name!r} of {self._dom.name!r}>"

    def _summary(self) -> SnapshotSummary:
        for summary in self._dom.snapshot_summaries():
            if summary.ref.name == self._name:
                return summary
        from virtkit.sdk.errors import ErrorCode, VirtError

        raise VirtError(
            ErrorCode.NO_DOMAIN_SNAPSHOT,
            f"Domain snapshot not found: no domain snapshot with matching name '{self._name}'",
        )

    def xml_desc(self, security_info: bool = False) -> str:
        """The snapshot's XML; ``security_info`` includes secrets (refused on a read-only
        connection)."""
        return self._dom.connection.hooks.snapshot_get_xml(
            dom=self._dom.ref, name=self._name, security_info=security_info
        )

    def parent(self) -> Snapshot | None:
        parent = self._summary().parent
        return None if parent is None else Snapshot(self._dom, parent)

    def has_metadata(self, flags: int = 0) -> bool:
        """Whether virtkit keeps metadata for the snapshot (libvirt's hasMetadata): always, as
        every snapshot a driver lists is one it describes (NO_DOMAIN_SNAPSHOT once deleted)."""
        if flags:
            from virtkit.sdk.errors import invalid_arg

            raise invalid_arg(f"unsupported flags {flags!r}")
        self._summary()
        return True

    def is_current(self) -> bool:
        return self._summary().current

    def children(self) -> list[Snapshot]:
        return [Snapshot(self._dom, s.ref.name) for s in self._dom.snapshot_summaries()
                if s.parent == self._name]

    def revert(self, running: bool = False, paused: bool = False) -> None:
        """Return the domain to this snapshot (libvirt's revertToSnapshot)."""
        self._dom.connection.hooks.snapshot_revert(
            dom=self._dom.ref, name=self._name, running=running, paused=paused
        )

    def delete(
        self, children: bool = False, children_only: bool = False, metadata_only: bool = False
    ) -> None:
        self._dom.connection.hooks.snapshot_delete(
            dom=self._dom.ref,
            name=self._name,
            children=children,
            children_only=children_only,
            metadata_only=metadata_only,
        )
