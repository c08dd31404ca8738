"""Migration tuning on :class:`~virtkit.api.domain.Domain` and libvirt's parameter forms of
migration (``migrate3``, ``migrate_to_uri3``), in libvirt-python's names in snake_case."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from virtkit.sdk.errors import invalid_arg
from virtkit.sdk.records import DomainRef

if TYPE_CHECKING:
    from virtkit.api.connection import Connection
    from virtkit.api.domain import Domain

#: libvirt's migration parameters (VIR_MIGRATE_PARAM_*) virtkit takes: those it uses, and
#: those a driver may ignore when it chooses the transport itself
USED = ("destination_name", "destination_xml", "bandwidth", "bandwidth.postcopy")
ACCEPTED = (*USED, "persistent_xml", "migrate_uri", "graphics_uri", "listen_address",
            "migrate_disks", "disks_port", "disks_uri", "compression", "compression.mt.level",
            "compression.mt.threads", "compression.mt.dthreads", "compression.xbzrle.cache",
            "compression.zlib.level", "compression.zstd.level", "auto_converge.initial",
            "auto_converge.increment", "parallel.connections", "tls.destination")


class MigrationMethods:
    """Mixed into Domain."""

    __slots__ = ()
    if TYPE_CHECKING:
        _conn: Connection
        _ref: DomainRef

    def migrate_get_max_downtime(self) -> int:
        """The longest switch-over pause of a live migration, in ms."""
        return self._conn.hooks.domain_migrate_get_max_downtime(dom=self._ref)

    def migrate_set_max_downtime(self, downtime: int) -> None:
        self._conn.hooks.domain_migrate_set_max_downtime(dom=self._ref, downtime=downtime)

    def migrate_get_max_speed(self, postcopy: bool = False) -> int:
        """The migration bandwidth limit in MiB/s (of the post-copy phase with ``postcopy``)."""
        return self._conn.hooks.domain_migrate_get_max_speed(dom=self._ref, postcopy=postcopy)

    def migrate_set_max_speed(self, bandwidth: int, postcopy: bool = False) -> None:
        self._conn.hooks.domain_migrate_set_max_speed(dom=self._ref, bandwidth=bandwidth,
                                                      postcopy=postcopy)

    def migrate_start_post_copy(self) -> None:
        """Switch the running migration (started with ``postcopy=True``) to post-copy."""
        self._conn.hooks.domain_migrate_start_post_copy(dom=self._ref)

    def migrate_get_compression_cache(self) -> int:
        return self._conn.hooks.domain_migrate_get_compression_cache(dom=self._ref)

    def migrate_set_compression_cache(self, cache_size: int) -> None:
        self._conn.hooks.domain_migrate_set_compression_cache(dom=self._ref,
                                                              cache_size=cache_size)

    def migrate3(self, dconn: Connection, params: dict[str, Any] | None = None, *,
                 live: bool = False, persistent: bool = False, undefine_source: bool = False,
                 offline: bool = False, postcopy: bool = False) -> Domain:
        """Migrate to ``dconn`` with libvirt's typed parameters (``destination_name``,
        ``destination_xml``, ``bandwidth`` in MiB/s, ``bandwidth.postcopy``...); the flags are
        libvirt's VIR_MIGRATE_* as keywords. Returns the domain on ``dconn``."""
        from virtkit.api.migration import migrate

        given = dict(params or {})
        unknown = sorted(set(given) - set(ACCEPTED))
        if unknown:
            raise invalid_arg(f"unknown migration parameter(s) {unknown} "
                              f"(known: {', '.join(ACCEPTED)})")
        if "bandwidth" in given:
            self.migrate_set_max_speed(int(given["bandwidth"]))
        if "bandwidth.postcopy" in given:
            self.migrate_set_max_speed(int(given["bandwidth.postcopy"]), postcopy=True)
        flags = {"live": live, "persistent": persistent, "undefine_source": undefine_source,
                 "offline": offline, "dname": given.get("destination_name"),
                 "postcopy": postcopy}
        return migrate(self, dconn, flags, given.get("destination_xml"))  # type: ignore[arg-type]

    def migrate_to_uri3(self, dconnuri: str, params: dict[str, Any] | None = None, *,
                        live: bool = False, persistent: bool = False,
                        undefine_source: bool = False, offline: bool = False,
                        postcopy: bool = False) -> None:
        """As :meth:`migrate3` to the connection URI ``dconnuri`` (opened and closed here:
        libvirt's peer-to-peer form)."""
        import virtkit

        dest = virtkit.open(dconnuri)
        try:
            self.migrate3(dest, params, live=live, persistent=persistent,
                          undefine_source=undefine_source, offline=offline, postcopy=postcopy)
        finally:
            dest.close()
