"""Pool source discovery and pool capabilities of the host storage service, against written
transcripts in the tools' output formats (lvm2 2.03's ``pvs`` report, nfs-utils' ``showmount
--no-headers -e``, open-iscsi 2.1's sendtargets discovery): no volume group, NFS server or
iSCSI portal is reachable from this machine."""

from __future__ import annotations

import pytest
from lxml import etree

from virtkit.sdk.errors import ErrorCode, VirtError

PVS = ["pvs", "--noheadings", "--separator", "#", "-o", "pv_name,vg_name"]
DISCOVER = ["iscsiadm", "--mode", "discovery", "--type", "sendtargets", "--portal"]


def _sources(xml: str) -> list[etree._Element]:
    root = etree.fromstring(xml.encode())
    assert root.tag == "sources"
    return root.findall("source")


@pytest.mark.hook("pool_find_sources")
def test_logical_sources_are_the_volume_groups(conn, transcript):
    t = transcript([(PVS, 0, "  /dev/sdb1#vg0\n  /dev/sdc#vg0\n  /dev/sdd#\n  /dev/sde#data\n",
                     "")])
    found = _sources(conn.find_storage_pool_sources("logical"))
    t.done()
    assert [(s.findtext("name"), [d.get("path") for d in s.findall("device")],
             s.find("format").get("type")) for s in found] == [
        ("data", ["/dev/sde"], "lvm2"), ("vg0", ["/dev/sdb1", "/dev/sdc"], "lvm2")]
    transcript([(PVS, 5, "", "  WARNING: Running as a non-root user.\n")])
    with pytest.raises(VirtError) as err:
        conn.find_storage_pool_sources("logical")
    assert err.value.code == ErrorCode.OPERATION_FAILED and "volume groups" in str(err.value)


@pytest.mark.hook("pool_find_sources")
def test_netfs_and_iscsi_sources_ask_the_host(conn, transcript):
    t = transcript([
        (["showmount", "--no-headers", "-e", "nas.example"], 0,
         "/srv/images 10.0.0.0/24\n/export/iso  *\n", ""),
        ([*DISCOVER, "san.example:3260"], 0,
         "192.0.2.7:3260,1 iqn.2004-04.com.example:disk1\n"
         "[2001:db8::7]:3260,1 iqn.2004-04.com.example:disk1\n"
         "192.0.2.7:3260,1 iqn.2004-04.com.example:disk2\n", ""),
    ])
    found = _sources(conn.find_storage_pool_sources(
        "netfs", "<source><host name='nas.example'/></source>"))
    assert [(s.find("host").get("name"), s.find("dir").get("path"),
             s.find("format").get("type")) for s in found] == [
        ("nas.example", "/srv/images", "nfs"), ("nas.example", "/export/iso", "nfs")]
    found = _sources(conn.find_storage_pool_sources(
        "iscsi", "<source><host name='san.example'/><initiator><iqn name='iqn.x'/></initiator>"
                 "</source>"))
    t.done()
    assert [(s.find("host").get("port"), s.find("device").get("path")) for s in found] == [
        ("3260", "iqn.2004-04.com.example:disk1"), ("3260", "iqn.2004-04.com.example:disk2")]
    transcript([])  # refusals run no command
    for pool_type, spec, code in (
            ("netfs", None, ErrorCode.INVALID_ARG),
            ("iscsi", "<source/>", ErrorCode.INVALID_ARG),
            ("netfs", "<source><host name='x'/>", ErrorCode.XML_ERROR),
            ("netfs", "<pool/>", ErrorCode.XML_ERROR),
            ("dir", None, ErrorCode.NO_SUPPORT),
            ("warp", None, ErrorCode.INVALID_ARG)):
        with pytest.raises(VirtError) as err:
            conn.find_storage_pool_sources(pool_type, spec)
        assert err.value.code == code, (pool_type, spec, err.value)
        assert code == ErrorCode.XML_ERROR or pool_type in str(err.value)


@pytest.mark.hook("pool_get_capabilities")
def test_capabilities_follow_the_backends(conn):
    root = etree.fromstring(conn.get_storage_pool_capabilities().encode())
    supported = {p.get("type") for p in root.findall("pool") if p.get("supported") == "yes"}
    assert supported == {"dir", "fs", "netfs", "logical", "disk", "iscsi"}
    assert root.find("pool[@type='rbd']").get("supported") == "no"

    def values(pool_type, kind):
        el = root.find(f"pool[@type='{pool_type}']/{kind}")
        return el.find("defaultFormat").get("type"), [v.text for v in el.iter("value")]

    assert values("dir", "volOptions") == ("raw", ["raw", "qcow2", "vmdk", "vdi", "qed"])
    assert values("disk", "poolOptions") == ("dos", ["dos", "gpt"])
    assert values("logical", "volOptions") == ("raw", ["raw"])
    assert root.find("pool[@type='dir']/poolOptions") is None


def test_discovery_refused_read_only(state_root):
    from storagekit import open_host

    ro = open_host(read_only=True)
    try:
        assert "storagepoolCapabilities" in ro.get_storage_pool_capabilities()
        with pytest.raises(VirtError) as err:
            ro.find_storage_pool_sources("logical")
        assert err.value.code == ErrorCode.OPERATION_DENIED
    finally:
        ro.close()


@pytest.mark.hook("pool_find_sources")
def test_a_missing_discovery_tool_is_no_support(conn, transcript):
    for pool_type, tool, spec in (("logical", "pvs", None),
                                  ("netfs", "showmount", "<source><host name='nas'/></source>"),
                                  ("iscsi", "iscsiadm", "<source><host name='san'/></source>")):
        t = transcript([])  # no command runs
        t.missing = frozenset({tool})
        with pytest.raises(VirtError) as err:
            conn.find_storage_pool_sources(pool_type, spec)
        t.done()
        assert err.value.code == ErrorCode.NO_SUPPORT, pool_type
        assert f"'{tool}'" in err.value.message and "not installed" in err.value.message
