"""The xl toolstack as a Python API: each method is one ``xl`` command through a runner.

Output parsing follows what xl 4.17 prints (``xl list -v`` columns, ``xl info`` ``key : value``
lines); a failing command raises ``VirtError`` naming the domain and quoting xl's message.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Sequence

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit_xen.runner import Runner, RunResult

__all__ = ["XL", "XlDomain"]

_LIST = re.compile(r"^(?P<name>\S.*?)\s+(?P<id>\d+)\s+(?P<mem>\d+)\s+(?P<vcpus>\d+)\s+"
                   r"(?P<state>[-rbpscd]{6})\s+(?P<time>[\d.]+)(?:\s+(?P<uuid>[0-9a-f-]{36}))?")


@attrs.frozen
class XlDomain:
    """One line of ``xl list -v``: memory in MiB, cpu time in seconds, the six state flags
    (running, blocked, paused, shutdown, crashed, dying)."""

    name: str
    domid: int
    mem_mib: int
    vcpus: int
    state: str
    cpu_time: float
    uuid: str | None

    @property
    def paused(self) -> bool:
        return self.state[2] == "p"

    @property
    def gone(self) -> bool:
        """Shut down or dying: on its way out (xl shows ``(null) --ps--`` briefly). A domain
        whose name xl could not read is listed as ``(null)`` too: the uuid tells which it is."""
        return "d" in self.state or "s" in self.state


class XL:
    """``xl`` commands. ``path``: the xl binary in dom0."""

    def __init__(self, runner: Runner, path: str = "xl", timeout: float = 180.0) -> None:
        self.runner, self.path, self.timeout = runner, path, timeout

    def run(self, *args: str, input: bytes | None = None, what: str = "",
            timeout: float | None = None, check: bool = True) -> RunResult:
        argv = [self.path, *args]
        r = self.runner.run(argv, input=input, timeout=timeout or self.timeout)
        if check and r.rc != 0:
            lines = (r.stderr.strip() or r.stdout.strip() or f"exit status {r.rc}").splitlines()
            # the first error is the cause; libxl's clean-up errors follow it
            errs = [x for x in lines if "error" in x or "panic" in x] or lines[-1:]
            subject = f" for {what}" if what else ""
            raise VirtError(ErrorCode.OPERATION_FAILED,
                            f"operation failed: 'xl {args[0]}'{subject}: {errs[0]}",
                            ErrorDomain.LIBXL)
        return r

    def sh(self, argv: Sequence[str], input: bytes | None = None) -> RunResult:
        return self.runner.run(list(argv), input=input, timeout=self.timeout)

    # -- queries --------------------------------------------------------------------------------

    def list(self, attempts: int = 3) -> list[XlDomain]:
        """``xl list -v``. Every listing holds Domain-0; one without it is no listing (on the
        real run an ``xl list -v`` under load once answered exit status 0 with no output at
        all, which read as "every guest is gone"): asked again, up to ``attempts`` times,
        then OPERATION_FAILED."""
        for attempt in range(attempts):
            out = self.run("list", "-v").stdout
            doms = []
            for line in out.splitlines()[1:]:
                m = _LIST.match(line)
                if m:
                    doms.append(XlDomain(m["name"], int(m["id"]), int(m["mem"]),
                                         int(m["vcpus"]), m["state"], float(m["time"]),
                                         m["uuid"]))
            if any(d.domid == 0 for d in doms):
                return doms
            if attempt + 1 < attempts:
                time.sleep(0.5)
        raise VirtError(ErrorCode.OPERATION_FAILED, "operation failed: 'xl list -v' listed no "
                        f"Domain-0 in {attempts} attempts: {out.strip()[:200]!r}",
                        ErrorDomain.LIBXL)

    def info(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for line in self.run("info").stdout.splitlines():
            k, sep, v = line.partition(":")
            if sep:
                out[k.strip()] = v.strip()
        return out

    # -- lifecycle ------------------------------------------------------------------------------

    def write_file(self, path: str, data: bytes) -> None:
        r = self.sh(["sh", "-c", f"mkdir -p {shlex.quote(path.rsplit('/', 1)[0] or '/')} && "
                     f"cat > {shlex.quote(path)}"], input=data)
        if r.rc != 0:
            raise VirtError(ErrorCode.SYSTEM_ERROR, f"cannot write '{path}' in dom0: "
                            f"{r.stderr.strip()}", ErrorDomain.LIBXL)

    def create(self, cfg_path: str, name: str, paused: bool) -> int:
        self.run("create", *(["-p"] if paused else []), cfg_path, what=f"domain '{name}'")
        return self.domid(name)

    def domid(self, name: str) -> int:
        """``xl domid``; when its answer is not a number (on the real run, under load, the
        dom0 channel once brought back empty answers for a few commands in a row) or xl failed
        (once, in a certification run on the real Xen, ``xl domid`` right after a successful
        ``xl create`` died with ``Aborted``), the id from ``xl list -v``."""
        r = self.run("domid", name, what=f"domain '{name}'", check=False)
        out = r.stdout.strip()
        if r.rc == 0 and out.isdigit():
            return int(out)
        for d in self.list():
            if d.name == name and not d.gone:
                return d.domid
        said = f"failed (exit status {r.rc}: {(r.stderr.strip() or out)[:200]!r})" if r.rc \
            else f"answered {out!r}"
        raise VirtError(ErrorCode.OPERATION_FAILED, f"operation failed: 'xl domid {name}' "
                        f"{said} and xl does not list it", ErrorDomain.LIBXL)

    def pause(self, name: str) -> None:
        self.run("pause", name, what=f"domain '{name}'")

    def unpause(self, name: str) -> None:
        self.run("unpause", name, what=f"domain '{name}'")

    def shutdown(self, name: str, wait: bool = False) -> None:
        self.run("shutdown", *(["-w"] if wait else []), name, what=f"domain '{name}'")

    def reboot(self, name: str) -> None:
        self.run("reboot", name, what=f"domain '{name}'")

    def reset(self, name: str) -> None:
        self.run("trigger", name, "reset", what=f"domain '{name}'")

    def destroy(self, name: str) -> None:
        self.run("destroy", name, what=f"domain '{name}'")

    def wait_gone(self, name: str, timeout: float = 60.0) -> None:
        """Poll until ``name`` is no longer listed (after ``shutdown -w`` xl can still show a
        ``(null) --ps--`` entry for a moment)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            doms = self.list()
            if not any(d.name == name for d in doms) and not any(
                    d.name == "(null)" for d in doms):
                return
            time.sleep(0.2)
        raise VirtError(ErrorCode.OPERATION_TIMEOUT, f"domain '{name}' did not go away within "
                        f"{timeout:g} s", ErrorDomain.LIBXL)

    def wait_restarted(self, name: str, old_domid: int, timeout: float = 120.0) -> int:
        """Poll until ``name`` is listed again under a domain id other than ``old_domid``, not
        on its way out and no longer paused (a reboot on the real run: xl shows the old domain
        shut down, then for a moment none, then the new one paused with 0 vcpus while xl builds
        it, then running); its new domain id."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for d in self.list():
                if d.name == name and d.domid != old_domid and not d.gone and not d.paused:
                    return d.domid
            time.sleep(0.2)
        raise VirtError(ErrorCode.OPERATION_TIMEOUT, f"domain '{name}' did not come back from "
                        f"its reboot within {timeout:g} s", ErrorDomain.LIBXL)

    def wait_control(self, name: str, feature: str, timeout: float = 180.0) -> None:
        """Wait until the guest's kernel declares ``control/FEATURE`` in xenstore (Linux writes
        feature-poweroff, feature-suspend... once its xenbus is up): before that, a shutdown or
        suspend request goes unanswered ("domain did not respond to suspend request")."""
        domid = self.domid(name)
        deadline = time.monotonic() + timeout
        key = f"/local/domain/{domid}/control/{feature}"
        while True:
            r = self.sh(["xenstore-read", key])
            if r.rc == 0 and r.stdout.strip() == "1":
                return
            if time.monotonic() > deadline:
                raise VirtError(ErrorCode.OPERATION_TIMEOUT, f"domain '{name}' has not declared "
                                f"{feature} within {timeout:g} s (is its kernel up?)",
                                ErrorDomain.LIBXL)
            time.sleep(0.5)

    def save(self, name: str, path: str) -> None:
        self.run("save", name, path, what=f"domain '{name}'")

    def restore(self, path: str, cfg_path: str | None, paused: bool) -> None:
        self.run("restore", *(["-p"] if paused else []), *([cfg_path] if cfg_path else []),
                 path, what=f"image '{path}'")

    def migrate(self, name: str, host: str, *, ssh: str | None = None, debug: bool = False,
                paused: bool = False, timeout: float = 1800.0) -> None:
        """``xl migrate [-s SSH] [--debug] [-p] NAME HOST``: the receiver on HOST runs the
        guest when this returns (``-p``: leaves it paused); on failure it runs here still."""
        self.run("migrate", *(["-s", ssh] if ssh else []), *(["--debug"] if debug else []),
                 *(["-p"] if paused else []), name, host,
                 what=f"domain '{name}' to host '{host}'", timeout=timeout)

    # -- devices and resources ------------------------------------------------------------------

    def block_attach(self, name: str, spec: str) -> None:
        self.run("block-attach", name, spec, what=f"domain '{name}'")

    def block_detach(self, name: str, vdev: str) -> None:
        self.run("block-detach", name, vdev, what=f"domain '{name}'")

    def network_attach(self, name: str, spec: str) -> None:
        self.run("network-attach", name, *spec.split(","), what=f"domain '{name}'")

    def network_detach(self, name: str, mac: str) -> None:
        self.run("network-detach", name, mac, what=f"domain '{name}'")

    def cd_insert(self, name: str, vdev: str, target: str) -> None:
        """``xl cd-insert NAME VDEV TARGET``: new media in the guest's cdrom ``vdev``."""
        self.run("cd-insert", name, vdev, target, what=f"domain '{name}'")

    def cd_eject(self, name: str, vdev: str) -> None:
        """``xl cd-eject NAME VDEV``: the guest's cdrom ``vdev`` left empty."""
        self.run("cd-eject", name, vdev, what=f"domain '{name}'")

    def vcpu_set(self, name: str, count: int) -> None:
        self.run("vcpu-set", name, str(count), what=f"domain '{name}'")

    def mem_set(self, name: str, kib: int) -> None:
        self.run("mem-set", name, f"{kib}k", what=f"domain '{name}'")

    def mem_max(self, name: str, kib: int) -> None:
        self.run("mem-max", name, f"{kib}k", what=f"domain '{name}'")
