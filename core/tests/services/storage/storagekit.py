"""Helpers for the host storage tests: a state root per test, connections of a test-only
driver that declares ``host_services = ("storage",)``, pools on real directories, loop devices
and mounts that are always released (also when a test fails)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from virtkit.api.connection import Connection
from virtkit.runtime import registry
from virtkit.sdk.driver import Driver
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.uri import parse_uri
from virtkit.services.storage.commands import Result, Runner, command_failed


class HostDriver(Driver):
    """A hypervisor driver with no storage of its own: it declares the host storage service."""

    name = "hosttest"
    host_services = ("storage",)

    @hookimpl
    def virtkit_connect_open(self, uri: str, read_only: bool) -> bool:
        return True

    @hookimpl
    def virtkit_connect_close(self) -> bool:
        return True


def open_host(uri: str = "hosttest:///session", read_only: bool = False) -> Connection:
    """A connection of :class:`HostDriver` with its host services, as ``virtkit.open`` builds."""
    services = registry.service_classes(HostDriver.host_services)
    return Connection(uri, parse_uri(uri), read_only, HostDriver, (), services=services)


def dir_pool_xml(name: str, path: Path | str, uuid: str | None = None) -> str:
    u = f"<uuid>{uuid}</uuid>" if uuid else ""
    return f"<pool type='dir'><name>{name}</name>{u}<target><path>{path}</path></target></pool>"


def vol_xml(name: str, capacity: int, fmt: str = "raw", allocation: int | None = None,
            extra: str = "") -> str:
    alloc = "" if allocation is None else f"<allocation>{allocation}</allocation>"
    return (f"<volume><name>{name}</name><capacity>{capacity}</capacity>{alloc}"
            f"<target><format type='{fmt}'/></target>{extra}</volume>")


def qemu_img_info(path: str, fmt: str) -> dict:
    import json

    out = subprocess.run(["qemu-img", "info", "-U", "--output=json", "-f", fmt, path],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def mounts_under(root: str) -> list[str]:
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4]
            if point == root or point.startswith(root.rstrip("/") + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def loops_of(backing: str) -> list[str]:
    out = subprocess.run(["losetup", "-j", backing, "-O", "NAME", "-n"], capture_output=True,
                         text=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


# -- recorded transcripts ------------------------------------------------------------------------


class Transcript(Runner):
    """Replays a recorded command transcript: each call must be the next recorded argv, and gets
    its recorded exit status and output. Fails the test on any other command."""

    def __init__(self, steps: list[tuple[list[str], int, str, str]]) -> None:
        self.steps = list(steps)
        self.calls: list[list[str]] = []

    def run(self, argv, *, check: bool = True, what: str = "") -> Result:
        argv = list(argv)
        self.calls.append(argv)
        assert self.steps, f"unexpected command (transcript finished): {argv}"
        want, rc, out, err = self.steps.pop(0)
        assert argv == want, f"command {argv} where the transcript has {want}"
        result = Result(tuple(argv), rc, out, err)
        if check and rc != 0:
            raise command_failed(result, what)
        return result

    def which(self, name: str) -> bool:
        """The commands the transcript runs are installed (whatever this host has), others as
        on this host; a test may name commands that are not (``missing``)."""
        if name in self.missing:
            return False
        return any(argv[0] == name for argv, *_ in self.steps) or super().which(name)

    missing: frozenset[str] = frozenset()

    def done(self) -> None:
        assert not self.steps, f"commands of the transcript never ran: {self.steps}"
