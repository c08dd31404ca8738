"""The interactive shell, driven through a pseudo-terminal: prompt, completion, history, exit."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time
from pathlib import Path

NODE_URI = f"test://{Path(__file__).parent / 'data' / 'node.xml'}"


class Terminal:
    """The executable on a pseudo-terminal, with helpers to type and wait for output."""

    def __init__(self, exe: str, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [exe, *args], stdin=slave, stdout=slave, stderr=slave,
            env=env, close_fds=True, start_new_session=True,
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {text!r}; saw {self.seen!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                assert chunk, f"terminal closed waiting for {text!r}; saw {self.seen!r}"
                self.seen += chunk.decode("utf-8", "replace")
        before, _, after = self.seen.partition(text)
        self.seen = after
        return before

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
            os.close(self.master)


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"XDG_CACHE_HOME": str(tmp_path / "cache"), "TERM": "dumb",
                "INPUTRC": "/dev/null"})
    return env


def test_shell_prompt_completion_history_exit(tmp_path: Path, virtkit_exe: str) -> None:
    term = Terminal(virtkit_exe, ["-c", NODE_URI], _env(tmp_path))
    try:
        term.expect("Welcome to virtkit")
        term.expect("virtkit # ")
        # completion of a command name, then running it
        term.type("nodei\t")
        term.expect("nodeinfo ")
        term.type("\r")
        term.expect("CPU model:           x86_64")
        term.expect("virtkit # ")
        # completion of an option, then a command that keeps state in the session
        term.type("destroy alpha\r")
        term.expect("Domain 'alpha' destroyed")
        term.expect("virtkit # ")
        term.type("list --al\t")
        term.expect("--all ")
        term.type("--name\r")
        output = term.expect("virtkit # ")
        assert "alpha" in output and "delta" in output
        # an error does not end the shell
        term.type("dominfo nosuch\r")
        term.expect("error: failed to get domain 'nosuch'")
        term.expect("virtkit # ")
        # history: the up arrow brings back the previous line
        term.type("uri\r")
        term.expect(NODE_URI)
        term.expect("virtkit # ")
        term.type("\x1b[A")
        term.expect("uri")
        term.type("\r")
        term.expect(NODE_URI)
        term.expect("virtkit # ")
        term.type("quit\r")
        assert term.close() == 0
    finally:
        if term.proc.poll() is None:
            os.killpg(term.proc.pid, signal.SIGKILL)
    history = (tmp_path / "cache" / "virtkit" / "history").read_text()
    assert "nodeinfo" in history and "destroy alpha" in history and "quit" in history


def test_shell_read_only_prompt_and_end_of_input(tmp_path: Path, virtkit_exe: str) -> None:
    term = Terminal(virtkit_exe, ["-r", "-q", "-c", "test:///default"], _env(tmp_path))
    try:
        term.expect("virtkit > ")
        assert "Welcome" not in term.seen
        term.type("exit\r")
        assert term.close() == 0
    finally:
        if term.proc.poll() is None:
            os.killpg(term.proc.pid, signal.SIGKILL)
    term = Terminal(virtkit_exe, ["-c", "test:///default"], _env(tmp_path))
    try:
        term.expect("virtkit # ")
        term.type("\x04")  # Ctrl-D at the prompt
        assert term.close() == 0
    finally:
        if term.proc.poll() is None:
            os.killpg(term.proc.pid, signal.SIGKILL)
