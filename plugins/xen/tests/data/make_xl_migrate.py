"""Writes xl-migrate-source.jsonl and xl-migrate-dest.jsonl: the transcripts of
migrate_scenario.py's calls against a MODEL of two dom0s, not recorded (one Xen host only can
run here, under QEMU TCG). Every entry is marked ``"synthetic"``. The model answers as xl 4.17
does on the real run (``xl info``, ``xl list -v`` in the recorded formats, copied from
xl-lifecycle.jsonl); ``xl migrate`` fails once as xl does when ssh cannot reach the
destination, then moves the guest (gone from the source's list, listed on the destination).

Run from plugins/xen/tests: ``python data/make_xl_migrate.py``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from migrate_scenario import migration  # noqa: E402

import virtkit  # noqa: E402
import virtkit_xen.driver  # noqa: E402
from virtkit_xen.runner import RunResult  # noqa: E402

RECORDED = [json.loads(x) for x in (HERE / "xl-lifecycle.jsonl").read_text().splitlines()]
INFO = next(e["stdout"] for e in RECORDED if e["argv"] == ["xl", "info"])
HEAD = next(e["stdout"] for e in RECORDED if e["argv"] == ["xl", "list", "-v"]).splitlines()[0]
LINE = "{name:<40}{id:>6}{mem:>6}{vcpus:>6}     {state}{time:>10} {uuid}        -" \
       "                -"
NOTE = ("written by hand, not recorded (one Xen host only here): a model of two xl 4.17 dom0s "
        "answering migrate_scenario.py's calls (tests/data/make_xl_migrate.py)")


class Dom0:
    def __init__(self, host: str, first_id: int) -> None:
        self.host, self.next_id = host, first_id
        self.doms: dict[str, tuple[int, str, str]] = {}  # name: domid, state, uuid
        self.peer: Dom0 | None = None
        self.migrations = 0
        self.asked: list[list[str]] = []

    def run(self, argv: list[str], *, input: bytes | None = None,
            timeout: float = 0.0) -> RunResult:
        a = list(argv)
        self.asked.append(a)
        if a == ["xl", "info"]:
            return RunResult(0, INFO.replace("(none)", self.host, 1), "")
        if a[0] == "test":
            return RunResult(1, "", "")
        if a == ["xl", "list", "-v"]:
            lines = [HEAD, LINE.format(name="Domain-0", id=0, mem=1024, vcpus=1, state="r-----",
                                       time="40.1", uuid="0" * 8 + "-0000" * 3 + "-" + "0" * 12)]
            for name, (domid, state, uuid) in self.doms.items():
                lines.append(LINE.format(name=name, id=domid, mem=128, vcpus=1, state=state,
                                         time="2.3", uuid=uuid))
            return RunResult(0, "\n".join(lines) + "\n", "")
        if a[0] == "sh":
            return RunResult(0, "", "")
        if a[:2] == ["xl", "create"]:
            self.doms["vk-tiny"] = (self.next_id, "-b----",
                                    "6d1e0f7a-3c55-4c1b-9a70-2f5d0c3e9b11")
            self.next_id += 1
            return RunResult(0, "", "")
        if a[:2] == ["xl", "domid"]:
            return RunResult(0, f"{self.doms[a[2]][0]}\n", "")
        if a[:2] in (["xl", "pause"], ["xl", "unpause"]):
            domid, _, uuid = self.doms[a[2]]
            self.doms[a[2]] = (domid, "--p---" if a[1] == "pause" else "-b----", uuid)
            return RunResult(0, "", "")
        if a[0] == "xenstore-read":  # control/feature-suspend: the guest's kernel is up
            return RunResult(0, "1\n", "")
        if a[:2] == ["xl", "migrate"]:
            self.migrations += 1
            name, host = a[-2], a[-1]
            if self.migrations == 1:
                return RunResult(1, "", f"ssh: connect to host {host} port 22: Connection "
                                 "refused\nmigration sender: Target has stopped.\n")
            assert self.peer is not None and host == self.peer.host
            _, _, uuid = self.doms.pop(name)
            self.peer.doms[name] = (self.peer.next_id, "--p---" if "-p" in a else "-b----",
                                    uuid)
            self.peer.next_id += 1
            return RunResult(0, "", "")
        raise AssertionError(f"the model has no answer for {a}")

    def close(self) -> None:
        pass


def main() -> None:
    a, b = Dom0("xen-a", 1), Dom0("xen-b", 7)
    a.peer = b
    fakes = {"src": a, "dst": b}
    virtkit_xen.driver.runner_from_spec = lambda spec: fakes[spec.partition(":")[2]]
    outs = {"src": HERE / "xl-migrate-source.jsonl", "dst": HERE / "xl-migrate-dest.jsonl"}
    for p in outs.values():
        p.unlink(missing_ok=True)
    tmp = tempfile.mkdtemp()
    os.environ["VIRTKIT_XEN_POLL"] = "0"

    def opener(side: str):
        def open_() -> virtkit.Connection:
            os.environ.update(VIRTKIT_STATE_ROOT=f"{tmp}/{side}", VIRTKIT_XEN_RUNNER=f"fake:{side}",
                              VIRTKIT_XEN_RECORD=str(outs[side]))
            return virtkit.open("xen:///system")
        return open_

    print(migration(opener("src"), opener("dst")))
    for p in outs.values():
        entries = [json.loads(x) for x in p.read_text().splitlines()]
        p.write_text("".join(json.dumps({**e, "seconds": 0.0, "synthetic": NOTE}) + "\n"
                             for e in entries))


if __name__ == "__main__":
    main()
