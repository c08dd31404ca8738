"""The warm command-line server (virtkit.cli.launch and virtkit.cli.warm): commands handed to a
fork of it behave as commands run in a process of their own, and the server stays safe."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import virtkit_executable

DOMAIN = """<domain type='test'><name>fromfile</name><memory>8192</memory><vcpu>1</vcpu>
<os><type>hvm</type></os></domain>"""


class Warm:
    """Runs ``virtkit`` with the server on, in a runtime directory of the test's own."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.runtime = tmp_path / "run"
        self.runtime.mkdir(mode=0o700)
        self.env = dict(os.environ, XDG_RUNTIME_DIR=str(self.runtime), VIRTKIT_CLI_SERVER="1",
                        VIRTKIT_CLI_SERVER_IDLE="120", XDG_CACHE_HOME=str(tmp_path / "cache"))
        self.exe = virtkit_executable()

    @property
    def dir(self) -> Path:
        return self.runtime / "virtkit"

    def run(self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.exe, *args], input=stdin, capture_output=True, text=True,
                              env={**self.env, **(env or {})}, cwd=cwd or self.tmp, timeout=60)

    def servers(self) -> dict[str, int]:
        found = {}
        for pidfile in self.dir.glob("cli-*.pid"):
            try:
                found[pidfile.name] = int(pidfile.read_text())
            except (OSError, ValueError):
                continue
        return found

    def start(self, env: dict[str, str] | None = None) -> int:
        """A first command starts the server; wait until it answers. Its pid."""
        before = set(self.servers().values())
        first = subprocess.Popen([self.exe, "-c", "test:///default", "list"],
                                 env={**self.env, **(env or {})}, cwd=self.tmp,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while True:  # watched while the first command runs: an idle server may leave soon
                new = set(self.servers().values()) - before
                if new:
                    pid = new.pop()
                    break
                assert time.monotonic() < deadline, "the warm server did not start"
                time.sleep(0.02)
        finally:
            first.wait(60)
        if _alive(pid):
            self.run("-c", "test:///default", "list", env=env)  # waits out its imports
        return pid

    def stop_all(self) -> None:
        """Stop every server, and every fork of theirs still running (a test that failed
        midway may leave one, which would outlive its server)."""
        servers = list(self.servers().values())
        pids = [*servers, *(fork for pid in servers for fork in _children(pid))]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        for pid in pids:
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _steady(out: str) -> str:
    """Output without what changes from one run to the next (dominfo's CPU time grows with the
    time the domain has run)."""
    return "\n".join(line for line in out.splitlines() if not line.startswith("CPU time:"))


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


@pytest.fixture
def warm(tmp_path: Path) -> Iterator[Warm]:
    w = Warm(tmp_path)
    try:
        yield w
    finally:
        w.stop_all()


def test_a_served_command_is_the_command_run_here(warm: Warm) -> None:
    """Output, errors and exit status are the same with the server and without it; the server's
    socket and directory are closed to others."""
    pid = warm.start()
    assert _alive(pid)
    sock = next(warm.dir.glob("cli-*.sock"))
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert stat.S_IMODE(warm.dir.stat().st_mode) == 0o700
    for args in (["-c", "test:///default", "list", "--all"],
                 ["-c", "test:///default", "dominfo", "test"],
                 ["-c", "test:///default", "dominfo", "nosuch"],
                 ["-c", "test:///default", "nosuchcommand"],
                 ["-c", "test:///default", "domstate", "--domain", "test", "--reason"]):
        served = warm.run(*args)
        here = warm.run(*args, env={"VIRTKIT_CLI_SERVER": "0"})
        assert (served.returncode, _steady(served.stdout), served.stderr) == \
            (here.returncode, _steady(here.stdout), here.stderr), args
    assert warm.run("-c", "test:///default", "dominfo", "nosuch").returncode == 1


def test_each_command_starts_from_a_fresh_test_default(warm: Warm) -> None:
    """test:///default is per process: a change made by one served command is not seen by the
    next, as with separate processes."""
    warm.start()
    assert warm.run("-c", "test:///default", "destroy", "test").returncode == 0
    out = warm.run("-c", "test:///default", "domstate", "test")
    assert out.stdout.strip() == "running"


def test_the_fork_takes_the_clients_directory_environment_and_stdin(warm: Warm) -> None:
    warm.start()
    work = warm.tmp / "work"
    work.mkdir()
    (work / "dom.xml").write_text(DOMAIN)
    # a relative path is read from the client's directory; the batch reads the client's stdin
    out = warm.run("-c", "test:///default", stdin="define dom.xml\nlist --all --name\n", cwd=work)
    assert out.returncode == 0, out.stderr
    assert "Domain 'fromfile' defined from dom.xml" in out.stdout
    assert out.stdout.strip().splitlines()[-2:] == ["test", "fromfile"]  # running ones first, as virsh
    # an environment variable outside the server's key reaches the command
    env = warm.run("-c", "test:///default", "list", env={"EDITOR": "cat"})
    assert env.returncode == 0


def test_signals_reach_the_command_and_its_status_comes_back(warm: Warm) -> None:
    """`event --loop` runs in the server's fork; SIGINT to the client ends it as virsh's does
    (exit 1, "event loop interrupted"), even when the client inherited SIGINT as ignored."""
    server = warm.start()
    proc = subprocess.Popen(
        [warm.exe, "-c", "test:///default", "event", "--loop", "--all"], env=warm.env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline = time.monotonic() + 30
        while not _children(server):
            assert time.monotonic() < deadline and proc.poll() is None, "no fork ran the command"
            time.sleep(0.05)
        (fork,) = _children(server)
        time.sleep(0.5)  # let the loop start
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err
    assert "event loop interrupted" in out + err
    deadline = time.monotonic() + 10
    while _alive(fork) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(fork)


def test_a_client_that_dies_takes_its_command_with_it(warm: Warm) -> None:
    server = warm.start()
    proc = subprocess.Popen([warm.exe, "-c", "test:///default", "event", "--loop", "--all"],
                            env=warm.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _children(server):
            assert time.monotonic() < deadline, "no fork ran the command"
            time.sleep(0.05)
        (fork,) = _children(server)
        proc.kill()
        proc.wait()
        while _alive(fork) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(fork)
        assert _alive(server)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_changed_code_retires_the_server(warm: Warm, tmp_path: Path) -> None:
    """A directory on the server's path that changes (a package installed or edited) makes it
    refuse, finish and exit; the command runs in the client and a new server starts."""
    extra = tmp_path / "extra"
    extra.mkdir()
    env = {"PYTHONPATH": str(extra)}
    old = warm.start(env)
    time.sleep(0.05)
    (extra / "newmodule.py").write_text("X = 1\n")
    out = warm.run("-c", "test:///default", "list", "--all", env=env)
    assert out.returncode == 0 and " test " in out.stdout
    deadline = time.monotonic() + 30
    while _alive(old):
        assert time.monotonic() < deadline, "the changed server did not leave"
        time.sleep(0.05)
    assert warm.start(env) != old


def test_another_environment_gets_another_server(warm: Warm) -> None:
    first = warm.start()
    second = warm.start({"LIBVIRT_DEFAULT_URI": "test:///default"})
    assert first != second and _alive(first) and _alive(second)
    assert len(list(warm.dir.glob("cli-*.sock"))) == 2


def test_no_server_where_the_directory_is_not_private(warm: Warm) -> None:
    warm.dir.mkdir(mode=0o700)
    warm.dir.chmod(0o777)
    try:
        out = warm.run("-c", "test:///default", "list", "--all")
        assert out.returncode == 0 and " test " in out.stdout
        time.sleep(1)
        assert not list(warm.dir.glob("cli-*"))
    finally:
        warm.dir.chmod(0o700)


def test_a_server_refuses_a_client_with_another_key(warm: Warm) -> None:
    """A client whose key differs (forged onto another's socket) is refused, not served."""
    warm.start()
    sock = str(next(warm.dir.glob("cli-*.sock")))
    probe = (
        "import sys, os, array, marshal, socket\n"
        "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
        "body = marshal.dumps({'key': 'other', 'argv': ['list'], 'env': {}, 'cwd': '/',"
        " 'umask': 18})\n"
        "s.sendmsg([len(body).to_bytes(4, 'big') + body],"
        " [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [0, 1, 2]).tobytes())])\n"
        "print(s.recv(5)[:1].decode())\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, sock], capture_output=True, text=True,
                         timeout=30)
    assert out.stdout.strip() == "R", out.stderr


def test_a_malformed_request_with_the_right_key_is_refused_and_the_server_stays(
    warm: Warm
) -> None:
    """Two descriptors instead of three, under the server's own key: refused, and the server
    goes on serving (only changed code makes it leave)."""
    server = warm.start()
    sock = str(next(warm.dir.glob("cli-*.sock")))
    probe = (
        "import sys, array, marshal, socket\n"
        "from virtkit.cli.launch import server_key\n"
        "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
        "body = marshal.dumps({'key': server_key(sys.path[1:]), 'argv': ['list'], 'env': {},"
        " 'cwd': '/', 'umask': 18})\n"
        "s.sendmsg([len(body).to_bytes(4, 'big') + body],"
        " [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [0, 1]).tobytes())])\n"
        "print(s.recv(5)[:1].decode())\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, sock], capture_output=True, text=True,
                         env=warm.env, timeout=30)
    assert out.stdout.strip() == "R", out.stderr
    time.sleep(0.5)
    assert _alive(server)
    assert server in warm.servers().values()
    served = warm.run("-c", "test:///default", "list", "--all")
    assert served.returncode == 0 and " test " in served.stdout
    assert server in warm.servers().values()


def test_idle_server_leaves(warm: Warm) -> None:
    pid = warm.start({"VIRTKIT_CLI_SERVER_IDLE": "2"})
    deadline = time.monotonic() + 30
    while _alive(pid):
        assert time.monotonic() < deadline, "the idle server stayed"
        time.sleep(0.1)
    assert not list(warm.dir.glob("cli-*.sock"))


@pytest.mark.parametrize("on_terminal", [True, False])
def test_an_editor_on_a_terminal_runs_in_the_clients_own_process(
    warm: Warm, on_terminal: bool
) -> None:
    """`edit` (and the console, and the shell) need the terminal as their own: with a terminal
    on standard input the command runs in the client, not in a fork of the server (which has no
    controlling terminal); without one it is served as any other command."""
    import pty

    server = warm.start()
    record = warm.tmp / "editor-parent"
    editor = warm.tmp / "editor.sh"
    editor.write_text(f"#!/bin/sh\necho $PPID > {record}\n")
    editor.chmod(0o755)
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(
            [warm.exe, "-c", "test:///default", "edit", "test"],
            env={**warm.env, "EDITOR": str(editor), "VISUAL": str(editor)},
            stdin=secondary if on_terminal else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(primary)
        os.close(secondary)
    assert proc.returncode == 0, err
    assert "not changed" in out + err
    parent = int(record.read_text())
    if on_terminal:
        assert parent == proc.pid
    else:
        assert parent != proc.pid and parent not in (server,)
        assert _alive(server)
