"""domrename: virsh's message and the refusals it reports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

Run = Callable[..., Any]  # the ``run`` fixture of conftest.py
DEFAULT = ("-c", "test:///default")


def test_domrename(run: Run) -> None:
    r = run(*DEFAULT, stdin="domrename test foo\ndestroy test\ndomrename test foo\n"
                            "list --all --name\ndomrename foo foo\n")
    assert "error: cannot rename active domain 'test'\n" in r.stderr
    assert "Domain successfully renamed\n" in r.stdout and "\nfoo\n" in r.stdout
    assert "error: Can't rename domain 'foo' to itself\n" in r.stderr


def test_set_lifecycle_action(run: Run) -> None:
    r = run(*DEFAULT, stdin="set-lifecycle-action test poweroff restart\n"
                            "set-lifecycle-action test crash coredump-restart --config\n"
                            "dumpxml test\ndumpxml test --inactive\n"
                            "set-lifecycle-action test reboot coredump-destroy\n"
                            "set-lifecycle-action test reboot preserve --current --live\n")
    live, config = r.stdout.split("</domain>")[:2]
    assert "<on_poweroff>restart</on_poweroff>" in live
    assert "<on_crash>destroy</on_crash>" in live
    assert "<on_poweroff>destroy</on_poweroff>" in config
    assert "<on_crash>coredump-restart</on_crash>" in config
    assert ("error: Unable to change lifecycle action.\nerror: unsupported configuration: "
            "Lifecycle event 'reboot' doesn't support 'coredump-destroy' action\n") in r.stderr
    assert "Options --current and --live are mutually exclusive" in r.stderr


def test_detach_device_alias(run: Run, tmp_path: Path) -> None:
    disk = tmp_path / "disk.xml"
    disk.write_text("<disk type='file' device='disk'><source file='/guest/b'/>"
                    "<target dev='vdb'/><alias name='ua-data'/></disk>")
    r = run(*DEFAULT, stdin=f"attach-device test {disk} --live --config\n"
                            "detach-device-alias test ua-data\n"
                            "domblklist test\ndomblklist test --inactive\n"
                            "detach-device-alias test ua-data --live\n"
                            "detach-device-alias test ua-data --config\n")
    assert r.stdout.count("Device detach request sent successfully\n") == 2
    live, config = r.stdout.split("Device detach request sent successfully\n")[1].split(
        "Target")[1:3]
    assert "vdb" not in live and "vdb" in config
    assert ("error: Failed to detach device with alias ua-data\nerror: device not found: no "
            "device found with alias 'ua-data' in the live definition of domain 'test'\n"
            ) in r.stderr
