"""What a driver says it can do, finer than "has a hookimpl": the requirements record.

:class:`Requirements` is built from the connection: the operations are the hooks the driver
implements (or the ``operations`` list of its ``capabilities``, for a forwarding driver), and the
flags come from the driver class's ``capabilities`` dict. A driver's test setup may override the
whole record with a ``virtkit_requirements`` fixture. Tests declare what they need with
``@pytest.mark.ops("domain_suspend")`` and ``@pytest.mark.requires("hotplug:disk")``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from virtkit.api.connection import Connection

#: Flags and their defaults when the driver declares nothing.
BOOL_FLAGS: dict[str, bool] = {
    "persistent_domains": True,
    "transient_domains": True,
    "start_paused": True,
    "live_migration": True,
    "offline_migration": True,
    "console": True,
    "concurrency": True,
}
LIST_FLAGS: dict[str, tuple[str, ...]] = {
    "shutdown_modes": (),
    "disk_formats": ("raw",),
    "hotplug": ("disk", "interface"),
    "coldplug": ("disk", "interface"),
    "graphics": ("vnc",),
}


@attrs.frozen
class Requirements:
    """The driver's supported operations and capability flags.

    ``flags`` maps boolean flags to bool and list flags (``shutdown_modes``, ``disk_formats``,
    ``hotplug``, ``coldplug``, ``graphics``) to tuples. :meth:`has` answers ``"live_migration"`` and
    ``"hotplug:disk"`` alike.
    """

    operations: frozenset[str]
    flags: dict[str, Any] = attrs.field(factory=dict)

    @classmethod
    def from_connection(cls, conn: Connection, **overrides: Any) -> Requirements:
        from virtkit.sdk.hookspecs import PREFIX, all_specs

        caps: dict[str, Any] = dict(getattr(conn.driver, "capabilities", {}) or {})
        declared = caps.get("operations")
        if declared is not None:
            ops = frozenset(str(o) for o in declared)
        else:
            ops = frozenset(
                name[len(PREFIX):] for name in all_specs() if conn.implements(name[len(PREFIX):])
            )
        ops = ops - frozenset(str(o) for o in caps.get("unsupported_operations", ()))
        flags: dict[str, Any] = {}
        for key, default in BOOL_FLAGS.items():
            flags[key] = bool(caps.get(key, default))
        for key, dflt in LIST_FLAGS.items():
            flags[key] = tuple(str(v) for v in caps.get(key, dflt))
        flags.update(overrides)
        return cls(ops, flags)

    def supports(self, op: str) -> bool:
        return op in self.operations

    def has(self, requirement: str) -> bool:
        key, _, value = requirement.partition(":")
        got = self.flags.get(key)
        if value:
            return isinstance(got, (tuple, list)) and value in got
        if isinstance(got, (tuple, list)):
            return len(got) > 0
        return bool(got)

    def missing(self, ops: tuple[str, ...] = (), requires: tuple[str, ...] = ()) -> list[str]:
        """What of ``ops`` and ``requires`` the driver lacks, as readable words."""
        out = [f"{op} (no hookimpl)" for op in ops if not self.supports(op)]
        out += [f"capability '{r}'" for r in requires if not self.has(r)]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "operations": sorted(self.operations),
            "flags": {k: list(v) if isinstance(v, tuple) else v for k, v in self.flags.items()},
        }
