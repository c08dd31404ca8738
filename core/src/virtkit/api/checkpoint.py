"""Checkpoints and incremental backup: the :class:`Checkpoint` handle and the domain's
checkpoint and backup methods (libvirt-python's names in snake_case:
``dom.checkpoint_create_xml()``, ``dom.list_all_checkpoints()``, ``cp.get_parent()``,
``dom.backup_begin()``, ``dom.backup_get_xml_desc()``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from virtkit.sdk import checks as args
from virtkit.sdk.errors import invalid_arg
from virtkit.sdk.records import CheckpointRef, CheckpointSummary, DomainRef

if TYPE_CHECKING:
    from virtkit.api.connection import Connection
    from virtkit.api.domain import Domain

__all__ = [
    "CHECKPOINT_CREATE_REDEFINE", "CHECKPOINT_DELETE_CHILDREN", "CHECKPOINT_DELETE_CHILDREN_ONLY",
    "CHECKPOINT_DELETE_METADATA_ONLY", "CHECKPOINT_XML_NO_DOMAIN", "Checkpoint",
    "CheckpointMethods",
]

CHECKPOINT_CREATE_REDEFINE = 1
CHECKPOINT_DELETE_CHILDREN = 1
CHECKPOINT_DELETE_METADATA_ONLY = 2
CHECKPOINT_DELETE_CHILDREN_ONLY = 4
CHECKPOINT_XML_NO_DOMAIN = 2


def _flags(flags: int, known: int) -> int:
    if isinstance(flags, bool) or not isinstance(flags, int) or flags & ~known:
        raise invalid_arg(f"unsupported flags {flags!r} (known: {known:#x})")
    return flags


class Checkpoint:
    """A checkpoint of one domain, named within it (libvirt's virDomainCheckpoint)."""

    __slots__ = ("_dom", "_ref")

    def __init__(self, dom: Domain, ref: CheckpointRef) -> None:
        self._dom = dom
        self._ref = ref

    @property
    def name(self) -> str:
        return self._ref.name

    def get_name(self) -> str:
        return self._ref.name

    @property
    def ref(self) -> CheckpointRef:
        return self._ref

    def domain(self) -> Domain:
        return self._dom

    def get_domain(self) -> Domain:
        return self._dom

    @property
    def connection(self) -> Connection:
        return self._dom.connection

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Checkpoint) and other._ref == self._ref

    def __hash__(self) -> int:
        return hash(self._ref)

    def __repr__(self) -> str:
        return f"<virtkit.Checkpoint {self._ref.name!r} of {self._dom.name!r}>"

    def _summary(self) -> CheckpointSummary:
        for s in self._dom.checkpoint_summaries():
            if s.ref.name == self._ref.name:
                return s
        # gone: the lookup raises NO_DOMAIN_CHECKPOINT naming it
        self._dom.connection.hooks.checkpoint_lookup_by_name(dom=self._dom.ref,
                                                            name=self._ref.name)
        raise AssertionError("unreachable")

    def get_xml_desc(self, flags: int = 0, *, no_domain: bool = False) -> str:
        """The ``<domaincheckpoint>``; without the domain definition with
        ``CHECKPOINT_XML_NO_DOMAIN``."""
        _flags(flags, CHECKPOINT_XML_NO_DOMAIN | 1 | 4)  # SECURE and SIZE are accepted
        return self._dom.connection.hooks.checkpoint_get_xml(
            checkpoint=self._ref,
            no_domain=no_domain or bool(flags & CHECKPOINT_XML_NO_DOMAIN))

    def get_parent(self, flags: int = 0) -> Checkpoint | None:
        _flags(flags, 0)
        parent = self._summary().parent
        return None if parent is None else Checkpoint(self._dom, CheckpointRef(self._dom.ref,
                                                                                 parent))

    def list_all_children(self, flags: int = 0) -> list[Checkpoint]:
        """Direct children (with libvirt's DESCENDANTS flag 1: every descendant)."""
        _flags(flags, 1)
        summaries = self._dom.checkpoint_summaries()
        names = {self._ref.name}
        out = []
        for s in summaries:  # oldest first: a child comes after its parent
            if s.parent in names:
                out.append(Checkpoint(self._dom, s.ref))
                if flags & 1:
                    names.add(s.ref.name)
        return out

    def delete(self, flags: int = 0, *, children: bool = False, children_only: bool = False,
               metadata_only: bool = False) -> None:
        _flags(flags, CHECKPOINT_DELETE_CHILDREN | CHECKPOINT_DELETE_METADATA_ONLY
               | CHECKPOINT_DELETE_CHILDREN_ONLY)
        self._dom.connection.hooks.checkpoint_delete(
            checkpoint=self._ref,
            children=children or bool(flags & CHECKPOINT_DELETE_CHILDREN),
            children_only=children_only or bool(flags & CHECKPOINT_DELETE_CHILDREN_ONLY),
            metadata_only=metadata_only or bool(flags & CHECKPOINT_DELETE_METADATA_ONLY),
        )


class CheckpointMethods:
    """The domain's checkpoint and backup methods (mixed into Domain)."""

    __slots__ = ()
    if TYPE_CHECKING:
        _conn: Connection
        _ref: DomainRef

    def _as_domain(self) -> Domain:
        return self  # type: ignore[return-value]

    def checkpoint_create_xml(self, xml: str, flags: int = 0, *,
                              redefine: bool = False) -> Checkpoint:
        """Create a checkpoint from ``<domaincheckpoint>`` (virsh checkpoint-create)."""
        _flags(flags, CHECKPOINT_CREATE_REDEFINE | 2 | 4)  # QUIESCE and REDEFINE_VALIDATE
        ref = self._conn.hooks.checkpoint_create_xml(
            dom=self._ref, xml=args.xml_text(xml),
            redefine=redefine or bool(flags & CHECKPOINT_CREATE_REDEFINE))
        return Checkpoint(self._as_domain(), ref)

    def checkpoint_summaries(self) -> list[CheckpointSummary]:
        return self._conn.hooks.checkpoint_list(dom=self._ref)

    def list_all_checkpoints(self, flags: int = 0) -> list[Checkpoint]:
        """Every checkpoint, oldest first (with libvirt's ROOTS flag 1: those without parent;
        LEAVES 4 / NO_LEAVES 8: those without / with children)."""
        _flags(flags, 1 | 2 | 4 | 8)
        out = []
        for s in self.checkpoint_summaries():
            if flags & 1 and s.parent is not None:
                continue
            if flags & 4 and s.children:
                continue
            if flags & 8 and not s.children:
                continue
            out.append(Checkpoint(self._as_domain(), s.ref))
        return out

    def checkpoint_lookup_by_name(self, name: str, flags: int = 0) -> Checkpoint:
        _flags(flags, 0)
        return Checkpoint(self._as_domain(), self._conn.hooks.checkpoint_lookup_by_name(
            dom=self._ref, name=args.name(name, "checkpoint")))

    def backup_begin(self, backup_xml: str | None = None, checkpoint_xml: str | None = None,
                     flags: int = 0) -> None:
        """Start a backup job (``<domainbackup>``; None: a full push backup of every disk),
        with ``checkpoint_xml`` creating a checkpoint at its start."""
        _flags(flags, 1)  # REUSE_EXTERNAL
        self._conn.hooks.domain_backup_begin(
            dom=self._ref, backup_xml=args.xml_text(backup_xml or "<domainbackup/>"),
            checkpoint_xml=None if checkpoint_xml is None else args.xml_text(checkpoint_xml))

    def backup_get_xml_desc(self, flags: int = 0) -> str:
        """The running backup job's ``<domainbackup>``."""
        _flags(flags, 0)
        return self._conn.hooks.domain_backup_get_xml(dom=self._ref)
