"""The test driver's IOThreads through the facade: adding and removing them in the live and
persistent definitions (the XML's ``<iothreads>``/``<iothreadids>``), pinning them with the
tunable event, their polling parameters in the ``iothread`` statistics group, bad input,
read-only refusal, and the same calls through virtkitd."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vktest import expect as _expect
from vktest import inbox as _inbox

import virtkit
from virtkit.sdk.errors import ErrorCode
from virtkit.xml.domain import Domain

NODE = Path(__file__).parent / "cli" / "data" / "virsh" / "node.xml"  # libvirt's test domain
OFF = """<domain type='test'><name>off1</name><memory>524288</memory><vcpu>2</vcpu>
<iothreads>2</iothreads><iothreadids><iothread id='4'/></iothreadids>
<os><type>hvm</type></os>
<devices><disk type='file' device='disk'><driver name='qemu' iothread='4'/>
<source file='/guest/d1'/><target dev='vdb' bus='virtio'/></disk></devices></domain>"""


@pytest.fixture
def conn() -> Iterator[virtkit.Connection]:
    c = virtkit.open(f"test://{NODE}")
    c.define_xml(OFF)
    yield c
    c.close()


def _ids(dom: virtkit.Domain, config: bool = False) -> list[int]:
    return [n for n, _ in dom.io_thread_info(config=config)]


def _xml_ids(dom: virtkit.Domain, inactive: bool = False) -> tuple[int | None, list[int]]:
    model = Domain.from_xml(dom.xml_desc(inactive=inactive))
    ids = [t.id for t in model.iothreadids.iothreads] if model.iothreadids else []
    return model.iothreads, ids


@pytest.mark.hook("domain_get_iothread_info", "domain_add_iothread", "domain_del_iothread")
def test_add_and_remove_live_and_config(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    cpus = conn.node_info().cpus
    assert dom.io_thread_info() == []
    dom.add_io_thread(5)  # running: live only
    assert dom.io_thread_info() == [(5, (True,) * cpus)]
    assert _ids(dom, config=True) == []
    assert _xml_ids(dom) == (1, [5]) and _xml_ids(dom, inactive=True) == (None, [])
    dom.add_io_thread(2, config=True)
    assert _ids(dom, config=True) == [2] and _ids(dom) == [5]
    dom.add_io_thread(3, live=True, config=True)
    assert _ids(dom) == [3, 5] and _ids(dom, config=True) == [2, 3]
    _expect(ErrorCode.INVALID_ARG, dom.add_io_thread, 5)
    # checked in both definitions before either changes: 2 is only in the persistent one
    _expect(ErrorCode.INVALID_ARG, dom.add_io_thread, 2, live=True, config=True)
    assert _ids(dom) == [3, 5]
    dom.del_io_thread(5)
    assert _ids(dom) == [3]
    _expect(ErrorCode.INVALID_ARG, dom.del_io_thread, 7)
    dom.destroy()
    dom.create()  # the persistent IOThreads run
    assert _ids(dom) == [2, 3]


def test_ids_fill_up_to_the_count_and_a_used_one_stays(conn: virtkit.Connection) -> None:
    off = conn.lookup_by_name("off1")
    assert _ids(off) == [1, 4]  # 4 listed, the second takes the lowest free id
    _expect(ErrorCode.OPERATION_INVALID, off.add_io_thread, 6, live=True)
    err = _expect(ErrorCode.INVALID_ARG, off.del_io_thread, 4)
    assert "vdb" in err.message and "off1" in err.message
    off.del_io_thread(1)
    assert _xml_ids(off) == (1, [4])
    off.add_io_thread(9)
    assert _xml_ids(off) == (2, [4, 9])
    _expect(ErrorCode.INVALID_ARG, off.add_io_thread, 0)
    _expect(ErrorCode.INVALID_ARG, off.add_io_thread, -3)
    with pytest.raises(virtkit.VirtError) as bad:
        conn.define_xml(OFF.replace("<iothreads>2", "<iothreads>0"))
    assert bad.value.code == ErrorCode.XML_ERROR
    assert _ids(conn.lookup_by_name("off1")) == [4, 9]  # nothing stored was lost


@pytest.mark.hook("domain_pin_iothread")
def test_pinning_live_and_config_with_its_event(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    cpus = conn.node_info().cpus
    dom.add_io_thread(5, live=True, config=True)
    tunable = _inbox(conn, "domain-tunable")
    dom.pin_io_thread(5, [False, True, True])
    assert tunable.get(timeout=5).params == {"params": {"cputune.iothreadpin5": "1-2"}}
    assert dom.io_thread_info() == [(5, (False, True, True) + (False,) * (cpus - 3))]
    assert dom.io_thread_info(config=True) == [(5, (True,) * cpus)]
    dom.pin_io_thread(5, [True], config=True)
    assert dom.io_thread_info(config=True)[0][1][:2] == (True, False)
    _expect(ErrorCode.INVALID_ARG, dom.pin_io_thread, 6, [True])
    _expect(ErrorCode.INVALID_ARG, dom.pin_io_thread, 5, [False] * cpus + [True])
    _expect(ErrorCode.INVALID_ARG, dom.pin_io_thread, 5, [False, False])
    dom.del_io_thread(5)
    dom.add_io_thread(5)  # a new IOThread is unpinned
    assert dom.io_thread_info() == [(5, (True,) * cpus)]


@pytest.mark.hook("domain_set_iothread_params", "domain_get_stats")
def test_parameters_show_in_the_iothread_statistics(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    assert conn.domain_list_get_stats([dom], ["iothread"])[0][1] == {}  # none: no group
    dom.add_io_thread(2)
    dom.set_io_thread_params(2, {"poll_max_ns": 100, "poll_grow": 2})
    stats = conn.domain_list_get_stats([dom], ["iothread"])[0][1]
    assert stats == {"iothread.count": 1, "iothread.2.poll-max-ns": 100,
                     "iothread.2.poll-grow": 2, "iothread.2.poll-shrink": 0,
                     "iothread.2.thread-pool-min": 0, "iothread.2.thread-pool-max": 0}
    dom.set_io_thread_params(2, {"thread_pool_max": 4})
    _expect(ErrorCode.INVALID_ARG, dom.set_io_thread_params, 2, {"thread_pool_min": 5})
    _expect(ErrorCode.INVALID_ARG, dom.set_io_thread_params, 2, {"poll_fast": 1})
    _expect(ErrorCode.INVALID_ARG, dom.set_io_thread_params, 2, {})
    _expect(ErrorCode.INVALID_ARG, dom.set_io_thread_params, 3, {"poll_grow": 1})
    _expect(ErrorCode.INVALID_ARG, dom.set_io_thread_params, 2, {"poll_grow": 1},
            config=True)  # IOThread 2 is live only: the persistent definition lacks it
    stats = conn.domain_list_get_stats([dom], ["iothread"])[0][1]
    assert stats["iothread.2.thread-pool-max"] == 4 and stats["iothread.2.poll-grow"] == 2
    off = conn.lookup_by_name("off1")
    assert conn.domain_list_get_stats([off], ["iothread"])[0][1] == {}  # inactive: none


@settings(max_examples=30, deadline=None)
@given(params=st.dictionaries(st.sampled_from(["poll_max_ns", "poll_grow", "thread_pool_min",
                                               "bogus"]),
                              st.one_of(st.integers(-5, 5), st.booleans(), st.text(max_size=2)),
                              max_size=3))
def test_bad_parameters_are_refused_and_nothing_changes(params: dict[str, Any]) -> None:
    with virtkit.open(f"test://{NODE}") as c:
        dom = c.lookup_by_name("test")
        dom.add_io_thread(1)
        try:
            before = c.domain_list_get_stats([dom], ["iothread"])[0][1]
            valid = bool(params) and all(
                k != "bogus" and isinstance(v, int) and not isinstance(v, bool) and v >= 0
                for k, v in params.items())
            if valid:
                dom.set_io_thread_params(1, params)
            else:
                _expect(ErrorCode.INVALID_ARG, dom.set_io_thread_params, 1, params)
                assert c.domain_list_get_stats([dom], ["iothread"])[0][1] == before
        finally:
            dom.del_io_thread(1)


def test_read_only_connections_read_but_cannot_change(conn: virtkit.Connection) -> None:
    with virtkit.open(conn.uri, read_only=True) as ro:  # a node of its own, from the file
        dom = ro.lookup_by_name("test")
        assert dom.io_thread_info() == []
        for call in (lambda: dom.add_io_thread(4), lambda: dom.del_io_thread(3),
                     lambda: dom.pin_io_thread(3, [True]),
                     lambda: dom.set_io_thread_params(3, {"poll_grow": 1})):
            _expect(ErrorCode.OPERATION_DENIED, call)
