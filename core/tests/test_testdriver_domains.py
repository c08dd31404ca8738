"""Test driver: devices, resources, snapshots, migration, console, guest data, jobs, host docs."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

import virtkit
from virtkit.api.connection import Connection
from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.sdk.states import DomainState as S
from virtkit.sdk.states import EventType as E

hook = pytest.mark.hook

DISK = "<disk type='file' device='{device}'><source file='{src}'/><target dev='{dev}' bus='virtio'/></disk>"
NIC = "<interface type='network'><mac address='{mac}'/><source network='default'/></interface>"
BASE = ("<domain type='test'><name>{name}</name><memory unit='MiB'>256</memory>"
        "<currentMemory unit='MiB'>128</currentMemory><vcpu current='1'>4</vcpu>"
        "<os><type>hvm</type></os><devices>"
        + DISK.format(device="disk", src="/var/lib/a.img", dev="vda")
        + DISK.format(device="cdrom", src="/iso/one.iso", dev="hdc").replace("virtio", "ide")
        + NIC.format(mac="52:54:00:00:00:0a")
        + "<serial type='pty'/><graphics type='vnc' passwd='s3cret'/></devices></domain>")


@pytest.fixture
def conn() -> Connection:
    c = virtkit.open("test:///default")
    yield c
    c.close()


def _raises(code: ErrorCode, text: str, fn, *args, **kwargs) -> VirtError:  # type: ignore[no-untyped-def]
    with pytest.raises(VirtError) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, info.value
    assert text in info.value.message, info.value.message
    return info.value


def _disks(xml: str) -> list[str]:
    return [t.get("dev") for t in etree.fromstring(xml).iter("target") if t.getparent().tag == "disk"]


@hook("domain_attach_device", "domain_detach_device")
def test_attach_detach_live_and_config(conn: Connection) -> None:
    dom = conn.define_xml(BASE.format(name="web"))
    vdb = DISK.format(device="disk", src="/var/lib/b.img", dev="vdb")
    _raises(ErrorCode.OPERATION_INVALID, "domain 'web' is not running", dom.attach_device, vdb,
            live=True)
    dom.attach_device(vdb)  # inactive: current = config
    assert _disks(dom.xml_desc(inactive=True)) == ["vda", "hdc", "vdb"]
    _raises(ErrorCode.OPERATION_FAILED, "disk 'vdb' already exists in domain 'web'",
            dom.attach_device, vdb)
    dom.create()
    devices: list[tuple[str, str, str]] = []
    for kind in ("domain-device-added", "domain-device-removed"):
        conn.event_register(kind, lambda ev: devices.append((ev.kind, ev.obj.name, ev.device)))
    vdc = DISK.format(device="disk", src="/var/lib/c.img", dev="vdc")
    dom.attach_device(vdc)  # active: current = live only
    assert _disks(dom.xml_desc()) == ["vda", "hdc", "vdb", "vdc"]
    assert _disks(dom.xml_desc(inactive=True)) == ["vda", "hdc", "vdb"]
    dom.detach_device(vdb, live=True, config=True)
    assert conn.events.wait_idle()
    assert devices == [("domain-device-added", "web", "vdc"), ("domain-device-removed", "web", "vdb")]
    assert _disks(dom.xml_desc()) == ["vda", "hdc", "vdc"]
    assert _disks(dom.xml_desc(inactive=True)) == ["vda", "hdc"]
    _raises(ErrorCode.DEVICE_MISSING, "no disk 'vdb' in domain 'web'", dom.detach_device, vdb)
    _raises(ErrorCode.OPERATION_UNSUPPORTED, "live attach of <graphics>", dom.attach_device,
            "<graphics type='spice'/>")
    dom.attach_device("<graphics type='spice'/>", config=True)
    nic = "<interface type='bridge'><source bridge='br0'/></interface>"
    dom.attach_device(nic, live=True)
    macs = [m.get("address") for m in etree.fromstring(dom.xml_desc()).iter("mac")]
    assert len(macs) == 2 and macs[1].startswith("52:54:00:"), "a MAC is generated"
    _raises(ErrorCode.XML_ERROR, "unknown device type <blender>", dom.attach_device, "<blender/>")
    _raises(ErrorCode.XML_ERROR, "DOCTYPE", dom.attach_device,
            "<!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><disk>&x;</disk>")
    t = conn.create_xml(BASE.format(name="tr"))
    _raises(ErrorCode.OPERATION_INVALID, "transient domain 'tr'", t.attach_device, vdb, config=True)


@hook("domain_update_device")
def test_update_device(conn: Connection) -> None:
    dom = conn.create_xml(BASE.format(name="up"))
    dom.update_device(DISK.format(device="cdrom", src="/iso/two.iso", dev="hdc").replace("virtio", "ide"))
    assert "/iso/two.iso" in dom.xml_desc() and "/iso/one.iso" not in dom.xml_desc()
    _raises(ErrorCode.OPERATION_UNSUPPORTED, "only the media of a cdrom or floppy can change",
            dom.update_device, DISK.format(device="disk", src="/other.img", dev="vda"))
    dom.update_device(NIC.format(mac="52:54:00:00:00:0a").replace(
        "</interface>", "<link state='down'/></interface>"))
    assert "state='down'" in dom.xml_desc()
    _raises(ErrorCode.DEVICE_MISSING, "no interface 52:54:00:00:00:0b", dom.update_device,
            NIC.format(mac="52:54:00:00:00:0b"))
    _raises(ErrorCode.OPERATION_UNSUPPORTED, "cannot update <serial>", dom.update_device,
            "<serial type='pty'/>")


@hook("domain_get_xml")
def test_secrets_only_on_request(conn: Connection) -> None:
    dom = conn.define_xml(BASE.format(name="sec"))
    assert "s3cret" not in dom.xml_desc() and "s3cret" not in dom.xml_desc(inactive=True)
    assert "s3cret" in dom.xml_desc(security_info=True)
    ro = virtkit.open("test:///default", read_only=True)
    _raises(ErrorCode.OPERATION_DENIED, "read only", ro.lookup_by_name("sec").xml_desc,
            security_info=True)


@hook("domain_set_memory", "domain_set_vcpus", "domain_get_vcpus_count")
def test_memory_and_vcpus(conn: Connection) -> None:
    dom = conn.define_xml(BASE.format(name="res"))
    assert dom.info().max_mem == 256 * 1024 and dom.info().memory == 128 * 1024
    dom.set_memory(200 * 1024)
    assert dom.info().memory == 200 * 1024
    _raises(ErrorCode.INVALID_ARG, "higher than its maximum", dom.set_memory, 300 * 1024)
    _raises(ErrorCode.INVALID_ARG, "must be >= 1", dom.set_memory, 0)
    dom.set_max_memory(100 * 1024)
    assert (dom.info().max_mem, dom.info().memory) == (100 * 1024, 100 * 1024)
    assert dom.vcpus_count() == 1 and dom.vcpus_count(maximum=True) == 4
    dom.set_vcpus(3)
    assert dom.vcpus_count() == 3 and dom.info().nr_virt_cpu == 3
    _raises(ErrorCode.INVALID_ARG, "greater than max allowable vcpus for domain 'res': 5 > 4",
            dom.set_vcpus, 5)
    dom.set_vcpus(2, maximum=True, config=True)
    assert (dom.vcpus_count(), dom.vcpus_count(maximum=True)) == (2, 2)
    dom.create()
    dom.set_memory(50 * 1024, live=True)
    assert dom.info().memory == 50 * 1024
    assert dom.memory_stats()["actual"] == 50 * 1024
    _raises(ErrorCode.OPERATION_INVALID, "maximum memory of running domain 'res'",
            dom.set_memory, 64 * 1024, live=True, maximum=True)
    _raises(ErrorCode.OPERATION_INVALID, "maximum vcpus of running domain", dom.set_vcpus, 1,
            live=True, maximum=True)
    dom.set_vcpus(1, live=True)
    assert dom.vcpus_count(live=True) == 1 and dom.vcpus_count(config=True) == 2


@hook("snapshot_create_xml", "snapshot_list", "snapshot_get_xml", "snapshot_current",
      "snapshot_revert", "snapshot_delete")
def test_snapshots(conn: Connection) -> None:
    dom = conn.lookup_by_name("test")
    _raises(ErrorCode.NO_DOMAIN_SNAPSHOT, "has no current snapshot", dom.snapshot_current)
    s1 = dom.snapshot_create_xml("<domainsnapshot><name>s1</name><description>first</description>"
                                 "</domainsnapshot>")
    dom.suspend()
    s2 = dom.snapshot_create_xml("<domainsnapshot><name>s2</name></domainsnapshot>")
    assert dom.snapshot_current() == s2 and s2.parent() == s1 and s1.children() == [s2]
    assert [s.name for s in dom.list_all_snapshots()] == ["s1", "s2"]
    assert conn.list_domains(has_snapshot=True) == [dom]
    _raises(ErrorCode.OPERATION_INVALID, "snapshot 's1' already exists", dom.snapshot_create_xml,
            "<domainsnapshot><name>s1</name></domainsnapshot>")
    xml = s2.xml_desc()
    assert "<state>paused</state>" in xml and "<parent>" in xml and "<name>test</name>" in xml
    got: list[tuple[int, int]] = []
    conn.event_register("domain-lifecycle", lambda ev: got.append((ev.event, ev.detail)))
    dom.destroy()
    s1.revert()
    assert dom.state() == (S.RUNNING, 4) and dom.snapshot_current() == s1
    s2.revert()
    assert dom.state() == (S.PAUSED, 7)
    dom.destroy()
    s2.revert(running=True)
    assert dom.state() == (S.RUNNING, 4)
    assert conn.events.wait_idle()
    assert got == [(E.STOPPED, 1), (E.STARTED, 3), (E.SUSPENDED, 5), (E.STOPPED, 1),
                   (E.STARTED, 3)]
    s3 = dom.snapshot_create_xml("<domainsnapshot/>")  # a generated name
    assert s3.name.isdigit() and s3.parent() == s2
    s2.delete()
    assert s3.parent() == s1, "children are re-parented"
    s1.delete(children_only=True)
    assert [s.name for s in dom.list_all_snapshots()] == ["s1"] and dom.snapshot_current() == s1
    _raises(ErrorCode.NO_DOMAIN_SNAPSHOT, "matching name 'nope'", dom.snapshot_lookup_by_name, "nope")
    dom.destroy()
    _raises(ErrorCode.OPERATION_INVALID, "with 1 snapshots", dom.undefine)
    redefined = dom.snapshot_create_xml(s1.xml_desc().replace("<name>s1</name>", "<name>r</name>", 1),
                                        redefine=True)
    assert redefined.name == "r"
    dom.undefine(snapshots_metadata=True)


@hook("migrate_begin", "migrate_prepare", "migrate_perform", "migrate_finish", "migrate_confirm")
def test_migration_between_two_hosts(conn: Connection, tmp_path: Path) -> None:
    node = tmp_path / "dest.xml"
    node.write_text("<node></node>")
    dest = virtkit.open(f"test://{node}")
    src_events: list[tuple[int, int]] = []
    dst_events: list[tuple[int, int]] = []
    conn.event_register("domain-lifecycle", lambda ev: src_events.append((ev.event, ev.detail)))
    dest.event_register("domain-lifecycle", lambda ev: dst_events.append((ev.event, ev.detail)))
    dom = conn.lookup_by_name("test")
    moved = dom.migrate(dest, live=True, persistent=True, undefine_source=True)
    assert moved.name == "test" and moved.state() == (S.RUNNING, 2) and moved.is_persistent()
    _raises(ErrorCode.NO_DOMAIN, "'test'", conn.lookup_by_name, "test")
    assert conn.events.wait_idle() and dest.events.wait_idle()
    assert src_events == [(E.SUSPENDED, 1), (E.STOPPED, 3), (E.UNDEFINED, 0)]
    assert dst_events == [(E.STARTED, 1), (E.DEFINED, 1)]
    assert moved.info().memory == 2097152, "the guest's memory travelled"
    # a second connection to the destination's own node is the same host
    twin = Connection(dest.uri, dest.parsed_uri, False, type(dest.driver))
    twin.driver.node = dest.driver.node
    _raises(ErrorCode.OPERATION_INVALID, "same host", moved.migrate, twin)
    # a failure in prepare leaves the guest where it was
    back = virtkit.open("test:///default")
    other = back.create_xml("<domain type='test'><name>test</name><memory>1024</memory>"
                            "<os><type>hvm</type></os></domain>")
    _raises(ErrorCode.OPERATION_FAILED, "already exists with uuid", moved.migrate, back)
    other.destroy()
    back.create_xml("<domain type='test'><name>test</name><memory>1024</memory>"
                    f"<uuid>{moved.uuid}</uuid><os><type>hvm</type></os></domain>")
    _raises(ErrorCode.OPERATION_FAILED, "already active on the destination", moved.migrate, back)
    assert moved.state() == (S.RUNNING, 2)
    # offline migration moves the definition only
    idle = dest.define_xml("<domain type='test'><name>idle</name><memory>1024</memory>"
                           "<os><type>hvm</type></os></domain>")
    _raises(ErrorCode.OPERATION_INVALID, "not running", idle.migrate, back)
    copy = idle.migrate(back, offline=True, persistent=True)
    assert copy.state()[0] == S.SHUTOFF and copy.is_persistent()


@hook("domain_open_console", "stream_recv", "stream_send", "stream_finish", "stream_abort")
def test_console(conn: Connection) -> None:
    dom = conn.lookup_by_name("test")
    console = dom.open_console()
    banner = console.recv(4096, timeout=1)
    assert b"login:" in banner
    console.send(b"root\r")
    assert console.recv(100, timeout=1) == b"root\r\n"
    _raises(ErrorCode.OPERATION_TIMEOUT, "no console output", console.recv, 10, timeout=0.05)
    other = virtkit.open("test:///default")
    _raises(ErrorCode.OPERATION_FAILED, "active console session", other.lookup_by_name("test").open_console)
    taken = other.lookup_by_name("test").open_console(force=True)
    assert console.recv(10, timeout=1) == b"", "the old session ends when the console is taken"
    taken.abort()
    again = dom.open_console()
    again.finish()
    _raises(ErrorCode.DEVICE_MISSING, "no console 'serial7'", dom.open_console, "serial7")
    ro = virtkit.open("test:///default", read_only=True)
    _raises(ErrorCode.OPERATION_DENIED, "read only", ro.lookup_by_name("test").open_console)
    dom.destroy()
    _raises(ErrorCode.OPERATION_INVALID, "not running", dom.open_console)


@hook("domain_open_channel", "stream_recv", "stream_send")
def test_channels_echo_and_are_held_by_one_client(conn: Connection) -> None:
    channels = ("<channel type='unix'><target type='virtio' name='org.example.echo.0'/>"
                "</channel><channel type='pty'><target type='virtio' name='org.example.b'/>"
                "<alias name='ua-second'/></channel>")
    dom = conn.create_xml(BASE.format(name="ch").replace("</devices>", channels + "</devices>"))
    first = dom.open_channel()
    first.send(b"ping\r")
    assert first.recv(100, timeout=1) == b"ping\r", "the guest's service echoes unchanged"
    _raises(ErrorCode.OPERATION_FAILED, "held by another client", dom.open_channel,
            "org.example.echo.0")
    taken = dom.open_channel("channel0", force=True)
    assert first.recv(10, timeout=1) == b"", "the old stream ends when the channel is taken"
    second = dom.open_channel("ua-second")
    second.send(b"two")
    assert second.recv(10, timeout=1) == b"two"
    third = dom.open_channel("org.example.b", force=True)  # the same channel, by target name
    assert second.recv(10, timeout=1) == b"", "taken by target name: the old stream ends"
    _raises(ErrorCode.OPERATION_TIMEOUT, "no channel output", third.recv, 10, timeout=0.05)
    _raises(ErrorCode.DEVICE_MISSING, "no channel 'nope'", dom.open_channel, "nope")
    ro = virtkit.open(conn.uri, read_only=True)
    try:
        _raises(ErrorCode.OPERATION_DENIED, "read only", ro.lookup_by_name("ch").open_channel)
    finally:
        ro.close()
    dom.destroy()
    assert taken.recv(10, timeout=1) == b"", "the guest stopped: its channels hung up"
    plain = conn.create_xml(BASE.format(name="nochan"))
    _raises(ErrorCode.DEVICE_MISSING, "has no channel", plain.open_channel)
    plain.destroy()


@hook("domain_interface_addresses", "domain_block_stats", "domain_interface_stats",
      "domain_memory_stats")
def test_guest_data(conn: Connection) -> None:
    dom = conn.create_xml(BASE.format(name="g"))
    [addr] = dom.interface_addresses()
    assert addr.hwaddr == "52:54:00:00:00:0a" and addr.addrs[0]["addr"].startswith("192.168.122.")
    assert set(dom.block_stats("vda")) == {"rd_req", "rd_bytes", "wr_req", "wr_bytes", "errs"}
    assert dom.block_stats("/var/lib/a.img")["errs"] == 0
    _raises(ErrorCode.INVALID_ARG, "'vdz' is not a disk of domain 'g'", dom.block_stats, "vdz")
    assert dom.interface_stats(addr.name)["rx_errs"] == 0
    assert dom.interface_stats("52:54:00:00:00:0a")["tx_drop"] == 0
    _raises(ErrorCode.INVALID_ARG, "not an interface", dom.interface_stats, "eth9")
    _raises(ErrorCode.INVALID_ARG, "unknown address source", dom.interface_addresses, "dns")
    assert dom.memory_stats()["actual"] == 128 * 1024
    dom.destroy()
    for action in (dom.interface_addresses, dom.memory_stats, lambda: dom.block_stats("vda")):
        _raises(ErrorCode.NO_DOMAIN, "'g'", action)


@hook("domain_get_job_info", "domain_abort_job")
def test_jobs(conn: Connection, tmp_path: Path) -> None:
    dom = conn.lookup_by_name("test")
    assert dom.job_info().type == 0
    dom.save(str(tmp_path / "s"))
    job = dom.job_info()
    assert job.type == 3 and job.operation == "save" and job.data_processed == job.data_total > 0
    _raises(ErrorCode.OPERATION_INVALID, "no job is active on domain 'test'", dom.abort_job)


@hook("domain_get_job_info", "domain_abort_job", "domain_save", "domain_managed_save")
def test_slow_jobs_show_progress_and_abort(tmp_path: Path) -> None:
    import threading
    import time

    conn = virtkit.open("test:///default?job_seconds=1")
    dom = conn.lookup_by_name("test")
    seen: list[tuple[int, int, int]] = []
    failure: list[VirtError] = []

    def save() -> None:
        try:
            dom.save(str(tmp_path / "slow.save"))
        except VirtError as exc:
            failure.append(exc)

    worker = threading.Thread(target=save)
    worker.start()
    while worker.is_alive() and len(seen) < 5:
        job = dom.job_info()
        if job.type == 1:
            seen.append((job.data_total, job.data_processed, job.data_remaining))
        time.sleep(0.05)
    _raises(ErrorCode.OPERATION_INVALID, "already has an active job: save", dom.managed_save)
    dom.abort_job()
    worker.join(10)
    assert seen and all(total == 2097152 * 1024 and done + left == total
                        for total, done, left in seen)
    assert [p for _, p, _ in seen] == sorted(p for _, p, _ in seen), "progress only grows"
    [exc] = failure
    assert exc.code == ErrorCode.OPERATION_ABORTED and "save of domain 'test'" in exc.message
    assert dom.state() == (S.RUNNING, 1), "an aborted save leaves the guest running"
    assert dom.job_info().type == 5 and not (tmp_path / "slow.save").exists()
    dom.managed_save()  # an unaborted job completes
    assert dom.state() == (S.SHUTOFF, 5) and dom.job_info().type == 3
    _raises(ErrorCode.INVALID_ARG, "job_seconds must be a number of seconds from 0 to 600",
            virtkit.open, "test:///default?job_seconds=forever")


@hook("connect_get_domain_capabilities", "connect_probe")
def test_domain_capabilities_and_probe(conn: Connection) -> None:
    caps = etree.fromstring(conn.get_domain_capabilities(arch="x86_64", virttype="test"))
    assert caps.findtext("arch") == "x86_64" and caps.find("vcpu").get("max") == "16"
    _raises(ErrorCode.INVALID_ARG, "no architecture 'sparc'", conn.get_domain_capabilities,
            arch="sparc")
    _raises(ErrorCode.INVALID_ARG, "no emulator '/usr/bin/qemu'", conn.get_domain_capabilities,
            emulator="/usr/bin/qemu")
    assert conn.call("connect_probe") is None  # the core itself falls back to test:///default
