"""Group ``secrets``: secrets and their values (libvirt's virSecret).

A value is set and read back apart from the definition, never appears in the XML, is refused on
a read-only connection, and a ``private='yes'`` secret's value is never read back.
"""

from __future__ import annotations

import contextlib
import uuid as uuidlib
from typing import ClassVar

import pytest

import virtkit
from virtkit.api.secret import Secret
from virtkit.sdk.errors import ErrorCode as C
from virtkit.sdk.errors import VirtError

from ..kit import Kit, expect_error

OPS = ("secret_define_xml", "secret_undefine", "secret_lookup_by_uuid", "secret_get_xml",
       "secret_list")


def _xml(uuid: str, usage: str, private: str = "no") -> str:
    return (f"<secret ephemeral='no' private='{private}'><uuid>{uuid}</uuid>"
            f"<usage type='ceph'><name>{usage}</name></usage></secret>")


class TestSecrets:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("secrets"), pytest.mark.ops(*OPS)]

    def _define(self, vk: Kit, private: str = "no") -> Secret:
        uuid = str(uuidlib.uuid4())
        secret = vk.conn.secret_define_xml(_xml(uuid, vk.name("ceph"), private))

        def cleanup() -> None:
            with contextlib.suppress(VirtError):
                vk.conn.secret_lookup_by_uuid(uuid).undefine()

        vk.track(cleanup)
        return secret

    @pytest.mark.ops("secret_lookup_by_usage")
    def test_define_lookup_undefine(self, vk: Kit) -> None:
        secret = self._define(vk)
        assert vk.conn.secret_lookup_by_uuid(secret.uuid) == secret
        assert vk.conn.secret_lookup_by_usage("ceph", secret.usage_id()) == secret
        assert secret.uuid in vk.conn.list_secrets()
        assert f"<uuid>{secret.uuid}</uuid>" in secret.xml_desc()
        secret.undefine()
        expect_error(C.NO_SECRET, vk.conn.secret_lookup_by_uuid, secret.uuid)

    @pytest.mark.ops("secret_set_value", "secret_get_value")
    def test_value_apart_from_definition(self, vk: Kit) -> None:
        secret = self._define(vk)
        value = uuidlib.uuid4().hex.encode()
        secret.set_value(value)
        assert secret.value() == value
        assert value.decode() not in secret.xml_desc()

    @pytest.mark.ops("secret_set_value", "secret_get_value")
    def test_private_value_never_read_back(self, vk: Kit) -> None:
        secret = self._define(vk, private="yes")
        secret.set_value(b"hidden")
        expect_error(C.INVALID_SECRET, secret.value)

    @pytest.mark.ops("secret_set_value", "secret_get_value")
    def test_values_refused_read_only(self, vk: Kit) -> None:
        secret = self._define(vk)
        secret.set_value(b"v")
        ro = virtkit.open(vk.conn.uri, read_only=True)
        try:
            mine = ro.secret_lookup_by_uuid(secret.uuid)
            expect_error(C.OPERATION_DENIED, mine.value)
            expect_error(C.OPERATION_DENIED, mine.set_value, b"x")
        finally:
            ro.close()
