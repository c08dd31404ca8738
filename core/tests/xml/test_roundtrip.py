"""Round trip (format, parse, compare) and the libvirt-schema oracle on generated models."""

from __future__ import annotations

from typing import Any

import xml_strategies as S
from hypothesis import HealthCheck, given, settings
from xml_oracle import assert_libvirt_valid

from virtkit.xml import schema
from virtkit.xml.domain import Domain
from virtkit.xml.network import Network
from virtkit.xml.storage import StoragePool, StorageVolume

SETTINGS = settings(
    max_examples=150, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _roundtrip(cls: Any, kind: str, model: Any) -> None:
    model.check()
    text = model.to_xml()
    parsed, ignored = cls.parse(text)
    assert ignored == []
    assert parsed == model, text
    assert parsed.to_xml() == text  # idempotent
    assert cls.from_xml(text, validate=True) == model
    schema.validate(text, kind)
    assert_libvirt_valid(kind, text)


@SETTINGS
@given(S.domains())
def test_domain_roundtrip(dom: Domain) -> None:
    _roundtrip(Domain, "domain", dom)


@SETTINGS
@given(S.domains())
def test_domain_defaults_roundtrip(dom: Domain) -> None:
    full = dom.with_defaults()
    assert full.uuid is not None
    assert full.current_memory is not None and full.current_memory <= full.memory  # type: ignore
    assert full.with_defaults() == full
    _roundtrip(Domain, "domain", full)


@SETTINGS
@given(S.networks())
def test_network_roundtrip(net: Network) -> None:
    _roundtrip(Network, "network", net)
    _roundtrip(Network, "network", net.with_defaults())


@SETTINGS
@given(S.pools())
def test_pool_roundtrip(pool: StoragePool) -> None:
    _roundtrip(StoragePool, "pool", pool)


@SETTINGS
@given(S.volumes)
def test_volume_roundtrip(vol: StorageVolume) -> None:
    _roundtrip(StorageVolume, "volume", vol)
