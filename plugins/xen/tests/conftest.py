import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scenario.py, shared with tests_real


@pytest.fixture
def xapi(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The FAKE XenAPI server of ``virtkit_xen.fakexapi`` (tasks finish at once), with its
    password where ``xenapi://`` connections look for it."""
    from virtkit_xen.fakexapi import FakeXapi

    with FakeXapi(task_delay=0.0) as server:
        monkeypatch.setenv("VIRTKIT_PASSWORD", server.password)
        monkeypatch.delenv("VIRTKIT_AUTH_FILE", raising=False)
        yield server


@pytest.fixture
def conn(xapi: Any) -> Iterator[Any]:
    """A ``xenapi://`` connection to the fake server, closed after the test (the xl tests
    define their own)."""
    from test_xenapi import uri

    import virtkit

    c = virtkit.open(uri(xapi))
    yield c
    c.close()
