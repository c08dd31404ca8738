"""Output as virsh prints it: tables, state and reason names, sizes; and the ``--json`` form.

Nothing here imports the rest of virtkit, so formatting costs no start-up time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# virsh's names for virDomainState, by number (virshDomainStateToString).
STATE_NAMES = (
    "no state",
    "running",
    "idle",
    "paused",
    "in shutdown",
    "shut off",
    "crashed",
    "pmsuspended",
)

# virsh's names for each state's reasons (virshDomainStateReasonToString), by state number.
REASON_NAMES: dict[int, tuple[str, ...]] = {
    0: ("unknown",),
    1: (
        "unknown", "booted", "migrated", "restored", "from snapshot", "unpaused",
        "migration canceled", "save canceled", "event wakeup", "crashed", "post-copy",
        "post-copy failed",
    ),
    2: ("unknown",),
    3: (
        "unknown", "user", "migrating", "saving", "dumping", "I/O error", "watchdog",
        "from snapshot", "shutting down", "creating snapshot", "crashed", "starting up",
        "post-copy", "post-copy failed", "api error",
    ),
    4: ("unknown", "user"),
    5: (
        "unknown", "shutdown", "destroyed", "crashed", "migrated", "saved", "failed",
        "from snapshot", "daemon",
    ),
    6: ("unknown", "panicked"),
    7: ("unknown",),
}

# virsh's words for lifecycle events and their details (virshDomainEventToString and friends).
EVENT_NAMES = (
    "Defined", "Undefined", "Started", "Suspended", "Resumed", "Stopped", "Shutdown",
    "PMSuspended", "Crashed",
)
EVENT_DETAILS: dict[int, tuple[str, ...]] = {
    0: ("Added", "Updated", "Renamed", "Snapshot"),
    1: ("Removed", "Renamed"),
    2: ("Booted", "Migrated", "Restored", "Snapshot", "Event wakeup"),
    3: (
        "Paused", "Migrated", "I/O Error", "Watchdog", "Restored", "Snapshot", "API error",
        "Post-copy", "Post-copy Error",
    ),
    4: ("Unpaused", "Migrated", "Snapshot", "Post-copy"),
    5: ("Shutdown", "Destroyed", "Crashed", "Migrated", "Saved", "Failed", "Snapshot"),
    6: ("Finished", "Finished after guest request", "Finished after host request"),
    7: ("Memory", "Disk"),
    8: ("Panicked",),
}


def state_name(state: int) -> str:
    return STATE_NAMES[state] if 0 <= state < len(STATE_NAMES) else "no state"


def reason_name(state: int, reason: int) -> str:
    names = REASON_NAMES.get(state, ("unknown",))
    return names[reason] if 0 <= reason < len(names) else "unknown"


def event_name(event: int) -> str:
    return EVENT_NAMES[event] if 0 <= event < len(EVENT_NAMES) else "unknown"


def event_detail(event: int, detail: int) -> str:
    names = EVENT_DETAILS.get(event, ())
    return names[detail] if 0 <= detail < len(names) else "unknown"


def _width(text: str) -> int:
    """Columns ``text`` takes on a terminal (wide characters count two, combining ones zero)."""
    if text.isascii():
        return len(text)
    import unicodedata

    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def table(header: Sequence[str], rows: Sequence[Sequence[str]], show_header: bool = True) -> str:
    """A table as virsh's vshTable prints it.

    Every cell is preceded by one space; every column but the last is padded to its widest cell
    plus two spaces; the header is followed by a dash line as wide as the columns plus three
    dashes each.
    """
    widths = [_width(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], _width(cell))
    lines = []

    def render(row: Sequence[str]) -> str:
        parts = []
        last = len(row) - 1
        for i, cell in enumerate(row):
            parts.append(" " + cell)
            if i < last:
                parts.append(" " * (widths[i] - _width(cell) + 2))
        return "".join(parts)

    if show_header:
        lines.append(render(header))
        lines.append("-" * sum(w + 3 for w in widths))
    lines.extend(render(row) for row in rows)
    return "".join(line + "\n" for line in lines)


def fields(pairs: Sequence[tuple[str, str]], width: int = 15) -> str:
    """``label: value`` lines with the label padded as virsh's ``"%-15s %s"`` does."""
    return "".join(f"{label:<{width}} {value}\n" for label, value in pairs)


def to_json(data: Any) -> str:
    import json

    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def version_text(number: int) -> str:
    """libvirt's integer version encoding as ``major.minor.release``."""
    return f"{number // 1_000_000}.{number // 1_000 % 1_000}.{number % 1_000}"


_SCALES = {
    "": None,
    "b": 1,
    "byte": 1,
    "bytes": 1,
    "k": 1024,
    "kib": 1024,
    "kb": 1000,
    "m": 1024**2,
    "mib": 1024**2,
    "mb": 1000**2,
    "g": 1024**3,
    "gib": 1024**3,
    "gb": 1000**3,
    "t": 1024**4,
    "tib": 1024**4,
    "tb": 1000**4,
    "p": 1024**5,
    "pib": 1024**5,
    "pb": 1000**5,
    "e": 1024**6,
    "eib": 1024**6,
    "eb": 1000**6,
}


def parse_scaled(text: str, default_scale: int = 1024) -> int:
    """A size with an optional unit suffix, in bytes (virsh's scaled integers).

    A bare number is in units of ``default_scale`` bytes (KiB for memory sizes).
    Raises ValueError naming the text.
    """
    stripped = text.strip()
    digits = len(stripped) - len(stripped.lstrip("0123456789"))
    number, unit = stripped[:digits], stripped[digits:].strip().lower()
    if not number or unit not in _SCALES:
        raise ValueError(f"'{text}' is not a size (a number with an optional unit such as KiB, "
                         f"MiB, GiB)")
    scale = _SCALES[unit]
    return int(number) * (default_scale if scale is None else scale)


_CAPACITY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def pretty_capacity(n: int) -> str:
    """Bytes as virsh's vshPrettyCapacity prints them: ``100.00 GiB``, ``0.00 B``."""
    value = float(n)
    unit = _CAPACITY_UNITS[0]
    for unit in _CAPACITY_UNITS:
        if value < 1024 or unit == _CAPACITY_UNITS[-1]:
            break
        value /= 1024
    return f"{value:.2f} {unit}"


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def local_time(seconds: int, zone: bool = False) -> str:
    """``2024-01-31 12:00:00`` (with ``zone``: `` +0000``) in local time, as virsh prints times."""
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S" + (" %z" if zone else ""),
                         time.localtime(seconds))
