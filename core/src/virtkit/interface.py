"""The :class:`Interface` handle: a host network interface (virsh iface-*)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ErrorCode, ErrorDomain, VirtError
from .records import InterfaceRef, InterfaceSummary

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Interface", "no_interface"]


def no_interface(name: str | None = None, *, mac: str | None = None) -> VirtError:
    """NO_INTERFACE naming the interface (by name, else by MAC)."""
    what = f"name '{name}'" if name is not None else f"MAC '{mac}'"
    return VirtError(
        ErrorCode.NO_INTERFACE,
        f"Interface not found: no interface with matching {what}",
        ErrorDomain.INTERFACE,
    )


class Interface:
    """A host interface on one connection; ``name`` and ``mac`` ("" if it has none) are fixed."""

    __slots__ = ("_conn", "_ref")

    def __init__(self, conn: Connection, ref: InterfaceRef) -> None:
        self._conn = conn
        self._ref = ref

    @property
    def name(self) -> str:
        return self._ref.name

    @property
    def mac(self) -> str:
        return self._ref.mac

    @property
    def ref(self) -> InterfaceRef:
        return self._ref

    def __repr__(self) -> str:
        return f"<virtkit.Interface {self._ref.name!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Interface) and other._ref == self._ref

    def __hash__(self) -> int:
        return hash(self._ref)

    def _call(self, op: str, **kwargs: Any) -> Any:
        return self._conn.call(op, iface=self._ref, **kwargs)

    def create(self) -> None:
        """Bring the interface up (virsh iface-start)."""
        self._call("interface_create")

    def destroy(self) -> None:
        """Bring the interface down (virsh iface-destroy)."""
        self._call("interface_destroy")

    def undefine(self) -> None:
        self._call("interface_undefine")

    def xml_desc(self, inactive: bool = False) -> str:
        result: str = self._call("interface_get_xml", inactive=inactive)
        return result

    def is_active(self) -> bool:
        summaries: list[InterfaceSummary] = self._conn.call("interface_list")
        for s in summaries:
            if s.ref.name == self._ref.name:
                return s.active
        raise no_interface(self._ref.name)
