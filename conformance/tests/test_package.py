from __future__ import annotations

from importlib.metadata import distribution

import virtkit_conformance


def test_installs_alone_with_core() -> None:
    assert virtkit_conformance.__version__ == distribution("virtkit-conformance").version
