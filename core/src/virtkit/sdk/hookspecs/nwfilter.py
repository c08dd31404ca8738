"""Hookspecs for network filters and their bindings (libvirt's virNWFilter,
virNWFilterBinding).

A filter is a named set of rules (``<filter name='...' chain='...'>``) that may reference other
filters; a binding applies one filter, with its parameters, to one guest port device
(``<filterbinding>``: owner domain, ``portdev``, ``mac``, ``filterref``). Filters cross as
:class:`NWFilterRef` (name, uuid), bindings as :class:`NWFilterBindingRef` (port device,
filter name). An unknown filter raises NO_NWFILTER (62) "Network filter not found: ..."; an
unknown binding NO_NWFILTER_BINDING (101).
"""

from __future__ import annotations

from virtkit.sdk.hookspecs.markers import spec
from virtkit.sdk.records import NWFilterBindingRef, NWFilterRef

__all__ = ["NWFilterBindingRef", "NWFilterRef"]


@spec(readonly=True)
def virtkit_nwfilter_list() -> list[NWFilterRef] | None:
    """Every defined network filter.

    :return: their :class:`NWFilterRef`, sorted by name.
    :raises VirtError: INTERNAL_ERROR when the filters cannot be read.
    :state: none.
    """


@spec(readonly=True)
def virtkit_nwfilter_lookup_by_name(name: str) -> NWFilterRef | None:
    """Find a network filter by name.

    :return: its :class:`NWFilterRef`.
    :raises VirtError: NO_NWFILTER naming it.
    :state: none.
    """


@spec(readonly=True)
def virtkit_nwfilter_lookup_by_uuid(uuid: str) -> NWFilterRef | None:
    """Find a network filter by uuid.

    :return: its :class:`NWFilterRef`.
    :raises VirtError: NO_NWFILTER naming the uuid.
    :state: none.
    """


@spec(readonly=True)
def virtkit_nwfilter_get_xml(nwfilter: NWFilterRef) -> str | None:
    """The filter's ``<filter>`` document.

    :return: the XML text.
    :raises VirtError: NO_NWFILTER.
    :state: none.
    """


@spec(readonly=False)
def virtkit_nwfilter_define_xml(xml: str) -> NWFilterRef | None:
    """Define a network filter, or redefine the one with the same name and uuid.

    :return: the filter's :class:`NWFilterRef`.
    :raises VirtError: XML_ERROR for a malformed document; OPERATION_FAILED when the name or the
        uuid belongs to another filter; INVALID_NWFILTER when the definition would make filters
        reference each other in a loop (nothing is changed then).
    :state: the filter is defined; bindings that use it apply the new rules.
    """


@spec(readonly=False)
def virtkit_nwfilter_undefine(nwfilter: NWFilterRef) -> bool | None:
    """Remove a network filter.

    :return: True.
    :raises VirtError: NO_NWFILTER; OPERATION_INVALID naming the filter or binding that still
        uses it.
    :state: the filter is gone.
    """


@spec(readonly=True)
def virtkit_nwfilter_binding_list() -> list[NWFilterBindingRef] | None:
    """Every network filter binding.

    :return: their :class:`NWFilterBindingRef`, sorted by port device.
    :raises VirtError: INTERNAL_ERROR when the bindings cannot be read.
    :state: none.
    """


@spec(readonly=True)
def virtkit_nwfilter_binding_lookup_by_port_dev(port_dev: str) -> NWFilterBindingRef | None:
    """Find the binding of a port device (``vnet0``).

    :return: its :class:`NWFilterBindingRef`.
    :raises VirtError: NO_NWFILTER_BINDING naming the port device.
    :state: none.
    """


@spec(readonly=True)
def virtkit_nwfilter_binding_get_xml(binding: NWFilterBindingRef) -> str | None:
    """The binding's ``<filterbinding>`` document.

    :return: the XML text.
    :raises VirtError: NO_NWFILTER_BINDING.
    :state: none.
    """


@spec(readonly=False)
def virtkit_nwfilter_binding_create_xml(xml: str) -> NWFilterBindingRef | None:
    """Apply a filter to a port device (libvirt's virNWFilterBindingCreateXML).

    :return: the binding's :class:`NWFilterBindingRef`.
    :raises VirtError: XML_ERROR; NO_NWFILTER when the filter is not defined;
        OPERATION_FAILED when the port device already has a binding.
    :state: the port's traffic is filtered.
    """


@spec(readonly=False)
def virtkit_nwfilter_binding_delete(binding: NWFilterBindingRef) -> bool | None:
    """Remove a binding: the port's traffic is no longer filtered.

    :return: True.
    :raises VirtError: NO_NWFILTER_BINDING.
    :state: the binding is gone.
    """
