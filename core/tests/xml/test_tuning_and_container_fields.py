"""``<blkiotune>``, ``<memtune>``, ``<cputune>``, ``<idmap>`` and the container init settings
(``<initenv>``, ``<initdir>``, ``<inituser>``, ``<initgroup>``): round trip, virtkit's schema and
libvirt's own (the oracle)."""

from __future__ import annotations

from typing import Any

import xml_strategies as S
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xml_oracle import assert_libvirt_valid

from virtkit.xml import domain as d
from virtkit.xml import schema

SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

DOC = """<domain type='lxc'><name>web</name><memory unit='MiB'>128</memory>
  <cputune><shares>512</shares><period>100000</period><quota>-1</quota></cputune>
  <blkiotune><weight>500</weight></blkiotune>
  <memtune><hard_limit unit='MiB'>96</hard_limit><soft_limit>1024</soft_limit>
    <swap_hard_limit unit='GiB'>1</swap_hard_limit><min_guarantee>512</min_guarantee></memtune>
  <os><type>exe</type><init>/bin/sh</init><initarg>-c</initarg>
    <initenv name='MODE'>prod</initenv><initenv name='EMPTY'/><initdir>/srv</initdir>
    <inituser>www</inituser><initgroup>www</initgroup></os>
  <idmap><uid start='0' target='100000' count='65536'/>
    <gid start='0' target='100000' count='65536'/></idmap>
  <devices><filesystem type='mount'><source dir='/srv/r'/><target dir='/'/></filesystem>
  </devices></domain>"""


def _roundtrip(dom: d.Domain) -> None:
    dom.check()
    text = dom.to_xml()
    parsed, ignored = d.Domain.parse(text)
    assert ignored == []
    assert parsed == dom, text
    assert parsed.to_xml() == text
    assert d.Domain.from_xml(text, validate=True) == dom
    schema.validate(text, "domain")
    assert_libvirt_valid("domain", text)


def test_a_container_document_is_read_whole():
    dom, ignored = d.Domain.parse(DOC)
    assert ignored == []  # nothing left unmodelled
    assert dom.cputune == d.CpuTune(shares=512, period=100000, quota=-1)
    assert dom.blkiotune == d.BlkioTune(weight=500)
    assert dom.memtune == d.MemTune(hard_limit=96 * 1024, soft_limit=1024,
                                    swap_hard_limit=1 << 20, min_guarantee=512)
    assert dom.os.initenvs == (d.InitEnv(name="MODE", value="prod"),
                               d.InitEnv(name="EMPTY", value=None))
    assert (dom.os.initdir, dom.os.inituser, dom.os.initgroup) == ("/srv", "www", "www")
    assert dom.idmap == d.IdMap(uids=(d.IdMapRange(start=0, target=100000, count=65536),),
                                gids=(d.IdMapRange(start=0, target=100000, count=65536),))
    _roundtrip(dom)
    out = dom.to_xml()
    # libvirt's order: blkiotune and memtune after currentMemory, cputune after vcpu, idmap
    # after os
    order = [out.index(tag) for tag in ("<memory ", "<blkiotune>", "<memtune>", "<cputune>",
                                        "<os>", "<idmap>", "<devices>")]
    assert order == sorted(order)


def test_bad_values_name_the_element():
    import pytest

    from virtkit.sdk.errors import VirtError

    for bad, where in (
        (DOC.replace("<shares>512</shares>", "<shares>lots</shares>"), "shares"),
        (DOC.replace("start='0' target='100000'", "start='-1' target='100000'"), "start"),
        (DOC.replace("<initenv name='MODE'>", "<initenv>"), "name"),
        (DOC.replace("<hard_limit unit='MiB'>", "<hard_limit unit='parsecs'>"), "hard_limit"),
    ):
        with pytest.raises(VirtError) as info:
            d.Domain.from_xml(bad)
        assert where in str(info.value)


ranges = st.builds(d.IdMapRange, start=st.integers(0, 2**31), target=st.integers(0, 2**31),
                   count=st.integers(1, 2**31))
env_names = st.from_regex(r"[A-Z_][A-Z0-9_]{0,11}", fullmatch=True)
env_values = st.one_of(st.none(), st.from_regex(r"[a-z0-9=:/.-]{1,12}", fullmatch=True))


@st.composite
def containers(draw: Any) -> d.Domain:
    memory = draw(st.integers(1024, 2**30))
    ident = st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True)
    # libvirt's schema takes <inituser> and <initgroup> together or not at all
    user, group = draw(st.one_of(st.just((None, None)), st.tuples(ident, ident)))
    kib = st.integers(1, 2**30)
    return d.Domain(
        type="lxc", name=draw(S.names), memory=memory,
        blkiotune=draw(st.one_of(st.none(), st.builds(d.BlkioTune,
                                                      weight=st.integers(100, 1000)))),
        memtune=draw(st.one_of(st.none(), st.builds(
            d.MemTune, hard_limit=S.opt(kib), soft_limit=S.opt(kib),
            swap_hard_limit=S.opt(kib), min_guarantee=S.opt(kib)))),
        cputune=draw(st.one_of(st.none(), st.builds(
            d.CpuTune, shares=S.opt(st.integers(2, 262144)),
            period=S.opt(st.integers(1000, 1000000)),
            quota=S.opt(st.one_of(st.just(-1), st.integers(1000, 2**40))),
            global_period=S.opt(st.integers(1000, 1000000)),
            global_quota=S.opt(st.integers(1000, 2**40)),
            emulator_period=S.opt(st.integers(1000, 1000000)),
            emulator_quota=S.opt(st.integers(1000, 2**40))))),
        os=d.Os(type=d.OsType(name="exe"), init=draw(S.opt(S.paths)),
                initargs=tuple(draw(st.lists(st.from_regex(r"[a-z0-9-]{1,8}", fullmatch=True),
                                             max_size=3))),
                initenvs=tuple(d.InitEnv(name=n, value=v) for n, v in draw(st.lists(
                    st.tuples(env_names, env_values), max_size=3, unique_by=lambda t: t[0]))),
                initdir=draw(S.opt(S.paths)),
                inituser=user, initgroup=group),
        idmap=draw(st.one_of(st.none(), st.builds(
            d.IdMap, uids=st.lists(ranges, min_size=1, max_size=2).map(tuple),
            gids=st.lists(ranges, min_size=1, max_size=2).map(tuple)))),
    )


@SETTINGS
@given(containers())
def test_container_documents_round_trip_and_satisfy_libvirts_schema(dom: d.Domain) -> None:
    _roundtrip(dom)
