"""virsh's host CPU, memory and sysinfo commands, and test:///default's preloaded objects,
through the real executable, compared with virsh's output on libvirt's test driver (recorded in
data/virsh/, see its README) where libvirt's test driver supports the command."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Run = Callable[..., Any]  # the ``run`` fixture of conftest.py
DEFAULT = ("-c", "test:///default")
VIRSH = Path(__file__).parent / "data" / "virsh"


def recorded(name: str) -> str:
    return (VIRSH / name).read_text()


@pytest.mark.parametrize("command", [
    "cpu-baseline_cpus.xml", "nodecpustats", "sysinfo", "maxvcpus", "domblklist_test",
    "domiflist_test", "net-info_default", "pool-info_default-pool", "dumpxml_test", "nodeinfo",
    "list_--all", "net-list_--all", "pool-list_--all",
])
def test_output_matches_virsh_on_libvirts_test_driver(run: Run, command: str) -> None:
    args = [VIRSH / a if a.endswith(".xml") else a for a in command.split("_")]
    r = run(*DEFAULT, *map(str, args))
    assert r.status == 0, r.stderr
    assert r.stdout == recorded(command + ".txt")


def test_dominfo_matches_virsh_but_for_documented_lines(run: Run) -> None:
    """As libvirt's, security model and label lines included; differences (docs/api.md): OS
    type ``hvm`` where libvirt says ``linux``, and the CPU time's value."""
    r = run(*DEFAULT, "dominfo", "test")
    assert r.status == 0, r.stderr
    ours = r.stdout.splitlines()
    theirs = recorded("dominfo_test.txt").splitlines()
    assert len(ours) == len(theirs)
    for mine, virsh in zip(ours, theirs, strict=True):
        if virsh.startswith("OS Type:"):
            assert mine == "OS Type:        hvm"
        elif virsh.startswith("CPU time:"):
            assert re.fullmatch(r"CPU time:\s+\d+\.\ds", mine)
        else:
            assert mine == virsh


def test_dominfo_security_lines_follow_the_domain(run: Run) -> None:
    r = run(*DEFAULT, stdin="destroy test\ndominfo test\n")
    assert "Security model: testSecurity\nSecurity DOI:   \n" in r.stdout
    assert "Security label:" not in r.stdout, "a domain that is not running has no label"
    r = run(*DEFAULT, "dominfo", "test", "--json")
    assert json.loads(r.stdout)["security"] == {"model": "testSecurity", "doi": "",
                                                "label": "libvirt-test", "enforcing": True}


def test_capabilities_have_libvirts_numa_layout(run: Run) -> None:
    r = run(*DEFAULT, "capabilities")
    theirs = recorded("capabilities.txt")
    for text in (r.stdout, theirs):
        assert "<cells num='2'>" in text and text.count("<cpu id=") == 16
        assert "<model>testSecurity</model>" in text and "<iommu support='no'/>" in text
    cpu_lines = re.findall(r"<cpu id=.*/>", theirs)
    assert re.findall(r"<cpu id=.*/>", r.stdout) == cpu_lines


def test_cpu_commands(run: Run, tmp_path: Path) -> None:
    cpu = tmp_path / "cpu.xml"
    cpu.write_text("<cpu><arch>x86_64</arch><model>Nehalem</model><vendor>Intel</vendor></cpu>")
    sky = tmp_path / "sky.xml"
    sky.write_text("<domain><cpu><arch>x86_64</arch><model>Skylake-Client</model></cpu>"
                   "</domain>")
    r = run(*DEFAULT, "cpu-compare", str(cpu))
    assert (r.status, r.stdout) == (0, f"Host CPU is a superset of CPU described in {cpu}\n\n")
    r = run(*DEFAULT, "cpu-compare", str(sky))
    assert r.status == 1
    assert r.stdout.startswith(f"CPU described in {sky} is incompatible with host CPU\n")
    r = run(*DEFAULT, "cpu-compare", "--error", str(sky))
    assert r.status == 1 and "does not provide required features" in r.stderr
    assert f"Failed to compare host CPU with {sky}" in r.stderr
    r = run(*DEFAULT, "hypervisor-cpu-compare", "--virttype", "test", str(cpu))
    assert r.stdout.startswith("The CPU provided by hypervisor on the host is a superset of")
    r = run(*DEFAULT, "hypervisor-cpu-baseline", str(sky))
    assert "<model fallback='allow'>Haswell</model>" in r.stdout
    r = run(*DEFAULT, "cpu-models", "x86_64", "--json")
    assert "Haswell" in json.loads(r.stdout)
    r = run(*DEFAULT, "cpu-models", "ppc64")
    assert r.status == 1 and "ppc64" in r.stderr


def test_memory_commands_in_one_session(run: Run) -> None:
    r = run(*DEFAULT, stdin="""
freepages --all
allocpages 2048 64 --cellno 1
freepages --cellno 1 --pagesize 2048
node-memory-tune --shm-pages-to-scan 500
node-memory-tune
nodememstats 1
nodecpumap
freecell --all
""")
    assert r.status == 0, r.stderr
    out = r.stdout
    assert out.startswith("Node 0:\n4KiB: 131072\n2048KiB: 0\n1048576KiB: 0\n\nNode 1:\n")
    assert "\n2048KiB: 64\n" in out
    assert "Shared memory:\n\tshm_pages_to_scan 500\n\tshm_sleep_millisecs 20\n" in out
    assert re.search(r"total  :\s+1572864 KiB\nfree   :\s+\d+ KiB\n", out)
    assert "CPUs present:   16\nCPUs online:    16\nCPU map:        yyyyyyyyyyyyyyyy\n" in out
    free = re.findall(r"^\s+(\d): +(\d+) KiB$", out, re.M)
    assert free == [("0", "524288"), ("1", str(524288 - 64 * 2048))]
    r = run(*DEFAULT, "nodememstats", "--json")
    assert set(json.loads(r.stdout)) == {"total", "free", "buffers", "cached"}
    r = run(*DEFAULT, "allocpages", "3", "1")
    assert r.status == 1 and "3 KiB" in r.stderr
