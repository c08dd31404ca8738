"""The oracle: libvirt's own RelaxNG schemas, loaded from their installed path."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

LIBVIRT_SCHEMAS = Path("/usr/share/libvirt/schemas")
DATA = Path(__file__).resolve().parent.parent / "data" / "xml"

# virtkit document kind -> libvirt's schema file (as Debian's libvirt packages install it)
LIBVIRT_RNG = {
    "domain": "domain.rng",
    "network": "network.rng",
    "pool": "storagepool.rng",
    "volume": "storagevol.rng",
    "interface": "interface.rng",
    "snapshot": "domainsnapshot.rng",
    "capabilities": "capability.rng",
    "domaincaps": "domaincaps.rng",
}

_cache: dict[str, etree.RelaxNG] = {}


def libvirt_schema(kind: str) -> etree.RelaxNG:
    """libvirt's own RelaxNG schema for ``kind``, loaded from where Debian installs it. Missing
    schemas are a failure, never a skip: the oracle must run."""
    if kind not in _cache:
        path = LIBVIRT_SCHEMAS / LIBVIRT_RNG[kind]
        assert path.is_file(), (
            f"libvirt's schema {path} is missing: install Debian's libvirt-daemon/libvirt-common "
            "(.ci/run does)"
        )
        _cache[kind] = etree.RelaxNG(etree.parse(str(path)))
    return _cache[kind]


def assert_libvirt_valid(kind: str, text: str) -> None:
    rng = libvirt_schema(kind)
    ok = rng.validate(etree.fromstring(text.encode()))
    assert ok, f"libvirt's {LIBVIRT_RNG[kind]} rejects:\n{text}\n{rng.error_log}"
