"""The conformance suite through virtkitd gives the verdict, counts and NO_SUPPORT set it gives
in-process: over the unix socket and over TLS on loopback (certificates by ``virtkit pki``)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SUITE_SRC = Path(__file__).resolve().parents[3] / "conformance" / "src"


def certify(uri: str, out: Path, uri2: str | None = None) -> dict[str, Any]:
    """``virtkit-certify URI`` (from the repository's conformance/ when it is not installed, as
    in the core's own test environment); ``uri2`` is the migration destination (in-process the
    suite makes one itself for test:/// URIs)."""
    env = dict(os.environ)
    if uri2:
        env["VIRTKIT_CERT_URI2"] = uri2
    if importlib.util.find_spec("virtkit_conformance") is None:
        assert SUITE_SRC.is_dir(), f"the conformance suite is neither installed nor at {SUITE_SRC}"
        env["PYTHONPATH"] = os.pathsep.join([str(SUITE_SRC), env.get("PYTHONPATH", "")])
    result = out / "result.json"
    proc = subprocess.run([sys.executable, "-m", "virtkit_conformance", uri, "--json",
                           str(result)], capture_output=True, text=True, timeout=300, cwd=out,
                          env=env)
    assert result.exists(), proc.stdout + proc.stderr
    data: dict[str, Any] = json.loads(result.read_text())
    return data


def summary(record: dict[str, Any]) -> tuple[Any, ...]:
    unsupported = sorted(t["nodeid"] for t in record["tests"] if t["outcome"] == "not-supported")
    failed = sorted(t["nodeid"] for t in record["tests"] if t["outcome"] == "failed")
    return (record["verdict"], record["totals"], unsupported, failed,
            sorted(record["requirements"]["operations"]), record["driver"]["name"])


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, ...]:
    return summary(certify("test:///default", tmp_path_factory.mktemp("local")))


def test_certify_through_the_unix_socket_matches_in_process(
    daemon: Any, tmp_path: Path, in_process: tuple[Any, ...]
) -> None:
    dest = tmp_path / "dest.xml"
    dest.write_text("<node></node>")
    remote = summary(certify(daemon.uri(), tmp_path, daemon.uri(path=str(dest))))
    assert remote == in_process
    assert remote[0] == "certified"


def test_certify_over_tls_on_loopback_matches_in_process(
    daemon_factory: Any, pki: Path, tmp_path: Path, in_process: tuple[Any, ...], tcp_port: int
) -> None:
    port = tcp_port
    daemon_factory(
        f'listen_tls = 1\nlisten_tcp = 0\nlisten_addr = "127.0.0.1"\ntls_port = {port}\n'
        f'ca_file = "{pki}/cacert.pem"\ncert_file = "{pki}/servercert.pem"\n'
        f'key_file = "{pki}/serverkey.pem"\n',
        args=("--listen",), wait_for=f"127.0.0.1:{port}",
    )
    dest = tmp_path / "dest.xml"
    dest.write_text("<node></node>")
    remote = summary(certify(f"test+tls://127.0.0.1:{port}/default?pkipath={pki}", tmp_path,
                             f"test+tls://127.0.0.1:{port}{dest}?pkipath={pki}"))
    assert remote == in_process
