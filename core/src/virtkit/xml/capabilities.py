"""Host capabilities (``<capabilities>``), domain capabilities (``<domainCapabilities>``) and
node info (https://libvirt.org/formatcaps.html, formatdomaincaps.html).

Feature lists whose element names are the features themselves (``<features><pae/></features>``)
are kept verbatim as raw XML.
"""

# Field helpers (attr, child, ...) build attrs fields; they are not shared mutable defaults.
# ruff: noqa: RUF009

from __future__ import annotations

from typing import Any

import attrs

from virtkit.xml._model import (
    PATH,
    UINT,
    UUID,
    YESNO,
    Model,
    ParseContext,
    attr,
    child,
    child_text,
    child_texts,
    children,
    flag,
    raw,
    text,
    unit_text,
)
from virtkit.xml.domain import CpuFeature, CpuTopology
from virtkit.xml.parser import MAX_HOST_ELEMENTS, parse_document, xml_error

__all__ = [
    "Capabilities", "DomainCapabilities", "Guest", "GuestArch", "HostCaps", "HostCpu", "NodeInfo",
]


def _load_plain(cls: Any, text: str | bytes) -> Any:
    # documents a driver writes about its host: every CPU, cache and machine type is listed
    root = parse_document(text, cls.WHAT, max_elements=MAX_HOST_ELEMENTS)
    return cls.from_element(root, ParseContext(cls.WHAT))


@attrs.frozen(kw_only=True)
class Pages(Model):
    size: int = attr(conv=UINT, required=True)
    unit: str | None = attr()
    count: int | None = text(conv=UINT)


@attrs.frozen(kw_only=True)
class Microcode(Model):
    version: int = attr(conv=UINT, required=True)


@attrs.frozen(kw_only=True)
class HostCpu(Model):
    arch: str = child_text(required=True)
    model: str | None = child_text()
    vendor: str | None = child_text()
    microcode: Microcode | None = child(Microcode)
    features_raw: tuple[str, ...] = raw("features")
    topology: CpuTopology | None = child(CpuTopology)
    features: tuple[CpuFeature, ...] = children(CpuFeature, "feature")
    pages: tuple[Pages, ...] = children(Pages, "pages")


@attrs.frozen(kw_only=True)
class PowerManagement(Model):
    suspend_mem: bool = flag()
    suspend_disk: bool = flag()
    suspend_hybrid: bool = flag()


@attrs.frozen(kw_only=True)
class Iommu(Model):
    support: bool = attr(conv=YESNO, required=True)


@attrs.frozen(kw_only=True)
class UriTransports(Model):
    transports: tuple[str, ...] = child_texts("uri_transport")


@attrs.frozen(kw_only=True)
class MigrationFeatures(Model):
    live: bool = flag()
    uri_transports: UriTransports | None = child(UriTransports)


@attrs.frozen(kw_only=True)
class CellMemory(Model):
    kib: int = unit_text(required=True)


@attrs.frozen(kw_only=True)
class Sibling(Model):
    id: int = attr(conv=UINT, required=True)
    value: int = attr(conv=UINT, required=True)


@attrs.frozen(kw_only=True)
class Distances(Model):
    siblings: tuple[Sibling, ...] = children(Sibling, "sibling")


@attrs.frozen(kw_only=True)
class CellCpu(Model):
    id: int = attr(conv=UINT, required=True)
    socket_id: int | None = attr(conv=UINT)
    die_id: int | None = attr(conv=UINT)
    core_id: int | None = attr(conv=UINT)
    siblings: str | None = attr()


@attrs.frozen(kw_only=True)
class CellCpus(Model):
    num: int = attr(conv=UINT, required=True)
    cpus: tuple[CellCpu, ...] = children(CellCpu, "cpu")


@attrs.frozen(kw_only=True)
class Cell(Model):
    id: int = attr(conv=UINT, required=True)
    memory: CellMemory | None = child(CellMemory)
    pages: tuple[Pages, ...] = children(Pages, "pages")
    distances: Distances | None = child(Distances)
    cpus: CellCpus | None = child(CellCpus)


@attrs.frozen(kw_only=True)
class Cells(Model):
    num: int = attr(conv=UINT, required=True)
    cells: tuple[Cell, ...] = children(Cell, "cell")


@attrs.frozen(kw_only=True)
class HostTopology(Model):
    cells: Cells | None = child(Cells)


@attrs.frozen(kw_only=True)
class SecModel(Model):
    model: str = child_text(required=True)
    doi: str | None = child_text()


@attrs.frozen(kw_only=True)
class HostCaps(Model):
    uuid: str | None = child_text(conv=UUID)
    cpu: HostCpu = child(HostCpu, required=True)
    power_management: PowerManagement | None = child(PowerManagement)
    iommu: Iommu | None = child(Iommu)
    migration_features: MigrationFeatures | None = child(MigrationFeatures)
    topology: HostTopology | None = child(HostTopology)
    secmodels: tuple[SecModel, ...] = children(SecModel, "secmodel")


@attrs.frozen(kw_only=True)
class Machine(Model):
    max_cpus: int | None = attr("maxCpus", conv=UINT)
    canonical: str | None = attr()
    deprecated: bool | None = attr(conv=YESNO)
    name: str = text(required=True)


@attrs.frozen(kw_only=True)
class GuestDomain(Model):
    type: str = attr(required=True)
    emulator: str | None = child_text(conv=PATH)
    machines: tuple[Machine, ...] = children(Machine, "machine")


@attrs.frozen(kw_only=True)
class GuestArch(Model):
    name: str = attr(required=True)
    wordsize: int | None = child_text(conv=UINT)
    emulator: str | None = child_text(conv=PATH)
    loader: str | None = child_text(conv=PATH)
    machines: tuple[Machine, ...] = children(Machine, "machine")
    domains: tuple[GuestDomain, ...] = children(GuestDomain, "domain")


@attrs.frozen(kw_only=True)
class Guest(Model):
    os_type: str = child_text(required=True)
    arch: GuestArch = child(GuestArch, required=True)
    features: tuple[str, ...] = raw("features")


@attrs.frozen(kw_only=True)
class Capabilities(Model):
    """A ``<capabilities>`` document: the host and the guests it can run."""

    TAG = "capabilities"
    WHAT = "capabilities"

    host: HostCaps = child(HostCaps, required=True)
    guests: tuple[Guest, ...] = children(Guest, "guest")

    @classmethod
    def from_xml(cls, text: str | bytes) -> Capabilities:
        result: Capabilities = _load_plain(cls, text)
        return result

    def os_types(self) -> tuple[str, ...]:
        """The OS types the guests declare (``<guest><os_type>``), each once, in order: what a
        driver passes as ``os_types`` to ``Domain.from_xml``."""
        return tuple(dict.fromkeys(g.os_type for g in self.guests))

    def domain_types(self) -> tuple[str, ...]:
        """The domain types the guests declare (``<guest><arch><domain type=...>``), each once,
        in order: what a driver passes as ``domain_types`` to ``Domain.from_xml``."""
        return tuple(dict.fromkeys(d.type for g in self.guests for d in g.arch.domains))


# ---------------------------------------------------------------- domain capabilities


@attrs.frozen(kw_only=True)
class Enum(Model):
    name: str = attr(required=True)
    values: tuple[str, ...] = child_texts("value")


@attrs.frozen(kw_only=True)
class Supported(Model):
    """An element with ``supported='yes|no'``, optional ``<value>``s and ``<enum>``s."""

    supported: bool = attr(conv=YESNO, required=True)
    values: tuple[str, ...] = child_texts("value")
    enums: tuple[Enum, ...] = children(Enum, "enum")


@attrs.frozen(kw_only=True)
class DomcapsOs(Model):
    supported: bool = attr(conv=YESNO, required=True)
    enums: tuple[Enum, ...] = children(Enum, "enum")
    loader: Supported | None = child(Supported)


@attrs.frozen(kw_only=True)
class DomcapsVcpu(Model):
    max: int = attr(conv=UINT, required=True)


@attrs.frozen(kw_only=True)
class DomcapsCpuModel(Model):
    usable: str | None = attr(choices=("yes", "no", "unknown"))
    fallback: str | None = attr(choices=("allow", "forbid"))
    deprecated: bool | None = attr(conv=YESNO)
    vendor: str | None = attr()
    name: str = text(required=True)


@attrs.frozen(kw_only=True)
class CpuMode(Model):
    name: str = attr(required=True)
    supported: bool = attr(conv=YESNO, required=True)
    enums: tuple[Enum, ...] = children(Enum, "enum")
    models: tuple[DomcapsCpuModel, ...] = children(DomcapsCpuModel, "model")
    vendor: str | None = child_text()
    features: tuple[CpuFeature, ...] = children(CpuFeature, "feature")


@attrs.frozen(kw_only=True)
class DomcapsCpu(Model):
    modes: tuple[CpuMode, ...] = children(CpuMode, "mode")


@attrs.frozen(kw_only=True)
class DomcapsDevices(Model):
    disk: Supported | None = child(Supported)
    graphics: Supported | None = child(Supported)
    video: Supported | None = child(Supported)
    hostdev: Supported | None = child(Supported)
    rng: Supported | None = child(Supported)
    filesystem: Supported | None = child(Supported)
    tpm: Supported | None = child(Supported)
    redirdev: Supported | None = child(Supported)
    channel: Supported | None = child(Supported)
    crypto: Supported | None = child(Supported)


@attrs.frozen(kw_only=True)
class DomcapsFeatures(Model):
    gic: Supported | None = child(Supported)
    vmcoreinfo: Supported | None = child(Supported)
    genid: Supported | None = child(Supported)
    backing_store_input: Supported | None = child(Supported, "backingStoreInput")
    backup: Supported | None = child(Supported)
    sev: Supported | None = child(Supported)
    sgx: Supported | None = child(Supported)
    async_teardown: Supported | None = child(Supported, "async-teardown")


@attrs.frozen(kw_only=True)
class DomainCapabilities(Model):
    """A ``<domainCapabilities>`` document: what one emulator/machine/arch/type supports."""

    TAG = "domainCapabilities"
    WHAT = "domain capabilities"

    path: str = child_text(conv=PATH, required=True)
    domain: str = child_text(required=True)
    machine: str | None = child_text()
    arch: str = child_text(required=True)
    vcpu: DomcapsVcpu | None = child(DomcapsVcpu)
    iothreads: Supported | None = child(Supported)
    os: DomcapsOs | None = child(DomcapsOs)
    cpu: DomcapsCpu | None = child(DomcapsCpu)
    memory_backing: Supported | None = child(Supported, "memoryBacking")
    devices: DomcapsDevices | None = child(DomcapsDevices)
    features: DomcapsFeatures | None = child(DomcapsFeatures)

    @classmethod
    def from_xml(cls, text: str | bytes) -> DomainCapabilities:
        result: DomainCapabilities = _load_plain(cls, text)
        return result


# ---------------------------------------------------------------- node info


@attrs.frozen(kw_only=True)
class NodeInfo(Model):
    """libvirt's ``virNodeInfo``: CPU model, memory in KiB, active CPUs, MHz, NUMA nodes,
    sockets per node, cores per socket, threads per core. Its XML form (``<nodeinfo>``) is
    virtkit's own; ``as_list()`` is libvirt-python's ``getInfo()`` list."""

    TAG = "nodeinfo"
    WHAT = "node info"

    model: str = child_text(required=True)
    memory: int = child_text(conv=UINT, required=True)
    cpus: int = child_text(conv=UINT, required=True)
    mhz: int = child_text(conv=UINT, required=True)
    nodes: int = child_text(conv=UINT, required=True)
    sockets: int = child_text(conv=UINT, required=True)
    cores: int = child_text(conv=UINT, required=True)
    threads: int = child_text(conv=UINT, required=True)

    @classmethod
    def from_xml(cls, text: str | bytes) -> NodeInfo:
        result: NodeInfo = _load_plain(cls, text)
        if result.cpus < 1 or min(result.nodes, result.sockets, result.cores,
                                   result.threads) < 1:
            raise xml_error("node info: <cpus>, <nodes>, <sockets>, <cores>, <threads> must be "
                            "at least 1")
        return result

    def as_list(self) -> list[Any]:
        """``[model, memory MiB, cpus, mhz, nodes, sockets, cores, threads]`` as
        libvirt-python's ``virConnect.getInfo()`` returns it."""
        return [self.model, self.memory // 1024, self.cpus, self.mhz, self.nodes, self.sockets,
                self.cores, self.threads]
