"""Fixtures for the host network service: namespaces the tests make and a service in each.

Every test runs the service in a child process entered into a fresh network namespace
(``ip netns exec``), so the host's interfaces, routes and nftables rules are never touched. Each
namespace is deleted when the test ends, pass or fail, after every process still in it (dnsmasq,
udhcpc, the service) has been killed.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from virtkit.sdk.errors import VirtError
from virtkit.sdk.records import from_plain

AGENT = Path(__file__).with_name("agent.py")
_counter = itertools.count()


def sh(*args: str, check: bool = True, input: str | None = None) -> str:
    done = subprocess.run(args, capture_output=True, text=True, input=input, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


class Netns:
    """A network namespace of the test's own."""

    def __init__(self, name: str) -> None:
        self.name = name
        sh("ip", "netns", "add", name)
        self.run("ip", "link", "set", "lo", "up")

    def run(self, *args: str, check: bool = True, input: str | None = None) -> str:
        return sh("ip", "netns", "exec", self.name, *args, check=check, input=input)

    def pids(self) -> list[int]:
        out = sh("ip", "netns", "pids", self.name, check=False)
        return [int(p) for p in out.split()]

    def links(self) -> str:
        """``ip -d link`` without the timers that change by themselves and the qdisc, which the
        kernel attaches the first time a link goes up (noop becomes noqueue) and keeps."""
        out = self.run("ip", "-d", "link")
        keep = []
        for line in out.splitlines():
            words = line.split()
            cleaned = []
            skip = False
            for w in words:
                if skip:
                    skip = False
                    continue
                if w.endswith("_timer") or w == "qdisc":
                    skip = True
                    continue
                cleaned.append(w)
            keep.append(" ".join(cleaned))
        return "\n".join(keep)

    def ruleset(self) -> str:
        return self.run("nft", "list", "ruleset")

    def destroy(self) -> None:
        for _ in range(3):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        sh("ip", "netns", "del", self.name, check=False)


class Agent:
    """The host network service running in a namespace; ``call(op, **kw)`` calls one hook."""

    def __init__(self, ns: Netns, state: Path, *flags: str, uri: str = "tiny:///system",
                 env: dict[str, str] | None = None, user: int | None = None) -> None:
        env = dict(os.environ, VIRTKIT_STATE_ROOT=str(state), AGENT_URI=uri,
                   PYTHONDONTWRITEBYTECODE="1", **(env or {}))
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns.name,
             *(["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"]
               if user is not None else []),
             sys.executable, str(AGENT), *flags],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("the network service agent did not start")
        hello = json.loads(line)
        self.pid = hello["ready"]
        if "refused" in hello:
            raise VirtError.from_dict(hello["refused"])

    def call(self, op: str, **kw: Any) -> Any:
        self.send(op, **kw)
        return self.receive(op)

    def send(self, op: str, **kw: Any) -> None:
        """Send one request without waiting for its answer (see :meth:`receive`)."""
        from virtkit.sdk.records import to_plain

        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, "kw": to_plain(kw)}) + "\n")
        self.proc.stdin.flush()

    def receive(self, op: str = "a request") -> Any:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"the agent died during {op}")
        reply = json.loads(line)
        if "err" in reply:
            raise VirtError.from_dict(reply["err"])
        return from_plain(reply["ok"])

    def kill9(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def netns() -> Iterator[Any]:
    """``netns()`` makes a fresh namespace; all are deleted at the end of the test."""
    made: list[Netns] = []

    def make() -> Netns:
        ns = Netns(f"vkt{os.getpid()}n{next(_counter)}")
        made.append(ns)
        return ns

    try:
        yield make
    finally:
        for ns in reversed(made):
            ns.destroy()


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[Any]:
    """``agents(ns, *flags)`` starts the service in ``ns`` (state under the test's tmp dir).

    ``user=UID`` runs it as that user, with its state in a directory of its own under /tmp
    (pytest's temporary root is private to root, and other pytest sessions reset its mode)."""
    started: list[Agent] = []
    state = tmp_path / "state"
    private: list[Path] = []
    reopened: list[tuple[Path, int]] = []

    def start(ns: Netns, *flags: str, uri: str = "tiny:///system",
              env: dict[str, str] | None = None, user: int | None = None) -> Agent:
        where = state
        if user is not None:
            where = Path(tempfile.mkdtemp(prefix="vkt-user-"))
            private.append(where)
            os.chown(where, user, user)
            # tox keeps its .tox directory private (0700): let the other user reach this
            # environment's interpreter and packages, for this test only
            for parent in Path(sys.prefix).parents:
                mode = parent.stat().st_mode
                if parent.name == ".tox" and not mode & 0o005:
                    reopened.append((parent, mode))
                    parent.chmod(mode | 0o005)
        agent = Agent(ns, where, *flags, uri=uri, env=env, user=user)
        started.append(agent)
        return agent

    try:
        yield start
    finally:
        for agent in started:
            agent.close()
        for where in private:
            shutil.rmtree(where, ignore_errors=True)
        for parent, mode in reopened:
            parent.chmod(mode)


@pytest.fixture
def host(netns: Any, agents: Any) -> tuple[Netns, Agent]:
    """One namespace with the service running in it."""
    ns = netns()
    return ns, agents(ns)
