"""Secrets of the test driver: definitions and, apart from them, values, in memory per node.

The test node keeps everything in memory, values included (kept in a separate table from the
definitions, never in XML, events or logs). A host service that persists secrets keeps each
value in a mode-0600 file under its instance's state directory, next to the definition.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import Event, SecretRef, SecretSummary
from virtkit.xml.secret import USAGE_ELEMENT, SecretDef, parse_secret

if TYPE_CHECKING:
    from virtkit.drivers.test.node import TestNode

DEFINED, UNDEFINED = 0, 1


@attrs.define
class SecretTable:
    defs: dict[str, SecretDef] = attrs.field(factory=dict)
    values: dict[str, bytes] = attrs.field(factory=dict, repr=False)
    lock: threading.RLock = attrs.field(factory=threading.RLock)


_TABLES: weakref.WeakKeyDictionary[TestNode, SecretTable] = weakref.WeakKeyDictionary()
_TABLES_LOCK = threading.Lock()


def _ref(d: SecretDef) -> SecretRef:
    return SecretRef(d.uuid, d.usage_type, d.usage_id)


def _no_secret(uuid: str) -> VirtError:
    return VirtError(ErrorCode.NO_SECRET,
                     f"Secret not found: no secret with matching uuid '{uuid}'",
                     ErrorDomain.SECRET)


class SecretMixin:
    """Secret hooks of :class:`~virtkit.drivers.test.driver.TestDriver`."""

    if TYPE_CHECKING:

        @property
        def _node(self) -> TestNode: ...

    @property
    def _secrets(self) -> SecretTable:
        node = self._node
        with _TABLES_LOCK:
            table = _TABLES.get(node)
            if table is None:
                table = _TABLES[node] = SecretTable()
            return table

    def _secret(self, ref: SecretRef) -> SecretDef:
        found = self._secrets.defs.get(ref.uuid)
        if found is None:
            raise _no_secret(ref.uuid)
        return found

    @hookimpl
    def virtkit_secret_list(self) -> list[SecretSummary]:
        t = self._secrets
        with t.lock:
            return [SecretSummary(_ref(d), d.ephemeral, d.private, u in t.values)
                    for u, d in sorted(t.defs.items())]

    @hookimpl
    def virtkit_secret_lookup_by_uuid(self, uuid: str) -> SecretRef:
        return _ref(self._secret(SecretRef(uuid)))

    @hookimpl
    def virtkit_secret_lookup_by_usage(self, usage_type: str, usage_id: str) -> SecretRef:
        if usage_type not in USAGE_ELEMENT:
            raise VirtError(ErrorCode.INVALID_ARG,
                            f"unknown secret usage type '{usage_type}'", ErrorDomain.SECRET)
        with self._secrets.lock:
            for d in self._secrets.defs.values():
                if (d.usage_type, d.usage_id) == (usage_type, usage_id):
                    return _ref(d)
        raise VirtError(ErrorCode.NO_SECRET,
                        f"Secret not found: no secret with matching usage '{usage_id}'",
                        ErrorDomain.SECRET)

    @hookimpl
    def virtkit_secret_get_xml(self, secret: SecretRef) -> str:
        return self._secret(secret).to_xml()

    @hookimpl
    def virtkit_secret_define_xml(self, xml: str) -> SecretRef:
        new = parse_secret(xml)
        t = self._secrets
        with t.lock:
            for d in t.defs.values():
                if d.uuid != new.uuid and new.usage_type != "none" and \
                        (d.usage_type, d.usage_id) == (new.usage_type, new.usage_id):
                    raise VirtError(ErrorCode.OPERATION_FAILED,
                                    f"a secret with UUID {d.uuid} already defined for use "
                                    f"with {new.usage_id}", ErrorDomain.SECRET)
            old = t.defs.get(new.uuid)
            if old is not None and (old.private, old.ephemeral) != (new.private, new.ephemeral):
                what = "private" if old.private != new.private else "ephemeral"
                raise VirtError(ErrorCode.INVALID_SECRET,
                                f"cannot change {what} flag on existing secret '{new.uuid}'",
                                ErrorDomain.SECRET)
            t.defs[new.uuid] = new
        self._node.emit(Event("secret-lifecycle", _ref(new), DEFINED, 0))
        return _ref(new)

    @hookimpl
    def virtkit_secret_undefine(self, secret: SecretRef) -> bool:
        t = self._secrets
        with t.lock:
            d = self._secret(secret)
            del t.defs[d.uuid]
            t.values.pop(d.uuid, None)
        self._node.emit(Event("secret-lifecycle", _ref(d), UNDEFINED, 0))
        return True

    @hookimpl
    def virtkit_secret_get_value(self, secret: SecretRef) -> bytes:
        t = self._secrets
        with t.lock:
            d = self._secret(secret)
            if d.private:
                raise VirtError(ErrorCode.INVALID_SECRET, "secret is private",
                                ErrorDomain.SECRET)
            value = t.values.get(d.uuid)
        if value is None:
            raise VirtError(ErrorCode.NO_SECRET, f"secret '{d.uuid}' does not have a value",
                            ErrorDomain.SECRET)
        return value

    @hookimpl
    def virtkit_secret_set_value(self, secret: SecretRef, value: bytes) -> bool:
        t = self._secrets
        with t.lock:
            d = self._secret(secret)
            t.values[d.uuid] = bytes(value)
        self._node.emit(Event("secret-value-changed", _ref(d)))
        return True
