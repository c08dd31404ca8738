"""``xenapi://`` against the FAKE XenAPI server of ``virtkit_xen.fakexapi`` (labelled: no
XCP-ng or XenServer host was available). The server speaks XenAPI's XML-RPC wire format and
keeps XenAPI's power-state rules; these tests check what the driver asks of it and what the
driver makes of its answers, and, at the end, the fake's own wire shapes."""

from __future__ import annotations

import logging
import queue
import socket
import xmlrpc.client
from typing import Any

import pytest

import virtkit
from virtkit.sdk.errors import ErrorCode as C
from virtkit.sdk.errors import VirtError
from virtkit.sdk.states import DomainState as S
from virtkit.sdk.states import EventType as E
from virtkit.sdk.states import StartedDetail, StoppedDetail
from virtkit_xen.fakexapi import NULL, FakeXapi
from virtkit_xen.xapi import failure_error, task_result

LOCAL_SR = "Local storage"
NET = "Pool-wide network associated with eth0"



def uri(x: FakeXapi, **params: str) -> str:
    q = "&".join(f"{k}={v}" for k, v in {"transport": "http", **params}.items())
    return f"xenapi://root@127.0.0.1:{x.port}/?{q}"



def xml(name: str, devices: str = "", memory: int = 131072, vcpus: int = 1,
        os_type: str = "hvm") -> str:
    return (f"<domain type='xen'><name>{name}</name><memory>{memory}</memory>"
            f"<vcpu>{vcpus}</vcpu><os><type>{os_type}</type></os>"
            f"<devices>{devices}</devices></domain>")


def vm_rec(x: FakeXapi, name: str) -> dict[str, Any]:
    with x.lock:
        return next(dict(v) for v in x.db["VM"].values()
                    if v["name_label"] == name and not v["is_a_snapshot"])


def events(c: Any) -> queue.Queue[tuple[str, int, int]]:
    q: queue.Queue[tuple[str, int, int]] = queue.Queue()
    c.event_register("domain-lifecycle", lambda ev: q.put((ev.obj.name, ev.event, ev.detail)))
    return q


def next_event(q: queue.Queue[tuple[str, int, int]], name: str) -> tuple[int, int]:
    while True:
        got = q.get(timeout=10)
        if got[0] == name:
            return got[1], got[2]


# -- URIs and logging in ----------------------------------------------------------------------


@pytest.mark.parametrize("text, words", [
    ("xenapi:///", "names no host"),
    ("xenapi://h/?transport=ftp", "transport"),
    ("xenapi://h/?no_verify=2", "no_verify"),
    ("xenapi://h/?timeout=0", "timeout"),
    ("xenapi://h/?colour=red", "unknown query parameter 'colour'"),
])
def test_bad_uris_are_refused(text: str, words: str) -> None:
    with pytest.raises(VirtError) as err:
        virtkit.open(text)
    assert err.value.code == C.INVALID_ARG and words in err.value.message


def test_wrong_password_is_auth_failed(xapi: FakeXapi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIRTKIT_PASSWORD", "wrong")
    with pytest.raises(VirtError) as err:
        virtkit.open(uri(xapi))
    assert err.value.code == C.AUTH_FAILED and "'root'" in err.value.message
    assert "session.login_with_password" in xapi.calls


def test_credentials_come_from_the_callback(xapi: FakeXapi,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIRTKIT_PASSWORD")
    asked = []

    def auth(creds: list[dict[str, Any]]) -> list[str]:
        asked.extend(c["type"] for c in creds)
        return [xapi.password if c["type"] == "password" else "root" for c in creds]

    c = virtkit.open(uri(xapi), auth=auth)
    assert c.get_hostname() == "xcp-ng-fake" and asked == ["password"]
    c.close()


def test_nobody_listening_is_no_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIRTKIT_PASSWORD", "x")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(VirtError) as err:
        virtkit.open(f"xenapi://root@127.0.0.1:{port}/?transport=http&timeout=5")
    assert err.value.code == C.NO_CONNECT and f"127.0.0.1:{port}" in err.value.message


def test_host_facts(conn: Any) -> None:
    assert conn.get_hostname() == "xcp-ng-fake"
    assert conn.get_version() == 4_017_005  # software_version xen "4.17.5-fake"
    info = conn.node_info()
    assert (info.cpus, info.mhz, info.memory) == (8, 2400, 64 << 20)
    assert conn.node_free_memory() == 48 << 30
    caps = conn.get_capabilities()
    assert caps.index("<os_type>hvm</os_type>") < caps.index("<os_type>linux</os_type>")


# -- domains ----------------------------------------------------------------------------------


def test_define_writes_xenapi_fields(xapi: FakeXapi, conn: Any) -> None:
    dom = conn.define_xml(xml("web", memory=262144, vcpus=2))
    r = vm_rec(xapi, "web")
    assert r["memory_static_max"] == str(256 << 20) and r["VCPUs_max"] == "2"
    assert r["HVM_boot_policy"] == "BIOS order" and r["power_state"] == "Halted"
    assert r["other_config"]["virtkit_uuid"] == dom.uuid != r["uuid"]
    # a redefinition of a halted VM changes its fields
    conn.define_xml(xml("web", memory=131072, vcpus=1).replace(
        "<name>web</name>", f"<name>web</name><uuid>{dom.uuid}</uuid>"))
    r = vm_rec(xapi, "web")
    assert (r["memory_static_max"], r["VCPUs_max"]) == (str(128 << 20), "1")
    # a change made with xe shows in the XML
    xapi.external(lambda x: x._mod("VM", next(ref for ref, v in x.db["VM"].items()
                                              if v["name_label"] == "web"),
                                   name_description="set with xe"))
    assert "<description>set with xe</description>" in dom.xml_desc()


def test_pv_guest_fields(xapi: FakeXapi, conn: Any) -> None:
    conn.define_xml("<domain type='xen'><name>pv</name><memory>131072</memory><os>"
                    "<type>linux</type><kernel>/boot/vmlinuz</kernel><cmdline>console=hvc0"
                    "</cmdline></os></domain>")
    r = vm_rec(xapi, "pv")
    assert (r["PV_kernel"], r["PV_args"], r["HVM_boot_policy"]) == ("/boot/vmlinuz",
                                                                     "console=hvc0", "")


def test_lifecycle_maps_power_states(xapi: FakeXapi, conn: Any) -> None:
    dom = conn.define_xml(xml("life"))
    steps = [
        (lambda: dom.create(), "Running", (S.RUNNING, 1)),
        (dom.suspend, "Paused", (S.PAUSED, 1)),
        (dom.resume, "Running", (S.RUNNING, 5)),  # UNPAUSED
        (dom.managed_save, "Suspended", (S.SHUTOFF, 5)),
        (lambda: dom.create(), "Running", (S.RUNNING, 3)),  # RESTORED from the suspend image
        (dom.reset, "Running", (S.RUNNING, 3)),
        (dom.shutdown, "Halted", (S.SHUTOFF, 1)),
        (lambda: dom.create(paused=True), "Paused", (S.PAUSED, 1)),
        (dom.destroy, "Halted", (S.SHUTOFF, 2)),
    ]
    for action, power, state in steps:
        action()
        assert vm_rec(xapi, "life")["power_state"] == power
        assert dom.state() == state
    for method in ("Async.VM.start", "VM.pause", "VM.unpause", "Async.VM.suspend",
                   "Async.VM.resume", "VM.hard_reboot", "Async.VM.clean_shutdown",
                   "Async.VM.hard_shutdown", "task.get_status", "task.get_result",
                   "task.destroy"):
        assert method in xapi.calls
    assert not xapi.db.get("task"), "every task is destroyed once waited for"


def test_ids_and_a_second_connection(xapi: FakeXapi, conn: Any) -> None:
    dom = conn.define_xml(xml("ids"))
    dom.create()
    other = virtkit.open(uri(xapi))
    try:
        seen = other.lookup_by_name("ids")
        assert seen.id == dom.id == int(vm_rec(xapi, "ids")["domid"]) > 0
        assert seen.state() == (S.RUNNING, 1), "the reason is shared through other_config"
        assert other.lookup_by_id(dom.id).name == "ids"
    finally:
        other.close()


def test_refusals_name_the_domain(xapi: FakeXapi, conn: Any) -> None:
    dom = conn.define_xml(xml("ref"))
    with pytest.raises(VirtError) as err:
        dom.resume()
    assert err.value.code == C.OPERATION_INVALID and "'ref'" in err.value.message
    with pytest.raises(VirtError) as err:
        conn.lookup_by_name("nope")
    assert err.value.code == C.NO_DOMAIN
    # the template and the control domain are not domains
    assert {d.name for d in conn.list_domains()} == {"ref"}
    # a paused-elsewhere VM: XenAPI's VM_BAD_POWER_STATE becomes OPERATION_INVALID
    dom.create()
    xapi.external(lambda x: x._power(next(r for r, v in x.db["VM"].items()
                                          if v["name_label"] == "ref"), "pause", "Paused"))
    err2 = failure_error(["VM_BAD_POWER_STATE", "OpaqueRef:x", "running", "paused"], "pausing")
    assert err2.code == C.OPERATION_INVALID and "VM_BAD_POWER_STATE" in err2.message
    assert dom.state()[0] == S.PAUSED


def test_transient_domains_vanish(xapi: FakeXapi, conn: Any) -> None:
    dom = conn.create_xml(xml("tmp"))
    assert not dom.is_persistent() and vm_rec(xapi, "tmp")["power_state"] == "Running"
    # a transient domain has no persistent definition to change
    for call in (lambda: dom.set_vcpus(1, config=True),
                 lambda: dom.set_memory(65536, config=True)):
        with pytest.raises(VirtError) as err:
            call()
        assert err.value.code == C.OPERATION_INVALID and "transient domain 'tmp'" in \
            err.value.message
    dom.destroy()
    assert not any(v["name_label"] == "tmp" for v in xapi.db["VM"].values())
    with pytest.raises(VirtError) as err:
        conn.lookup_by_name("tmp")
    assert err.value.code == C.NO_DOMAIN


def test_undefine_running_then_stop_removes_vm(xapi: FakeXapi, conn: Any) -> None:
    dom = conn.define_xml(xml("und"))
    dom.create()
    dom.undefine()
    assert vm_rec(xapi, "und")["other_config"]["virtkit_transient"] == "true"
    dom.shutdown()
    assert not any(v["name_label"] == "und" for v in xapi.db["VM"].values())


def test_autostart_is_auto_poweron(xapi: FakeXapi, conn: Any) -> None:
    dom = conn.define_xml(xml("auto"))
    dom.set_autostart(True)
    assert vm_rec(xapi, "auto")["other_config"]["auto_poweron"] == "true"
    assert dom.autostart is True
    dom.set_autostart(False)
    assert "auto_poweron" not in vm_rec(xapi, "auto")["other_config"]


# -- devices ----------------------------------------------------------------------------------


def test_disks_and_nics_become_vbds_and_vifs(xapi: FakeXapi, conn: Any,
                                             caplog: pytest.LogCaptureFixture) -> None:
    devices = (f"<disk type='volume' device='disk'><source pool='{LOCAL_SR}' "
               "volume='base-disk'/><target dev='xvda' bus='xen'/></disk>"
               "<disk type='file' device='disk'><source file='/tmp/x.img'/>"
               "<target dev='xvdb' bus='xen'/></disk>"
               f"<interface type='network'><mac address='00:16:3e:00:00:01'/>"
               f"<source network='{NET}'/></interface>")
    with caplog.at_level(logging.WARNING, logger="virtkit_xen.xenapi"):
        dom = conn.define_xml(xml("devs", devices))
    r = vm_rec(xapi, "devs")
    vbd = xapi.db["VBD"][r["VBDs"][0]]
    assert len(r["VBDs"]) == 1 and xapi.db["VDI"][vbd["VDI"]]["name_label"] == "base-disk"
    assert vbd["type"] == "Disk" and vbd["mode"] == "RW" and vbd["bootable"] is True
    vif = xapi.db["VIF"][r["VIFs"][0]]
    assert vif["MAC"] == "00:16:3e:00:00:01" and xapi.db["network"][vif["network"]][
        "name_label"] == NET
    assert "disk 'xvdb'" in caplog.text, "the file disk is named as not made on XenAPI"
    assert "/tmp/x.img" in dom.xml_desc(), "and kept in the definition"


def test_vm_made_elsewhere_gets_xml_from_its_fields(xapi: FakeXapi, conn: Any) -> None:
    def make(x: FakeXapi) -> None:
        vm = x._vm({"name_label": "legacy", "HVM_boot_policy": "BIOS order",
                    "HVM_boot_params": {"order": "dc"}, "VCPUs_max": "4",
                    "VCPUs_at_startup": "2", "memory_static_max": str(1 << 30),
                    "memory_dynamic_max": str(512 << 20), "memory_dynamic_min": str(512 << 20),
                    "memory_static_min": str(256 << 20)})
        vdi = next(r for r, v in x.db["VDI"].items() if v["name_label"] == "base-disk")
        net = next(iter(x.db["network"]))
        x._VBD_create({"VM": vm, "VDI": vdi, "userdevice": "0"})
        x._VIF_create({"VM": vm, "network": net, "MAC": "00:16:3e:aa:bb:cc"})

    xapi.external(make)
    dom = conn.lookup_by_name("legacy")
    text = dom.xml_desc()
    assert f"<source pool='{LOCAL_SR}' volume='base-disk'/>" in text
    assert "<mac address='00:16:3e:aa:bb:cc'/>" in text and f"network='{NET}'" in text
    assert "<boot dev='cdrom'/>" in text and "<vcpu placement='static' current='2'>4" in text
    assert dom.info().max_mem == 1 << 20 and dom.uuid == vm_rec(xapi, "legacy")["uuid"]


# -- events -----------------------------------------------------------------------------------


def test_changes_made_elsewhere_become_events(xapi: FakeXapi, conn: Any) -> None:
    q = events(conn)
    dom = conn.define_xml(xml("ev"))
    assert next_event(q, "ev") == (E.DEFINED, 0)
    dom.create()
    assert next_event(q, "ev") == (E.STARTED, StartedDetail.BOOTED)
    xapi.guest_shutdown("ev")  # the guest powers off by itself
    assert next_event(q, "ev") == (E.SHUTDOWN, 0)  # SHUTDOWN/FINISHED, then STOPPED
    assert next_event(q, "ev") == (E.STOPPED, StoppedDetail.SHUTDOWN)
    assert dom.state()[0] == S.SHUTOFF

    def other_client(x: FakeXapi) -> None:
        ref = next(r for r, v in x.db["VM"].items() if v["name_label"] == "ev")
        x._power(ref, "start", "Running")

    xapi.external(other_client)
    assert next_event(q, "ev") == (E.STARTED, StartedDetail.BOOTED)
    xapi.external(lambda x: x._vm({"name_label": "made-by-xe"}))
    assert next_event(q, "made-by-xe") == (E.DEFINED, 0)
    xapi.external(lambda x: x._VM_destroy(next(r for r, v in x.db["VM"].items()
                                               if v["name_label"] == "made-by-xe")))
    assert next_event(q, "made-by-xe") == (E.UNDEFINED, 0)
    assert any(c == "event.from" for c in xapi.calls)


def test_own_changes_are_not_reported_twice(xapi: FakeXapi, conn: Any) -> None:
    q = events(conn)
    dom = conn.define_xml(xml("once"))
    dom.create()
    dom.suspend()
    dom.resume()
    got = [next_event(q, "once") for _ in range(4)]
    assert [g[0] for g in got] == [E.DEFINED, E.STARTED, E.SUSPENDED, E.RESUMED]
    with pytest.raises(queue.Empty):
        while True:
            if q.get(timeout=1.5)[0] == "once":
                break


# -- snapshots --------------------------------------------------------------------------------


def test_snapshots_are_checkpoints_and_snapshots(xapi: FakeXapi, conn: Any) -> None:
    dom = conn.define_xml(xml("snap", f"<disk type='volume' device='disk'><source "
                                      f"pool='{LOCAL_SR}' volume='base-disk'/>"
                                      "<target dev='xvda' bus='xen'/></disk>"))
    dom.create()
    live = dom.snapshot_create_xml("<domainsnapshot><name>live</name>"
                                   "<description>before the upgrade</description>"
                                   "</domainsnapshot>")
    dom.destroy()
    off = dom.snapshot_create_xml("<domainsnapshot><name>off</name></domainsnapshot>")
    snaps = {v["name_label"]: v for v in xapi.db["VM"].values() if v["is_a_snapshot"]}
    assert snaps["live"]["power_state"] == "Suspended", "a running guest: VM.checkpoint"
    assert snaps["off"]["power_state"] == "Halted", "a stopped guest: VM.snapshot"
    assert "Async.VM.checkpoint" in xapi.calls and "Async.VM.snapshot" in xapi.calls
    vdis = [v for v in xapi.db["VDI"].values() if v["is_a_snapshot"]]
    assert len(vdis) == 2, "each snapshot holds a snapshot of the disk"
    assert off.parent() == live and dom.snapshot_current() == off
    assert "<description>before the upgrade</description>" in live.xml_desc()
    live.revert()
    assert dom.state() == (S.RUNNING, 4) and "Async.VM.revert" in xapi.calls  # FROM_SNAPSHOT
    assert dom.snapshot_current() == live
    live.delete(children=True)
    assert not any(v["is_a_snapshot"] for v in xapi.db["VM"].values())
    assert not any(v["is_a_snapshot"] for v in xapi.db["VDI"].values())
    with pytest.raises(VirtError) as err:
        dom.snapshot_create_xml("<domainsnapshot><name>r</name></domainsnapshot>",
                                redefine=True)
    assert err.value.code == C.ARGUMENT_UNSUPPORTED


# -- storage and networks ---------------------------------------------------------------------


def test_srs_are_pools_and_vdis_volumes(xapi: FakeXapi, conn: Any) -> None:
    assert {p.name for p in conn.list_storage_pools()} == {LOCAL_SR, "XCP-ng Tools"}
    pool = conn.storage_pool_lookup_by_name(LOCAL_SR)
    info = pool.info()
    assert (info.capacity, info.allocation) == (500 << 30, 20 << 30)
    assert "<pool type='logical'>" in pool.xml_desc()
    vol = pool.create_xml("<volume><name>data</name><capacity unit='G'>2</capacity></volume>")
    assert vol.info().capacity == 2 << 30 and vol.key in vol.path
    assert {v.name for v in pool.list_volumes()} == {"base-disk", "data"}
    assert conn.storage_vol_lookup_by_key(vol.key).name == "data"
    assert conn.storage_vol_lookup_by_path(vol.path).name == "data"
    vol.resize(3 << 30)
    assert vol.info().capacity == 3 << 30
    for bad, code in (("<volume><name>data</name><capacity>1</capacity></volume>",
                       C.STORAGE_VOL_EXIST),
                      ("<volume><name>q</name><capacity>1</capacity><target><format "
                       "type='qcow2'/></target></volume>", C.CONFIG_UNSUPPORTED)):
        with pytest.raises(VirtError) as err:
            pool.create_xml(bad)
        assert err.value.code == code
    with pytest.raises(VirtError) as err:
        pool.create_xml("<volume><name>../up</name><capacity>1</capacity></volume>")
    assert err.value.code in (C.INVALID_ARG, C.XML_ERROR)
    iso = conn.storage_pool_lookup_by_name("XCP-ng Tools")
    with pytest.raises(VirtError) as err:
        iso.create_xml("<volume><name>x</name><capacity>1</capacity></volume>")
    assert err.value.code == C.OPERATION_UNSUPPORTED, "XenAPI's SR_OPERATION_NOT_SUPPORTED"
    vol.delete()
    assert "data" not in {v["name_label"] for v in xapi.db["VDI"].values()}
    pool.refresh()
    assert "Async.SR.scan" in xapi.calls


def test_networks(xapi: FakeXapi, conn: Any) -> None:
    net = conn.network_lookup_by_name(NET)
    assert net.bridge_name() == "xenbr0" and "<bridge name='xenbr0'/>" in net.xml_desc()
    new = conn.network_define_xml("<network><name>private</name></network>")
    assert new.is_active() and any(n["name_label"] == "private"
                                   for n in xapi.db["network"].values())
    with pytest.raises(VirtError) as err:
        conn.network_define_xml("<network><name>nat</name><forward mode='nat'/></network>")
    assert err.value.code == C.CONFIG_UNSUPPORTED and "'nat'" in err.value.message
    new.undefine()
    assert not any(n["name_label"] == "private" for n in xapi.db["network"].values())


# -- the fake server's own wire shapes (what the driver is tested against) ----------------------


def test_fake_speaks_xenapis_wire_format(xapi: FakeXapi) -> None:
    rpc: Any = xmlrpc.client.ServerProxy(xapi.url)
    bad = rpc.session.login_with_password("root", "wrong", "2.21", "test")
    assert bad == {"Status": "Failure", "ErrorDescription": [
        "SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"]}
    s = rpc.session.login_with_password("root", xapi.password, "2.21", "test")["Value"]
    assert s.startswith("OpaqueRef:")
    assert rpc.VM.get_all(s + "x")["ErrorDescription"][0] == "SESSION_INVALID"
    recs = rpc.VM.get_all_records(s)["Value"]
    dom0 = next(v for v in recs.values() if v["is_control_domain"])
    assert dom0["memory_static_max"] == str(4 << 30), "64-bit ints travel as strings"
    assert dom0["snapshot_of"] == NULL
    tmpl = next(r for r, v in recs.items() if v["is_a_template"])
    task = rpc.Async.VM.start(s, tmpl, False, False)["Value"]
    assert task.startswith("OpaqueRef:")
    got = getattr(rpc.event, "from")(s, ["task"], "", 0.0)["Value"]
    assert set(got) == {"events", "valid_ref_counts", "token"}
    token = got["token"]
    for _ in range(100):
        if rpc.task.get_status(s, task)["Value"] != "pending":
            break
        getattr(rpc.event, "from")(s, ["task"], token, 0.2)
    assert rpc.task.get_status(s, task)["Value"] == "failure"
    assert rpc.task.get_error_info(s, task)["Value"][0] == "VM_IS_TEMPLATE"
    good = rpc.VM.get_by_name_label(s, "Control domain on host: xcp-ng-fake")["Value"]
    snap = rpc.Async.VM.snapshot(s, good[0], "x")["Value"]
    assert snap.startswith("OpaqueRef:")
    assert task_result("<value>OpaqueRef:abc</value>") == "OpaqueRef:abc"
    assert task_result("") == ""


def test_a_read_only_connection_changes_nothing(xapi: FakeXapi) -> None:
    rw = virtkit.open(uri(xapi))
    rw.create_xml(xml("ro-tmp"))
    rw.close()
    ro = virtkit.open(uri(xapi), read_only=True)
    try:
        q = events(ro)
        xapi.guest_shutdown("ro-tmp")  # a transient guest stops: the read-only watcher sees it
        assert next_event(q, "ro-tmp") == (E.SHUTDOWN, 0)
        assert next_event(q, "ro-tmp") == (E.STOPPED, StoppedDetail.SHUTDOWN)
        assert vm_rec(xapi, "ro-tmp")["power_state"] == "Halted", "left for a writer to remove"
        assert "ro-tmp" not in {d.name for d in ro.list_domains()}, "but gone for virtkit"
        with pytest.raises(VirtError) as err:
            ro.define_xml(xml("nope"))
        assert err.value.code == C.OPERATION_DENIED
    finally:
        ro.close()


def test_memory_and_vcpus_live_and_config(xapi: FakeXapi, conn: Any) -> None:
    dom = conn.define_xml(xml("res", memory=262144, vcpus=4).replace(
        "<vcpu>4</vcpu>", "<vcpu current='2'>4</vcpu>"))
    dom.set_vcpus(3, config=True)  # halted: the XML and XenAPI's fields
    assert vm_rec(xapi, "res")["VCPUs_at_startup"] == "3" and dom.vcpus_count(config=True) == 3
    dom.create()
    dom.set_vcpus(1, live=True)
    dom.set_memory(131072, live=True)
    r = vm_rec(xapi, "res")
    assert "VM.set_VCPUs_number_live" in xapi.calls and r["VCPUs_at_startup"] == "1"
    assert r["memory_dynamic_max"] == r["memory_dynamic_min"] == str(128 << 20)
    assert dom.vcpus_count(live=True) == 1 and dom.vcpus_count(config=True) == 3
    assert dom.info().memory == 131072 and "<currentMemory unit='KiB'>262144" in \
        dom.xml_desc(inactive=True), "the definition keeps its own values"
    dom.set_memory(196608, config=True)  # running: the definition only, until the next start
    assert vm_rec(xapi, "res")["memory_dynamic_max"] == str(128 << 20)
    for call, code in ((lambda: dom.set_vcpus(5, live=True), C.INVALID_ARG),
                       (lambda: dom.set_memory(524288, live=True), C.INVALID_ARG),
                       (lambda: dom.set_vcpus(2, live=True, maximum=True), C.OPERATION_INVALID)):
        with pytest.raises(VirtError) as err:
            call()
        assert err.value.code == code and "'res'" in err.value.message
    dom.destroy()
    dom.create()
    r = vm_rec(xapi, "res")
    assert (r["VCPUs_at_startup"], r["memory_dynamic_max"]) == ("3", str(192 << 20))
