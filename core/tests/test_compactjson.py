"""compactjson.dumps: json.dumps's compact text, with the encoder made once."""

from __future__ import annotations

import json
import math

import pytest

from virtkit.sdk.compactjson import dumps


@pytest.mark.parametrize("obj", [
    {}, [], "", "é\n\"\\\x01 ☃", 0, -5, 2**70, 1.5, math.inf, -math.inf, None, True, False,
    {"seq": 3, "src": "1-ab", "data": {"name": "d", "events": [[0, 1], [-1, 0]], "id": -1}},
    {"b": 1, "a": [None, {"c": ""}]},  # keys in their order
])
def test_same_text_as_json_dumps(obj: object) -> None:
    assert dumps(obj) == json.dumps(obj, separators=(",", ":"))


def test_nan_and_refusals_as_json_dumps() -> None:
    assert dumps([math.nan]) == "[NaN]"
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps({"a": object()})
    with pytest.raises(TypeError):
        dumps({(1, 2): 3})
    assert dumps({"a": 1}) == '{"a":1}'  # the encoder is reused after a failure
