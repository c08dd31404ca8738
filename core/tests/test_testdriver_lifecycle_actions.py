"""setLifecycleAction on the test driver: libvirt's events and actions (by name or number),
the coredump actions for crashes only, live/config scope reflected in the XML, and refusals
that change nothing."""

from __future__ import annotations

import itertools

import pytest
from vktest import expect as _expect

import virtkit
from virtkit.sdk.checks import LIFECYCLE_ACTIONS, LIFECYCLE_EVENTS
from virtkit.sdk.errors import ErrorCode


@pytest.fixture
def conn() -> virtkit.Connection:
    return virtkit.open("test:///default")  # fresh for each test (conftest)


def _action(dom: virtkit.Domain, event: str, inactive: bool = False) -> str:
    xml = dom.xml_desc(inactive=inactive)
    return xml.split(f"<on_{event}>")[1].split("<")[0]


@pytest.mark.hook("domain_set_lifecycle_action")
@pytest.mark.parametrize(("event", "action"),
                         list(itertools.product(LIFECYCLE_EVENTS, LIFECYCLE_ACTIONS)))
def test_every_pair_is_set_or_refused(conn: virtkit.Connection, event: str,
                                      action: str) -> None:
    dom = conn.lookup_by_name("test")
    before = dom.xml_desc()
    if event != "crash" and action.startswith("coredump-"):
        err = _expect(ErrorCode.CONFIG_UNSUPPORTED, dom.set_lifecycle_action, event, action)
        assert event in err.message and action in err.message
        assert dom.xml_desc() == before
        return
    dom.set_lifecycle_action(event, action)
    assert _action(dom, event) == action, "running: the live definition"
    assert _action(dom, event, inactive=True) == {"poweroff": "destroy", "reboot": "restart",
                                                  "crash": "destroy"}[event]


def test_numbers_scope_and_refusals(conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    dom.set_lifecycle_action(2, 5, live=True, config=True)  # crash, coredump-restart
    assert _action(dom, "crash") == _action(dom, "crash", inactive=True) == "coredump-restart"
    dom.set_lifecycle_action(1, 3, config=True)  # reboot, preserve: next boot only
    assert (_action(dom, "reboot"), _action(dom, "reboot", inactive=True)) == ("restart",
                                                                               "preserve")
    for bad in ((3, 0), (0, 6), (-1, 0), ("halt", "destroy"), ("poweroff", "explode")):
        _expect(ErrorCode.INVALID_ARG, dom.set_lifecycle_action, *bad)
    dom.destroy()
    assert _action(dom, "reboot") == "preserve", "the next boot's definition"
    err = _expect(ErrorCode.OPERATION_INVALID, dom.set_lifecycle_action, "poweroff",
                  "restart", live=True)
    assert "'test'" in err.message
    dom.set_lifecycle_action("poweroff", "rename-restart")  # inactive: the definition
    dom.create()
    assert _action(dom, "poweroff") == "rename-restart"
    ro = virtkit.open("test:///default", read_only=True)
    try:
        _expect(ErrorCode.OPERATION_DENIED, ro.lookup_by_name("test").set_lifecycle_action,
                "poweroff", "destroy")
    finally:
        ro.close()


@pytest.mark.parametrize(("action", "stops"), [("destroy", True), ("preserve", True),
                                               ("restart", False), ("rename-restart", False)])
def test_shutdown_and_reboot_follow_the_actions(conn: virtkit.Connection, action: str,
                                                stops: bool) -> None:
    """As libvirt's test driver: <on_poweroff> restart keeps a shut-down guest running,
    <on_reboot> destroy or preserve stops a rebooted one."""
    dom = conn.lookup_by_name("test")
    dom.set_lifecycle_action("poweroff", action)
    dom.shutdown()
    assert dom.is_active() is not stops
    if not dom.is_active():
        dom.create()
    dom.set_lifecycle_action("reboot", action)
    dom.reboot()
    assert dom.is_active() is not stops
    if stops:
        assert dom.state() == (5, 1), "shut off, reason shutdown"
