"""Global options, batch mode, error handling, host commands, drivers, completion, events."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from virtkit.cli import fmt
from virtkit.cli.event import format_event
from virtkit.cli.main import main, split_line

DATA = Path(__file__).parent / "data"
NODE_URI = f"test://{DATA / 'node.xml'}"
WEB1_XML = DATA / "web1.xml"
Run = Callable[..., Any]  # the ``run`` fixture of conftest.py
DEFAULT = ("-c", "test:///default")


# -- global options, errors -----------------------------------------------------------------------


def test_default_uri_from_environment(run: Run) -> None:
    r = run("uri", env={"VIRTKIT_DEFAULT_URI": NODE_URI})
    assert r.status == 0
    assert r.stdout == NODE_URI + "\n\n"


def test_connect_option_wins(run: Run) -> None:
    r = run("--connect", "test:///default", "uri", env={"VIRTKIT_DEFAULT_URI": NODE_URI})
    assert r.stdout == "test:///default\n\n"


def test_connection_failure(run: Run) -> None:
    r = run("-c", "nosuchdriver:///system", "list")
    assert r.status == 1
    assert r.stderr == (
        "error: failed to connect to the hypervisor\n"
        "error: no connection driver available for scheme 'nosuchdriver'\n"
    )


def test_unknown_command_is_usage_error(run: Run) -> None:
    r = run(*DEFAULT, "frobnicate")
    assert r.status == 2
    assert r.stderr == "error: unknown command: 'frobnicate'\n"


def test_unknown_option_is_usage_error(run: Run) -> None:
    r = run(*DEFAULT, "list", "--bogus")
    assert r.status == 2
    assert r.stderr.startswith("error: list: No such option")


def test_missing_argument_is_usage_error(run: Run) -> None:
    r = run(*DEFAULT, "dominfo")
    assert r.status == 2
    assert "Missing argument 'DOMAIN'" in r.stderr


def test_debug_shows_traceback(run: Run) -> None:
    r = run("--debug", "-c", "nosuchdriver:///system", "list")
    assert r.status == 1
    assert "Traceback" in r.stderr
    assert "error: failed to connect to the hypervisor" in r.stderr


def test_version_and_help(run: Run) -> None:
    from virtkit import __version__

    assert run("--version").stdout == __version__ + "\n"
    r = run("--help")
    assert r.status == 0 and "dominfo" in r.stdout
    r = run("help", "list")
    assert r.status == 0 and "--all" in r.stdout
    assert run("help", "nosuch").status == 2


def test_batch_from_stdin_continues_after_errors(run: Run) -> None:
    r = run(*DEFAULT, stdin="domid test\ndomid nosuch\n# a comment\n\ndomname 1; uri\n")
    assert r.status == 1
    assert r.stdout == "1\n\n\ntest\n\ntest:///default\n\n"
    assert r.stderr.startswith("error: failed to get domain 'nosuch'\n")


def test_batch_quit_stops(run: Run) -> None:
    r = run(*DEFAULT, stdin="domid test\nquit\ndomid test\n")
    assert r.status == 0
    assert r.stdout == "1\n\n"


def test_batch_usage_error_status(run: Run) -> None:
    r = run(*DEFAULT, stdin="list --bogus\n")
    assert r.status == 2


def test_batch_keeps_state_between_commands(run: Run) -> None:
    r = run(*DEFAULT, stdin="destroy test\nlist --all\n")
    assert "shut off" in r.stdout


def test_split_line() -> None:
    assert split_line("define 'a b.xml'; start x --paused # c") == [
        ["define", "a b.xml"], ["start", "x", "--paused"]]
    assert split_line("   ") == []
    with pytest.raises(ValueError):
        split_line("define 'unterminated")


# -- host ---------------------------------------------------------------------------------------


def test_host_commands(run: Run) -> None:
    assert run(*DEFAULT, "uri").stdout == "test:///default\n\n"
    assert run(*DEFAULT, "hostname").stdout.strip()
    r = run(*DEFAULT, "nodeinfo")
    assert r.stdout == (
        "CPU model:           i686\n"
        "CPU(s):              16\n"
        "CPU frequency:       1400 MHz\n"
        "CPU socket(s):       2\n"
        "Core(s) per socket:  2\n"
        "Thread(s) per core:  2\n"
        "NUMA cell(s):        2\n"
        "Memory size:         3145728 KiB\n"
        "\n"
    )
    assert json.loads(run(*DEFAULT, "nodeinfo", "--json").stdout)["cpus"] == 16
    version = run(*DEFAULT, "version").stdout.splitlines()
    assert version[0].startswith("Compiled against library: virtkit ")
    assert version[3] == "Running hypervisor: TEST 0.0.2"
    assert run(*DEFAULT, "capabilities").stdout.startswith("<capabilities>")


def test_freecell(run: Run) -> None:
    assert run(*DEFAULT, "freecell").stdout == "Total: 1048576 KiB\n\n"
    assert run(*DEFAULT, "freecell", "--all").stdout == (
        "    0:     524288 KiB\n"
        "    1:     524288 KiB\n"
        "--------------------\n"
        "Total:    1048576 KiB\n"
        "\n"
    )
    assert run(*DEFAULT, "freecell", "--cellno", "1").stdout == "1: 524288 KiB\n\n"
    r = run(*DEFAULT, "freecell", "--cellno", "7")
    assert r.status == 1 and "out of range" in r.stderr
    assert run(*DEFAULT, "freecell", "--cellno", "0", "--all").status == 2


def test_domcapabilities_error_or_xml(run: Run) -> None:
    r = run(*DEFAULT, "domcapabilities")
    if r.status == 0:
        assert r.stdout.lstrip().startswith("<")
    else:
        assert r.status == 1
        assert r.stderr.startswith("error: failed to get domain capabilities\nerror: ")


def test_connect_in_batch(run: Run) -> None:
    r = run(*DEFAULT, stdin=f"uri\nconnect {NODE_URI}\nuri\nlist --name\n")
    assert r.stdout.split() == ["test:///default", NODE_URI, "alpha", "a-guest-with-a-long-name"]


# -- drivers, completion --------------------------------------------------------------------------


def test_drivers(run: Run) -> None:
    r = run("drivers")
    assert r.status == 0
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["Scheme", "Distribution", "Version", "Driver", "Status"]
    assert any(line.split()[:2] == ["test", "virtkit"] and line.split()[-1] == "ok"
               for line in lines[2:] if line)
    data = json.loads(run("drivers", "--json").stdout)
    test = next(d for d in data if d["scheme"] == "test")
    assert test["broken"] is False and test["target"] == "virtkit.drivers.test:TestDriver"


def test_drivers_matrix(run: Run) -> None:
    r = run("drivers", "--matrix")
    assert r.status == 0
    rows = {line.split()[0]: line.split()[1:] for line in r.stdout.splitlines()[2:] if line}
    assert rows["domain_create"][0] == "yes"
    data = json.loads(run("drivers", "--matrix", "--json").stdout)
    assert data["test"]["domain_suspend"] is True


def test_completion_scripts(run: Run) -> None:
    for shell in ("bash", "zsh"):
        r = run("completion", shell)
        assert r.status == 0
        assert "_VIRTKIT_COMPLETE" in r.stdout
    assert run("completion", "fish").status == 2


def test_completion_callback_lists_commands_and_domains(run: Run) -> None:
    env = {"_VIRTKIT_COMPLETE": "bash_complete", "COMP_WORDS": "virtkit domi",
           "COMP_CWORD": "1"}
    r = run(env=env)
    assert "dominfo" in r.stdout and "domid" in r.stdout
    env = {"_VIRTKIT_COMPLETE": "bash_complete", "COMP_WORDS": f"virtkit -c {NODE_URI} dominfo a",
           "COMP_CWORD": "4"}
    r = run(env=env)
    assert "alpha" in r.stdout and "a-guest-with-a-long-name" in r.stdout


def test_commands_without_connection_stay_light() -> None:
    code = (
        "import sys\n"
        "from virtkit.cli.main import main\n"
        "main(['completion', 'bash'])\n"
        "heavy = [m for m in ('pluggy', 'stevedore', 'lxml', 'attrs', 'asyncio') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


# -- events ---------------------------------------------------------------------------------------


def test_event_timeout_without_events(run: Run) -> None:
    r = run(*DEFAULT, "event", "--all", "--loop", "--timeout", "1")
    assert r.status == 1  # virsh: success only when an event arrived
    assert r.stdout == "event loop timed out\nevents received: 0\n\n"
    assert r.stderr == ""


def test_event_needs_a_choice(run: Run) -> None:
    r = run(*DEFAULT, "event")
    assert r.status == 2
    assert r.stderr == "error: one of --list, --all, or --event is required\n"
    assert run(*DEFAULT, "event", "--event", "bogus").status == 2
    listed = run(*DEFAULT, "event", "--list").stdout  # libvirt's 27, as virsh lists them
    assert listed.startswith("lifecycle\nreboot\nrtc-change\n") and listed.count("\n") == 28


def test_event_loop_prints_events(capsys: pytest.CaptureFixture[str]) -> None:
    """In one process the test driver's default node is shared, so another thread's changes
    reach the event command."""
    import virtkit

    def act() -> None:
        time.sleep(0.5)
        with virtkit.open("test:///default") as conn:
            dom = conn.lookup_by_name("test")
            dom.suspend()
            dom.resume()
            dom.reboot()

    worker = threading.Thread(target=act)
    worker.start()
    status = main(["-c", "test:///default", "event", "--all", "--loop", "--timeout", "2"])
    worker.join()
    out = capsys.readouterr().out
    assert status == 0
    assert out == (
        "event 'lifecycle' for domain 'test': Suspended Paused\n"
        "event 'lifecycle' for domain 'test': Resumed Unpaused\n"
        "event 'reboot' for domain 'test'\n"
        "event loop timed out\n"
        "events received: 3\n"
        "\n"
    )


def test_event_without_loop_stops_after_one(capsys: pytest.CaptureFixture[str]) -> None:
    import virtkit

    def act() -> None:
        time.sleep(0.5)
        with virtkit.open("test:///default") as conn:
            conn.lookup_by_name("test").destroy()

    worker = threading.Thread(target=act)
    worker.start()
    status = main(["-c", "test:///default", "event", "--domain", "test", "--event", "lifecycle",
                   "--timeout", "5"])
    worker.join()
    assert status == 0
    assert capsys.readouterr().out == (
        "event 'lifecycle' for domain 'test': Stopped Destroyed\nevents received: 1\n\n")


def test_format_event() -> None:
    from virtkit.sdk.records import DomainRef, Event

    ev = Event("domain-lifecycle", DomainRef("a", "u", 1), 5, 4)
    assert format_event(ev) == "event 'lifecycle' for domain 'a': Stopped Saved\n"


# -- formatting -----------------------------------------------------------------------------------


def test_table_matches_vshtable() -> None:
    assert fmt.table(["Id", "Name", "State"], [["1", "test", "running"]]) == (
        " Id   Name   State\n----------------------\n 1    test   running\n")
    # wide characters take two columns
    out = fmt.table(["Name", "X"], [["日本", "1"]])
    assert out.splitlines()[2] == " 日本   1"


def test_parse_scaled() -> None:
    assert fmt.parse_scaled("1024") == 1024 * 1024
    assert fmt.parse_scaled("1G") == 1024**3
    assert fmt.parse_scaled("2 MiB") == 2 * 1024**2
    assert fmt.parse_scaled("1KB") == 1000
    with pytest.raises(ValueError):
        fmt.parse_scaled("12 parsecs")


def test_state_and_reason_names() -> None:
    assert [fmt.state_name(i) for i in range(8)] == [
        "no state", "running", "idle", "paused", "in shutdown", "shut off", "crashed",
        "pmsuspended"]
    assert fmt.reason_name(5, 5) == "saved"
    assert fmt.reason_name(5, 99) == "unknown"


def test_history_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from virtkit.cli.shell import history_path

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert history_path() == tmp_path / "virtkit" / "history"


def test_malformed_xml_names_line_and_column_once(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<domain type='test'><name>x</name>\n<memory>1</memory>\n<bad></domain>")
    out = run("-c", "test:///default", "define", str(bad))
    assert out.status == 1
    message = out.stderr.strip().splitlines()[-1]
    assert message.startswith("error: XML error: domain document is not well-formed: ")
    assert message.endswith("line 3, column 15")
    assert message.count("line 3") == 2  # lxml's "bad line 3" (where <bad> opened) and the place
