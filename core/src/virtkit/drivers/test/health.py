"""What the test driver reports about a running guest's health: whether its definition changed
since it started, the state of the driver's control of it, its disks' I/O errors and the
messages (taints) it has earned.

Disk errors are libvirt's test driver's: while the guest runs, each disk reports one, the
first (in the definition's order) "unspecified", the second "no space", and so on by turns.
Control is "ok" unless a job (save, managed save, dump...) runs: then "background job" for the
job's time so far, as QEMU's driver reports it (libvirt's test driver always says ok). A guest
with a host cdrom (a block-device cdrom) is tainted "use of host cdrom passthrough" as QEMU's
guests are; a taint lasts until the guest stops. The test driver deprecates nothing.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainControlInfo, DomainRef

if TYPE_CHECKING:
    from virtkit.drivers.test.domxml import DomainDef
    from virtkit.drivers.test.node import TestDomain, TestNode

CONTROL_OK, CONTROL_JOB = 0, 1
CDROM_TAINT = "tainted: use of host cdrom passthrough"


def _active(d: TestDomain) -> TestDomain:
    if not d.status.active:
        raise VirtError(ErrorCode.OPERATION_INVALID, f"domain '{d.name}' is not running",
                        ErrorDomain.TEST)
    return d


def _taints(definition: DomainDef) -> list[str]:
    devices = definition.model.devices
    cdroms = [k for k in (devices.disks if devices else ())
              if k.device == "cdrom" and k.type == "block"]
    return [CDROM_TAINT] if cdroms else []


class HealthMixin:
    """is_updated, control info, disk errors and messages of the test driver."""

    if TYPE_CHECKING:

        @property
        def _node(self) -> TestNode: ...

    @hookimpl
    def virtkit_domain_is_updated(self, dom: DomainRef) -> bool:
        with self._node.lock:
            d = self._node.find(dom)
            booted = d.runtime.get("booted") if d.status.active else None
            return booted is not None and booted.xml != d.definition.xml

    @hookimpl
    def virtkit_domain_get_control_info(self, dom: DomainRef) -> DomainControlInfo:
        with self._node.lock:
            d = _active(self._node.find(dom))
            if d.job is None:
                return DomainControlInfo(CONTROL_OK, 0, 0)
            return DomainControlInfo(CONTROL_JOB, 0,
                                     int((time.monotonic() - d.job.started) * 1000))

    @hookimpl
    def virtkit_domain_get_disk_errors(self, dom: DomainRef) -> dict[str, int]:
        with self._node.lock:
            d = _active(self._node.find(dom))
            devices = d.current.model.devices
            disks = devices.disks if devices else ()
            return {k.target.dev: i % 2 + 1 for i, k in enumerate(disks)}

    @hookimpl
    def virtkit_domain_get_messages(
        self, dom: DomainRef, tainting: bool, deprecation: bool
    ) -> list[str]:
        with self._node.lock:
            d = self._node.find(dom)
            if not d.status.active:
                return []
            taints: list[str] = d.runtime.setdefault("taints", [])
            for taint in _taints(d.current):
                if taint not in taints:
                    taints.append(taint)
            return list(taints) if tainting or not deprecation else []
