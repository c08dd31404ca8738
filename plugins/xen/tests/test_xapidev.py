"""Device hotplug of ``xenapi://`` against the FAKE XenAPI server of ``virtkit_xen.fakexapi``
(labelled: no XCP-ng or XenServer host was available). The fake keeps VBD and VIF records with
``currently_attached`` and XenAPI's rules (plug and unplug only on a Running VM, no plug of a
plugged device, no destroy of a plugged one, one device per ``userdevice``); these tests check
the calls the driver makes, live and config, on running and halted VMs, and its refusals."""

from __future__ import annotations

import queue
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_xenapi import LOCAL_SR, NET, vm_rec, xml

from virtkit.sdk.errors import ErrorCode as C
from virtkit.sdk.errors import VirtError
from virtkit_xen.fakexapi import NULL, FakeXapi
from virtkit_xen.xapidev import userdevice

MAC = "00:16:3e:12:34:56"




def vdisk(dev: str, volume: str = "base-disk", pool: str = LOCAL_SR, device: str = "disk",
          alias: str = "") -> str:
    a = f"<alias name='{alias}'/>" if alias else ""
    return (f"<disk type='volume' device='{device}'><source pool='{pool}' volume='{volume}'/>"
            f"<target dev='{dev}' bus='xen'/>{a}</disk>")


def nic(mac: str = MAC, network: str = NET) -> str:
    return (f"<interface type='network'><mac address='{mac}'/>"
            f"<source network='{network}'/></interface>")


def vbds(x: FakeXapi, name: str) -> dict[str, dict[str, Any]]:
    """The VM's VBDs by their userdevice."""
    with x.lock:
        return {str(x.db["VBD"][b]["userdevice"]): dict(x.db["VBD"][b])
                for b in vm_rec(x, name)["VBDs"]}


def vifs(x: FakeXapi, name: str) -> dict[str, dict[str, Any]]:
    with x.lock:
        return {str(x.db["VIF"][f]["MAC"]): dict(x.db["VIF"][f])
                for f in vm_rec(x, name)["VIFs"]}


def targets(dom: Any, inactive: bool = False) -> list[str]:
    from lxml import etree

    root = etree.fromstring(dom.xml_desc(inactive=inactive).encode())
    return [str(t.get("dev")) for t in root.iterfind("devices/disk/target")]


def macs(dom: Any, inactive: bool = False) -> list[str]:
    from lxml import etree

    root = etree.fromstring(dom.xml_desc(inactive=inactive).encode())
    return [str(m.get("address")) for m in root.iterfind("devices/interface/mac")]


def device_events(c: Any) -> queue.Queue[tuple[str, str, str]]:
    q: queue.Queue[tuple[str, str, str]] = queue.Queue()
    for kind in ("domain-device-added", "domain-device-removed"):
        c.event_register(kind, lambda ev, k=kind: q.put((k, ev.obj.name, ev.device)))
    return q


def calls_since(x: FakeXapi, n: int, prefixes: tuple[str, ...] = ("VBD.", "VIF.", "Async.VBD",
                                                                      "Async.VIF")) -> list[str]:
    return [c for c in x.calls[n:] if c.startswith(prefixes) and ".get_" not in c]


def refused(code: C, fn: Any, *args: Any, **kw: Any) -> str:
    with pytest.raises(VirtError) as err:
        fn(*args, **kw)
    assert err.value.code == code, err.value.message
    return err.value.message


@pytest.mark.parametrize("target, number", [("xvda", 0), ("xvdb", 1), ("hdc", 2), ("sdz", 25),
                                            ("xvdaa", 26), ("vdb", 1), ("fda", None),
                                            ("xvd1", None)])
def test_userdevice_of_a_target(target: str, number: int | None) -> None:
    assert userdevice(target) == number


def test_disk_hotplug_on_a_running_vm(xapi: FakeXapi, conn: Any) -> None:
    dom = conn.define_xml(xml("hot"))
    dom.create()
    q = device_events(conn)
    n = len(xapi.calls)
    dom.attach_device(vdisk("xvdb"), live=True, config=True)
    assert calls_since(xapi, n) == ["VBD.create", "Async.VBD.plug"]
    b = vbds(xapi, "hot")["1"]
    assert (b["mode"], b["type"], b["bootable"], b["empty"], b["currently_attached"]) == (
        "RW", "Disk", False, False, True)
    assert xapi.db["VDI"][b["VDI"]]["name_label"] == "base-disk"
    assert "xvdb" in targets(dom) and "xvdb" in targets(dom, inactive=True)
    assert q.get(timeout=5) == ("domain-device-added", "hot", "xvdb")
    # a cdrom, live only: read-only CD, gone at the next start
    dom.attach_device(vdisk("xvdc", "guest-tools.iso", "XCP-ng Tools", "cdrom"), live=True)
    c = vbds(xapi, "hot")["2"]
    assert (c["mode"], c["type"], c["currently_attached"]) == ("RO", "CD", True)
    assert "xvdc" in targets(dom) and "xvdc" not in targets(dom, inactive=True)
    assert q.get(timeout=5) == ("domain-device-added", "hot", "xvdc")
    n = len(xapi.calls)
    dom.detach_device(vdisk("xvdb"), live=True, config=True)
    assert calls_since(xapi, n) == ["Async.VBD.unplug", "VBD.destroy"]
    assert "1" not in vbds(xapi, "hot") and "xvdb" not in targets(dom, inactive=True)
    assert q.get(timeout=5) == ("domain-device-removed", "hot", "xvdb")
    dom.destroy()
    dom.create()
    assert "2" not in vbds(xapi, "hot"), "the live-only VBD was destroyed before the start"
    assert "xvdc" not in targets(dom)


def test_live_only_detach_keeps_the_config(xapi: FakeXapi, conn: Any) -> None:
    dom = conn.define_xml(xml("keep", vdisk("xvda")))
    dom.create()
    assert vbds(xapi, "keep")["0"]["currently_attached"]
    n = len(xapi.calls)
    dom.detach_device(vdisk("xvda"), live=True)
    assert calls_since(xapi, n) == ["Async.VBD.unplug"]
    assert not vbds(xapi, "keep")["0"]["currently_attached"]
    assert "xvda" not in targets(dom) and "xvda" in targets(dom, inactive=True)
    dom.destroy()
    dom.create()
    assert vbds(xapi, "keep")["0"]["currently_attached"], "plugged again by VM.start"
    assert "xvda" in targets(dom)


def test_config_only_on_a_running_vm(xapi: FakeXapi, conn: Any) -> None:
    dom = conn.define_xml(xml("cfg", vdisk("xvda")))
    dom.create()
    n = len(xapi.calls)
    dom.attach_device(vdisk("xvdb"), config=True)
    assert calls_since(xapi, n) == ["VBD.create"], "not plugged: it joins at the next start"
    assert not vbds(xapi, "cfg")["1"]["currently_attached"]
    assert "xvdb" not in targets(dom) and "xvdb" in targets(dom, inactive=True)
    dom.detach_device(vdisk("xvda"), config=True)  # the guest keeps it until it stops
    assert vbds(xapi, "cfg")["0"]["other_config"]["virtkit_scope"] == "live"
    assert "xvda" in targets(dom) and "xvda" not in targets(dom, inactive=True)
    dom.destroy()
    dom.create()
    assert sorted(vbds(xapi, "cfg")) == ["1"] and targets(dom) == ["xvdb"]


def test_halted_vm_config_is_the_default(xapi: FakeXapi, conn: Any) -> None:
    dom = conn.define_xml(xml("cold"))
    q = device_events(conn)
    n = len(xapi.calls)
    dom.attach_device(vdisk("xvdb"))  # CURRENT on a halted VM: config
    dom.attach_device(nic())
    assert calls_since(xapi, n) == ["VBD.create", "VIF.create"]
    assert targets(dom, inactive=True) == ["xvdb"] and macs(dom, inactive=True) == [MAC]
    f = vifs(xapi, "cold")[MAC]
    assert (f["device"], f["MTU"], f["currently_attached"]) == ("0", "1500", False)
    assert xapi.db["network"][f["network"]]["name_label"] == NET
    dom.create()
    assert vbds(xapi, "cold")["1"]["currently_attached"] and vifs(xapi, "cold")[MAC][
        "currently_attached"]
    dom.destroy()
    n = len(xapi.calls)
    dom.detach_device(nic())
    dom.detach_device(vdisk("xvdb"))
    assert calls_since(xapi, n) == ["VIF.destroy", "VBD.destroy"]
    assert not vm_rec(xapi, "cold")["VBDs"] and not vm_rec(xapi, "cold")["VIFs"]
    with pytest.raises(queue.Empty):
        q.get(timeout=0.3)  # config changes emit no device events


def test_interface_hotplug(xapi: FakeXapi, conn: Any) -> None:
    dom = conn.define_xml(xml("net", nic("00:16:3e:00:00:01")))
    dom.create()
    q = device_events(conn)
    n = len(xapi.calls)
    dom.attach_device("<interface type='bridge'><source bridge='xenbr0'/>"
                      "<mtu size='9000'/></interface>", live=True)
    assert calls_since(xapi, n) == ["VIF.create", "Async.VIF.plug"]
    new = [m for m in macs(dom) if m != "00:16:3e:00:00:01"]
    assert len(new) == 1 and new[0].startswith("00:16:3e:"), "a Xen MAC was made for it"
    f = vifs(xapi, "net")[new[0]]
    assert (f["device"], f["MTU"], f["currently_attached"]) == ("1", "9000", True)
    assert q.get(timeout=5) == ("domain-device-added", "net", new[0])
    dom.detach_device(nic(new[0]), live=True)
    assert new[0] not in vifs(xapi, "net"), "live only: the VIF goes with it"
    assert q.get(timeout=5) == ("domain-device-removed", "net", new[0])
    dom.detach_device(nic("00:16:3e:00:00:01"))  # CURRENT on a running VM: live
    assert not vifs(xapi, "net")["00:16:3e:00:00:01"]["currently_attached"]
    assert "00:16:3e:00:00:01" in macs(dom, inactive=True)


def test_refusals_name_the_object_and_keep_everything(xapi: FakeXapi, conn: Any) -> None:
    dom = conn.define_xml(xml("ref", vdisk("xvda") + nic()))
    before = (dom.xml_desc(inactive=True), vbds(xapi, "ref"), vifs(xapi, "ref"))
    cases: list[tuple[C, Any, tuple[str, ...]]] = [
        (C.OPERATION_INVALID, lambda: dom.attach_device(vdisk("xvdb"), live=True),
         ("'ref'", "not running")),
        (C.OPERATION_FAILED, lambda: dom.attach_device(vdisk("xvda"), config=True),
         ("disk 'xvda'", "'ref'")),
        (C.OPERATION_FAILED, lambda: dom.attach_device(nic()), (MAC, "'ref'")),
        (C.CONFIG_UNSUPPORTED, lambda: dom.attach_device(
            "<disk type='file' device='disk'><source file='/tmp/b.img'/>"
            "<target dev='xvdb'/></disk>"), ("disk 'xvdb'", "'ref'", "file")),
        (C.CONFIG_UNSUPPORTED, lambda: dom.attach_device(vdisk("fda")), ("'fda'",)),
        (C.CONFIG_UNSUPPORTED, lambda: dom.attach_device("<interface type='user'/>"),
         ("interface", "'ref'")),
        (C.NO_NETWORK, lambda: dom.attach_device(nic("00:16:3e:00:00:09", "default")),
         ("'default'", "'ref'")),
        (C.NO_STORAGE_VOL, lambda: dom.attach_device(vdisk("xvdb", "nope")), ("'nope'",)),
        (C.CONFIG_UNSUPPORTED, lambda: dom.attach_device("<graphics type='vnc'/>"),
         ("<graphics>", "xenapi")),
        (C.XML_ERROR, lambda: dom.attach_device("<blender/>"), ("<blender>",)),
        (C.DEVICE_MISSING, lambda: dom.detach_device(vdisk("xvdq")), ("disk 'xvdq'", "'ref'")),
        (C.DEVICE_MISSING, lambda: dom.detach_device(nic("00:16:3e:00:00:09")),
         ("00:16:3e:00:00:09", "'ref'")),
        (C.DEVICE_MISSING, lambda: dom.detach_device_alias("ua-none"), ("'ua-none'", "'ref'")),
        (C.OPERATION_INVALID, lambda: dom.detach_device(vdisk("xvda"), live=True),
         ("not running",)),
        (C.XML_ERROR, lambda: dom.attach_device("<disk"), ()),
    ]
    for code, call, words in cases:
        message = refused(code, call)
        for w in words:
            assert w in message, (message, w)
    assert (dom.xml_desc(inactive=True), vbds(xapi, "ref"), vifs(xapi, "ref")) == before


def test_a_refused_plug_leaves_no_vbd(xapi: FakeXapi, conn: Any) -> None:
    """XenAPI refuses the plug (the VM paused between the check and the call): the VBD made
    for it is destroyed and the definitions stay."""
    dom = conn.define_xml(xml("race"))
    dom.create()
    dom.suspend()  # Paused: XenAPI's VBD.plug wants Running
    xapi.external(lambda x: None)
    before = dom.xml_desc()
    message = refused(C.OPERATION_INVALID, dom.attach_device, vdisk("xvdb"), live=True)
    assert "VM_BAD_POWER_STATE" in message and "disk 'xvdb'" in message and "'race'" in message
    assert vbds(xapi, "race") == {} and dom.xml_desc() == before


def test_transient_domain_has_no_config(xapi: FakeXapi, conn: Any) -> None:
    dom = conn.create_xml(xml("tr"))
    message = refused(C.OPERATION_INVALID, dom.attach_device, vdisk("xvdb"), config=True)
    assert "transient" in message and "'tr'" in message
    dom.attach_device(vdisk("xvdb"))  # CURRENT: live
    assert vbds(xapi, "tr")["1"]["currently_attached"]


def test_detach_by_alias(xapi: FakeXapi, conn: Any) -> None:
    dom = conn.define_xml(xml("al"))
    dom.attach_device(vdisk("xvdb", alias="ua-data"), config=True)
    dom.create()
    dom.detach_device_alias("ua-data", live=True)
    assert not vbds(xapi, "al")["1"]["currently_attached"] and targets(dom) == []
    message = refused(C.DEVICE_MISSING, dom.detach_device_alias, "ua-data", live=True,
                      config=True)
    assert "'ua-data'" in message and "live definition of domain 'al'" in message
    assert targets(dom, inactive=True) == ["xvdb"], "refused: nothing changed"
    dom.detach_device_alias("ua-data", config=True)
    assert vbds(xapi, "al") == {} and targets(dom, inactive=True) == []
    refused(C.DEVICE_MISSING, dom.detach_device_alias, "ua-data")


def test_cdrom_media_change(xapi: FakeXapi, conn: Any) -> None:
    iso = "XCP-ng Tools"

    def make_iso(x: FakeXapi) -> None:
        sr = next(r for r, v in x.db["SR"].items() if v["name_label"] == iso)
        x._vdi(sr, "other.iso", 1 << 20, read_only=True)

    xapi.external(make_iso)
    dom = conn.define_xml(xml("cd", vdisk("xvdd", "guest-tools.iso", iso, "cdrom")))
    dom.update_device(vdisk("xvdd", "other.iso", iso, "cdrom"))  # halted: VBD made afresh
    assert xapi.db["VDI"][vbds(xapi, "cd")["3"]["VDI"]]["name_label"] == "other.iso"
    dom.create()
    n = len(xapi.calls)
    dom.update_device(vdisk("xvdd", "guest-tools.iso", iso, "cdrom"), live=True, config=True)
    assert calls_since(xapi, n) == ["Async.VBD.eject", "Async.VBD.insert"]
    assert "guest-tools.iso" in dom.xml_desc() and "guest-tools.iso" in dom.xml_desc(
        inactive=True)
    b = vbds(xapi, "cd")["3"]
    assert xapi.db["VDI"][b["VDI"]]["name_label"] == "guest-tools.iso" and b[
        "currently_attached"]
    n = len(xapi.calls)
    empty = "<disk type='volume' device='cdrom'><target dev='xvdd' bus='xen'/></disk>"
    dom.update_device(empty, live=True, config=True)  # ejected, live and config
    assert calls_since(xapi, n) == ["Async.VBD.eject"]
    assert vbds(xapi, "cd")["3"]["empty"] and "guest-tools.iso" not in dom.xml_desc()
    dom.update_device(vdisk("xvdd", "other.iso", iso, "cdrom"), live=True, config=True)
    assert calls_since(xapi, n)[1:] == ["Async.VBD.insert"], "an empty drive: no eject"
    dom.destroy()
    dom.update_device(empty)  # halted: an empty drive made afresh
    b = vbds(xapi, "cd")["3"]
    assert (b["empty"], b["VDI"], b["type"]) == (True, NULL, "CD")
    dom.create()
    refused(C.OPERATION_UNSUPPORTED, dom.update_device,
            vdisk("xvdd", "other.iso", iso, "cdrom"), config=True)
    refused(C.DEVICE_MISSING, dom.update_device, vdisk("xvde", "other.iso", iso, "cdrom"))
    refused(C.OPERATION_UNSUPPORTED, dom.update_device, nic())
    dom.attach_device(vdisk("xvdb"), live=True, config=True)
    n = len(xapi.calls)
    dom.update_device(vdisk("xvdb"), live=True, config=True)  # as it is: nothing to do
    assert calls_since(xapi, n) == []
    assert "disk 'xvdb'" in refused(C.OPERATION_UNSUPPORTED, dom.update_device,
                                    vdisk("xvdb", "guest-tools.iso", iso), live=True)


def test_fake_hotplug_rules(xapi: FakeXapi) -> None:
    """The fake's own VBD/VIF rules, on the wire."""
    import xmlrpc.client

    s = xmlrpc.client.ServerProxy(xapi.url)
    sid = s.session.login_with_password("root", xapi.password, "2.21", "t")["Value"]

    def call(method: str, *args: Any) -> Any:
        fn: Any = s
        for part in method.split("."):
            fn = getattr(fn, part)
        return fn(sid, *args)

    vm = xapi.external(lambda x: x._vm({"name_label": "wire"}))
    vdi = next(r for r, v in xapi.db["VDI"].items() if v["name_label"] == "base-disk")
    vbd = call("VBD.create", {"VM": vm, "VDI": vdi, "userdevice": "1", "mode": "RW",
                              "type": "Disk", "bootable": False, "empty": False,
                              "other_config": {}})["Value"]
    assert call("VBD.plug", vbd)["ErrorDescription"][:3] == [
        "VM_BAD_POWER_STATE", vm, "running"]
    assert call("VBD.create", {"VM": vm, "VDI": vdi, "userdevice": "1"})[
        "ErrorDescription"] == ["DEVICE_ALREADY_EXISTS", "1"]
    call("VM.start", vm, False, False)
    assert call("VBD.get_currently_attached", vbd)["Value"] is True
    assert call("VBD.plug", vbd)["ErrorDescription"] == ["DEVICE_ALREADY_ATTACHED", vbd]
    assert call("VBD.destroy", vbd)["ErrorDescription"][0] == "OPERATION_NOT_ALLOWED"
    assert call("VBD.unplug", vbd)["Status"] == "Success"
    assert call("VBD.unplug", vbd)["ErrorDescription"] == ["DEVICE_ALREADY_DETACHED", vbd]
    assert call("VBD.destroy", vbd)["Status"] == "Success"


NIC2 = "00:16:3e:00:00:02"


def _doc(dev: str) -> str:
    return nic(dev) if ":" in dev else vdisk(dev)


def _state(x: FakeXapi, dom: Any, name: str) -> tuple[set[str], set[str], set[str]]:
    """(the live definition's disks and MACs, the persistent one's, what XenAPI has plugged)."""
    plugged = {f"xvd{chr(97 + int(u))}" for u, b in vbds(x, name).items()
               if b["currently_attached"]}
    plugged |= {m for m, f in vifs(x, name).items() if f["currently_attached"]}
    return (set(targets(dom)) | set(macs(dom)),
            set(targets(dom, inactive=True)) | set(macs(dom, inactive=True)), plugged)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from(["attach", "detach"]),
                                st.sampled_from(["xvdb", "xvdc", MAC, NIC2]),
                                st.sampled_from([(True, False), (False, True), (True, True)])),
                      max_size=8))
def test_any_sequence_keeps_records_and_definitions_in_step(xapi: FakeXapi, conn: Any,
                                                            steps: list[Any]) -> None:
    """Whatever attaches and detaches of disks and interfaces run on a running VM, live and
    config, the VBDs and VIFs XenAPI has plugged are the live definition's devices and those
    plugged at the next start are the persistent definition's; a refused step changes
    neither."""
    name = f"h{len(xapi.calls)}"
    dom = conn.define_xml(xml(name))
    dom.create()
    live_m: set[str] = set()
    cfg_m: set[str] = set()
    for op, dev, (live, config) in steps:
        have = [s for s, on in ((live_m, live), (cfg_m, config)) if on]
        ok = all((dev not in s) if op == "attach" else (dev in s) for s in have)
        fn = dom.attach_device if op == "attach" else dom.detach_device
        if ok:
            fn(_doc(dev), live=live, config=config)
            for s in have:
                (s.add if op == "attach" else s.discard)(dev)
        else:
            refused(C.OPERATION_FAILED if op == "attach" else C.DEVICE_MISSING, fn,
                    _doc(dev), live=live, config=config)
        assert _state(xapi, dom, name) == (live_m, cfg_m, live_m)
    dom.destroy()
    dom.create()
    assert _state(xapi, dom, name) == (cfg_m, cfg_m, cfg_m)
    dom.destroy()
    dom.undefine()
