"""What the test driver shows of a running guest: its console, addresses and statistics.

The numbers are synthetic but consistent: counters grow with the guest's uptime, addresses are
192.168.122.3 onwards, one per interface in order (as libvirt's test driver gives them),
and the console echoes what is typed after a login banner. Each ``<channel>`` has a service on
its guest end that echoes what the host sends (libvirt's test driver has no channels to open;
virtkit's deliberately has them).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from virtkit.drivers.test.streams import TestStream, invalid_stream, open_stream
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError, not_running
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef, InterfaceAddress

if TYPE_CHECKING:
    from virtkit.drivers.test.node import TestDomain, TestNode


class ConsoleStream(TestStream):
    """A serial console: a login banner, then everything sent is echoed back."""

    what = "console"

    def __init__(self, domain: str) -> None:
        self.cond = threading.Condition()
        self.buffer = bytearray(f"\r\nvirtkit test console of '{domain}'\r\nlogin: ".encode())
        self.closed = False

    def send(self, stream: int, data: bytes) -> int:
        with self.cond:
            if self.closed:
                raise invalid_stream(
                    stream, "is closed: the console was taken or the guest stopped"
                )
            self.buffer += data.replace(b"\r", b"\r\n")
            self.cond.notify_all()
        return len(data)

    def recv(self, stream: int, nbytes: int, timeout: float | None) -> bytes:
        with self.cond:
            if not self.cond.wait_for(lambda: self.buffer or self.closed, timeout):
                raise VirtError(
                    ErrorCode.OPERATION_TIMEOUT,
                    f"no {self.what} output on stream {stream} within {timeout} s",
                    ErrorDomain.STREAMS,
                )
            chunk = bytes(self.buffer[:nbytes])
            del self.buffer[:nbytes]
            return chunk

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def poll(self, stream: int, timeout: float) -> int:
        """Readable once output waits (or hung up once closed); always writable while open."""
        with self.cond:
            self.cond.wait_for(lambda: self.buffer or self.closed, timeout)
            if self.closed:
                return 8 | (1 if self.buffer else 0)
            return (1 if self.buffer else 0) | 2

    def finish(self, stream: int) -> None:
        self.close()

    def abort(self, stream: int) -> None:
        self.close()


class ChannelStream(ConsoleStream):
    """A channel's host end: the guest's service echoes every byte back, unchanged."""

    what = "channel"

    def __init__(self, domain: str) -> None:
        super().__init__(domain)
        self.buffer.clear()

    def send(self, stream: int, data: bytes) -> int:
        with self.cond:
            if self.closed:
                raise invalid_stream(
                    stream, "is closed: the channel was taken or the guest stopped"
                )
            self.buffer += data
            self.cond.notify_all()
        return len(data)


def _uptime(dom: TestDomain) -> float:
    return max(time.monotonic() - dom.started_at, 0.0) if dom.status.active else 0.0


class GuestMixin:
    """Console, address and statistics hooks of the test driver."""

    if TYPE_CHECKING:

        @property
        def _node(self) -> TestNode: ...

    def _running(self, ref: DomainRef) -> TestDomain:
        dom = self._node.find(ref)
        if not dom.status.active:
            raise not_running(dom.name, ErrorDomain.TEST)
        return dom

    @hookimpl
    def virtkit_domain_open_console(self, dom: DomainRef, device: str | None, force: bool) -> int:
        node = self._node
        with node.lock:
            d = self._running(dom)
            if device is not None:
                devices = d.current.model.devices
                names = {f"{kind}{i}" for kind, items in (
                    ("serial", devices.serials if devices else ()),
                    ("console", devices.consoles if devices else ()),
                ) for i in range(len(items))}
                if device not in names:
                    raise VirtError(
                        ErrorCode.DEVICE_MISSING,
                        f"device not found: domain '{d.name}' has no console '{device}'",
                        ErrorDomain.TEST,
                    )
            held = d.console
            if held is not None and not held.closed:
                if not force:
                    raise VirtError(
                        ErrorCode.OPERATION_FAILED,
                        f"operation failed: domain '{d.name}' has an active console session; "
                        f"use force to take it",
                        ErrorDomain.TEST,
                    )
                held.close()
            console = ConsoleStream(d.name)
            d.console = console
            return open_stream(self, console)

    @hookimpl
    def virtkit_domain_open_channel(self, dom: DomainRef, name: str | None, force: bool) -> int:
        node = self._node
        with node.lock:
            d = self._running(dom)
            devices = d.current.model.devices
            channels = list(devices.channels if devices else ())
            index = None
            for i, channel in enumerate(channels):
                alias = channel.alias.name if channel.alias is not None else f"channel{i}"
                target = channel.target.name if channel.target is not None else None
                if name is None or name in (alias, target):
                    index = i
                    break
            if index is None:
                what = f"channel '{name}'" if name is not None else "channel"
                raise VirtError(ErrorCode.DEVICE_MISSING,
                                f"device not found: domain '{d.name}' has no {what}",
                                ErrorDomain.TEST)
            held: dict[int, ChannelStream] = d.runtime.setdefault("channels", {})
            old = held.get(index)
            if old is not None and not old.closed:
                if not force:
                    raise VirtError(ErrorCode.OPERATION_FAILED,
                                    f"operation failed: channel {index} of domain '{d.name}' "
                                    f"is held by another client; use force to take it",
                                    ErrorDomain.TEST)
                old.close()
            held[index] = ChannelStream(d.name)
            return open_stream(self, held[index])

    @hookimpl
    def virtkit_domain_interface_addresses(
        self, dom: DomainRef, source: str
    ) -> list[InterfaceAddress]:
        node = self._node
        with node.lock:
            d = self._running(dom)
            devices = d.current.model.devices
            out = []
            for index, iface in enumerate(devices.interfaces if devices else ()):
                if iface.mac is None:
                    continue
                mac = iface.mac.address
                name = iface.target.dev if iface.target is not None and iface.target.dev else (
                    f"vnet{index}"
                )
                host = 3 + index  # as libvirt's test driver: .3 for the first interface
                out.append(InterfaceAddress(
                    name, mac, [{"type": 0, "addr": f"192.168.122.{host}", "prefix": 24}]
                ))
            return out

    def _disk(self, d: TestDomain, device: str) -> None:
        devices = d.current.model.devices
        for disk in devices.disks if devices else ():
            source = disk.source
            if disk.target.dev == device or (source is not None and source.file == device):
                return
        raise VirtError(
            ErrorCode.INVALID_ARG,
            f"invalid argument: '{device}' is not a disk of domain '{d.name}'",
            ErrorDomain.TEST,
        )

    @hookimpl
    def virtkit_domain_block_stats(self, dom: DomainRef, device: str) -> dict[str, int]:
        with self._node.lock:
            d = self._running(dom)
            self._disk(d, device)
            ticks = int(_uptime(d) * 1000)
            return {"rd_req": ticks, "rd_bytes": ticks * 4096, "wr_req": ticks // 2,
                    "wr_bytes": ticks * 2048, "errs": 0}

    @hookimpl
    def virtkit_domain_interface_stats(self, dom: DomainRef, device: str) -> dict[str, int]:
        with self._node.lock:
            d = self._running(dom)
            known = {a.name for a in self.virtkit_domain_interface_addresses(dom, "lease")}
            known |= {a.hwaddr for a in self.virtkit_domain_interface_addresses(dom, "lease")}
            if device not in known:
                raise VirtError(
                    ErrorCode.INVALID_ARG,
                    f"invalid argument: '{device}' is not an interface of domain '{d.name}'",
                    ErrorDomain.TEST,
                )
            ticks = int(_uptime(d) * 1000)
            return {"rx_bytes": ticks * 1500, "rx_packets": ticks, "rx_errs": 0, "rx_drop": 0,
                    "tx_bytes": ticks * 700, "tx_packets": ticks // 2, "tx_errs": 0,
                    "tx_drop": 0}

    @hookimpl
    def virtkit_domain_memory_stats(self, dom: DomainRef) -> dict[str, int]:
        with self._node.lock:
            d = self._running(dom)
            return {"actual": d.memory, "available": d.current.memory,
                    "unused": d.memory // 2, "rss": d.memory // 2}
