"""save-image-dumpxml/-define/-edit and managedsave-dumpxml/-define/-edit: virsh's messages,
the XML they print and replace, and the start state they change."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Run = Callable[..., Any]  # the ``run`` fixture of conftest.py
DEFAULT = ("-c", "test:///default")


def _editor(tmp_path: Path, body: str) -> str:
    script = tmp_path / "editor.py"
    script.write_text("import sys\npath = sys.argv[1]\ntext = open(path).read()\n" + body)
    return f"{sys.executable} {script}"


def test_save_image_dumpxml_define_and_restore(run: Run, tmp_path: Path) -> None:
    image, xml = tmp_path / "t.img", tmp_path / "t.xml"
    r = run(*DEFAULT, stdin=f"save test {image}\nsave-image-dumpxml {image}\n")
    assert r.status == 0, r.stderr
    assert "<name>test</name>" in r.stdout and "<on_crash>destroy</on_crash>" in r.stdout
    text = r.stdout[r.stdout.index("<domain"):r.stdout.index("</domain>") + 9]
    xml.write_text(text.replace("<on_crash>destroy", "<on_crash>restart"))
    r = run(*DEFAULT, stdin=f"save test {image}\nsave-image-define {image} {xml} --paused\n"
                            f"restore {image}\ndomstate test\ndumpxml test\n")
    assert r.status == 0, r.stderr
    assert f"State file {image} updated.\n" in r.stdout
    assert "paused\n" in r.stdout and "<on_crash>restart</on_crash>" in r.stdout
    xml.write_text(text.replace("<name>test</name>", "<name>other</name>"))
    r = run(*DEFAULT, stdin=f"save test {image}\nsave-image-define {image} {xml}\n")
    assert r.status == 1
    assert f"error: Failed to update {image}\n" in r.stderr and "name" in r.stderr


def test_save_image_edit(run: Run, tmp_path: Path) -> None:
    image = tmp_path / "t.img"
    editor = _editor(tmp_path, "open(path, 'w').write(text.replace('restart<', 'preserve<'))\n")
    r = run(*DEFAULT, stdin=f"save test {image}\nsave-image-edit {image}\n"
                            f"save-image-dumpxml {image}\n", env={"EDITOR": editor})
    assert r.status == 0, r.stderr
    assert f"State file {image} edited.\n" in r.stdout
    assert "<on_reboot>preserve</on_reboot>" in r.stdout
    r = run(*DEFAULT, stdin=f"save test {image}\nsave-image-edit {image}\n",
            env={"EDITOR": _editor(tmp_path, "")})
    assert f"Saved image {image} XML configuration not changed.\n" in r.stdout


def test_managedsave_dumpxml_define_edit(run: Run, tmp_path: Path) -> None:
    xml = tmp_path / "t.xml"
    r = run(*DEFAULT, "managedsave-dumpxml", "test")
    assert r.status == 1
    assert "error: domain 'test' does not have managed save image" in r.stderr
    r = run(*DEFAULT, stdin="managedsave test\nmanagedsave-dumpxml test\n")
    text = r.stdout[r.stdout.index("<domain"):r.stdout.index("</domain>") + 9]
    xml.write_text(text.replace("<on_poweroff>destroy", "<on_poweroff>restart"))
    editor = _editor(tmp_path, "open(path, 'w').write(text.replace('hd', 'cdrom'))\n")
    r = run(*DEFAULT, stdin=f"managedsave test\nmanagedsave-define test {xml} --paused\n"
                            f"managedsave-edit test\nstart test\ndomstate test\ndumpxml test\n",
            env={"EDITOR": editor})
    assert r.status == 0, r.stderr
    assert "Managed save state file of domain 'test' updated.\n" in r.stdout
    assert "Managed save image of Domain 'test' XML configuration edited.\n" in r.stdout
    assert "paused\n" in r.stdout
    assert "<on_poweroff>restart</on_poweroff>" in r.stdout and "dev='cdrom'" in r.stdout
    r = run(*DEFAULT, stdin="managedsave test\nmanagedsave-edit test --running --paused\n")
    assert "error: Options --running and --paused are mutually exclusive" in r.stderr
