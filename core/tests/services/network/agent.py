"""A process that runs the host network service inside a network namespace for the tests.

Started as ``ip netns exec NS python agent.py [--driver-lists-networks]``; reads one JSON request
a line (``{"op": "network_define_xml", "kw": {...}}``) and answers one JSON line: ``{"ok": ...}``
with the plain-data result or ``{"err": {...}}`` with the VirtError. The service is registered
after a tiny test-only hypervisor driver that declares ``host_services = ("network",)``, in one
pluggy plugin manager with every hookspec, as a connection registers it.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, ClassVar

import pluggy

from virtkit.sdk.driver import Driver, DriverContext
from virtkit.sdk.errors import VirtError
from virtkit.sdk.hookspecs import MODULES, PROJECT, hookimpl
from virtkit.sdk.records import Event, NetworkSummary, from_plain, to_plain
from virtkit.sdk.uri import parse_uri


class TinyDriver(Driver):
    """A hypervisor driver with no guests that uses the host network service."""

    name = "tiny"
    host_services: ClassVar[tuple[str, ...]] = ("network",)


class ListingDriver(TinyDriver):
    """A driver with its own network listing, which must win over the service's."""

    @hookimpl
    def virtkit_network_list(self) -> list[NetworkSummary]:
        return []


def main() -> None:
    events: list[Event] = []
    context = DriverContext(parse_uri(os.environ.get("AGENT_URI", "tiny:///system")), False,
                            events.append)
    if "--dispatcher" in sys.argv:
        serve_dispatcher(context, events)
        return
    pm = pluggy.PluginManager(PROJECT)
    for module in MODULES:
        pm.add_hookspecs(module)
    driver_cls = ListingDriver if "--driver-lists-networks" in sys.argv else TinyDriver
    pm.register(driver_cls(context), name="driver:tiny")
    from virtkit.services.network import HostNetwork

    pm.register(HostNetwork(context), name="service:network")
    out = sys.stdout
    out.write(json.dumps({"ready": os.getpid()}) + "\n")
    out.flush()
    for line in sys.stdin:
        req: dict[str, Any] = json.loads(line)
        op = req["op"]
        try:
            if op == "events":
                reply: dict[str, Any] = {"ok": to_plain(events)}
                events.clear()
            else:
                hook = getattr(pm.hook, "virtkit_" + op)
                reply = {"ok": to_plain(hook(**from_plain(req.get("kw", {}))))}
        except VirtError as exc:
            reply = {"err": exc.to_dict()}
        out.write(json.dumps(reply) + "\n")
        out.flush()


def serve_dispatcher(context: DriverContext, events: list[Event]) -> None:
    """The same, through the core's dispatcher: argument and result checks, the driver first."""
    from virtkit.runtime.dispatch import Dispatcher
    from virtkit.services.network import HostNetwork

    out = sys.stdout
    try:
        disp = Dispatcher("tiny:///system", context, TinyDriver, (HostNetwork,))
    except VirtError as exc:
        out.write(json.dumps({"ready": os.getpid(), "refused": exc.to_dict()}) + "\n")
        out.flush()
        return
    out.write(json.dumps({"ready": os.getpid()}) + "\n")
    out.flush()
    for line in sys.stdin:
        req = json.loads(line)
        try:
            reply: dict[str, Any] = {"ok": to_plain(disp.call(req["op"], from_plain(req["kw"])))}
        except VirtError as exc:
            reply = {"err": exc.to_dict()}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
