"""Domains on govmomi's ESX and vCenter simulators: listing, lookup, definition, XML, lifecycle,
states and reasons, transient domains, events from changes made behind virtkit."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

import virtkit
from virtkit.sdk.errors import ErrorCode
from virtkit.sdk.states import (
    DefinedDetail,
    DomainState,
    EventType,
    RunningReason,
    ShutoffReason,
    StartedDetail,
    StoppedDetail,
    UndefinedDetail,
)

from .helpers import Recorder, domain_xml, name, wait_for


def raw_vm(si: Any, vm_name: str) -> Any:
    from pyVmomi import vim

    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        return next((vm for vm in view.view if vm.name == vm_name), None)
    finally:
        view.DestroyView()


def test_host_facts(esx: Any) -> None:
    assert esx.get_hostname() and esx.get_version() == 6_005_000
    info = esx.node_info()
    assert info.memory > 0 and info.cpus >= 1 and info.mhz > 0
    caps = etree.fromstring(esx.get_capabilities().encode())
    assert caps.find("guest/arch/domain").get("type") == "vmware"


def test_lists_the_simulators_vms_with_ids_from_morefs(esx: Any) -> None:
    doms = {d.name: d for d in esx.list_domains()}
    assert {"ha-host_VM0", "ha-host_VM1"} <= set(doms)
    vm0 = doms["ha-host_VM0"]
    assert vm0.state() == (DomainState.RUNNING, RunningReason.UNKNOWN)
    assert vm0.id > 0 and esx.lookup_by_id(vm0.id) == vm0
    assert esx.lookup_by_uuid(vm0.uuid) == vm0 and esx.lookup_by_name(vm0.name) == vm0


def test_lookup_by_instance_uuid(esx: Any, raw: Any) -> None:
    vm = raw_vm(raw, "ha-host_VM1")
    dom = esx.lookup_by_uuid(vm.config.instanceUuid)
    assert dom.name == "ha-host_VM1" and dom.uuid == vm.config.uuid


def test_define_round_trip_and_redefine(esx: Any) -> None:
    n = name()
    rec = Recorder(esx)
    xml = domain_xml(n, memory_mib=256, extra="<description>a test</description>",
                     devices="<interface type='bridge'><mac address='00:50:56:12:34:56'/>"
                             "<source bridge='VM Network'/><model type='vmxnet3'/></interface>")
    dom = esx.define_xml(xml)
    root = etree.fromstring(dom.xml_desc().encode())
    assert root.findtext("description") == "a test"
    assert root.find("devices/interface/source").get("bridge") == "VM Network"
    assert root.find("devices/interface/model").get("type") == "vmxnet3"
    assert root.find("devices/interface/mac").get("address") == "00:50:56:12:34:56"
    assert dom.info().max_mem == 256 * 1024
    again = esx.define_xml(dom.xml_desc())
    assert again == dom and again.xml_desc() == dom.xml_desc()
    esx.define_xml(dom.xml_desc().replace("262144", "524288"))
    assert dom.info().max_mem == 512 * 1024
    wait_for(lambda: len(rec.of(n)) >= 3)
    assert rec.of(n) == [(EventType.DEFINED, DefinedDetail.ADDED),
                         (EventType.DEFINED, DefinedDetail.UPDATED),
                         (EventType.DEFINED, DefinedDetail.UPDATED)]
    dom.undefine()
    with pytest.raises(virtkit.VirtError) as err:
        esx.lookup_by_name(n)
    assert err.value.code == ErrorCode.NO_DOMAIN and n in err.value.message


def test_network_default_joins_vm_network(esx: Any) -> None:
    dom = esx.define_xml(domain_xml(name(), devices="<interface type='network'>"
                                                    "<source network='default'/></interface>"))
    root = etree.fromstring(dom.xml_desc().encode())
    assert root.find("devices/interface/source").get("bridge") == "VM Network"
    dom.undefine()


def test_unknown_port_group_is_refused_naming_it(esx: Any) -> None:
    xml = domain_xml(name(), devices="<interface type='network'><source network='nowhere'/>"
                                     "</interface>")
    with pytest.raises(virtkit.VirtError) as err:
        esx.define_xml(xml)
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED and "'nowhere'" in err.value.message
    assert "VM Network" in err.value.message


@pytest.mark.parametrize(("devices", "word"), [
    ("<graphics type='sdl'/>", "graphics"),
    ("<serial type='pty'><target port='0'/></serial>", "pty"),
    ("<disk type='file' device='disk'><source file='/var/lib/x.img'/>"
     "<target dev='sda' bus='scsi'/></disk>", "datastore path"),
])
def test_unsupported_devices_are_refused(esx: Any, devices: str, word: str) -> None:
    with pytest.raises(virtkit.VirtError) as err:
        esx.define_xml(domain_xml(name(), devices=devices))
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED and word in err.value.message


def test_wrong_domain_type_and_memory_refused(esx: Any) -> None:
    with pytest.raises(virtkit.VirtError) as err:
        esx.define_xml(domain_xml(name()).replace("type='vmware'", "type='kvm'"))
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED and "kvm" in err.value.message
    with pytest.raises(virtkit.VirtError) as err:
        esx.define_xml(domain_xml(name()).replace("unit='MiB'>128", "unit='KiB'>1000"))
    assert "whole MiB" in err.value.message


def test_lifecycle_states_reasons_and_events(esx: Any, raw: Any) -> None:
    n = name()
    rec = Recorder(esx)
    dom = esx.define_xml(domain_xml(n))
    dom.create()
    assert dom.state() == (DomainState.RUNNING, RunningReason.BOOTED) and dom.id > 0
    assert str(raw_vm(raw, n).runtime.powerState) == "poweredOn"
    dom.reset()
    dom.managed_save()
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.SAVED)
    assert dom.has_managed_save_image() and dom.id == -1
    assert str(raw_vm(raw, n).runtime.powerState) == "suspended"
    dom.create()
    assert dom.state() == (DomainState.RUNNING, RunningReason.RESTORED)
    dom.shutdown()
    wait_for(lambda: dom.state()[0] == DomainState.SHUTOFF)
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.SHUTDOWN)
    dom.create()
    dom.destroy()
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.DESTROYED)
    with pytest.raises(virtkit.VirtError) as err:
        dom.destroy()
    assert err.value.code == ErrorCode.OPERATION_INVALID and n in err.value.message
    wait_for(lambda: len(rec.of(n)) >= 10)
    E, S = EventType, StoppedDetail
    assert rec.of(n) == [
        (E.DEFINED, DefinedDetail.ADDED), (E.STARTED, StartedDetail.BOOTED),
        (E.STOPPED, S.SAVED), (E.STARTED, StartedDetail.RESTORED),
        (E.SHUTDOWN, 0), (E.STOPPED, S.SHUTDOWN), (E.STARTED, StartedDetail.BOOTED),
        (E.STOPPED, S.DESTROYED),
    ]
    dom.undefine()


def test_paused_start_is_refused(esx: Any) -> None:
    dom = esx.define_xml(domain_xml(name()))
    with pytest.raises(virtkit.VirtError) as err:
        dom.create(paused=True)
    assert err.value.code == ErrorCode.ARGUMENT_UNSUPPORTED
    assert dom.state()[0] == DomainState.SHUTOFF
    dom.undefine()


def test_managed_save_remove_powers_off(esx: Any, raw: Any) -> None:
    n = name()
    dom = esx.define_xml(domain_xml(n))
    dom.create()
    dom.managed_save()
    dom.managed_save_remove()
    assert not dom.has_managed_save_image()
    assert str(raw_vm(raw, n).runtime.powerState) == "poweredOff"
    dom.create()
    assert dom.state() == (DomainState.RUNNING, RunningReason.BOOTED)
    dom.destroy()
    dom.undefine()


def test_transient_domain_is_deleted_when_it_stops(esx: Any, raw: Any) -> None:
    n = name()
    dom = esx.create_xml(domain_xml(n))
    assert not dom.is_persistent() and dom.state()[0] == DomainState.RUNNING
    assert raw_vm(raw, n) is not None
    with pytest.raises(virtkit.VirtError) as err:
        dom.undefine()
    assert err.value.code == ErrorCode.OPERATION_INVALID
    dom.destroy()
    assert raw_vm(raw, n) is None
    with pytest.raises(virtkit.VirtError):
        esx.lookup_by_name(n)


def test_undefine_running_keeps_it_until_it_stops(esx: Any, raw: Any) -> None:
    n = name()
    dom = esx.define_xml(domain_xml(n))
    dom.create()
    dom.undefine()
    assert dom.is_active() and not dom.is_persistent()
    # a second connection sees the mark: it lives in vSphere, not in this process
    other = virtkit.open(esx.uri)
    try:
        assert not other.lookup_by_name(n).is_persistent()
    finally:
        other.close()
    dom.destroy()
    assert raw_vm(raw, n) is None


def test_events_from_changes_behind_virtkit(esx: Any, raw: Any) -> None:
    """Power changes and deletions made with plain pyvmomi arrive as lifecycle events."""
    from pyVim.task import WaitForTask

    n = name()
    dom = esx.define_xml(domain_xml(n))
    rec = Recorder(esx)
    vm = raw_vm(raw, n)
    WaitForTask(vm.PowerOnVM_Task())
    assert wait_for(lambda: rec.of(n) == [(EventType.STARTED, StartedDetail.BOOTED)])
    WaitForTask(vm.PowerOffVM_Task())
    assert wait_for(lambda: len(rec.of(n)) == 2)
    assert rec.of(n)[1] == (EventType.STOPPED, StoppedDetail.DESTROYED)
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.DESTROYED)
    vm.UnregisterVM()
    assert wait_for(lambda: len(rec.of(n)) == 3)
    assert rec.of(n)[2] == (EventType.UNDEFINED, UndefinedDetail.REMOVED)


def test_resources(esx: Any) -> None:
    dom = esx.define_xml(domain_xml(name(), memory_mib=512).replace(
        "<vcpu>1</vcpu>", "<vcpu current='1'>4</vcpu>"))
    assert dom.vcpus_count(config=True, maximum=True) == 4
    dom.set_memory(256 * 1024)
    assert dom.info().memory == 256 * 1024 and dom.info().max_mem == 512 * 1024
    with pytest.raises(virtkit.VirtError) as err:
        dom.set_memory(1024 * 1024)
    assert err.value.code == ErrorCode.INVALID_ARG
    dom.set_vcpus(3)
    assert dom.vcpus_count(config=True) == 3
    with pytest.raises(virtkit.VirtError):
        dom.set_vcpus(5)
    root = etree.fromstring(dom.xml_desc().encode())
    assert root.find("vcpu").text == "4" and root.find("vcpu").get("current") == "3"
    dom.undefine()


def test_vpx_form_and_its_path(vpx_sim: Any) -> None:
    conn = virtkit.open(vpx_sim.uri(path="/DC0/DC0_C0"))
    try:
        names = {d.name for d in conn.list_domains()}
        assert {"DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"} <= names and "DC0_H0_VM0" not in names
        dom = conn.define_xml(domain_xml(name("vpx")))
        dom.create()
        assert dom in conn.list_domains(active=True)
        dom.destroy()
        dom.undefine()
    finally:
        conn.close()
    whole = virtkit.open(vpx_sim.uri(path="/DC0"))
    try:
        assert "DC0_H0_VM0" in {d.name for d in whole.list_domains()}
    finally:
        whole.close()
    with pytest.raises(virtkit.VirtError) as err:
        virtkit.open(vpx_sim.uri(path="/NoSuchDC"))
    assert err.value.code == ErrorCode.INVALID_ARG and "NoSuchDC" in err.value.message


def test_simulator_lacks_are_no_support(esx: Any) -> None:
    dom = esx.lookup_by_name("ha-host_VM0")
    with pytest.raises(virtkit.VirtError) as err:
        dom.reboot()
    assert err.value.code == ErrorCode.NO_SUPPORT and "domain_reboot" in err.value.message


def test_vnc_graphics_and_its_password(esx: Any) -> None:
    """VNC is vSphere's RemoteDisplay.vnc.* settings; the password only with security_info."""
    n = name("vnc")
    dom = esx.define_xml(domain_xml(n, devices="<graphics type='vnc' port='5901' "
                                               "passwd='s3cr3t-vnc' listen='127.0.0.1'/>"))
    plain = dom.xml_desc()
    assert "s3cr3t-vnc" not in plain
    g = etree.fromstring(plain.encode()).find("devices/graphics")
    assert (g.get("type"), g.get("port"), g.get("listen")) == ("vnc", "5901", "127.0.0.1")
    assert "s3cr3t-vnc" in dom.xml_desc(security_info=True)
    esx.define_xml(dom.xml_desc(security_info=True).replace(
        "<graphics type='vnc' port='5901' autoport='no' listen='127.0.0.1' passwd='s3cr3t-vnc'/>",
        ""))
    assert etree.fromstring(dom.xml_desc().encode()).find("devices/graphics") is None
    ro = virtkit.open(esx.uri, read_only=True)
    try:
        with pytest.raises(virtkit.VirtError) as err:
            ro.lookup_by_name(n).xml_desc(security_info=True)
        assert err.value.code == ErrorCode.OPERATION_DENIED
    finally:
        ro.close()
    dom.undefine()


def test_a_listing_made_just_after_a_vm_went_does_not_bring_it_back(esx: Any) -> None:
    """vCenter's container views follow the inventory a moment later: a listing made just
    after an undefine can still hold the VM. The VM stays gone (its id is never reused)."""
    n = name()
    dom = esx.define_xml(domain_xml(n))
    uuid = dom.uuid
    inventory = esx.driver.inventory
    stale = inventory.vms()  # a listing from before the undefine, the VM in it
    assert any(row.name == n for row in stale)
    dom.undefine()
    real = inventory.vms
    inventory.vms = lambda: stale
    try:
        with pytest.raises(virtkit.VirtError) as err:
            esx.lookup_by_uuid(uuid)
        assert err.value.code == ErrorCode.NO_DOMAIN
        assert n not in {d.name for d in esx.list_domains()}
        with pytest.raises(virtkit.VirtError) as err:
            esx.lookup_by_name(n)
        assert err.value.code == ErrorCode.NO_DOMAIN
    finally:
        inventory.vms = real
