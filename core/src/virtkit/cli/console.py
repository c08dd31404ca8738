"""``console``: the guest's console on the terminal, as virsh's (Ctrl-] leaves).

On a terminal, keys go to the guest raw and its output comes back until Ctrl-] (or the console
closes). Without a terminal, stdin is copied to the console and the console to stdout until stdin
ends; the console's output is then drained until it has been quiet for a moment.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import TYPE_CHECKING

from virtkit.cli.state import CliState, CommandError

if TYPE_CHECKING:
    from virtkit.api.domain import Domain
    from virtkit.api.stream import Stream
    from virtkit.sdk.errors import VirtError

ESCAPE = b"\x1d"  # Ctrl-]
POLL_SECONDS = 0.1


def run_console(
    state: CliState, dom: Domain, devname: str | None = None, force: bool = False
) -> None:
    """Attach stdin and stdout to ``dom``'s console until Ctrl-], stdin's end or the console's."""
    from virtkit import VirtError

    if not dom.is_active():
        raise CommandError("The domain is not running")
    with state.api():
        stream = dom.open_console(devname, force)
    state.info(f"Connected to domain '{dom.name}'")
    state.info("Escape character is ^] (Ctrl + ])")
    sys.stdout.flush()
    pump = _Pump(stream)
    pump.start()
    try:
        if sys.stdin.isatty():
            _interactive(stream, pump)
        else:
            _copy_stdin(stream, pump)
    finally:
        pump.stop.set()
        pump.join()
        try:
            stream.finish()
        except VirtError:
            pass
    if sys.stdin.isatty():
        sys.stdout.write("\n")
    if pump.error is not None:
        raise CommandError(pump.error.message)


class _Pump(threading.Thread):
    """Copies the console's output to stdout until stopped, drained or closed."""

    def __init__(self, stream: Stream) -> None:
        super().__init__(name="virtkit-console", daemon=True)
        self.stream = stream
        self.stop = threading.Event()  # leave now
        self.drain = threading.Event()  # leave once the console is quiet
        self.ended = threading.Event()
        self.error: VirtError | None = None

    def run(self) -> None:
        from virtkit import VirtError
        from virtkit.sdk.errors import ErrorCode

        out = sys.stdout.buffer
        try:
            while not self.stop.is_set():
                try:
                    data = self.stream.recv(65536, timeout=POLL_SECONDS)
                except VirtError as exc:
                    if exc.code == ErrorCode.OPERATION_TIMEOUT:
                        if self.drain.is_set():
                            break
                        continue
                    if not self.stop.is_set():
                        self.error = exc
                    break
                if not data:
                    break
                out.write(data)
                out.flush()
        finally:
            self.ended.set()


def _send(stream: Stream, data: bytes) -> bool:
    """Send ``data`` up to an escape character; False once the escape was seen."""
    head, escape, _rest = data.partition(ESCAPE)
    if head:
        stream.send_all(head)
    return not escape


def _copy_stdin(stream: Stream, pump: _Pump) -> None:
    from virtkit import VirtError

    fd = sys.stdin.fileno()
    while not pump.ended.is_set():
        data = os.read(fd, 65536)
        if not data:
            break
        try:
            if not _send(stream, data):
                break
        except VirtError as exc:
            raise CommandError(exc.message) from exc
    pump.drain.set()
    pump.join()


def _interactive(stream: Stream, pump: _Pump) -> None:  # pragma: no cover - needs a terminal
    import select
    import termios
    import tty

    from virtkit import VirtError

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        while not pump.ended.is_set():
            ready, _, _ = select.select([fd], [], [], POLL_SECONDS)
            if not ready:
                continue
            data = os.read(fd, 1024)
            if not data:
                break
            try:
                if not _send(stream, data):
                    break
            except VirtError as exc:
                raise CommandError(exc.message) from exc
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
