"""Running the host's storage tools (qemu-img, mkfs, mount, parted, lvm2, iscsiadm).

Every external command goes through a :class:`Runner`, so a backend's command sequence is one
list of argv vectors: the real runner executes them, a test may replay a recorded transcript.
A command that fails raises OPERATION_FAILED with the command and its stderr.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

import attrs

from virtkit.services.storage.errors import failed

#: the environment of every command: C locale (parsable output), no prompts from lvm2.
_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "LC_ALL": "C",
    "LVM_SUPPRESS_FD_WARNINGS": "1",
}


@attrs.frozen
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class Runner:
    """Runs commands on this host."""

    timeout: float = 3600.0

    def run(self, argv: Sequence[str], *, check: bool = True, what: str = "") -> Result:
        """Run ``argv``; OPERATION_FAILED naming ``what`` when it fails and ``check``."""
        try:
            proc = subprocess.run(
                list(argv), capture_output=True, text=True, env=_ENV, timeout=self.timeout,
                stdin=subprocess.DEVNULL, check=False,
            )
        except FileNotFoundError:
            raise failed(
                f"{what or 'storage'}: the command '{argv[0]}' is not installed on this host"
            ) from None
        except subprocess.TimeoutExpired:
            raise failed(f"{what or 'storage'}: '{' '.join(argv)}' did not finish in time") \
                from None
        result = Result(tuple(argv), proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise command_failed(result, what)
        return result

    def which(self, name: str) -> bool:
        return any(
            os.access(os.path.join(d, name), os.X_OK) for d in _ENV["PATH"].split(":")
        )


def command_failed(result: Result, what: str = "") -> Exception:
    detail = (result.stderr or result.stdout).strip().splitlines()
    tail = detail[-1] if detail else f"exit status {result.returncode}"
    prefix = f"{what}: " if what else ""
    return failed(f"{prefix}'{' '.join(result.argv)}' failed: {tail}")
