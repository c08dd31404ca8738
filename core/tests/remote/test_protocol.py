"""Frames: the fixed header, the msgpack body, the length checks made before any body is read."""

from __future__ import annotations

import struct
import uuid

import attrs
import msgpack  # type: ignore[import-untyped, import-not-found, unused-ignore]
import pytest
from hypothesis import given
from hypothesis import strategies as st

from virtkit.remote.protocol import (
    HEADER_SIZE,
    MAX_FRAME,
    PROGRAM,
    TABLE_MIN,
    Header,
    ProtocolError,
    Type,
    check_length,
    decode_body,
    decode_header,
    encode,
)
from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.sdk.records import (
    RECORD_TYPES,
    DomainRef,
    DomainSummary,
    Event,
    NetworkRef,
    from_plain,
    to_plain,
)


def test_a_frame_round_trips_with_a_plain_record_body() -> None:
    ref = DomainRef("web1", "6695eb01-f6a4-8304-79aa-97f2502e193f", 3)
    frame = encode(Header(123, Type.CALL, 42), {"dom": to_plain(ref), "data": b"\x00\xff"})
    size = check_length(frame[:4])
    header = decode_header(frame[:HEADER_SIZE])
    assert (header.procedure, header.type, header.serial) == (123, Type.CALL, 42)
    body = decode_body(frame[HEADER_SIZE:HEADER_SIZE + size])
    assert from_plain(body["dom"]) == ref
    assert from_plain(body["data"]) == b"\x00\xff"


@pytest.mark.parametrize("length", [-1, -(2**31), 0, HEADER_SIZE - 1, MAX_FRAME + 1])
def test_negative_short_and_oversize_lengths_are_refused(length: int) -> None:
    with pytest.raises(ProtocolError):
        check_length(struct.pack("!i", length))


def test_a_foreign_program_and_an_unknown_type_are_refused() -> None:
    good = encode(Header(1, Type.CALL, 1))
    with pytest.raises(ProtocolError, match="unknown program"):
        decode_header(good[:4] + struct.pack("!I", PROGRAM ^ 1) + good[8:HEADER_SIZE])
    with pytest.raises(ProtocolError, match="unknown frame type 9"):
        decode_header(good[:16] + struct.pack("!i", 9) + good[20:HEADER_SIZE])


def test_a_body_too_large_for_one_frame_is_an_rpc_error() -> None:
    with pytest.raises(VirtError) as exc:
        encode(Header(1, Type.REPLY, 1), {"r": b"x" * MAX_FRAME})
    assert exc.value.code == ErrorCode.RPC


@given(st.binary(max_size=300))
def test_any_bytes_as_a_body_decode_or_raise_protocol_error(data: bytes) -> None:
    try:
        decode_body(data)
    except ProtocolError:
        pass


def _round_trip(body: object) -> object:
    frame = encode(Header(1, Type.REPLY, 1), body)
    return decode_body(frame[HEADER_SIZE:])


_REFS = st.builds(DomainRef, st.text(max_size=8), st.uuids().map(str), st.integers(-1, 2**31))
_SUMMARIES = st.builds(DomainSummary, _REFS, st.integers(0, 7), st.integers(0, 12),
                       st.booleans(), st.booleans(), st.booleans(), st.integers(0, 5))


@given(st.lists(st.one_of(_SUMMARIES, _REFS, st.integers(-(2**63), 2**63 - 1), st.none()),
                max_size=12),
       st.lists(_SUMMARIES, max_size=12), st.lists(_REFS, max_size=12))
def test_lists_of_records_come_back_equal_as_tables_or_not(
    mixed: list[object], summaries: list[DomainSummary], refs: list[DomainRef]
) -> None:
    body = {"r": summaries, "mixed": mixed, "refs": refs, "nested": {"deep": summaries}}
    assert _round_trip(body) == body


def test_a_list_of_records_of_one_type_travels_as_one_table() -> None:
    summaries = [DomainSummary(DomainRef(f"d{i}", str(uuid.UUID(int=i)), -1), 5, 1, True)
                 for i in range(500)]
    tabled = len(encode(Header(1, Type.REPLY, 1), {"r": summaries}))
    one_by_one = sum(len(encode(Header(1, Type.REPLY, 1), {"r": [s]})) for s in summaries)
    assert tabled < one_by_one * 0.7  # no type names or tags per row
    assert _round_trip({"r": summaries}) == {"r": summaries}
    # a column whose rows hold records of different types (or none) stays as it is
    events = [Event("domain-lifecycle", summaries[0].ref, 1, 0)] * 3 + [
        Event("network-lifecycle", NetworkRef("n", str(uuid.UUID(int=1))), 1, 0)]
    assert _round_trip({"r": events}) == {"r": events}


@pytest.mark.parametrize("table", [
    {b"T": "NoSuchRecord", b"N": [], b"V": []},
    {b"T": "DomainRef", b"N": [], b"V": [["a", "u"]], b"X": 1},
    {b"T": "DomainSummary", b"N": ["NoSuchRecord"], b"V": [[["a", "u", 1], 1, 1, True]]},
    {b"T": "DomainSummary", b"N": ["DomainRef"], b"V": [[5, 1, 1, True]]},
    {b"T": "DomainSummary", b"N": "DomainRef", b"V": []},
    {b"T": "DomainRef", b"N": [], b"V": [["a", "u", 1, 2, 3, 4]]},
    {b"T": 7, b"N": [], b"V": []},
])
def test_a_malformed_table_is_a_protocol_error(table: dict[bytes, object]) -> None:
    payload = msgpack.packb({"r": table}, use_bin_type=True)
    with pytest.raises(ProtocolError):
        decode_body(payload)


def test_every_record_decoded_is_what_its_class_would_build() -> None:
    # the decoder fills plain records' slots directly (protocol._builder): the result must be
    # the very object cls(*values) makes, with all values given and with only the required
    for name, cls in RECORD_TYPES.items():
        fields = attrs.fields(cls)
        required = [f for f in fields if f.default is attrs.NOTHING]
        for chosen in (fields, required):
            values = [f"{name}.{f.name}" for f in chosen]
            expected = cls(*values)
            body = {"r": [expected] * TABLE_MIN, "one": expected}
            back = _round_trip(body)
            assert back == body, name
            for got in [*back["r"], back["one"]]:  # type: ignore[index]
                assert type(got) is cls
                assert attrs.asdict(got, recurse=False) == attrs.asdict(expected, recurse=False)


def test_a_record_with_too_many_or_too_few_values_is_a_protocol_error() -> None:
    for values in ([], ["a"], ["a", "u", 1, 2]):
        payload = msgpack.packb({"r": {b"R": "DomainRef", b"V": values}}, use_bin_type=True)
        with pytest.raises(ProtocolError):
            decode_body(payload)
