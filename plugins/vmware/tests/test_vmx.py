"""VMX <-> domain XML on files the project writes: disks, NICs, cdroms, serial ports, firmware;
round trips both ways; unknown keys kept, never dropped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.xml.domain import Domain
from virtkit_vmware.vmx import (
    domain_to_vmx,
    parse_vmx,
    uuid_to_bios,
    vmx_to_domain,
)

DATA = Path(__file__).parent / "data"
FULL = (DATA / "full.vmx").read_text()


def test_parse_escapes_and_case() -> None:
    vmx = parse_vmx(FULL)
    assert vmx["displayname"] == "web1"
    assert vmx["annotation"] == 'front end\nsecond line with a "quote"'


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(VirtError) as err:
        parse_vmx('displayName = "a"\nthis is not vmx\n')
    assert err.value.code == ErrorCode.CONF_SYNTAX and "line 2" in err.value.message


def test_full_file_to_domain() -> None:
    conv = vmx_to_domain(FULL)
    dom = conv.domain
    root = etree.fromstring(dom.to_xml().encode())
    assert dom.name == "web1" and dom.uuid == "564d2f12-8041-639b-5018-05a835b72eaf"
    assert dom.description == 'front end\nsecond line with a "quote"'
    assert (dom.memory, dom.current_memory) == (2048 * 1024, 1024 * 1024)
    assert dom.vcpu is not None and dom.vcpu.count == 4
    assert dom.cpu is not None and dom.cpu.topology is not None
    assert (dom.cpu.topology.sockets, dom.cpu.topology.cores) == (2, 2)
    assert dom.os.firmware == "efi" and dom.os.type.arch == "x86_64"
    disks = {d.target.dev: d for d in dom.devices.disks}
    assert disks["sda"].source.file == "[datastore1] web1/web1.vmdk"
    assert disks["sdb"].source.file == "[datastore1] web1/data.vmdk"
    assert disks["hdc"].device == "cdrom" and disks["hdc"].source.file == "[iso] ubuntu.iso"
    assert disks["hdd"].type == "block" and disks["hdd"].source.dev == "/dev/cdrom"
    assert disks["sdae"].target.bus == "sata"
    nics = dom.devices.interfaces
    assert [(n.source.bridge, n.model.type, n.mac.address) for n in nics] == [
        ("VM Network", "vmxnet3", "00:0c:29:b7:2e:af"), ("Backend", "e1000", "00:50:56:01:02:03")]
    serials = dom.devices.serials
    assert [s.type for s in serials] == ["file", "tcp", "pipe"]
    assert serials[1].source.service == "5000" and serials[1].source.mode == "bind"
    assert root.find("devices/controller[@type='scsi']").get("model") == "vmpvscsi"
    # what the converter does not interpret is kept, and said so
    assert set(conv.kept) >= {"virtualhw.version", "tools.synctime", "scsi0:1.mode",
                              "remotedisplay.vnc.enabled", "floppy0.present", "nvram",
                              "guestos", "config.version", "ethernet0.addresstype"}
    meta = root.find("metadata")
    assert meta is not None and "tools.synctime" in etree.tostring(meta).decode()


def test_vmx_round_trip_keeps_every_key() -> None:
    again = parse_vmx(domain_to_vmx(vmx_to_domain(FULL).domain))
    original = parse_vmx(FULL)
    assert again == original


def test_domain_round_trip_through_vmx() -> None:
    dom = vmx_to_domain(FULL).domain
    back = vmx_to_domain(domain_to_vmx(dom)).domain
    assert back == dom


def test_domain_xml_to_vmx_and_back() -> None:
    xml = """<domain type='vmware'><name>db</name>
      <uuid>c7a5fdbd-cdaf-9455-926a-d65c16db1809</uuid>
      <memory unit='MiB'>512</memory><vcpu>2</vcpu>
      <os><type arch='i686'>hvm</type></os>
      <devices>
        <disk type='file' device='disk'><source file='[ds] db/db.vmdk'/>
          <target dev='sda' bus='scsi'/></disk>
        <disk type='file' device='cdrom'><source file='[ds] iso/x.iso'/>
          <target dev='hda' bus='ide'/></disk>
        <interface type='bridge'><mac address='00:50:56:aa:bb:cc'/>
          <source bridge='VM Network'/><model type='e1000e'/></interface>
        <serial type='pipe'><source path='/tmp/p'/><target port='0'/></serial>
      </devices></domain>"""
    dom = Domain.from_xml(xml)
    text = domain_to_vmx(dom)
    vmx = parse_vmx(text)
    assert vmx["uuid.bios"] == uuid_to_bios(dom.uuid)
    assert vmx["guestos"] == "other" and vmx["memsize"] == "512"
    assert vmx["scsi0:0.filename"] == "[ds] db/db.vmdk"
    assert vmx["ide0:0.devicetype"] == "cdrom-image"
    assert vmx["ethernet0.addresstype"] == "static"
    back = vmx_to_domain(text).domain
    # VMX has no device order: disks come back ordered by bus slot
    assert sorted(back.devices.disks, key=lambda d: d.target.dev) == \
        sorted(dom.devices.disks, key=lambda d: d.target.dev)
    assert back.devices.interfaces == dom.devices.interfaces
    assert back.devices.serials == dom.devices.serials
    assert (back.name, back.uuid, back.memory, back.os.type.arch) == \
        (dom.name, dom.uuid, dom.memory, "i686")


def test_scsi_unit_seven_is_skipped() -> None:
    text = FULL + 'scsi0:8.present = "TRUE"\nscsi0:8.fileName = "[d] x.vmdk"\n'
    dom = vmx_to_domain(text).domain
    assert "sdh" in [d.target.dev for d in dom.devices.disks]
    assert parse_vmx(domain_to_vmx(dom))["scsi0:8.filename"] == "[d] x.vmdk"


def test_minimal_file_defaults() -> None:
    dom = vmx_to_domain((DATA / "minimal.vmx").read_text()).domain
    assert (dom.name, dom.memory, dom.vcpu.count, dom.devices) == ("tiny", 128 * 1024, 1, None)


@pytest.mark.parametrize(("text", "words"), [
    ('memsize = "64"\n', "displayName"),
    ('displayName = "a"\nmemsize = "lots"\n', "memsize"),
    ('displayName = "a"\nfirmware = "coreboot"\n', "firmware"),
    ('displayName = "a"\nuuid.bios = "56 4d"\n', "uuid.bios"),
])
def test_bad_vmx_is_refused_naming_the_key(text: str, words: str) -> None:
    with pytest.raises(VirtError) as err:
        vmx_to_domain(text)
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED and words in err.value.message


def test_vnc_both_ways() -> None:
    text = ('displayName = "v"\nmemsize = "64"\nRemoteDisplay.vnc.enabled = "TRUE"\n'
            'RemoteDisplay.vnc.port = "5910"\nRemoteDisplay.vnc.password = "pw"\n'
            'RemoteDisplay.vnc.ip = "0.0.0.0"\n')
    conv = vmx_to_domain(text)
    g = conv.domain.devices.graphics[0]
    assert (g.type, g.port, g.passwd, g.listen) == ("vnc", 5910, "pw", "0.0.0.0")
    assert conv.kept == ()
    again, original = parse_vmx(domain_to_vmx(conv.domain)), parse_vmx(text)
    assert {k: again.get(k) for k in original} == original  # plus the defaults it writes


def test_what_vmx_cannot_hold_is_refused() -> None:
    dom = Domain.from_xml("<domain type='vmware'><name>g</name><memory unit='MiB'>64</memory>"
                          "<os><type>hvm</type></os><devices><graphics type='sdl'/></devices>"
                          "</domain>")
    with pytest.raises(VirtError) as err:
        domain_to_vmx(dom)
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED and "graphics" in err.value.message
    kvm = Domain.from_xml("<domain type='kvm'><name>k</name><memory>1024</memory>"
                          "<os><type>hvm</type></os></domain>")
    with pytest.raises(VirtError):
        domain_to_vmx(kvm)


def test_command_line(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "virtkit_vmware.vmx", "from-native",
                          str(DATA / "full.vmx")], capture_output=True, text=True)
    assert out.returncode == 0 and "<name>web1</name>" in out.stdout
    assert "kept" in out.stderr and "tools.synctime" in out.stderr
    xml = tmp_path / "web1.xml"
    xml.write_text(out.stdout)
    back = subprocess.run([sys.executable, "-m", "virtkit_vmware.vmx", "to-native", str(xml)],
                          capture_output=True, text=True)
    assert back.returncode == 0 and parse_vmx(back.stdout) == parse_vmx(FULL)
    bad = subprocess.run([sys.executable, "-m", "virtkit_vmware.vmx", "from-native",
                          str(tmp_path / "missing.vmx")], capture_output=True, text=True)
    assert bad.returncode == 1 and "missing.vmx" in bad.stderr


def test_domxml_from_and_to_native_through_the_connection(esx: object) -> None:
    """virsh's domxml-from-native / domxml-to-native: the connection hooks use this module."""
    xml = esx.domain_xml_from_native("vmware-vmx", FULL)  # type: ignore[attr-defined]
    dom = Domain.from_xml(xml)
    assert dom.name == "web1"
    back = esx.domain_xml_to_native("vmware-vmx", xml)  # type: ignore[attr-defined]
    assert parse_vmx(back)["displayname"] == "web1"
    for call in (lambda: esx.domain_xml_from_native("xen-xl", FULL),  # type: ignore[attr-defined]
                 lambda: esx.domain_xml_to_native("qemu-argv", xml)):  # type: ignore[attr-defined]
        with pytest.raises(VirtError) as err:
            call()
        assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED and "native format" in str(err.value)
