"""Group ``nwfilters``: network filters and filter bindings (libvirt's virNWFilter,
virNWFilterBinding): define, look up, XML, references, bindings on a port device."""

from __future__ import annotations

import contextlib
import uuid as uuidlib
from typing import ClassVar

import pytest

from virtkit.sdk.errors import ErrorCode as C
from virtkit.sdk.errors import VirtError

from ..kit import Kit, expect_error

OPS = ("nwfilter_define_xml", "nwfilter_undefine", "nwfilter_lookup_by_name",
       "nwfilter_get_xml", "nwfilter_list")


def _filter(name: str, uuid: str, ref: str = "") -> str:
    r = f"<filterref filter='{ref}'/>" if ref else ""
    return (f"<filter name='{name}' chain='ipv4'><uuid>{uuid}</uuid>{r}"
            "<rule action='accept' direction='out'><ip protocol='tcp'/></rule></filter>")


class TestNWFilters:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("nwfilters"), pytest.mark.ops(*OPS)]

    def _define(self, vk: Kit, name: str, ref: str = "") -> str:
        uuid = str(uuidlib.uuid4())
        vk.conn.nwfilter_define_xml(_filter(name, uuid, ref))

        def cleanup() -> None:
            with contextlib.suppress(VirtError):
                vk.conn.nwfilter_lookup_by_name(name).undefine()

        vk.track(cleanup)
        return uuid

    @pytest.mark.ops("nwfilter_lookup_by_uuid")
    def test_define_lookup_undefine(self, vk: Kit) -> None:
        name = vk.name("flt")
        uuid = self._define(vk, name)
        f = vk.conn.nwfilter_lookup_by_name(name)
        assert f.uuid == uuid and vk.conn.nwfilter_lookup_by_uuid(uuid) == f
        assert name in vk.conn.list_nwfilters()
        assert f"<uuid>{uuid}</uuid>" in f.xml_desc()
        f.undefine()
        expect_error(C.NO_NWFILTER, vk.conn.nwfilter_lookup_by_name, name)

    def test_referenced_filter_stays(self, vk: Kit) -> None:
        base, user = vk.name("base"), vk.name("user")
        self._define(vk, base)
        self._define(vk, user, ref=base)
        expect_error((C.OPERATION_INVALID, C.OPERATION_FAILED),
                     vk.conn.nwfilter_lookup_by_name(base).undefine)
        assert base in vk.conn.list_nwfilters()
        vk.conn.nwfilter_lookup_by_name(user).undefine()
        vk.conn.nwfilter_lookup_by_name(base).undefine()

    @pytest.mark.ops("nwfilter_binding_create_xml", "nwfilter_binding_delete",
                     "nwfilter_binding_lookup_by_port_dev", "nwfilter_binding_list")
    def test_binding_on_a_port(self, vk: Kit) -> None:
        name = vk.name("bound")
        self._define(vk, name)
        port = vk.name("vn")[:15]
        b = vk.conn.nwfilter_binding_create_xml(
            "<filterbinding><owner><name>vm</name>"
            f"<uuid>{uuidlib.uuid4()}</uuid></owner><portdev name='{port}'/>"
            f"<mac address='52:54:00:00:00:01'/><filterref filter='{name}'/></filterbinding>")
        try:
            assert vk.conn.nwfilter_binding_lookup_by_port_dev(port) == b
            assert b in vk.conn.list_all_nwfilter_bindings()
            assert b.filter_name() == name and f"<portdev name='{port}'/>" in b.xml_desc()
        finally:
            b.delete()
        expect_error(C.NO_NWFILTER_BINDING, vk.conn.nwfilter_binding_lookup_by_port_dev, port)
