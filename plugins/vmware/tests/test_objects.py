"""Snapshots, device hotplug, datastores as pools and virtual disks as volumes, switches as
networks, and jobs, against the ESX simulator."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

import virtkit
from virtkit.sdk.errors import ErrorCode
from virtkit.sdk.states import DomainState, RunningReason, ShutoffReason

from .helpers import Recorder, domain_xml, name, wait_for

VOL = "<volume><name>{name}</name><capacity unit='MiB'>{mib}</capacity>" \
      "<target><format type='vmdk'/></target></volume>"


def _disk(path: str, dev: str = "sdb") -> str:
    return (f"<disk type='file' device='disk'><source file='{path}'/>"
            f"<target dev='{dev}' bus='scsi'/></disk>")


# -- snapshots -----------------------------------------------------------------------------


def test_snapshot_tree_revert_and_delete(esx: Any) -> None:
    dom = esx.define_xml(domain_xml(name("snap")))
    a = dom.snapshot_create_xml("<domainsnapshot><name>a</name>"
                                "<description>off</description></domainsnapshot>")
    dom.create()
    dom.snapshot_create_xml("<domainsnapshot><name>b</name></domainsnapshot>")
    dom.snapshot_create_xml("<domainsnapshot><name>c</name></domainsnapshot>")
    summaries = {s.ref.name: s for s in dom.snapshot_summaries()}
    assert set(summaries) == {"a", "b", "c"}
    assert summaries["a"].state == "shutoff" and summaries["b"].state == "running"
    assert summaries["b"].parent == "a" and summaries["c"].parent == "b"
    assert summaries["c"].current and dom.snapshot_current().name == "c"
    root = etree.fromstring(a.xml_desc().encode())
    assert root.findtext("name") == "a" and root.findtext("description") == "off"
    assert root.findtext("state") == "shutoff"
    with pytest.raises(virtkit.VirtError) as err:
        dom.snapshot_create_xml("<domainsnapshot><name>b</name></domainsnapshot>")
    assert err.value.code == ErrorCode.OPERATION_INVALID
    rec = Recorder(esx)
    dom.snapshot_lookup_by_name("a").revert()
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.FROM_SNAPSHOT)
    dom.snapshot_lookup_by_name("b").revert()
    assert dom.state() == (DomainState.RUNNING, RunningReason.FROM_SNAPSHOT)
    assert wait_for(lambda: len(rec.of(dom.name)) >= 2)
    assert rec.of(dom.name) == [(5, 6), (2, 3)]  # STOPPED and STARTED, FROM_SNAPSHOT
    dom.snapshot_lookup_by_name("b").delete()
    after = {s.ref.name: s for s in dom.snapshot_summaries()}
    assert set(after) == {"a", "c"} and after["c"].parent == "a"
    with pytest.raises(virtkit.VirtError) as err:
        dom.snapshot_lookup_by_name("b")
    assert err.value.code == ErrorCode.NO_DOMAIN_SNAPSHOT and "'b'" in err.value.message
    with pytest.raises(virtkit.VirtError) as err:
        dom.undefine()
    assert err.value.code == ErrorCode.OPERATION_INVALID and "snapshot" in err.value.message
    dom.destroy()
    dom.undefine(snapshots_metadata=True)


# -- storage -------------------------------------------------------------------------------


def test_datastores_are_pools(esx: Any) -> None:
    pools = esx.list_storage_pools()
    assert [p.name for p in pools] == ["LocalDS_0"]
    pool = pools[0]
    info = pool.info()
    assert info.state == 2 and info.capacity > 0 and info.available <= info.capacity
    root = etree.fromstring(pool.xml_desc().encode())
    assert root.findtext("name") == "LocalDS_0" and root.findtext("uuid") == pool.uuid
    assert esx.storage_pool_lookup_by_uuid(pool.uuid) == pool
    with pytest.raises(virtkit.VirtError) as err:  # vcsim's RefreshDatastore is broken
        pool.refresh()
    assert err.value.code == ErrorCode.NO_SUPPORT


def test_volumes_create_info_delete(esx: Any) -> None:
    pool = esx.storage_pool_lookup_by_name("LocalDS_0")
    vname = f"{name('vols')}.vmdk"
    vol = pool.create_xml(VOL.format(name=vname, mib=64))
    assert vol.path == f"[LocalDS_0] {vname}" and vol.name == vname
    assert vname in [v.name for v in pool.list_volumes()]
    assert esx.storage_vol_lookup_by_path(vol.path) == vol
    root = etree.fromstring(vol.xml_desc().encode())
    assert root.find("target/format").get("type") == "vmdk"
    assert root.findtext("target/path") == vol.path
    # vcsim keeps no disk capacity (its VmDiskFileInfo has none): info and XML agree on it
    assert vol.info().capacity == int(root.findtext("capacity"))
    with pytest.raises(virtkit.VirtError) as err:
        pool.create_xml(VOL.format(name=vname, mib=64))
    assert err.value.code == ErrorCode.STORAGE_VOL_EXIST
    copy = pool.create_xml_from(VOL.format(name=f"copy-{vname}", mib=64), vol)
    assert copy.path == f"[LocalDS_0] copy-{vname}"
    assert f"copy-{vname}" in [v.name for v in pool.list_volumes()]
    copy.delete()
    vol.delete()
    assert vname not in [v.name for v in pool.list_volumes()]


@pytest.mark.parametrize("bad", ["../escape.vmdk", "a/../../b.vmdk", "/abs.vmdk", "x.qcow2"])
def test_volume_names_are_checked(esx: Any, bad: str) -> None:
    pool = esx.storage_pool_lookup_by_name("LocalDS_0")
    with pytest.raises(virtkit.VirtError) as err:
        pool.create_xml(VOL.format(name=bad, mib=1))
    assert err.value.code in (ErrorCode.INVALID_ARG, ErrorCode.XML_ERROR)


# -- devices -------------------------------------------------------------------------------


def test_disks_and_nics_hotplug(esx: Any) -> None:
    pool = esx.storage_pool_lookup_by_name("LocalDS_0")
    base = name("dev")
    boot = pool.create_xml(VOL.format(name=f"{base}-boot.vmdk", mib=16))
    extra = pool.create_xml(VOL.format(name=f"{base}-extra.vmdk", mib=16))
    dom = esx.define_xml(domain_xml(base, devices=_disk(boot.path, "sda")))
    root = etree.fromstring(dom.xml_desc().encode())
    assert root.find("devices/disk/source").get("file") == boot.path
    assert root.find("devices/disk/target").get("dev") == "sda"
    dom.create()
    rec = Recorder(esx, "domain-device-added")
    dom.attach_device(_disk(extra.path, "sdb"), live=True)
    dom.attach_device("<interface type='bridge'><mac address='00:50:56:3a:00:01'/>"
                      "<source bridge='VM Network'/><model type='vmxnet3'/></interface>",
                      live=True)
    root = etree.fromstring(dom.xml_desc().encode())
    assert [d.get("dev") for d in root.findall("devices/disk/target")] == ["sda", "sdb"]
    assert root.find("devices/interface/mac").get("address") == "00:50:56:3a:00:01"
    assert wait_for(lambda: len(rec.devices) == 2)
    assert rec.devices == [(base, "sdb"), (base, "00:50:56:3a:00:01")]
    with pytest.raises(virtkit.VirtError) as err:
        dom.attach_device(_disk(extra.path, "sdc"), live=True)
    assert err.value.code == ErrorCode.OPERATION_FAILED
    with pytest.raises(virtkit.VirtError) as err:
        dom.attach_device("<interface type='bridge'><source bridge='Nope'/></interface>")
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED and "Nope" in err.value.message
    with pytest.raises(virtkit.VirtError) as err:
        dom.attach_device("<sound model='ich6'/>")
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED
    dom.detach_device(_disk(extra.path, "sdb"), live=True)
    dom.detach_device("<interface type='bridge'><mac address='00:50:56:3a:00:01'/>"
                      "<source bridge='VM Network'/></interface>", live=True)
    root = etree.fromstring(dom.xml_desc().encode())
    assert [d.get("dev") for d in root.findall("devices/disk/target")] == ["sda"]
    assert root.find("devices/interface") is None
    with pytest.raises(virtkit.VirtError) as err:
        dom.detach_device(_disk(extra.path, "sdq"))
    assert err.value.code == ErrorCode.DEVICE_MISSING and "sdq" in err.value.message
    dom.destroy()
    with pytest.raises(virtkit.VirtError) as err:
        dom.attach_device(_disk(extra.path, "sdb"), live=True)
    assert err.value.code == ErrorCode.OPERATION_INVALID
    dom.undefine()


# -- networks ------------------------------------------------------------------------------


def test_switches_are_networks_with_their_port_groups(esx: Any) -> None:
    nets = esx.list_networks()
    assert [n.name for n in nets] == ["vSwitch0"]
    net = nets[0]
    assert net.is_active() and net.is_persistent() and net.autostart
    root = etree.fromstring(net.xml_desc().encode())
    assert root.find("forward").get("mode") == "bridge"
    assert {p.get("name") for p in root.findall("portgroup")} >= {"VM Network"}
    assert esx.network_lookup_by_uuid(net.uuid) == net
    with pytest.raises(virtkit.VirtError) as err:
        esx.network_lookup_by_name("vSwitch9")
    assert err.value.code == ErrorCode.NO_NETWORK


# -- jobs ----------------------------------------------------------------------------------


def test_job_info_of_the_last_task(esx: Any) -> None:
    dom = esx.define_xml(domain_xml(name("job")))
    assert dom.job_info().type == 0
    dom.create()
    info = dom.job_info()
    assert info.type == 3 and info.data_processed == 100 and "start" in info.operation
    with pytest.raises(virtkit.VirtError) as err:
        dom.abort_job()
    assert err.value.code == ErrorCode.OPERATION_INVALID and dom.name in err.value.message
    dom.destroy()
    dom.undefine()


# -- guest addresses -----------------------------------------------------------------------


def test_interface_addresses_from_vmware_tools(esx: Any, raw: Any) -> None:
    from pyVim.task import WaitForTask
    from pyVmomi import vim

    n = name("ip")
    dom = esx.define_xml(domain_xml(n, devices="<interface type='bridge'>"
                                               "<mac address='00:50:56:3b:00:07'/>"
                                               "<source bridge='VM Network'/></interface>"))
    with pytest.raises(virtkit.VirtError) as err:
        dom.interface_addresses("agent")
    assert err.value.code == ErrorCode.OPERATION_INVALID
    dom.create()
    vm = next(v for v in raw.RetrieveContent().viewManager.CreateContainerView(
        raw.RetrieveContent().rootFolder, [vim.VirtualMachine], True).view if v.name == n)
    # what VMware Tools would report, set the simulator's way
    WaitForTask(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(extraConfig=[
        vim.option.OptionValue(key="SET.guest.ipAddress", value="10.1.2.3")])))
    got = dom.interface_addresses("agent")
    assert [(a.hwaddr, [x["addr"] for x in a.addrs]) for a in got] == [
        ("00:50:56:3b:00:07", ["10.1.2.3"])]
    with pytest.raises(virtkit.VirtError) as err:
        dom.interface_addresses("lease")
    assert err.value.code == ErrorCode.ARGUMENT_UNSUPPORTED
    dom.destroy()
    dom.undefine()
