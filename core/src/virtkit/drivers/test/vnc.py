"""The test guest's VNC server, as a client reaches it through ``domain_open_graphics``.

It speaks RFB 3.8 (RFC 6143): its version, the security types (VNC authentication when the
``<graphics>`` device has a ``passwd`` and the client did not skip authentication, else None),
the security result, and ServerInit (the screen's size, 32 bits per pixel, the desktop named
after the domain). Later client messages are read and ignored: the test guest draws nothing.
VNC authentication encrypts the server's challenge with DES, keyed by the password (RFB's own
scheme; the cryptography library does the DES).
"""

from __future__ import annotations

import os
import struct

from virtkit.drivers.test.guest import ConsoleStream
from virtkit.drivers.test.streams import invalid_stream


def des_encrypt(key: bytes, data: bytes) -> bytes:
    """``data`` (a multiple of 8 bytes) encrypted with the 8-byte DES ``key``, block by block
    (ECB): the cryptography library's triple DES with one key thrice, which is single DES."""
    if len(key) != 8 or len(data) % 8:
        raise ValueError("DES takes an 8-byte key and whole 8-byte blocks")
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    try:  # cryptography 43 moved triple DES among its "decrepit" algorithms
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    except ImportError:  # pragma: no cover - cryptography < 43
        from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(data) + encryptor.finalize()


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
