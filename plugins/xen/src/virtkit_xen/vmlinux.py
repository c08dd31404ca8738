"""The ELF kernel inside a compressed x86 kernel image (a ``bzImage``), for a PV guest that
boots without being decompressed in dom0.

Xen's PV domain builder takes a kernel as an ELF image or as a bzImage; given a bzImage it
decompresses the payload in dom0 (in the toolstack, on every ``xl create``) before loading its
ELF segments. ``extract_vmlinux`` does that once, ahead of time: the payload's place and size
come from the x86 boot protocol's setup header (``setup_sects`` at 0x1f1, ``payload_offset``
and ``payload_length`` at 0x248/0x24c, boot protocol 2.08 and later); when the header does not
name a payload that decompresses to an ELF image, every place where a known compressed stream
starts (gzip, xz, bzip2, lzma) is tried in turn, as the kernel's own ``extract-vmlinux`` script
does, and the first that decompresses to an ELF image wins.
"""

from __future__ import annotations

import bz2
import lzma
import struct
import zlib
from collections.abc import Callable, Iterator

__all__ = ["extract_vmlinux"]

ELF_MAGIC = b"\x7fELF"


def _gunzip(data: bytes) -> bytes:
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)


def _unxz(data: bytes) -> bytes:
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)


def _unlzma(data: bytes) -> bytes:
    return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(data)


def _bunzip2(data: bytes) -> bytes:
    return bz2.BZ2Decompressor().decompress(data)


#: The start of each compressed stream a kernel image may carry, and how to decompress it.
FORMATS: list[tuple[str, bytes, Callable[[bytes], bytes]]] = [
    ("gzip", b"\x1f\x8b\x08", _gunzip),
    ("xz", b"\xfd7zXZ\x00", _unxz),
    ("bzip2", b"BZh", _bunzip2),
    ("lzma", b"\x5d\x00\x00", _unlzma),
]


def _header_payload(image: bytes) -> bytes | None:
    if len(image) < 0x250 or image[0x202:0x206] != b"HdrS":
        return None
    version = struct.unpack_from("<H", image, 0x206)[0]
    if version < 0x0208:
        return None
    setup = (image[0x1f1] or 4) + 1
    offset, length = struct.unpack_from("<II", image, 0x248)
    start = setup * 512 + offset
    return image[start:start + length] if length and start + length <= len(image) else None


def _candidates(image: bytes) -> Iterator[tuple[bytes, Callable[[bytes], bytes]]]:
    payload = _header_payload(image)
    if payload is not None:
        for _name, magic, fn in FORMATS:
            if payload.startswith(magic):
                yield payload, fn
    for _name, magic, fn in FORMATS:
        at = image.find(magic)
        while at >= 0:
            yield image[at:], fn
            at = image.find(magic, at + 1)


def extract_vmlinux(image: bytes) -> bytes:
    """The ELF image inside ``image`` (returned as it is when it already is one). ValueError
    when no compressed stream in it decompresses to an ELF image."""
    if image.startswith(ELF_MAGIC):
        return image
    for data, fn in _candidates(image):
        try:
            out = fn(data)
        except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error):
            continue
        if out.startswith(ELF_MAGIC):
            return out
    raise ValueError("no compressed stream in the kernel image decompresses to an ELF image")
