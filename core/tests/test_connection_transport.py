"""Connection.is_encrypted / is_secure by transport, and the connection of ports and
snapshots (libvirt-python's connect())."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import virtkit
from virtkit.api.connection import Connection
from virtkit.sdk.uri import parse_uri


@pytest.mark.parametrize(("uri", "encrypted", "secure"), [
    ("test:///default", False, True),
    ("qemu:///system", False, True),
    ("qemu+unix:///system", False, True),
    ("qemu://host/system", True, True),          # tls is the default with a host
    ("qemu+tls://host/system", True, True),
    ("qemu+ssh://user@host/system", True, True),
    ("qemu+tcp://host/system", False, False),
    ("qemu+ext://host/system", False, False),
])
def test_encrypted_and_secure(uri: str, encrypted: bool, secure: bool) -> None:
    fake = SimpleNamespace(parsed_uri=parse_uri(uri))
    fake.is_encrypted = lambda: Connection.is_encrypted(fake)  # type: ignore[arg-type]
    assert Connection.is_encrypted(fake) is encrypted  # type: ignore[arg-type]
    assert Connection.is_secure(fake) is secure  # type: ignore[arg-type]


def test_real_connection_and_object_connections() -> None:
    conn = virtkit.open("test:///default")
    try:
        assert conn.is_secure() and not conn.is_encrypted()
        dom = conn.lookup_by_name("test")
        snap = dom.snapshot_create_xml("<domainsnapshot><name>s</name></domainsnapshot>")
        assert snap.connection is conn
        snap.delete()
        net = conn.network_lookup_by_name("default")
        port = net.port_create_xml(
            "<networkport><owner><name>test</name>"
            "<uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid></owner>"
            "<mac address='52:54:00:aa:bb:cc'/></networkport>")
        assert port.connection is conn
        port.delete()
    finally:
        conn.close()


def test_storage_pool_lookup_by_target_path() -> None:
    from virtkit.sdk.errors import ErrorCode, VirtError

    conn = virtkit.open("test:///default")
    try:
        pool = conn.storage_pool_lookup_by_target_path("/default-pool/")
        assert pool.name == "default-pool"
        with pytest.raises(VirtError) as exc:
            conn.storage_pool_lookup_by_target_path("/nowhere")
        assert exc.value.code == ErrorCode.NO_STORAGE_POOL and "/nowhere" in exc.value.message
    finally:
        conn.close()


def test_snapshot_has_metadata() -> None:
    from virtkit.sdk.errors import ErrorCode, VirtError

    conn = virtkit.open("test:///default")
    try:
        snap = conn.lookup_by_name("test").snapshot_create_xml(
            "<domainsnapshot><name>m</name></domainsnapshot>")
        assert snap.has_metadata() is True
        snap.delete()
        with pytest.raises(VirtError) as exc:
            snap.has_metadata()
        assert exc.value.code == ErrorCode.NO_DOMAIN_SNAPSHOT
    finally:
        conn.close()
