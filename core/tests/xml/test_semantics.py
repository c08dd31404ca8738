"""Defaults filled on define, semantic rules, unmodelled elements, secrets."""

from __future__ import annotations

import re

import pytest
from xml_oracle import DATA

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.xml.domain import Domain, random_mac
from virtkit.xml.interface import HostInterface
from virtkit.xml.network import Network
from virtkit.xml.snapshot import DomainSnapshot
from virtkit.xml.storage import StoragePool, StorageVolume

MINIMAL = (DATA / "domain" / "minimal.xml").read_text()


def _dom(devices: str = "", extra: str = "", os_extra: str = "") -> str:
    return (f"<domain type='kvm'><name>d1</name><memory>1024</memory>{extra}"
            f"<os><type>hvm</type>{os_extra}</os><devices>{devices}</devices></domain>")


def test_defaults_filled() -> None:
    dom = Domain.from_xml(_dom("<interface type='network'><source network='default'/>"
                               "</interface><interface type='user'/>"))
    assert dom.uuid is None and dom.current_memory is None
    full = dom.with_defaults()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}",
                        full.uuid or "")
    assert full.current_memory == 1024
    assert full.vcpu is not None and full.vcpu.count == 1 and full.vcpu.placement == "static"
    assert (full.on_poweroff, full.on_reboot, full.on_crash) == ("destroy", "restart", "destroy")
    assert full.clock is not None and full.clock.offset == "utc"
    assert full.devices is not None
    macs = [i.mac.address for i in full.devices.interfaces if i.mac is not None]
    assert len(macs) == 2 and len(set(macs)) == 2
    assert all(m.startswith("52:54:00:") for m in macs)
    assert full.with_defaults() == full
    assert Domain.from_xml(full.to_xml()) == full


def test_current_memory_clamped_to_memory() -> None:
    dom = Domain.from_xml(_dom(extra="<currentMemory unit='MiB'>4</currentMemory>"))
    assert dom.current_memory == 4096
    assert dom.with_defaults().current_memory == 1024


def test_existing_values_kept() -> None:
    dom = Domain.from_xml((DATA / "domain" / "kvm-full.xml").read_text())
    assert dom.with_defaults().uuid == dom.uuid
    assert dom.with_defaults().current_memory == dom.current_memory == 3072 * 1024


def test_random_mac() -> None:
    assert re.fullmatch(r"52:54:00(:[0-9a-f]{2}){3}", random_mac())


def test_uuid_and_mac_normalised() -> None:
    dom = Domain.from_xml(_dom("<interface type='user'><mac address='52:54:0:A:b:C'/>"
                               "</interface>", extra="<uuid>4DEA22B31D52D8F32516782E98AB3FA0</uuid>"))
    assert dom.uuid == "4dea22b3-1d52-d8f3-2516-782e98ab3fa0"
    assert dom.devices is not None and dom.devices.interfaces[0].mac is not None
    assert dom.devices.interfaces[0].mac.address == "52:54:00:0a:0b:0c"


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        (_dom().replace("<name>d1</name>", "<name>a/b</name>"), "cannot contain '/'"),
        (_dom().replace("<memory>1024</memory>", ""), "<memory>"),
        (_dom().replace("<name>d1</name>", ""), "missing element <name> in <domain>"),
        (_dom().replace("type='kvm'", ""), "missing attribute 'type' of <domain>"),
        (_dom().replace("type='kvm'", "type='warp'"), "unknown value 'warp'"),
        (_dom(extra="<uuid>not-a-uuid</uuid>"), "expected a UUID"),
        (_dom(extra="<vcpu current='5'>4</vcpu>"), "current vcpus 5"),
        (_dom(extra="<vcpu>4</vcpu><cpu><topology sockets='1' cores='2' threads='1'/></cpu>"),
         "doesn't match maximum vcpu count 4"),
        (_dom(extra="<maxMemory slots='2'>512</maxMemory>"), "<maxMemory>"),
        (_dom("<disk type='file'><target dev='vda'/></disk>"
              "<disk type='file'><target dev='vda'/></disk>"), "target dev 'vda' is used more"),
        (_dom("<disk type='network'><source name='x'/><target dev='vda'/></disk>"),
         "needs <source protocol"),
        (_dom("<disk type='file'><target/></disk>"), "missing attribute 'dev' of <target>"),
        (_dom("<disk type='file' device='tape'><target dev='vda'/></disk>"),
         "unknown value 'tape' for attribute 'device' of <disk>"),
        (_dom("<interface type='network'/>"), "missing source network"),
        (_dom("<interface type='bridge'/>"), "missing source bridge"),
        (_dom("<interface type='user'><mac address='01:00:5e:00:00:01'/></interface>"),
         "expected unicast mac address"),
        (_dom("<interface type='user'><mac address='zz'/></interface>"),
         "expected a MAC address"),
        (_dom("<disk type='file'><target dev='vda'/><boot order='1'/></disk>",
              os_extra="<boot dev='hd'/>"), "per-device boot elements"),
        (_dom("<disk type='file'><target dev='vda'/><boot order='1'/></disk>"
              "<interface type='user'><boot order='1'/></interface>"), "boot order '1'"),
        (_dom("<graphics type='vnc' port='99999'/>"), "invalid port 99999"),
        (_dom("<controller type='usb' index='0'/><controller type='usb' index='0'/>"),
         "controller index"),
        (_dom("<input type='tablet' bus='usb'/>", extra="<on_crash>explode</on_crash>"),
         "unknown value 'explode'"),
    ],
)
def test_domain_semantic_errors(doc: str, problem: str) -> None:
    with pytest.raises(VirtError) as info:
        Domain.from_xml(doc)
    assert info.value.code == ErrorCode.XML_ERROR
    assert info.value.domain == ErrorDomain.XML
    assert problem in info.value.message, info.value.message


@pytest.mark.parametrize(
    ("cls", "doc", "problem"),
    [
        (Network, "<network><name>n</name><ip address='10.0.0.1' prefix='24'><dhcp>"
                  "<range start='10.0.1.2' end='10.0.1.9'/></dhcp></ip></network>",
         "not entirely within network 10.0.0.0/24"),
        (Network, "<network><name>n</name><ip address='10.0.0.300'/></network>",
         "invalid address"),
        (Network, "<network><name>n</name><forward mode='bridge'/></network>",
         "needs <bridge name=...>"),
        (Network, "<network><name>n</name><forward mode='teleport'/></network>",
         "unknown value 'teleport'"),
        (Network, "<network><name>n</name><portgroup name='a' default='yes'/>"
                  "<portgroup name='b' default='yes'/></network>", "only one portgroup"),
        (Network, "<network><name>n</name><ip address='10.0.0.1' prefix='24'><dhcp>"
                  "<host ip='10.0.0.5'/></dhcp></ip></network>", "needs a mac, id or name"),
        (StoragePool, "<pool type='netfs'><name>p</name><source><dir path='/x'/></source>"
                      "<target><path>/mnt</path></target></pool>", "missing <host>"),
        (StoragePool, "<pool type='dir'><name>p</name></pool>", "needs <target><path>"),
        (StoragePool, "<pool type='logical'><name>p</name><target><path>/dev/vg</path>"
                      "</target></pool>", "source name or device"),
        (StoragePool, "<pool type='dir'><name>p</name><capacity unit='XB'>1</capacity>"
                      "<target><path>/x</path></target></pool>", "unknown unit 'XB'"),
        (StorageVolume, "<volume><name>../etc</name><capacity>1</capacity></volume>",
         "cannot contain '/'"),
        (StorageVolume, "<volume><name>..</name><capacity>1</capacity></volume>",
         "is not allowed"),
        (StorageVolume, "<volume><name>v</name></volume>", "missing capacity"),
        (StorageVolume, "<volume><name>v</name><capacity>-1</capacity></volume>",
         "negative value"),
        (HostInterface, "<interface type='vlan' name='eth0.4'/>", "needs a <vlan"),
        (HostInterface, "<interface name='eth0'/>", "type and name attributes are required"),
        (DomainSnapshot, "<domainsnapshot><name>a/b</name></domainsnapshot>", "cannot contain"),
    ],
)
def test_other_semantic_errors(cls: type, doc: str, problem: str) -> None:
    with pytest.raises(VirtError) as info:
        cls.from_xml(doc)  # type: ignore[attr-defined]
    assert info.value.code == ErrorCode.XML_ERROR
    assert problem in info.value.message, info.value.message


def test_unmodelled_elements_reported_not_dropped_silently() -> None:
    doc = _dom("<smartcard mode='host'/><disk type='file' foo='1'><target dev='vda'/></disk>",
               extra="<seclabel type='dynamic'/>")
    _, ignored = Domain.parse(doc)
    assert ignored == ["/domain/seclabel", "/domain/devices/smartcard",
                       "/domain/devices/disk/@foo"]
    with pytest.raises(VirtError) as info:
        Domain.from_xml(doc, strict=True)
    assert info.value.code == ErrorCode.XML_ERROR
    assert "/domain/seclabel" in info.value.message
    assert "/domain/devices/smartcard" in info.value.message


def test_metadata_kept_verbatim() -> None:
    meta = ('<app:info xmlns:app="http://example.org/app" app:x="1"><app:deep><app:deeper>'
            "text &amp; more</app:deeper></app:deep></app:info>")
    dom = Domain.from_xml(_dom(extra=f"<metadata>{meta}</metadata>"))
    assert dom.metadata == (meta,)
    assert meta in dom.to_xml()
    assert Domain.from_xml(dom.to_xml()) == dom


def test_graphics_password_left_out_unless_secure() -> None:
    dom = Domain.from_xml(_dom("<graphics type='vnc' passwd='hunter2'/>"))
    assert "hunter2" in dom.to_xml()
    assert "hunter2" not in dom.to_xml(secure=False)


def test_minimal_parses() -> None:
    dom = Domain.from_xml(MINIMAL)
    assert dom.name == "tiny" and dom.memory == 131072


def test_snapshot_embeds_domain() -> None:
    snap = DomainSnapshot.from_xml((DATA / "snapshot" / "full-with-domain.xml").read_text())
    assert snap.domain is not None and snap.domain.name == "test"
    assert snap.parent is not None and snap.parent.name == "nightly-2026-11-27"


def test_network_forward_mode() -> None:
    assert Network.from_xml("<network><name>n</name></network>").forward_mode == "isolated"
    net = Network.from_xml((DATA / "network" / "default-nat.xml").read_text())
    assert net.forward_mode == "nat"
    assert net.with_defaults() == net
    assert Network.from_xml("<network><name>n</name></network>").with_defaults().uuid


def test_pool_defaults() -> None:
    pool = StoragePool.from_xml((DATA / "pool" / "fs.xml").read_text())
    assert pool.uuid is None and pool.with_defaults().uuid is not None


def test_nodeinfo_as_list() -> None:
    from virtkit.xml.capabilities import NodeInfo

    info = NodeInfo.from_xml((DATA / "nodeinfo" / "test-host.xml").read_text())
    assert info.as_list() == ["i686", 3072, 16, 1400, 2, 2, 2, 2]


def test_interned_leaves_still_checked_and_reported() -> None:
    bad = _dom("<disk type='file'><target dev='vda' bus='warp'/></disk>")
    for _ in range(2):
        with pytest.raises(VirtError, match="unknown value 'warp'"):
            Domain.from_xml(bad)
    odd = _dom("<input type='tablet' bus='usb' extra='1'/>")
    for _ in range(2):
        assert Domain.parse(odd)[1] == ["/domain/devices/input/@extra"]
    good = _dom("<input type='tablet' bus='usb'/><input type='tablet' bus='usb'/>")
    a, b = Domain.from_xml(good), Domain.from_xml(good)
    assert a == b and a.to_xml() == b.to_xml()
    assert a.to_xml().count("<input type='tablet' bus='usb'/>") == 2


def test_interned_subtrees_reused_only_where_they_parse_alike() -> None:
    # an inner model with children (<os>, <devices>) parsed again is the same object, its
    # formatted text the same; a document of another name shares it
    one = _dom("<disk type='file'><source file='/a.img'/><target dev='vda'/></disk>")
    a, b = Domain.from_xml(one), Domain.from_xml(one.replace("<name>", "<name>x"))
    assert a.devices is b.devices and a.os is b.os
    assert a.to_xml().replace("<name>", "<name>x") == b.to_xml()
    # the open enumerations are part of what it was parsed under: <os><type>exe</type> taken
    # for one driver's types is still refused for another's
    exe = ("<domain type='lxc'><name>c</name><memory>1024</memory><os><type>exe</type>"
           "<init>/bin/sh</init></os></domain>")
    assert Domain.from_xml(exe, os_types=("exe",)).os.type.name == "exe"
    with pytest.raises(VirtError, match="unknown value 'exe'"):
        Domain.from_xml(exe, os_types=("hvm",))
    # what it does not model is reported each time (such a subtree is not kept)
    odd = _dom("<disk type='file' odd='1'><source file='/a.img'/><target dev='vda'/></disk>")
    for _ in range(2):
        assert Domain.parse(odd)[1] == ["/domain/devices/disk/@odd"]


def test_interned_devices_checked_once_still_refused_where_the_domain_differs() -> None:
    # the device checks of an interned <devices> are kept once passed: a second domain with
    # the same devices is not checked again, but what depends on the rest of the domain is
    devs = "<disk type='file'><source file='/b.img'/><target dev='vda'/><boot order='1'/></disk>"
    a = Domain.from_xml(_dom(devs))
    b = Domain.from_xml(_dom(devs).replace("<name>", "<name>y"))
    assert a.devices is b.devices
    with pytest.raises(VirtError, match="per-device boot elements"):
        Domain.from_xml(_dom(devs, os_extra="<boot dev='hd'/>"))
    # devices that fail are refused every time (a failure is not kept)
    bad = _dom("<graphics type='vnc' port='99998'/>")
    for _ in range(2):
        with pytest.raises(VirtError, match="invalid port 99998"):
            Domain.from_xml(bad)
