"""The test host's capabilities and domain capabilities documents, built from the XML models."""

from __future__ import annotations

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.records import NodeInfo

EMULATOR = "/usr/bin/test-hv"
ARCHES = ("i686", "x86_64")
MACHINES = ("pc", "q35")


def capabilities(info: NodeInfo) -> str:
    from virtkit.xml import capabilities as cx  # imported on first use: a large module
    from virtkit.xml.domain import CpuTopology

    topology = CpuTopology(sockets=info.sockets, cores=info.cores, threads=info.threads)
    host = cx.HostCaps(cpu=cx.HostCpu(arch=info.model, topology=topology))
    guests = tuple(
        cx.Guest(
            os_type="hvm",
            arch=cx.GuestArch(
                name=arch,
                wordsize=32 if arch == "i686" else 64,
                emulator=EMULATOR,
                machines=tuple(cx.Machine(name=m) for m in MACHINES),
                domains=(cx.GuestDomain(type="test"),),
            ),
        )
        for arch in ARCHES
    )
    return cx.Capabilities(host=host, guests=guests).to_xml()


def domain_capabilities(
    emulator: str | None, arch: str | None, machine: str | None, virttype: str | None
) -> str:
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
    from virtkit.xml import capabilities as cx

    yes = cx.Supported(supported=True)
    doc = cx.DomainCapabilities(
        path=EMULATOR,
        domain="test",
        machine=machine or MACHINES[0],
        arch=arch or ARCHES[0],
        vcpu=cx.DomcapsVcpu(max=16),
        os=cx.DomcapsOs(supported=True, enums=(cx.Enum(name="firmware", values=()),)),
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
