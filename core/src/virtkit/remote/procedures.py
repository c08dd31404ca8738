"""The procedure table: every wire procedure's number, from a committed data file that only grows.

``procedures.json`` maps names to numbers. Names starting with ``@`` are the protocol's own
procedures (authentication, open, close, administration); the others are hook operations
(``domain_suspend`` for the hookspec ``virtkit_domain_suspend``). A number, once given, is never
changed nor reused; a new hookspec gets the next free number (``python -m
virtkit.remote.procedures --add-missing`` appends them). Numbers never come from hook order.
"""

from __future__ import annotations

import functools
import json
from importlib import resources

from virtkit.sdk.hookspecs import PREFIX, all_specs

TABLE_FILE = "procedures.json"
#: Hook operations are numbered from here; lower numbers are the protocol's own procedures.
FIRST_HOOK = 100

AUTH_LIST = "@auth_list"
AUTH_SCRAM_START = "@auth_scram_start"
AUTH_SCRAM_STEP = "@auth_scram_step"
OPEN = "@open"
CLOSE = "@close"
#: Which event kinds the client wants relayed (none until it asks).
EVENTS = "@events"
#: Procedures a client may call before it has authenticated.
AUTH_PROCEDURES = frozenset({AUTH_LIST, AUTH_SCRAM_START, AUTH_SCRAM_STEP})


@functools.cache
def table() -> dict[str, int]:
    """Name -> number for every procedure this version knows."""
    text = resources.files("virtkit.remote").joinpath(TABLE_FILE).read_text(encoding="utf-8")
    data: dict[str, int] = json.loads(text)
    return data


@functools.cache
def by_number() -> dict[int, str]:
    return {number: name for name, number in table().items()}


def number(name: str) -> int:
    return table()[name]


def missing_hooks() -> list[str]:
    """Hook operations that have no number yet (a test fails while any are missing)."""
    known = table()
    return [h[len(PREFIX):] for h in all_specs() if h[len(PREFIX):] not in known]


def _add_missing() -> None:  # pragma: no cover - a maintainer's tool
    path = resources.files("virtkit.remote").joinpath(TABLE_FILE)
    data = dict(table())
    nxt = max([FIRST_HOOK - 1, *data.values()]) + 1
    for op in missing_hooks():
        data[op] = nxt
        nxt += 1
    text = "{\n" + ",\n".join(f"  {json.dumps(k)}: {v}" for k, v in data.items()) + "\n}\n"
    with open(str(path), "w", encoding="utf-8") as out:
        out.write(text)


if __name__ == "__main__":  # pragma: no cover
    import sys

    if sys.argv[1:] == ["--add-missing"]:
        _add_missing()
    else:
        print(__doc__)
