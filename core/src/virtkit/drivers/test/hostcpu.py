"""The test host's CPU models: the model table, baseline and comparison of ``<cpu>`` definitions.

The table is virtkit's own small one: x86 models from the 486 to Skylake, each the one before it
plus the instruction-set features it introduced, so "newer" means "a superset". A CPU
definition's features are its model's features plus those it requires, minus those it disables
or forbids. The test host's CPU is ``HOST_MODEL`` (with ``vmx``); the hypervisor can give guests
all of it.
"""

from __future__ import annotations

from typing import Any

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.xml.parser import parse_document

#: model name -> (vendor, features it adds to the model before it); oldest first
_X86: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("486", "", ("fpu", "vme", "pse")),
    ("pentium", "", ("de", "tsc", "msr", "mce", "cx8")),
    ("pentium2", "", ("sep", "mtrr", "pge", "mca", "cmov", "pat", "mmx", "fxsr")),
    ("pentium3", "", ("sse",)),
    ("pentiumpro", "", ("apic", "pae")),
    ("qemu32", "", ("sse2", "pse36")),
    ("kvm32", "", ("clflush",)),
    ("coreduo", "Intel", ("ss", "nx", "pni", "monitor")),
    ("core2duo", "Intel", ("ssse3", "lm", "syscall")),
    ("qemu64", "", ("cx16", "lahf_lm")),
    ("kvm64", "", ("pdpe1gb",)),
    ("Conroe", "Intel", ("x2apic",)),
    ("Penryn", "Intel", ("sse4.1",)),
    ("Nehalem", "Intel", ("sse4.2", "popcnt")),
    ("Westmere", "Intel", ("aes", "pclmuldq")),
    ("SandyBridge", "Intel", ("avx", "xsave", "tsc-deadline")),
    ("IvyBridge", "Intel", ("f16c", "rdrand", "fsgsbase", "erms", "smep")),
    ("Haswell", "Intel", ("avx2", "bmi1", "bmi2", "fma", "movbe", "invpcid")),
    ("Broadwell", "Intel", ("adx", "rdseed", "smap", "3dnowprefetch")),
    ("Skylake-Client", "Intel", ("xsavec", "xgetbv1", "clflushopt")),
)

MODELS: dict[str, tuple[str, frozenset[str]]] = {}
_acc: set[str] = set()
for _name, _vendor, _adds in _X86:
    _acc |= set(_adds)
    MODELS[_name] = (_vendor, frozenset(_acc))
del _name, _vendor, _adds, _acc

#: architectures the table serves (the test host's guests are i686 and x86_64)
ARCHES = ("i686", "x86_64")
#: features that block migration (left out of a migratable baseline)
NOT_MIGRATABLE = frozenset({"invtsc"})
#: features a model never implies but a host may have
EXTRA = frozenset({"vmx", "svm", "hypervisor", "invtsc", "pcid", "ht"})
KNOWN_FEATURES = frozenset().union(*(f for _, f in MODELS.values())) | EXTRA

HOST_MODEL = "Haswell"
HOST_VENDOR = "Intel"
HOST_FEATURES = MODELS[HOST_MODEL][1] | {"vmx"}


def _err(code: ErrorCode, message: str) -> VirtError:
    return VirtError(code, message, ErrorDomain.CPU)


def model_names(arch: str) -> list[str]:
    if arch not in ARCHES:
        raise _err(ErrorCode.INVALID_ARG,
                   f"invalid argument: the test host has no CPU models for architecture '{arch}'")
    return list(MODELS)


class CpuDef:
    """A parsed ``<cpu>``: architecture, model, vendor and the full feature set."""

    def __init__(self, xml: str) -> None:
        root = parse_document(xml, "CPU")
        if root.tag != "cpu":
            found = root.find(".//cpu")
            if found is None:
                raise VirtError(ErrorCode.XML_ERROR,
                                f"XML error: expected a <cpu> definition, not <{root.tag}>",
                                ErrorDomain.CPU)
            root = found
        self.arch = (root.findtext("arch") or "x86_64").strip()
        if self.arch not in ARCHES:
            raise _err(ErrorCode.INVALID_ARG,
                       f"invalid argument: the test host has no CPU models for architecture "
                       f"'{self.arch}'")
        model = root.find("model")
        self.model = (model.text or "").strip() if model is not None else ""
        self.vendor = (root.findtext("vendor") or "").strip()
        features: set[str] = set()
        if self.model:
            known = MODELS.get(self.model)
            if known is None:
                raise _err(ErrorCode.INVALID_ARG,
                           f"invalid argument: unknown CPU model '{self.model}'")
            if self.vendor and known[0] and self.vendor != known[0]:
                raise _err(ErrorCode.INVALID_ARG,
                           f"invalid argument: CPU model '{self.model}' is not a "
                           f"'{self.vendor}' model")
            self.vendor = self.vendor or known[0]
            features |= known[1]
        for feat in root.iterfind("feature"):
            name = feat.get("name", "")
            if name not in KNOWN_FEATURES:
                raise _err(ErrorCode.INVALID_ARG, f"invalid argument: unknown CPU feature "
                                                  f"'{name}'")
            if feat.get("policy") in ("disable", "forbid"):
                features.discard(name)
            else:
                features.add(name)
        if not self.model and not features:
            raise _err(ErrorCode.INVALID_ARG,
                       "invalid argument: the CPU definition has neither a model nor features")
        self.features = frozenset(features)


def _cpu_xml(model: str, vendor: str, extra: list[str]) -> str:
    lines = ["<cpu mode='custom' match='exact'>", f"  <model fallback='allow'>{model}</model>"]
    if vendor:
        lines.append(f"  <vendor>{vendor}</vendor>")
    lines += [f"  <feature policy='require' name='{f}'/>" for f in extra]
    return "\n".join([*lines, "</cpu>"]) + "\n"


def baseline(xml_cpus: list[str], features: bool, migratable: bool,
             limit: frozenset[str] | None = None) -> str:
    """The newest model every CPU (and ``limit``, the hypervisor's) can run, with the common
    features the model lacks (every feature with ``features``)."""
    cpus = [CpuDef(x) for x in xml_cpus]
    vendors = {c.vendor for c in cpus if c.vendor}
    if len(vendors) > 1:
        raise _err(ErrorCode.OPERATION_FAILED, "operation failed: CPU vendors differ "
                                                f"({', '.join(sorted(vendors))}): no baseline")
    common = frozenset.intersection(*(c.features for c in cpus))
    if limit is not None:
        common &= limit
    if migratable:
        common -= NOT_MIGRATABLE
    vendor = vendors.pop() if vendors else ""
    best = ""
    for name, (model_vendor, feats) in MODELS.items():
        if feats <= common and (not model_vendor or not vendor or model_vendor == vendor):
            best = name
    if not best:
        raise _err(ErrorCode.OPERATION_FAILED,
                   "operation failed: the CPUs share no model of the test host's table")
    model_feats = MODELS[best][1]
    extra = sorted(common if features else common - model_feats)
    return _cpu_xml(best, vendor or MODELS[best][0], extra)


def compare(xml: str, fail_incompatible: bool, host: frozenset[str] = HOST_FEATURES) -> int:
    """0 incompatible, 1 identical, 2 superset; CPU_INCOMPATIBLE when asked to fail."""
    cpu = CpuDef(xml)
    missing = cpu.features - host
    if missing:
        if fail_incompatible:
            raise _err(ErrorCode.CPU_INCOMPATIBLE,
                       f"the CPU is incompatible with host CPU: host CPU does not provide "
                       f"required features: {', '.join(sorted(missing))}")
        return 0
    return 1 if cpu.features == host else 2


def host_cpu_fields() -> dict[str, Any]:
    """The host CPU's model, vendor and the features beyond the model (for capabilities)."""
    return {"model": HOST_MODEL, "vendor": HOST_VENDOR,
            "features": sorted(HOST_FEATURES - MODELS[HOST_MODEL][1])}
