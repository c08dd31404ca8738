"""virsh's screen, input, power and dump commands: screenshot, send-key, inject-nmi,
send-process-signal, dompmsuspend, dompmwakeup and dump."""

from __future__ import annotations

import time

import click

from virtkit.cli._base import command, domain_argument
from virtkit.cli.state import CliState, CommandError

#: linux keycode names (input-event-codes.h) virsh's send-key accepts for the linux codeset
LINUX_NAMES: dict[str, int] = {
    "KEY_ESC": 1, "KEY_MINUS": 12, "KEY_EQUAL": 13, "KEY_BACKSPACE": 14, "KEY_TAB": 15,
    "KEY_ENTER": 28, "KEY_LEFTCTRL": 29, "KEY_LEFTSHIFT": 42, "KEY_RIGHTSHIFT": 54,
    "KEY_LEFTALT": 56, "KEY_SPACE": 57, "KEY_CAPSLOCK": 58, "KEY_F11": 87, "KEY_F12": 88,
    "KEY_RIGHTCTRL": 97, "KEY_SYSRQ": 99, "KEY_RIGHTALT": 100, "KEY_HOME": 102, "KEY_UP": 103,
    "KEY_PAGEUP": 104, "KEY_LEFT": 105, "KEY_RIGHT": 106, "KEY_END": 107, "KEY_DOWN": 108,
    "KEY_PAGEDOWN": 109, "KEY_INSERT": 110, "KEY_DELETE": 111, "KEY_LEFTMETA": 125,
    **{f"KEY_{c}": 2 + i for i, c in enumerate("1234567890")},
    **{f"KEY_{c}": 16 + i for i, c in enumerate("QWERTYUIOP")},
    **{f"KEY_{c}": 30 + i for i, c in enumerate("ASDFGHJKL")},
    **{f"KEY_{c}": 44 + i for i, c in enumerate("ZXCVBNM")},
    **{f"KEY_F{n}": 58 + n for n in range(1, 11)},
}
CODESETS = ("linux", "xt", "atset1", "atset2", "atset3", "os_x", "xt_kbd", "usb", "win32",
            "qnum", "rfb")


def keycode(text: str, codeset: str) -> int:
    """A keycode from a number (decimal or 0x hex) or, for ``linux``, a ``KEY_`` name."""
    try:
        return int(text, 0)
    except ValueError:
        pass
    if codeset == "linux" and text.upper() in LINUX_NAMES:
        return LINUX_NAMES[text.upper()]
    raise CommandError(f"invalid keycode: '{text}'")


@command("screenshot", help="Save a picture of the guest's screen.")
@domain_argument
@click.argument("file", required=False)
@click.option("--screen", type=click.IntRange(min=0), default=0, help="Which screen.")
def cmd_screenshot(state: CliState, domain: str, file: str | None, screen: int) -> None:
    from virtkit.api.domain_graphics import image_mime

    dom = state.domain(domain)
    with state.failing(f"could not take a screenshot of {dom.name}"):
        stream = dom.screenshot(screen)
        data = stream.recv_all()
        stream.finish()
    mime = image_mime(data)
    if file is None:
        ext = {"image/png": "png", "image/x-portable-pixmap": "ppm"}.get(mime, "img")
        file = f"{dom.name}-{time.strftime('%Y-%m-%d-%H:%M:%S')}.{ext}"
    try:
        with open(file, "wb") as f:
            f.write(data)
    except OSError as exc:
        raise CommandError(f"cannot create file {file}: {exc.strerror}") from None
    state.trailer = False  # virsh prints no blank line after it
    state.info(f"Screenshot saved to {file}, with type of {mime}")


@command("send-key", help="Send keys to the guest, pressed together.")
@domain_argument
@click.argument("keycodes", nargs=-1, required=True)
@click.option("--codeset", type=click.Choice(CODESETS), default="linux", show_default=True,
              help="How the keycodes are numbered.")
@click.option("--holdtime", type=click.IntRange(min=0), default=0,
              help="Milliseconds to hold the keys.")
def cmd_send_key(state: CliState, domain: str, keycodes: tuple[str, ...], codeset: str,
                 holdtime: int) -> None:
    if codeset == "rfb":
        codeset = "qnum"  # virsh's alias
    codes = [keycode(k, codeset) for k in keycodes]
    dom = state.domain(domain)
    with state.api():
        dom.send_key(codeset, holdtime, codes)


@command("inject-nmi", help="Send a non-maskable interrupt to the guest.")
@domain_argument
def cmd_inject_nmi(state: CliState, domain: str) -> None:
    dom = state.domain(domain)
    with state.api():
        dom.inject_nmi()


@command("dompmsuspend", help="Suspend the guest to memory, disk or both.")
@domain_argument
@click.argument("target", type=click.Choice(["mem", "disk", "hybrid"]))
@click.option("--duration", type=click.IntRange(min=0), default=0,
              help="Wake up after SECONDS (0: on dompmwakeup).")
def cmd_dompmsuspend(state: CliState, domain: str, target: str, duration: int) -> None:
    dom = state.domain(domain)
    with state.failing(f"Domain '{dom.name}' could not be suspended"):
        dom.pm_suspend_for_duration(target, duration)
    state.info(f"Domain '{dom.name}' successfully suspended")


@command("dompmwakeup", help="Wake up a guest suspended to memory.")
@domain_argument
def cmd_dompmwakeup(state: CliState, domain: str) -> None:
    dom = state.domain(domain)
    with state.failing(f"Domain '{dom.name}' could not be woken up"):
        dom.pm_wakeup()
    state.info(f"Domain '{dom.name}' successfully woken up")


@command("dump", help="Dump the guest's memory to a file.")
@domain_argument
@click.argument("file")
@click.option("--live", is_flag=True, help="Do not pause the guest while dumping.")
@click.option("--crash", is_flag=True, help="Stop the guest afterwards.")
@click.option("--reset", is_flag=True, help="Reset the guest afterwards.")
@click.option("--memory-only", is_flag=True, help="Only the memory.")
@click.option("--format", "fmt", type=click.Choice(["elf", "kdump-zlib", "kdump-lzo",
                                                    "kdump-snappy", "win-dmp"]),
              help="The dump's format (all but elf need --memory-only).")
@click.option("--bypass-cache", is_flag=True, help="Accepted for virsh's sake.")
@click.option("--verbose", is_flag=True, help="Show progress.")
def cmd_dump(state: CliState, domain: str, file: str, live: bool, crash: bool, reset: bool,
             memory_only: bool, fmt: str | None, bypass_cache: bool, verbose: bool) -> None:
    if fmt is not None and not memory_only:
        raise CommandError("--format only works with --memory-only")
    if crash and reset:
        raise CommandError("Options --crash and --reset are mutually exclusive", status=2)
    dom = state.domain(domain)
    with state.failing(f"Failed to core dump domain '{dom.name}' to {file}"):
        dom.core_dump_with_format(file, "raw" if fmt in (None, "elf") else fmt,
                                  memory_only=memory_only, live=live, crash=crash,
                                  reset=reset)
    state.info(f"\nDomain '{dom.name}' dumped to {file}")


@command("send-process-signal", help="Send a signal to a process in the guest.")
@domain_argument
@click.argument("pid", metavar="PID")
@click.argument("signame", metavar="SIGNAME")
def cmd_send_process_signal(state: CliState, domain: str, pid: str, signame: str) -> None:
    from virtkit.sdk.hookspecs.graphics import PROCESS_SIGNALS

    try:
        pid_value = int(pid)
    except ValueError:
        raise CommandError(f"Numeric value '{pid}' for <pid> option is malformed or out of "
                           f"range") from None
    try:
        signum = int(signame)
    except ValueError:
        name = signame.lower().removeprefix("sig")
        if name not in PROCESS_SIGNALS:
            raise CommandError(f"malformed signal name: {signame}") from None
        signum = PROCESS_SIGNALS.index(name)
    dom = state.domain(domain)
    with state.api():
        dom.send_process_signal(pid_value, signum)
