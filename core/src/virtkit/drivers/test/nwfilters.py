"""Network filters and filter bindings of the test driver, in memory per node.

Filters may reference each other (``<filterref>``); a definition that would close a loop is
refused, and so is undefining a filter another filter or a binding still uses. A binding names
a defined filter and one port device; a port device has at most one binding.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import NWFilterBindingRef, NWFilterRef
from virtkit.xml.nwfilter import BindingDef, FilterDef, parse_binding, parse_filter

if TYPE_CHECKING:
    from virtkit.drivers.test.node import TestNode


@attrs.define
class FilterTable:
    filters: dict[str, FilterDef] = attrs.field(factory=dict)  # by name
    bindings: dict[str, BindingDef] = attrs.field(factory=dict)  # by port device
    lock: threading.RLock = attrs.field(factory=threading.RLock)


_TABLES: weakref.WeakKeyDictionary[TestNode, FilterTable] = weakref.WeakKeyDictionary()
_TABLES_LOCK = threading.Lock()


def _err(code: ErrorCode, message: str) -> VirtError:
    return VirtError(code, message, ErrorDomain.NWFILTER)


def _no_filter(what: str) -> VirtError:
    return _err(ErrorCode.NO_NWFILTER, f"Network filter not found: no nwfilter with matching "
                                       f"{what}")


def _no_binding(port_dev: str) -> VirtError:
    return _err(ErrorCode.NO_NWFILTER_BINDING,
                f"Network filter binding not found: no nwfilter binding for port dev "
                f"'{port_dev}'")


def _ref(f: FilterDef) -> NWFilterRef:
    return NWFilterRef(f.name, f.uuid)


def _bref(b: BindingDef) -> NWFilterBindingRef:
    return NWFilterBindingRef(b.port_dev, b.filter.filter)


class NWFilterMixin:
    """Network filter hooks of :class:`~virtkit.drivers.test.driver.TestDriver`."""

    if TYPE_CHECKING:

        @property
        def _node(self) -> TestNode: ...

    @property
    def _nwfilters(self) -> FilterTable:
        node = self._node
        with _TABLES_LOCK:
            table = _TABLES.get(node)
            if table is None:
                table = _TABLES[node] = FilterTable()
            return table

    def _filter(self, ref: NWFilterRef) -> FilterDef:
        found = self._nwfilters.filters.get(ref.name)
        if found is None or found.uuid != ref.uuid:
            raise _no_filter(f"name '{ref.name}'")
        return found

    def _binding(self, ref: NWFilterBindingRef) -> BindingDef:
        found = self._nwfilters.bindings.get(ref.port_dev)
        if found is None:
            raise _no_binding(ref.port_dev)
        return found

    @hookimpl
    def virtkit_nwfilter_list(self) -> list[NWFilterRef]:
        t = self._nwfilters
        with t.lock:
            return [_ref(f) for _, f in sorted(t.filters.items())]

    @hookimpl
    def virtkit_nwfilter_lookup_by_name(self, name: str) -> NWFilterRef:
        t = self._nwfilters
        with t.lock:
            found = t.filters.get(name)
            if found is None:
                raise _no_filter(f"name '{name}'")
            return _ref(found)

    @hookimpl
    def virtkit_nwfilter_lookup_by_uuid(self, uuid: str) -> NWFilterRef:
        t = self._nwfilters
        with t.lock:
            for f in t.filters.values():
                if f.uuid == uuid:
                    return _ref(f)
        raise _no_filter(f"uuid '{uuid}'")

    @hookimpl
    def virtkit_nwfilter_get_xml(self, nwfilter: NWFilterRef) -> str:
        with self._nwfilters.lock:
            return self._filter(nwfilter).to_xml()

    @hookimpl
    def virtkit_nwfilter_define_xml(self, xml: str) -> NWFilterRef:
        new = parse_filter(xml)
        t = self._nwfilters
        with t.lock:
            same_name = t.filters.get(new.name)
            if same_name is not None and same_name.uuid != new.uuid:
                raise _err(ErrorCode.OPERATION_FAILED,
                           f"operation failed: filter '{new.name}' already exists with uuid "
                           f"{same_name.uuid}")
            for f in t.filters.values():
                if f.uuid == new.uuid and f.name != new.name:
                    raise _err(ErrorCode.OPERATION_FAILED,
                               f"operation failed: filter '{f.name}' already exists with uuid "
                               f"{new.uuid}")
            planned = {**t.filters, new.name: new}
            loop = _loop(planned, new.name)
            if loop:
                raise _err(ErrorCode.INVALID_NWFILTER,
                           f"filter would reference itself through {' -> '.join(loop)}")
            t.filters[new.name] = new
            return _ref(new)

    @hookimpl
    def virtkit_nwfilter_undefine(self, nwfilter: NWFilterRef) -> bool:
        t = self._nwfilters
        with t.lock:
            f = self._filter(nwfilter)
            users = [g.name for g in t.filters.values() if f.name in g.references]
            users += [f"binding of port '{b.port_dev}'" for b in t.bindings.values()
                      if b.filter.filter == f.name]
            if users:
                raise _err(ErrorCode.OPERATION_INVALID,
                           f"nwfilter '{f.name}' is in use by {', '.join(users)}")
            del t.filters[f.name]
            return True

    @hookimpl
    def virtkit_nwfilter_binding_list(self) -> list[NWFilterBindingRef]:
        t = self._nwfilters
        with t.lock:
            return [_bref(b) for _, b in sorted(t.bindings.items())]

    @hookimpl
    def virtkit_nwfilter_binding_lookup_by_port_dev(self, port_dev: str) -> NWFilterBindingRef:
        t = self._nwfilters
        with t.lock:
            found = t.bindings.get(port_dev)
            if found is None:
                raise _no_binding(port_dev)
            return _bref(found)

    @hookimpl
    def virtkit_nwfilter_binding_get_xml(self, binding: NWFilterBindingRef) -> str:
        with self._nwfilters.lock:
            return self._binding(binding).to_xml()

    @hookimpl
    def virtkit_nwfilter_binding_create_xml(self, xml: str) -> NWFilterBindingRef:
        new = parse_binding(xml)
        t = self._nwfilters
        with t.lock:
            if new.filter.filter not in t.filters:
                raise _no_filter(f"name '{new.filter.filter}'")
            if new.port_dev in t.bindings:
                raise _err(ErrorCode.OPERATION_FAILED,
                           f"operation failed: filter binding for portdev {new.port_dev} "
                           f"already exists")
            t.bindings[new.port_dev] = new
            return _bref(new)

    @hookimpl
    def virtkit_nwfilter_binding_delete(self, binding: NWFilterBindingRef) -> bool:
        t = self._nwfilters
        with t.lock:
            self._binding(binding)
            del t.bindings[binding.port_dev]
            return True


def _loop(filters: dict[str, FilterDef], start: str) -> list[str]:
    """The reference path from ``start`` back to itself, or [] when there is none."""
    path: list[str] = []
    seen: set[str] = set()

    def walk(name: str) -> bool:
        path.append(name)
        f = filters.get(name)
        for ref in f.references if f is not None else ():
            if ref == start:
                path.append(ref)
                return True
            if ref not in seen:
                seen.add(ref)
                if walk(ref):
                    return True
        path.pop()
        return False

    return path if walk(start) else []
