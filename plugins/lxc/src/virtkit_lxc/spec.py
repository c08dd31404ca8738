"""A container definition: the core's domain model (which keeps and writes ``<initenv>``,
``<initdir>``, ``<inituser>``, ``<initgroup>``, ``<idmap>``, ``<memtune>``, ``<cputune>`` and
``<blkiotune>``) and the settings the driver takes from them, checked: the environment, working
directory, user and group of init, the id maps, the limits, and the pids limit in virtkit's
metadata.
"""

from __future__ import annotations

import re
from typing import Any

import attrs
from lxml import etree

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.xml.domain import Domain
from virtkit.xml.parser import parse_document

DOMAIN_TYPES = ("lxc",)
OS_TYPES = ("exe",)
#: where the pids limit lives: ``<metadata><vk:lxc xmlns:vk=NS><vk:pids max='N'/></vk:lxc>``
METADATA_NS = "https://virtkit.dev/xmlns/lxc/1"
_UNITS = {"b": 1, "bytes": 1, "k": 1024, "kib": 1024, "kb": 1000, "m": 1024**2, "mib": 1024**2,
          "mb": 1000**2, "g": 1024**3, "gib": 1024**3, "gb": 1000**3}


def config_error(message: str) -> VirtError:
    return VirtError(ErrorCode.CONFIG_UNSUPPORTED, message, ErrorDomain.LXC)


def xml_error(message: str) -> VirtError:
    return VirtError(ErrorCode.XML_ERROR, message, ErrorDomain.LXC)


def _kib(el: etree._Element, what: str) -> int:
    unit = (el.get("unit") or "KiB").lower()
    if unit not in _UNITS or not (el.text or "").strip().isdigit():
        raise xml_error(f"{what}: '{el.text}' '{el.get('unit')}' is not a size")
    return int(el.text.strip()) * _UNITS[unit] // 1024  # type: ignore[union-attr]


def _int(el: etree._Element | None, what: str) -> int | None:
    if el is None:
        return None
    text = (el.text or "").strip()
    if not re.fullmatch(r"-?\d+", text):
        raise xml_error(f"{what}: '{text}' is not a number")
    return int(text)


@attrs.frozen
class Extras:
    """What the core's model leaves out, parsed."""

    env: tuple[tuple[str, str], ...] = ()
    workdir: str | None = None
    user: str | None = None
    group: str | None = None
    uid_map: tuple[tuple[int, int, int], ...] = ()
    gid_map: tuple[tuple[int, int, int], ...] = ()
    hard_limit_kib: int | None = None
    cpu_shares: int | None = None
    cpu_period: int | None = None
    cpu_quota: int | None = None
    blkio_weight: int | None = None
    pids: int | None = None


@attrs.frozen
class Definition:
    domain: Domain
    extras: Extras

    @property
    def name(self) -> str:
        return self.domain.name

    def to_xml(self, *, secure: bool = True, domain: Domain | None = None) -> str:
        return (domain or self.domain).to_xml(secure=secure)


def _extras(root: etree._Element) -> Extras:
    fields: dict[str, Any] = {}
    os_el = root.find("os")
    if os_el is not None:
        env = []
        for el in os_el.findall("initenv"):
            name = el.get("name") or ""
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise xml_error(f"<initenv name='{name}'>: not a valid variable name")
            env.append((name, el.text or ""))
        fields["env"] = tuple(env)
        for tag, key in (("initdir", "workdir"), ("inituser", "user"), ("initgroup", "group")):
            text = (os_el.findtext(tag) or "").strip()
            if text:
                fields[key] = text
        if fields.get("workdir") and not fields["workdir"].startswith("/"):
            raise xml_error(f"<initdir>: '{fields['workdir']}' is not an absolute path")
    idmap = root.find("idmap")
    if idmap is not None:
        for kind in ("uid", "gid"):
            maps = []
            for el in idmap.findall(kind):
                try:
                    maps.append((int(el.get("start", "")), int(el.get("target", "")),
                                 int(el.get("count", ""))))
                except ValueError:
                    raise xml_error(f"<idmap><{kind}>: start, target and count must be "
                                    f"numbers") from None
            fields[f"{kind}_map"] = tuple(maps)
        if not fields.get("uid_map") or not fields.get("gid_map"):
            raise xml_error("<idmap> needs both <uid> and <gid> mappings")
    hard = root.find("memtune/hard_limit")
    if hard is not None:
        fields["hard_limit_kib"] = _kib(hard, "<memtune><hard_limit>")
    ct = root.find("cputune")
    if ct is not None:
        fields["cpu_shares"] = _int(ct.find("shares"), "<cputune><shares>")
        fields["cpu_period"] = _int(ct.find("period"), "<cputune><period>")
        fields["cpu_quota"] = _int(ct.find("quota"), "<cputune><quota>")
    bt = root.find("blkiotune")
    if bt is not None:
        fields["blkio_weight"] = _int(bt.find("weight"), "<blkiotune><weight>")
        if fields["blkio_weight"] is not None and not 100 <= fields["blkio_weight"] <= 1000:
            raise xml_error(f"<blkiotune><weight>: {fields['blkio_weight']} is not in 100..1000")
    md = root.find("metadata")
    if md is not None:
        pids = md.find(f"{{{METADATA_NS}}}lxc/{{{METADATA_NS}}}pids")
        if pids is not None:
            try:
                fields["pids"] = int(pids.get("max", ""))
            except ValueError:
                raise xml_error("<vk:pids max='...'>: not a number") from None
    return Extras(**fields)  # the core's model keeps and writes the elements themselves


def parse(text: str, *, validate: bool = False, defaults: bool = True) -> Definition:
    """The definition in ``text``: the core's model (with libvirt's defaults filled when
    ``defaults``) and the extras. Raises XML_ERROR naming what is wrong."""
    domain = Domain.from_xml(text, validate=validate, domain_types=DOMAIN_TYPES,
                             os_types=OS_TYPES)
    extras = _extras(parse_document(text, "domain"))
    if defaults:
        domain = domain.with_defaults()
    return Definition(domain, extras)
