"""Attaching, detaching and updating disks and interfaces of ``xen:///system`` guests.

libvirt's flags choose the definitions: live (the running guest: ``xl block-attach`` /
``block-detach``, ``xl network-attach`` / ``network-detach``) and/or config (the persistent
definition in the state store; xl keeps none: the next ``xl create`` is written from it).
Neither flag: live when the guest runs, else config; live on a guest that does not run, or
config on a transient one, is OPERATION_INVALID. Every chosen definition is checked before xl
is asked, so a refusal changes nothing.

Device documents go through :func:`virtkit.xml.device.parse_device` (a disk or an interface;
XML_ERROR for a document that is no device, CONFIG_UNSUPPORTED for another kind). A disk is
known by its target, an interface by its MAC (one without a MAC by its type and source; an
interface attached without one gets a MAC in Xen's range, 00:16:3e). A live change emits
``domain-device-added`` / ``domain-device-removed`` naming the device by its alias, else its
target or MAC. A disk is plugged or unplugged live on the xen bus only (libxl's rule;
CONFIG_UNSUPPORTED otherwise, before xl is asked). ``update_device`` changes the media of a
cdrom (live ``xl cd-insert DOMAIN VDEV TARGET``, or ``xl cd-eject DOMAIN VDEV`` for a cdrom
given without ``<source>``; libxl does this in HVM guests only, so a live change in a PV or PVH
guest is OPERATION_UNSUPPORTED before xl is asked; config changes the stored definition of any
guest); a device given as it is changes nothing; any other change is OPERATION_UNSUPPORTED
naming what cannot change.
"""

from __future__ import annotations

from typing import Any

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef, Event
from virtkit.sdk.states import affected
from virtkit.xml.common import MacAddress
from virtkit.xml.device import describe_device, device_name
from virtkit.xml.device import parse_device as _parse
from virtkit.xml.domain import Devices, Disk, Domain
from virtkit_xen import native
from virtkit_xen.devlist import KINDS, find, items, replace, xen_mac
from virtkit_xen.xlcfg import parse_config


def parse_device(xml: str) -> tuple[str, Any]:
    """``(kind, model)`` of a device document (:func:`virtkit.xml.device.parse_device`)."""
    return _parse(xml, tuple(KINDS), driver="xen", domain=ErrorDomain.LIBXL)


def _missing(kind: str, dev: Any, where: str, name: str) -> VirtError:
    return VirtError(ErrorCode.DEVICE_MISSING, f"device not found: no "
                     f"{describe_device(kind, dev)} in the {where} definition of domain "
                     f"'{name}'", ErrorDomain.DOMAIN)


def _unsupported(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_UNSUPPORTED, f"unsupported operation: {message}",
                     ErrorDomain.LIBXL)


#: the bus libvirt gives a ``<target>`` without ``bus``, by the target's prefix
_BUS_BY_PREFIX = (("xvd", "xen"), ("hd", "ide"), ("sd", "scsi"), ("vd", "virtio"))


def _check_hotplug_bus(kind: str, dev: Any, name: str, verb: str) -> None:
    """libxl hotplugs disks on the xen bus only (it takes the target as the vdev, and refuses
    one such as ``vdb``: "Invalid or unsupported virtual disk identifier", as it did on the
    real run); as libvirt's libxl driver, CONFIG_UNSUPPORTED before xl is asked."""
    if kind != "disk":
        return
    bus = dev.target.bus or next((b for p, b in _BUS_BY_PREFIX
                                  if dev.target.dev.startswith(p)), None)
    if bus != "xen":
        raise VirtError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: disk bus "
                        f"'{bus or 'none'}' of {describe_device(kind, dev)} of domain '{name}' "
                        f"cannot be hot {verb} on xl: libxl hotplugs disks on the xen bus only "
                        "(<target dev='xvdX' bus='xen'/>)", ErrorDomain.LIBXL)


def _media(disk: Disk) -> str | None:
    src = disk.source
    return (src.file or src.dev) if src is not None else None


class XlDeviceHooks:
    """Mixed into :class:`~virtkit_xen.driver.XenDriver`."""

    # -- flags and definitions ------------------------------------------------------------------

    def _dev_targets(self: Any, g: Any, live: bool, config: bool) -> tuple[bool, bool]:
        return affected(g.dom.name, g.status.active, g.config is not None, live, config)

    @staticmethod
    def _chosen(g: Any, live: bool, config: bool) -> list[tuple[str, Domain]]:
        out: list[tuple[str, Domain]] = []
        if live:
            out.append(("live", g.live))
        if config:
            out.append(("persistent", g.config))
        return out

    def _store_defs(self: Any, g: Any, changed: list[tuple[str, Domain]]) -> None:
        for where, d in changed:
            if where == "live":
                g.live = d
            else:
                g.config = d
        self._save(g)

    def _xl_spec(self: Any, g: Any, kind: str, dev: Any) -> str:
        """The ``disk`` or ``vif`` entry xl.cfg has for ``dev`` (refusing, CONFIG_UNSUPPORTED,
        what xl.cfg cannot express)."""
        devices = Devices(disks=(dev,)) if kind == "disk" else Devices(interfaces=(dev,))
        try:
            text = native.xml_to_xl(attrs.evolve(g.dom, devices=devices).to_xml(),
                                    strict=True).text
        except VirtError as e:  # name the device and the domain, not "interface 0"
            raise VirtError(e.code, f"unsupported configuration: {describe_device(kind, dev)} "
                            f"of domain '{g.dom.name}': {e.message}", ErrorDomain.LIBXL) from None
        entries = parse_config(text)["disk" if kind == "disk" else "vif"]
        return str(entries[0])  # type: ignore[index]

    # -- the hooks ------------------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_attach_device(self: Any, dom: DomainRef, xml: str, live: bool,
                                     config: bool) -> bool:
        kind, dev = parse_device(xml)
        self._sync()
        with self.store.locked(), self.lock:
            g = self._find(dom)
            live, config = self._dev_targets(g, live, config)
            if kind == "interface" and dev.mac is None:
                mac = xen_mac()
                dev = attrs.evolve(dev, mac=MacAddress(address=mac))
            chosen = self._chosen(g, live, config)
            for where, d in chosen:
                if find(d, kind, dev) is not None:
                    raise VirtError(ErrorCode.OPERATION_FAILED, f"operation failed: "
                                    f"{describe_device(kind, dev)} already exists in the "
                                    f"{where} definition of domain '{g.dom.name}'",
                                    ErrorDomain.DOMAIN)
            if live:
                _check_hotplug_bus(kind, dev, g.dom.name, "plugged")
            spec = self._xl_spec(g, kind, dev)
            if live:
                (self.xl.block_attach if kind == "disk" else self.xl.network_attach)(
                    g.dom.name, spec)
            self._store_defs(g, [(w, replace(d, kind, (*items(d, kind), dev)))
                                 for w, d in chosen])
            if live:
                self.emit(Event("domain-device-added", g.ref, device=device_name(kind, dev)))
            return True

    @hookimpl
    def virtkit_domain_detach_device(self: Any, dom: DomainRef, xml: str, live: bool,
                                     config: bool) -> bool:
        kind, dev = parse_device(xml)
        self._sync()
        with self.store.locked(), self.lock:
            g = self._find(dom)
            live, config = self._dev_targets(g, live, config)
            self._detach(g, kind, dev, live, config)
            return True

    @hookimpl
    def virtkit_domain_detach_device_alias(self: Any, dom: DomainRef, alias: str, live: bool,
                                           config: bool) -> bool:
        self._sync()
        with self.store.locked(), self.lock:
            g = self._find(dom)
            live, config = self._dev_targets(g, live, config)
            found: tuple[str, Any] | None = None
            for where, d in self._chosen(g, live, config):
                have = next(((k, x) for k in KINDS for x in items(d, k)
                             if x.alias is not None and x.alias.name == alias), None)
                if have is None:
                    raise VirtError(ErrorCode.DEVICE_MISSING, f"device not found: no device "
                                    f"found with alias '{alias}' in the {where} definition of "
                                    f"domain '{g.dom.name}'", ErrorDomain.DOMAIN)
                found = found or have
            assert found is not None
            self._detach(g, found[0], found[1], live, config)
            return True

    def _detach(self: Any, g: Any, kind: str, dev: Any, live: bool, config: bool) -> None:
        changed = []
        gone = dev
        for where, d in self._chosen(g, live, config):
            have = find(d, kind, dev)
            if have is None:
                raise _missing(kind, dev, where, g.dom.name)
            changed.append((where, replace(d, kind, tuple(x for x in items(d, kind)
                                                           if x is not have))))
            if where == "live":
                gone = have
        if live:
            _check_hotplug_bus(kind, gone, g.dom.name, "unplugged")
            if kind == "disk":
                self.xl.block_detach(g.dom.name, gone.target.dev)
            else:
                if gone.mac is None:
                    raise VirtError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported "
                                    f"configuration: the interface of domain '{g.dom.name}' "
                                    "has no <mac>; xl detaches an interface by its MAC",
                                    ErrorDomain.LIBXL)
                self.xl.network_detach(g.dom.name, gone.mac.address)
        self._store_defs(g, changed)
        if live:
            self.emit(Event("domain-device-removed", g.ref, device=device_name(kind, gone)))

    @hookimpl
    def virtkit_domain_update_device(self: Any, dom: DomainRef, xml: str, live: bool,
                                     config: bool, force: bool) -> bool:
        """New media in a cdrom: live ``xl cd-insert`` (``xl cd-eject`` for none), config the
        stored definition. What the document leaves out is kept; a device given as it is
        changes nothing; any other change is OPERATION_UNSUPPORTED naming it."""
        kind, dev = parse_device(xml)
        self._sync()
        with self.store.locked(), self.lock:
            g = self._find(dom)
            name = g.dom.name
            live, config = self._dev_targets(g, live, config)
            if kind != "disk":
                raise _unsupported(f"cannot update {describe_device(kind, dev)} of domain "
                                   f"'{name}' in place on xl: only the media of a cdrom can "
                                   "change")
            changed, media_changes = [], False
            for where, d in self._chosen(g, live, config):
                have = find(d, kind, dev)
                if have is None:
                    raise _missing(kind, dev, where, name)
                if have == dev:
                    continue
                fixed = [f.name for f in attrs.fields(Disk)
                         if f.name not in ("source", "alias", "address")
                         and getattr(dev, f.name) != f.default
                         and getattr(dev, f.name) != getattr(have, f.name)]
                if fixed:
                    raise _unsupported(f"cannot change the {', '.join(fixed)} of "
                                       f"{describe_device(kind, have)} of domain '{name}' in "
                                       "place on xl: only the media (<source>) of a cdrom can "
                                       "change")
                if have.source == dev.source:
                    continue  # what the document gave is what the device has
                if have.device != "cdrom":
                    raise _unsupported(f"cannot change the <source> of "
                                       f"{describe_device(kind, have)} of domain '{name}' in "
                                       f"place on xl: it is a {have.device or 'disk'}, and only "
                                       "the media of a cdrom can change")
                new = attrs.evolve(have, source=dev.source)
                changed.append((where, replace(d, kind, tuple(
                    new if x is have else x for x in items(d, kind)))))
                media_changes = media_changes or where == "live"
            if not changed:
                return True
            if media_changes:
                if g.dom.os.type.name != "hvm":
                    raise _unsupported(f"cannot change the media of "
                                       f"{describe_device(kind, dev)} of running domain "
                                       f"'{name}': libxl changes a cdrom's media (xl cd-insert,"
                                       " cd-eject) in HVM guests only; change its "
                                       "configuration (config) instead")
                media = _media(dev)
                if media:
                    self.xl.cd_insert(name, dev.target.dev, media)
                else:
                    self.xl.cd_eject(name, dev.target.dev)
            self._store_defs(g, changed)
            return True
