"""The test driver's storage discovery and pool capabilities through the facade: libvirt's test
driver's sources for logical and netfs, every pool type supported, and the refusals."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from lxml import etree

import virtkit
from virtkit.sdk.checks import POOL_TYPES
from virtkit.sdk.errors import ErrorCode, VirtError


@pytest.fixture
def conn() -> Iterator[virtkit.Connection]:
    c = virtkit.open("test:///default")
    yield c
    c.close()


def _error(fn: Callable[..., object], *args: object) -> VirtError:
    with pytest.raises(VirtError) as err:
        fn(*args)
    return err.value


@pytest.mark.hook("pool_find_sources")
def test_find_sources_as_libvirts_test_driver(conn: virtkit.Connection) -> None:
    assert conn.find_storage_pool_sources("logical") == (
        "<sources>\n"
        "  <source>\n    <device path='/dev/sda20'/>\n    <name>testvg1</name>\n"
        "    <format type='lvm2'/>\n  </source>\n"
        "  <source>\n    <device path='/dev/sda21'/>\n    <name>testvg2</name>\n"
        "    <format type='lvm2'/>\n  </source>\n"
        "</sources>\n")
    netfs = etree.fromstring(conn.find_storage_pool_sources(
        "netfs", b"<source><host name='nas.example' port='2049'/></source>").encode())
    assert netfs.find("source/host").attrib == {"name": "nas.example"}
    assert netfs.find("source/dir").get("path") == "/testshare"
    err = _error(conn.find_storage_pool_sources, "netfs")
    assert err.code == ErrorCode.INVALID_ARG and "hostname" in err.message
    err = _error(conn.find_storage_pool_sources, "iscsi", "<source><host name='h'/></source>")
    assert err.code == ErrorCode.NO_SUPPORT and "'iscsi'" in err.message
    err = _error(conn.find_storage_pool_sources, "warp")
    assert err.code == ErrorCode.INVALID_ARG and "warp" in err.message
    assert _error(conn.find_storage_pool_sources, "netfs", "<source>").code == \
        ErrorCode.XML_ERROR
    assert _error(conn.find_storage_pool_sources, "logical", "<!DOCTYPE x [<!ENTITY e 'x'>]>"
                  "<source>&e;</source>").code == ErrorCode.XML_ERROR


@pytest.mark.hook("pool_get_capabilities")
def test_pool_capabilities_list_every_type(conn: virtkit.Connection) -> None:
    root = etree.fromstring(conn.get_storage_pool_capabilities().encode())
    assert root.tag == "storagepoolCapabilities"
    assert [p.get("type") for p in root.findall("pool")] == list(POOL_TYPES)
    assert {p.get("supported") for p in root.findall("pool")} == {"yes"}
    fs = root.find("pool[@type='fs']/poolOptions")
    assert fs.find("defaultFormat").get("type") == "auto"
    assert "xfs" in [v.text for v in fs.iter("value")]
    assert root.find("pool[@type='logical']/poolOptions/defaultFormat").get("type") == "lvm2"
    assert root.find("pool[@type='dir']/volOptions/defaultFormat").get("type") == "raw"
    # the pools the test driver defines are of the types it says it supports
    for pool_type in ("dir", "logical", "iscsi", "rbd"):
        conn.storage_pool_define_xml(
            f"<pool type='{pool_type}'><name>cap-{pool_type}</name><source><name>x</name>"
            f"<host name='h'/><device path='/dev/x'/></source>"
            f"<target><path>/cap/{pool_type}</path></target></pool>").undefine()


def test_read_only_reads_capabilities_but_cannot_discover() -> None:
    ro = virtkit.open("test:///default", read_only=True)
    try:
        assert "<storagepoolCapabilities>" in ro.get_storage_pool_capabilities()
        assert _error(ro.find_storage_pool_sources, "logical").code == \
            ErrorCode.OPERATION_DENIED
    finally:
        ro.close()
