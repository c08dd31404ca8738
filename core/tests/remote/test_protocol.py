"""Frames: the fixed header, the msgpack body, the length checks made before any body is read."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from virtkit.remote.protocol import (
    HEADER_SIZE,
    MAX_FRAME,
    PROGRAM,
    Header,
    ProtocolError,
    Type,
    check_length,
    decode_body,
    decode_header,
    encode,
)
from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.sdk.records import DomainRef, from_plain, to_plain


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
