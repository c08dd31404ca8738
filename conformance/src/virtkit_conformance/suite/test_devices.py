"""Groups ``devices`` (attach, detach, update; live and config) and ``resources``."""

from __future__ import annotations

from typing import ClassVar

import pytest
from lxml import etree

from virtkit.sdk.errors import ErrorCode as C

from ..kit import Kit, disk_xml, expect_error, nic_xml


def _disks(xml: str) -> list[str]:
    root = etree.fromstring(xml.encode())
    return [str(t.get("dev")) for t in root.iterfind("devices/disk/target")]


def _macs(xml: str) -> list[str]:
    root = etree.fromstring(xml.encode())
    return [str(m.get("address")).lower() for m in root.iterfind("devices/interface/mac")]


DEVICE_OPS = ("domain_define_xml", "domain_create", "domain_get_xml", "domain_attach_device",
              "domain_detach_device")


class TestDevices:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("devices"), pytest.mark.ops(*DEVICE_OPS)]

    @pytest.mark.requires("coldplug:disk")
    def test_disk_config(self, vk: Kit) -> None:
        dom = vk.define()
        vdb = disk_xml("vdb", vk.path("b.img"))
        dom.attach_device(vdb, config=True)
        assert "vdb" in _disks(dom.xml_desc(inactive=True))
        expect_error(C.OPERATION_FAILED, dom.attach_device, vdb, config=True)
        expect_error(C.OPERATION_INVALID, dom.attach_device, disk_xml("vdc", "/x"), live=True)
        dom.detach_device(vdb, config=True)
        assert "vdb" not in _disks(dom.xml_desc(inactive=True))
        expect_error(C.DEVICE_MISSING, dom.detach_device, vdb, config=True)

    @pytest.mark.requires("hotplug:disk")
    def test_disk_live(self, vk: Kit) -> None:
        dom = vk.running()
        vdb = disk_xml("vdb", vk.path("b.img"))
        dom.attach_device(vdb, live=True)
        assert "vdb" in _disks(dom.xml_desc())
        assert "vdb" not in _disks(dom.xml_desc(inactive=True)), "live only"
        vdc = disk_xml("vdc", vk.path("c.img"))
        dom.attach_device(vdc, live=True, config=True)
        assert "vdc" in _disks(dom.xml_desc()) and "vdc" in _disks(dom.xml_desc(inactive=True))
        dom.detach_device(vdb, live=True)
        assert "vdb" not in _disks(dom.xml_desc())
        dom.detach_device(vdc, live=True, config=True)
        assert "vdc" not in _disks(dom.xml_desc(inactive=True))
        dom.destroy()
        dom.create()
        assert "vdb" not in _disks(dom.xml_desc()), "a live-only device is gone after restart"

    @pytest.mark.ops("domain_detach_device_alias")
    @pytest.mark.requires("coldplug:disk")
    def test_detach_device_alias(self, vk: Kit) -> None:
        dom = vk.define()
        vdb = disk_xml("vdb", vk.path("b.img")).replace("</disk>",
                                                        "<alias name='ua-vkcert'/></disk>")
        dom.attach_device(vdb, config=True)
        assert "vdb" in _disks(dom.xml_desc(inactive=True))
        expect_error(C.DEVICE_MISSING, dom.detach_device_alias, "ua-nosuch", config=True)
        expect_error(C.OPERATION_INVALID, dom.detach_device_alias, "ua-vkcert", live=True)
        assert "vdb" in _disks(dom.xml_desc(inactive=True)), "refused: nothing changed"
        dom.detach_device_alias("ua-vkcert", config=True)
        assert "vdb" not in _disks(dom.xml_desc(inactive=True))
        expect_error(C.DEVICE_MISSING, dom.detach_device_alias, "ua-vkcert")

    @pytest.mark.ops("domain_create_xml")
    @pytest.mark.requires("transient_domains", "hotplug:disk")
    def test_config_on_transient_is_invalid(self, vk: Kit) -> None:
        dom = vk.create()
        expect_error(C.OPERATION_INVALID, dom.attach_device, disk_xml("vdb", "/x"), config=True)

    @pytest.mark.requires("hotplug:interface")
    def test_interface_live(self, vk: Kit) -> None:
        dom = vk.running()
        mac = vk.mac()
        dom.attach_device(nic_xml(mac), live=True)
        assert mac in _macs(dom.xml_desc())
        dom.detach_device(nic_xml(mac), live=True)
        assert mac not in _macs(dom.xml_desc())
        expect_error(C.DEVICE_MISSING, dom.detach_device, nic_xml(mac), live=True)

    @pytest.mark.ops("domain_update_device")
    @pytest.mark.requires("coldplug:disk")
    def test_update_cdrom_media(self, vk: Kit) -> None:
        cdrom = disk_xml("hdc", vk.path("one.iso"), device="cdrom", bus="ide")
        dom = vk.define(devices=cdrom)
        dom.create()
        dom.update_device(disk_xml("hdc", vk.path("two.iso"), device="cdrom", bus="ide"))
        assert vk.path("two.iso") in dom.xml_desc()
        assert vk.path("one.iso") not in dom.xml_desc()
        expect_error(C.DEVICE_MISSING, dom.update_device,
                     disk_xml("hdd", vk.path("x.iso"), device="cdrom", bus="ide"))

    def test_bad_device_xml(self, vk: Kit) -> None:
        dom = vk.define()
        for bad in ("<disk", "<no-such-device/>", "not xml at all"):
            expect_error((C.XML_ERROR, C.XML_DETAIL, C.CONFIG_UNSUPPORTED), dom.attach_device,
                         bad, config=True)


RES_OPS = ("domain_define_xml", "domain_get_info", "domain_set_memory", "domain_set_vcpus",
           "domain_get_vcpus_count")


class TestResources:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("resources"), pytest.mark.ops(*RES_OPS)]

    def test_memory_config(self, vk: Kit) -> None:
        dom = vk.define(memory_mib=256, current_mib=128)
        assert (dom.info().max_mem, dom.info().memory) == (256 * 1024, 128 * 1024)
        dom.set_memory(200 * 1024, config=True)
        assert dom.info().memory == 200 * 1024
        expect_error(C.INVALID_ARG, dom.set_memory, 300 * 1024, config=True)
        expect_error(C.INVALID_ARG, dom.set_memory, 0)
        dom.set_max_memory(160 * 1024)
        assert dom.info().max_mem == 160 * 1024 and dom.info().memory <= 160 * 1024

    def test_memory_live(self, vk: Kit) -> None:
        dom = vk.define(memory_mib=256, current_mib=256)
        dom.create()
        dom.set_memory(128 * 1024, live=True)
        assert dom.info().memory == 128 * 1024
        expect_error(C.OPERATION_INVALID, dom.set_memory, 64 * 1024, live=True, maximum=True)
        assert dom.info().max_mem == 256 * 1024

    def test_vcpus(self, vk: Kit) -> None:
        dom = vk.define(vcpus=1, max_vcpus=4)
        assert dom.vcpus_count(config=True) == 1
        assert dom.vcpus_count(config=True, maximum=True) == 4
        dom.set_vcpus(3, config=True)
        assert dom.vcpus_count(config=True) == 3 and dom.info().nr_virt_cpu == 3
        expect_error(C.INVALID_ARG, dom.set_vcpus, 5, config=True)
        expect_error(C.INVALID_ARG, dom.set_vcpus, 0)
        expect_error(C.OPERATION_INVALID, dom.vcpus_count, live=True)

    @pytest.mark.ops("domain_create", "domain_get_xml")
    def test_changes_beyond_maximum_refused(self, vk: Kit) -> None:
        """Memory above <memory> and vcpus above <vcpu> are refused, live, config and
        current, through the API and straight to the hook, and change nothing."""
        dom = vk.define(memory_mib=256, current_mib=128, vcpus=1, max_vcpus=2)
        too_much, too_many = 512 * 1024, 3
        expect_error(C.INVALID_ARG, dom.set_memory, too_much, config=True)
        expect_error(C.INVALID_ARG, dom.set_vcpus, too_many, config=True)
        expect_error(C.INVALID_ARG, dom.set_memory, too_much)
        expect_error(C.INVALID_ARG, dom.set_vcpus, too_many)
        dom.create()
        for flags in ({"live": True}, {"live": True, "config": True}, {}):
            expect_error(C.INVALID_ARG, dom.set_memory, too_much, **flags)
            expect_error(C.INVALID_ARG, dom.set_vcpus, too_many, **flags)
            for op, arg, value in (("domain_set_memory", "kib", too_much),
                                   ("domain_set_vcpus", "count", too_many)):
                # straight to the hook, as a remote client could
                expect_error(C.INVALID_ARG, vk.conn.call, op, dom=dom.ref,
                             **{arg: value, "live": flags.get("live", False),
                                "config": flags.get("config", False), "maximum": False})
        info = dom.info()
        assert (info.max_mem, info.memory) == (256 * 1024, 128 * 1024), (
            f"a refused change left memory at {info.memory} KiB of {info.max_mem} KiB")
        assert dom.vcpus_count(live=True) == 1 and dom.vcpus_count(config=True) == 1
        for inactive in (False, True):
            root = etree.fromstring(dom.xml_desc(inactive=inactive).encode())
            vcpu = root.find("vcpu")
            assert vcpu is not None and (vcpu.text, vcpu.get("current")) == ("2", "1"), (
                "a refused change left the XML's <vcpu> changed")

    def test_vcpus_live(self, vk: Kit) -> None:
        dom = vk.define(vcpus=2, max_vcpus=4)
        dom.create()
        dom.set_vcpus(1, live=True)
        assert dom.vcpus_count(live=True) == 1 and dom.vcpus_count(config=True) == 2
        expect_error(C.OPERATION_INVALID, dom.set_vcpus, 2, live=True, maximum=True)
