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

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.xml.domain import Domain
from virtkit.xml.parser import parse_document

DOMAIN_TYPES = ("lxc",)
OS_TYPES = ("exe",)
#: where the pids limit lives: ``<metadata><vk:lxc xmlns:vk=NS><vk:pids max='N'/></vk:lxc>``
METADATA_NS = "https://virtkit.dev/xmlns/lxc/1"
_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def config_error(message: str) -> VirtError:
    return VirtError(ErrorCode.CONFIG_UNSUPPORTED, message, ErrorDomain.LXC)


def xml_error(message: str) -> VirtError:
    return VirtError(ErrorCode.XML_ERROR, message, ErrorDomain.LXC)


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


def _extras(domain: Domain) -> Extras:
    """The driver's settings from the model (no second parse of the document), checked."""
    fields: dict[str, Any] = {}
    os_ = domain.os
    env = []
    for e in os_.initenvs:
        if not _VAR.fullmatch(e.name):
            raise xml_error(f"<initenv name='{e.name}'>: not a valid variable name")
        env.append((e.name, e.value or ""))
    fields["env"] = tuple(env)
    for value, key in ((os_.initdir, "workdir"), (os_.inituser, "user"),
                       (os_.initgroup, "group")):
        text = (value or "").strip()
        if text:
            fields[key] = text
    if fields.get("workdir") and not fields["workdir"].startswith("/"):
        raise xml_error(f"<initdir>: '{fields['workdir']}' is not an absolute path")
    if domain.idmap is not None:
        fields["uid_map"] = tuple((m.start, m.target, m.count) for m in domain.idmap.uids)
        fields["gid_map"] = tuple((m.start, m.target, m.count) for m in domain.idmap.gids)
        if not fields["uid_map"] or not fields["gid_map"]:
            raise xml_error("<idmap> needs both <uid> and <gid> mappings")
    if domain.memtune is not None:
        fields["hard_limit_kib"] = domain.memtune.hard_limit
    ct = domain.cputune
    if ct is not None:
        fields["cpu_shares"], fields["cpu_period"], fields["cpu_quota"] = \
            ct.shares, ct.period, ct.quota
    if domain.blkiotune is not None:
        weight = fields["blkio_weight"] = domain.blkiotune.weight
        if weight is not None and not 100 <= weight <= 1000:
            raise xml_error(f"<blkiotune><weight>: {weight} is not in 100..1000")
    for raw in domain.metadata:  # each a serialised child of <metadata>
        if METADATA_NS not in raw:
            continue
        el = parse_document(raw, "<metadata> element")
        pids = el.find(f"{{{METADATA_NS}}}pids") if el.tag == f"{{{METADATA_NS}}}lxc" else None
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
    d = Definition(domain, _extras(domain))
    return with_defaults(d) if defaults else d


def with_defaults(d: Definition) -> Definition:
    """``d`` with what libvirt fills on define (a uuid, currentMemory...)."""
    domain = d.domain.with_defaults()
    return d if domain is d.domain else Definition(domain, d.extras)
