"""The virtkit conformance suite: one pytest suite every driver runs to prove it behaves as the
hookspecs say, and ``virtkit-certify`` that runs it and writes the verdict.

Driver authors need one line: ``from virtkit_conformance.suite import *`` in a test module (the
pytest plugin is loaded through the ``pytest11`` entry point), or no code at all:
``virtkit-certify URI``.
"""

from __future__ import annotations

__version__ = "0.1.0"

#: Every group of the suite, in report order.
GROUPS: tuple[str, ...] = (
    "connection",
    "definition",
    "lifecycle",
    "save-restore",
    "snapshots",
    "devices",
    "resources",
    "storage",
    "networks",
    "interfaces",
    "nodedev",
    "secrets",
    "host",
    "nwfilters",
    "checkpoints",
    "console",
    "guest-info",
    "guest-agent",
    "block-jobs",
    "tuning",
    "input-power",
    "domain-events",
    "migration",
    "migration-tuning",
    "readonly",
    "concurrency",
    "bad-input",
    "stateful",
)

#: Groups a driver must pass to be certified.
MANDATORY_GROUPS: frozenset[str] = frozenset(
    {"connection", "definition", "lifecycle", "readonly", "bad-input"}
)

#: What a "not supported" skip reason starts with.
NOT_SUPPORTED = "not supported:"

__all__ = ["GROUPS", "MANDATORY_GROUPS", "NOT_SUPPORTED", "__version__"]
