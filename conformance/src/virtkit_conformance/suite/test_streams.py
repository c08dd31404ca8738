"""Group ``console``: the guest console, guest channels and data streams (volume upload and
download)."""

from __future__ import annotations

from typing import ClassVar

import pytest

from virtkit.api.storage import StoragePool
from virtkit.sdk.errors import ErrorCode as C

from ..kit import Kit, expect_error, vol_xml
from .test_objects import POOL_OPS

MiB = 1024 * 1024


class TestConsole:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.group("console")]

    @pytest.mark.ops("domain_open_console", "stream_recv", "stream_send", "stream_finish")
    @pytest.mark.requires("console")
    def test_console_session(self, vk: Kit) -> None:
        dom = vk.running()
        console = dom.open_console()
        try:
            assert console.send(b"\r") == 1
            try:
                data = console.recv(4096, timeout=1.0)
                assert isinstance(data, bytes)
            except Exception as exc:  # a silent console may time out
                assert getattr(exc, "code", None) == C.OPERATION_TIMEOUT, exc
        finally:
            console.finish()
        expect_error(C.INVALID_STREAM, vk.conn.call, "stream_recv", stream=console.id,
                     nbytes=10, timeout=0.1)

    @pytest.mark.ops("domain_open_console", "stream_abort")
    @pytest.mark.requires("console")
    def test_console_is_exclusive(self, vk: Kit) -> None:
        dom = vk.running()
        first = dom.open_console()
        expect_error(C.OPERATION_FAILED, dom.open_console)
        second = dom.open_console(force=True)
        second.abort()
        first.abort() if not first.closed else None

    @pytest.mark.ops("domain_open_console")
    @pytest.mark.requires("console")
    def test_console_inactive_is_invalid(self, vk: Kit) -> None:
        dom = vk.define()
        expect_error(C.OPERATION_INVALID, dom.open_console)

    @pytest.mark.ops("domain_open_channel", "stream_send", "stream_abort")
    def test_channel_stream(self, vk: Kit) -> None:
        dom = vk.running(devices="<channel type='unix'><target type='virtio' "
                                 "name='org.virtkit.conformance.0'/></channel>")
        channel = dom.open_channel("org.virtkit.conformance.0")
        try:
            assert channel.send(b"vkcert") == 6
            expect_error(C.OPERATION_FAILED, dom.open_channel, "org.virtkit.conformance.0")
        finally:
            channel.abort()
        expect_error(C.DEVICE_MISSING, dom.open_channel, "org.virtkit.conformance.none")
        dom.destroy()
        expect_error(C.OPERATION_INVALID, dom.open_channel)

    @pytest.mark.ops(*POOL_OPS, "vol_create_xml", "vol_upload", "vol_download", "stream_send",
                     "stream_recv", "stream_finish")
    def test_volume_upload_download(self, vk: Kit, vk_pool: StoragePool) -> None:
        vol = vk_pool.create_xml(vol_xml(vk.name("v"), 2 * MiB))
        payload = bytes(range(256)) * 4096  # 1 MiB
        with vol.upload() as up:
            assert up.send_all(payload) == len(payload)
        with vol.download(0, len(payload)) as down:
            assert down.recv_all() == payload

    @pytest.mark.ops("stream_recv", "stream_abort")
    def test_unknown_stream(self, vk: Kit) -> None:
        expect_error(C.INVALID_STREAM, vk.conn.call, "stream_recv", stream=2**31 - 3,
                     nbytes=10, timeout=0.1)
        expect_error(C.INVALID_STREAM, vk.conn.call, "stream_abort", stream=2**31 - 3)
