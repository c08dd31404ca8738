"""Network port bandwidth parameters of the test driver through the facade."""

from __future__ import annotations

import pytest

import virtkit
from virtkit.sdk.errors import ErrorCode, VirtError

PORT = ("<networkport><owner><name>test</name>"
        "<uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid></owner>"
        "<mac address='52:54:00:aa:bb:01'/>"
        "<bandwidth><inbound average='1000' burst='2048'/></bandwidth></networkport>")


@pytest.mark.hook("network_port_get_parameters", "network_port_set_parameters")
def test_port_bandwidth_parameters() -> None:
    conn = virtkit.open("test:///default")
    port = conn.network_lookup_by_name("default").port_create_xml(PORT)
    try:
        params = port.parameters()
        assert params["inbound.average"] == 1000 and params["inbound.burst"] == 2048
        assert params["outbound.peak"] == 0 and len(params) == 7
        port.set_parameters({"outbound.average": 500, "inbound.burst": 0})
        after = port.parameters()
        assert (after["outbound.average"], after["inbound.burst"]) == (500, 0)
        assert after["inbound.average"] == 1000
        xml = port.xml_desc()
        assert "<inbound average='1000'/>" in xml.replace('"', "'")
        assert "<outbound average='500'/>" in xml.replace('"', "'")
        for bad in ({"sideways.average": 1}, {"inbound.peak": -1}, {"inbound.peak": 2**32}):
            with pytest.raises(VirtError) as exc:
                port.set_parameters(bad)
            assert exc.value.code == ErrorCode.INVALID_ARG
        assert port.parameters() == after
        ro = virtkit.open("test:///default", read_only=True)
        rport = ro.network_lookup_by_name("default").port_lookup_by_uuid(port.ref.uuid)
        assert rport.parameters() == after
        with pytest.raises(VirtError) as exc:
            rport.set_parameters({"inbound.peak": 1})
        assert exc.value.code == ErrorCode.OPERATION_DENIED
        ro.close()
    finally:
        port.delete()
        conn.close()
