"""Hookspecs for storage pools and volumes.

Pools cross as :class:`~virtkit.sdk.records.PoolRef`, volumes as
:class:`~virtkit.sdk.records.VolumeRef`.
Volume names are checked by the core (no ``/``, no ``..``) before a driver sees them, and a
driver trusts a volume's declared format, never probing it. Unless said otherwise, an unknown pool
raises NO_STORAGE_POOL and an unknown volume NO_STORAGE_VOL, naming them.
"""

from __future__ import annotations

from virtkit.sdk.checks import POOL_TYPES, WIPE_ALGORITHMS, non_negative, one_of, volume_name
from virtkit.sdk.hookspecs.markers import spec
from virtkit.sdk.records import (
    PoolInfo,
    PoolRef,
    PoolSummary,
    VolumeInfo,
    VolumeRef,
    VolumeSource,
)

# -- pools ----------------------------------------------------------------------------------------


@spec(readonly=True)
def virtkit_pool_list() -> list[PoolSummary] | None:
    """Every storage pool: identity, active, persistent, autostart.

    :raises: nothing.
    :state: none.
    """


@spec(readonly=True)
def virtkit_pool_get_summary(pool: PoolRef) -> PoolSummary | None:
    """One pool's list entry, without listing every pool.

    :return: its :class:`~virtkit.sdk.records.PoolSummary` (identity, active, persistent,
        autostart).
    :raises VirtError: NO_STORAGE_POOL.
    :state: none.
    """


@spec(readonly=True)
def virtkit_pool_lookup_by_name(name: str) -> PoolRef | None:
    """Find a pool by name.

    :raises VirtError: NO_STORAGE_POOL "Storage pool not found: no storage pool with matching
        name 'x'".
    :state: none.
    """


@spec(readonly=True)
def virtkit_pool_lookup_by_uuid(uuid: str) -> PoolRef | None:
    """Find a pool by uuid.

    :raises VirtError: NO_STORAGE_POOL naming the uuid.
    :state: none.
    """


@spec(readonly=False)
def virtkit_pool_define_xml(xml: str) -> PoolRef | None:
    """Define (or redefine) a persistent pool from ``<pool>`` XML.

    :raises VirtError: XML_ERROR; OPERATION_FAILED when the name or uuid belongs to another pool,
        or another pool uses the same target path.
    :state: an inactive persistent pool (redefine: new definition, state unchanged); event
        pool DEFINED.
    """


@spec(readonly=False)
def virtkit_pool_create_xml(xml: str, build: bool) -> PoolRef | None:
    """Create and start a transient pool (``build`` first builds it).

    :raises VirtError: as define; OPERATION_INVALID when a pool of that name is active.
    :state: an active transient pool; event pool STARTED.
    """


@spec(readonly=False)
def virtkit_pool_build(pool: PoolRef, overwrite: bool, no_overwrite: bool) -> bool | None:
    """Build the pool's underlying storage (make the directory, format the device...).

    :raises VirtError: OPERATION_INVALID when active; STORAGE_POOL_BUILT when already built and
        ``no_overwrite``.
    :state: the storage exists; the pool stays inactive.
    """


@spec(readonly=False)
def virtkit_pool_create(pool: PoolRef) -> bool | None:
    """Start (activate) an inactive pool and scan its volumes.

    :raises VirtError: OPERATION_INVALID "storage pool 'x' is already active"; the backend's
        error when its storage is missing.
    :state: active; event pool STARTED.
    """


@spec(readonly=False)
def virtkit_pool_destroy(pool: PoolRef) -> bool | None:
    """Stop an active pool; its data stays.

    :raises VirtError: OPERATION_INVALID "storage pool 'x' is not active".
    :state: inactive; a transient pool vanishes; event pool STOPPED.
    """


@spec(readonly=False)
def virtkit_pool_delete(pool: PoolRef) -> bool | None:
    """Delete an inactive pool's underlying storage (the opposite of build).

    :raises VirtError: OPERATION_INVALID when active.
    :state: the storage is gone; the definition stays.
    """


@spec(readonly=False)
def virtkit_pool_undefine(pool: PoolRef) -> bool | None:
    """Remove an inactive pool's persistent definition.

    :raises VirtError: OPERATION_INVALID when active or transient.
    :state: gone; event pool UNDEFINED.
    """


@spec(readonly=False)
def virtkit_pool_refresh(pool: PoolRef) -> bool | None:
    """Rescan an active pool's volumes and capacity.

    :raises VirtError: OPERATION_INVALID when inactive.
    :state: the volume list matches the storage.
    """


@spec(readonly=True)
def virtkit_pool_get_info(pool: PoolRef) -> PoolInfo | None:
    """State, capacity, allocation and available bytes.

    :raises VirtError: NO_STORAGE_POOL.
    :state: none.
    """


@spec(readonly=True)
def virtkit_pool_get_xml(pool: PoolRef, inactive: bool) -> str | None:
    """The pool's ``<pool>`` document (``inactive``: the persistent definition).

    :raises VirtError: NO_STORAGE_POOL.
    :state: none.
    """


@spec(readonly=False, checks={"pool_type": one_of("storage pool type", POOL_TYPES)})
def virtkit_pool_find_sources(pool_type: str, spec: str | None) -> str | None:
    """Discover the sources pools of ``pool_type`` could use on this host (virsh
    find-storage-pool-sources): volume groups for ``logical``, a host's exports for ``netfs``,
    an iSCSI portal's targets for ``iscsi``.

    :param pool_type: one of libvirt's pool types (checked at dispatch).
    :param spec: an optional ``<source>`` document narrowing the search: ``<host name=...
        port=...>`` (required for ``netfs`` and ``iscsi``), ``<initiator>``.
    :return: a ``<sources>`` document with one ``<source>`` per discovered source (as in a
        pool's ``<source>``: ``<device>``, ``<name>``, ``<host>``, ``<dir>``, ``<format>``).
    :raises VirtError: INVALID_ARG for an unknown pool type or a missing host; XML_ERROR for
        a ``spec`` that does not parse; NO_SUPPORT for a type without source discovery;
        OPERATION_FAILED when discovery fails.
    :state: none (discovery only reads; it is refused on a read-only connection, as libvirt
        refuses it, since it runs the host's tools and contacts other hosts).
    """


@spec(readonly=True)
def virtkit_pool_get_capabilities() -> str | None:
    """What pools this connection's storage supports (virsh pool-capabilities): a
    ``<storagepoolCapabilities>`` document with one ``<pool type=... supported='yes|no'>``
    per libvirt pool type; a supported one lists its ``<poolOptions>`` (the source formats,
    the default first) and ``<volOptions>`` (its volumes' formats) where it has any.

    :return: the XML text.
    :raises VirtError: none of its own (a driver without storage leaves the hook out:
        NO_SUPPORT).
    :state: none.
    """


@spec(readonly=True)
def virtkit_pool_get_autostart(pool: PoolRef) -> bool | None:
    """Whether the pool starts with the driver.

    :raises VirtError: NO_STORAGE_POOL.
    :state: none.
    """


@spec(readonly=False)
def virtkit_pool_set_autostart(pool: PoolRef, autostart: bool) -> bool | None:
    """Set or clear autostart.

    :raises VirtError: OPERATION_INVALID for a transient pool.
    :state: the autostart flag.
    """


# -- volumes --------------------------------------------------------------------------------------


@spec(readonly=True)
def virtkit_vol_list(pool: PoolRef) -> list[VolumeRef] | None:
    """The volumes of an active pool, by name.

    :raises VirtError: OPERATION_INVALID "storage pool 'x' is not active".
    :state: none.
    """


@spec(readonly=True, checks={"name": volume_name})
def virtkit_vol_lookup_by_name(pool: PoolRef, name: str) -> VolumeRef | None:
    """Find a volume in a pool.

    :raises VirtError: NO_STORAGE_VOL "Storage volume not found: no storage vol with matching
        name 'x'"; OPERATION_INVALID when the pool is inactive.
    :state: none.
    """


@spec(readonly=True)
def virtkit_vol_lookup_by_key(key: str) -> VolumeRef | None:
    """Find a volume by its key, in any active pool.

    :raises VirtError: NO_STORAGE_VOL naming the key.
    :state: none.
    """


@spec(readonly=True)
def virtkit_vol_lookup_by_path(path: str) -> VolumeRef | None:
    """Find a volume by its path, in any active pool.

    :raises VirtError: NO_STORAGE_VOL naming the path.
    :state: none.
    """


@spec(readonly=False)
def virtkit_vol_create_xml(pool: PoolRef, xml: str) -> VolumeRef | None:
    """Create a volume from ``<volume>`` XML in an active pool.

    :raises VirtError: XML_ERROR; INVALID_ARG for a name with ``/`` or ``..``; STORAGE_VOL_EXIST
        when the name is taken; OPERATION_FAILED when the pool lacks the space.
    :state: a new volume; the pool's allocation grows.
    """


@spec(readonly=False)
def virtkit_vol_clone(pool: PoolRef, xml: str, source: VolumeRef) -> VolumeRef | None:
    """Create a volume from ``xml`` holding a copy of ``source``'s data (a job).

    :raises VirtError: as vol_create_xml; NO_STORAGE_VOL for a missing source.
    :state: a new volume with the source's content.
    """


@spec(readonly=False)
def virtkit_vol_delete(vol: VolumeRef) -> bool | None:
    """Delete a volume and its data.

    :raises VirtError: NO_STORAGE_VOL; OPERATION_INVALID when its pool is inactive.
    :state: gone; the pool's allocation shrinks.
    """


@spec(readonly=False, checks={"algorithm": one_of("wipe algorithm", WIPE_ALGORITHMS)})
def virtkit_vol_wipe(vol: VolumeRef, algorithm: str) -> bool | None:
    """Overwrite a volume's data (``zero``, or libvirt's other algorithm names).

    :raises VirtError: ARGUMENT_UNSUPPORTED for an algorithm the driver lacks.
    :state: the data is overwritten; size unchanged.
    """


@spec(readonly=False)
def virtkit_vol_resize(
    vol: VolumeRef, capacity: int, allocate: bool, delta: bool, shrink: bool
) -> bool | None:
    """Change a volume's capacity (bytes; ``delta`` adds to the current).

    :raises VirtError: INVALID_ARG when shrinking without ``shrink``, or the result is < 0;
        OPERATION_FAILED when the pool lacks the space.
    :state: the new capacity.
    """


@spec(
    readonly=False,
    checks={"offset": non_negative("offset"), "length": non_negative("length")},
    opens_stream=True,
)
def virtkit_vol_upload(vol: VolumeRef, offset: int, length: int) -> int | None:
    """Open a stream that writes into the volume from ``offset`` (``length`` 0: to the end).

    :return: a stream id for ``stream_send``/``stream_finish``.
    :raises VirtError: INVALID_ARG when offset or length are outside the volume.
    :state: the volume's data changes as the stream is written.
    """


@spec(
    readonly=False,
    checks={"offset": non_negative("offset"), "length": non_negative("length")},
    opens_stream=True,
)
def virtkit_vol_download(vol: VolumeRef, offset: int, length: int) -> int | None:
    """Open a stream that reads the volume from ``offset`` (``length`` 0: to the end).

    :return: a stream id for ``stream_recv``.
    :raises VirtError: INVALID_ARG when offset or length are outside the volume.
    :state: none.
    """


@spec(readonly=True)
def virtkit_vol_get_info(vol: VolumeRef) -> VolumeInfo | None:
    """Type, capacity and allocation in bytes.

    :raises VirtError: NO_STORAGE_VOL.
    :state: none.
    """


@spec(readonly=True)
def virtkit_vol_get_xml(vol: VolumeRef) -> str | None:
    """The volume's ``<volume>`` document.

    :raises VirtError: NO_STORAGE_VOL.
    :state: none.
    """


@spec(readonly=True, checks={"volume_name": volume_name})
def virtkit_vol_translate(pool_name: str, volume_name: str) -> VolumeSource | None:
    """Translate a domain disk ``<source pool='P' volume='V'/>`` for a hypervisor driver that
    is about to start a guest (libvirt translates such disks the same way).

    A hypervisor driver calls it through ``context.call("vol_translate", {...})`` on its own
    connection, whose host storage service answers.

    :return: a :class:`~virtkit.sdk.records.VolumeSource`: the volume's path, its declared format
        and the disk type (``file`` or ``block``).
    :raises VirtError: NO_STORAGE_POOL; OPERATION_INVALID when the pool is not active;
        NO_STORAGE_VOL.
    :state: none.
    """
