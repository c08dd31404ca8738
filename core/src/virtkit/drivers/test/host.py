"""The test host's guest kinds and its domain capabilities document, built from the XML models
(the capabilities document is in :mod:`.hoststats`)."""

from __future__ import annotations

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError

EMULATOR = "/usr/bin/test-hv"
ARCHES = ("i686", "x86_64")
MACHINES = ("pc", "q35")


def check_guest_kind(
    emulator: str | None, arch: str | None, machine: str | None, virttype: str | None
) -> None:
    """INVALID_ARG unless each given value is one the test host has."""

    def refuse(what: str, value: str, known: tuple[str, ...]) -> VirtError:
        return VirtError(
            ErrorCode.INVALID_ARG,
            f"invalid argument: the test host has no {what} '{value}' "
            f"(known: {', '.join(known)})",
            ErrorDomain.TEST,
        )

    if emulator not in (None, EMULATOR):
        raise refuse("emulator", emulator, (EMULATOR,))
    if arch not in (None, *ARCHES):
        raise refuse("architecture", arch, ARCHES)
    if machine not in (None, *MACHINES):
        raise refuse("machine type", machine, MACHINES)
    if virttype not in (None, "test"):
        raise refuse("virtualization type", virttype, ("test",))


def domain_capabilities(
    emulator: str | None, arch: str | None, machine: str | None, virttype: str | None
) -> str:
    check_guest_kind(emulator, arch, machine, virttype)
    from virtkit.drivers.test import hostcpu
    from virtkit.xml import capabilities as cx
    from virtkit.xml.domain import CpuFeature

    yes = cx.Supported(supported=True)
    doc = cx.DomainCapabilities(
        path=EMULATOR,
        domain="test",
        machine=machine or MACHINES[0],
        arch=arch or ARCHES[0],
        vcpu=cx.DomcapsVcpu(max=16),
        os=cx.DomcapsOs(supported=True, enums=(cx.Enum(name="firmware", values=()),)),
        cpu=cx.DomcapsCpu(modes=(
            cx.CpuMode(name="host-passthrough", supported=True),
            cx.CpuMode(name="maximum", supported=True),
            cx.CpuMode(name="host-model", supported=True, models=(
                cx.DomcapsCpuModel(fallback="forbid", name=hostcpu.HOST_MODEL),),
                vendor=hostcpu.HOST_VENDOR,
                features=tuple(CpuFeature(policy="require", name=f)
                               for f in hostcpu.host_cpu_fields()["features"])),
            cx.CpuMode(name="custom", supported=True, models=tuple(
                cx.DomcapsCpuModel(usable="yes" if feats <= hostcpu.HOST_FEATURES else "no",
                                   vendor=vendor or "unknown", name=name)
                for name, (vendor, feats) in hostcpu.MODELS.items())),
        )),
        devices=cx.DomcapsDevices(
            disk=cx.Supported(
                supported=True,
                enums=(
                    cx.Enum(name="diskDevice", values=("disk", "cdrom", "floppy")),
                    cx.Enum(name="bus", values=("ide", "sata", "virtio")),
                ),
            ),
            graphics=cx.Supported(
                supported=True, enums=(cx.Enum(name="type", values=("vnc", "spice")),)
            ),
            hostdev=yes,
            rng=yes,
        ),
    )
    return doc.to_xml()
