"""The test guest's VNC server, as a client reaches it through ``domain_open_graphics``.

It speaks RFB 3.8 (RFC 6143): its version, the security types (VNC authentication when the
``<graphics>`` device has a ``passwd`` and the client did not skip authentication, else None),
the security result, and ServerInit (the screen's size, 32 bits per pixel, the desktop named
after the domain). Later client messages are read and ignored: the test guest draws nothing.
VNC authentication encrypts the server's challenge with DES, keyed by the password (the DES
below implements FIPS 46-3's tables; the standard library has no DES).
"""

from __future__ import annotations

import os
import struct

from virtkit.drivers.test.guest import ConsoleStream
from virtkit.drivers.test.streams import invalid_stream

_PC1 = (57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19,
        11, 3, 60, 52, 44, 36, 63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6,
        61, 53, 45, 37, 29, 21, 13, 5, 28, 20, 12, 4)
_PC2 = (14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2,
        41, 52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36,
        29, 32)
_SHIFTS = (1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1)
_IP = (58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, 62, 54, 46, 38, 30, 22, 14,
       6, 64, 56, 48, 40, 32, 24, 16, 8, 57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19,
       11, 3, 61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7)
_FP = tuple(_IP.index(i) + 1 for i in range(1, 65))
_E = (32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17, 16, 17,
      18, 19, 20, 21, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1)
_P = (16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27, 3, 9,
      19, 13, 30, 6, 22, 11, 4, 25)
_S = (
    "14 4 13 1 2 15 11 8 3 10 6 12 5 9 0 7 0 15 7 4 14 2 13 1 10 6 12 11 9 5 3 8 "
    "4 1 14 8 13 6 2 11 15 12 9 7 3 10 5 0 15 12 8 2 4 9 1 7 5 11 3 14 10 0 6 13",
    "15 1 8 14 6 11 3 4 9 7 2 13 12 0 5 10 3 13 4 7 15 2 8 14 12 0 1 10 6 9 11 5 "
    "0 14 7 11 10 4 13 1 5 8 12 6 9 3 2 15 13 8 10 1 3 15 4 2 11 6 7 12 0 5 14 9",
    "10 0 9 14 6 3 15 5 1 13 12 7 11 4 2 8 13 7 0 9 3 4 6 10 2 8 5 14 12 11 15 1 "
    "13 6 4 9 8 15 3 0 11 1 2 12 5 10 14 7 1 10 13 0 6 9 8 7 4 15 14 3 11 5 2 12",
    "7 13 14 3 0 6 9 10 1 2 8 5 11 12 4 15 13 8 11 5 6 15 0 3 4 7 2 12 1 10 14 9 "
    "10 6 9 0 12 11 7 13 15 1 3 14 5 2 8 4 3 15 0 6 10 1 13 8 9 4 5 11 12 7 2 14",
    "2 12 4 1 7 10 11 6 8 5 3 15 13 0 14 9 14 11 2 12 4 7 13 1 5 0 15 10 3 9 8 6 "
    "4 2 1 11 10 13 7 8 15 9 12 5 6 3 0 14 11 8 12 7 1 14 2 13 6 15 0 9 10 4 5 3",
    "12 1 10 15 9 2 6 8 0 13 3 4 14 7 5 11 10 15 4 2 7 12 9 5 6 1 13 14 0 11 3 8 "
    "9 14 15 5 2 8 12 3 7 0 4 10 1 13 11 6 4 3 2 12 9 5 15 10 11 14 1 7 6 0 8 13",
    "4 11 2 14 15 0 8 13 3 12 9 7 5 10 6 1 13 0 11 7 4 9 1 10 14 3 5 12 2 15 8 6 "
    "1 4 11 13 12 3 7 14 10 15 6 8 0 5 9 2 6 11 13 8 1 4 10 7 9 5 0 15 14 2 3 12",
    "13 2 8 4 6 15 11 1 10 9 3 14 5 0 12 7 1 15 13 8 10 3 7 4 12 5 6 11 0 14 9 2 "
    "7 11 4 1 9 12 14 2 0 6 10 13 15 3 5 8 2 1 14 7 4 10 8 13 15 12 9 0 3 5 6 11",
)
_SBOX = tuple(tuple(int(n) for n in box.split()) for box in _S)


def _permute(value: int, table: tuple[int, ...], width: int) -> int:
    out = 0
    for pos in table:
        out = (out << 1) | ((value >> (width - pos)) & 1)
    return out


def _subkeys(key: bytes) -> list[int]:
    cd = _permute(int.from_bytes(key, "big"), _PC1, 64)
    c, d = cd >> 28, cd & 0xFFFFFFF
    keys = []
    for shift in _SHIFTS:
        c = ((c << shift) | (c >> (28 - shift))) & 0xFFFFFFF
        d = ((d << shift) | (d >> (28 - shift))) & 0xFFFFFFF
        keys.append(_permute((c << 28) | d, _PC2, 56))
    return keys


def des_encrypt(key: bytes, data: bytes) -> bytes:
    """``data`` (a multiple of 8 bytes) encrypted with the 8-byte ``key``, block by block
    (ECB)."""
    if len(key) != 8 or len(data) % 8:
        raise ValueError("DES takes an 8-byte key and whole 8-byte blocks")
    keys = _subkeys(key)
    out = bytearray()
    for i in range(0, len(data), 8):
        block = _permute(int.from_bytes(data[i:i + 8], "big"), _IP, 64)
        left, right = block >> 32, block & 0xFFFFFFFF
        for k in keys:
            x = _permute(right, _E, 32) ^ k
            s = 0
            for n in range(8):
                six = (x >> (42 - 6 * n)) & 0x3F
                s = (s << 4) | _SBOX[n][((six & 0x20) >> 4 | (six & 1)) * 16 + ((six >> 1) & 0xF)]
            left, right = right, left ^ _permute(s, _P, 32)
        out += _permute((right << 32) | left, _FP, 64).to_bytes(8, "big")
    return bytes(out)


def vnc_auth_response(passwd: str, challenge: bytes) -> bytes:
    """What a VNC client answers to ``challenge``: the challenge encrypted with DES keyed by
    the password's first 8 bytes (zero-padded), each byte's bits reversed (RFC 6143 7.2.2)."""
    key = passwd.encode()[:8].ljust(8, b"\0")
    key = bytes(int(f"{b:08b}"[::-1], 2) for b in key)
    return des_encrypt(key, challenge)


#: RFB security types (RFC 6143 7.1.2)
RFB_NONE, RFB_VNC_AUTH = 1, 2
#: the pixel format of the test server's ServerInit: 32 bits per pixel, depth 24, little
#: endian, true colour, 8 bits per channel (red, green, blue at bits 16, 8, 0)
PIXEL_FORMAT = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)


class VncStream(ConsoleStream):
    """A client connection to the test guest's VNC server: the server's side of RFB 3.8
    (RFC 6143) from the version handshake (VNC authentication with ``passwd``, else none) to
    ServerInit; later client messages are read and
    ignored (the test guest draws nothing)."""

    what = "graphics"

    def __init__(self, domain: str, width: int, height: int, passwd: str | None) -> None:
        super().__init__(domain)
        self.domain = domain
        self.size = (width, height)
        self.passwd = passwd
        self.challenge = b""
        self.buffer[:] = b"RFB 003.008\n"
        self.types = bytes([RFB_NONE if passwd is None else RFB_VNC_AUTH])
        self.state = "version"
        self.pending = bytearray()

    def _refuse(self, reason: str, result: bool) -> None:
        """A failure the client reads (a SecurityResult, or an empty security type list,
        then the reason), after which the server hangs up."""
        text = reason.encode()
        self.buffer += (struct.pack(">I", 1) if result else b"\0")
        self.buffer += struct.pack(">I", len(text)) + text
        self.state = "refused"
        self.closed = True

    def _step(self) -> bool:
        """Handle one client message from ``pending``; False when it is incomplete."""
        need = {"version": 12, "security": 1, "auth": 16, "init": 1}.get(self.state, 1)
        if len(self.pending) < need:
            return False
        msg = bytes(self.pending[:need])
        del self.pending[:need]
        if self.state == "version":
            if msg != b"RFB 003.008\n":
                self._refuse(f"the VNC server of domain '{self.domain}' speaks RFB 3.8 only, "
                             f"not {msg!r}", result=False)
            else:
                self.buffer += bytes([len(self.types)]) + self.types
                self.state = "security"
        elif self.state == "security":
            if msg[0] not in self.types:
                self._refuse(f"security type {msg[0]} was not offered", result=True)
            elif msg[0] == RFB_VNC_AUTH:
                self.challenge = os.urandom(16)
                self.buffer += self.challenge
                self.state = "auth"
            else:
                self.buffer += struct.pack(">I", 0)
                self.state = "init"
        elif self.state == "auth":
            if msg != vnc_auth_response(self.passwd or "", self.challenge):
                self._refuse("authentication failed", result=True)
            else:
                self.buffer += struct.pack(">I", 0)
                self.state = "init"
        elif self.state == "init":
            name = self.domain.encode()
            self.buffer += struct.pack(">HH", *self.size) + PIXEL_FORMAT
            self.buffer += struct.pack(">I", len(name)) + name
            self.state = "normal"
        else:
            self.pending.clear()  # client messages of a session: nothing is drawn
        return not self.closed

    def send(self, stream: int, data: bytes) -> int:
        with self.cond:
            if self.closed:
                raise invalid_stream(
                    stream, "is closed: the VNC server hung up or the guest stopped"
                )
            self.pending += data
            while self._step():
                pass
            self.cond.notify_all()
        return len(data)
