"""Secrets of the test driver through the facade: define, look up, values, privacy, events."""

from __future__ import annotations

import logging
import threading
import uuid as uuidlib
from collections.abc import Iterator

import pytest

import virtkit
from virtkit.api.secret import SecretEventLifecycle as SE
from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.sdk.records import Event

VALUE = b"s3cr3t-\x00-passphrase"


@pytest.fixture
def conn() -> Iterator[virtkit.Connection]:
    c = virtkit.open("test:///default")
    yield c
    for s in c.list_all_secrets():
        s.undefine()
    c.close()


def _xml(uuid: str, path: str, private: str = "no") -> str:
    return (f"<secret ephemeral='no' private='{private}'><uuid>{uuid}</uuid>"
            f"<description>disk passphrase</description>"
            f"<usage type='volume'><volume>{path}</volume></usage></secret>")


@pytest.mark.hook("secret_define_xml", "secret_lookup_by_uuid", "secret_lookup_by_usage",
                  "secret_get_xml", "secret_list", "secret_undefine")
def test_define_lookup_list_undefine(conn: virtkit.Connection) -> None:
    uuid = str(uuidlib.uuid4())
    events: list[Event] = []
    got = threading.Event()
    cb = conn.event_register("secret-lifecycle", lambda ev: (events.append(ev), got.set()))
    secret = conn.secret_define_xml(_xml(uuid, "/var/lib/images/a.img"))
    assert secret.uuid == uuid and secret.usage_type() == 1
    assert secret.usage_id() == "/var/lib/images/a.img"
    assert conn.secret_lookup_by_uuid(uuid) == secret
    assert conn.secret_lookup_by_usage(1, "/var/lib/images/a.img") == secret
    assert conn.secret_lookup_by_usage("volume", "/var/lib/images/a.img") == secret
    assert conn.list_secrets() == [uuid] and conn.num_of_secrets() == 1
    assert "<description>disk passphrase</description>" in secret.xml_desc()
    with pytest.raises(VirtError) as err:
        conn.secret_define_xml(_xml(str(uuidlib.uuid4()), "/var/lib/images/a.img"))
    assert err.value.code == ErrorCode.OPERATION_FAILED and uuid in str(err.value)
    secret.undefine()
    with pytest.raises(VirtError) as err:
        conn.secret_lookup_by_uuid(uuid)
    assert err.value.code == ErrorCode.NO_SECRET and uuid in str(err.value)
    with pytest.raises(VirtError) as err:
        conn.secret_lookup_by_usage(1, "/var/lib/images/a.img")
    assert err.value.code == ErrorCode.NO_SECRET
    assert got.wait(5)
    conn.event_deregister(cb)
    assert events[0].event == SE.DEFINED and events[0].obj.uuid == uuid


@pytest.mark.hook("secret_set_value", "secret_get_value")
def test_value_kept_apart_never_in_xml_or_logs(conn: virtkit.Connection,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = conn.secret_define_xml(_xml(str(uuidlib.uuid4()), "/a.img"))
    with pytest.raises(VirtError) as err:
        secret.value()
    assert err.value.code == ErrorCode.NO_SECRET and "does not have a value" in str(err.value)
    secret.set_value(VALUE)
    assert secret.value() == VALUE
    assert conn.list_secret_summaries()[0].has_value
    secret.set_value("text")
    assert secret.value() == b"text"
    assert "text" not in secret.xml_desc() and VALUE.decode(errors="replace") not in \
        secret.xml_desc()
    conn.secret_define_xml(secret.xml_desc())  # a redefinition keeps the value
    assert secret.value() == b"text"
    assert "s3cr3t" not in caplog.text and "text'" not in caplog.text
    with pytest.raises(VirtError) as err:
        conn.secret_define_xml("<secret><value>abc</value></secret>")
    assert err.value.code == ErrorCode.XML_ERROR


def test_private_secret_is_never_read_back(conn: virtkit.Connection) -> None:
    uuid = str(uuidlib.uuid4())
    secret = conn.secret_define_xml(_xml(uuid, "/p.img", private="yes"))
    secret.set_value(VALUE)
    with pytest.raises(VirtError) as err:
        secret.value()
    assert err.value.code == ErrorCode.INVALID_SECRET and "private" in str(err.value)
    with pytest.raises(VirtError) as err:
        conn.secret_define_xml(_xml(uuid, "/p.img", private="no"))
    assert err.value.code == ErrorCode.INVALID_SECRET
    with pytest.raises(VirtError) as err:
        secret.value()
    assert err.value.code == ErrorCode.INVALID_SECRET


def test_values_refused_on_read_only_connections(conn: virtkit.Connection) -> None:
    secret = conn.secret_define_xml(_xml(str(uuidlib.uuid4()), "/r.img"))
    secret.set_value(VALUE)
    ro = virtkit.open("test:///default", read_only=True)
    try:
        mine = ro.secret_lookup_by_uuid(secret.uuid)
        assert "<volume>/r.img</volume>" in mine.xml_desc()
        for call in (mine.value, lambda: mine.set_value(b"x"), mine.undefine,
                     lambda: ro.secret_define_xml(_xml(str(uuidlib.uuid4()), "/s.img"))):
            with pytest.raises(VirtError) as err:
                call()
            assert err.value.code == ErrorCode.OPERATION_DENIED
    finally:
        ro.close()
    assert secret.value() == VALUE


def test_bad_usage_lookups(conn: virtkit.Connection) -> None:
    with pytest.raises(VirtError) as err:
        conn.secret_lookup_by_usage(0, "x")
    assert err.value.code == ErrorCode.INVALID_ARG
    with pytest.raises(VirtError) as err:
        conn.secret_lookup_by_usage("warp", "x")
    assert err.value.code == ErrorCode.INVALID_ARG and "warp" in str(err.value)
