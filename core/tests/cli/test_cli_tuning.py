"""virsh's statistics and tuning commands through the real executable, as one batch."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

Run = Callable[..., Any]
NODE = Path(__file__).parent / "data" / "virsh" / "node.xml"


def test_tuning_commands_keep_state(run: Run) -> None:
    r = run("-c", f"test://{NODE}", stdin="""
schedinfo test --set weight=80
memtune test --hard-limit 1G
memtune test
numatune test --mode interleave --nodeset 0-1
numatune test
vcpupin test 1 2-3
vcpupin test
emulatorpin test 4
emulatorpin test
vcpuinfo test --pretty
domstats test --vcpu --perf
metadata test http://example.org/ --key ex --set <a><b>t</b></a>
metadata test http://example.org/
desc test --new-desc hello
desc test
""")
    out = r.stdout
    assert "Scheduler      : fair\nweight         : 80\n" in out
    assert "hard_limit     : 1048576\nsoft_limit     : unlimited\n" in out
    assert "numa_mode      : interleave\nnuma_nodeset   : 0-1\n" in out
    assert " 0      0-15\n 1      2-3\n" in out
    assert "emulator: CPU Affinity\n" + "-" * 34 + "\n       *: 4\n" in out
    assert "CPU Affinity:   2-3 (out of 16)\n" in out
    assert "Domain: 'test'\n  vcpu.current=2\n  vcpu.maximum=2\n  vcpu.0.state=1\n" in out
    assert "Metadata modified\n\n<a>\n  <b>t</b>\n</a>\n\n" in out
    assert out.endswith("Domain description updated successfully\nhello\n")
    assert r.stderr == ""


def test_tuning_json_and_errors(run: Run) -> None:
    uri = f"test://{NODE}"
    r = run("-c", uri, "memtune", "test", "--json")
    assert json.loads(r.stdout)["hard_limit"] == 9007199254740991
    r = run("-c", uri, "cpu-stats", "test", "--total", "--json")
    assert set(json.loads(r.stdout)["total"]) == {"cpu_time", "user_time", "system_time"}
    r = run("-c", uri, "blkdeviotune", "test", "vda", "--total-bytes-sec", "5",
            "--read-bytes-sec", "1")
    assert r.status == 1 and r.stderr.startswith("error: Unable to change block I/O throttle")
    r = run("-c", uri, "vcpupin", "test", "0", "99")
    assert r.status == 1 and "Physical CPU 99 doesn't exist." in r.stderr
    r = run("-c", uri, "-r", "memtune", "test", "--hard-limit", "1")
    assert r.status == 1 and "forbidden" in r.stderr


def test_iothread_commands_keep_state(run: Run) -> None:
    r = run("-c", f"test://{NODE}", stdin="""
iothreadadd test 5
iothreadadd test 2 --config
iothreadpin test 5 1-2
iothreadinfo test
iothreadinfo test --config
iothreadset test 5 --poll-max-ns 100 --poll-grow 2
domstats test --iothread
iothreadinfo test --json
iothreaddel test 5
iothreadinfo test
iothreadadd test 5 --live --current
iothreadset test 2
""")
    out = r.stdout
    assert " IOThread ID   CPU Affinity\n-----------------------------\n 5             1-2\n" in out
    assert " 2             0-15\n" in out
    assert ("Domain: 'test'\n  iothread.count=1\n  iothread.5.poll-max-ns=100\n"
            "  iothread.5.poll-grow=2\n") in out
    assert '"iothread": 5' in out and '"affinity": "1-2"' in out
    assert out.rstrip().endswith("No IOThreads found for the domain")
    assert "Options --current and --live are mutually exclusive" in r.stderr
    assert "Not enough arguments passed, nothing to set" in r.stderr


def test_setvcpu_changes_the_current_count(run: Run) -> None:
    r = run("-c", f"test://{NODE}", stdin="""
setvcpu test 1 --disable
vcpucount test
setvcpu test 0 --disable
setvcpu test 1 --enable --config --current
""")
    assert "current      live           1\n" in r.stdout
    assert "current      config         2\n" in r.stdout
    assert "vcpu 0 of domain 'test' is not hotpluggable" in r.stderr
    assert "Options --current and --config are mutually exclusive" in r.stderr


def test_guestvcpus_reads_and_sets_the_guests_view(run: Run) -> None:
    r = run("-c", f"test://{NODE}", stdin="""
guestvcpus test --cpulist 1 --disable
guestvcpus test
guestvcpus test --cpulist 0 --disable
""")
    assert "vcpus          : 0-1\nonline         : 0\nofflinable     : 1\n" in r.stdout
    assert "vcpu 0 of the guest of domain 'test' is not offlinable" in r.stderr
    r = run("-c", f"test://{NODE}", "guestvcpus", "test", "--json")
    assert json.loads(r.stdout) == {"vcpus": "0-1", "online": "0-1", "offlinable": "1"}


def test_domdirtyrate_calc_and_domstats_dirtyrate(run: Run) -> None:
    r = run("-c", f"test://{NODE}", stdin="""
domdirtyrate-calc test --seconds 5 --mode dirty-bitmap
domstats test --dirtyrate
domdirtyrate-calc test --seconds 61
""")
    assert r.stdout.startswith(
        "Start to calculate domain's memory dirty rate successfully.\n\n"
        "Domain: 'test'\n  dirtyrate.calc_status=1\n")
    assert "  dirtyrate.calc_period=5\n  dirtyrate.calc_mode=dirty-bitmap\n" in r.stdout
    assert "seconds 61 must be from 1 to 60" in r.stderr
