"""Group ``definition``: what goes in through define comes back, with defaults filled."""

from __future__ import annotations

import uuid as uuidlib
from typing import ClassVar

import pytest
from lxml import etree

from virtkit.sdk.errors import ErrorCode as C
from virtkit.sdk.errors import VirtError
from virtkit.sdk.states import DefinedDetail, DomainState, EventType, UndefinedDetail

from ..kit import Kit, LogCapture, expect_error, nic_xml

DEFINE = ("domain_define_xml", "domain_get_xml", "domain_undefine")


def _kib(el: etree._Element | None) -> int:
    assert el is not None and el.text is not None
    unit = (el.get("unit") or "KiB").lower()
    factor = {"b": 1 / 1024, "bytes": 1 / 1024, "k": 1, "kib": 1, "kb": 1000 / 1024, "m": 1024,
              "mib": 1024, "g": 1024**2, "gib": 1024**2}[unit]
    return int(int(el.text) * factor)


#: One device of each kind libvirt's domain XML knows: (element, the device's XML, an XPath
#: that finds it again in the domain's XML). ``{dir}`` is the test's work directory.
DEVICES: tuple[tuple[str, str, str], ...] = (
    ("disk", "<disk type='file' device='disk'><source file='{dir}/d.img'/>"
             "<target dev='vdb' bus='virtio'/></disk>", "devices/disk/target[@dev='vdb']"),
    ("interface", nic_xml("52:54:00:7c:fe:01"),
     "devices/interface/mac[@address='52:54:00:7c:fe:01']"),
    ("graphics", "<graphics type='vnc' port='-1' autoport='yes'/>",
     "devices/graphics[@type='vnc']"),
    ("serial", "<serial type='pty'><target port='0'/></serial>", "devices/serial"),
    ("console", "<console type='pty'><target type='serial' port='0'/></console>",
     "devices/console"),
    ("input", "<input type='tablet' bus='usb'/>", "devices/input[@type='tablet']"),
    ("video", "<video><model type='vga'/></video>", "devices/video/model[@type='vga']"),
    ("sound", "<sound model='ich6'/>", "devices/sound[@model='ich6']"),
    ("rng", "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>",
     "devices/rng[@model='virtio']"),
    ("watchdog", "<watchdog model='i6300esb' action='reset'/>",
     "devices/watchdog[@model='i6300esb']"),
    ("memballoon", "<memballoon model='virtio'/>", "devices/memballoon[@model='virtio']"),
    ("channel", "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/>"
                "</channel>", "devices/channel/target[@name='org.qemu.guest_agent.0']"),
    ("controller", "<controller type='usb' index='0'/>", "devices/controller[@type='usb']"),
    ("filesystem", "<filesystem type='mount'><source dir='{dir}'/><target dir='vkshare'/>"
                   "</filesystem>", "devices/filesystem/target[@dir='vkshare']"),
    ("tpm", "<tpm model='tpm-tis'><backend type='emulator'/></tpm>", "devices/tpm"),
    ("panic", "<panic model='isa'/>", "devices/panic"),
    ("hostdev", "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1d6b'/>"
                "<product id='0x0002'/></source></hostdev>", "devices/hostdev"),
    ("redirdev", "<redirdev bus='usb' type='spicevmc'/>", "devices/redirdev"),
    ("smartcard", "<smartcard mode='host'/>", "devices/smartcard"),
    ("hub", "<hub type='usb'/>", "devices/hub"),
    ("vsock", "<vsock model='virtio'><cid auto='yes'/></vsock>", "devices/vsock"),
)

#: Codes a driver may refuse a device it does not model with (naming the device).
REFUSED = (C.CONFIG_UNSUPPORTED, C.XML_ERROR, C.XML_DETAIL, C.XML_INVALID_SCHEMA,
           C.OPERATION_UNSUPPORTED, C.ARGUMENT_UNSUPPORTED)


class TestDefinition:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("definition"), pytest.mark.ops(*DEFINE),
                  pytest.mark.requires("persistent_domains")]

    def test_round_trip(self, vk: Kit) -> None:
        name, uuid = vk.name(), vk.new_uuid()
        dom = vk.define(name, uuid=uuid, memory_mib=192, current_mib=160, vcpus=1, max_vcpus=2,
                        description="vkcert round trip")
        assert (dom.name, dom.uuid) == (name, uuid)
        root = etree.fromstring(dom.xml_desc(inactive=True).encode())
        assert root.tag == "domain" and root.get("type") == vk.domain_type
        assert root.findtext("name") == name and root.findtext("uuid") == uuid
        assert root.findtext("description") == "vkcert round trip"
        assert _kib(root.find("memory")) == 192 * 1024
        assert _kib(root.find("currentMemory")) == 160 * 1024
        vcpu = root.find("vcpu")
        assert vcpu is not None and vcpu.text == "2" and vcpu.get("current") == "1"
        assert root.findtext("os/type") == vk.os_type, "the OS type from the capabilities"

    def test_defaults_filled(self, vk: Kit) -> None:
        dom = vk.define(memory_mib=128)
        uuidlib.UUID(dom.uuid)  # a valid, generated uuid
        root = etree.fromstring(dom.xml_desc(inactive=True).encode())
        assert root.findtext("uuid") == dom.uuid
        assert vk.conn.lookup_by_uuid(dom.uuid).name == dom.name
        assert _kib(root.find("currentMemory")) == 128 * 1024, "currentMemory defaults to memory"
        assert root.find("vcpu") is not None and root.findtext("vcpu") == "1"

    def test_round_trip_is_stable(self, vk: Kit) -> None:
        dom = vk.define(memory_mib=256, vcpus=2)
        first = dom.xml_desc(inactive=True)
        again = vk.conn.define_xml(first)
        assert again.uuid == dom.uuid
        assert again.xml_desc(inactive=True) == first, "defining what came back changes nothing"

    def test_new_definition_state(self, vk: Kit) -> None:
        rec = vk.recorder()
        dom = vk.define()
        assert dom.state()[0] == DomainState.SHUTOFF
        assert dom.is_persistent() and not dom.is_active() and dom.id == -1
        info = dom.info()
        assert info.state == DomainState.SHUTOFF and info.max_mem == 128 * 1024
        assert info.nr_virt_cpu == 1
        assert (EventType.DEFINED, DefinedDetail.ADDED) in rec.wait_for(1)

    def test_redefine_updates(self, vk: Kit) -> None:
        name, uuid = vk.name(), vk.new_uuid()
        dom = vk.define(name, uuid=uuid, memory_mib=128)
        rec = vk.recorder(dom)
        vk.conn.define_xml(vk.xml(name, uuid=uuid, memory_mib=256))
        assert dom.info().max_mem == 256 * 1024
        assert [s.ref.name for s in vk.conn.list_domain_summaries()].count(name) == 1
        assert rec.wait_for(1) == [(EventType.DEFINED, DefinedDetail.UPDATED)]

    def test_name_and_uuid_clashes(self, vk: Kit) -> None:
        dom = vk.define()
        expect_error(C.OPERATION_FAILED, vk.conn.define_xml,
                     vk.xml(dom.name, uuid=vk.new_uuid()))
        other = vk.name()
        vk.track_domain(vk.conn, other)
        expect_error(C.OPERATION_FAILED, vk.conn.define_xml, vk.xml(other, uuid=dom.uuid))
        expect_error(C.NO_DOMAIN, vk.conn.lookup_by_name, other)

    @pytest.mark.ops("domain_rename")
    def test_rename(self, vk: Kit) -> None:
        dom = vk.define()
        old, new = dom.name, vk.name()
        vk.track_domain(vk.conn, new)
        rec = vk.recorder(dom)
        dom.rename(new)
        assert dom.name == new and vk.conn.lookup_by_uuid(dom.uuid).name == new
        expect_error(C.NO_DOMAIN, vk.conn.lookup_by_name, old)
        assert f"<name>{new}</name>" in dom.xml_desc(inactive=True)
        assert rec.wait_for(2) == [(EventType.UNDEFINED, UndefinedDetail.RENAMED),
                                   (EventType.DEFINED, DefinedDetail.RENAMED)]
        other = vk.define()
        expect_error(C.OPERATION_INVALID, dom.rename, other.name)
        expect_error(C.OPERATION_INVALID, dom.rename, new)
        expect_error((C.XML_ERROR, C.INVALID_ARG), dom.rename, "vk/cert")
        dom.create()
        expect_error(C.OPERATION_INVALID, dom.rename, vk.name())
        assert vk.conn.lookup_by_uuid(dom.uuid).name == new, "refused: the name stays"

    @pytest.mark.ops("domain_set_lifecycle_action")
    def test_lifecycle_actions(self, vk: Kit) -> None:
        dom = vk.define()
        dom.set_lifecycle_action("reboot", "destroy")
        assert "<on_reboot>destroy</on_reboot>" in dom.xml_desc(inactive=True)
        dom.set_lifecycle_action("crash", "preserve", config=True)
        assert "<on_crash>preserve</on_crash>" in dom.xml_desc(inactive=True)
        expect_error(C.CONFIG_UNSUPPORTED, dom.set_lifecycle_action, "poweroff",
                     "coredump-destroy")
        expect_error(C.INVALID_ARG, dom.set_lifecycle_action, "vkcert", "destroy")
        expect_error(C.OPERATION_INVALID, dom.set_lifecycle_action, "poweroff", "destroy",
                     live=True)
        assert "<on_poweroff>destroy</on_poweroff>" in dom.xml_desc(inactive=True)

    def test_undefine_inactive(self, vk: Kit) -> None:
        dom = vk.define()
        rec = vk.recorder(dom)
        dom.undefine()
        expect_error(C.NO_DOMAIN, vk.conn.lookup_by_name, dom.name)
        expect_error(C.NO_DOMAIN, vk.conn.lookup_by_uuid, dom.uuid)
        assert rec.wait_for(1) == [(EventType.UNDEFINED, UndefinedDetail.REMOVED)]

    @pytest.mark.ops("domain_set_autostart", "domain_get_autostart")
    def test_autostart(self, vk: Kit) -> None:
        dom = vk.define()
        assert dom.autostart is False
        dom.set_autostart(True)
        assert dom.autostart is True
        assert dom in vk.conn.list_domains(autostart=True)
        dom.set_autostart(False)
        assert dom.autostart is False

    @pytest.mark.ops("domain_create_xml", "domain_set_autostart")
    @pytest.mark.requires("transient_domains")
    def test_autostart_transient_invalid(self, vk: Kit) -> None:
        dom = vk.create()
        expect_error(C.OPERATION_INVALID, dom.set_autostart, True)

    def test_devices_kept_or_refused(self, vk: Kit) -> None:
        """A device defined comes back in the XML, or the define is refused (or a warning is
        logged) naming it: never dropped silently."""
        dropped: list[str] = []
        for kind, device, xpath in DEVICES:
            name = vk.name("dev")
            vk.track_domain(vk.conn, name)
            with LogCapture() as logs:
                try:
                    dom = vk.conn.define_xml(vk.xml(name, devices=device.replace(
                        "{dir}", vk.workdir)))
                except VirtError as exc:
                    if exc.code == C.NO_SUPPORT:
                        raise
                    assert exc.code in REFUSED and kind in exc.message, (
                        f"defining a domain with a <{kind}> raised {exc.code.name} "
                        f"({exc.message!r}); a refusal must name the device")
                    continue
            root = etree.fromstring(dom.xml_desc(inactive=True).encode())
            if root.find(xpath) is None and not logs.mentions(kind):
                dropped.append(kind)
            dom.undefine()
        assert not dropped, (
            f"the driver silently dropped these devices: {', '.join(dropped)} (keep them, or "
            f"refuse the definition, or log a warning naming them)")
