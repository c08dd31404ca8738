"""Screen, input, power management and core dumps on :class:`~virtkit.api.domain.Domain`
(libvirt-python's names in snake_case; where libvirt takes a number for a name, both work)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from virtkit.sdk.errors import invalid_arg
from virtkit.sdk.records import DomainRef

#: memory_peek's flags (libvirt's VIR_MEMORY_VIRTUAL and VIR_MEMORY_PHYSICAL)
MEMORY_VIRTUAL, MEMORY_PHYSICAL = 1, 2

if TYPE_CHECKING:
    from virtkit.api.connection import Connection
    from virtkit.api.stream import Stream

KEYCODE_SETS = ("linux", "xt", "atset1", "atset2", "atset3", "os_x", "xt_kbd", "usb", "win32",
                "qnum")
SUSPEND_TARGETS = ("mem", "disk", "hybrid")
DUMP_FORMATS = ("raw", "kdump-zlib", "kdump-lzo", "kdump-snappy", "win-dmp", "kdump-raw")


def _named(value: int | str, names: tuple[str, ...], what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < len(names):
            return names[value]
        raise invalid_arg(f"unknown {what} {value} (0-{len(names) - 1})")
    return str(value)


def image_mime(data: bytes) -> str:
    """The MIME type of a screenshot from its first bytes."""
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"P6"):
        return "image/x-portable-pixmap"
    return "application/octet-stream"


class GraphicsMethods:
    """Mixed into Domain."""

    __slots__ = ()
    if TYPE_CHECKING:
        _conn: Connection
        _ref: DomainRef

    def screenshot(self, screen: int = 0) -> Stream:
        """A stream with a picture of ``screen`` (its first bytes say the type:
        :func:`image_mime`)."""
        from virtkit.api.stream import Stream

        sid = self._conn.hooks.domain_screenshot(dom=self._ref, screen=screen)
        return Stream(self._conn, sid, "download")

    def open_graphics(self, idx: int = 0, skipauth: bool = False) -> Stream:
        """A client connection to the server of the guest's ``idx``-th ``<graphics>`` device
        (VNC: the stream carries RFB) as a :class:`~virtkit.stream.Stream`; ``skipauth``
        connects without the server's password (libvirt's VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH).
        libvirt's openGraphicsFD is this call: the stream stands for its file descriptor."""
        from virtkit.api.stream import Stream

        sid = self._conn.hooks.domain_open_graphics(dom=self._ref, idx=idx, skipauth=skipauth)
        return Stream(self._conn, sid, "graphics")

    def send_key(self, codeset: int | str, holdtime: int, keycodes: list[int]) -> None:
        """Press ``keycodes`` (of ``codeset``: 0/``linux``, 1/``xt``, ... 7/``usb``) together
        for ``holdtime`` ms."""
        self._conn.hooks.domain_send_key(
            dom=self._ref, codeset=_named(codeset, KEYCODE_SETS, "keycode set"),
            holdtime=holdtime, keycodes=list(keycodes))

    def send_process_signal(self, pid_value: int, signum: int | str) -> None:
        """Send signal ``signum`` (libvirt's number, or its name: ``kill``, ``term``, ``nop``)
        to process ``pid_value`` in the guest (1: its init)."""
        from virtkit.sdk.hookspecs.graphics import PROCESS_SIGNALS

        if isinstance(signum, str):
            name = signum.lower().removeprefix("sig")
            if name not in PROCESS_SIGNALS:
                raise invalid_arg(f"unknown signal '{signum}'")
            signum = PROCESS_SIGNALS.index(name)
        self._conn.hooks.domain_send_process_signal(dom=self._ref, pid=pid_value,
                                                    signum=signum)

    def memory_peek(self, start: int, size: int, flags: int) -> bytes:
        """``size`` bytes (at most 4 MiB) of the running guest's memory from ``start``;
        ``flags`` is libvirt's MEMORY_VIRTUAL (1: a virtual address of the guest's first vcpu)
        or MEMORY_PHYSICAL (2: a physical address)."""
        if flags not in (MEMORY_VIRTUAL, MEMORY_PHYSICAL):
            raise invalid_arg(f"memory peek flags must be MEMORY_VIRTUAL (1) or MEMORY_PHYSICAL "
                              f"(2), not {flags!r}")
        return self._conn.hooks.domain_memory_peek(dom=self._ref, start=start, size=size,
                                                   physical=flags == MEMORY_PHYSICAL)

    def inject_nmi(self) -> None:
        self._conn.hooks.domain_inject_nmi(dom=self._ref)

    def pm_suspend_for_duration(self, target: int | str, duration: int = 0) -> None:
        """Suspend the guest to ``mem`` (0), ``disk`` (1) or ``hybrid`` (2); wake it after
        ``duration`` seconds unless 0."""
        self._conn.hooks.domain_pm_suspend(
            dom=self._ref, target=_named(target, SUSPEND_TARGETS, "suspend target"),
            duration=duration)

    def pm_wakeup(self) -> None:
        self._conn.hooks.domain_pm_wakeup(dom=self._ref)

    def core_dump(self, to: str, memory_only: bool = False, live: bool = False,
                  crash: bool = False, reset: bool = False) -> None:
        """Dump the guest's memory to the file ``to`` (ELF)."""
        self.core_dump_with_format(to, "raw", memory_only, live, crash, reset)

    def core_dump_with_format(self, to: str, dumpformat: int | str, memory_only: bool = False,
                              live: bool = False, crash: bool = False,
                              reset: bool = False) -> None:
        """As :meth:`core_dump` in ``dumpformat``: 0/``raw``, 1/``kdump-zlib``,
        2/``kdump-lzo``, 3/``kdump-snappy``, 4/``win-dmp`` (all but raw need
        ``memory_only``)."""
        self._conn.hooks.domain_core_dump(
            dom=self._ref, path=os.fspath(to), format=_named(dumpformat, DUMP_FORMATS,
                                                             "dump format"),
            memory_only=memory_only, live=live, crash=crash, reset=reset)
