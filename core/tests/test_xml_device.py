"""Device documents (virtkit.xml.device): the one parse every driver's attach-device uses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.xml.device import DEVICE_KINDS, describe_device, device_name, parse_device
from virtkit.xml.domain import Devices, Disk, Interface

DISK = ("<disk type='file' device='disk'><source file='/var/lib/a.img'/>"
        "<target dev='vdb' bus='virtio'/></disk>")
NIC = "<interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='default'/></interface>"


def test_a_disk_and_an_interface_parse_to_the_models_a_domain_holds() -> None:
    kind, disk = parse_device(DISK)
    assert kind == "disk" and isinstance(disk, Disk)
    assert disk.target.dev == "vdb" and disk.source is not None
    kind, nic = parse_device(NIC, ("disk", "interface"))
    assert kind == "interface" and isinstance(nic, Interface)
    assert nic.mac is not None and nic.mac.address == "52:54:00:aa:bb:cc"


def test_every_kind_names_a_field_of_devices() -> None:
    fields = {a.name for a in Devices.__attrs_attrs__}
    assert all(field in fields for field, _cls in DEVICE_KINDS.values())


def test_an_element_that_is_no_device_is_an_xml_error_naming_it() -> None:
    with pytest.raises(VirtError) as e:
        parse_device("<blender/>")
    assert e.value.code == ErrorCode.XML_ERROR
    assert "unknown device type <blender>" in str(e.value)


def test_a_kind_the_driver_does_not_attach_is_refused_naming_driver_and_kinds() -> None:
    with pytest.raises(VirtError) as e:
        parse_device("<watchdog model='i6300esb'/>", ("disk", "interface"), driver="vbox",
                     domain=ErrorDomain.VBOX)
    assert e.value.code == ErrorCode.CONFIG_UNSUPPORTED
    assert e.value.domain == ErrorDomain.VBOX
    assert "the vbox driver cannot attach <watchdog> devices" in str(e.value)
    assert "<disk>, <interface>" in str(e.value)


def test_malformed_documents_are_xml_errors() -> None:
    for bad in ("", "<disk", "<!DOCTYPE x><disk/>", "not xml"):
        with pytest.raises(VirtError) as e:
            parse_device(bad)
        assert e.value.code == ErrorCode.XML_ERROR


@given(st.text(max_size=200))
def test_any_text_parses_or_is_a_clear_refusal(text: str) -> None:
    try:
        kind, _model = parse_device(text)
    except VirtError as exc:
        assert exc.code in (ErrorCode.XML_ERROR, ErrorCode.CONFIG_UNSUPPORTED)
    else:
        assert kind in DEVICE_KINDS


def test_events_and_messages_name_a_device_by_alias_target_or_mac() -> None:
    _k, disk = parse_device(DISK)
    _k, nic = parse_device(NIC)
    _k, aliased = parse_device("<disk type='file'><target dev='vdc'/><alias name='ua-data'/></disk>")
    assert device_name("disk", disk) == "vdb"
    assert device_name("interface", nic) == "52:54:00:aa:bb:cc"
    assert device_name("disk", aliased) == "ua-data"
    assert describe_device("disk", disk) == "disk 'vdb'"
    assert describe_device("interface", nic) == "interface 52:54:00:aa:bb:cc"
    _k, wd = parse_device("<watchdog model='i6300esb'/>")
    assert device_name("watchdog", wd) == "watchdog"
    assert describe_device("watchdog", wd) == "<watchdog> device"
