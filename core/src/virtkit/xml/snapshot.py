"""The domain snapshot document (``<domainsnapshot>``,
https://libvirt.org/formatsnapshot.html)."""

# Field helpers (attr, child, ...) build attrs fields; they are not shared mutable defaults.
# ruff: noqa: RUF009

from __future__ import annotations

from collections.abc import Iterable

import attrs

from virtkit.xml._model import NAME, PATH, UINT, Model, attr, child, child_text, children
from virtkit.xml.domain import Domain, _load, type_choices

__all__ = ["DomainSnapshot", "SnapshotDisk", "SnapshotDisks", "SnapshotMemory"]

SNAPSHOT_STATES = (
    "nostate", "running", "blocked", "paused", "shutdown", "shutoff", "crashed", "pmsuspended",
    "disk-snapshot",
)


@attrs.frozen(kw_only=True)
class SnapshotParent(Model):
    name: str = child_text(conv=NAME, required=True)


@attrs.frozen(kw_only=True)
class SnapshotMemory(Model):
    snapshot: str = attr(choices=("no", "internal", "external"), required=True)
    file: str | None = attr(conv=PATH)


@attrs.frozen(kw_only=True)
class SnapshotDriver(Model):
    type: str = attr(required=True)


@attrs.frozen(kw_only=True)
class SnapshotSource(Model):
    file: str | None = attr(conv=PATH)
    dev: str | None = attr(conv=PATH)


@attrs.frozen(kw_only=True)
class SnapshotDisk(Model):
    name: str = attr(required=True)
    snapshot: str | None = attr(choices=("no", "internal", "external", "manual"))
    type: str | None = attr(choices=("file", "block"))
    driver: SnapshotDriver | None = child(SnapshotDriver)
    source: SnapshotSource | None = child(SnapshotSource)


@attrs.frozen(kw_only=True)
class SnapshotDisks(Model):
    disks: tuple[SnapshotDisk, ...] = children(SnapshotDisk, "disk")


@attrs.frozen(kw_only=True)
class DomainSnapshot(Model):
    """A ``<domainsnapshot>`` document; ``domain`` is the domain definition it captured."""

    TAG = "domainsnapshot"
    WHAT = "domain snapshot"
    SCHEMA = "snapshot"

    name: str | None = child_text(conv=NAME)
    description: str | None = child_text()
    state: str | None = child_text(choices=SNAPSHOT_STATES)
    parent: SnapshotParent | None = child(SnapshotParent)
    creation_time: int | None = child_text("creationTime", conv=UINT)
    memory: SnapshotMemory | None = child(SnapshotMemory)
    disks: SnapshotDisks | None = child(SnapshotDisks)
    domain: Domain | None = child(Domain)
    active: int | None = child_text(conv=UINT)

    @classmethod
    def from_xml(
        cls,
        text: str | bytes,
        *,
        validate: bool = False,
        strict: bool = False,
        domain_types: Iterable[str] | None = None,
        os_types: Iterable[str] | None = None,
    ) -> DomainSnapshot:
        """Parse a snapshot document; ``domain_types`` / ``os_types`` apply to the captured
        ``<domain>`` as in :meth:`Domain.from_xml <virtkit.xml.domain.Domain.from_xml>`."""
        result: DomainSnapshot = _load(
            cls, text, validate=validate, strict=strict,
            choices=type_choices(domain_types, os_types),
        )
        return result

    def check(self) -> None:
        from virtkit.xml.checks import check_snapshot

        check_snapshot(self)
