"""Group ``tuning``: bulk statistics, job statistics, vcpus and pinning, vcpus enabled one by
one, IOThreads, CPU statistics, tunable parameters read back after a change (nothing lost by a
refused change), the memory statistics period and metadata."""

from __future__ import annotations

from typing import ClassVar

import pytest

from virtkit.sdk.errors import ErrorCode as C

from ..kit import Kit, disk_xml, expect_error


class TestTuning:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("tuning"),
        pytest.mark.ops("domain_define_xml", "domain_create", "domain_get_xml")]

    @pytest.mark.ops("domain_get_stats")
    def test_bulk_statistics(self, vk: Kit) -> None:
        dom = vk.define(vcpus=2, devices=disk_xml("vda", vk.path("stats.img")))
        [(got, stats)] = vk.conn.domain_list_get_stats([dom], ["state", "vcpu"])
        assert got == dom and stats["state.state"] == 5, stats
        dom.create()
        [(_, stats)] = vk.conn.domain_list_get_stats([dom])
        assert stats["state.state"] == 1 and stats.get("vcpu.current") == 2, stats
        assert all(isinstance(k, str) for k in stats)
        names = [d.name for d, _ in vk.conn.get_all_domain_stats(["state"], running=True)]
        assert dom.name in names
        expect_error(C.INVALID_ARG, vk.conn.domain_list_get_stats, [dom], ["no-such-group"])

    @pytest.mark.ops("domain_get_job_stats")
    def test_job_stats(self, vk: Kit) -> None:
        dom = vk.running()
        assert dom.job_stats()["type"] in (0, 3), "no job runs on a fresh guest"

    @pytest.mark.ops("domain_get_vcpu_info", "domain_get_vcpu_pin_info", "domain_pin_vcpu",
                     "domain_get_emulator_pin_info", "domain_pin_emulator",
                     "domain_get_cpu_stats")
    def test_vcpus_and_pinning(self, vk: Kit) -> None:
        dom = vk.running(vcpus=2)
        info, maps = dom.vcpus()
        assert [v[0] for v in info] == [0, 1] and len(maps) == 2
        cpus = len(maps[0])
        dom.pin_vcpu(1, [True] + [False] * (cpus - 1))
        assert dom.vcpu_pin_info()[1][0] is True and not any(dom.vcpu_pin_info()[1][1:])
        dom.pin_emulator([True] * cpus)
        assert all(dom.emulator_pin_info())
        total = dom.get_cpu_stats(True)
        assert total and total[0].get("cpu_time", -1) >= 0
        expect_error(C.INVALID_ARG, dom.pin_vcpu, 99, [True])

    @pytest.mark.ops("domain_set_vcpu", "domain_get_info")
    def test_individual_vcpus(self, vk: Kit) -> None:
        dom = vk.define(vcpus=3)
        dom.set_vcpu("1", 0)
        assert dom.info()[3] == 2, "disabling a vcpu lowers the current count"
        assert "enabled='no'" in dom.xml_desc()
        expect_error(C.INVALID_ARG, dom.set_vcpu, "7", 1)
        expect_error(C.INVALID_ARG, dom.set_vcpu, "not-a-list", 1)
        dom.set_vcpu("1", 1)
        assert dom.info()[3] == 3

    @pytest.mark.ops("domain_get_iothread_info", "domain_add_iothread", "domain_del_iothread",
                     "domain_pin_iothread")
    def test_iothreads(self, vk: Kit) -> None:
        dom = vk.define()
        before = [n for n, _ in dom.io_thread_info()]
        new = max(before, default=0) + 1
        dom.add_io_thread(new)
        threads = dict(dom.io_thread_info())
        assert new in threads and all(threads[new]), "a new IOThread runs on every CPU"
        assert f"<iothreads>{len(before) + 1}</iothreads>" in dom.xml_desc()
        expect_error(C.INVALID_ARG, dom.add_io_thread, new)
        cpus = len(threads[new])
        dom.pin_io_thread(new, [True] + [False] * (cpus - 1))
        assert dict(dom.io_thread_info())[new] == (True,) + (False,) * (cpus - 1)
        expect_error(C.INVALID_ARG, dom.pin_io_thread, new + 1, [True])
        dom.del_io_thread(new)
        assert [n for n, _ in dom.io_thread_info()] == before
        expect_error(C.INVALID_ARG, dom.del_io_thread, new)

    @pytest.mark.ops("domain_add_iothread", "domain_set_iothread_params")
    def test_iothread_params(self, vk: Kit) -> None:
        dom = vk.running()
        dom.add_io_thread(1000)
        dom.set_io_thread_params(1000, {"poll_max_ns": 1000})
        expect_error(C.INVALID_ARG, dom.set_io_thread_params, 1000, {"vkcert_nonsense": 1})
        expect_error(C.INVALID_ARG, dom.set_io_thread_params, 1001, {"poll_max_ns": 1})

    @pytest.mark.ops("domain_get_tunables", "domain_set_tunables", "domain_get_scheduler_type")
    def test_tunables_read_back(self, vk: Kit) -> None:
        dom = vk.running()
        name, count = dom.scheduler_type()
        assert name and count == len(dom.scheduler_parameters())
        limits = dom.memory_parameters()
        assert "hard_limit" in limits, limits
        dom.set_memory_parameters({"hard_limit": 1 << 21})
        assert dom.memory_parameters()["hard_limit"] == 1 << 21
        expect_error(C.INVALID_ARG, dom.set_memory_parameters, {"vkcert_nonsense": 1})
        assert dom.memory_parameters()["hard_limit"] == 1 << 21, "a refused change lost nothing"

    @pytest.mark.ops("domain_set_memory_stats_period")
    def test_memory_stats_period(self, vk: Kit) -> None:
        dom = vk.running()
        dom.set_memory_stats_period(10)
        expect_error(C.INVALID_ARG, dom.set_memory_stats_period, -1)

    @pytest.mark.ops("domain_get_metadata", "domain_set_metadata")
    def test_metadata(self, vk: Kit) -> None:
        dom = vk.define()
        uri = "http://virtkit.example/conformance"
        dom.set_metadata("title", "vkcert title")
        dom.set_metadata("element", "<probe level='1'/>", "vk", uri)
        assert dom.metadata("title") == "vkcert title"
        assert "probe" in dom.metadata("element", uri)
        assert "vkcert title" in dom.xml_desc()
        dom.set_metadata("element", None, uri=uri)
        expect_error(C.NO_DOMAIN_METADATA, dom.metadata, "element", uri)

    @pytest.mark.ops("domain_start_dirty_rate_calc", "domain_get_stats")
    def test_dirty_rate_calculation(self, vk: Kit) -> None:
        import time

        dom = vk.running()
        dom.start_dirty_rate_calc(1)
        deadline = time.monotonic() + 10
        while True:
            stats = vk.conn.domain_list_get_stats([dom], ["dirtyrate"])[0][1]
            assert stats.get("dirtyrate.calc_status") in (1, 2), stats
            assert stats.get("dirtyrate.calc_period") == 1, stats
            if stats["dirtyrate.calc_status"] == 2:
                assert stats["dirtyrate.megabytes_per_second"] >= 0
                break
            assert time.monotonic() < deadline, "a 1 s calculation never ended"
            time.sleep(0.2)
        expect_error(C.INVALID_ARG, dom.start_dirty_rate_calc, 0)
        expect_error(C.INVALID_ARG, dom.start_dirty_rate_calc, 1, "vkcert-mode")
        dom.destroy()
        expect_error(C.OPERATION_INVALID, dom.start_dirty_rate_calc, 1)
