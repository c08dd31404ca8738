"""Group ``guest-info``: what a running guest shows of itself: block, interface and memory
statistics, its interface addresses, and its health (definition updated since start, control
state, disk errors, taint and deprecation messages)."""

from __future__ import annotations

import ipaddress
from typing import ClassVar

import pytest
from lxml import etree

from virtkit.api.domain import Domain
from virtkit.sdk.errors import ErrorCode as C
from virtkit.sdk.errors import VirtError

from ..kit import Kit, disk_xml, expect_error, nic_xml

#: Address sources a driver may answer ``domain_interface_addresses`` from, tried in order.
SOURCES = ("lease", "agent", "arp")
#: What a driver may answer for a source it cannot use (the others must work).
SOURCE_REFUSED = (C.ARGUMENT_UNSUPPORTED, C.OPERATION_UNSUPPORTED, C.AGENT_UNRESPONSIVE,
                  C.OPERATION_INVALID, C.CONFIG_UNSUPPORTED)


def _counters(stats: dict[str, int], what: str) -> None:
    assert isinstance(stats, dict) and stats, f"{what} statistics are a non-empty dict"
    for key, value in stats.items():
        assert isinstance(key, str) and isinstance(value, int) and not isinstance(value, bool), (
            f"{what} statistic {key!r} is {value!r}, not an integer")
        assert value >= -1, f"{what} statistic {key!r} is {value} (-1 means unknown)"


def _guest(vk: Kit) -> tuple[Domain, str]:
    """A running guest with one disk (``vdb``) and one interface; returns it and its MAC."""
    mac = vk.mac()
    dom = vk.define(devices=disk_xml("vdb", vk.path("stats.img")) + nic_xml(mac))
    dom.create()
    return dom, mac


class TestGuestInfo:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("guest-info"),
        pytest.mark.ops("domain_define_xml", "domain_create", "domain_get_xml")]

    @pytest.mark.ops("domain_block_stats")
    def test_block_stats(self, vk: Kit) -> None:
        dom, _ = _guest(vk)
        stats = dom.block_stats("vdb")
        _counters(stats, "block")
        assert {"rd_req", "rd_bytes", "wr_req", "wr_bytes"} & set(stats), (
            f"block statistics name libvirt's counters (rd_req, wr_bytes...): {sorted(stats)}")
        expect_error((C.INVALID_ARG, C.DEVICE_MISSING), dom.block_stats, "vdz")
        dom.destroy()
        expect_error(C.OPERATION_INVALID, dom.block_stats, "vdb")

    @pytest.mark.ops("domain_interface_stats")
    def test_interface_stats(self, vk: Kit) -> None:
        dom, mac = _guest(vk)
        root = etree.fromstring(dom.xml_desc().encode())
        target = root.find("devices/interface/target")
        names = [mac] + ([str(target.get("dev"))] if target is not None and target.get("dev")
                         else [])
        for name in names:
            stats = dom.interface_stats(name)
            _counters(stats, "interface")
            assert {"rx_bytes", "tx_bytes"} <= set(stats), (
                f"interface statistics name rx_bytes and tx_bytes: {sorted(stats)}")
        expect_error((C.INVALID_ARG, C.DEVICE_MISSING), dom.interface_stats, "vkno0")
        dom.destroy()
        expect_error(C.OPERATION_INVALID, dom.interface_stats, mac)

    @pytest.mark.ops("domain_memory_stats")
    def test_memory_stats(self, vk: Kit) -> None:
        dom, _ = _guest(vk)
        stats = dom.memory_stats()
        _counters(stats, "memory")
        if "actual" in stats:
            assert 0 < stats["actual"] <= dom.info().max_mem, (
                f"the balloon's 'actual' ({stats['actual']} KiB) is within the maximum")
        dom.destroy()
        expect_error(C.OPERATION_INVALID, dom.memory_stats)

    @pytest.mark.ops("domain_interface_addresses")
    def test_interface_addresses(self, vk: Kit) -> None:
        dom, mac = _guest(vk)
        answered = []
        for source in SOURCES:
            try:
                found = dom.interface_addresses(source)
            except VirtError as exc:
                if exc.code not in SOURCE_REFUSED:
                    raise
                continue
            answered.append(source)
            assert isinstance(found, list)
            for entry in found:
                assert entry.hwaddr.lower() == mac, (
                    f"{source}: an address of an interface the guest lacks ({entry.hwaddr})")
                for addr in entry.addrs:
                    ip = ipaddress.ip_address(addr["addr"])
                    assert addr["type"] == (0 if ip.version == 4 else 1), addr
                    assert 0 <= addr["prefix"] <= ip.max_prefixlen, addr
        assert answered, f"no address source answered (tried {', '.join(SOURCES)})"
        dom.destroy()
        expect_error(C.OPERATION_INVALID, dom.interface_addresses, answered[0])

    @pytest.mark.ops("domain_is_updated", "domain_set_lifecycle_action")
    def test_is_updated(self, vk: Kit) -> None:
        dom = vk.running()
        assert dom.is_updated() is False
        dom.set_lifecycle_action("crash", "restart", config=True)
        assert dom.is_updated() is True, "the next boot's definition changed"
        dom.destroy()
        assert dom.is_updated() is False

    @pytest.mark.ops("domain_get_control_info")
    def test_control_info(self, vk: Kit) -> None:
        dom = vk.running()
        state, details, state_time = dom.control_info()
        assert state in (0, 1, 2, 3) and details >= 0 and state_time >= 0
        dom.destroy()
        expect_error(C.OPERATION_INVALID, dom.control_info)

    @pytest.mark.ops("domain_get_disk_errors")
    def test_disk_errors(self, vk: Kit) -> None:
        dom, _ = _guest(vk)
        errors = dom.disk_errors()
        assert set(errors) <= {"vdb"} and all(v in (1, 2) for v in errors.values()), errors
        dom.destroy()
        expect_error(C.OPERATION_INVALID, dom.disk_errors)

    @pytest.mark.ops("domain_get_messages")
    def test_messages(self, vk: Kit) -> None:
        dom = vk.running()
        everything = dom.messages()
        assert all(isinstance(m, str) and m.startswith(("tainted: ", "deprecated "))
                   for m in everything), everything
        assert set(dom.messages(tainting=True)) | set(dom.messages(deprecation=True)) == set(
            everything)
