"""Changes the test driver makes to a domain's definition in place: rename and lifecycle
actions.

A rename is refused as QEMU's driver refuses it (libvirt's test driver does too, bar the
checkpoints it has not): only an inactive (so persistent) domain without managed-save image,
snapshots or checkpoints, to a name no other domain has. The stored definition and the node's
name index change together under the node's lock, so no caller ever sees both names or
neither; events UNDEFINED/RENAMED for the old name, then DEFINED/RENAMED for the new one.

Lifecycle actions (``<on_poweroff>``, ``<on_reboot>``, ``<on_crash>``) change in the live and/or
persistent definition as libvirt's test driver changes them, both or neither: a coredump action
is for crashes only (CONFIG_UNSUPPORTED, as libvirt says).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from virtkit.drivers.test.domxml import DomainDef, from_model
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef, Event
from virtkit.sdk.states import DefinedDetail, EventType, UndefinedDetail

if TYPE_CHECKING:
    from virtkit.drivers.test.node import TestDomain, TestNode


def _invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, message, ErrorDomain.TEST)


class DefinitionMixin:
    """The rename and lifecycle-action hooks of the test driver."""

    if TYPE_CHECKING:

        @property
        def _node(self) -> TestNode: ...

        def _checkpoint_count(self, d: TestDomain) -> int: ...

        def _change(self, ref: DomainRef, live: bool, config: bool,
                    change: Callable[[DomainDef], DomainDef]) -> None: ...

    @hookimpl
    def virtkit_domain_rename(self, dom: DomainRef, new_name: str) -> DomainRef:
        node = self._node
        with node.lock:
            d = node.find(dom)
            name = d.name
            if d.status.active:
                raise _invalid(f"cannot rename active domain '{name}'")
            if d.status.has_managed_save:
                raise _invalid(f"domain '{name}' with a managed save image can't be renamed")
            if d.snapshots:
                raise _invalid(f"cannot rename domain '{name}' with snapshots")
            if self._checkpoint_count(d):
                raise _invalid(f"cannot rename domain '{name}' with checkpoints")
            if new_name == name:
                raise _invalid(f"Can't rename domain '{name}' to itself")
            if new_name in node.names:
                raise _invalid(f"domain with name '{new_name}' already exists")
            renamed = from_model(attrs.evolve(d.definition.model, name=new_name))
            old_ref = d.ref
            del node.names[name]
            node.names[new_name] = d.uuid
            d.definition = renamed
            d._ref = None  # the identity record carries the name
            node.emit(Event("domain-lifecycle", old_ref, int(EventType.UNDEFINED),
                            int(UndefinedDetail.RENAMED)))
            node.emit(Event("domain-lifecycle", d.ref, int(EventType.DEFINED),
                            int(DefinedDetail.RENAMED)))
            return d.ref

    @hookimpl
    def virtkit_domain_set_lifecycle_action(
        self, dom: DomainRef, event: str, action: str, live: bool, config: bool
    ) -> bool:
        if event != "crash" and action.startswith("coredump-"):
            raise VirtError(
                ErrorCode.CONFIG_UNSUPPORTED,
                f"unsupported configuration: Lifecycle event '{event}' doesn't support "
                f"'{action}' action",
                ErrorDomain.TEST,
            )

        def change(d: DomainDef) -> DomainDef:
            changes: dict[str, Any] = {f"on_{event}": action}
            return from_model(attrs.evolve(d.model, **changes))

        self._change(dom, live, config, change)
        return True
