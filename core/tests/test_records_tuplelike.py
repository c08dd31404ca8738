"""Info records read in libvirt-python's list order as well as by attribute."""

from __future__ import annotations

import pytest

import virtkit
from virtkit.sdk.records import (
    DomainInfo,
    DomainStateInfo,
    JobInfo,
    NodeInfo,
    PoolInfo,
    VolumeInfo,
    from_plain,
    to_plain,
)


@pytest.fixture
def conn() -> virtkit.Connection:
    c = virtkit.open("test:///default")
    yield c
    c.close()


def test_domain_info_indexes_in_libvirt_order(conn: virtkit.Connection) -> None:
    info = conn.lookup_by_name("test").info()
    assert len(info) == 5
    assert info[0] == info.state == 1
    assert info[1] == info.max_mem and info[2] == info.memory
    assert info[3] == info.nr_virt_cpu and info[4] == info.cpu_time
    state, max_mem, memory, vcpus, cpu_time = info
    assert (state, max_mem, memory, vcpus, cpu_time) == info.as_tuple()
    assert list(info) == [info.state, info.max_mem, info.memory, info.nr_virt_cpu, info.cpu_time]
    assert info[-1] == info.cpu_time and info[1:3] == (info.max_mem, info.memory)


def test_node_info_memory_is_mib_by_index_as_in_libvirt(conn: virtkit.Connection) -> None:
    info = conn.node_info()
    assert len(info) == 8
    model, memory_mib, cpus, mhz, nodes, sockets, cores, threads = info
    assert model == info.model and cpus == info.cpus == 16
    assert memory_mib == info.memory // 1024
    assert (mhz, nodes, sockets, cores, threads) == (
        info.mhz, info.nodes, info.sockets, info.cores, info.threads)


def test_pool_and_volume_info_index(conn: virtkit.Connection) -> None:
    pool = conn.storage_pool_lookup_by_name("default-pool")
    state, capacity, allocation, available = pool.info()
    assert (allocation, available) == (pool.info().allocation, pool.info().available)
    assert state == pool.info().state == 2
    assert capacity == pool.info().capacity
    info = VolumeInfo(0, 10, 5)
    assert tuple(info) == (0, 10, 5) and info[2] == 5


def test_job_info_has_libvirts_twelve_entries() -> None:
    info = JobInfo(1, time_elapsed_ms=20, data_total=100, data_processed=40, data_remaining=60)
    assert len(info) == 12
    assert info[0] == 1 and info[1] == 20 and info[3:6] == (100, 40, 60)
    assert info[6:] == (0,) * 6


def test_out_of_range_index_is_index_error() -> None:
    with pytest.raises(IndexError):
        DomainStateInfo(1, 1)[2]


@pytest.mark.parametrize("record", [
    DomainInfo(1, 1024, 512, 2, 10), DomainStateInfo(3, 1),
    NodeInfo("x86_64", 3145728, 16, 1400, 2, 2, 2, 2), PoolInfo(2, 10, 5, 5), VolumeInfo(0, 1, 1),
    JobInfo(2, 5),
])
def test_plain_form_is_unchanged_by_indexing(record: object) -> None:
    plain = to_plain(record)
    assert isinstance(plain, dict) and plain["__record__"] == type(record).__name__
    assert from_plain(plain) == record
