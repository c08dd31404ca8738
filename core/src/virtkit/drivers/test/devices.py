"""Devices and resources of test-driver domains: attach, detach, update, memory, vcpus.

Changes apply to the live definition, the persistent one, or both, as libvirt's
``VIR_DOMAIN_AFFECT_LIVE`` / ``_CONFIG`` / ``_CURRENT`` flags say.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from virtkit.drivers.test.domxml import DomainDef, from_model
from virtkit.sdk.domain_events import domain_event
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef, Event
from virtkit.sdk.states import affected
from virtkit.xml import domain as dx
from virtkit.xml.device import DEVICE_KINDS, device_name, parse_device
from virtkit.xml.device import describe_device as describe

if TYPE_CHECKING:
    from virtkit.drivers.test.node import TestDomain, TestNode

# what a running guest cannot gain or lose (as with QEMU)
NO_HOTPLUG = frozenset({"graphics", "video", "tpm", "panic", "sound", "parallel"})
# what update-device may change in place, and how a device is recognised
UPDATABLE = frozenset({"disk", "interface", "graphics"})


def _unsupported(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_UNSUPPORTED, message, ErrorDomain.TEST)


def _invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, message, ErrorDomain.TEST)


def _key(kind: str, dev: Any) -> Any:
    """What identifies a device of ``kind`` among its siblings."""
    if kind == "disk":
        return dev.target.dev
    if kind == "interface":
        return dev.mac.address if dev.mac is not None else (dev.type, dev.source)
    if kind == "filesystem":
        return dev.target.dir if dev.target is not None else dev
    if kind == "graphics":
        return dev.type
    return dev  # any other kind: the whole description


def _matches(kind: str, wanted: Any, have: Any) -> bool:
    if kind == "interface" and wanted.mac is None:
        return bool((have.type, have.source) == (wanted.type, wanted.source))
    return bool(_key(kind, wanted) == _key(kind, have))


def _devices(model: dx.Domain) -> dx.Devices:
    return model.devices if model.devices is not None else dx.Devices()


def _with(definition: DomainDef, kind: str, items: tuple[Any, ...]) -> DomainDef:
    field = DEVICE_KINDS[kind][0]
    changes: dict[str, Any] = {field: items}
    devices = attrs.evolve(_devices(definition.model), **changes)
    return from_model(attrs.evolve(definition.model, devices=devices))


def attach(definition: DomainDef, kind: str, dev: Any, domain: str) -> DomainDef:
    items: tuple[Any, ...] = getattr(_devices(definition.model), DEVICE_KINDS[kind][0])
    if kind in ("disk",) or (kind == "interface" and dev.mac is not None):
        if any(_key(kind, have) == _key(kind, dev) for have in items):
            raise VirtError(
                ErrorCode.OPERATION_FAILED,
                f"operation failed: {describe(kind, dev)} already exists in domain '{domain}'",
                ErrorDomain.TEST,
            )
    return _with(definition, kind, (*items, dev))


def detach(definition: DomainDef, kind: str, dev: Any, domain: str) -> DomainDef:
    items: tuple[Any, ...] = getattr(_devices(definition.model), DEVICE_KINDS[kind][0])
    for i, have in enumerate(items):
        if _matches(kind, dev, have):
            return _with(definition, kind, items[:i] + items[i + 1 :])
    raise _missing(kind, dev, domain)


def find_alias(definition: DomainDef, alias: str) -> tuple[str, int] | None:
    """The kind and index of the device whose alias is ``alias``, or None."""
    devices = _devices(definition.model)
    for kind, (field, _cls) in DEVICE_KINDS.items():
        for i, have in enumerate(getattr(devices, field)):
            found = getattr(have, "alias", None)
            if found is not None and found.name == alias:
                return kind, i
    return None


def without(definition: DomainDef, kind: str, index: int) -> DomainDef:
    """``definition`` without the ``index``-th device of ``kind``."""
    items: tuple[Any, ...] = getattr(_devices(definition.model), DEVICE_KINDS[kind][0])
    return _with(definition, kind, items[:index] + items[index + 1 :])


def update(definition: DomainDef, kind: str, dev: Any, domain: str) -> DomainDef:
    if kind not in UPDATABLE:
        raise _unsupported(f"unsupported operation: cannot update <{kind}> devices in place")
    items: tuple[Any, ...] = getattr(_devices(definition.model), DEVICE_KINDS[kind][0])
    for i, have in enumerate(items):
        if _matches(kind, dev, have):
            if kind == "disk" and have.device not in ("cdrom", "floppy") and (
                dev.source != have.source
            ):
                raise _unsupported(
                    f"unsupported operation: only the media of a cdrom or floppy can change; "
                    f"{describe(kind, dev)} of domain '{domain}' is a {have.device or 'disk'}"
                )
            if kind == "interface" and dev.mac is None:
                dev = attrs.evolve(dev, mac=have.mac)
            return _with(definition, kind, (*items[:i], dev, *items[i + 1 :]))
    raise _missing(kind, dev, domain)


def _missing(kind: str, dev: Any, domain: str) -> VirtError:
    return VirtError(
        ErrorCode.DEVICE_MISSING,
        f"device not found: no {describe(kind, dev)} in domain '{domain}'",
        ErrorDomain.TEST,
    )


def targets(dom: TestDomain, live: bool, config: bool) -> tuple[bool, bool]:
    """Resolve libvirt's affect flags: neither means the live definition when active, else the
    persistent one. Refuses live on an inactive domain and config on a transient one."""
    return affected(dom.name, dom.status.active, dom.status.persistent, live, config,
                    ErrorDomain.TEST)


class DeviceMixin:
    """Device and resource hooks of :class:`~virtkit.drivers.test.driver.TestDriver`."""

    if TYPE_CHECKING:

        @property
        def _node(self) -> TestNode: ...

    def _change(
        self, ref: DomainRef, live: bool, config: bool, change: Callable[[DomainDef], DomainDef]
    ) -> None:
        """Apply ``change`` to the chosen definitions, all or nothing."""
        node = self._node
        with node.lock:
            dom = node.find(ref)
            live, config = targets(dom, live, config)
            new_live = change(dom.current) if live else None
            new_config = change(dom.definition) if config else None
            if new_live is not None:
                dom.live = new_live
            if new_config is not None:
                dom.definition = new_config

    def _device_op(
        self, ref: DomainRef, xml: str, live: bool, config: bool,
        op: Callable[[DomainDef, str, Any, str], DomainDef], verb: str,
    ) -> bool:
        kind, dev = parse_device(xml)
        with self._node.lock:
            dom = self._node.find(ref)
            is_live = targets(dom, live, config)[0]
            if is_live and kind in NO_HOTPLUG:
                raise _unsupported(
                    f"unsupported operation: live {verb} of <{kind}> devices is not supported "
                    f"(domain '{dom.name}')"
                )
            self._change(ref, live, config, lambda d: op(d, kind, dev, dom.name))
            if is_live:
                self._node.emit(Event(f"domain-device-{'added' if verb == 'attach' else 'removed'}",
                                      dom.ref, device=device_name(kind, dev)))
        return True

    @hookimpl
    def virtkit_domain_attach_device(
        self, dom: DomainRef, xml: str, live: bool, config: bool
    ) -> bool:
        return self._device_op(dom, xml, live, config, attach, "attach")

    @hookimpl
    def virtkit_domain_detach_device(
        self, dom: DomainRef, xml: str, live: bool, config: bool
    ) -> bool:
        return self._device_op(dom, xml, live, config, detach, "detach")

    @hookimpl
    def virtkit_domain_detach_device_alias(
        self, dom: DomainRef, alias: str, live: bool, config: bool
    ) -> bool:
        with self._node.lock:
            d = self._node.find(dom)
            do_live, do_config = targets(d, live, config)
            chosen = [(True, d.current)] if do_live else []
            chosen += [(False, d.definition)] if do_config else []
            found = []
            for is_live, definition in chosen:
                where = find_alias(definition, alias)
                if where is None:
                    raise VirtError(
                        ErrorCode.DEVICE_MISSING,
                        f"device not found: no device found with alias '{alias}' in the "
                        f"{'live' if is_live else 'persistent'} definition of domain "
                        f"'{d.name}'",
                        ErrorDomain.TEST,
                    )
                if is_live and where[0] in NO_HOTPLUG:
                    raise _unsupported(
                        f"unsupported operation: live detach of <{where[0]}> devices is not "
                        f"supported (domain '{d.name}')"
                    )
                found.append((is_live, without(definition, *where)))
            for is_live, definition in found:  # all checked: change both or neither
                if is_live:
                    d.live = definition
                else:
                    d.definition = definition
            if do_live:
                self._node.emit(Event("domain-device-removed", d.ref, device=alias))
        return True

    @hookimpl
    def virtkit_domain_update_device(
        self, dom: DomainRef, xml: str, live: bool, config: bool, force: bool
    ) -> bool:
        kind, dev = parse_device(xml)
        with self._node.lock:
            d = self._node.find(dom)
            self._change(dom, live, config, lambda defn: update(defn, kind, dev, d.name))
        return True

    def _resize(
        self,
        ref: DomainRef,
        live: bool,
        config: bool,
        maximum: bool,
        refuse_live_maximum: str,
        over_limit: Callable[[DomainDef], str | None],
        change: Callable[[DomainDef, bool], DomainDef],
    ) -> bool:
        """Memory and vcpus alike: resolve the affect flags, refuse a live change of the
        maximum, refuse a value over a chosen definition's maximum (``over_limit`` says why),
        then change the chosen definitions (``change(definition, maximum)``). Returns whether
        the running guest changed."""
        d = self._node.find(ref)
        live, config = targets(d, live, config)
        if maximum:
            if live:
                raise _invalid(f"{refuse_live_maximum} of running domain '{d.name}'")
            self._change(ref, False, True, lambda defn: change(defn, True))
            return False
        for defn, chosen in ((d.current, live), (d.definition, config)):
            why = over_limit(defn) if chosen else None
            if why is not None:
                raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: {why}",
                                ErrorDomain.TEST)
        self._change(ref, live, config, lambda defn: change(defn, False))
        return live

    @hookimpl
    def virtkit_domain_set_memory(
        self, dom: DomainRef, kib: int, live: bool, config: bool, maximum: bool
    ) -> bool:
        with self._node.lock:
            d = self._node.find(dom)
            name = d.name
            if self._resize(
                dom, live, config, maximum, "cannot resize the maximum memory",
                lambda defn: None if kib <= defn.memory else (
                    f"cannot set memory of domain '{name}' to {kib} KiB, "
                    f"higher than its maximum {defn.memory} KiB"),
                lambda defn, most: _set_memory(defn, kib, most),
            ):
                d.memory = kib  # the balloon follows a live change
                self._node.emit(domain_event("domain-balloon-change", d.ref, actual=kib))
        return True

    @hookimpl
    def virtkit_domain_set_vcpus(
        self, dom: DomainRef, count: int, live: bool, config: bool, maximum: bool
    ) -> bool:
        with self._node.lock:
            name = self._node.find(dom).name
            self._resize(
                dom, live, config, maximum, "cannot change the maximum vcpus",
                lambda defn: None if count <= defn.max_vcpus else (
                    f"requested vcpus is greater than max allowable vcpus for domain "
                    f"'{name}': {count} > {defn.max_vcpus}"),
                lambda defn, most: _set_vcpus(defn, count, most),
            )
        return True

    @hookimpl
    def virtkit_domain_get_vcpus_count(
        self, dom: DomainRef, live: bool, config: bool, maximum: bool
    ) -> int:
        node = self._node
        with node.lock:
            d = node.find(dom)
            if live and config:
                raise VirtError(ErrorCode.INVALID_ARG,
                                "invalid argument: live and config are mutually exclusive here",
                                ErrorDomain.TEST)
            live, _config = targets(d, live, config)
            defn = d.current if live else d.definition
            return defn.max_vcpus if maximum else defn.vcpus


def _set_memory(defn: DomainDef, kib: int, maximum: bool) -> DomainDef:
    if maximum:
        current = min(defn.current_memory, kib)
        return from_model(attrs.evolve(defn.model, memory=kib, current_memory=current))
    return from_model(attrs.evolve(defn.model, current_memory=kib))


def _set_vcpus(defn: DomainDef, count: int, maximum: bool) -> DomainDef:
    vcpu = defn.model.vcpu or dx.Vcpu(placement="static", count=1)
    if maximum:
        current = vcpu.current if vcpu.current is not None and vcpu.current < count else None
        vcpu = attrs.evolve(vcpu, count=count, current=current)
    else:
        vcpu = attrs.evolve(vcpu, current=None if count == vcpu.count else count)
    # a count change enables the first vcpus: the states of <vcpus> no longer hold
    return from_model(attrs.evolve(defn.model, vcpu=vcpu, vcpus=None))
