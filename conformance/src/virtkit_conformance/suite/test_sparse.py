"""Sparse volume streams (group ``storage``): holes sent with ``send_hole`` read back as zeros,
and a sparse download reports them as holes rather than data."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from ..kit import Kit, pool_xml, remove_pool

PAGE = 4096


class TestSparseStreams:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("storage"),
        pytest.mark.ops("pool_create_xml", "vol_create_xml", "vol_upload",
                        "vol_download", "stream_send_hole", "stream_recv_hole",
                        "stream_recv_data")]

    def test_holes_round_trip(self, vk: Kit) -> None:
        name = vk.name("sparse")
        pool = vk.conn.storage_pool_create_xml(pool_xml(name, vk.path(name)))
        vk.track(lambda: remove_pool(pool, vk.prefix))
        vol = pool.create_xml(f"<volume><name>{vk.name('v')}.img</name>"
                              f"<capacity>{16 * PAGE}</capacity></volume>")
        with vol.upload() as up:
            up.send(b"D" * PAGE)
            up.send_hole(8 * PAGE)
            up.send(b"E" * PAGE)
        with vol.download(0, 10 * PAGE) as down:
            data = down.recv_all()
        assert data == b"D" * PAGE + bytes(8 * PAGE) + b"E" * PAGE
        holes: list[Any] = []
        with vol.download(0, 10 * PAGE) as down:
            down.sparse_recv_all(lambda s, d, o: o.append(len(d)),
                                 lambda s, n, o: o.append(-n), holes)
        assert sum(abs(n) for n in holes) == 10 * PAGE
        assert sum(-n for n in holes if n < 0) >= 8 * PAGE - PAGE, holes

    @pytest.mark.ops("stream_poll")
    def test_event_callback_on_a_download(self, vk: Kit) -> None:
        import threading

        from virtkit.api.stream import EVENT_READABLE

        name = vk.name("evs")
        pool = vk.conn.storage_pool_create_xml(pool_xml(name, vk.path(name)))
        vk.track(lambda: remove_pool(pool, vk.prefix))
        vol = pool.create_xml(f"<volume><name>{vk.name('e')}.img</name>"
                              f"<capacity>{PAGE}</capacity></volume>")
        seen = threading.Event()
        with vol.download() as down:
            down.event_add_callback(EVENT_READABLE, lambda s, ev, o: seen.set())
            try:
                assert seen.wait(10), "no readable event on a download stream"
            finally:
                down.event_remove_callback()
