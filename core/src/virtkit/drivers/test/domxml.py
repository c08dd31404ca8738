"""The test driver's domain definitions: the XML model, its formatted text, and the numbers the
driver reads often (memory, vcpus), kept together so the text is formatted once per change."""

from __future__ import annotations

import attrs

from ...xml.domain import Domain


@attrs.frozen
class DomainDef:
    """One definition: the parsed, defaults-filled model and its formatted document."""

    model: Domain
    xml: str  # with secrets; the driver strips them unless security info is asked for

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def uuid(self) -> str:
        assert self.model.uuid is not None  # with_defaults() filled it
        return self.model.uuid

    @property
    def memory(self) -> int:
        """Maximum memory in KiB (``<memory>``)."""
        return self.model.memory or 0

    @property
    def current_memory(self) -> int:
        return self.model.current_memory or self.memory

    @property
    def max_vcpus(self) -> int:
        return self.model.vcpu.count if self.model.vcpu is not None else 1

    @property
    def vcpus(self) -> int:
        vcpu = self.model.vcpu
        if vcpu is None:
            return 1
        return vcpu.current if vcpu.current is not None else vcpu.count

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
    return DomainDef(model, model.to_xml())


def parse_domain(text: str, validate: bool = False) -> DomainDef:
    """Parse a ``<domain>`` document and fill libvirt's defaults; XML_ERROR (or
    XML_INVALID_SCHEMA with ``validate``) names the element and the problem."""
    return from_model(Domain.from_xml(text, validate=validate))
