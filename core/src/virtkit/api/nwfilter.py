"""Network filters and filter bindings: the :class:`NWFilter` and :class:`NWFilterBinding`
handles and the connection's methods for them (libvirt-python's names in snake_case:
``conn.nwfilter_define_xml()``, ``conn.nwfilter_binding_create_xml()``,
``binding.port_dev()``...)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from virtkit.api.handle import Handle
from virtkit.sdk import checks as args
from virtkit.sdk.errors import invalid_arg
from virtkit.sdk.records import NWFilterBindingRef, NWFilterRef

if TYPE_CHECKING:
    from virtkit.api.connection import Connection
    from virtkit.runtime.hooks import Hooks

__all__ = ["NWFilter", "NWFilterBinding", "NWFilterMethods"]


def _no_flags(flags: int) -> None:
    if flags not in (0, None):
        raise invalid_arg(f"unsupported flags {flags!r}")


class NWFilter(Handle[NWFilterRef]):
    """A network filter on one connection; its name and uuid are fixed."""

    __slots__ = ()
    ARG = "nwfilter"

    @property
    def uuid(self) -> str:
        return self._ref.uuid

    def uuid_string(self) -> str:
        return self._ref.uuid

    def xml_desc(self, flags: int = 0) -> str:
        _no_flags(flags)
        return self._conn.hooks.nwfilter_get_xml(nwfilter=self._ref)

    def undefine(self) -> None:
        self._conn.hooks.nwfilter_undefine(nwfilter=self._ref)


class NWFilterBinding(Handle[NWFilterBindingRef]):
    """A filter bound to one port device; ``name`` is the port device."""

    __slots__ = ()
    ARG = "binding"

    @property
    def name(self) -> str:
        return self._ref.port_dev

    def port_dev(self) -> str:
        return self._ref.port_dev

    def filter_name(self) -> str:
        return self._ref.filter_name

    def xml_desc(self, flags: int = 0) -> str:
        _no_flags(flags)
        return self._conn.hooks.nwfilter_binding_get_xml(binding=self._ref)

    def delete(self) -> None:
        self._conn.hooks.nwfilter_binding_delete(binding=self._ref)


class NWFilterMethods:
    """The connection's network filter methods (a base of the Connection class)."""

    if TYPE_CHECKING:
        hooks: Hooks

    def _nwfilter(self, ref: NWFilterRef) -> NWFilter:
        return NWFilter(cast("Connection", self), ref)

    def list_all_nwfilters(self, flags: int = 0) -> list[NWFilter]:
        _no_flags(flags)
        return [self._nwfilter(r) for r in self.hooks.nwfilter_list()]

    def list_nwfilters(self) -> list[str]:
        """The names of every filter (libvirt's listNWFilters)."""
        return [r.name for r in self.hooks.nwfilter_list()]

    def num_of_nwfilters(self) -> int:
        return len(self.hooks.nwfilter_list())

    def nwfilter_lookup_by_name(self, name: str) -> NWFilter:
        return self._nwfilter(
            self.hooks.nwfilter_lookup_by_name(name=args.name(name, "network filter")))

    def nwfilter_lookup_by_uuid(self, uuid: str | bytes) -> NWFilter:
        """By uuid: its text, or libvirt-python's 16 raw bytes."""
        if isinstance(uuid, bytes):
            import uuid as uuidlib

            uuid = str(uuidlib.UUID(bytes=uuid)) if len(uuid) == 16 else uuid.decode()
        return self._nwfilter(self.hooks.nwfilter_lookup_by_uuid(uuid=uuid))

    def nwfilter_lookup_by_uuid_string(self, uuid: str) -> NWFilter:
        return self.nwfilter_lookup_by_uuid(uuid)

    def nwfilter_define_xml(self, xml: str) -> NWFilter:
        """Define (or redefine) a filter (virsh nwfilter-define)."""
        return self._nwfilter(self.hooks.nwfilter_define_xml(xml=args.xml_text(xml)))

    def nwfilter_define_xml_flags(self, xml: str, flags: int = 0) -> NWFilter:
        _no_flags(flags)
        return self.nwfilter_define_xml(xml)

    def _binding(self, ref: NWFilterBindingRef) -> NWFilterBinding:
        return NWFilterBinding(cast("Connection", self), ref)

    def list_all_nwfilter_bindings(self, flags: int = 0) -> list[NWFilterBinding]:
        _no_flags(flags)
        return [self._binding(r) for r in self.hooks.nwfilter_binding_list()]

    def nwfilter_binding_lookup_by_port_dev(self, port_dev: str) -> NWFilterBinding:
        return self._binding(self.hooks.nwfilter_binding_lookup_by_port_dev(
            port_dev=args.name(port_dev, "port device")))

    def nwfilter_binding_create_xml(self, xml: str, flags: int = 0) -> NWFilterBinding:
        """Bind a filter to a port device (virsh nwfilter-binding-create)."""
        _no_flags(flags)
        return self._binding(self.hooks.nwfilter_binding_create_xml(xml=args.xml_text(xml)))
