"""libvirt-python's parameter forms of save and restore, and OSType, on the test driver."""

from __future__ import annotations

from pathlib import Path

import pytest
from vktest import expect

import virtkit
from virtkit.sdk.errors import ErrorCode


def test_save_params_and_restore_params(tmp_path: Path) -> None:
    with virtkit.open("test:///default") as conn:
        dom = conn.lookup_by_name("test")
        image = str(tmp_path / "test.save")
        dom.save_params({"file": image})
        assert dom.state()[0] == 5  # shut off, saved
        restored = conn.restore_params({"file": image}, start_state="paused")
        assert restored.name == "test" and restored.state()[0] == 3


@pytest.mark.parametrize("params, words", [
    ({}, "'file' parameter is required"),
    ({"file": "/x", "bandwidth": "1"}, "unknown parameter 'bandwidth'"),
    ({"file": 5}, "parameter 'file' must be a string"),
    (["file", "/x"], "must be a mapping"),
])
def test_bad_parameters_are_refused_and_change_nothing(params: object, words: str) -> None:
    with virtkit.open("test:///default") as conn:
        dom = conn.lookup_by_name("test")
        err = expect(ErrorCode.INVALID_ARG, dom.save_params, params)
        assert words in err.message and "save_params" in err.message
        assert dom.state()[0] == 1  # still running
        err = expect(ErrorCode.INVALID_ARG, conn.restore_params, params)
        assert words in err.message and "restore_params" in err.message


def test_os_type_comes_from_the_definition() -> None:
    with virtkit.open("test:///default") as conn:
        assert conn.lookup_by_name("test").os_type() == "hvm"
        dom = conn.define_xml("<domain type='test'><name>c1</name><memory>8192</memory>"
                              "<os><type>exe</type><init>/sbin/init</init></os></domain>")
        assert dom.os_type() == "exe"
