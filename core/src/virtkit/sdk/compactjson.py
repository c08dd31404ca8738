"""Compact JSON (no spaces), for records a driver writes often: the journal's lines, a state
store's records.

``json.dumps`` builds a new encoder on every call (about 8,000 instructions before it encodes
anything, more than a small record's encoding); :func:`dumps` uses one made once: the standard
library's C encoder, when it is there, with the standard encoder's output (ASCII only, keys in
their order, ``NaN`` and ``Infinity`` allowed) and without its check for circular containers (a
record is plain data; a circular one fails with ``RecursionError`` instead of ``ValueError``).
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
from typing import Any

__all__ = ["dumps"]


def _unserializable(obj: Any) -> Any:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _make() -> Callable[[Any], str]:
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the standard encoder, made once
        return json.JSONEncoder(separators=(",", ":")).encode
    encode = make(None, _unserializable, json.encoder.encode_basestring_ascii, None, ":", ",",
                  False, False, True)

    def dumps(obj: Any) -> str:
        return "".join(encode(obj, 0))

    return dumps


#: ``obj`` as compact JSON: ``json.dumps(obj, separators=(",", ":"))``'s text
dumps: Callable[[Any], str] = _make()
