"""The access-control plugin: deny by default, rules per operation and object name, filtered
listings, and the caller's identity from the context (in-process, unix peer, SCRAM user)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

import virtkit
from virtkit.plugins.acl import load_rules, permissions
from virtkit.sdk.driver import Identity
from virtkit.sdk.errors import ErrorCode, VirtError

RULES = """
[[rule]]
who = "everyone"
allow = ["*.read"]

[[rule]]
who = { group = "ops" }
allow = ["domain.start", "domain.shutdown"]
objects = ["web*"]

[[rule]]
who = { user = "root" }
allow = ["*"]

[[rule]]
who = { user = "carol" }
allow = ["domain.read"]
objects = ["web*"]

[[rule]]
who = { sasl_user = "alice" }
allow = ["*"]
"""

XML = ("<domain type='test'><name>{}</name><memory>131072</memory><vcpu>1</vcpu>"
       "<os><type>hvm</type></os></domain>")


@pytest.fixture
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "acl.toml"
    path.write_text(RULES)
    monkeypatch.setenv("VIRTKIT_ACCESS_RULES", str(path))
    with virtkit.open("test:///default", identity=Identity(user="root", uid=0)) as admin:
        for name in ("web1", "db1"):
            admin.define_xml(XML.format(name))
    return path


def as_user(**who: Any) -> Any:
    return virtkit.open("test:///default", identity=Identity(**who))


def test_permissions_name_object_and_action() -> None:
    assert permissions("domain_suspend") == ("domain.suspend",)
    assert "domain.start" in permissions("domain_create")
    assert "domain.read" in permissions("domain_get_info")
    assert "domain.read" not in permissions("domain_destroy")


def test_a_group_may_start_and_shut_down_only_the_domains_its_rule_names(rules: Path) -> None:
    with as_user(user="olivia", groups=("ops",)) as conn:
        web = conn.lookup_by_name("web1")
        web.create()
        web.shutdown()
        with pytest.raises(VirtError) as exc:
            web.suspend()
        assert exc.value.code == ErrorCode.ACCESS_DENIED
        assert "olivia may not domain.suspend on 'web1'" in exc.value.message
        with pytest.raises(VirtError) as exc:
            conn.lookup_by_name("db1").create()
        assert exc.value.code == ErrorCode.ACCESS_DENIED


def test_everyone_may_read(rules: Path) -> None:
    with as_user(user="bob", groups=("users",)) as conn:
        assert {d.name for d in conn.list_domains()} >= {"test", "web1", "db1"}
        assert conn.node_info().cpus > 0
        with pytest.raises(VirtError) as exc:
            conn.lookup_by_name("test").suspend()
        assert exc.value.code == ErrorCode.ACCESS_DENIED


def test_listings_show_only_what_the_caller_may_read(rules: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    only = tmp_path / "carol.toml"
    only.write_text('[[rule]]\nwho = { user = "carol" }\nallow = ["domain.read"]\n'
                    'objects = ["web*"]\n')
    monkeypatch.setenv("VIRTKIT_ACCESS_RULES", str(only))
    with as_user(user="carol") as conn:
        assert [d.name for d in conn.list_domains()] == ["web1"]
        with pytest.raises(VirtError) as exc:
            conn.lookup_by_name("db1")
        assert exc.value.code == ErrorCode.ACCESS_DENIED


def test_deny_by_default_once_enabled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "none.toml"
    empty.write_text("")
    monkeypatch.setenv("VIRTKIT_ACCESS_RULES", str(empty))
    with as_user(user="dave") as conn:
        with pytest.raises(VirtError) as exc:
            conn.lookup_by_name("test")
        assert exc.value.code == ErrorCode.ACCESS_DENIED
        assert conn.list_domains() == []


def test_xml_is_not_parsed_before_the_access_check(rules: Path) -> None:
    hostile = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/shadow">]>'
               "<domain><name>&x;</name></domain>")
    with as_user(user="bob") as conn:
        with pytest.raises(VirtError) as exc:
            conn.define_xml(hostile)
        assert exc.value.code == ErrorCode.ACCESS_DENIED  # not an XML error: never parsed


def test_a_malformed_rules_file_is_an_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nwho = { shoe_size = 9 }\nallow = ["*"]\n')
    with pytest.raises(VirtError) as exc:
        load_rules(str(bad))
    assert exc.value.code == ErrorCode.CONF_SYNTAX
    assert f"'{bad}', rule 1" in exc.value.message


CHILD = """
import json, os, sys, virtkit
uri = sys.argv[1]
virtkit.open(uri).close()           # every module loaded while still root
os.setgroups([]); os.setgid(65534); os.setuid(65534)
out = {}
with virtkit.open(uri) as conn:
    out["listed"] = sorted(d.name for d in conn.list_domains())
    try:
        conn.lookup_by_name("web1").create(); out["web1"] = "started"
    except virtkit.VirtError as e:
        out["web1"] = e.code.name
    try:
        conn.lookup_by_name("db1").create(); out["db1"] = "started"
    except virtkit.VirtError as e:
        out["db1"] = e.code.name + ": " + e.message
print(json.dumps(out))
"""


def test_the_daemon_passes_the_peers_uid_and_groups_to_the_rules(daemon_factory: Any,
                                                                  tmp_path: Path) -> None:
    rules = tmp_path / "acl.toml"
    rules.write_text(RULES.replace('group = "ops"', 'group = "nogroup"'))
    os.chmod(tmp_path, 0o755)
    sockdir = Path(tempfile.mkdtemp(prefix="virtkitd-acl-"))
    os.chmod(sockdir, 0o755)
    try:
        d = daemon_factory(f'unix_sock_dir = "{sockdir}"\nunix_sock_rw_perms = "0777"\n'
                           f'access_rules_file = "{rules}"\n', sockdir=sockdir)
        with virtkit.open(d.uri()) as root:  # root may do anything
            for name in ("web1", "db1"):
                root.define_xml(XML.format(name))
        out = subprocess.run([sys.executable, "-c", CHILD, d.uri()], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        got = json.loads(out.stdout)
        assert got["listed"] == ["db1", "test", "web1"]
        assert got["web1"] == "started"
        assert got["db1"].startswith("ACCESS_DENIED: access denied: nobody may not")
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)


def test_the_scram_user_reaches_the_rules(daemon_factory: Any, tmp_path: Path, tcp_port: int,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from virtkit.daemon.auth import make_credentials

    rules = tmp_path / "acl.toml"
    rules.write_text(RULES)
    users = tmp_path / "users"
    users.write_text(make_credentials("alice", "pw") + "\n" + make_credentials("mike", "pw")
                     + "\n")
    daemon_factory(
        f'listen_tcp = 1\nlisten_tls = 0\nlisten_addr = "127.0.0.1"\ntcp_port = {tcp_port}\n'
        f'auth_tcp = "scram"\nscram_users_file = "{users}"\naccess_rules_file = "{rules}"\n',
        args=("--listen",), wait_for=f"127.0.0.1:{tcp_port}")
    monkeypatch.setenv("VIRTKIT_PASSWORD", "pw")
    with virtkit.open(f"test+tcp://alice@127.0.0.1:{tcp_port}/default") as conn:
        conn.lookup_by_name("test").suspend()  # alice may do anything
    with virtkit.open(f"test+tcp://mike@127.0.0.1:{tcp_port}/default") as conn:
        with pytest.raises(VirtError) as exc:
            conn.lookup_by_name("test").resume()
        assert exc.value.code == ErrorCode.ACCESS_DENIED
        assert "mike may not domain.resume on 'test'" in exc.value.message
