"""The test driver's domain definitions: the XML model, its formatted text, and the numbers the
driver reads often (memory, vcpus), kept together so each is computed once per change."""

from __future__ import annotations

import attrs

from virtkit.xml.domain import Domain


@attrs.frozen
class DomainDef:
    """One definition: the parsed, defaults-filled model, its formatted document, and the
    figures ``info()`` reads. Build it with :func:`from_model` or :func:`parse_domain`."""

    model: Domain
    xml: str  # with secrets; the driver strips them unless security info is asked for
    name: str
    uuid: str
    memory: int  # KiB, the maximum (<memory>)
    current_memory: int  # KiB (<currentMemory>)
    max_vcpus: int
    vcpus: int

    def public_xml(self, dom_id: int, security_info: bool) -> str:
        """The document as ``virDomainGetXMLDesc`` gives it: id while active, secrets only on
        request."""
        if dom_id < 0 and security_info:
            return self.xml
        model = self.model if dom_id < 0 else attrs.evolve(self.model, id=dom_id)
        return model.to_xml(secure=security_info)


def from_model(model: Domain) -> DomainDef:
    """A definition from a checked model (the model's own check refuses a missing memory)."""
    model = attrs.evolve(model.with_defaults(), id=None)
    assert model.uuid is not None and model.vcpu is not None  # with_defaults() filled them
    memory = model.memory or 0
    vcpu = model.vcpu
    return DomainDef(
        model,
        model.to_xml(),
        model.name,
        model.uuid,
        memory,
        model.current_memory or memory,
        vcpu.count,
        vcpu.current if vcpu.current is not None else vcpu.count,
    )


def parse_domain(text: str, validate: bool = False) -> DomainDef:
    """Parse a ``<domain>`` document and fill libvirt's defaults; XML_ERROR (or
    XML_INVALID_SCHEMA with ``validate``) names the element and the problem."""
    return from_model(Domain.from_xml(text, validate=validate))
