"""A definition's disks and interfaces, as both backends' device hooks (``xldev``, ``xapidev``)
find, add, replace and remove them: a disk is known by its target, an interface by its MAC
(one without a MAC by its type and source)."""

from __future__ import annotations

import random
from typing import Any

import attrs

from virtkit.xml.domain import Devices, Domain

#: the device kinds the Xen backends attach, and the ``Devices`` field holding each
KINDS = {"disk": "disks", "interface": "interfaces"}


def items(d: Domain, kind: str) -> tuple[Any, ...]:
    """The devices of ``kind`` in ``d``."""
    return tuple(getattr(d.devices or Devices(), KINDS[kind]))


def replace(d: Domain, kind: str, new: tuple[Any, ...]) -> Domain:
    """``d`` with ``new`` as its devices of ``kind``."""
    changes: dict[str, Any] = {KINDS[kind]: new}
    return attrs.evolve(d, devices=attrs.evolve(d.devices or Devices(), **changes))


def same(kind: str, have: Any, want: Any) -> bool:
    """Whether ``have`` (a device of ``kind`` in a definition) is the device ``want`` names."""
    if kind == "disk":
        return bool(have.target.dev == want.target.dev)
    if want.mac is not None:
        return have.mac is not None and have.mac.address.lower() == want.mac.address.lower()
    return bool((have.type, have.source) == (want.type, want.source))


def find(d: Domain, kind: str, dev: Any) -> Any:
    """The device of ``d`` that ``dev`` names, or None."""
    return next((x for x in items(d, kind) if same(kind, x, dev)), None)


def xen_mac() -> str:
    """A random MAC address in Xen's range (00:16:3e), for an interface given without one."""
    return "00:16:3e:" + ":".join(f"{random.randrange(256):02x}" for _ in range(3))
