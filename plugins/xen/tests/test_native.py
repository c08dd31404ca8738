"""xl.cfg <-> domain XML: every key in both directions, round trips, and the refusals.

The xl.cfg files here are of the project's own making, written from xl.cfg(5) and
xl-disk-configuration(5)."""

from __future__ import annotations

import pytest
from lxml import etree

from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.xml.domain import Domain
from virtkit_xen.devspec import parse_disk, parse_rate
from virtkit_xen.native import NS, canonical, xl_to_xml, xml_to_xl
from virtkit_xen.xlcfg import format_config, parse_config

PV = 'name = "g"\nkernel = "/k"\nmemory = 128\n'


def xml_of(cfg: str) -> etree._Element:
    return etree.fromstring(xl_to_xml(cfg).text.encode())


def roundtrip(cfg: str) -> None:
    conv = xl_to_xml(cfg)
    Domain.from_xml(conv.text)  # the core's model accepts it
    back = xml_to_xl(conv.text)
    assert back.dropped == ()
    assert canonical(back.text) == canonical(cfg)


# ------------------------------------------------------------------ the file format


def test_parser_reads_strings_numbers_lists_comments_and_semicolons() -> None:
    cfg = parse_config(
        "# a guest\nname = 'web' # trailing comment\nmemory=0x100;\n"
        'disk = [ "a,xvda",\n  \'b,xvdb\', # second\n ]\nextra = "say \\"hi\\""\n')
    assert cfg == {"name": "web", "memory": 256, "disk": ["a,xvda", "b,xvdb"],
                   "extra": 'say "hi"'}


def test_parser_last_setting_wins() -> None:
    assert parse_config("memory = 1\nmemory = 2\n") == {"memory": 2}


@pytest.mark.parametrize("text,where", [
    ('name = "x\n', "line 1: unterminated string"),
    ("\n\nmemory = \n", "line 3"),
    ("memory 5\n", "expected '='"),
    ("disk = [ 'a' 'b' ]\n", "expected ',' or ']'"),
    ("x = 1 2\n", "unexpected"),
    ("9x = 1\n", "expected a setting name"),
])
def test_parser_names_the_line_of_a_syntax_error(text: str, where: str) -> None:
    with pytest.raises(VirtError) as info:
        parse_config(text)
    assert info.value.code == ErrorCode.CONF_SYNTAX
    assert where in info.value.message


def test_formatter_quotes_and_round_trips() -> None:
    settings = {"a": 'it\'s "x"', "b": 3, "c": ["x", 4], "d": []}
    assert parse_config(format_config(settings)) == settings


# ------------------------------------------------------------------ xl.cfg -> XML, key by key


@pytest.mark.parametrize("extra,ostype,machine", [
    ("", "linux", "xenpv"), ('type = "pv"\n', "linux", "xenpv"),
    ('type = "pvh"\n', "xenpvh", "xenpvh"), ('type = "hvm"\n', "hvm", "xenfv"),
    ('builder = "hvm"\n', "hvm", "xenfv"),
])
def test_guest_type(extra: str, ostype: str, machine: str) -> None:
    t = xml_of(PV + extra).find("os/type")
    assert (t.text, t.get("machine")) == (ostype, machine)


def test_hvm_has_hvmloader_boot_order_and_features() -> None:
    x = xml_of(PV + 'type = "hvm"\nboot = "dcn"\nacpi = 1\napic = 1\npae = 1\nhap = 0\n'
               "localtime = 1\n")
    assert x.findtext("os/loader") == "/usr/lib/xen/boot/hvmloader"
    assert [b.get("dev") for b in x.findall("os/boot")] == ["cdrom", "hd", "network"]
    assert [f.tag for f in x.find("features")] == ["pae", "acpi", "apic", "hap"]
    assert x.find("features/hap").get("state") == "off"
    assert x.find("clock").get("offset") == "localtime"


def test_kernel_ramdisk_cmdline() -> None:
    x = xml_of('name = "g"\nkernel = "/k"\nramdisk = "/r"\ncmdline = "console=hvc0 quiet"\n')
    assert (x.findtext("os/kernel"), x.findtext("os/initrd"), x.findtext("os/cmdline")) == (
        "/k", "/r", "console=hvc0 quiet")


def test_root_and_extra_make_the_cmdline() -> None:
    x = xml_of(PV + 'root = "/dev/xvda1 ro"\nextra = "console=hvc0"\n')
    assert x.findtext("os/cmdline") == "root=/dev/xvda1 ro console=hvc0"


def test_bootloader_and_args() -> None:
    x = xml_of('name = "g"\nbootloader = "pygrub"\nbootloader_args = ["-q", "--x"]\n')
    assert (x.findtext("bootloader"), x.findtext("bootloader_args")) == ("pygrub", "-q --x")


def test_memory_and_maxmem_in_kib() -> None:
    x = xml_of('name = "g"\nmemory = 256\nmaxmem = 1024\n')
    assert x.findtext("memory") == str(1024 * 1024)
    assert x.findtext("currentMemory") == str(256 * 1024)
    x = xml_of('name = "g"\nmemory = 256\n')
    assert x.findtext("memory") == x.findtext("currentMemory") == str(256 * 1024)


def test_vcpus_maxvcpus_cpus_and_weight() -> None:
    x = xml_of(PV + 'vcpus = 2\nmaxvcpus = 4\ncpus = "0-3,^2"\ncpu_weight = 512\n')
    v = x.find("vcpu")
    assert (v.text, v.get("current"), v.get("cpuset")) == ("4", "2", "0-3,^2")
    assert x.findtext("cputune/shares") == "512"
    x = xml_of(PV + 'vcpus = 2\ncpus = ["1", "2-3"]\n')
    assert [(p.get("vcpu"), p.get("cpuset")) for p in x.findall("cputune/vcpupin")] == [
        ("0", "1"), ("1", "2-3")]


def test_disks_every_part_of_the_spec() -> None:
    x = xml_of(PV + "disk = [ 'format=qcow2, vdev=xvda, access=rw, backendtype=qdisk, "
               "target=/img/a,b.qcow2', 'phy:/dev/vg/b,xvdb,r', ',,hdc,cdrom', "
               "'/img/c.img,raw,xvdc,w,backendtype=tap' ]\n")
    d = x.findall("devices/disk")
    assert (d[0].get("type"), d[0].find("driver").attrib, d[0].find("source").get("file"),
            d[0].find("target").attrib, d[0].find("readonly")) == (
        "file", {"name": "qemu", "type": "qcow2"}, "/img/a,b.qcow2",
        {"dev": "xvda", "bus": "xen"}, None)
    assert (d[1].get("type"), d[1].find("driver").get("name"), d[1].find("source").get("dev"),
            d[1].find("readonly") is not None) == ("block", "phy", "/dev/vg/b", True)
    assert (d[2].get("device"), d[2].find("source"), d[2].find("target").get("bus"),
            d[2].find("readonly") is not None) == ("cdrom", None, "ide", True)
    assert d[3].find("driver").attrib == {"name": "tap", "type": "raw"}


def test_disk_spec_parsing() -> None:
    assert parse_disk("/a,,xvda") == {"target": "/a", "vdev": "xvda"}
    assert parse_disk("tap:qcow2:/a.q,xvda,w") == {
        "target": "/a.q", "format": "qcow2", "backendtype": "tap", "vdev": "xvda",
        "access": "rw"}
    for bad in ("/a", "/a,nope,xvda", "/a,raw,xvda,x", "/a,raw,xvda,w,extra"):
        with pytest.raises(VirtError) as info:
            parse_disk(bad)
        assert info.value.code == ErrorCode.CONF_SYNTAX and bad in info.value.message


def test_vifs_every_key() -> None:
    x = xml_of(PV + "vif = [ 'mac=00:16:3e:01:02:03,bridge=xenbr0,model=e1000,"
               "script=vif-bridge,ip=10.0.0.2 10.0.0.3,vifname=vif-g,rate=8192Kb/s,mtu=9000', "
               "'script=vif-route' ]\n")
    i = x.findall("devices/interface")
    assert i[0].get("type") == "bridge"
    assert i[0].find("mac").get("address") == "00:16:3e:01:02:03"
    assert i[0].find("source").get("bridge") == "xenbr0"
    assert i[0].find("model").get("type") == "e1000"
    assert i[0].find("script").get("path") == "vif-bridge"
    assert [e.get("address") for e in i[0].findall("ip")] == ["10.0.0.2", "10.0.0.3"]
    assert i[0].find("target").get("dev") == "vif-g"
    assert i[0].find("bandwidth/outbound").get("average") == "1000"
    assert i[0].find("mtu").get("size") == "9000"
    assert i[1].get("type") == "ethernet"


def test_rate_units() -> None:
    assert parse_rate("10Mb/s") == (1_250_000, None)
    assert parse_rate("100KB/s@20ms") == (100_000, "20ms")
    with pytest.raises(VirtError):
        parse_rate("fast")


def test_rate_with_interval_is_kept_not_dropped() -> None:
    conv = xl_to_xml(PV + "vif = [ 'bridge=b,rate=10Mb/s@20ms' ]\n")
    assert "vif[0].rate" in conv.kept
    assert "rate=10Mb/s@20ms" in xml_to_xl(conv.text).text


def test_pv_vfb_and_hvm_vnc() -> None:
    x = xml_of(PV + "vfb = [ 'vnc=1,vnclisten=0.0.0.0,vncdisplay=3,vncunused=0,"
               "vncpasswd=pw,keymap=de' ]\n")
    g = x.find("devices/graphics")
    assert dict(g.attrib) == {"type": "vnc", "port": "5903", "autoport": "no",
                              "listen": "0.0.0.0", "passwd": "pw", "keymap": "de"}
    x = xml_of(PV + 'type = "hvm"\nvnc = 1\nsdl = 1\n')
    assert [(g.get("type"), g.get("autoport")) for g in x.findall("devices/graphics")] == [
        ("vnc", "yes"), ("sdl", None)]


@pytest.mark.parametrize("spec,kind,source", [
    ("pty", "pty", None), ("null", "null", None), ("file:/tmp/s.log", "file", {"path": "/tmp/s.log"}),
    ("/dev/ttyS1", "dev", {"path": "/dev/ttyS1"}),
    ("tcp:127.0.0.1:4555,server,nowait", "tcp",
     {"mode": "bind", "host": "127.0.0.1", "service": "4555"}),
    ("unix:/run/s.sock", "unix", {"mode": "connect", "path": "/run/s.sock"}),
])
def test_serial(spec: str, kind: str, source: dict[str, str] | None) -> None:
    s = xml_of(PV + f"serial = '{spec}'\n").find("devices/serial")
    assert s.get("type") == kind
    assert (dict(s.find("source").attrib) if s.find("source") is not None else None) == source
    roundtrip(PV + f"serial = '{spec}'\n")


def test_pci_with_guest_slot_and_options() -> None:
    conv = xl_to_xml(PV + "pci = [ '01:00.1@05,permissive=1', '0001:02:03.4' ]\n")
    x = etree.fromstring(conv.text.encode())
    h = x.findall("devices/hostdev")
    assert dict(h[0].find("source/address").attrib) == {
        "domain": "0x0000", "bus": "0x01", "slot": "0x00", "function": "0x1"}
    assert h[0].find("address").get("slot") == "0x05"
    assert h[1].find("source/address").get("domain") == "0x0001"
    assert conv.kept == ("pci[0].permissive",)


@pytest.mark.parametrize("key", ["on_poweroff", "on_reboot", "on_crash"])
def test_lifecycle_actions(key: str) -> None:
    assert xml_of(PV + f'{key} = "preserve"\n').findtext(key) == "preserve"
    conv = xl_to_xml(PV + f'{key} = "soft-reset"\n')  # no XML form: kept
    assert key in conv.kept
    assert etree.fromstring(conv.text.encode()).find(key) is None


def test_unknown_keys_are_reported_and_kept_in_metadata() -> None:
    conv = xl_to_xml(PV + 'viridian = [ "base", "freq" ]\ncpu_cap = 50\ncpus = "all"\n')
    assert set(conv.kept) == {"viridian", "cpu_cap", "cpus"}
    x = etree.fromstring(conv.text.encode())
    kept = {s.get("name"): s.text for s in x.iter(f"{{{NS}}}setting")}
    assert kept == {"viridian": '[ "base", "freq" ]', "cpu_cap": "50", "cpus": '"all"'}
    back = parse_config(xml_to_xl(conv.text).text)
    assert back["viridian"] == ["base", "freq"] and back["cpu_cap"] == 50
    assert back["cpus"] == "all"


def test_missing_name_and_bad_values_are_refused() -> None:
    for cfg, code in (("memory = 1\n", ErrorCode.CONF_SYNTAX),
                      ('name = "g"\ntype = "arm"\n', ErrorCode.CONF_SYNTAX),
                      ('name = "g"\nmemory = "lots"\n', ErrorCode.CONF_SYNTAX),
                      ('name = "g"\ncpus = ["x"]\n', ErrorCode.CONF_SYNTAX),
                      ('name = "g"\ndisk = ["/a,raw,xvda,w,backendtype=nbd"]\n',
                       ErrorCode.CONF_SYNTAX)):
        with pytest.raises(VirtError) as info:
            xl_to_xml(cfg)
        assert info.value.code == code


# ------------------------------------------------------------------ XML -> xl.cfg


def test_xml_to_xl_from_a_libvirt_style_document() -> None:
    xml = """<domain type='xen'><name>web</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
      <memory unit='MiB'>512</memory><currentMemory unit='MiB'>256</currentMemory>
      <vcpu placement='static' current='1' cpuset='0-1'>2</vcpu>
      <os><type>linux</type><kernel>/k</kernel><initrd>/i</initrd><cmdline>quiet</cmdline></os>
      <on_crash>restart</on_crash>
      <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
        <source file='/v/web.qcow2'/><target dev='xvda' bus='xen'/></disk>
        <interface type='bridge'><mac address='00:16:3e:aa:bb:cc'/><source bridge='xenbr0'/>
        </interface><console type='pty'/><input type='mouse' bus='xen'/></devices></domain>"""
    cfg = parse_config(xml_to_xl(xml).text)
    assert cfg == {
        "name": "web", "type": "pv", "uuid": "c7a5fdbd-edaf-9455-926a-d65c16db1809",
        "memory": 256, "maxmem": 512, "vcpus": 1, "maxvcpus": 2, "cpus": "0-1",
        "kernel": "/k", "ramdisk": "/i", "cmdline": "quiet", "on_crash": "restart",
        "disk": ["format=qcow2, vdev=xvda, access=rw, backendtype=qdisk, "
                 "target=/v/web.qcow2"],
        "vif": ["mac=00:16:3e:aa:bb:cc,bridge=xenbr0"],
    }


def test_xml_to_xl_reports_what_it_cannot_express() -> None:
    xml = ("<domain type='xen'><name>w</name><memory>65536</memory><os><type>linux</type>"
           "</os><devices><filesystem><source dir='/s'/><target dir='t'/></filesystem>"
           "<sound model='ich6'/></devices></domain>")
    assert xml_to_xl(xml).dropped == ("/domain/devices/filesystem", "/domain/devices/sound")
    with pytest.raises(VirtError) as info:
        xml_to_xl(xml, strict=True)
    assert info.value.code == ErrorCode.CONFIG_UNSUPPORTED
    assert "domain 'w'" in info.value.message and "filesystem" in info.value.message


def test_xml_to_xl_refuses_non_xen_types_and_sources() -> None:
    for xml in ("<domain type='xen'><name>w</name><memory>1024</memory><os><type>exe</type>"
                "</os></domain>",
                "<domain type='xen'><name>w</name><memory>1024</memory><os><type>linux</type>"
                "</os><devices><disk type='network'><source protocol='nbd' name='x'/>"
                "<target dev='xvda'/></disk></devices></domain>",
                "<domain type='xen'><name>w</name><memory>1024</memory><os><type>linux</type>"
                "</os><devices><interface type='user'/></devices></domain>"):
        with pytest.raises(VirtError) as info:
            xml_to_xl(xml)
        assert info.value.code == ErrorCode.CONFIG_UNSUPPORTED
        assert "'w'" in info.value.message or "interface 0" in info.value.message \
            or "xvda" in info.value.message


# ------------------------------------------------------------------ round trips

ROUND_TRIPS = {
    "pv": PV + 'ramdisk = "/r"\nextra = "console=hvc0"\nvcpus = 2\nmaxvcpus = 4\n'
          'maxmem = 512\ncpus = "0-1"\ncpu_weight = 256\n'
          "disk = [ 'phy:/dev/vg/a,xvda,w', '/img/b.qcow2,qcow2,xvdb,r' ]\n"
          "vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0,script=vif-bridge,ip=10.1.1.1,"
          "rate=1024000B/s,vifname=v1,model=netfront' ]\n"
          "vfb = [ 'vnc=1,vncdisplay=2,vncunused=0,vnclisten=127.0.0.1' ]\n"
          'on_poweroff = "destroy"\non_reboot = "restart"\non_crash = "coredump-destroy"\n',
    "pvh": 'name = "h"\ntype = "pvh"\nkernel = "/k"\nmemory = 64\ncpus = ["0", "1"]\n'
           'vcpus = 2\nserial = "pty"\n',
    "hvm": 'name = "w"\ntype = "hvm"\nmemory = 1024\nboot = "cd"\nacpi = 1\napic = 1\n'
           "pae = 1\nhap = 1\nlocaltime = 1\nvnc = 1\nvnclisten = '0.0.0.0'\nsdl = 1\n"
           "disk = [ '/img/w.img,raw,hda,w', ',,hdc,cdrom' ]\n"
           "pci = [ '0000:03:00.0@07,permissive=1,seize=1' ]\nviridian = 1\n"
           "vif = [ 'bridge=br0,model=e1000,rate=10Mb/s@20ms' ]\n",
    "bootloader": 'name = "b"\nbootloader = "pygrub"\nbootloader_args = "-q"\nmemory = 128\n'
                  "disk = [ 'format=raw, vdev=xvda, access=rw, devtype=disk, "
                  "script=block-iscsi, target=iqn.x:y,lun=1' ]\n",
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIPS))
def test_round_trip_xl_xml_xl(name: str) -> None:
    roundtrip(ROUND_TRIPS[name])


@pytest.mark.parametrize("name", sorted(ROUND_TRIPS))
def test_round_trip_xml_xl_xml(name: str) -> None:
    xml = xl_to_xml(ROUND_TRIPS[name]).text
    again = xl_to_xml(xml_to_xl(xml).text).text
    assert canonical(xml_to_xl(again).text) == canonical(xml_to_xl(xml).text)
    assert etree.tostring(etree.fromstring(again.encode()), method="c14n") == etree.tostring(
        etree.fromstring(xml.encode()), method="c14n")


def test_the_connection_hooks_convert_xen_xl_and_refuse_other_formats(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """domxml-from-native / domxml-to-native xen-xl go through the driver's hookimpls; the
    dispatcher (no dom0 is needed for a conversion) reaches them on a connection opened with
    the recorded transcript's runner."""
    from pathlib import Path

    from virtkit_xen.replay import ReplayRunner

    transcript = Path(__file__).parent / "data" / "xl-lifecycle.jsonl"
    monkeypatch.setenv("VIRTKIT_STATE_ROOT", str(tmp_path))
    monkeypatch.setenv("VIRTKIT_XEN_POLL", "0")
    monkeypatch.setenv("VIRTKIT_XEN_RUNNER", f"replay:{transcript}")
    ReplayRunner.forget(str(transcript))
    import virtkit

    conn = virtkit.open("xen:///system")
    try:
        xml = conn.domain_xml_from_native("xen-xl", PV)
        assert Domain.from_xml(xml).name == "g"
        assert parse_config(conn.domain_xml_to_native("xen-xl", xml))["name"] == "g"
        with pytest.raises(VirtError) as info:
            conn.domain_xml_from_native("vmware-vmx", PV)
        assert info.value.code == ErrorCode.CONFIG_UNSUPPORTED and "vmware-vmx" in str(info.value)
    finally:
        conn.close()
        ReplayRunner.forget(str(transcript))
