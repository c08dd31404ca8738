"""The test driver's statistics and tuning through the facade: bulk statistics and their
filters, job statistics, vcpus and pinning (live and config), CPU statistics, every tunable
group with its checks, the memory statistics period, metadata in the XML, and the tunable and
metadata-change events."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from vktest import expect as _expect
from vktest import inbox as _inbox

import virtkit
from virtkit.sdk.errors import ErrorCode, VirtError

NODE = Path(__file__).parent / "cli" / "data" / "virsh" / "node.xml"  # libvirt's test domain
UNLIMITED = 9007199254740991
OFF = """<domain type='test'><name>off1</name><memory>524288</memory><vcpu>4</vcpu>
<os><type>hvm</type></os></domain>"""


@pytest.fixture
def conn() -> Iterator[virtkit.Connection]:
    c = virtkit.open(f"test://{NODE}")
    c.define_xml(OFF)
    yield c
    c.close()






@pytest.mark.hook("domain_get_stats")
def test_bulk_statistics_groups_and_filters(conn: virtkit.Connection) -> None:
    everything = dict((d.name, s) for d, s in conn.get_all_domain_stats())
    running = everything["test"]
    assert running["state.state"] == 1 and running["cpu.time"] >= 0
    assert running["balloon.current"] == 2097152 and running["balloon.maximum"] == 8388608
    assert running["vcpu.current"] == 2 and "vcpu.1.time" in running
    assert running["net.count"] == 1 and running["net.0.name"] == "testnet0"
    assert running["block.count"] == 1 and running["block.0.path"] == "/guest/diskimage1"
    assert running["block.0.capacity"] == 1099506450432
    off = everything["off1"]
    assert off["state.state"] == 5 and "cpu.time" not in off and off["vcpu.maximum"] == 4
    only = conn.get_all_domain_stats(["state"], running=True)
    assert [(d.name, s) for d, s in only] == [("test", {"state.state": 1,
                                                         "state.reason": running["state.reason"]})]
    assert [d.name for d, _ in conn.get_all_domain_stats(["vcpu"], inactive=True)] == ["off1"]
    dom = conn.lookup_by_name("off1")
    assert conn.domain_list_get_stats([dom], ["balloon"])[0][1] == {
        "balloon.current": 524288, "balloon.maximum": 524288}
    _expect(ErrorCode.INVALID_ARG, conn.get_all_domain_stats, ["gpu"])
    _expect(ErrorCode.INVALID_ARG, conn.get_all_domain_stats, None, sleeping=True)
    dom.set_perf_events({"cmt": True}, config=True)
    dom.create()
    stats = conn.domain_list_get_stats([dom], ["perf"])[0][1]
    assert set(stats) == {"perf.cmt"}


@pytest.mark.hook("domain_get_job_stats")
def test_job_stats(conn: virtkit.Connection, tmp_path: Path) -> None:
    dom = conn.lookup_by_name("test")
    assert dom.job_stats() == {"type": 0}
    dom.save(str(tmp_path / "img"))
    done = dom.job_stats(completed=True)
    assert done["type"] == 3 and done["operation"] == 2 and done["data_total"] > 0


@pytest.mark.hook("domain_get_vcpu_info", "domain_get_vcpu_pin_info", "domain_pin_vcpu",
                  "domain_get_emulator_pin_info", "domain_pin_emulator", "domain_get_cpu_stats")
def test_vcpus_pinning_and_cpu_stats(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    cpus = conn.node_info().cpus
    info, maps = dom.vcpus()
    assert [v[0] for v in info] == [0, 1] and maps[0] == (True,) * cpus
    tunable = _inbox(conn, "domain-tunable")
    dom.pin_vcpu(1, [False, True, True])
    assert tunable.get(timeout=5).params == {"params": {"cputune.vcpupin1": "1-2"}}
    assert dom.vcpu_pin_info()[1] == (False, True, True) + (False,) * (cpus - 3)
    assert dom.vcpu_pin_info(config=True)[1] == (True,) * cpus  # live only
    assert dom.vcpus()[0][1][3] == 2  # the vcpu runs on its highest allowed CPU
    dom.pin_vcpu_flags(0, [True], config=True)
    assert dom.vcpu_pin_info(config=True)[0][:2] == (True, False)
    _expect(ErrorCode.INVALID_ARG, dom.pin_vcpu, 5, [True])
    _expect(ErrorCode.INVALID_ARG, dom.pin_vcpu, 0, [False] * cpus + [True])
    _expect(ErrorCode.INVALID_ARG, dom.pin_vcpu, 0, [False, False])
    dom.pin_emulator([False, False, False, True])
    assert cpulist(dom.emulator_pin_info()) == [3]
    total = dom.get_cpu_stats(True)[0]
    assert set(total) == {"cpu_time", "user_time", "system_time"}
    per = dom.get_cpu_stats(False)
    assert len(per) == cpus and per[2]["vcpu_time"] >= 0
    assert len(dom.get_cpu_stats(False, 14, 8)) == cpus - 14
    _expect(ErrorCode.INVALID_ARG, dom.get_cpu_stats, False, cpus)
    off = conn.lookup_by_name("off1")
    _expect(ErrorCode.OPERATION_INVALID, off.vcpus)
    _expect(ErrorCode.OPERATION_INVALID, off.pin_vcpu_flags, 0, [True], live=True)
    off.pin_vcpu(3, [True, True])  # inactive: the definition
    assert off.vcpu_pin_info()[3][:3] == (True, True, False)
    off.create()  # the live pinning starts as the definition's
    assert off.vcpu_pin_info()[3][:3] == (True, True, False)


def cpulist(cpumap: tuple[bool, ...]) -> list[int]:
    return [n for n, on in enumerate(cpumap) if on]


@pytest.mark.hook("domain_get_tunables", "domain_set_tunables", "domain_get_scheduler_type")
def test_tunable_groups(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    assert dom.scheduler_type() == ("fair", 1)
    assert dom.scheduler_parameters() == {"weight": 50}
    tunable = _inbox(conn, "domain-tunable")
    dom.set_scheduler_parameters({"weight": 100})
    assert tunable.get(timeout=5).params == {"params": {"cputune.weight": 100}}
    assert dom.scheduler_parameters_flags(config=True) == {"weight": 50}
    dom.set_scheduler_parameters_flags({"weight": 70}, live=True, config=True)
    assert tunable.get(timeout=5).params == {"params": {"cputune.weight": 70}}
    assert dom.scheduler_parameters_flags(config=True) == {"weight": 70}
    assert dom.memory_parameters()["hard_limit"] == UNLIMITED
    dom.set_memory_parameters({"hard_limit": 1 << 20, "soft_limit": 1 << 19})
    _expect(ErrorCode.INVALID_ARG, dom.set_memory_parameters, {"soft_limit": 1 << 21})
    _expect(ErrorCode.INVALID_ARG, dom.set_memory_parameters, {"hard_limit": "big"})
    _expect(ErrorCode.INVALID_ARG, dom.set_memory_parameters, {"nonsense": 1})
    assert dom.memory_parameters()["soft_limit"] == 1 << 19  # nothing lost by refusals
    dom.set_numa_parameters({"numa_mode": 2, "numa_nodeset": "0-1"})
    _expect(ErrorCode.INVALID_ARG, dom.set_numa_parameters, {"numa_nodeset": "0,7"})
    _expect(ErrorCode.INVALID_ARG, dom.set_numa_parameters, {"numa_mode": 9})
    dom.set_blkio_parameters({"weight": 300, "device_weight": "/dev/sda,500"})
    assert dom.blkio_parameters()["weight"] == 300
    dom.set_block_io_tune("vda", {"read_bytes_sec": 1000, "group_name": "g"})
    event = tunable.get(timeout=5).params["params"]
    assert event == {"blkdeviotune.read_bytes_sec": 1000, "blkdeviotune.group_name": "g",
                     "blkdeviotune.disk": "vda"}
    _expect(ErrorCode.INVALID_ARG, dom.set_block_io_tune, "vda", {"total_bytes_sec": 5})
    _expect(ErrorCode.INVALID_ARG, dom.block_io_tune, "vdz")
    dom.set_interface_parameters("testnet0", {"inbound.average": 100})
    assert dom.interface_parameters("aa:bb:cc:dd:ee:ff")["inbound.average"] == 100
    _expect(ErrorCode.INVALID_ARG, dom.interface_parameters, "eth9")
    assert not any(dom.perf_events().values())
    dom.set_perf_events({"cmt": True, "cpu_cycles": True})
    assert [k for k, v in dom.perf_events().items() if v] == ["cmt", "cpu_cycles"]
    dom.destroy()
    dom.create()  # the live values start again from the definition's
    assert dom.memory_parameters()["hard_limit"] == UNLIMITED
    assert dom.scheduler_parameters() == {"weight": 70}
    ro = virtkit.open(conn.uri, read_only=True)
    try:
        rdom = ro.lookup_by_name("test")
        assert rdom.memory_parameters()["hard_limit"] == UNLIMITED
        _expect(ErrorCode.OPERATION_DENIED, rdom.set_memory_parameters, {"hard_limit": 1})
    finally:
        ro.close()


@pytest.mark.hook("domain_set_memory_stats_period")
def test_memory_stats_period(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    assert "balloon.last-update" not in conn.domain_list_get_stats([dom], ["balloon"])[0][1]
    dom.set_memory_stats_period(5)
    assert "balloon.last-update" in conn.domain_list_get_stats([dom], ["balloon"])[0][1]
    _expect(ErrorCode.INVALID_ARG, dom.set_memory_stats_period, -1)
    transient = conn.create_xml(OFF.replace("off1", "t1"))
    _expect(ErrorCode.OPERATION_INVALID, transient.set_memory_stats_period, 5, config=True)


@pytest.mark.hook("domain_get_metadata", "domain_set_metadata")
def test_metadata_in_the_xml_and_its_event(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    changes = _inbox(conn, "domain-metadata-change")
    _expect(ErrorCode.NO_DOMAIN_METADATA, dom.metadata, "title")
    dom.set_metadata(1, "web front end", live=True, config=True)
    assert dom.metadata(1) == "web front end"
    assert "<title>web front end</title>" in dom.xml_desc(inactive=True)
    assert changes.get(timeout=5).params == {"type": 1, "nsuri": None}
    dom.set_metadata("element", "<app role='db'><tier>2</tier></app>", "my",
                     "http://example.org/app")
    assert dom.metadata("element", "http://example.org/app") == \
        '<app role="db"><tier>2</tier></app>'
    assert 'xmlns:my="http://example.org/app"' in dom.xml_desc()
    assert changes.get(timeout=5).params == {"type": 2, "nsuri": "http://example.org/app"}
    _expect(ErrorCode.NO_DOMAIN_METADATA, dom.metadata, "element", "http://example.org/app",
            config=True)  # live only
    dom.set_metadata("element", None, uri="http://example.org/app")
    _expect(ErrorCode.NO_DOMAIN_METADATA, dom.metadata, 2, "http://example.org/app")
    _expect(ErrorCode.INVALID_ARG, dom.set_metadata, "title", "two\nlines")
    _expect(ErrorCode.INVALID_ARG, dom.set_metadata, "element", "<a/>", None, "http://x/")
    _expect(ErrorCode.XML_ERROR, dom.set_metadata, "element", "<a>", "k", "http://x/")
    _expect(ErrorCode.INVALID_ARG, dom.metadata, 7)


@pytest.mark.hook("domain_start_dirty_rate_calc")
def test_dirty_rate_calculation_in_the_dirtyrate_group(conn: virtkit.Connection) -> None:
    import time

    from virtkit.drivers.test.tuning import DIRTY_MIB_PER_VCPU

    dom = conn.lookup_by_name("test")

    def group() -> dict[str, object]:
        return conn.domain_list_get_stats([dom], ["dirtyrate"])[0][1]

    assert group() == {}, "no calculation yet: nothing to report"
    dom.start_dirty_rate_calc(1)
    found = group()
    assert found["dirtyrate.calc_status"] == 1 and found["dirtyrate.calc_period"] == 1
    assert found["dirtyrate.calc_mode"] == "page-sampling"
    assert "dirtyrate.megabytes_per_second" not in found
    time.sleep(1.05)
    found = group()
    vcpus = dom.info().nr_virt_cpu
    assert found["dirtyrate.calc_status"] == 2
    assert found["dirtyrate.megabytes_per_second"] == DIRTY_MIB_PER_VCPU * vcpus
    assert not any(".vcpu." in key for key in found)
    dom.start_dirty_rate_calc(1, "dirty-ring")
    time.sleep(1.05)
    found = group()
    assert [found[f"dirtyrate.vcpu.{n}.megabytes_per_second"] for n in range(vcpus)] == \
        [DIRTY_MIB_PER_VCPU] * vcpus
    dom.start_dirty_rate_calc(60, 1)
    assert group()["dirtyrate.calc_mode"] == "dirty-bitmap", "a new calculation replaces it"
    for seconds, mode in ((0, 0), (61, 0), (1, 3), (1, "dirty-warp")):
        with pytest.raises(VirtError) as err:
            dom.start_dirty_rate_calc(seconds, mode)
        assert err.value.code == ErrorCode.INVALID_ARG
    assert group()["dirtyrate.calc_period"] == 60, "a refused call changes nothing"
    dom.destroy()
    assert group() == {}
    with pytest.raises(VirtError) as err:
        dom.start_dirty_rate_calc(1)
    assert err.value.code == ErrorCode.OPERATION_INVALID and "test" in str(err.value)
