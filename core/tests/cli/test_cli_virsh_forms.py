"""virsh's named-argument forms, the event loop's signals and status, and virsh's messages."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Run = Callable[..., Any]  # the ``run`` fixture of conftest.py

DEFAULT = ("-c", "test:///default")

# (named form, positional form): each pair must print the same and exit the same.
PAIRS = [
    ("dominfo --domain test", "dominfo test"),
    ("domstate --domain test --reason", "domstate test --reason"),
    ("dominfo --domain=test", "dominfo test"),
    ("vol-create-as --pool default-pool --name n1 --capacity 1G; vol-list default-pool",
     "vol-create-as default-pool n1 1G; vol-list default-pool"),
    ("vol-create-as --capacity 1G --name n1 default-pool; vol-info --vol n1 --pool default-pool",
     "vol-create-as default-pool n1 1G; vol-info n1 --pool default-pool"),
    ("attach-disk --domain test --source /var/lib/x.img --target vdb --print-xml",
     "attach-disk test /var/lib/x.img vdb --print-xml"),
    ("attach-disk test --target vdb --source /var/lib/x.img --print-xml",
     "attach-disk test /var/lib/x.img vdb --print-xml"),
    ("attach-disk --target vdb test /var/lib/x.img --print-xml",
     "attach-disk test /var/lib/x.img vdb --print-xml"),
    ("attach-interface --domain test --type network --source default --print-xml",
     "attach-interface test network default --print-xml"),
    ("setvcpus --domain test --count 1 --live; vcpucount --domain test",
     "setvcpus test 1 --live; vcpucount test"),
    ("net-info --network default", "net-info default"),
    ("find-storage-pool-sources-as --type netfs --host h", "find-storage-pool-sources-as netfs --host h"),
    ("send-process-signal --domain test --pid 1 --signame kill", "send-process-signal test 1 kill"),
    ("nodedev-info --device computer", "nodedev-info computer"),
    ("get-user-sshkeys --user root --domain test", "get-user-sshkeys test root"),
    ("pool-info --pool default-pool", "pool-info default-pool"),
    ("snapshot-create-as --domain test --name s1; snapshot-revert --domain test "
     "--snapshotname s1; snapshot-list --domain test --name",
     "snapshot-create-as test s1; snapshot-revert test s1; snapshot-list test --name"),
    ("destroy --domain test; start --domain test; shutdown --domain test; list --all",
     "destroy test; start test; shutdown test; list --all"),
    ("help --command dominfo", "help dominfo"),
]


@pytest.mark.parametrize(("named", "positional"), PAIRS)
def test_named_and_positional_forms_agree(run: Run, named: str, positional: str) -> None:
    a = run(*DEFAULT, stdin=named.replace("; ", "\n") + "\n")
    b = run(*DEFAULT, stdin=positional.replace("; ", "\n") + "\n")
    assert (a.status, a.stdout, a.stderr) == (b.status, b.stdout, b.stderr)
    assert a.status == 0, a.stderr


def test_named_form_as_command_line_arguments(run: Run) -> None:
    r = run(*DEFAULT, "dominfo", "--domain", "test")
    assert r.status == 0 and "Name:           test\n" in r.stdout


def test_missing_argument_still_reported(run: Run) -> None:
    r = run(*DEFAULT, "attach-disk", "--domain", "test", "--source", "/x.img")
    assert r.status == 2
    assert r.stderr == "error: attach-disk: Missing argument 'TARGET'.\n"
    r = run(*DEFAULT, "dominfo", "--domain")
    assert r.status == 2 and "--domain" in r.stderr


def test_too_many_values(run: Run) -> None:
    r = run(*DEFAULT, "dominfo", "--domain", "test", "test")
    assert r.status == 2
    assert "unexpected data 'test'" in r.stderr


# -- event ----------------------------------------------------------------------------------------


def test_event_loop_ends_on_sigint_inherited_as_ignored(tmp_path: Path, virtkit_exe: str) -> None:
    """A script's background job inherits SIGINT ignored; virsh's loop still ends on it."""
    out = tmp_path / "out"
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    proc = subprocess.Popen(
        [virtkit_exe, *DEFAULT, "event", "--all", "--loop"],
        stdout=out.open("w"), stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        start_new_session=True,
    )
    try:
        # wait for the loop to be running: its handler is installed before it waits
        time.sleep(3)
        assert proc.poll() is None
        os.kill(proc.pid, signal.SIGINT)
        status = proc.wait(30)
        stderr = proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
    assert status == 1
    assert out.read_text() == "event loop interrupted\nevents received: 0\n\n"
    assert stderr == ""


def test_event_from_a_shell_background_job(tmp_path: Path, virtkit_exe: str) -> None:
    """The same through sh: ``cmd &`` in a non-interactive shell ignores SIGINT."""
    script = (f"'{virtkit_exe}' -c test:///default event --all --loop > '{tmp_path}/out' 2>&1 & "
              "p=$!; sleep 3; kill -INT $p; wait $p; echo status=$?")
    r = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache")))
    assert r.stdout == "status=1\n"
    assert (tmp_path / "out").read_text() == "event loop interrupted\nevents received: 0\n\n"


# -- messages -------------------------------------------------------------------------------------


def test_flag_names_are_the_cli_options(run: Run) -> None:
    r = run(*DEFAULT, stdin="snapshot-create-as test s1\ndestroy test\nundefine test\n")
    assert r.status == 1
    assert "--snapshots-metadata flag" in r.stderr
    assert "snapshots_metadata" not in r.stderr


def test_warnings_have_the_prefix(run: Run, tmp_path: Path) -> None:
    xml = tmp_path / "d.xml"
    xml.write_text("<domain type='test' xmlns:t='urn:x'><name>w</name><memory>1024</memory>"
                   "<os><type>hvm</type></os><t:odd/></domain>")
    r = run(*DEFAULT, "define", str(xml))
    assert r.status == 0, r.stderr
    assert r.stderr.startswith("warning: ")
    assert all(line.startswith("warning: ") for line in r.stderr.splitlines())


def test_long_version(run: Run) -> None:
    r = run("-V")
    assert r.status == 0
    assert r.stdout.startswith("Virtkit command line tool, version ")
    assert "Installed drivers: " in r.stdout and " test" in r.stdout


def test_config_file_named_but_missing(run: Run, tmp_path: Path) -> None:
    r = run("list", env={"VIRTKIT_CONFIG": str(tmp_path / "nowhere.conf")})
    assert r.status == 1
    assert r.stderr == (
        "error: failed to connect to the hypervisor\n"
        f"error: configuration file '{tmp_path}/nowhere.conf' (named by VIRTKIT_CONFIG) "
        "does not exist\n")


def test_config_syntax_error_names_file_and_line(run: Run, tmp_path: Path) -> None:
    cfg = tmp_path / "virtkit.conf"
    cfg.write_text('uri_default = "test:///default"\nuri_aliases = [\n  oops\n]\n')
    r = run("list", env={"VIRTKIT_CONFIG": str(cfg)})
    assert r.status == 1
    assert r.stderr.splitlines()[1].startswith(
        f"error: configuration file syntax error: {cfg}:3: ")


def test_no_uri_and_no_hypervisor_driver_is_refused(run: Run) -> None:
    """Only the test driver is available: with no URI, no fake guests are shown."""
    only_test = {"VIRTKIT_DRIVERS": "test,remote"}  # whatever else this environment installed
    r = run("list", "--all", env=only_test)
    assert r.status == 1
    assert r.stdout.strip() == ""
    assert r.stderr.startswith("error: failed to connect to the hypervisor\n"
                               "error: no hypervisor driver installed here can serve the "
                               "default connection; name one with -c URI")
    # naming it in any of the documented ways works
    assert run("list", env={**only_test, "VIRTKIT_DEFAULT_URI": "test:///default"}).status == 0
    assert run("-c", "test:///default", "list", env=only_test).status == 0
