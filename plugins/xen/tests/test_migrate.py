"""Migration between two xl hosts (``xl migrate``) against SYNTHETIC transcripts: one Xen host
only can run here, so data/xl-migrate-source.jsonl and xl-migrate-dest.jsonl were written by
data/make_xl_migrate.py against a model of two dom0s, not recorded; every entry says so
(``"synthetic"``). The replay still checks the driver's xl commands, in order, on each host,
and what it makes of xl's answers: refusals, a failing ``xl migrate``, a successful one, the
events of both sides and both state stores afterwards."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from migrate_scenario import DEST_EVENTS, GUEST, SOURCE_EVENTS, migration

import virtkit
from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.sdk.states import DomainState, PausedReason, ShutoffReason
from virtkit.sdk.store import StateStore
from virtkit_xen.replay import ReplayRunner, shared_replay

DATA = Path(__file__).parent / "data"
SOURCE = DATA / "xl-migrate-source.jsonl"
DEST = DATA / "xl-migrate-dest.jsonl"


@pytest.fixture
def replayed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    monkeypatch.setenv("VIRTKIT_XEN_POLL", "0")
    for path in (SOURCE, DEST):
        ReplayRunner.forget(str(path))

    def opener(side: str, transcript: Path):
        def open_() -> virtkit.Connection:
            monkeypatch.setenv("VIRTKIT_STATE_ROOT", str(tmp_path / side))
            monkeypatch.setenv("VIRTKIT_XEN_RUNNER", f"replay:{transcript}")
            return virtkit.open("xen:///system")
        return open_

    result = migration(opener("a", SOURCE), opener("b", DEST))
    yield {**result, "root": tmp_path}
    for path in (SOURCE, DEST):
        ReplayRunner.forget(str(path))


def test_every_entry_is_marked_synthetic() -> None:
    for path in (SOURCE, DEST):
        for line in path.read_text().splitlines():
            assert "written by hand" in json.loads(line)["synthetic"]


def test_migration_issues_the_xl_commands_of_both_hosts(replayed: dict) -> None:
    for path in (SOURCE, DEST):
        assert shared_replay(str(path)).done, path  # every command was issued, in order
    migrates = [json.loads(x)["argv"] for x in SOURCE.read_text().splitlines()
                if json.loads(x)["argv"][:2] == ["xl", "migrate"]]
    assert migrates == [["xl", "migrate", "vk-tiny", "xen-b"]] * 2  # the destination's host
    assert not any("migrate" in " ".join(json.loads(x)["argv"])
                   for x in DEST.read_text().splitlines())  # xl's receiver does that side


def test_refused_flags_name_the_domain_and_the_flag(replayed: dict) -> None:
    words = {"offline": "offline", "postcopy": "post-copy", "dname": "new name",
             "xml": "destination XML"}
    for flag, message in replayed["refusals"].items():
        assert "'vk-tiny'" in message and words[flag] in message, message


def test_a_failing_xl_migrate_names_domain_and_destination(replayed: dict) -> None:
    failed = replayed["failed"]
    assert "'vk-tiny'" in failed and "'xen-b'" in failed and "xl migrate" in failed


def test_events_of_both_sides(replayed: dict) -> None:
    assert replayed["source"] == SOURCE_EVENTS
    assert replayed["dest"] == DEST_EVENTS


def test_state_stores_afterwards(replayed: dict) -> None:
    root = replayed["root"]
    src = StateStore(root / "a" / "system" / "xen" / "config", suffix=".json")
    dst = StateStore(root / "b" / "system" / "xen" / "config", suffix=".json")
    assert src.names("guests") == []  # undefine_source: gone from the source
    assert dst.names("guests") == ["vk-tiny"]
    rec = json.loads(dst.read("guests", "vk-tiny") or b"{}")
    assert rec["persistent"] and rec["config"] and rec["live"]  # persist_dest
    assert (rec["state"], rec["id"]) == (1, 7)


# -- against the model itself (no transcript): what the scenario above does not reach ---------

sys.path.insert(0, str(DATA))
from make_xl_migrate import Dom0  # noqa: E402


@pytest.fixture
def two_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple]:
    import virtkit_xen.driver

    a, b = Dom0("xen-a", 1), Dom0("xen-b", 7)
    a.peer, a.migrations = b, 1  # the model's first migration succeeds here
    monkeypatch.setattr(virtkit_xen.driver, "runner_from_spec",
                        lambda spec: {"fake:a": a, "fake:b": b}[spec])
    monkeypatch.setenv("VIRTKIT_XEN_POLL", "0")
    conns = []
    for side in ("a", "b"):
        monkeypatch.setenv("VIRTKIT_STATE_ROOT", str(tmp_path / side))
        monkeypatch.setenv("VIRTKIT_XEN_RUNNER", f"fake:{side}")
        conns.append(virtkit.open("xen:///system"))
    yield a, b, conns[0], conns[1]
    for c in conns:
        c.close()


def test_a_paused_guest_is_sent_with_p_and_arrives_paused(two_hosts: tuple) -> None:
    a, _b, src, dst = two_hosts
    dom = src.define_xml(GUEST)
    dom.create()
    dom.suspend()
    moved = dom.migrate(dst, live=True)
    assert ["xl", "migrate", "-p", "vk-tiny", "xen-b"] in a.asked
    assert not any(x[0] == "xenstore-read" for x in a.asked)  # a paused guest is not asked
    assert moved.state()[0] == DomainState.PAUSED  # as the core's table has it for paused
    assert not moved.is_persistent()  # no persistent flag: transient on the destination
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.MIGRATED)  # still defined here


def test_a_guest_handed_to_xl_migrate_is_not_taken_for_one_that_shut_down(
        two_hosts: tuple) -> None:
    a, _b, src, dst = two_hosts
    dom = src.define_xml(GUEST)
    dom.create()
    params = {"live": True, "persistent": False, "undefine_source": False, "offline": False,
              "dname": None}
    begun = src.hooks.migrate_begin(dom=dom.ref, xml=None, params=params)
    prepared = dst.hooks.migrate_prepare(xml=begun["xml"], cookie=begun["cookie"],
                                         params=params)
    assert prepared["uri"] == "xl://xen-b"
    src.hooks.migrate_perform(dom=dom.ref, uri=prepared["uri"], cookie=prepared["cookie"],
                              params=params)
    assert "vk-tiny" not in a.doms  # xl has moved it
    # a query before confirm: polling must not read its absence as a shutdown
    assert dom.state() == (DomainState.PAUSED, PausedReason.MIGRATION)
    with pytest.raises(VirtError) as info:  # nor can it be migrated again meanwhile
        dom.migrate(dst, live=True)
    assert info.value.code == ErrorCode.OPERATION_INVALID
    dst.hooks.migrate_finish(name="vk-tiny", cookie=prepared["cookie"], params=params,
                             cancelled=False)
    src.hooks.migrate_confirm(dom=dom.ref, cookie=prepared["cookie"], params=params,
                              cancelled=False)
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.MIGRATED)
