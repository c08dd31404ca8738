"""The device model probe of ``xen:///system``: the declared graphics capability and the
refusal of a ``<graphics>`` guest and of an HVM guest on a dom0 without the device model.

LABELLED: no Xen runs here. The xl side is the stand-in dom0 of test_xlsnap.py; its answer to
the probe (``test -x /usr/libexec/xen-qemu-system-i386``) is set by each test. The probe's
place in the real sequence (after ``xl info``, before the first ``xl list -v``) is checked by
the replay tests, whose transcripts carry it as a labelled hand-added entry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_xlsnap import StandInDom0

import virtkit
from virtkit.sdk.errors import ErrorCode as C
from virtkit.sdk.errors import VirtError
from virtkit.sdk.states import DomainState as S
from virtkit_xen.driver import XenDriver

PROBE = ["test", "-x", "/usr/libexec/xen-qemu-system-i386"]


def guest(name: str, graphics: str = "vnc") -> str:
    dev = f"<graphics type='{graphics}' port='-1' autoport='yes'/>" if graphics else ""
    return (f"<domain type='xen'><name>{name}</name><memory>131072</memory><os>"
            f"<type>linux</type><kernel>/boot/vmlinuz</kernel></os><devices>{dev}</devices>"
            "</domain>")


@pytest.fixture
def dom0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StandInDom0]:
    monkeypatch.setenv("VIRTKIT_STATE_ROOT", str(tmp_path / "state"))
    monkeypatch.setenv("VIRTKIT_XEN_POLL", "0")
    d = StandInDom0()
    monkeypatch.setattr("virtkit_xen.driver.runner_from_spec", lambda spec: d)
    yield d


def hvm_guest(name: str) -> str:
    return (f"<domain type='xen'><name>{name}</name><memory>131072</memory><os>"
            "<type>hvm</type><boot dev='hd'/></os></domain>")


def creates(d: StandInDom0) -> list[list[str]]:
    return [a for a in d.log if a[:2] == ["xl", "create"]]


def test_the_probe_runs_once_at_open_after_xl_info(dom0: StandInDom0) -> None:
    conn: Any = virtkit.open("xen:///system")
    try:
        assert dom0.log[:3] == [["xl", "info"], PROBE, ["xl", "list", "-v"]]
        assert dom0.log.count(PROBE) == 1
    finally:
        conn.close()


def test_without_a_device_model_no_graphics_are_declared(dom0: StandInDom0) -> None:
    conn: Any = virtkit.open("xen:///system")
    try:
        assert conn.capabilities["graphics"] == ()
        # (what the conformance suite reads as its graphics requirements)
        assert not conn.capabilities.get("graphics")
        assert conn.capabilities.get("hotplug"), "the other declared flags are kept"
        assert XenDriver.capabilities["graphics"] == ("vnc", "sdl"), "the class is untouched"
    finally:
        conn.close()


def test_with_a_device_model_vnc_and_sdl_are_declared_and_start(dom0: StandInDom0) -> None:
    dom0.device_model = True
    conn: Any = virtkit.open("xen:///system")
    try:
        assert {"vnc", "sdl"} <= set(conn.capabilities["graphics"])
        dom = conn.define_xml(guest("fb"))
        dom.create()
        assert dom.state()[0] == S.RUNNING and len(creates(dom0)) == 1
        dom.destroy()
        dom.undefine()
    finally:
        conn.close()


@pytest.mark.parametrize("kind", ["vnc", "sdl"])
def test_define_and_create_of_a_graphics_guest_are_refused_naming_it(dom0: StandInDom0,
                                                                     kind: str) -> None:
    conn: Any = virtkit.open("xen:///system")
    try:
        for call in (conn.define_xml, conn.create_xml):
            with pytest.raises(VirtError) as info:
                call(guest("fb", kind))
            e = info.value
            assert e.code == C.CONFIG_UNSUPPORTED
            assert "domain 'fb'" in e.message and f"<graphics type='{kind}'>" in e.message
            assert "/usr/libexec/xen-qemu-system-i386" in e.message
        assert conn.list_domains() == [], "nothing stored"
        assert creates(dom0) == [], "xl was not asked"
        # a guest without a framebuffer runs, and graphics xl cannot express are only dropped
        for name, g in (("plain", ""), ("spicy", "spice")):
            dom = conn.create_xml(guest(name, g))
            assert dom.state()[0] == S.RUNNING
            dom.destroy()
    finally:
        conn.close()


@pytest.mark.parametrize(("xml", "needs"), [(guest("fb"), "<graphics type='vnc'>"),
                                            (hvm_guest("fb"), "HVM")])
def test_a_guest_defined_before_cannot_start_where_dom0_has_none(
        dom0: StandInDom0, xml: str, needs: str) -> None:
    dom0.device_model = True
    conn: Any = virtkit.open("xen:///system")
    conn.define_xml(xml)
    conn.close()
    dom0.device_model = False  # the same state store, a dom0 without the device model
    conn = virtkit.open("xen:///system")
    try:
        dom = conn.lookup_by_name("fb")
        with pytest.raises(VirtError) as info:
            dom.create()
        e = info.value
        assert e.code == C.CONFIG_UNSUPPORTED and "domain 'fb'" in e.message
        assert needs in e.message
        assert dom.state()[0] == S.SHUTOFF and creates(dom0) == []
        dom.undefine()
    finally:
        conn.close()


def test_define_and_create_of_an_hvm_guest_are_refused_naming_it(dom0: StandInDom0) -> None:
    conn: Any = virtkit.open("xen:///system")
    try:
        for call in (conn.define_xml, conn.create_xml):
            with pytest.raises(VirtError) as info:
                call(hvm_guest("win"))
            e = info.value
            assert e.code == C.CONFIG_UNSUPPORTED
            assert "domain 'win'" in e.message and "HVM" in e.message
            assert "/usr/libexec/xen-qemu-system-i386" in e.message
        assert conn.list_domains() == [], "nothing stored"
        assert creates(dom0) == [], "xl was not asked"
    finally:
        conn.close()


def test_an_hvm_guest_runs_where_dom0_has_the_device_model(dom0: StandInDom0) -> None:
    dom0.device_model = True
    conn: Any = virtkit.open("xen:///system")
    try:
        dom = conn.define_xml(hvm_guest("win"))
        dom.create()
        assert dom.state()[0] == S.RUNNING and len(creates(dom0)) == 1
        dom.destroy()
        dom.undefine()
    finally:
        conn.close()
