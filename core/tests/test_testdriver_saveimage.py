"""The domain XML inside the test driver's save images and managed-save images: read, replaced
(same guest only), run by restore or the next start, with the start state they record; refusals
name the image or the domain and leave the image as it was."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vktest import expect as _expect

import virtkit
from virtkit.drivers.test.node import reset_default_node
from virtkit.sdk.errors import ErrorCode

GRAPHICS = "<graphics type='vnc' port='-1' passwd='s3cret'/>"
DISK = "<disk type='file' device='disk'><source file='/guest/b'/><target dev='vdb'/></disk>"


@pytest.fixture
def conn() -> Iterator[virtkit.Connection]:
    c = virtkit.open("test:///default")  # fresh for each test (conftest)
    yield c
    c.close()


def _with_graphics(dom: virtkit.Domain) -> None:
    """A graphics password in the definition, and a disk only the live definition has."""
    dom.attach_device(GRAPHICS, config=True)
    dom.destroy()
    dom.create()
    dom.attach_device(DISK, live=True)


@pytest.mark.hook("domain_save_image_get_xml", "domain_save_image_define_xml")
def test_save_image_xml_is_read_replaced_and_restored(conn: virtkit.Connection,
                                                      tmp_path: Path) -> None:
    dom = conn.lookup_by_name("test")
    _with_graphics(dom)
    image = str(tmp_path / "test.img")
    dom.save(image)
    xml = conn.save_image_get_xml_desc(image)
    assert "<name>test</name>" in xml and "s3cret" not in xml and " id=" not in xml
    assert "s3cret" in conn.save_image_get_xml_desc(image, security_info=True)
    edited = xml.replace("<on_crash>destroy</on_crash>", "<on_crash>restart</on_crash>")
    conn.save_image_define_xml(image, edited, start_state="paused")
    assert "<on_crash>restart</on_crash>" in conn.save_image_get_xml_desc(image)
    assert "<on_crash>destroy</on_crash>" in dom.xml_desc(inactive=True), "definition stays"
    restored = conn.restore(image)
    assert restored.state() == (3, 1), "the image now says paused"
    assert "<on_crash>restart</on_crash>" in restored.xml_desc()
    restored.resume()
    restored.save(image)
    conn.save_image_define_xml(image, edited)  # no start state: the image's own (running)
    assert conn.restore(image).state()[0] == 1


def test_save_image_refusals_leave_the_image(conn: virtkit.Connection, tmp_path: Path) -> None:
    dom = conn.lookup_by_name("test")
    image = tmp_path / "test.img"
    dom.save(str(image))
    before = image.read_bytes()
    xml = conn.save_image_get_xml_desc(str(image))
    for changed, what in ((xml.replace("<name>test<", "<name>other<"), "name"),
                          (xml.replace("8388608", "4194304"), "maximum memory"),
                          (xml.replace(">2</vcpu>", ">4</vcpu>"), "maximum vcpu count")):
        err = _expect(ErrorCode.OPERATION_INVALID, conn.save_image_define_xml, str(image),
                      changed)
        assert what in err.message and str(image) in err.message, err.message
    _expect(ErrorCode.XML_ERROR, conn.save_image_define_xml, str(image), "<domain>")
    _expect(ErrorCode.INVALID_ARG, conn.save_image_define_xml, str(image), xml, "asleep")
    assert image.read_bytes() == before
    missing = str(tmp_path / "none.img")
    err = _expect(ErrorCode.SYSTEM_ERROR, conn.save_image_get_xml_desc, missing)
    assert missing in err.message
    (tmp_path / "junk").write_text("not an image")
    err = _expect(ErrorCode.OPERATION_INVALID, conn.save_image_define_xml,
                  str(tmp_path / "junk"), xml)
    assert "junk" in err.message
    _expect(ErrorCode.INVALID_ARG, conn.save_image_get_xml_desc, "")


@pytest.mark.hook("domain_managed_save_get_xml", "domain_managed_save_define_xml")
def test_managed_save_xml_is_what_the_next_start_runs(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    err = _expect(ErrorCode.OPERATION_INVALID, dom.managed_save_get_xml_desc)
    assert "'test'" in err.message and "managed save" in err.message
    _with_graphics(dom)
    dom.managed_save()
    xml = dom.managed_save_get_xml_desc()
    assert "vdb" in xml and "s3cret" not in xml, "the live definition was saved"
    assert "vdb" not in dom.xml_desc(inactive=True)
    assert "s3cret" in dom.managed_save_get_xml_desc(security_info=True)
    edited = xml.replace("<on_reboot>restart</on_reboot>", "<on_reboot>destroy</on_reboot>")
    dom.managed_save_define_xml(edited, start_state="paused")
    assert "<on_reboot>destroy</on_reboot>" in dom.managed_save_get_xml_desc()
    err = _expect(ErrorCode.OPERATION_INVALID, dom.managed_save_define_xml,
                  xml.replace("6695eb01", "7795eb01"))
    assert "uuid" in err.message and "'test'" in err.message
    assert "<on_reboot>destroy</on_reboot>" in dom.managed_save_get_xml_desc(), "kept"
    dom.create()
    assert dom.state() == (3, 1), "the image's start state: paused"
    assert "<on_reboot>destroy</on_reboot>" in dom.xml_desc()
    assert "vdb" in dom.xml_desc()
    _expect(ErrorCode.OPERATION_INVALID, dom.managed_save_get_xml_desc)  # consumed
    _expect(ErrorCode.OPERATION_INVALID, dom.managed_save_define_xml, xml)


def test_managed_save_image_start_state_and_force_boot(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    dom.suspend()
    dom.managed_save()
    dom.create()
    assert dom.state() == (3, 1), "a paused guest's image restores paused (as libvirt's)"
    dom.managed_save(start_state="running")
    dom.create()
    assert dom.state() == (1, 3), "running/restored"
    _with_graphics(dom)
    dom.managed_save()
    dom.create(force_boot=True)
    assert "vdb" not in dom.xml_desc(), "a forced boot runs the definition"
    dom.managed_save()
    dom.managed_save_remove()
    _expect(ErrorCode.OPERATION_INVALID, dom.managed_save_get_xml_desc)
    dom.create()
    assert dom.state() == (1, 1)


def test_read_only_connections_read_but_do_not_change(conn: virtkit.Connection,
                                                      tmp_path: Path) -> None:
    dom = conn.lookup_by_name("test")
    image = str(tmp_path / "t.img")
    dom.save(image)
    conn.restore(image)
    dom.managed_save()
    ro = virtkit.open(conn.uri, read_only=True)
    try:
        rdom = ro.lookup_by_name("test")
        assert "<name>test</name>" in ro.save_image_get_xml_desc(image)
        assert "<name>test</name>" in rdom.managed_save_get_xml_desc()
        xml = rdom.managed_save_get_xml_desc()
        for call in (lambda: ro.save_image_get_xml_desc(image, security_info=True),
                     lambda: ro.save_image_define_xml(image, xml),
                     lambda: rdom.managed_save_get_xml_desc(security_info=True),
                     lambda: rdom.managed_save_define_xml(xml)):
            _expect(ErrorCode.OPERATION_DENIED, call)
    finally:
        ro.close()


@settings(max_examples=25, deadline=None)
@given(action=st.sampled_from(["destroy", "restart", "preserve", "rename-restart"]),
       paused=st.booleans())
def test_any_redefinition_round_trips(tmp_path_factory: pytest.TempPathFactory, action: str,
                                      paused: bool) -> None:
    reset_default_node()
    conn = virtkit.open("test:///default")
    try:
        image = str(tmp_path_factory.mktemp("img") / "t.img")
        dom = conn.lookup_by_name("test")
        dom.save(image)
        xml = conn.save_image_get_xml_desc(image)
        new = xml.replace("<on_poweroff>destroy</on_poweroff>",
                          f"<on_poweroff>{action}</on_poweroff>")
        conn.save_image_define_xml(image, new, "paused" if paused else "running")
        assert f"<on_poweroff>{action}</on_poweroff>" in conn.save_image_get_xml_desc(image)
        assert conn.restore(image).state()[0] == (3 if paused else 1)
    finally:
        conn.close()
