"""Small builders and waits shared by the driver tests."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

_names = itertools.count(1)


def name(prefix: str = "t") -> str:
    return f"{prefix}-{time.monotonic_ns() % 10**8}-{next(_names)}"


def domain_xml(dom_name: str, *, memory_mib: int = 128, devices: str = "",
               extra: str = "") -> str:
    return (f"<domain type='vmware'><name>{dom_name}</name>"
            f"<memory unit='MiB'>{memory_mib}</memory><vcpu>1</vcpu>"
            f"<os><type arch='x86_64'>hvm</type></os>{extra}"
            f"<devices>{devices}</devices></domain>")


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


class Recorder:
    """Lifecycle events of one connection, as (name, event, detail)."""

    def __init__(self, conn: Any, kind: str = "domain-lifecycle") -> None:
        self.events: list[tuple[str, int, int]] = []
        self.devices: list[tuple[str, str]] = []
        conn.event_register(kind, self._got)

    def _got(self, ev: Any) -> None:
        self.events.append((ev.obj.name, ev.event, ev.detail))
        if ev.device:
            self.devices.append((ev.obj.name, ev.device))

    def of(self, dom_name: str) -> list[tuple[int, int]]:
        return [(e, d) for n, e, d in self.events if n == dom_name]
