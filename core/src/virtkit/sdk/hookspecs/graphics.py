"""Hookspecs for the guest's screen and input, its power management and core dumps:
screenshot, a connection to its graphics server, send key, inject NMI, signal a guest process,
suspend to memory or disk and wake up, dump, and reading the guest's memory.

All need an active domain (OPERATION_INVALID "domain 'x' is not running"); all read guest
data or change the guest, so none is allowed on a read-only connection.
"""

from __future__ import annotations

from typing import Any

from virtkit.sdk.checks import non_negative, one_of, path
from virtkit.sdk.hookspecs.markers import spec
from virtkit.sdk.records import DomainRef

#: libvirt's keycode sets (virKeycodeSet), by name.
KEYCODE_SETS = ("linux", "xt", "atset1", "atset2", "atset3", "os_x", "xt_kbd", "usb", "win32",
                "qnum")
#: libvirt's virDomainProcessSignal names, by number (0 ``nop`` ... 64 ``rt32``).
PROCESS_SIGNALS = (
    "nop", "hup", "int", "quit", "ill", "trap", "abrt", "bus", "fpe", "kill", "usr1", "segv",
    "usr2", "pipe", "alrm", "term", "stkflt", "chld", "cont", "stop", "tstp", "ttin", "ttou",
    "urg", "xcpu", "xfsz", "vtalrm", "prof", "winch", "poll", "pwr", "sys",
    *(f"rt{n}" for n in range(33)),
)
#: Most keys one ``domain_send_key`` presses together (libvirt's VIR_DOMAIN_SEND_KEY_MAX_KEYS).
MAX_KEYS = 16
#: Power-management suspend targets (libvirt's VIR_NODE_SUSPEND_TARGET_*).
SUSPEND_TARGETS = ("mem", "disk", "hybrid")
#: Core dump formats (virDomainCoreDumpFormat): raw (ELF) and the memory-only ones.
DUMP_FORMATS = ("raw", "kdump-zlib", "kdump-lzo", "kdump-snappy", "win-dmp", "kdump-raw")


def _keycodes(value: Any, op: str) -> Any:
    from virtkit.sdk.errors import invalid_arg

    if not 1 <= len(value) <= MAX_KEYS:
        raise invalid_arg(f"{op}: between 1 and {MAX_KEYS} keycodes, not {len(value)}")
    for code in value:
        if not 0 <= code <= 0xFFFF:
            raise invalid_arg(f"{op}: keycode {code} is out of range (0-65535)")
    return value


@spec(readonly=False, opens_stream=True, checks={"screen": non_negative("screen number")})
def virtkit_domain_screenshot(dom: DomainRef, screen: int) -> int | None:
    """Take a picture of one of the guest's screens, read from a stream.

    :param screen: the screen's number (0 for the first video device's first head).
    :return: a stream id for ``stream_recv``; the data is an image whose first bytes say its
        type (``\\x89PNG`` for PNG, ``P6`` for PPM).
    :raises VirtError: OPERATION_INVALID when not running; INVALID_ARG for a screen the guest
        does not have.
    :state: a download stream is open.
    """


@spec(readonly=False, opens_stream=True,
      checks={"idx": non_negative("graphics device index")})
def virtkit_domain_open_graphics(dom: DomainRef, idx: int, skipauth: bool) -> int | None:
    """Connect to the server of one of the guest's ``<graphics>`` devices (its VNC or SPICE
    server) as a stream (libvirt's virDomainOpenGraphics and virDomainOpenGraphicsFD, whose
    file descriptor is this stream): the client speaks the server's protocol over it.

    :param idx: the graphics device's index among the domain's ``<graphics>`` elements.
    :param skipauth: connect without the server's authentication (a password set with
        ``<graphics passwd=...>``), as libvirt's VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH.
    :return: a stream id for the ``stream_*`` hooks.
    :raises VirtError: OPERATION_INVALID when not running; INVALID_ARG for an index the domain
        has no graphics device for, or a graphics type that has no server to connect to
        (``sdl``, ``egl-headless``...).
    :state: a graphics client stream is open (until closed or the guest stops).
    """


@spec(readonly=False, checks={"codeset": one_of("keycode set", KEYCODE_SETS),
                              "holdtime": non_negative("hold time in ms"),
                              "keycodes": _keycodes})
def virtkit_domain_send_key(
    dom: DomainRef, codeset: str, holdtime: int, keycodes: list[int]
) -> bool | None:
    """Press the keys together for ``holdtime`` ms (0: the driver's default) and release them.

    :param codeset: how ``keycodes`` are numbered (``linux``, ``xt``, ``usb``...).
    :return: True.
    :raises VirtError: OPERATION_INVALID when not running; INVALID_ARG for more than 16 keys
        or a keycode out of range.
    :state: the guest received the keys.
    """


def _pid(value: Any, op: str) -> Any:
    from virtkit.sdk.errors import invalid_arg

    if value == 0:
        raise invalid_arg(f"{op}: pid_value must not be zero (a process id > 0, a process "
                          f"group id < 0)")
    return value


def _signum(value: Any, op: str) -> Any:
    from virtkit.sdk.errors import invalid_arg

    if not 0 <= value < len(PROCESS_SIGNALS):
        raise invalid_arg(f"{op}: signum value {value} is out of range (0-"
                          f"{len(PROCESS_SIGNALS) - 1})")
    return value


@spec(readonly=False, checks={"pid": _pid, "signum": _signum})
def virtkit_domain_send_process_signal(dom: DomainRef, pid: int, signum: int) -> bool | None:
    """Send a signal to a process inside the guest (libvirt's virDomainSendProcessSignal).

    :param pid: the process id in the guest's namespace (> 0), or a process group (< 0); a
        driver must support 1 (the guest's init) and may refuse others.
    :param signum: libvirt's signal number (:data:`PROCESS_SIGNALS`: 0 ``nop`` only checks
        that the process exists, 9 ``kill``, 15 ``term``...).
    :return: True.
    :raises VirtError: INVALID_ARG for pid 0, a signal out of range or a pid the driver cannot
        signal; OPERATION_INVALID when not running.
    :state: the process received the signal.
    """


@spec(readonly=False)
def virtkit_domain_inject_nmi(dom: DomainRef) -> bool | None:
    """Send a non-maskable interrupt to the guest.

    :return: True.
    :raises VirtError: OPERATION_INVALID when not running.
    :state: the guest handles the NMI (a Linux guest may log it or panic).
    """


@spec(readonly=False, checks={"target": one_of("suspend target", SUSPEND_TARGETS),
                              "duration": non_negative("duration in seconds")})
def virtkit_domain_pm_suspend(dom: DomainRef, target: str, duration: int) -> bool | None:
    """Ask the guest to suspend itself (ACPI S3 ``mem``, S4 ``disk``, or ``hybrid``).

    :param duration: wake up after this many seconds; 0 waits for ``pm_wakeup``.
    :return: True.
    :raises VirtError: OPERATION_INVALID when not running (or not in state RUNNING);
        ARGUMENT_UNSUPPORTED for a target or duration the driver cannot deliver.
    :state: ``mem``/``hybrid``: PMSUSPENDED, events ``domain-pm-suspend`` and lifecycle
        PMSUSPENDED/MEMORY; ``disk``: the guest hibernates and powers off, events
        ``domain-pm-suspend-disk``, PMSUSPENDED/DISK, then STOPPED/SHUTDOWN.
    """


@spec(readonly=False)
def virtkit_domain_pm_wakeup(dom: DomainRef) -> bool | None:
    """Wake up a guest suspended to memory.

    :return: True.
    :raises VirtError: OPERATION_INVALID when the domain is not pmsuspended.
    :state: RUNNING/WAKEUP; events ``domain-pm-wakeup`` and STARTED/WAKEUP.
    """


@spec(readonly=False, checks={"path": path, "format": one_of("dump format", DUMP_FORMATS)})
def virtkit_domain_core_dump(
    dom: DomainRef, path: str, format: str, memory_only: bool, live: bool, crash: bool,
    reset: bool,
) -> bool | None:
    """Write the guest's memory (and with ``raw`` not ``memory_only``, its device state) to
    ``path`` as a core file; a job.

    :param format: ``raw`` (ELF), or with ``memory_only`` a kdump or Windows dump format.
    :param live: do not pause the guest while dumping.
    :param crash: stop the guest afterwards (SHUTOFF/CRASHED); :param reset: reset it.
    :return: True.
    :raises VirtError: OPERATION_INVALID when not running; INVALID_ARG for a non-raw format
        without ``memory_only`` or ``crash`` with ``reset``; SYSTEM_ERROR naming the path when
        it cannot be written; ARGUMENT_UNSUPPORTED for a format the driver lacks.
    :state: the file exists (mode 0600); with ``crash`` STOPPED/CRASHED; event
        ``domain-job-completed`` with the dump job's statistics.
    """


def _memory_peek_size(value: Any, op: str) -> Any:
    from virtkit.sdk.errors import invalid_arg
    from virtkit.sdk.hookspecs.blockjobs import PEEK_MAX

    if not 0 <= value <= PEEK_MAX:
        raise invalid_arg(f"{op}: size {value} must be from 0 to {PEEK_MAX} bytes")
    return value


@spec(readonly=False, checks={"start": non_negative("start address"),
                              "size": _memory_peek_size})
def virtkit_domain_memory_peek(dom: DomainRef, start: int, size: int,
                               physical: bool) -> bytes | None:
    """Read ``size`` bytes of the running guest's memory from ``start`` (libvirt's
    virDomainMemoryPeek); it reads guest data, so not on a read-only connection.

    :param physical: ``start`` is a guest physical address (VIR_MEMORY_PHYSICAL), else a
        virtual address as the guest's first vcpu maps it (VIR_MEMORY_VIRTUAL).
    :return: exactly ``size`` bytes.
    :raises VirtError: OPERATION_INVALID when not running; INVALID_ARG for a size above 4 MiB
        or a range beyond the guest's memory.
    :state: none.
    """
