"""Hookspecs for data streams: consoles and volume upload/download.

A stream is opened by ``domain_open_console``, ``vol_upload`` or ``vol_download`` (any stream
of a volume may be sparse: its holes move as lengths, not zeros), which return a
stream id (an int, so it crosses the remote boundary as plain data) and already passed the
read-only check; these hooks only move its data. An unknown or finished stream id raises
INVALID_STREAM naming it.
"""

from __future__ import annotations

from virtkit.sdk.checks import non_negative
from virtkit.sdk.hookspecs.markers import spec


@spec(readonly=True)
def virtkit_stream_recv(stream: int, nbytes: int, timeout: float | None) -> bytes | None:
    """Read up to ``nbytes`` (1 .. 1 MiB) from the stream.

    :param timeout: seconds to wait for data; None waits until data or end of stream.
    :return: the data; ``b""`` at end of stream.
    :raises VirtError: INVALID_STREAM; OPERATION_TIMEOUT when nothing came within ``timeout``.
    :state: the stream's read position moves on.
    """


@spec(readonly=True)
def virtkit_stream_send(stream: int, data: bytes) -> int | None:
    """Write ``data`` (at most 1 MiB) to the stream.

    :return: the number of bytes taken.
    :raises VirtError: INVALID_STREAM; INVALID_ARG when writing past the end of an upload range.
    :state: the data reached the other end.
    """


@spec(readonly=True)
def virtkit_stream_finish(stream: int) -> bool | None:
    """Complete the stream normally (an upload's data is committed).

    :raises VirtError: INVALID_STREAM.
    :state: the stream is closed.
    """


@spec(readonly=True)
def virtkit_stream_abort(stream: int) -> bool | None:
    """Abandon the stream.

    :raises VirtError: INVALID_STREAM.
    :state: the stream is closed; an upload's partial data may remain.
    """


# -- sparse streams and readiness (holes: runs of the data that read as zeros and need no
# transfer; a sparse download reports them instead of sending zeros) --------------------------


@spec(readonly=True)
def virtkit_stream_recv_data(stream: int, nbytes: int, timeout: float | None) -> bytes | None:
    """Read up to ``nbytes`` (1 .. 1 MiB) of data, stopping before the next hole (libvirt's
    recvFlags with STOP_AT_HOLE).

    :return: the data; ``b""`` when the stream is at a hole (``stream_recv_hole`` says how
        long) or at its end.
    :raises VirtError: INVALID_STREAM; OPERATION_TIMEOUT as ``stream_recv``.
    :state: the stream's read position moves on.
    """


@spec(readonly=True)
def virtkit_stream_recv_hole(stream: int) -> int | None:
    """The length of the hole the stream's read position is at, skipped (libvirt's recvHole).

    :return: the hole's length in bytes; 0 when the position is at data or at the end.
    :raises VirtError: INVALID_STREAM; INVALID_STREAM for a stream that is not read.
    :state: the read position moved past the hole.
    """


@spec(readonly=True, checks={"length": non_negative("hole length")})
def virtkit_stream_send_hole(stream: int, length: int) -> bool | None:
    """Write a hole of ``length`` bytes: the range reads as zeros (libvirt's sendHole).

    :return: True.
    :raises VirtError: INVALID_STREAM; INVALID_ARG when the hole goes past the end of an upload
        range.
    :state: the write position moved on by ``length``.
    """


@spec(readonly=True)
def virtkit_stream_poll(stream: int, timeout: float) -> int | None:
    """Wait up to ``timeout`` seconds until the stream can be read or written (what a
    non-blocking stream's event callbacks are driven by).

    :return: libvirt's virStreamEventType bits that hold now: 1 readable (data, a hole or the
        end can be read without waiting), 2 writable, 4 error, 8 hang-up; 0 when none did
        within ``timeout``.
    :raises VirtError: INVALID_STREAM.
    :state: none.
    """
