from __future__ import annotations

import pytest

from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.xml.domain import Domain
from virtkit.xml.storage import StorageVolume
from virtkit.xml.units import UnitError, scale_factor, scale_integer, to_kib

DOM = "<domain type='kvm'><name>u</name><memory{unit}>{value}</memory><os><type>hvm</type></os></domain>"


@pytest.mark.parametrize(
    ("unit", "factor"),
    [
        ("b", 1), ("B", 1), ("byte", 1), ("bytes", 1), ("BYTES", 1),
        ("k", 1024), ("K", 1024), ("KiB", 1024), ("kib", 1024), ("KB", 1000), ("kb", 1000),
        ("M", 1024**2), ("MiB", 1024**2), ("MB", 1000**2),
        ("G", 1024**3), ("GiB", 1024**3), ("GB", 1000**3),
        ("T", 1024**4), ("TiB", 1024**4), ("TB", 1000**4),
        ("P", 1024**5), ("PiB", 1024**5), ("PB", 1000**5),
        ("E", 1024**6), ("EiB", 1024**6), ("EB", 1000**6),
    ],
)
def test_scale_factor(unit: str, factor: int) -> None:
    assert scale_factor(unit, 1024) == factor


@pytest.mark.parametrize("unit", ["", None])
def test_default_scale(unit: str | None) -> None:
    assert scale_factor(unit, 1024) == 1024
    assert scale_factor(unit, 1) == 1


@pytest.mark.parametrize("unit", ["KiBB", "Ki", "x", "kilobytes", "iB", "Z", "YiB", "bit"])
def test_unknown_units(unit: str) -> None:
    with pytest.raises(UnitError, match="unknown unit"):
        scale_factor(unit, 1024)


def test_memory_rounds_up_to_kib() -> None:
    assert to_kib("1", "b") == 1
    assert to_kib("1024", "b") == 1
    assert to_kib("1025", "b") == 2
    assert to_kib("1", "KB") == 1  # 1000 bytes -> 1 KiB
    assert to_kib("1", "MB") == 977  # 1,000,000 / 1024 = 976.56 -> 977
    assert to_kib("512", None) == 512
    assert to_kib("4", "GiB") == 4 * 1024 * 1024


def test_limits() -> None:
    with pytest.raises(UnitError, match="value too large"):
        scale_integer("9", "EiB", 1024, 2**63 - 1)
    assert scale_integer("7", "EiB", 1024, 2**63 - 1) == 7 * 1024**6
    with pytest.raises(UnitError, match="negative"):
        scale_integer("-1", None, 1024, 2**63)
    with pytest.raises(UnitError, match="non-negative integer"):
        scale_integer("1.5", None, 1024, 2**63)


@pytest.mark.parametrize(
    ("unit", "value", "kib"),
    [("", "2048", 2048), (" unit='MiB'", "2", 2048), (" unit='MB'", "2", 1954),
     (" unit='bytes'", "1", 1), (" unit='G'", "1", 1048576)],
)
def test_domain_memory_units(unit: str, value: str, kib: int) -> None:
    dom = Domain.from_xml(DOM.format(unit=unit, value=value))
    assert dom.memory == kib
    assert f"<memory unit='KiB'>{kib}</memory>" in dom.to_xml()


@pytest.mark.parametrize(
    ("unit", "value", "problem"),
    [(" unit='furlongs'", "1", "unknown unit 'furlongs'"), ("", "-5", "negative value '-5'"),
     ("", "lots", "invalid value 'lots'"), ("", "", "missing value")],
)
def test_domain_memory_refused(unit: str, value: str, problem: str) -> None:
    with pytest.raises(VirtError) as info:
        Domain.from_xml(DOM.format(unit=unit, value=value))
    assert info.value.code == ErrorCode.XML_ERROR
    assert problem in info.value.message
    assert "/domain/memory" in info.value.message


def test_volume_sizes_default_to_bytes() -> None:
    vol = StorageVolume.from_xml(
        "<volume><name>v</name><capacity>1000</capacity><allocation unit='KB'>1</allocation>"
        "<target><path>/x</path></target></volume>"
    )
    assert vol.capacity == 1000
    assert vol.allocation == 1000
    assert "<capacity unit='bytes'>1000</capacity>" in vol.to_xml()
