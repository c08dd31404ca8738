"""virtkit's XML layer: one hardened parser, frozen attrs models of libvirt's documents with
parse and format, unit handling, defaults, semantic checks and virtkit's own RelaxNG schemas.

Importing this package is cheap: models live in submodules (``virtkit.xml.domain``,
``virtkit.xml.network``, ``virtkit.xml.storage``, ``virtkit.xml.interface``,
``virtkit.xml.snapshot``, ``virtkit.xml.capabilities``) and schemas load on first validation.
"""

from __future__ import annotations

import virtkit._codecache  # noqa: F401 - first: it makes attrs keep what it compiles
from virtkit.xml.parser import MAX_DEPTH, MAX_SIZE, parse_document

__all__ = ["MAX_DEPTH", "MAX_SIZE", "parse_document"]
