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
        result: InterfaceSummary = self._call("interface_get_summary")
        return result.active
