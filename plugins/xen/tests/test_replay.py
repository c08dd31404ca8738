"""The driver against the xl transcript RECORDED from the real Xen run (tests/data/
xl-lifecycle.jsonl, taken by tests_real/ with Xen 4.17.7 under QEMU TCG): the same calls must
issue the same xl commands in the same order and handle what xl really answered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scenario import OPS_EVENTS, WATCHER_EVENTS, lifecycle, operations

import virtkit
from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit_xen.replay import ReplayRunner, shared_replay
from virtkit_xen.xl import XL

TRANSCRIPT = Path(__file__).parent / "data" / "xl-lifecycle.jsonl"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VIRTKIT_STATE_ROOT", str(tmp_path / "state"))
    monkeypatch.setenv("VIRTKIT_XEN_POLL", "0")
    return tmp_path


def test_lifecycle_replays_the_recorded_xl_sequence(state: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIRTKIT_XEN_RUNNER", f"replay:{TRANSCRIPT}")
    ReplayRunner.forget(str(TRANSCRIPT))
    events = lifecycle("xen:///system")
    assert [e for e, _ in events] == [0, 2, 3, 4, 6, 5, 2, 5, 2, 5, 1]
    assert shared_replay(str(TRANSCRIPT)).done  # every recorded command was issued
    ReplayRunner.forget(str(TRANSCRIPT))


def test_a_changed_command_sequence_is_caught(state: Path) -> None:
    runner = ReplayRunner(TRANSCRIPT)
    with pytest.raises(VirtError) as info:
        runner.run(["xl", "destroy", "nobody"])
    assert info.value.code == ErrorCode.INTERNAL_ERROR and "transcript has" in info.value.message


def test_xl_list_parses_the_recorded_output() -> None:
    entries = [json.loads(line) for line in TRANSCRIPT.read_text().splitlines()]
    outputs = [e["stdout"] for e in entries if e["argv"] == ["xl", "list", "-v"]]
    seen = set()
    for out in outputs:

        class One:
            def run(self, argv, *, input=None, timeout=0.0, _o=out):
                from virtkit_xen.runner import RunResult
                return RunResult(0, _o, "")

            def close(self) -> None:
                pass

        for d in XL(One()).list():
            seen.add((d.name, d.paused))
            if d.name == "Domain-0":
                assert d.domid == 0 and d.uuid == "00000000-0000-0000-0000-000000000000"
    assert ("vk-tiny", False) in seen and ("vk-tiny", True) in seen


def test_no_dom0_here_is_a_clear_no_connect(state: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIRTKIT_XEN_RUNNER", "local")
    monkeypatch.setenv("PATH", str(state))  # no xl on PATH, as on any non-dom0 host
    with pytest.raises(virtkit.VirtError) as info:
        virtkit.open("xen:///system")
    assert info.value.code == ErrorCode.NO_CONNECT
    assert "'xl' is not installed" in info.value.message


def test_bad_runner_spec_is_invalid_arg(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIRTKIT_XEN_RUNNER", "telnet:dom0")
    with pytest.raises(virtkit.VirtError) as info:
        virtkit.open("xen:///system")
    assert info.value.code in (ErrorCode.INVALID_ARG, ErrorCode.NO_CONNECT)
    assert "telnet:dom0" in info.value.message


OPERATIONS = Path(__file__).parent / "data" / "xl-operations.jsonl"
WATCHER = Path(__file__).parent / "data" / "xl-watcher.jsonl"


def test_operations_replay_the_recorded_xl_sequences(state: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Live vcpus and memory, reboot, reset, managed save and its restore (xl-operations.jsonl),
    then the watcher's events for xl pause, unpause and destroy run outside virtkit
    (xl-watcher.jsonl: only the watcher's polls; the outside commands are in its answers)."""
    monkeypatch.setenv("VIRTKIT_XEN_RUNNER", f"replay:{OPERATIONS}")
    for path in (OPERATIONS, WATCHER):
        ReplayRunner.forget(str(path))
    events, seen = operations("xen:///system", {"VIRTKIT_XEN_RUNNER": f"replay:{WATCHER}",
                                                "VIRTKIT_XEN_POLL": "0.01"},
                              lambda argv: None)
    assert events == OPS_EVENTS
    assert seen == WATCHER_EVENTS
    assert shared_replay(str(OPERATIONS)).done
    for path in (OPERATIONS, WATCHER):
        ReplayRunner.forget(str(path))


class _Answers:
    """A runner answering each command with the next of ``answers`` (stdout, rc 0)."""

    def __init__(self, answers: list[str]) -> None:
        self.answers, self.asked = list(answers), []

    def run(self, argv, *, input=None, timeout=0.0):
        from virtkit_xen.runner import RunResult
        self.asked.append(list(argv))
        return RunResult(0, self.answers.pop(0), "")

    def close(self) -> None:
        pass


def _recorded_listing() -> str:
    for line in TRANSCRIPT.read_text().splitlines():
        e = json.loads(line)
        if e["argv"] == ["xl", "list", "-v"] and "vk-tiny" in e["stdout"]:
            return str(e["stdout"])
    raise AssertionError("no listing with the guest in the transcript")


def test_an_empty_listing_is_asked_again_never_read_as_no_guests() -> None:
    # recorded on the real run: 'xl list -v' answering exit status 0 and no output at all
    listing = _recorded_listing()
    runner = _Answers(["", "", listing])
    assert "vk-tiny" in [d.name for d in XL(runner).list()]
    assert len(runner.asked) == 3
    with pytest.raises(VirtError) as info:
        XL(_Answers(["", "", ""])).list()
    assert info.value.code == ErrorCode.OPERATION_FAILED and "Domain-0" in info.value.message


def test_an_empty_domid_answer_falls_back_on_the_listing() -> None:
    listing = _recorded_listing()
    domid = next(d.domid for d in XL(_Answers([listing])).list() if d.name == "vk-tiny")
    runner = _Answers(["", listing])
    assert XL(runner).domid("vk-tiny") == domid
    assert runner.asked == [["xl", "domid", "vk-tiny"], ["xl", "list", "-v"]]
    with pytest.raises(VirtError) as info:
        XL(_Answers(["", listing])).domid("nobody")
    assert info.value.code == ErrorCode.OPERATION_FAILED and "nobody" in info.value.message


class _Failing(_Answers):
    """Like _Answers, but ``xl domid`` dies as it once did on the real run (SIGABRT: the shell
    says ``Aborted``, exit status 134)."""

    def run(self, argv, *, input=None, timeout=0.0):
        from virtkit_xen.runner import RunResult
        if list(argv[:2]) == ["xl", "domid"]:
            self.asked.append(list(argv))
            return RunResult(134, "", "Aborted\n")
        return super().run(argv, input=input, timeout=timeout)


def test_an_aborted_domid_falls_back_on_the_listing() -> None:
    listing = _recorded_listing()
    domid = next(d.domid for d in XL(_Answers([listing])).list() if d.name == "vk-tiny")
    runner = _Failing([listing])
    assert XL(runner).domid("vk-tiny") == domid
    assert runner.asked == [["xl", "domid", "vk-tiny"], ["xl", "list", "-v"]]
    with pytest.raises(VirtError) as info:
        XL(_Failing([listing])).domid("nobody")
    e = info.value
    assert e.code == ErrorCode.OPERATION_FAILED
    assert "nobody" in e.message and "exit status 134" in e.message and "Aborted" in e.message
