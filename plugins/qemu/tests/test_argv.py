"""Domain XML to QEMU argv: golden files (``golden/NAME.xml`` in, ``golden/NAME.argv`` out, one
argument a line). ``VIRTKIT_REGOLD=1`` rewrites the expected files after a deliberate change."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import virtkit
from virtkit.xml.domain import Domain
from virtkit_qemu import argv

GOLDEN = Path(__file__).parent / "golden"
MACHINES = {"pc": "pc-i440fx-7.2", "q35": "pc-q35-7.2"}


def launch_for(dom: Domain) -> argv.Launch:
    accel = "kvm" if dom.type == "kvm" else "tcg"
    return argv.Launch(binary="/usr/bin/qemu-system-x86_64",
                       machine=MACHINES[dom.os.type.machine or "pc"], accel=accel,
                       guest_dir="/run/vk/g/0001", vnc_port=5901, tap_names=("vk0",))


@pytest.mark.parametrize("case", sorted(p.stem for p in GOLDEN.glob("*.xml")))
def test_golden(case: str) -> None:
    dom = Domain.from_xml((GOLDEN / f"{case}.xml").read_text())
    got = argv.build(dom, launch_for(dom))
    expected_file = GOLDEN / f"{case}.argv"
    if os.environ.get("VIRTKIT_REGOLD"):
        expected_file.write_text("\n".join(got) + "\n")
    assert got == expected_file.read_text().splitlines()


def test_every_argv_sandboxes_and_passes_formats() -> None:
    for xml in GOLDEN.glob("*.xml"):
        dom = Domain.from_xml(xml.read_text())
        got = argv.build(dom, launch_for(dom))
        assert got[got.index("-sandbox") + 1].startswith("on,")
        assert "spawn=deny" in got[got.index("-sandbox") + 1]
        for i, arg in enumerate(got):
            if arg == "-blockdev" and '"file":"drive-' in got[i + 1]:
                assert '"driver":"raw"' in got[i + 1] or '"driver":"qcow2"' in got[i + 1]


def _xml(devices: str, kind: str = "qemu") -> Domain:
    return Domain.from_xml(
        f"<domain type='{kind}'><name>bad</name><uuid>00000000-0000-4000-8000-00000000000f"
        f"</uuid><memory>131072</memory><os><type>hvm</type></os><devices>{devices}</devices>"
        f"</domain>")


@pytest.mark.parametrize(("devices", "words"), [
    ("<disk type='file'><driver name='qemu' type='vmdk'/><source file='/x'/>"
     "<target dev='vda'/></disk>", "format 'vmdk'"),
    ("<interface type='network'><source network='default'/></interface>",
     "host network service"),
    ("<disk type='volume'><source pool='p' volume='v'/><target dev='vda'/></disk>",
     "host storage service"),
    ("<graphics type='spice'/>", "graphics other than VNC"),
    ("<disk type='file'><source file='/x'/><target dev='sda' bus='sata'/></disk>",
     "sata needs a q35"),
])
def test_unsupported_configurations_are_named(devices: str, words: str) -> None:
    dom = _xml(devices)
    with pytest.raises(virtkit.VirtError) as info:
        argv.build(dom, launch_for(dom))
    assert info.value.code == virtkit.ErrorCode.CONFIG_UNSUPPORTED
    assert words in info.value.message


def test_undeclared_format_is_raw_never_probed() -> None:
    dom = _xml("<disk type='file'><source file='/images/a.qcow2'/><target dev='vda'/></disk>")
    got = argv.build(dom, launch_for(dom))
    fmt = [a for a in got if '"node-name":"drive-vda"' in a]
    assert fmt and '"driver":"raw"' in fmt[0]
