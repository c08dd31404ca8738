"""Driver discovery: out-of-tree drivers, broken ones, conflicts, restriction, NO_SUPPORT."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import virtkit
from virtkit.sdk.errors import ErrorCode, VirtError

HELLO = '''
from virtkit.sdk.driver import Driver
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.records import DomainRef, DomainSummary
from virtkit.sdk.errors import no_domain

class HelloDriver(Driver):
    name = "hello"

    @hookimpl
    def virtkit_connect_open(self, uri, read_only):
        return True

    @hookimpl
    def virtkit_domain_list(self):
        return [DomainSummary(DomainRef("greeter", "1f0e3dad-9990-4a5e-8f0e-3dad99904a5e", 7), 1, 1, True)]

    @hookimpl
    def virtkit_domain_lookup_by_name(self, name):
        if name != "greeter":
            raise no_domain(name)
        return DomainRef("greeter", "1f0e3dad-9990-4a5e-8f0e-3dad99904a5e", 7)
'''


def _package(root: Path, dist: str, module: str, source: str, scheme: str, target: str) -> Path:
    pkg = root / dist
    pkg.mkdir()
    (pkg / f"{module}.py").write_text(source)
    (pkg / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{dist}"
        version = "1.2.3"
        dependencies = []

        [project.entry-points."virtkit.drivers"]
        {scheme} = "{target}"

        [tool.setuptools]
        py-modules = ["{module}"]
    """))
    return pkg


GUIDE = Path(__file__).resolve().parents[2] / "docs" / "driver-guide.md"


def _guide_blocks(lang: str) -> list[str]:
    import re

    return re.findall(rf"```{lang}\n(.*?)```", GUIDE.read_text(), re.S)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Out-of-tree drivers, pip-installed into a directory the test's Python then uses."""
    root = tmp_path_factory.mktemp("drivers")
    hello = _package(root, "virtkit-hello", "hello_driver", HELLO, "hello", "hello_driver:HelloDriver")
    broken = _package(root, "virtkit-broken", "broken_driver",
                      "import libhello_backend_that_is_missing\n", "broken", "broken_driver:Driver")
    rival = _package(root, "virtkit-rival", "rival_driver",
                     HELLO.replace("HelloDriver", "RivalDriver"), "greet", "rival_driver:RivalDriver")
    twin = _package(root, "virtkit-twin", "twin_driver",
                    HELLO.replace("HelloDriver", "TwinDriver"), "greet", "twin_driver:TwinDriver")
    pets = _package(root, "virtkit-pets", "pets_driver", _guide_blocks("python")[0], "pets",
                    "pets_driver:PetsDriver")
    target = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(hello), str(broken), str(rival), str(twin), str(pets)],
        check=True, timeout=300,
    )
    return target


def _run(site: Path, code: str, **env: str) -> dict:
    full = dict(os.environ, PYTHONPATH=str(site), **env)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


PROBE = """
    import json, virtkit
    def attempt(fn):
        try:
            return {"ok": fn()}
        except virtkit.VirtError as e:
            return {"code": e.code.name, "message": e.message}
"""


def test_out_of_tree_driver_is_found_and_used(site: Path) -> None:
    result = _run(site, PROBE + """
    c = virtkit.open("hello:///anything")
    dom = c.lookup_by_name("greeter")
    print(json.dumps({
        "names": [d.name for d in c.list_domains()],
        "id": dom.ref.id,
        "suspend": attempt(dom.suspend),
        "drivers": {d.scheme: [d.distribution, d.version, d.error] for d in virtkit.drivers()},
    }))
    """)
    assert result["names"] == ["greeter"]
    assert result["id"] == 7
    assert result["suspend"]["code"] == "NO_SUPPORT"
    assert "domain_suspend" in result["suspend"]["message"]
    assert "'hello'" in result["suspend"]["message"]
    assert result["drivers"]["hello"] == ["virtkit-hello", "1.2.3", None]
    assert result["drivers"]["test"][0] == "virtkit"


def test_broken_driver_names_its_distribution_and_cause(site: Path) -> None:
    result = _run(site, PROBE + """
    entries = {d.scheme: d for d in virtkit.drivers()}
    print(json.dumps({
        "open": attempt(lambda: virtkit.open("broken:///x")),
        "listed": entries["broken"].broken,
        "error": entries["broken"].error,
        "others_fine": not entries["hello"].broken,
    }))
    """)
    assert result["open"]["code"] == "NO_CONNECT"
    msg = result["open"]["message"]
    assert "virtkit-broken" in msg and "libhello_backend_that_is_missing" in msg
    assert result["listed"] is True
    assert "ModuleNotFoundError" in result["error"]
    assert result["others_fine"] is True


def test_two_distributions_claiming_one_scheme(site: Path) -> None:
    result = _run(site, PROBE + """
    entries = [d for d in virtkit.drivers() if d.scheme == "greet"]
    print(json.dumps({
        "open": attempt(lambda: virtkit.open("greet:///x")),
        "listed": [[d.distribution, d.broken] for d in entries],
    }))
    """)
    assert result["open"]["code"] == "INTERNAL_ERROR"
    assert "virtkit-rival" in result["open"]["message"]
    assert "virtkit-twin" in result["open"]["message"]
    assert sorted(result["listed"]) == [["virtkit-rival", True], ["virtkit-twin", True]]


def test_environment_restricts_drivers(site: Path) -> None:
    result = _run(site, PROBE + """
    print(json.dumps({
        "schemes": [d.scheme for d in virtkit.drivers()],
        "hello": attempt(lambda: virtkit.open("hello:///x")),
        "test": attempt(lambda: virtkit.open("test:///default").uri),
    }))
    """, VIRTKIT_DRIVERS="test")
    assert result["schemes"] == ["test"]
    assert result["hello"]["code"] == "NO_CONNECT"
    assert "excluded by VIRTKIT_DRIVERS" in result["hello"]["message"]
    assert result["test"] == {"ok": "test:///default"}


def test_unknown_scheme() -> None:
    with pytest.raises(VirtError) as info:
        virtkit.open("nosuchhypervisor:///system")
    assert info.value.code == ErrorCode.NO_CONNECT
    assert "'nosuchhypervisor'" in info.value.message


def test_the_driver_guide_example_works_as_written(site: Path, tmp_path: Path) -> None:
    usage = _guide_blocks("python")[1]
    usage = usage.replace('dom.save("/tmp/rex.img")', 'print(attempt(lambda: dom.save("/tmp/x")))')
    env = dict(os.environ, PYTHONPATH=str(site), VIRTKIT_STATE_ROOT=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(PROBE) + usage], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "(1, 1)"
    assert "NO_SUPPORT" in lines[1] and "domain_save" in lines[1] and "'pets'" in lines[1]
    toml = _guide_blocks("toml")[0]
    assert 'pets = "pets_driver:PetsDriver"' in toml
    # the guests persist: another process finds rex running, and stops it
    later = """
        import virtkit
        conn = virtkit.open("pets:///session")
        rex = conn.lookup_by_name("rex")
        print(rex.state(), rex.id > 0)
        rex.destroy()
        print(rex.state())
    """
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(later)], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["(1, 1) True", "(5, 2)"]


def test_the_driver_guide_example_is_short() -> None:
    """A complete, persisting, certified driver of this kind needs no more than about 300
    lines (the conformance package's tests certify it)."""
    assert len(_guide_blocks("python")[0].splitlines()) <= 300
