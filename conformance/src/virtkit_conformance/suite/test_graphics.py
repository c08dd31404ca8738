"""Group ``input-power``: screenshots, a VNC client connection, keys, NMIs, guest power
management and core dumps."""

from __future__ import annotations

import os
from typing import ClassVar

import pytest

from virtkit.api.domain_graphics import image_mime
from virtkit.sdk.errors import ErrorCode as C

from ..kit import Kit, expect_error


class TestInputPower:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("input-power"),
        pytest.mark.ops("domain_define_xml", "domain_create", "domain_destroy")]

    @pytest.mark.ops("domain_screenshot", "stream_recv")
    def test_screenshot(self, vk: Kit) -> None:
        dom = vk.running()
        stream = dom.screenshot()
        data = stream.recv_all()
        stream.finish()
        assert image_mime(data) in ("image/png", "image/x-portable-pixmap"), data[:8]
        dom.destroy()
        expect_error(C.OPERATION_INVALID, dom.screenshot)

    @pytest.mark.ops("domain_open_graphics", "stream_recv", "stream_send", "stream_abort")
    def test_open_graphics(self, vk: Kit) -> None:
        """The stream reaches the guest's VNC server: it greets with an RFB version and answers
        the client's version with its security types (None when authentication is skipped)."""
        dom = vk.running(devices="<graphics type='vnc' autoport='yes'/>")
        client = dom.open_graphics(0, skipauth=True)
        try:
            greeting = client.recv(12, timeout=vk.event_timeout)
            assert greeting[:4] == b"RFB " and greeting.endswith(b"\n"), greeting
            client.send(b"RFB 003.008\n")
            count = client.recv(1, timeout=vk.event_timeout)[0]
            assert count > 0, "the server offers security types"
            assert 1 in client.recv(count, timeout=vk.event_timeout), "None, as skipauth asks"
        finally:
            client.abort()
        expect_error(C.INVALID_ARG, dom.open_graphics, 1)
        expect_error(C.INVALID_ARG, dom.open_graphics, -1)
        dom.destroy()
        expect_error(C.OPERATION_INVALID, dom.open_graphics)

    @pytest.mark.ops("domain_send_key", "domain_inject_nmi")
    def test_keys_and_nmi(self, vk: Kit) -> None:
        dom = vk.running()
        dom.send_key("linux", 0, [28])  # KEY_ENTER
        dom.inject_nmi()
        expect_error(C.INVALID_ARG, dom.send_key, "linux", 0, [1] * 17)
        dom.destroy()
        expect_error(C.OPERATION_INVALID, dom.inject_nmi)

    @pytest.mark.ops("domain_send_process_signal")
    def test_process_signal(self, vk: Kit) -> None:
        dom = vk.define()
        dom.create()
        dom.send_process_signal(1, 0)  # nop: init exists; every driver must reach pid 1
        expect_error(C.INVALID_ARG, dom.send_process_signal, 0, 15)
        expect_error(C.INVALID_ARG, dom.send_process_signal, 1, 65)
        dom.destroy()
        expect_error(C.OPERATION_INVALID, dom.send_process_signal, 1, 0)

    @pytest.mark.ops("domain_memory_peek")
    def test_memory_peek(self, vk: Kit) -> None:
        dom = vk.running()
        assert len(dom.memory_peek(0, 512, 2)) == 512
        assert len(dom.memory_peek(0, 16, 1)) == 16
        total = dom.info().memory * 1024
        expect_error(C.INVALID_ARG, dom.memory_peek, total, 16, 2)
        expect_error(C.INVALID_ARG, dom.memory_peek, 0, 16, 3)
        dom.destroy()
        expect_error(C.OPERATION_INVALID, dom.memory_peek, 0, 16, 2)

    @pytest.mark.ops("domain_pm_suspend", "domain_pm_wakeup")
    def test_suspend_to_memory(self, vk: Kit) -> None:
        dom = vk.running()
        dom.pm_suspend_for_duration("mem")
        assert vk.wait_state(dom, 7, vk.event_timeout)[0] == 7, "the guest is pmsuspended"
        dom.pm_wakeup()
        assert vk.wait_state(dom, 1, vk.event_timeout)[0] == 1
        expect_error(C.OPERATION_INVALID, dom.pm_wakeup)

    @pytest.mark.ops("domain_core_dump")
    def test_core_dump(self, vk: Kit) -> None:
        dom = vk.running()
        target = vk.path("vkcert.core")
        dom.core_dump(target)
        assert os.path.getsize(target) > 0
        assert os.stat(target).st_mode & 0o077 == 0, "a core dump is readable by its owner only"
        assert dom.state()[0] == 1, "a dump without crash leaves the guest running"
        expect_error(C.INVALID_ARG, dom.core_dump_with_format, vk.path("x"), "kdump-zlib")
