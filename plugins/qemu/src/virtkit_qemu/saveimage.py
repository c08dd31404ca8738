"""The save-image format: a header carrying the domain XML, then QEMU's migration stream.

Layout: ``MAGIC`` (16 bytes), a big-endian u32 format version, a u32 length, that many bytes of
JSON (``xml``, ``paused``, ``name``, ``uuid``), zero padding to a 4 KiB boundary, then the
migration stream QEMU wrote to the file descriptor it was given. A file that does not start with
the magic, has another version, or whose JSON does not parse is refused before QEMU sees it.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError

MAGIC = b"VirtkitQemuSave\n"
VERSION = 1
ALIGN = 4096
MAX_HEADER = 4 * 1024 * 1024


def header(xml: str, paused: bool, name: str, uuid: str) -> bytes:
    body = json.dumps({"xml": xml, "paused": paused, "name": name, "uuid": uuid}).encode()
    raw = MAGIC + struct.pack(">II", VERSION, len(body)) + body
    return raw + b"\0" * (-len(raw) % ALIGN)


def read_header(path: str) -> tuple[dict[str, Any], int]:
    """The header's record and the offset of the migration stream."""
    try:
        with open(path, "rb") as f:
            start = f.read(len(MAGIC) + 8)
            if len(start) < len(MAGIC) + 8 or not start.startswith(MAGIC):
                raise _bad(path, "is not a save image of the qemu driver")
            version, length = struct.unpack(">II", start[len(MAGIC):])
            if version != VERSION:
                raise _bad(path, f"has save format version {version}, not {VERSION}")
            if length > MAX_HEADER:
                raise _bad(path, "has a header larger than 4 MiB")
            body = f.read(length)
            size = os.fstat(f.fileno()).st_size
    except OSError as exc:
        raise VirtError(ErrorCode.SYSTEM_ERROR,
                        f"cannot read save image '{path}': {exc.strerror}",
                        ErrorDomain.QEMU) from None
    try:
        record = json.loads(body)
        for key, kind in (("xml", str), ("paused", bool), ("name", str), ("uuid", str)):
            if not isinstance(record.get(key), kind):
                raise ValueError(key)
    except ValueError:
        raise _bad(path, "has a corrupt header") from None
    offset = len(MAGIC) + 8 + length
    offset += -offset % ALIGN
    if size <= offset:
        raise _bad(path, "holds no guest state after its header")
    return record, offset


def _bad(path: str, why: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, f"save image '{path}' {why}", ErrorDomain.QEMU)
