"""Storage pool capabilities and discovered pool sources, as libvirt writes them.

``<storagepoolCapabilities>`` (https://libvirt.org/formatstoragecaps.html) has one ``<pool
type=... supported='yes|no'>`` per libvirt pool type; a supported type lists its source formats
(``<poolOptions>``) and its volumes' formats (``<volOptions>``), each with the default first.
``<sources>`` (virConnectFindStoragePoolSources) holds one ``<source>`` per discovered source,
in a pool's ``<source>`` form; a search is narrowed by a ``<source>`` document (the "srcSpec").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from virtkit.sdk.checks import POOL_TYPES
from virtkit.xml._model import format_model
from virtkit.xml.parser import parse_document, xml_error
from virtkit.xml.storage import PoolSource

__all__ = [
    "FILE_VOLUME_FORMATS", "SOURCE_FORMATS", "PoolTypeCaps", "capabilities_xml",
    "parse_source_spec", "sources_xml",
]

#: the source formats libvirt knows for the pool types that have them, the default first.
SOURCE_FORMATS: dict[str, tuple[str, ...]] = {
    "fs": ("auto", "ext2", "ext3", "ext4", "ufs", "iso9660", "udf", "gfs", "gfs2", "vfat",
           "hfs+", "xfs", "ocfs2", "vmfs"),
    "netfs": ("auto", "nfs", "glusterfs", "cifs"),
    "logical": ("lvm2", "unknown"),
    "disk": ("unknown", "dos", "dvh", "gpt", "mac", "bsd", "pc98", "sun", "lvm2"),
}

#: the formats a file volume (in a dir, fs or netfs pool) may have, the default first.
FILE_VOLUME_FORMATS = ("raw", "qcow2", "vmdk", "vdi", "qed")


@attrs.frozen
class PoolTypeCaps:
    """One pool type: ``supported``, the source formats its pools may name and the formats its
    volumes may have (each the default first; empty: the element is left out)."""

    type: str
    supported: bool
    source_formats: tuple[str, ...] = ()
    volume_formats: tuple[str, ...] = ()


def _enum(kind: str, name: str, values: Sequence[str]) -> list[str]:
    return [f"    <{kind}>", f"      <defaultFormat type='{values[0]}'/>",
            f"      <enum name='{name}'>",
            *(f"        <value>{v}</value>" for v in values),
            "      </enum>", f"    </{kind}>"]


def capabilities_xml(caps: Iterable[PoolTypeCaps]) -> str:
    """The ``<storagepoolCapabilities>`` document: ``caps`` in libvirt's pool type order, and
    every type ``caps`` leaves out as ``supported='no'``."""
    given = {c.type: c for c in caps}
    lines = ["<storagepoolCapabilities>"]
    for pool_type in POOL_TYPES:
        c = given.get(pool_type, PoolTypeCaps(pool_type, False))
        head = f"  <pool type='{pool_type}' supported='{'yes' if c.supported else 'no'}'"
        if not c.supported or not (c.source_formats or c.volume_formats):
            lines.append(head + "/>")
            continue
        lines.append(head + ">")
        if c.source_formats:
            lines += _enum("poolOptions", "sourceFormatType", c.source_formats)
        if c.volume_formats:
            lines += _enum("volOptions", "targetFormatType", c.volume_formats)
        lines.append("  </pool>")
    lines.append("</storagepoolCapabilities>")
    return "\n".join(lines) + "\n"


def sources_xml(sources: Iterable[PoolSource]) -> str:
    """The ``<sources>`` document of a discovery."""
    out = ["<sources>\n"]
    for source in sources:
        format_model(source, "source", "  ", out)
    out.append("</sources>\n")
    return "".join(out)


def parse_source_spec(text: str | None) -> PoolSource | None:
    """A discovery's ``<source>`` document (XML_ERROR when it is not one); None for none."""
    if text is None or not text.strip():
        return None
    root = parse_document(text, "storage pool source")
    if root.tag != "source":
        raise xml_error(f"storage pool source: expected root element <source>, found "
                        f"<{root.tag}>")
    return PoolSource.from_element(root)
