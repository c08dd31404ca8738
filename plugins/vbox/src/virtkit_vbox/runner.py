"""Running ``VBoxManage``: one process per command, bounded in time, errors turned into
VirtError with libvirt's codes.

VBoxManage reports a failure on stderr as ``VBoxManage: error: <text>`` lines, the second of which
names the COM result (``Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001), ...``); the exit
status is 1 for a failed operation and 2 for a syntax error.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError

__all__ = ["Runner", "VBoxError", "find_vboxmanage"]

_CODE = re.compile(r"code (\w+) \(0x[0-9a-fA-F]+\)")
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)")
#: COM result -> libvirt error code
_CODES = {
    "VBOX_E_OBJECT_NOT_FOUND": ErrorCode.OPERATION_FAILED,
    "VBOX_E_INVALID_VM_STATE": ErrorCode.OPERATION_INVALID,
    "VBOX_E_INVALID_OBJECT_STATE": ErrorCode.OPERATION_INVALID,
    "VBOX_E_FILE_ERROR": ErrorCode.OPERATION_FAILED,
    "VBOX_E_IPRT_ERROR": ErrorCode.OPERATION_FAILED,
    "E_INVALIDARG": ErrorCode.INVALID_ARG,
    "E_ACCESSDENIED": ErrorCode.ACCESS_DENIED,
}
#: Longest a single VBoxManage command may take (saving a large guest takes a while).
TIMEOUT = 600.0
MAX_OUTPUT = 16 * 1024 * 1024


@attrs.frozen
class VBoxError(Exception):
    """A failed command: its COM result (``VBOX_E_...``, or ``""``), exit status and text."""

    result: str
    status: int
    text: str

    def __str__(self) -> str:
        return self.text


def find_vboxmanage() -> str | None:
    """``$VBOX_MANAGE`` or ``VBoxManage`` on PATH (``vboxmanage`` as some packages name it)."""
    explicit = os.environ.get("VBOX_MANAGE")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which("VBoxManage") or shutil.which("vboxmanage")


class Runner:
    """Runs one VBoxManage binary; knows its version once :meth:`probe` ran."""

    def __init__(self, exe: str, timeout: float = TIMEOUT) -> None:
        self.exe = exe
        self.timeout = timeout
        self.version = (0, 0, 0)

    @property
    def major(self) -> int:
        return self.version[0]

    def probe(self) -> tuple[int, int, int]:
        text = self.run("--version").strip()
        m = _VERSION.match(text)
        if m is None:
            raise VirtError(ErrorCode.NO_CONNECT,
                            f"'{self.exe} --version' printed '{text[:80]}', not a VirtualBox "
                            f"version", ErrorDomain.VBOX)
        self.version = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if self.version[0] < 6 or (self.version[0] == 6 and self.version[1] < 1):
            raise VirtError(ErrorCode.NO_CONNECT,
                            f"VirtualBox {text} is too old: this driver needs 6.1 or later",
                            ErrorDomain.VBOX)
        return self.version

    def raw(self, *args: str) -> str:
        """Run ``VBoxManage -q ARGS``; stdout, or :class:`VBoxError`."""
        try:
            proc = subprocess.run(
                [self.exe, "-q", *args], capture_output=True, timeout=self.timeout,
                stdin=subprocess.DEVNULL, check=False,
            )
        except subprocess.TimeoutExpired:
            raise VirtError(ErrorCode.OPERATION_TIMEOUT,
                            f"VBoxManage {args[0]} did not finish within {self.timeout:.0f} s",
                            ErrorDomain.VBOX) from None
        except OSError as exc:
            raise VirtError(ErrorCode.NO_CONNECT, f"cannot run '{self.exe}': {exc.strerror}",
                            ErrorDomain.VBOX) from None
        out = proc.stdout[:MAX_OUTPUT].decode("utf-8", "replace")
        if proc.returncode != 0:
            err = proc.stderr[:65536].decode("utf-8", "replace")
            m = _CODE.search(err)
            lines = [ln.removeprefix("VBoxManage: error: ").strip() for ln in err.splitlines()
                     if ln.startswith("VBoxManage: error:") and "Details:" not in ln
                     and "Context:" not in ln]
            text = "; ".join(lines) or err.strip() or f"exit status {proc.returncode}"
            raise VBoxError(m.group(1) if m else "", proc.returncode, text)
        return out

    def run(self, *args: str) -> str:
        """As :meth:`raw`, with failures as VirtError (OPERATION_FAILED unless the COM result
        says better), naming the command."""
        try:
            return self.raw(*args)
        except VBoxError as exc:
            raise to_virt_error(exc, args) from None


def to_virt_error(exc: VBoxError, args: tuple[str, ...] | list[str]) -> VirtError:
    code = _CODES.get(exc.result, ErrorCode.OPERATION_FAILED)
    if exc.status == 2:
        code = ErrorCode.INTERNAL_ERROR  # the driver wrote a command VBoxManage refuses
    return VirtError(code, f"VBoxManage {' '.join(args[:2])} failed: {exc.text}",
                     ErrorDomain.VBOX)
