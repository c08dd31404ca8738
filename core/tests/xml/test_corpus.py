"""Hand-written realistic documents (tests/data/xml/KIND/*.xml): each parses with nothing left
unmodelled, formats, re-parses equal, formats identically, and validates against virtkit's schema
and (for kinds libvirt has a schema for) libvirt's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from xml_oracle import DATA, LIBVIRT_RNG, assert_libvirt_valid

from virtkit.xml import schema
from virtkit.xml.capabilities import Capabilities, DomainCapabilities, NodeInfo
from virtkit.xml.domain import Domain
from virtkit.xml.interface import HostInterface
from virtkit.xml.network import Network
from virtkit.xml.snapshot import DomainSnapshot
from virtkit.xml.storage import StoragePool, StorageVolume

MODELS: dict[str, Any] = {
    "domain": Domain,
    "network": Network,
    "pool": StoragePool,
    "volume": StorageVolume,
    "interface": HostInterface,
    "snapshot": DomainSnapshot,
    "capabilities": Capabilities,
    "domaincaps": DomainCapabilities,
    "nodeinfo": NodeInfo,
}

DOCS = sorted(DATA.glob("*/*.xml"))


def test_corpus_has_several_documents_per_kind() -> None:
    for kind in MODELS:
        assert len(list((DATA / kind).glob("*.xml"))) >= 2, kind


@pytest.mark.parametrize("path", DOCS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_document(path: Path) -> None:
    kind = path.parent.name
    cls = MODELS[kind]
    text = path.read_text()
    schema.validate(text, kind)
    if kind in LIBVIRT_RNG:
        assert_libvirt_valid(kind, text)
    model, ignored = cls.parse(text)
    assert ignored == []
    cls.from_xml(text)  # semantic checks pass
    out = model.to_xml()
    again = cls.from_xml(out)
    assert again == model
    assert again.to_xml() == out
    schema.validate(out, kind)
    if kind in LIBVIRT_RNG:
        assert_libvirt_valid(kind, out)
