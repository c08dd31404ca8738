"""Hookspecs for secrets (libvirt's virSecret): passphrases, keys and passwords guests use.

A secret is a definition (``<secret>`` XML: uuid, description, usage) and, kept apart from it, a
value (bytes). The value never appears in XML, events, logs or the audit trail; reading or
setting it is refused on a read-only connection (OPERATION_DENIED) before any driver code; and a
``private='yes'`` secret's value is never read back (INVALID_SECRET "secret is private"). An
``ephemeral='yes'`` secret is kept in memory only. Secrets cross as :class:`SecretRef` (uuid and
usage). An unknown secret raises NO_SECRET (66) "Secret not found: no secret with matching uuid
'x'". Drivers emit ``secret-lifecycle`` (0 defined, 1 undefined) and ``secret-value-changed``.

A real host service keeps each value in a file of mode 0600 under its instance's state
directory (``<config>/secrets/<uuid>.value``, written with ``atomic_write``), next to, never
inside, the definition ``<uuid>.xml``; an ephemeral secret's value stays in memory.
"""

from __future__ import annotations

from virtkit.sdk.hookspecs.markers import spec
from virtkit.sdk.records import SecretRef, SecretSummary

__all__ = ["SecretRef", "SecretSummary"]


@spec(readonly=True)
def virtkit_secret_list() -> list[SecretSummary] | None:
    """Every defined secret.

    :return: a list of :class:`SecretSummary` (no values), sorted by uuid.
    :raises VirtError: INTERNAL_ERROR when the store cannot be read.
    :state: none.
    """


@spec(readonly=True)
def virtkit_secret_lookup_by_uuid(uuid: str) -> SecretRef | None:
    """Find a secret by uuid.

    :return: its :class:`SecretRef`.
    :raises VirtError: NO_SECRET naming the uuid.
    :state: none.
    """


@spec(readonly=True)
def virtkit_secret_lookup_by_usage(usage_type: str, usage_id: str) -> SecretRef | None:
    """Find a secret by its usage (``volume`` and a path, ``ceph`` and a name...).

    :param usage_type: ``volume``, ``ceph``, ``iscsi``, ``tls`` or ``vtpm``.
    :param usage_id: the volume path, the ceph/tls/vtpm name or the iSCSI target.
    :return: its :class:`SecretRef`.
    :raises VirtError: NO_SECRET naming the usage; INVALID_ARG for an unknown usage type.
    :state: none.
    """


@spec(readonly=True)
def virtkit_secret_get_xml(secret: SecretRef) -> str | None:
    """The secret's ``<secret>`` definition; never its value.

    :return: the XML text.
    :raises VirtError: NO_SECRET.
    :state: none.
    """


@spec(readonly=False)
def virtkit_secret_define_xml(xml: str) -> SecretRef | None:
    """Define a secret, or redefine the one with the same uuid (its value is kept).

    :return: the secret's :class:`SecretRef`.
    :raises VirtError: XML_ERROR; OPERATION_FAILED when another secret has this usage;
        INVALID_SECRET when a redefinition changes ``private`` or ``ephemeral``.
    :state: the secret is defined (without a value when new); event DEFINED.
    """


@spec(readonly=False)
def virtkit_secret_undefine(secret: SecretRef) -> bool | None:
    """Remove a secret and its value.

    :return: True.
    :raises VirtError: NO_SECRET.
    :state: the secret and its value are gone; event UNDEFINED.
    """


@spec(readonly=False)
def virtkit_secret_get_value(secret: SecretRef) -> bytes | None:
    """The secret's value (never on a read-only connection).

    :return: the value's bytes.
    :raises VirtError: NO_SECRET, also when it has no value yet; INVALID_SECRET "secret is
        private" for a ``private='yes'`` secret.
    :state: none.
    """


@spec(readonly=False)
def virtkit_secret_set_value(secret: SecretRef, value: bytes) -> bool | None:
    """Set (or replace) the secret's value.

    :param value: the bytes; kept apart from the definition, never logged.
    :return: True.
    :raises VirtError: NO_SECRET.
    :state: the secret has this value; event VALUE_CHANGED.
    """
