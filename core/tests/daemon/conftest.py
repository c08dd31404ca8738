"""A real virtkitd per test, in its own process group, always reaped.

``daemon_factory(extra_config, args=...)`` writes a configuration (unix sockets in the test's
temporary directory), starts ``python -m virtkit.daemon.main`` and waits for its sockets;
``daemon`` is one started with the defaults.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Daemon:
    """One virtkitd process and where to reach it."""

    def __init__(self, base: Path, config: str, args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None, wait_for: str | None = None,
                 sockdir: Path | None = None) -> None:
        self.base = base
        self.sockdir = sockdir or base / "run"
        self.config_path = base / "virtkitd.conf"
        self.config_path.write_text(f'unix_sock_dir = "{self.sockdir}"\nlog_level = 2\n'
                                    + config)
        self.log_path = base / "virtkitd.log"
        self.args = args
        self.env = {**os.environ, **(env or {})}
        self.wait_for = wait_for
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def rw(self) -> str:
        return str(self.sockdir / "virtkit-sock")

    @property
    def ro(self) -> str:
        return str(self.sockdir / "virtkit-sock-ro")

    def uri(self, read_only: bool = False, path: str = "/default", extra: str = "") -> str:
        return f"test+unix://{path}?socket={self.ro if read_only else self.rw}{extra}"

    def start(self) -> Daemon:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "virtkit.daemon.main", "-f", str(self.config_path),
             *self.args],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=self.env,
            start_new_session=True,
        )
        log.close()
        target = self.wait_for or self.rw
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"virtkitd exited with {self.proc.returncode}:\n"
                                     + self.log())
            if self._listening(target):
                return self
            time.sleep(0.05)
        raise AssertionError("virtkitd did not start:\n" + self.log())

    @staticmethod
    def _listening(target: str) -> bool:
        if target.startswith("/"):
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(target)
                return True
            except OSError:
                return False
            finally:
                probe.close()
        host, port = target.rsplit(":", 1)
        try:
            with socket.create_connection((host, int(port)), timeout=0.2):
                return True
        except OSError:
            return False

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def send_signal(self, sig: int) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        else:  # reap what it left in its group
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        return self.proc.returncode


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []
    counter = iter(range(1000))

    def make(config: str = "", args: tuple[str, ...] = (), start: bool = True,
             env: dict[str, str] | None = None, wait_for: str | None = None,
             sockdir: Path | None = None) -> Daemon:
        base = tmp_path / f"d{next(counter)}"
        base.mkdir()
        d = Daemon(base, config, args, env, wait_for, sockdir)
        started.append(d)
        return d.start() if start else d

    try:
        yield make
    finally:
        for d in started:
            d.stop(signal.SIGKILL, timeout=5)


@pytest.fixture
def daemon(daemon_factory: Callable[..., Daemon]) -> Daemon:
    return daemon_factory()


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client one, made by ``virtkit pki``."""
    from click.testing import CliRunner

    from virtkit.cli.main import cli

    out = tmp_path / "pki"
    result = CliRunner().invoke(cli, ["pki", "setup", str(out), "--server-name", "127.0.0.1",
                                      "--client-cn", "virtkit-client-1"])
    assert result.exit_code == 0, result.output
    return out


MINI_DRIVER = '''
"""A small out-of-tree driver that keeps its definitions on disk (state store) and lacks most
hooks: the daemon tests' NO_SUPPORT probe and kill -9 survivor."""
import uuid as _uuid

from virtkit.sdk.driver import Driver
from virtkit.sdk.errors import no_domain
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainInfo, DomainRef, DomainSummary
from virtkit.sdk.store import StateStore
from virtkit.xml.parser import parse_document


class MiniDriver(Driver):
    name = "mini"
    capabilities = {"persistent_domains": True, "transient_domains": False}

    @hookimpl
    def virtkit_connect_open(self, uri, read_only):
        self.store = StateStore(self.context.state_dirs().config)
        return True

    @hookimpl
    def virtkit_connect_close(self):
        return True

    def _ref(self, name):
        if self.store.read("domain", name) is None:
            raise no_domain(name)
        return DomainRef(name, str(_uuid.uuid5(_uuid.NAMESPACE_URL, name)), -1)

    @hookimpl
    def virtkit_domain_define_xml(self, xml, validate):
        name = parse_document(xml, "domain").findtext("name")
        with self.store.locked():
            self.store.write("domain", name, xml.encode())
        return self._ref(name)

    @hookimpl
    def virtkit_domain_lookup_by_name(self, name):
        return self._ref(name)

    @hookimpl
    def virtkit_domain_list(self):
        return [DomainSummary(self._ref(n), 5, 0, True) for n in self.store.names("domain")]

    @hookimpl
    def virtkit_domain_get_info(self, dom):
        self._ref(dom.name)
        return DomainInfo(5, 131072, 131072, 1, 0)

    @hookimpl
    def virtkit_domain_undefine(self, dom, managed_save, snapshots_metadata, nvram):
        with self.store.locked():
            self.store.delete("domain", dom.name)
        return True
'''


@pytest.fixture
def mini_driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment under which virtkitd finds the ``mini`` driver (an entry point of a
    distribution on PYTHONPATH) and keeps its state under the test's directory."""
    site = tmp_path / "site"
    (site / "minidrv").mkdir(parents=True)
    (site / "minidrv" / "__init__.py").write_text(MINI_DRIVER)
    info = site / "minidrv-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: minidrv\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[virtkit.drivers]\nmini = minidrv:MiniDriver\n")
    state = tmp_path / "state"
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "VIRTKIT_STATE_ROOT": str(state)}
    return env


@pytest.fixture
def tcp_port() -> int:
    """A free TCP port on loopback."""
    return free_port()


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon for every example of a hypothesis test in a module."""
    d = Daemon(tmp_path_factory.mktemp("shared"), "")
    try:
        yield d.start()
    finally:
        d.stop(signal.SIGKILL, timeout=5)
