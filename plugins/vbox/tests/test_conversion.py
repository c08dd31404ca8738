"""Domain XML <-> VirtualBox settings, both ways, for every setting the driver maps: through
the .vbox settings file (as VirtualBox 6.1 and 7.0 write it) and through VBoxManage (argument
lists in, showvminfo --machinereadable out, via the fake that records them)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from lxml import etree

import virtkit
from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.xml.domain import Domain
from virtkit_vbox import domain_from_vbox, domain_to_vbox, domain_to_vboxmanage
from virtkit_vbox.domxml import domain_from_machine, machine_from_domain
from virtkit_vbox.machinereadable import parse_hostonlyifs, parse_list, parse_machinereadable
from virtkit_vbox.native import machine_from_vbox
from virtkit_vbox.vboxmanage import machine_from_showvminfo

FULL = """<domain type='vbox'>
  <name>full</name><uuid>6f1e0c8a-8f4e-4c51-9d7c-2b8a3c1d0e9f</uuid>
  <description>every mapped setting</description>
  <memory unit='MiB'>2048</memory><currentMemory unit='MiB'>1536</currentMemory>
  <vcpu current='2'>4</vcpu>
  <os firmware='efi'><type arch='x86_64'>hvm</type><boot dev='cdrom'/><boot dev='hd'/>
    <boot dev='network'/></os>
  <features><acpi/><apic/><pae/></features>
  <devices>
    <disk type='file' device='disk'><source file='{d}/root.vdi'/><target dev='sda' bus='sata'/></disk>
    <disk type='file' device='disk'><source file='{d}/data.vmdk'/><target dev='sdb' bus='sata'/></disk>
    <disk type='file' device='disk'><source file='{d}/old.vhd'/><target dev='hda' bus='ide'/></disk>
    <disk type='file' device='cdrom'><source file='{d}/install.iso'/><target dev='hdc' bus='ide'/><readonly/></disk>
    <disk type='file' device='disk'><source file='{d}/fast.vdi'/><target dev='vda' bus='virtio'/></disk>
    <controller type='ide' index='0' model='piix3'/>
    <filesystem type='mount' accessmode='passthrough'><source dir='{d}/share'/><target dir='share'/><readonly/></filesystem>
    <interface type='user'><mac address='08:00:27:00:00:01'/><model type='virtio'/></interface>
    <interface type='bridge'><mac address='08:00:27:00:00:02'/><source bridge='eth0'/></interface>
    <interface type='network'><mac address='08:00:27:00:00:03'/><source network='vboxnet0'/><link state='down'/></interface>
    <interface type='network'><mac address='08:00:27:00:00:04'/><source network='lab' portgroup='internal'/><model type='82545EM'/></interface>
    <serial type='file'><source path='{d}/com1.log'/><target port='0'/></serial>
    <serial type='tcp'><source mode='bind' host='0.0.0.0' service='4555'/><target port='1'/></serial>
    <serial type='unix'><source mode='connect' path='{d}/com3.sock'/><target port='2'/></serial>
    <controller type='usb' index='0' model='qemu-xhci'/>
    <input type='tablet' bus='usb'/>
    <graphics type='vnc' port='5905' listen='127.0.0.1' passwd='s3cret'/>
  </devices>
</domain>"""


def full(d: Path) -> str:
    return FULL.replace("{d}", str(d))


def model(text: str) -> Domain:
    return Domain.from_xml(text).with_defaults()


def check_full(xml: str, d: Path) -> None:
    """Every setting of FULL came back."""
    root = etree.fromstring(xml.encode())
    assert root.get("type") == "vbox" and root.findtext("name") == "full"
    assert root.findtext("uuid") == "6f1e0c8a-8f4e-4c51-9d7c-2b8a3c1d0e9f"
    assert root.findtext("description") == "every mapped setting"
    assert root.findtext("memory") == str(2048 * 1024)
    assert root.findtext("currentMemory") == str(1536 * 1024)
    vcpu = root.find("vcpu")
    assert vcpu is not None and vcpu.text == "4" and vcpu.get("current") == "2"
    assert root.find("os").get("firmware") == "efi"
    assert [b.get("dev") for b in root.iterfind("os/boot")] == ["cdrom", "hd", "network"]
    assert root.find("features/pae") is not None and root.find("features/acpi") is not None
    disks = {t.get("dev"): t.getparent() for t in root.iterfind("devices/disk/target")}
    assert set(disks) == {"sda", "sdb", "hda", "hdc", "vda"}
    assert disks["sdb"].find("source").get("file") == f"{d}/data.vmdk"
    assert disks["sdb"].find("driver").get("type") == "vmdk"
    assert disks["hda"].find("driver").get("type") == "vhd"
    assert disks["hdc"].get("device") == "cdrom"
    assert disks["vda"].find("target").get("bus") == "virtio"
    ctl = {(c.get("type"), c.get("model")) for c in root.iterfind("devices/controller")}
    assert ("ide", "piix3") in ctl and ("sata", "ahci") in ctl and ("scsi", "virtio-scsi") in ctl
    fs = root.find("devices/filesystem")
    assert fs.find("target").get("dir") == "share" and fs.find("readonly") is not None
    nics = {i.find("mac").get("address"): i for i in root.iterfind("devices/interface")}
    assert nics["08:00:27:00:00:01"].get("type") == "user"
    assert nics["08:00:27:00:00:01"].find("model").get("type") == "virtio"
    assert nics["08:00:27:00:00:02"].find("source").get("bridge") == "eth0"
    assert nics["08:00:27:00:00:03"].find("source").get("network") == "vboxnet0"
    assert nics["08:00:27:00:00:03"].find("link").get("state") == "down"
    assert nics["08:00:27:00:00:04"].find("source").get("portgroup") == "internal"
    assert nics["08:00:27:00:00:04"].find("model").get("type") == "82545EM"
    serials = {s.find("target").get("port"): s for s in root.iterfind("devices/serial")}
    assert serials["0"].get("type") == "file"
    assert serials["0"].find("source").get("path") == f"{d}/com1.log"
    assert serials["1"].get("type") == "tcp" and serials["1"].find("source").get("service") == "4555"
    assert serials["2"].get("type") == "unix"
    assert serials["2"].find("source").get("mode") == "connect"
    assert root.find("devices/input[@type='tablet'][@bus='usb']") is not None
    assert root.find("devices/controller[@type='usb']").get("model") == "qemu-xhci"
    g = root.find("devices/graphics")
    assert g.get("type") == "vnc" and g.get("port") == "5905" and g.get("listen") == "127.0.0.1"
    assert g.get("passwd") == "s3cret"


def test_domain_machine_round_trip(tmp_path: Path) -> None:
    m = machine_from_domain(model(full(tmp_path)))
    assert m.memory_mib == 2048 and m.balloon_mib == 512 and (m.cpus, m.cpus_current) == (4, 2)
    assert m.firmware == "EFI" and m.boot == ("dvd", "disk", "net", "none")
    check_full(domain_from_machine(m).to_xml(), tmp_path)
    assert "s3cret" not in domain_from_machine(m).to_xml(secure=False)
    # what came back defines the same machine again
    assert machine_from_domain(model(domain_from_machine(m).to_xml())) == m


@pytest.mark.parametrize("version,fmt", [("6.1", "1.16-linux"), ("7.0", "1.19-linux")])
def test_vbox_file_both_ways(tmp_path: Path, version: str, fmt: str) -> None:
    text = domain_to_vbox(full(tmp_path), version)
    root = etree.fromstring(text.encode())
    assert root.tag == "{http://www.virtualbox.org/}VirtualBox" and root.get("version") == fmt
    assert text.startswith('<?xml version="1.0"?>\n<!--\n** DO NOT EDIT THIS FILE.')
    ns = {"v": "http://www.virtualbox.org/"}
    assert root.find("v:Machine/v:StorageControllers/v:StorageController[@type='AHCI']",
                     ns) is not None
    assert root.find("v:Machine/v:Hardware/v:Firmware", ns).get("type") == "EFI"
    if version == "6.1":
        assert root.find("v:Machine/v:Hardware/v:Display", ns).get("controller") is None
    check_full(domain_from_vbox(text), tmp_path)


def test_vbox_file_as_virtualbox_writes_it(tmp_path: Path) -> None:
    """A .vbox of VirtualBox's own making (names and defaults its GUI uses) reads."""
    text = """<?xml version="1.0"?>
<VirtualBox xmlns="http://www.virtualbox.org/" version="1.16-linux">
  <Machine uuid="{0b8f4d0e-3b5e-4c9a-9b1a-6a7d2a0c1e11}" name="ubuntu" OSType="Ubuntu_64"
           snapshotFolder="Snapshots" lastStateChange="2021-03-01T10:00:00Z">
    <MediaRegistry><HardDisks>
      <HardDisk uuid="{9a1f1a47-0b2c-4f3e-8d55-1e2f3a4b5c6d}" location="ubuntu.vdi" format="VDI" type="Normal"/>
    </HardDisks></MediaRegistry>
    <Hardware>
      <CPU count="2"><PAE enabled="false"/><LongMode enabled="true"/></CPU>
      <Memory RAMSize="2048"/>
      <Boot><Order position="1" device="DVD"/><Order position="2" device="HardDisk"/>
        <Order position="3" device="None"/><Order position="4" device="None"/></Boot>
      <Display controller="VMSVGA" VRAMSize="16"/>
      <RemoteDisplay enabled="false"/>
      <BIOS><IOAPIC enabled="true"/></BIOS>
      <Network><Adapter slot="0" enabled="true" MACAddress="080027F1A2B3" type="82540EM"><NAT/></Adapter>
        <Adapter slot="1" type="82540EM"/></Network>
      <UART><Port slot="0" enabled="false" IOBase="0x3f8" IRQ="4" hostMode="Disconnected"/></UART>
    </Hardware>
    <StorageControllers>
      <StorageController name="SATA Controller" type="AHCI" PortCount="1" useHostIOCache="false" Bootable="true" IDE0MasterEmulationPort="0">
        <AttachedDevice type="HardDisk" hotpluggable="false" port="0" device="0">
          <Image uuid="{9a1f1a47-0b2c-4f3e-8d55-1e2f3a4b5c6d}"/>
        </AttachedDevice>
      </StorageController>
      <StorageController name="IDE Controller" type="PIIX4" PortCount="2" useHostIOCache="true" Bootable="true">
        <AttachedDevice passthrough="false" type="DVD" hotpluggable="false" port="1" device="0"/>
      </StorageController>
    </StorageControllers>
  </Machine>
</VirtualBox>"""
    m = machine_from_vbox(text)
    assert (m.name, m.uuid, m.cpus, m.memory_mib) == (
        "ubuntu", "0b8f4d0e-3b5e-4c9a-9b1a-6a7d2a0c1e11", 2, 2048)
    assert m.nics[0].attachment == "nat" and len(m.nics) == 1
    root = etree.fromstring(domain_from_vbox(text).encode())
    assert root.find("devices/disk/source").get("file") == "ubuntu.vdi"
    assert root.find("devices/disk[@device='cdrom']/target").get("dev") == "hdc"


@pytest.mark.parametrize("bad,why", [
    ("<VirtualBox xmlns='http://www.virtualbox.org/' version='0.9-linux'/>", "format version"),
    ("<domain/>", "expected root element"),
    ("<!DOCTYPE x [<!ENTITY a 'b'>]><VirtualBox/>", "DOCTYPE"),
    ("<VirtualBox xmlns='http://www.virtualbox.org/' version='1.19-linux'/>", "no <Machine>"),
])
def test_bad_vbox_files_are_xml_errors(bad: str, why: str) -> None:
    with pytest.raises(virtkit.VirtError) as info:
        domain_from_vbox(bad)
    assert info.value.code == ErrorCode.XML_ERROR and why in info.value.message


@pytest.mark.parametrize("version", ["6.1.50", "7.0.14"])
def test_vboxmanage_commands_make_the_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              version: str) -> None:
    """The argument lists run against the fake (which refuses what that version's VBoxManage
    refuses), and showvminfo --machinereadable gives every setting back."""
    import launcher

    for key, value in launcher.environment(tmp_path / "vb", version).items():
        monkeypatch.setenv(key, value)
    for name in ("root.vdi", "data.vmdk", "old.vhd", "install.iso", "fast.vdi"):
        (tmp_path / name).write_bytes(b"image")
    for cmd in domain_to_vboxmanage(full(tmp_path), version[:3]):
        subprocess.run(["VBoxManage", *cmd], check=True, capture_output=True, text=True)
    out = subprocess.run(["VBoxManage", "showvminfo", "full", "--machinereadable"],
                         check=True, capture_output=True, text=True).stdout
    extra = {"virtkit/cpus-plugged": "2", "virtkit/sf-readonly/share": "1"}
    m = machine_from_showvminfo(parse_machinereadable(out), extra)
    check_full(domain_from_machine(m).to_xml(), tmp_path)


def test_unsupported_settings_are_refused_by_name() -> None:
    base = ("<domain type='vbox'><name>n</name><memory>1024</memory><os><type>hvm</type></os>"
            "<devices>{}</devices></domain>")
    for device, word in [("<video><model type='vga'/></video>", "video"),
                         ("<serial type='pty'/>", "serial"),
                         ("<interface type='vhostuser'><mac address='52:54:00:00:00:01'/>"
                          "</interface>", "interface"),
                         ("<disk type='network' device='disk'><source protocol='nbd' name='x'/>"
                          "<target dev='sda'/></disk>", "disk")]:
        with pytest.raises(virtkit.VirtError) as info:
            machine_from_domain(model(base.format(device)))
        assert info.value.code == ErrorCode.CONFIG_UNSUPPORTED and word in info.value.message


def test_machinereadable_parser() -> None:
    text = ('name="a \\"quoted\\" \\\\ name"\nmemory=1024\n"SATA-0-0"="/x y/d.vdi"\n'
            'description="two\nlines"\nvrdeproperty[TCP/Address]=<not set>\n rec_screen0\n'
            'VideoMode="1024,768,32"@0,0 1\n')
    got = parse_machinereadable(text)
    assert got["name"] == 'a "quoted" \\ name' and got["memory"] == "1024"
    assert got["SATA-0-0"] == "/x y/d.vdi" and got["description"] == "two\nlines"
    assert got["vrdeproperty[TCP/Address]"] == "<not set>"
    assert got["VideoMode"] == "1024,768,32"
    assert parse_list('"my vm" {0B8F4D0E-3B5E-4C9A-9B1A-6A7D2A0C1E11}\n') == [
        ("my vm", "0b8f4d0e-3b5e-4c9a-9b1a-6a7d2a0c1e11")]
    ifs = parse_hostonlyifs("Name:            vboxnet0\nGUID:            786f6276-656e-4074-8000-0a0027000000\n\nName: vboxnet1\n")
    assert [i["Name"] for i in ifs] == ["vboxnet0", "vboxnet1"]


def test_domxml_native_through_the_connection(conn: object, tmp_path: Path) -> None:
    """virsh's domxml-to-native / domxml-from-native vbox reach the driver's hookimpls; the
    .vbox file comes in the format version of the VirtualBox the driver talks to (7.0 here)."""
    text = conn.domain_xml_to_native("vbox", full(tmp_path))  # type: ignore[attr-defined]
    assert etree.fromstring(text.encode()).get("version") == "1.19-linux"
    check_full(conn.domain_xml_from_native("vbox", text), tmp_path)  # type: ignore[attr-defined]
    with pytest.raises(VirtError) as info:
        conn.domain_xml_from_native("vmware-vmx", text)  # type: ignore[attr-defined]
    assert info.value.code == ErrorCode.CONFIG_UNSUPPORTED and "vmware-vmx" in str(info.value)
