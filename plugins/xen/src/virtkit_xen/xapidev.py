"""Attaching, detaching and updating disks and interfaces of ``xenapi://`` domains.

XenAPI keeps a VM's devices as records: a VBD joins a VDI to the VM, a VIF a network. A VBD
or VIF that exists is part of the VM's configuration (``VM.start`` plugs them all); one that is
``currently_attached`` is in the running guest. libvirt's flags map onto that:

- config (the persistent definition): ``VBD.create`` / ``VIF.create`` (unplugged on a running
  VM: it joins the guest at its next start); removal ``VBD.destroy`` / ``VIF.destroy`` (on a
  running VM whose guest still has the device: marked live-only instead, see below);
- live (the running guest): ``VBD.plug`` / ``VIF.plug``, removal ``unplug``; a device attached
  live only is created with ``other_config:virtkit_scope=live`` and destroyed before the
  VM's next start, so it does not come back, as libvirt's live-only devices do not.

The stored definitions (``other_config:virtkit_xml`` and ``virtkit_live_xml``) change with the
records. A disk must be ``<disk type='volume'><source pool='SR' volume='VDI'/>`` and an
interface must name a XenAPI network (``<source network='NAME'/>`` or ``<source
bridge='xenbr0'/>``): anything else cannot be made on XenAPI and is refused (CONFIG_UNSUPPORTED,
NO_NETWORK, NO_STORAGE_VOL). A disk's ``userdevice`` is the number its target names (``xvdb``
is 1), an interface's ``device`` the lowest free number; an interface without a ``<mac>`` gets
one in Xen's range (00:16:3e). A live change emits ``domain-device-added`` /
``domain-device-removed`` naming the device by its alias, else its target or MAC.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef, Event
from virtkit.xml.common import MacAddress
from virtkit.xml.device import describe_device, device_name
from virtkit.xml.device import parse_device as _parse
from virtkit.xml.domain import Devices, Disk, Domain, Interface
from virtkit_xen import xapidom as dx
from virtkit_xen.devlist import find, items, replace, xen_mac
from virtkit_xen.xapi import NULL, xerr

#: ``other_config`` key of a VBD or VIF that is in the running guest only
SCOPE_KEY = "virtkit_scope"
#: ``other_config`` key of a VBD: the ``<target dev>`` it was made for
TARGET_KEY = "virtkit_target"


def parse_device(xml: str) -> Disk | Interface:
    """The Disk or Interface of a device document (:func:`virtkit.xml.device.parse_device`:
    XML_ERROR for a bad document or an element that is no device, CONFIG_UNSUPPORTED for
    another kind of device)."""
    dev: Disk | Interface = _parse(xml, ("disk", "interface"), driver="xenapi",
                                   domain=ErrorDomain.XENAPI)[1]
    return dev


def describe(dev: Disk | Interface) -> str:
    """How messages name a device: ``disk 'xvdb'``, ``interface 00:16:3e:...``."""
    if isinstance(dev, Interface) and dev.mac is None:
        return "interface"
    return describe_device(_kind(dev), dev)


def event_name(dev: Disk | Interface) -> str:
    """How device events name a device: its alias, else its target or MAC."""
    return device_name(_kind(dev), dev)


def userdevice(target: str) -> int | None:
    """The XenAPI ``userdevice`` a disk target names: ``xvda``/``hda``/``sda``/``vda`` 0,
    ``xvdb`` 1, ... ``xvdaa`` 26; None for a target of another shape."""
    m = re.fullmatch(r"(?:xvd|hd|sd|vd)([a-z]{1,2})", target)
    if m is None:
        return None
    n = 0
    for c in m.group(1):
        n = n * 26 + (ord(c) - ord("a") + 1)
    return n - 1


def _kind(dev: Disk | Interface) -> str:
    return "disk" if isinstance(dev, Disk) else "interface"


def _vbd_fields(vm: Any, disk: Disk, vdi: str | None, live_only: bool) -> dict[str, Any]:
    """The record ``VBD.create`` takes for ``disk`` on ``vdi`` (None: an empty cdrom)."""
    number = userdevice(disk.target.dev)
    if number is None:
        raise xerr(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: target "
                   f"'{disk.target.dev}' of domain '{vm.name}' names no XenAPI device "
                   "number (write xvdX, hdX, sdX or vdX)")
    cd = disk.device == "cdrom"
    oc = {TARGET_KEY: disk.target.dev, **({SCOPE_KEY: "live"} if live_only else {})}
    return {"VM": vm.ref, "VDI": vdi or NULL, "userdevice": str(number), "bootable": False,
            "mode": "RO" if disk.readonly or cd else "RW", "type": "CD" if cd else "Disk",
            "unpluggable": True, "empty": vdi is None, "other_config": oc,
            "qos_algorithm_type": "", "qos_algorithm_params": {}}


def _missing(dev: Disk | Interface, where: str, name: str) -> VirtError:
    return VirtError(ErrorCode.DEVICE_MISSING, f"device not found: no {describe(dev)} in the "
                     f"{where} definition of domain '{name}'", ErrorDomain.DOMAIN)


class DeviceHooks:
    """Mixed into :class:`~virtkit_xen.xenapi.XenApiDriver`."""

    # -- flags and definitions ------------------------------------------------------------------

    def _chosen(self: Any, vm: Any, live: bool, config: bool) -> list[tuple[str, Domain]]:
        out: list[tuple[str, Domain]] = []
        if live:
            out.append(("live", self._definition(vm, False)))
        if config:
            out.append(("persistent", self._definition(vm, True)))
        return out

    def _store(self: Any, vm: Any, changed: list[tuple[str, Domain]]) -> None:
        for where, d in changed:
            key = dx.LIVE_KEY if where == "live" else dx.XML_KEY
            self._set_other(vm, key, attrs.evolve(d, id=None).to_xml(secure=True))

    # -- XenAPI's records -----------------------------------------------------------------------

    def _vbds(self: Any, vm: Any) -> dict[str, dict[str, Any]]:
        what = f"reading the disks of domain '{vm.name}'"
        return {str(r): self.session.call("VBD.get_record", r, what=what)
                for r in vm.rec.get("VBDs", [])}

    def _vifs(self: Any, vm: Any) -> dict[str, dict[str, Any]]:
        what = f"reading the interfaces of domain '{vm.name}'"
        return {str(r): self.session.call("VIF.get_record", r, what=what)
                for r in vm.rec.get("VIFs", [])}

    def _record_of(self: Any, vm: Any, dev: Disk | Interface) -> tuple[str, dict[str, Any]] | None:
        """The VBD or VIF made for ``dev``, if any (a device kept in the definition only has
        none)."""
        if isinstance(dev, Disk):
            number = userdevice(dev.target.dev)
            vbds = self._vbds(vm)
            for ref, b in vbds.items():
                if b.get("other_config", {}).get(TARGET_KEY) == dev.target.dev:
                    return ref, b
            for ref, b in vbds.items():
                if TARGET_KEY not in b.get("other_config", {}) and number is not None and \
                        str(b["userdevice"]) == str(number):
                    return ref, b
            return None
        if dev.mac is None:
            return None
        for ref, f in self._vifs(vm).items():
            if str(f["MAC"]).lower() == dev.mac.address.lower():
                return ref, f
        return None

    def _vbd_record(self: Any, vm: Any, disk: Disk, live_only: bool) -> dict[str, Any]:
        src = disk.source
        if disk.type != "volume" or src is None or not src.pool or not src.volume:
            raise xerr(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: "
                       f"{describe(disk)} of domain '{vm.name}' is a {disk.type} disk; XenAPI "
                       "attaches VDIs: write <disk type='volume'><source pool='SR' "
                       "volume='VDI'/>")
        return _vbd_fields(vm, disk, self._vdi_ref(src.pool, src.volume), live_only)

    def _vif_record(self: Any, vm: Any, nic: Interface, live_only: bool) -> dict[str, Any]:
        src = nic.source
        if src is None or not (src.network or src.bridge):
            raise xerr(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: "
                       f"{describe(nic)} of domain '{vm.name}' names no XenAPI network (write "
                       "<source network='NAME'/> or <source bridge='xenbr0'/>)")
        net = self._network_for(nic)
        if net is None:
            said = f"named '{src.network}'" if src.network else f"on bridge '{src.bridge}'"
            raise VirtError(ErrorCode.NO_NETWORK, f"Network not found: no XenAPI network "
                            f"{said} for {describe(nic)} of domain '{vm.name}'",
                            ErrorDomain.NETWORK)
        used = {str(f["device"]) for f in self._vifs(vm).values()}
        device = next(str(n) for n in range(len(used) + 1) if str(n) not in used)
        assert nic.mac is not None
        return {"VM": vm.ref, "network": net, "device": device, "MAC": nic.mac.address,
                "MTU": str(nic.mtu.size if nic.mtu else 1500),
                "other_config": {SCOPE_KEY: "live"} if live_only else {},
                "qos_algorithm_type": "", "qos_algorithm_params": {}}

    def _drop_live_only(self: Any, vm: Any) -> None:
        """Destroy the VBDs and VIFs that were attached live only (before a start)."""
        what = f"removing the live-only devices of domain '{vm.name}'"
        for cls, recs in (("VBD", self._vbds(vm)), ("VIF", self._vifs(vm))):
            for ref, r in recs.items():
                if r.get("other_config", {}).get(SCOPE_KEY) == "live":
                    self.session.call(f"{cls}.destroy", ref, what=what)

    # -- the hooks ------------------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_attach_device(self: Any, dom: DomainRef, xml: str, live: bool,
                                     config: bool) -> bool:
        dev = parse_device(xml)
        with self.lock:
            vm = self._find(dom)
            live, config = self._affect(vm, live, config)
            if isinstance(dev, Interface) and dev.mac is None:
                mac = xen_mac()
                dev = attrs.evolve(dev, mac=MacAddress(address=mac))
            chosen = self._chosen(vm, live, config)
            for where, d in chosen:
                if find(d, _kind(dev), dev) is not None:
                    raise VirtError(ErrorCode.OPERATION_FAILED, f"operation failed: "
                                    f"{describe(dev)} already exists in the {where} definition "
                                    f"of domain '{vm.name}'", ErrorDomain.DOMAIN)
            cls = "VBD" if isinstance(dev, Disk) else "VIF"
            rec = (self._vbd_record(vm, dev, live and not config) if isinstance(dev, Disk)
                   else self._vif_record(vm, dev, live and not config))
            what = f"attaching {describe(dev)} to domain '{vm.name}'"
            found = self._record_of(vm, dev)
            have: dict[str, Any] = {}
            if found is None:
                ref, made = self.session.call(f"{cls}.create", rec, what=what), True
            else:  # in the other definition already: XenAPI has one record for both
                ref, have = found
                key = "VDI" if cls == "VBD" else "network"
                if have[key] != rec[key]:
                    raise VirtError(ErrorCode.OPERATION_FAILED, f"operation failed: "
                                    f"{describe(dev)} of domain '{vm.name}' is in its other "
                                    f"definition with another {key}: detach it first",
                                    ErrorDomain.DOMAIN)
                made = False
            if live and (made or not have.get("currently_attached")):
                try:
                    self.session.run(f"{cls}.plug", ref, what=what)
                except VirtError:
                    if made:  # nothing left behind
                        self.session.call(f"{cls}.destroy", ref, what=what)
                    raise
            if config and have.get("other_config", {}).get(SCOPE_KEY) == "live":
                # it was in the guest only: now in the configuration too (after the plug, so
                # that a refused plug leaves it as it was)
                self.session.call(f"{cls}.remove_from_other_config", ref, SCOPE_KEY,
                                  what=what)
            self._store(self._reload(vm), [(w, replace(d, _kind(dev), (*items(d, _kind(dev)), dev)))
                                           for w, d in chosen])
            if live:
                self.emit(Event("domain-device-added", vm.domref, device=event_name(dev)))
            return True

    @hookimpl
    def virtkit_domain_detach_device(self: Any, dom: DomainRef, xml: str, live: bool,
                                     config: bool) -> bool:
        dev = parse_device(xml)
        with self.lock:
            vm = self._find(dom)
            live, config = self._affect(vm, live, config)
            self._detach(vm, dev, live, config)
            return True

    @hookimpl
    def virtkit_domain_detach_device_alias(self: Any, dom: DomainRef, alias: str, live: bool,
                                           config: bool) -> bool:
        with self.lock:
            vm = self._find(dom)
            live, config = self._affect(vm, live, config)
            found: Disk | Interface | None = None
            for where, d in self._chosen(vm, live, config):
                devs = d.devices or Devices()
                have = next((x for x in (*devs.disks, *devs.interfaces)
                             if x.alias is not None and x.alias.name == alias), None)
                if have is None:
                    raise VirtError(ErrorCode.DEVICE_MISSING, f"device not found: no device "
                                    f"found with alias '{alias}' in the {where} definition of "
                                    f"domain '{vm.name}'", ErrorDomain.DOMAIN)
                found = found or have
            assert found is not None
            self._detach(vm, found, live, config)
            return True

    def _detach(self: Any, vm: Any, dev: Disk | Interface, live: bool, config: bool) -> None:
        chosen = self._chosen(vm, live, config)
        changed = []
        for where, d in chosen:
            have = find(d, _kind(dev), dev)
            if have is None:
                raise _missing(dev, where, vm.name)
            changed.append((where, replace(d, _kind(dev), tuple(x for x in items(d, _kind(dev))
                                                          if x is not have))))
            dev = have if isinstance(dev, Interface) and dev.mac is None else dev
        found = self._record_of(vm, dev)
        if found is not None:
            ref, rec = found
            cls = "VBD" if isinstance(dev, Disk) else "VIF"
            what = f"detaching {describe(dev)} from domain '{vm.name}'"
            running = vm.status.active
            if live and rec.get("currently_attached"):
                self.session.run(f"{cls}.unplug", ref, what=what)
            live_only = rec.get("other_config", {}).get(SCOPE_KEY) == "live"
            if config or live_only:
                if running and not live and rec.get("currently_attached"):
                    # the guest keeps it until it stops: live-only from now on
                    self.session.call(f"{cls}.add_to_other_config", ref, SCOPE_KEY, "live",
                                      what=what)
                else:
                    self.session.call(f"{cls}.destroy", ref, what=what)
        self._store(self._reload(vm), changed)
        if live:
            self.emit(Event("domain-device-removed", vm.domref, device=event_name(dev)))

    @hookimpl
    def virtkit_domain_update_device(self: Any, dom: DomainRef, xml: str, live: bool,
                                     config: bool, force: bool) -> bool:
        """New media in a cdrom (or none: ejected): live ``VBD.eject`` then ``VBD.insert``;
        config the definition (and, on a halted VM, the VBD made afresh). A disk given as it
        is changes nothing; any other change is OPERATION_UNSUPPORTED."""
        dev = parse_device(xml)
        with self.lock:
            vm = self._find(dom)
            live, config = self._affect(vm, live, config)
            if not isinstance(dev, Disk):
                raise VirtError(ErrorCode.OPERATION_UNSUPPORTED, f"unsupported operation: "
                                f"cannot update {describe(dev)} of domain '{vm.name}' in place "
                                "on XenAPI", ErrorDomain.XENAPI)
            chosen = self._chosen(vm, live, config)
            changed = []
            same = True
            for where, d in chosen:
                have = find(d, _kind(dev), dev)
                if have is None:
                    raise _missing(dev, where, vm.name)
                same = same and have == dev
                if (not isinstance(have, Disk) or have.device != "cdrom") and have != dev:
                    raise VirtError(ErrorCode.OPERATION_UNSUPPORTED, f"unsupported "
                                    f"operation: only the media of a cdrom can change; "
                                    f"{describe(dev)} of domain '{vm.name}' is a disk",
                                    ErrorDomain.XENAPI)
                changed.append((where, replace(d, _kind(dev), tuple(
                    dev if x is have else x for x in items(d, _kind(dev))))))
            if same:
                return True  # nothing to change
            if vm.status.active and config and not live:
                raise VirtError(ErrorCode.OPERATION_UNSUPPORTED, f"unsupported operation: "
                                f"XenAPI has one VBD for {describe(dev)} of running domain "
                                f"'{vm.name}': change its media live and config together",
                                ErrorDomain.XENAPI)
            src = dev.source
            vdi = (self._vdi_ref(src.pool, src.volume)
                   if src is not None and src.pool and src.volume else None)
            if vdi is None and src is not None and (src.file or src.dev):
                self._vbd_record(vm, dev, False)  # CONFIG_UNSUPPORTED naming it
            found = self._record_of(vm, dev)
            what = f"changing the media of {describe(dev)} of domain '{vm.name}'"
            if found is None:  # a cdrom kept in the definition only until now
                if vdi is not None:
                    self._cd_create(vm, dev, vdi, what)
            elif live:
                ref, rec = found
                if not rec.get("empty"):
                    self.session.run("VBD.eject", ref, what=what)
                if vdi is not None:
                    self.session.run("VBD.insert", ref, vdi, what=what)
            else:  # halted: the VBD made afresh with the new media (or an empty drive)
                self.session.call("VBD.destroy", found[0], what=what)
                self._cd_create(vm, dev, vdi, what)
            self._store(self._reload(vm), changed)
            return True

    def _cd_create(self: Any, vm: Any, dev: Disk, vdi: str | None, what: str) -> None:
        ref = self.session.call("VBD.create", _vbd_fields(vm, dev, vdi, False), what=what)
        if vm.status.active:
            self.session.run("VBD.plug", ref, what=what)

