"""Secrets: the :class:`Secret` handle and the connection's secret methods.

Names follow libvirt-python in snake_case (``conn.secret_define_xml()``,
``conn.secret_lookup_by_usage()``, ``secret.value()``, ``secret.set_value()``...). A value is
bytes, kept apart from the definition: never in ``xml_desc()``, refused on a read-only
connection, and never readable back from a ``private='yes'`` secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from virtkit.api.handle import Handle
from virtkit.sdk.errors import invalid_arg
from virtkit.sdk.records import SecretRef, SecretSummary

if TYPE_CHECKING:
    from virtkit.api.connection import Connection
    from virtkit.runtime.hooks import Hooks

__all__ = ["USAGE_TYPES", "Secret", "SecretEventLifecycle", "SecretMethods"]

#: libvirt's virSecretUsageType numbers and virtkit's names for them
USAGE_TYPES: dict[int, str] = {0: "none", 1: "volume", 2: "ceph", 3: "iscsi", 4: "tls", 5: "vtpm"}


class SecretEventLifecycle:
    """The ``event`` numbers of ``secret-lifecycle`` events (libvirt's)."""

    DEFINED = 0
    UNDEFINED = 1


class Secret(Handle[SecretRef]):
    """A secret on one connection; ``uuid`` and its usage are fixed. It has no name: ``name``
    is its uuid."""

    __slots__ = ()
    ARG = "secret"

    @property
    def name(self) -> str:
        return self._ref.uuid

    @property
    def uuid(self) -> str:
        return self._ref.uuid

    def uuid_string(self) -> str:
        return self._ref.uuid

    def usage_type(self) -> int:
        """libvirt's number for the usage type (1 volume, 2 ceph, 3 iscsi, 4 tls, 5 vtpm)."""
        return {v: k for k, v in USAGE_TYPES.items()}[self._ref.usage_type]

    def usage_id(self) -> str:
        return self._ref.usage_id

    def xml_desc(self) -> str:
        """The definition; never the value."""
        return self._conn.hooks.secret_get_xml(secret=self._ref)

    def value(self) -> bytes:
        return self._conn.hooks.secret_get_value(secret=self._ref)

    def set_value(self, value: bytes | str) -> None:
        """Set the value (a str is stored as its UTF-8 bytes)."""
        data = value.encode() if isinstance(value, str) else bytes(value)
        self._conn.hooks.secret_set_value(secret=self._ref, value=data)

    def undefine(self) -> None:
        self._conn.hooks.secret_undefine(secret=self._ref)


class SecretMethods:
    """The connection's secret methods (a base of the Connection class)."""

    if TYPE_CHECKING:
        hooks: Hooks

    def _secret(self, ref: SecretRef) -> Secret:
        return Secret(cast("Connection", self), ref)

    def list_secret_summaries(self) -> list[SecretSummary]:
        return self.hooks.secret_list()

    def list_all_secrets(self) -> list[Secret]:
        return [self._secret(s.ref) for s in self.list_secret_summaries()]

    def list_secrets(self) -> list[str]:
        """The uuids of every secret (libvirt's listSecrets)."""
        return [s.ref.uuid for s in self.list_secret_summaries()]

    def num_of_secrets(self) -> int:
        return len(self.list_secret_summaries())

    def secret_lookup_by_uuid(self, uuid: str) -> Secret:
        return self._secret(self.hooks.secret_lookup_by_uuid(uuid=uuid))

    def secret_lookup_by_usage(self, usage_type: int | str, usage_id: str) -> Secret:
        """By usage: ``usage_type`` libvirt's number (1 volume, 2 ceph, 3 iscsi, 4 tls,
        5 vtpm) or its name."""
        kind = USAGE_TYPES.get(usage_type) if isinstance(usage_type, int) else usage_type
        if kind is None or kind == "none":
            raise invalid_arg(f"secret usage type {usage_type!r} cannot be looked up")
        return self._secret(self.hooks.secret_lookup_by_usage(usage_type=kind,
                                                              usage_id=usage_id))

    def secret_define_xml(self, xml: str) -> Secret:
        return self._secret(self.hooks.secret_define_xml(xml=xml))
