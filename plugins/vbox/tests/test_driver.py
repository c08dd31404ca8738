"""The driver against the fake VBoxManage (recorded 6.1 and 7.0 outputs): lifecycle, events
by polling, save/restore, snapshots, devices, and the argument lists VBoxManage receives."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from launcher import calls

import virtkit
from virtkit.api.connection import Connection
from virtkit.sdk.errors import ErrorCode
from virtkit.sdk.states import DomainState as S
from virtkit.sdk.states import EventType as E

BOTH = pytest.mark.parametrize("vbox_version", ["7.0.14", "6.1.50"],
                               ids=["vbox7.0", "vbox6.1"])


def xml(name: str, devices: str = "", extra: str = "") -> str:
    return (f"<domain type='vbox'><name>{name}</name><memory unit='MiB'>256</memory>"
            f"<vcpu>1</vcpu><os><type>hvm</type></os>{extra}<devices>{devices}</devices>"
            f"</domain>")


def wait(pred, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return bool(pred())


@BOTH
def test_lifecycle_and_argument_lists(conn: Connection, fake: Path) -> None:
    dom = conn.define_xml(xml("web"))
    dom.create()
    assert dom.state() == (S.RUNNING, 1) and dom.id > 0
    dom.suspend()
    dom.resume()
    dom.destroy()
    assert dom.state() == (S.SHUTOFF, 2)
    sent = calls(fake)
    assert ["startvm", dom.uuid, "--type", "headless"] in sent
    assert ["controlvm", dom.uuid, "pause"] in sent
    assert ["controlvm", dom.uuid, "resume"] in sent
    assert ["controlvm", dom.uuid, "poweroff"] in sent
    create = next(c for c in sent if c[0] == "createvm")
    assert create[1:] == ["--name", "web", "--uuid", dom.uuid, "--ostype", "Other_64",
                          "--register"]


@BOTH
def test_modifyvm_spelling_follows_the_version(conn: Connection, fake: Path) -> None:
    nic = ("<interface type='user'><mac address='08:00:27:00:00:01'/>"
           "<model type='virtio'/></interface>")
    conn.define_xml(xml("spell", nic))
    modify = next(c for c in calls(fake) if c[0] == "modifyvm")
    major = conn.get_version() // 1_000_000
    if major >= 7:
        assert "--nic-type1" in modify and "--mac-address1" in modify
        assert "--nictype1" not in modify
    else:
        assert "--nictype1" in modify and "--macaddress1" in modify
        assert "--nic-type1" not in modify


@BOTH
def test_acpi_shutdown_is_seen_by_the_poller(conn: Connection) -> None:
    dom = conn.define_xml(xml("acpi"))
    dom.create()
    got: list[tuple[int, int]] = []
    conn.event_register("domain-lifecycle", lambda ev: got.append((ev.event, ev.detail)), dom)
    dom.shutdown()
    # no query on this domain: only the background poller can notice the guest powered off
    assert wait(lambda: len(got) >= 2), got
    assert got == [(E.SHUTDOWN, 0), (E.STOPPED, 0)]
    assert dom.state() == (S.SHUTOFF, 1)


def test_changes_made_outside_are_reported(conn: Connection, fake: Path) -> None:
    dom = conn.define_xml(xml("outside"))
    got: list[tuple[int, int]] = []
    conn.event_register("domain-lifecycle", lambda ev: got.append((ev.event, ev.detail)), dom)
    import subprocess

    subprocess.run(["VBoxManage", "startvm", dom.uuid, "--type", "headless"], check=True,
                   capture_output=True)
    assert wait(lambda: len(got) >= 1)
    assert got[0] == (E.STARTED, 0)
    assert dom.is_active()


def test_poller_stops_on_close(fake: Path) -> None:
    import threading

    c = virtkit.open("vbox:///session?poll_interval=0.05")
    assert any(t.name == "virtkit-vbox-events" for t in threading.enumerate())
    c.close()
    assert not any(t.name == "virtkit-vbox-events" and t.is_alive()
                   for t in threading.enumerate())


def test_poll_interval_is_bounded(fake: Path) -> None:
    with pytest.raises(virtkit.VirtError) as info:
        virtkit.open("vbox:///session?poll_interval=0.001")
    assert info.value.code == ErrorCode.INVALID_ARG and "poll_interval" in info.value.message


def test_transient_domain_vanishes_from_virtualbox(conn: Connection, fake: Path) -> None:
    dom = conn.create_xml(xml("tmp"))
    assert not dom.is_persistent() and dom.is_active()
    dom.destroy()
    with pytest.raises(virtkit.VirtError) as info:
        conn.lookup_by_name("tmp")
    assert info.value.code == ErrorCode.NO_DOMAIN and "'tmp'" in info.value.message
    assert ["unregistervm", dom.uuid, "--delete"] in calls(fake)


def test_save_restore_and_managed_save(conn: Connection, tmp_path: Path) -> None:
    dom = conn.define_xml(xml("saver"))
    dom.create()
    dom.suspend()
    image = tmp_path / "saver.img"
    dom.save(str(image))
    assert dom.state() == (S.SHUTOFF, 5) and image.read_bytes().startswith(b"VirtkitVBoxSave")
    back = conn.restore(str(image))
    assert back == dom and dom.state()[0] == S.PAUSED
    dom.resume()
    dom.managed_save()
    assert dom.has_managed_save_image()
    dom.create()
    assert dom.state() == (S.RUNNING, 3)


@BOTH
def test_snapshot_tree(conn: Connection) -> None:
    dom = conn.define_xml(xml("snappy"))
    dom.create()
    a = dom.snapshot_create_xml("<domainsnapshot><name>a</name>"
                                "<description>first</description></domainsnapshot>")
    b = dom.snapshot_create_xml("<domainsnapshot><name>b</name></domainsnapshot>")
    assert b.parent() == a and dom.snapshot_current() == b
    assert "<description>first</description>" in a.xml_desc()
    dom.destroy()
    a.revert()
    assert dom.state() == (S.RUNNING, 4)
    b.delete()
    assert [s.name for s in dom.list_all_snapshots()] == ["a"]


def test_disk_hotplug_and_nic_coldplug(conn: Connection, tmp_path: Path) -> None:
    disk = tmp_path / "data.vdi"
    disk.write_bytes(b"<<< Oracle VM VirtualBox Disk Image >>>\n")
    sata = (f"<disk type='file' device='disk'><source file='{disk}'/>"
            f"<target dev='sda' bus='sata'/></disk>")
    dom = conn.define_xml(xml("plug", sata))
    nic = "<interface type='bridge'><mac address='08:00:27:12:34:56'/><source bridge='eth0'/></interface>"
    dom.attach_device(nic, config=True)
    assert "08:00:27:12:34:56" in dom.xml_desc(inactive=True)
    dom.create()
    second = tmp_path / "more.vdi"
    second.write_bytes(b"x")
    extra = (f"<disk type='file' device='disk'><source file='{second}'/>"
             f"<target dev='sdb' bus='sata'/></disk>")
    with pytest.raises(virtkit.VirtError) as info:
        dom.attach_device(extra, live=True)  # VirtualBox keeps hot-plugged disks
    assert info.value.code == ErrorCode.OPERATION_UNSUPPORTED
    dom.attach_device(extra, live=True, config=True)
    assert "sdb" in dom.xml_desc()
    dom.detach_device(extra, live=True, config=True)
    assert "sdb" not in dom.xml_desc()
    with pytest.raises(virtkit.VirtError) as info:
        dom.attach_device(nic.replace("12:34:56", "12:34:57"), live=True, config=True)
    assert info.value.code == ErrorCode.OPERATION_UNSUPPORTED
    missing = extra.replace(str(second), str(tmp_path / "nope.vdi"))
    with pytest.raises(virtkit.VirtError) as info:
        dom.attach_device(missing, live=True, config=True)
    assert "nope.vdi" in info.value.message


def test_memory_balloon_live(conn: Connection) -> None:
    dom = conn.define_xml(xml("mem"))
    dom.create()
    dom.set_memory(128 * 1024, live=True)
    assert dom.info().memory == 128 * 1024 and dom.info().max_mem == 256 * 1024
    with pytest.raises(virtkit.VirtError) as info:
        dom.set_memory(64 * 1024, live=True, maximum=True)
    assert info.value.code == ErrorCode.OPERATION_INVALID


def test_volumes_are_media(conn: Connection) -> None:
    pool = conn.storage_pool_lookup_by_name("default-pool")
    vol = pool.create_xml("<volume><name>disk1.vdi</name><capacity unit='MiB'>64</capacity>"
                          "<target><format type='vdi'/></target></volume>")
    assert vol.info().capacity == 64 * 1024 * 1024
    assert vol.name in [v.name for v in pool.list_volumes()]
    vol.delete()
    assert vol.name not in [v.name for v in pool.list_volumes()]


def test_errors_name_the_object(conn: Connection) -> None:
    dom = conn.define_xml(xml("named"))
    with pytest.raises(virtkit.VirtError) as info:
        dom.resume()
    assert info.value.code == ErrorCode.OPERATION_INVALID and "'named'" in info.value.message
    with pytest.raises(virtkit.VirtError) as info:
        conn.define_xml(xml("bad", "<interface type='vhostuser'/>"))
    assert info.value.code in (ErrorCode.CONFIG_UNSUPPORTED, ErrorCode.XML_ERROR)


def test_vnc_password_is_a_secret(conn: Connection, fake: Path) -> None:
    dom = conn.define_xml(xml("vnc", "<graphics type='vnc' port='5901' passwd='hush'/>"))
    assert "hush" not in dom.xml_desc(inactive=True)
    assert "hush" in dom.xml_desc(inactive=True, security_info=True)
    modify = next(c for c in calls(fake) if c[0] == "modifyvm")
    assert "VNCPassword=hush" in modify


def test_redefining_a_running_domain_applies_at_next_boot(conn: Connection) -> None:
    dom = conn.create_xml(xml("later"))
    assert not dom.is_persistent()
    conn.define_xml(xml("later").replace("<name>later</name>",
                                         f"<name>later</name><uuid>{dom.uuid}</uuid>")
                    .replace("256", "512"))
    assert dom.is_persistent() and dom.is_active()
    assert dom.info().max_mem == 256 * 1024, "VirtualBox runs the old settings"
    assert "524288" in dom.xml_desc(inactive=True)
    dom.destroy()
    assert dom.info().max_mem == 512 * 1024, "applied when the machine stopped"


def test_create_xml_over_a_defined_domain_runs_it_once(conn: Connection) -> None:
    dom = conn.define_xml(xml("once"))
    conn.create_xml(xml("once").replace("<name>once</name>",
                                        f"<name>once</name><uuid>{dom.uuid}</uuid>")
                    .replace("256", "384"))
    assert dom.is_active() and dom.is_persistent() and dom.state() == (S.RUNNING, 1)
    assert dom.info().max_mem == 384 * 1024
    dom.destroy()
    assert dom.info().max_mem == 256 * 1024, "the persistent definition is back"


def test_capabilities_show_one_numa_cell_as_node_info_does(conn: Connection) -> None:
    """VirtualBox reports no NUMA layout: the host is one cell with every cpu and all the
    memory, agreeing with node_info() and the cells' free memory (libvirt's test host layout)."""
    from xml.etree import ElementTree

    info = conn.node_info()
    host = ElementTree.fromstring(conn.get_capabilities()).find("host")
    assert host is not None
    cells = host.findall("topology/cells/cell")
    assert len(cells) == info.nodes == 1
    assert len(cells[0].findall("cpus/cpu")) == info.cpus
    assert int(cells[0].findtext("memory", "0")) == info.memory
    (free,) = conn.node_cells_free_memory(0, 1)
    assert 0 <= free <= info.memory * 1024
