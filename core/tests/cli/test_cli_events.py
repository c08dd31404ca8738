"""``event --all`` prints the new domain events as virsh does, from the test driver's changes
(in one process: the test driver's default node is shared)."""

from __future__ import annotations

import threading
import time

import pytest

from virtkit.cli.main import main


def test_event_all_prints_tuning_balloon_and_metadata_events(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import virtkit

    conn = virtkit.open("test:///default")
    dom = conn.lookup_by_name("test")
    memory = dom.info().memory
    weight = dom.scheduler_parameters()["weight"]

    def act() -> None:
        time.sleep(0.5)
        dom.set_memory(memory // 2, live=True)
        dom.set_scheduler_parameters({"weight": weight + 10})
        dom.set_metadata("title", "watched")

    worker = threading.Thread(target=act)
    worker.start()
    try:
        status = main(["-c", "test:///default", "event", "--all", "--loop", "--timeout", "2"])
    finally:
        worker.join()
        dom.set_memory(memory, live=True)
        dom.set_scheduler_parameters({"weight": weight})
        dom.set_metadata("title", None)
        conn.close()
    out = capsys.readouterr().out
    assert status == 0
    assert out == (
        f"event 'balloon-change' for domain 'test': {memory // 2}KiB\n"
        "event 'tunable' for domain 'test':\n"
        f"\tcputune.weight: {weight + 10}\n"
        "event 'metadata-change' for domain 'test': type title, uri <null>\n"
        "event loop timed out\n"
        "events received: 3\n"
        "\n"
    )
