"""Hookspecs for data streams: consoles and volume upload/download.

A stream is opened by ``domain_open_console``, ``vol_upload`` or ``vol_download``, which return a
stream id (an int, so it crosses the remote boundary as plain data) and already passed the
read-only check; these hooks only move its data. An unknown or finished stream id raises
INVALID_STREAM naming it.
"""

from __future__ import annotations

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
