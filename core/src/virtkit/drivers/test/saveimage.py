"""The test driver's save images and managed-save images, and the domain XML they carry.

A save image (``save``, read by ``restore``) is a file: a magic line, then a JSON record of the
domain's definition as it ran, whether it was paused and its balloon size. A managed-save image
is the same record kept with the domain (the test host has no disk of its own), valid while the
domain's status says it has one; starting the domain restores from it: the guest runs the
image's definition, paused if the image says so. ``save-image-dumpxml``/``-define`` and
``managedsave-dumpxml``/``-define`` read and replace the definition and the start state in
either; a replacement must describe the same guest hardware (name, uuid, maximum memory and
vcpus), as QEMU requires of a saved guest's ABI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from virtkit.drivers.test.domxml import DomainDef, parse_domain
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef
from virtkit.sdk.store import atomic_write

if TYPE_CHECKING:
    from virtkit.drivers.test.node import TestDomain, TestNode

SAVE_MAGIC = b"VirtkitTestSave\n"
SAVE_VERSION = 1
MAX_IMAGE = 64 * 1024 * 1024


@attrs.frozen
class SaveImage:
    """What a save image holds: the definition to run, the start state and the balloon."""

    definition: DomainDef
    paused: bool
    memory: int  # KiB


def _invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, message, ErrorDomain.TEST)


def read_image(path: str) -> SaveImage:
    """The image written to ``path``: SYSTEM_ERROR naming the path when it cannot be read,
    OPERATION_INVALID when it is not a test driver's save image or is corrupt."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_IMAGE + 1)
    except OSError as exc:
        raise VirtError(
            ErrorCode.SYSTEM_ERROR,
            f"cannot read save image '{path}': {exc.strerror}",
            ErrorDomain.TEST,
        ) from None
    if not raw.startswith(SAVE_MAGIC):
        raise _invalid(f"'{path}' is not a save image of the test driver")
    try:
        record = json.loads(raw[len(SAVE_MAGIC):])
        if record.get("version") != SAVE_VERSION or record.get("driver") != "test":
            raise ValueError("unknown version")
        return SaveImage(parse_domain(record["xml"]), bool(record["paused"]),
                         int(record["memory"]))
    except (ValueError, KeyError, TypeError, AttributeError, VirtError):
        raise _invalid(f"save image '{path}' is corrupt or of an unknown version") from None


def write_image(path: str, image: SaveImage, name: str) -> None:
    """Write ``image`` to ``path`` atomically (the old file or the new one, never a mix);
    SYSTEM_ERROR naming the path and the domain ``name`` when it cannot be written."""
    record = {"version": SAVE_VERSION, "driver": "test", "xml": image.definition.xml,
              "paused": image.paused, "memory": image.memory}
    try:
        atomic_write(Path(path), SAVE_MAGIC + json.dumps(record).encode(), 0o600)
    except OSError as exc:
        raise VirtError(
            ErrorCode.SYSTEM_ERROR,
            f"cannot write save image '{path}' of domain '{name}': {exc.strerror}",
            ErrorDomain.TEST,
        ) from None


def replacement(saved: DomainDef, xml: str, where: str) -> DomainDef:
    """``xml`` parsed, if it describes the guest of ``saved`` (same name, uuid, maximum memory
    and maximum vcpus); else OPERATION_INVALID naming ``where`` and what differs."""
    new = parse_domain(xml)
    for what, old_value, new_value in (
        ("name", saved.name, new.name),
        ("uuid", saved.uuid, new.uuid),
        ("maximum memory", saved.memory, new.memory),
        ("maximum vcpu count", saved.max_vcpus, new.max_vcpus),
    ):
        if old_value != new_value:
            raise _invalid(
                f"the XML given for {where} changes the saved guest's {what} "
                f"({old_value} -> {new_value})"
            )
    return new


def start_paused(image: SaveImage, start_state: str | None) -> bool:
    """Whether a guest restored from ``image`` starts paused (``start_state`` overrides)."""
    return image.paused if start_state is None else start_state == "paused"


class SaveImageMixin:
    """The save-image and managed-save XML hooks of the test driver."""

    if TYPE_CHECKING:

        @property
        def _node(self) -> TestNode: ...

    @staticmethod
    def _managed_image(d: TestDomain) -> SaveImage:
        image: Any = d.managed_image
        if not d.status.has_managed_save or image is None:
            raise _invalid(f"domain '{d.name}' does not have managed save image")
        assert isinstance(image, SaveImage)
        return image

    @hookimpl
    def virtkit_domain_save_image_get_xml(self, path: str, security_info: bool) -> str:
        return read_image(path).definition.public_xml(-1, security_info)

    @hookimpl
    def virtkit_domain_save_image_define_xml(
        self, path: str, xml: str, start_state: str | None
    ) -> bool:
        with self._node.lock:  # one writer at a time: a read, change, atomic write
            image = read_image(path)
            new = replacement(image.definition, xml, f"save image '{path}'")
            write_image(path, SaveImage(new, start_paused(image, start_state), image.memory),
                        new.name)
            return True

    @hookimpl
    def virtkit_domain_managed_save_get_xml(self, dom: DomainRef, security_info: bool) -> str:
        with self._node.lock:
            d = self._node.find(dom)
            return self._managed_image(d).definition.public_xml(-1, security_info)

    @hookimpl
    def virtkit_domain_managed_save_define_xml(
        self, dom: DomainRef, xml: str, start_state: str | None
    ) -> bool:
        with self._node.lock:
            d = self._node.find(dom)
            image = self._managed_image(d)
            new = replacement(image.definition, xml,
                              f"the managed save image of domain '{d.name}'")
            d.managed_image = SaveImage(new, start_paused(image, start_state), image.memory)
            return True
