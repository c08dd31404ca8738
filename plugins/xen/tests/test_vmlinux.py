"""extract_vmlinux on kernel images of the test's own making: the payload the boot protocol's
setup header names, a stream found by scanning when the header names none, and refusals."""

from __future__ import annotations

import bz2
import gzip
import lzma
import struct

import pytest

from virtkit_xen.vmlinux import extract_vmlinux

ELF = b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 64


def bzimage(payload: bytes, *, header: bool = True, junk: bytes = b"") -> bytes:
    setup = bytearray(5 * 512)  # setup_sects = 4: the setup code is 5 sectors
    setup[0x1f1] = 4
    if header:
        setup[0x202:0x206] = b"HdrS"
        struct.pack_into("<H", setup, 0x206, 0x020F)
        struct.pack_into("<II", setup, 0x248, len(junk), len(payload))
    return bytes(setup) + junk + payload + b"\x00\x10\x00\x00"  # + the size trailer


@pytest.mark.parametrize("compress", [
    lambda d: lzma.compress(d, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32),
    gzip.compress, bz2.compress,
    lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE)],
    ids=["xz", "gzip", "bzip2", "lzma"])
def test_the_payload_the_header_names(compress) -> None:
    # an ELF image in a stream before the payload: found first by a scan, not by the header
    decoy = gzip.compress(b"\x7fELF decoy")
    assert extract_vmlinux(bzimage(compress(ELF), junk=decoy)) == ELF


def test_without_a_header_every_stream_is_tried() -> None:
    # a gzip magic that starts no valid stream comes first; the xz stream after it is the kernel
    decoy = b"\x1f\x8b\x08" + b"not gzip"
    image = bzimage(lzma.compress(ELF, format=lzma.FORMAT_XZ), header=False, junk=decoy)
    assert extract_vmlinux(image) == ELF


def test_a_stream_that_is_not_elf_is_passed_over() -> None:
    image = bzimage(gzip.compress(b"not a kernel"), header=False,
                    junk=lzma.compress(b"neither", format=lzma.FORMAT_XZ))
    with pytest.raises(ValueError, match="no compressed stream"):
        extract_vmlinux(image)


def test_an_elf_image_is_returned_as_it_is() -> None:
    assert extract_vmlinux(ELF) == ELF


def test_nothing_compressed_is_refused() -> None:
    with pytest.raises(ValueError, match="ELF"):
        extract_vmlinux(bytes(4096))
