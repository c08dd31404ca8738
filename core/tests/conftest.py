from __future__ import annotations

import os

import pytest
from hypothesis import settings

from virtkit.drivers.test.node import reset_default_node

settings.register_profile("ci", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def _fresh_default_node(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Each test sees a freshly preloaded test:///default and no user configuration."""
    reset_default_node()
    cfg = tmp_path_factory.mktemp("cfg") / "virtkit.conf"
    monkeypatch.setenv("VIRTKIT_CONFIG", str(cfg))
    monkeypatch.delenv("VIRTKIT_DEFAULT_URI", raising=False)
    monkeypatch.delenv("VIRTKIT_DRIVERS", raising=False)
    monkeypatch.delenv("VIRTKIT_AUDIT_LOG", raising=False)
    # Commands run here in processes of their own: no warm command-line server is left behind
    # (tests/cli/test_cli_warm.py starts its own and stops them).
    monkeypatch.setenv("VIRTKIT_CLI_SERVER", "0")
    yield
    reset_default_node()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "hook(*names): the hookspecs (without 'virtkit_') this test exercises"
    )
