"""govmomi's vSphere simulator for tests, certification and benchmarks.

The simulator is a small Go program of this project's own (``tests/vcsim/main.go`` in the source
tree, shipped as package data ``vcsim_main.go``) built against Debian's
``golang-github-vmware-govmomi-dev`` in GOPATH mode (``GOPATH=/usr/share/gocode``,
``GO111MODULE=off``). The binary is cached under ``$XDG_CACHE_HOME/virtkit/vcsim`` keyed by the
source's hash and the Go version, so only the first run pays for the build (about two minutes on
a busy machine). It serves plain http on a loopback port; :class:`Simulator` starts it, reads its
``READY`` line and stops it (its process group, and its stdin closing ends it too).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import IO, Any

GOPATH = "/usr/share/gocode"
GOVMOMI = Path(GOPATH) / "src/github.com/vmware/govmomi/simulator"
SOURCE = Path(__file__).with_name("vcsim_main.go")


class SimulatorUnavailable(RuntimeError):
    """Go or govmomi's sources are not installed: the reason says which package is missing."""


def unavailable_reason() -> str | None:
    if shutil.which("go") is None:
        return "the Go compiler is not installed (Debian package golang-go)"
    if not GOVMOMI.is_dir():
        return f"govmomi's simulator sources are missing ({GOVMOMI}; Debian package " \
               f"golang-github-vmware-govmomi-dev)"
    return None


def _go_version() -> str:
    out = subprocess.run(["go", "version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "virtkit" / "vcsim"


def binary() -> Path:
    """The built simulator, building it first when the cache has none for this source and Go."""
    reason = unavailable_reason()
    if reason:
        raise SimulatorUnavailable(reason)
    source = SOURCE.read_bytes()
    key = hashlib.sha256(source + _go_version().encode()).hexdigest()[:16]
    target = cache_dir() / f"vcsim-{key}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.parent / f"build-{key}-{os.getpid()}"
    work.mkdir(exist_ok=True)
    try:
        (work / "main.go").write_bytes(source)
        env = {**os.environ, "GOPATH": GOPATH, "GO111MODULE": "off",
               "GOCACHE": str(target.parent / "gocache"), "GOFLAGS": ""}
        out = subprocess.run(["go", "build", "-o", str(work / "vcsim"), "main.go"], cwd=work,
                             env=env, capture_output=True, text=True, timeout=900)
        if out.returncode != 0:
            raise SimulatorUnavailable(f"building the simulator failed: {out.stderr[-2000:]}")
        os.replace(work / "vcsim", target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


class Simulator:
    """One running simulator: ``model`` is ``esx`` or ``vpx``; ``port`` once started."""

    def __init__(self, model: str = "esx", *, vms: int = -1, user: str = "user",
                 password: str = "pass", delay: dict[str, int] | None = None,
                 slow_tasks: dict[str, float] | None = None) -> None:
        self.model = model
        self.vms = vms
        self.user = user
        self.password = password
        self.delay = delay or {}
        self.slow_tasks = slow_tasks or {}
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self, timeout: float = 60) -> Simulator:
        args = [str(binary()), "-model", self.model, "-vm", str(self.vms),
                "-username", self.user, "-password", self.password]
        for method, ms in self.delay.items():
            args += ["-delay", f"{method}={ms}"]
        for method, seconds in self.slow_tasks.items():
            args += ["-slow", f"{method}={seconds}"]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True,
                                     start_new_session=True)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("READY ") or not line:
                break
        if not line.startswith("READY "):
            self.stop()
            raise SimulatorUnavailable(f"the simulator did not start (said {line!r})")
        self.port = int(line.split()[1].rsplit(":", 1)[1].split("/")[0])
        return self

    def uri(self, scheme: str | None = None, user: str | None = None, path: str = "/") -> str:
        scheme = scheme or self.model
        who = f"{user or self.user}@"
        return f"{scheme}://{who}127.0.0.1:{self.port}{path}?no_verify=1&transport=http"

    def kill(self) -> None:
        """Kill it at once (SIGKILL to its process group), as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        for stream in (proc.stdin, proc.stdout):
            _close(stream)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _close(stream: IO[str] | None) -> None:
    if stream is not None:
        try:
            stream.close()
        except OSError:
            pass
