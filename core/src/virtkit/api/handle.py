"""The base of every API handle (Domain, Network, StoragePool, ...): an identity record and the
connection it belongs to. A handle's calls pass its identity record as the hook argument its
hookspecs name (``dom``, ``net``, ``pool``, ``vol``, ``iface``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

if TYPE_CHECKING:
    from virtkit.api.connection import Connection

R = TypeVar("R")


class Handle(Generic[R]):
    """An object on one connection, known by its identity record ``ref``."""

    __slots__ = ("_conn", "_ref")

    #: the hook argument that carries this kind of object's identity record
    ARG: ClassVar[str]

    def __init__(self, conn: Connection, ref: R) -> None:
        self._conn = conn
        self._ref = ref

    @property
    def connection(self) -> Connection:
        return self._conn

    @property
    def ref(self) -> R:
        return self._ref

    @property
    def name(self) -> str:
        name: str = self._ref.name  # type: ignore[attr-defined]
        return name

    def _identity(self) -> Any:
        """What makes two handles the same object (the whole identity record by default)."""
        return self._ref

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Handle) and type(other) is type(self) and (
            other._identity() == self._identity()
        )

    def __hash__(self) -> int:
        return hash(self._identity())

    def __repr__(self) -> str:
        return f"<virtkit.{type(self).__name__} {self.name!r}>"

