"""virsh's reports on a running guest's health: domcontrol and domblkerror."""

from __future__ import annotations

from virtkit.cli._base import command, domain_argument, json_option
from virtkit.cli.state import CliState

CONTROL_STATES = ("ok", "background job", "occupied", "error")
CONTROL_ERRORS = ("none", "unknown", "monitor failure", "internal (locking) error")
DISK_ERRORS = ("no error", "unspecified error", "no space")


def _name(names: tuple[str, ...], value: int) -> str:
    return names[value] if 0 <= value < len(names) else "unknown"


@command("domcontrol", help="Print the state of the driver's control of the guest.")
@domain_argument
@json_option
def cmd_domcontrol(state: CliState, domain: str, as_json: bool) -> None:
    dom = state.domain(domain)
    with state.api():
        info = dom.control_info()
    name = _name(CONTROL_STATES, info.state)
    if as_json:
        state.json({"state": name, "details": info.details, "state_time_ms": info.state_time})
    elif info.state not in (0, 3):
        state.out(f"{name} ({info.state_time / 1000:.3f}s)\n")
    elif info.state == 3 and info.details > 0:
        state.out(f"{name}: {_name(CONTROL_ERRORS, info.details)}\n")
    else:
        state.out(f"{name}\n")


@command("domblkerror", help="Show the I/O errors of a guest's disks.")
@domain_argument
@json_option
def cmd_domblkerror(state: CliState, domain: str, as_json: bool) -> None:
    dom = state.domain(domain)
    with state.api():
        errors = dom.disk_errors()
    if as_json:
        state.json({disk: _name(DISK_ERRORS, code) for disk, code in errors.items()})
    elif not errors:
        state.out("No errors found\n")
    else:
        state.out("".join(f"{disk}: {_name(DISK_ERRORS, code)}\n"
                          for disk, code in errors.items()))
