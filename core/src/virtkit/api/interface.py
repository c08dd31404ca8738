"""The :class:`Interface` handle: a host network interface (virsh iface-*)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from virtkit.api.handle import Handle
from virtkit.sdk.errors import no_interface
from virtkit.sdk.records import InterfaceRef, InterfaceSummary

if TYPE_CHECKING:
    pass

__all__ = ["Interface", "no_interface"]


class Interface(Handle[InterfaceRef]):
    """A host interface on one connection; ``name`` and ``mac`` ("" if it has none) are fixed."""

    __slots__ = ()
    ARG = "iface"

    @property
    def mac(self) -> str:
        return self._ref.mac

    def create(self) -> None:
        """Bring the interface up (virsh iface-start)."""
        self._conn.hooks.interface_create(iface=self._ref)

    def destroy(self) -> None:
        """Bring the interface down (virsh iface-destroy)."""
        self._conn.hooks.interface_destroy(iface=self._ref)

    def undefine(self) -> None:
        self._conn.hooks.interface_undefine(iface=self._ref)

    def xml_desc(self, inactive: bool = False) -> str:
        return self._conn.hooks.interface_get_xml(iface=self._ref, inactive=inactive)

    def is_active(self) -> bool:
        result: InterfaceSummary = self._conn.hooks.interface_get_summary(iface=self._ref)
        return result.active
