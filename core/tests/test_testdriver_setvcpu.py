"""The test driver's setVcpu (libvirt's test driver lacks it; virtkit's gives it QEMU's
semantics): vcpus enabled and disabled one by one in the live and persistent definitions, the
XML's ``<vcpus>`` and current count, vcpu info following, the list syntax checked at dispatch,
and nothing changed by a refused call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vktest import expect as _expect

import virtkit
from virtkit.sdk.errors import ErrorCode
from virtkit.sdk.hookspecs.tuning import parse_vcpulist
from virtkit.xml.domain import Domain

NODE = Path(__file__).parent / "cli" / "data" / "virsh" / "node.xml"  # libvirt's test domain
OFF = """<domain type='test'><name>off4</name><memory>524288</memory><vcpu>4</vcpu>
<os><type>hvm</type></os></domain>"""


@pytest.fixture
def conn() -> Iterator[virtkit.Connection]:
    c = virtkit.open(f"test://{NODE}")
    c.define_xml(OFF)
    yield c
    c.close()


def _states(dom: virtkit.Domain, inactive: bool = False) -> list[tuple[int, bool | None]]:
    model = Domain.from_xml(dom.xml_desc(inactive=inactive))
    return [(v.id, v.enabled) for v in model.vcpus.vcpus] if model.vcpus else []


@pytest.mark.hook("domain_set_vcpu")
def test_disable_and_enable_individual_vcpus(conn: virtkit.Connection) -> None:
    off = conn.lookup_by_name("off4")
    off.set_vcpu("1-2", 0)  # inactive: the definition
    assert _states(off) == [(0, True), (1, False), (2, False), (3, True)]
    assert conn.lookup_by_name("off4").info().nr_virt_cpu == 2
    assert "current='2'" in off.xml_desc()
    off.create()  # the live definition starts as the persistent one
    assert [v[0] for v in off.vcpus()[0]] == [0, 3]  # vcpu info shows the enabled ones
    off.set_vcpu("2", 1)  # running: live only
    assert [v[0] for v in off.vcpus()[0]] == [0, 2, 3]
    assert _states(off, inactive=True)[2] == (2, False)
    off.set_vcpu("1-3,^2", 1, live=True, config=True)
    assert off.info().nr_virt_cpu == 4 and "current=" not in off.xml_desc()
    assert _states(off, inactive=True) == [(0, True), (1, True), (2, False), (3, True)]
    off.set_vcpus(2)  # a count change enables the first vcpus again
    assert _states(off) == [] and [v[0] for v in off.vcpus()[0]] == [0, 1]


def test_refusals_change_nothing(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    before = dom.xml_desc()
    err = _expect(ErrorCode.INVALID_ARG, dom.set_vcpu, "0", 0)
    assert "vcpu 0" in err.message and "'test'" in err.message
    _expect(ErrorCode.INVALID_ARG, dom.set_vcpu, "1-5", 0)
    _expect(ErrorCode.INVALID_ARG, dom.set_vcpu, "", 0)
    _expect(ErrorCode.INVALID_ARG, dom.set_vcpu, "3-1", 1)
    _expect(ErrorCode.INVALID_ARG, dom.set_vcpu, "1,^1", 1)
    _expect(ErrorCode.INVALID_ARG, dom.set_vcpu, "one", 1)
    assert dom.xml_desc() == before
    off = conn.lookup_by_name("off4")
    _expect(ErrorCode.OPERATION_INVALID, off.set_vcpu, "1", 0, live=True)
    off.set_vcpu("1", 0)
    # both definitions are checked before either changes
    off.create()
    _expect(ErrorCode.INVALID_ARG, off.set_vcpu, "0-1", 1, live=True, config=True)
    assert _states(off) == _states(off, inactive=True) == [(0, True), (1, False), (2, True),
                                                            (3, True)]
    with virtkit.open(conn.uri, read_only=True) as ro:
        _expect(ErrorCode.OPERATION_DENIED, ro.lookup_by_name("test").set_vcpu, "1", 0)


def test_a_definition_with_inconsistent_states_is_refused(conn: virtkit.Connection) -> None:
    bad = OFF.replace("<vcpu>4</vcpu>", "<vcpu current='3'>4</vcpu><vcpus>" + "".join(
        f"<vcpu id='{i}' enabled='yes'/>" for i in range(4)) + "</vcpus>")
    _expect(ErrorCode.XML_ERROR, conn.define_xml, bad.replace("off4", "bad1"))
    _expect(ErrorCode.XML_ERROR, conn.define_xml, OFF.replace(
        "</vcpu>", "</vcpu><vcpus><vcpu id='4'/></vcpus>").replace("off4", "bad2"))
    names = {d.name for d in conn.list_domains()}
    assert "bad1" not in names and "bad2" not in names


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 9), st.integers(0, 3)), max_size=4))
def test_vcpu_lists_parse_as_libvirt_reads_them(parts: list[tuple[bool, int, int]]) -> None:
    text = ",".join(("^" if neg else "") + (f"{lo}-{lo + span}" if span else str(lo))
                    for neg, lo, span in parts)
    wanted = {n for neg, lo, span in parts if not neg for n in range(lo, lo + span + 1)}
    dropped = {n for neg, lo, span in parts if neg for n in range(lo, lo + span + 1)}
    if wanted - dropped:
        assert parse_vcpulist(text) == sorted(wanted - dropped)
    else:
        with pytest.raises(ValueError):
            parse_vcpulist(text)
