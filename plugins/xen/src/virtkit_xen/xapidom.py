"""Domain XML <-> XenAPI VM records.

A domain defined through virtkit keeps its whole definition in the VM's ``other_config``
(``virtkit_xml``; XenAPI leaves that map to its clients) and its virtkit uuid in
``virtkit_uuid`` (``VM.create`` makes a uuid of its own). What XenAPI models is also written to
the VM's own fields — name, description, memory limits, VCPUs, the actions after shutdown,
reboot and crash, the PV kernel/ramdisk/args or bootloader, the HVM boot order — and read back
from them, so a change made with ``xe`` or XenCenter shows in the XML. A VM made elsewhere (no
``virtkit_xml``) gets its XML from its fields, its VBDs (``<disk type='volume'>`` with the SR
and VDI names) and its VIFs (``<interface type='network'>`` with the network's name and MAC).
"""

from __future__ import annotations

from typing import Any

import attrs

from virtkit.xml.domain import Domain

DOMAIN_TYPES = ("xen",)
OS_TYPES = ("hvm", "linux", "xen", "xenpvh")
TYPES: dict[str, Any] = {"domain_types": DOMAIN_TYPES, "os_types": OS_TYPES}

XML_KEY = "virtkit_xml"
UUID_KEY = "virtkit_uuid"
TRANSIENT_KEY = "virtkit_transient"
STATUS_KEY = "virtkit_status"
LIVE_KEY = "virtkit_live_xml"

_AFTER_SHUTDOWN = {"destroy": "destroy", "restart": "restart", "preserve": "destroy",
                   "rename-restart": "restart"}
_AFTER_CRASH = {"destroy": "destroy", "restart": "restart", "preserve": "preserve",
                "rename-restart": "rename_restart", "coredump-destroy": "coredump_and_destroy",
                "coredump-restart": "coredump_and_restart"}
_CRASH_BACK = {v: k for k, v in _AFTER_CRASH.items()}
#: ``memory_static_min``: how far a live change may balloon the guest down (16 MiB, or less
#: when the guest is that small)
STATIC_MIN_KIB = 16 * 1024
_BOOT = {"hd": "c", "cdrom": "d", "network": "n", "fd": "a"}
_BOOT_BACK = {v: k for k, v in _BOOT.items()}


def _b(n: int | None) -> str:
    return str(int(n or 0) * 1024)  # KiB -> bytes, as XenAPI's int-as-string


def vm_fields(d: Domain) -> dict[str, Any]:
    """The VM fields XenAPI models, from a definition (after ``with_defaults()``)."""
    mem = d.memory or 0
    cur = d.current_memory or mem
    vmax = d.vcpu.count if d.vcpu else 1
    vcur = d.vcpu.current if d.vcpu and d.vcpu.current else vmax
    hvm = d.os.type.name == "hvm"
    boot = "".join(_BOOT[b.dev] for b in d.os.boot) or "cd"
    return {
        "name_label": d.name, "name_description": d.description or "",
        "memory_static_max": _b(mem), "memory_dynamic_max": _b(cur),
        "memory_dynamic_min": _b(cur), "memory_static_min": _b(min(cur, STATIC_MIN_KIB)),
        "VCPUs_max": str(vmax), "VCPUs_at_startup": str(vcur),
        "actions_after_shutdown": _AFTER_SHUTDOWN.get(d.on_poweroff or "destroy", "destroy"),
        "actions_after_reboot": _AFTER_SHUTDOWN.get(d.on_reboot or "restart", "restart"),
        "actions_after_crash": _AFTER_CRASH.get(d.on_crash or "destroy", "destroy"),
        "PV_bootloader": "",
        "PV_kernel": "" if hvm else (d.os.kernel or ""),
        "PV_ramdisk": "" if hvm else (d.os.initrd or ""),
        "PV_args": "" if hvm else (d.os.cmdline or ""),
        "HVM_boot_policy": "BIOS order" if hvm else "",
        "HVM_boot_params": {"order": boot} if hvm else {},
        "domain_type": "hvm" if hvm else ("pvh" if d.os.type.name == "xenpvh" else "pv"),
    }


def create_record(d: Domain, other_config: dict[str, str]) -> dict[str, Any]:
    """The record ``VM.create`` takes."""
    rec: dict[str, Any] = {
        "user_version": "1", "is_a_template": False, "affinity": "OpaqueRef:NULL",
        "VCPUs_params": {}, "PV_bootloader_args": "", "PV_legacy_args": "",
        "platform": {"acpi": "1", "apic": "true", "pae": "true", "viridian": "false"},
        "PCI_bus": "", "recommendations": "", "xenstore_data": {}, "ha_always_run": False,
        "ha_restart_priority": "", "tags": [], "blocked_operations": {},
        "other_config": other_config,
    }
    rec.update(vm_fields(d))
    return rec


def _kib(value: Any) -> int:
    return int(value) // 1024


def domain_from_record(rec: dict[str, Any], uuid: str, disks: list[tuple[str, str, str]],
                       nics: list[tuple[str, str]]) -> Domain:
    """The definition of a VM: its stored XML with XenAPI's fields laid over it, or made from
    the fields alone. ``disks`` are (userdevice, SR name, VDI name), ``nics`` (network name, MAC).
    """
    stored = rec.get("other_config", {}).get(XML_KEY)
    if stored:  # the definition's memory and vcpus are its own (XenAPI's fields may be live)
        return overlay(Domain.from_xml(stored, **TYPES), rec, uuid, resources=False)
    d = Domain.from_xml(_bare_xml(rec, uuid, disks, nics), **TYPES).with_defaults()
    return overlay(d, rec, uuid)


def overlay(d: Domain, rec: dict[str, Any], uuid: str, resources: bool = True) -> Domain:
    """``d`` with what XenAPI's own fields say now (name, description, the action after a
    crash; with ``resources`` also memory and vcpus)."""
    if not resources:
        return attrs.evolve(
            d, name=rec["name_label"], uuid=uuid, description=rec["name_description"] or None,
            on_crash=_CRASH_BACK.get(rec["actions_after_crash"], d.on_crash))
    vmax, vcur = int(rec["VCPUs_max"]), int(rec["VCPUs_at_startup"])
    vcpu = d.vcpu
    if vcpu is not None:
        vcpu = attrs.evolve(vcpu, count=vmax, current=None if vcur == vmax else vcur)
    return attrs.evolve(
        d, name=rec["name_label"], uuid=uuid, description=rec["name_description"] or None,
        memory=_kib(rec["memory_static_max"]), current_memory=_kib(rec["memory_dynamic_max"]),
        vcpu=vcpu, on_crash=_CRASH_BACK.get(rec["actions_after_crash"], d.on_crash))


def _bare_xml(rec: dict[str, Any], uuid: str, disks: list[tuple[str, str, str]],
              nics: list[tuple[str, str]]) -> str:
    from xml.sax.saxutils import escape, quoteattr

    hvm = rec.get("HVM_boot_policy") or rec.get("domain_type") == "hvm"
    parts = [f"<domain type='xen'><name>{escape(rec['name_label'])}</name><uuid>{uuid}</uuid>",
             f"<memory unit='KiB'>{_kib(rec['memory_static_max'])}</memory>",
             f"<vcpu>{int(rec['VCPUs_max'])}</vcpu><os>"]
    if hvm:
        parts.append("<type machine='xenfv'>hvm</type>")
        for c in rec.get("HVM_boot_params", {}).get("order", ""):
            if c in _BOOT_BACK:
                parts.append(f"<boot dev='{_BOOT_BACK[c]}'/>")
    else:
        parts.append("<type machine='xenpv'>linux</type>")
        for tag, key in (("kernel", "PV_kernel"), ("initrd", "PV_ramdisk"),
                         ("cmdline", "PV_args")):
            if rec.get(key):
                parts.append(f"<{tag}>{escape(rec[key])}</{tag}>")
    parts.append("</os>")
    parts.append("<devices>")
    for dev, sr, vdi in disks:
        target = "xvd" + chr(ord("a") + int(dev)) if dev.isdigit() and int(dev) < 26 else dev
        parts.append(f"<disk type='volume' device='disk'><source pool={quoteattr(sr)} "
                     f"volume={quoteattr(vdi)}/><target dev='{target}' bus='xen'/></disk>")
    for net, mac in nics:
        parts.append(f"<interface type='network'><mac address='{mac}'/>"
                     f"<source network={quoteattr(net)}/></interface>")
    parts.append("</devices></domain>")
    return "".join(parts)
