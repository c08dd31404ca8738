"""A third-party driver's own domain and OS types: accepted by the domain model, the schema
check and the capabilities document when the driver passes them; libvirt's built-in types stay
the default; nothing is remembered between calls."""

from __future__ import annotations

import pytest

from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.xml import capabilities as cx
from virtkit.xml import schema
from virtkit.xml.domain import DOMAIN_TYPES, OS_TYPES, Domain, type_choices
from virtkit.xml.snapshot import DomainSnapshot

# a made-up driver: "fancyvm" guests running "fancyos"
TYPES = {"domain_types": ("fancyvm",), "os_types": ("fancyos", "hvm")}

DOC = """<domain type='{dtype}'>
  <name>guest1</name>
  <memory unit='MiB'>256</memory>
  <os><type arch='x86_64'>{ostype}</type></os>
  <devices><disk type='file'><source file='/img/g1.raw'/><target dev='vda'/></disk></devices>
</domain>"""
FANCY = DOC.format(dtype="fancyvm", ostype="fancyos")


def test_builtin_types_are_the_default() -> None:
    with pytest.raises(VirtError) as info:
        Domain.from_xml(FANCY)
    assert info.value.code == ErrorCode.XML_ERROR
    assert "unknown value 'fancyvm' for attribute 'type' of <domain>" in info.value.message
    with pytest.raises(VirtError) as info:
        Domain.from_xml(FANCY, validate=True)
    assert info.value.code == ErrorCode.XML_INVALID_SCHEMA
    assert "Invalid value 'fancyvm' for attribute type of element domain" in info.value.message
    assert Domain.from_xml(DOC.format(dtype="kvm", ostype="hvm")).type == "kvm"
    assert "kvm" in DOMAIN_TYPES and "hvm" in OS_TYPES


@pytest.mark.parametrize("validate", [False, True])
@pytest.mark.parametrize("strict", [False, True])
def test_driver_types_accepted(validate: bool, strict: bool) -> None:
    dom = Domain.from_xml(FANCY, validate=validate, strict=strict, **TYPES)
    assert dom.type == "fancyvm" and dom.os.type.name == "fancyos"
    assert dom.os.type.arch == "x86_64"
    full = dom.with_defaults()
    again = Domain.from_xml(full.to_xml(), validate=True, **TYPES)
    assert again == full
    schema.validate(full.to_xml(), "domain", choices=type_choices(**TYPES))
    model, ignored = Domain.parse(FANCY, **TYPES)
    assert model == dom and ignored == []


def test_the_driver_set_replaces_the_builtin_one() -> None:
    """A driver's set is what its documents may hold: libvirt's other types are refused there,
    by the model and by the schema check alike."""
    kvm = DOC.format(dtype="kvm", ostype="hvm")
    with pytest.raises(VirtError) as info:
        Domain.from_xml(kvm, **TYPES)
    assert info.value.code == ErrorCode.XML_ERROR
    assert "unknown value 'kvm'" in info.value.message and "fancyvm" in info.value.message
    with pytest.raises(VirtError) as info:
        Domain.from_xml(kvm, validate=True, **TYPES)
    assert info.value.code == ErrorCode.XML_INVALID_SCHEMA
    # the OS type set replaces the builtin one too: 'xen' is not in this driver's set
    with pytest.raises(VirtError, match="unknown value 'xen' for the text of <type>"):
        Domain.from_xml(DOC.format(dtype="fancyvm", ostype="xen"), **TYPES)
    # and a driver may list libvirt's own types beside its own
    both = Domain.from_xml(kvm, domain_types=(*DOMAIN_TYPES, "fancyvm"))
    assert both.type == "kvm"


def test_nothing_is_remembered_between_calls() -> None:
    """Leaf elements are shared between parses (interned); a parse with a driver's types neither
    sees what a default parse cached nor leaves anything a default parse would see."""
    hvm_only = {"domain_types": ("fancyvm",), "os_types": ("fancyos",)}
    Domain.from_xml(DOC.format(dtype="kvm", ostype="hvm"))  # caches <type arch=...>hvm</type>
    with pytest.raises(VirtError, match="unknown value 'hvm'"):
        Domain.from_xml(DOC.format(dtype="fancyvm", ostype="hvm"), **hvm_only)
    Domain.from_xml(FANCY, validate=True, **hvm_only)
    with pytest.raises(VirtError, match="unknown value 'fancyos'"):
        Domain.from_xml(DOC.format(dtype="kvm", ostype="fancyos"))
    with pytest.raises(VirtError) as info:
        Domain.from_xml(DOC.format(dtype="kvm", ostype="fancyos"), validate=True)
    assert info.value.code == ErrorCode.XML_INVALID_SCHEMA


def test_snapshot_of_a_driver_domain() -> None:
    snap = f"<domainsnapshot><name>s1</name>{FANCY}</domainsnapshot>"
    with pytest.raises(VirtError):
        DomainSnapshot.from_xml(snap)
    doc = DomainSnapshot.from_xml(snap, validate=True, **TYPES)
    assert doc.domain is not None and doc.domain.type == "fancyvm"


def test_capabilities_declare_the_driver_types() -> None:
    """The capabilities document a driver builds names its types; its parsed form gives them
    back, ready to pass to Domain.from_xml."""
    caps = cx.Capabilities(
        host=cx.HostCaps(cpu=cx.HostCpu(arch="x86_64")),
        guests=(
            cx.Guest(os_type="fancyos", arch=cx.GuestArch(
                name="x86_64", wordsize=64, domains=(cx.GuestDomain(type="fancyvm"),))),
            cx.Guest(os_type="hvm", arch=cx.GuestArch(
                name="x86_64", domains=(cx.GuestDomain(type="fancyvm"),))),
        ),
    )
    text = caps.to_xml()
    schema.validate(text, "capabilities")
    parsed = cx.Capabilities.from_xml(text)
    assert parsed == caps
    assert parsed.domain_types() == ("fancyvm",)
    assert parsed.os_types() == ("fancyos", "hvm")
    dom = Domain.from_xml(FANCY, validate=True, domain_types=parsed.domain_types(),
                          os_types=parsed.os_types())
    assert dom.type == "fancyvm"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"domain_types": ()}, ValueError),
        ({"domain_types": ("two words",)}, ValueError),
        ({"os_types": ("",)}, ValueError),
        ({"os_types": "hvm"}, TypeError),
    ],
)
def test_bad_type_sets_are_refused(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        Domain.from_xml(FANCY, **kwargs)  # type: ignore[arg-type]


def test_default_sets_mean_no_change() -> None:
    assert type_choices() is None
    assert type_choices(DOMAIN_TYPES, OS_TYPES) is None
