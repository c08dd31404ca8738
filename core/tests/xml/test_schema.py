"""virtkit's own RelaxNG schemas: current, loaded lazily, VALIDATE semantics."""

from __future__ import annotations

import subprocess
import sys

import pytest

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.xml import _rnggen, schema
from virtkit.xml.domain import Domain


@pytest.mark.parametrize("name", sorted(_rnggen.ROOTS()))
def test_packaged_schema_is_current(name: str) -> None:
    packaged = (schema.SCHEMA_DIR / f"{name}.rng").read_text(encoding="utf-8")
    assert packaged == _rnggen.generate(name), (
        f"{name}.rng is stale: run python -m virtkit.xml._rnggen"
    )


def test_validate_flag_reports_schema_message() -> None:
    doc = ("<domain type='kvm'><name>x</name><memory>1024</memory><os><type>hvm</type></os>"
           "<devices><smartcard mode='host'/></devices></domain>")
    Domain.from_xml(doc)  # without VALIDATE the unknown element is only reported
    with pytest.raises(VirtError) as info:
        Domain.from_xml(doc, validate=True)
    err = info.value
    assert err.code == ErrorCode.XML_INVALID_SCHEMA
    assert err.domain == ErrorDomain.XML
    assert "failed to validate against schema" in err.message
    assert "domain.rng" in err.message
    assert "smartcard" in err.message or "devices" in err.message


def test_validate_text_and_element() -> None:
    schema.validate("<network><name>n</name></network>", "network")
    with pytest.raises(VirtError) as info:
        schema.validate("<network><nom>n</nom></network>", "network")
    assert info.value.code == ErrorCode.XML_INVALID_SCHEMA


def test_validate_uses_hardened_parser() -> None:
    with pytest.raises(VirtError) as info:
        schema.validate('<!DOCTYPE x [<!ENTITY a "b">]><network/>', "network")
    assert info.value.code == ErrorCode.XML_ERROR


def test_unknown_kind() -> None:
    with pytest.raises(VirtError, match="no schema"):
        schema.validate("<x/>", "nonsense")


def test_import_is_cheap() -> None:
    code = (
        "import sys, virtkit.xml, virtkit.xml.domain\n"
        "assert 'hypothesis' not in sys.modules\n"
        "from virtkit.xml import schema\n"
        "assert not schema._cache, 'schemas must load lazily'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
