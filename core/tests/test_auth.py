"""The auth file (libvirt's auth.conf format) and the credential chain of virtkit.sdk.auth."""

from __future__ import annotations

import logging
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from virtkit.sdk.auth import (
    AuthFile,
    Credential,
    Credentials,
    auth_file_path,
    lookup_credentials,
)
from virtkit.sdk.errors import ErrorCode, VirtError

AUTH = """\
# lab credentials
[credentials-lab]
authname=root
password=s3cret

[credentials-other]
authname=admin
password=hunter2

[auth-esx-10.0.0.1]
credentials=lab

; every other esx host
[auth-esx-default]
credentials=other
"""


def env_with(tmp_path: Path, text: str | None = AUTH, **extra: str) -> dict[str, str]:
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg"), **extra}
    if text is not None:
        path = tmp_path / "auth.conf"
        path.write_text(text)
        env["VIRTKIT_AUTH_FILE"] = str(path)
    return env


def test_parse_groups_and_comments() -> None:
    f = AuthFile.parse(AUTH)
    assert f.groups["credentials-lab"] == {"authname": "root", "password": "s3cret"}
    assert f.groups["auth-esx-default"] == {"credentials": "other"}


def test_host_group_wins_over_default() -> None:
    f = AuthFile.parse(AUTH)
    assert f.lookup("esx", "10.0.0.1", "username") == "root"
    assert f.lookup("esx", "10.0.0.1", "password") == "s3cret"
    assert f.lookup("esx", "10.9.9.9", "password") == "hunter2"
    assert f.lookup("vpx", "10.0.0.1", "password") is None


@pytest.mark.parametrize(
    ("text", "line", "why"),
    [
        ("[credentials-x\nauthname=a\n", 1, "malformed group header"),
        ("authname=a\n", 1, "before the first [group]"),
        ("[a]\njust words\n", 2, "expected 'key=value'"),
        ("[a]\n[a]\n", 2, "appears twice"),
    ],
)
def test_syntax_errors_name_file_and_line(text: str, line: int, why: str) -> None:
    with pytest.raises(VirtError) as err:
        AuthFile.parse(text, "/etc/x/auth.conf")
    assert err.value.code == ErrorCode.CONF_SYNTAX
    assert f"/etc/x/auth.conf, line {line}" in err.value.message and why in err.value.message


def test_dangling_credentials_reference_is_an_error() -> None:
    f = AuthFile.parse("[auth-esx-h]\ncredentials=nope\n", "a.conf")
    with pytest.raises(VirtError) as err:
        f.lookup("esx", "h", "password")
    assert err.value.code == ErrorCode.CONF_SYNTAX and "credentials-nope" in err.value.message


def test_unreadable_file_is_a_system_error(tmp_path: Path) -> None:
    env = {"VIRTKIT_AUTH_FILE": str(tmp_path / "missing.conf")}
    with pytest.raises(VirtError) as err:
        lookup_credentials("esx", "h", env=env, interactive=False)
    assert err.value.code == ErrorCode.SYSTEM_ERROR and "missing.conf" in err.value.message


def test_default_paths(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    if not Path("/etc/virtkit/auth.conf").exists():
        assert auth_file_path(env) is None
    user_file = tmp_path / "cfg" / "virtkit" / "auth.conf"
    user_file.parent.mkdir(parents=True)
    user_file.write_text(AUTH)
    assert auth_file_path(env) == user_file
    assert auth_file_path({**env, "VIRTKIT_AUTH_FILE": "/x/y"}) == Path("/x/y")


def test_chain_uri_user_and_auth_file(tmp_path: Path) -> None:
    got = lookup_credentials("esx", "10.0.0.1", user="ops", env=env_with(tmp_path),
                             interactive=False)
    assert (got.username, got.password) == ("ops", "s3cret")
    assert got.username_source == "uri" and got.password_source.startswith("auth-file:")


def test_chain_environment_after_file(tmp_path: Path) -> None:
    env = env_with(tmp_path, None, VIRTKIT_PASSWORD="fromenv")
    got = lookup_credentials("esx", "h", user="u", env=env, interactive=False)
    assert got.password == "fromenv" and got.password_source == "environment"
    # the file wins over the environment
    env = env_with(tmp_path, AUTH, VIRTKIT_PASSWORD="fromenv")
    assert lookup_credentials("esx", "h", env=env, interactive=False).password == "hunter2"


def test_chain_callback_gets_plain_requests(tmp_path: Path) -> None:
    seen: list[list[dict[str, Any]]] = []

    def callback(requests: list[dict[str, Any]]) -> list[str | None]:
        seen.append(requests)
        return ["alice" if r["type"] == "username" else "pw" for r in requests]

    got = lookup_credentials("vpx", "vc1", auth=callback, env=env_with(tmp_path, None),
                             interactive=False, default_user="root")
    assert (got.username, got.password) == ("alice", "pw")
    assert got.password_source == "callback"
    assert [r["type"] for r in seen[0]] == ["username", "password"]
    assert seen[0][0] == Credential("username", "Enter username for vc1", "root").to_dict()
    assert "vc1" in seen[0][1]["prompt"]


def test_callback_is_not_asked_what_is_known(tmp_path: Path) -> None:
    def callback(requests: list[dict[str, Any]]) -> list[str | None]:
        raise AssertionError("not to be called")

    got = lookup_credentials("esx", "10.0.0.1", auth=callback, env=env_with(tmp_path),
                             interactive=False)
    assert got.password == "s3cret"


@pytest.mark.parametrize("answer", [RuntimeError("boom"), ["only one"], "not a list"])
def test_misbehaving_callback_is_auth_failed(tmp_path: Path, answer: Any) -> None:
    def callback(requests: list[dict[str, Any]]) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return answer

    with pytest.raises(VirtError) as err:
        lookup_credentials("esx", "h9", auth=callback, env=env_with(tmp_path, None),
                           interactive=False)
    assert err.value.code == ErrorCode.AUTH_FAILED and "h9" in err.value.message


def test_nothing_known_gives_none(tmp_path: Path) -> None:
    got = lookup_credentials("esx", "h", env=env_with(tmp_path, None), interactive=True)
    # stdin of a pytest run is not a terminal: no prompt, no hang
    assert got == Credentials(None, None, "", "")


def test_password_never_in_repr_or_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="virtkit.auth")
    got = lookup_credentials("esx", "10.0.0.1", env=env_with(tmp_path), interactive=False)
    assert "s3cret" not in repr(got) and "***" in repr(got)
    assert "s3cret" not in caplog.text and "auth-file:" in caplog.text


PROMPT_SCRIPT = """
import sys
from virtkit.sdk.auth import lookup_credentials
got = lookup_credentials("esx", "h1", env={"HOME": sys.argv[1]}, interactive=True)
print("RESULT", got.username, got.password, got.username_source, got.password_source)
"""


def test_interactive_prompt_on_a_terminal(tmp_path: Path) -> None:
    """A real pseudo-terminal: the user name is read with echo, the password without."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", PROMPT_SCRIPT, str(tmp_path)],
        stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "VIRTKIT_AUTH_FILE": ""},
    )
    os.close(slave)
    out = b""
    try:
        def read_until(marker: bytes) -> None:
            nonlocal out
            deadline = time.monotonic() + 20
            while marker not in out and time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], 0.5)
                if ready:
                    try:
                        out += os.read(master, 4096)
                    except OSError:
                        return

        read_until(b"Enter username for h1")
        os.write(master, b"bob\n")
        read_until(b"Enter bob's password for h1")
        os.write(master, b"tty-pw\n")
        read_until(b"prompt prompt")
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = out.decode(errors="replace")
    assert "RESULT bob tty-pw prompt prompt" in text
    assert text.count("tty-pw") == 1, "the password is not echoed"
