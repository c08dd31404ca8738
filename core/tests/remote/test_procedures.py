"""The procedure table only grows: no number changes, none is reused, every hook has one."""

from __future__ import annotations

import json
from pathlib import Path

from virtkit.remote import procedures as procs
from virtkit.sdk.hookspecs import PREFIX, all_specs

#: A copy of the table as released; entries are appended here when the table grows, never edited.
FROZEN = json.loads((Path(__file__).parent / "procedures_frozen.json").read_text())


def test_no_procedure_number_ever_changes() -> None:
    table = procs.table()
    changed = {name: (number, table.get(name)) for name, number in FROZEN.items()
               if table.get(name) != number}
    assert not changed, f"procedure numbers changed or removed (old, new): {changed}"


def test_numbers_are_unique_and_new_ones_come_after_the_released_ones() -> None:
    table = procs.table()
    assert len(set(table.values())) == len(table), "a procedure number is used twice"
    new = {name: n for name, n in table.items() if name not in FROZEN}
    assert all(n > max(FROZEN.values()) for n in new.values()), new


def test_every_hook_has_a_procedure_number() -> None:
    missing = procs.missing_hooks()
    assert not missing, (f"hookspecs without a procedure number: {missing}; run "
                         f"'python -m virtkit.remote.procedures --add-missing'")


def test_hook_numbers_start_after_the_protocol_procedures() -> None:
    for hook in all_specs():
        assert procs.number(hook[len(PREFIX):]) >= procs.FIRST_HOOK
    for name, number in procs.table().items():
        if name.startswith("@"):
            assert number < procs.FIRST_HOOK
