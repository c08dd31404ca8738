"""The test host's CPU, NUMA cells, pages, statistics, tuning and security model through the
facade, with libvirt's RelaxNG schema as the oracle for the capabilities document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from xml.dom import minidom

import pytest

import virtkit
from virtkit.api import host as h
from virtkit.sdk.errors import ErrorCode, VirtError

from .xml.xml_oracle import assert_libvirt_valid

HASWELL = "<cpu><arch>x86_64</arch><model>Haswell</model><vendor>Intel</vendor></cpu>"
NEHALEM = "<cpu><arch>x86_64</arch><model>Nehalem</model><vendor>Intel</vendor></cpu>"


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[virtkit.Connection]:
    """A private test host (a node file), so page pools and tuning start afresh."""
    from virtkit.drivers.test.node import reset_default_node

    reset_default_node()
    c = virtkit.open("test:///default")
    yield c
    c.close()
    reset_default_node()


@pytest.mark.hook("connect_get_capabilities")
def test_capabilities_have_numa_cells_and_pass_libvirts_schema(
    conn: virtkit.Connection,
) -> None:
    xml = conn.get_capabilities()
    assert_libvirt_valid("capabilities", xml)
    doc = minidom.parseString(xml)
    host = doc.getElementsByTagName("host")[0]
    # a script reading the first <topology> under <host> (libvirt-python's topology example
    # does) finds the NUMA cells, not a CPU topology
    cells = host.getElementsByTagName("topology")[0].getElementsByTagName("cells")[0]
    assert cells.getAttribute("num") == "2"
    cpus = cells.getElementsByTagName("cpu")
    assert len(cpus) == 16
    assert len({c.getAttribute("socket_id") for c in cpus}) == 2
    assert len({c.getAttribute("siblings") for c in cpus}) == 16
    cell0 = cells.getElementsByTagName("cell")[0]
    assert cell0.getElementsByTagName("memory")[0].firstChild.data == str(3 * 1024 * 1024 // 2)
    sizes = [p.getAttribute("size") for p in cell0.getElementsByTagName("pages")]
    assert sizes == ["4", "2048", "1048576"]
    dist = cell0.getElementsByTagName("sibling")
    assert [(d.getAttribute("id"), d.getAttribute("value")) for d in dist] == [
        ("0", "10"), ("1", "20")]
    sec = host.getElementsByTagName("secmodel")[0]
    assert sec.getElementsByTagName("model")[0].firstChild.data == "testSecurity"
    from virtkit.xml.capabilities import Capabilities

    parsed = Capabilities.from_xml(xml)
    assert parsed.host.topology is not None and parsed.host.topology.cells is not None
    assert parsed.host.cpu.model == "Haswell"


@pytest.mark.hook("connect_get_domain_capabilities")
def test_domain_capabilities_list_cpu_models(conn: virtkit.Connection) -> None:
    xml = conn.get_domain_capabilities()
    assert_libvirt_valid("domaincaps", xml)
    assert "<model usable='yes' vendor='Intel'>Haswell</model>" in xml
    assert "<model usable='yes' vendor='unknown'>qemu64</model>" in xml
    assert "<model usable='no' vendor='Intel'>Skylake-Client</model>" in xml


@pytest.mark.hook("node_get_cells_free_memory", "node_get_free_memory")
def test_cell_free_memory_follows_running_guests(conn: virtkit.Connection) -> None:
    cells = conn.node_cells_free_memory(0, 2)
    cell_kib = 3 * 1024 * 1024 // 2
    # the running guest 'test' (2 GiB) is spread over both cells
    assert cells == [(cell_kib - 1024 * 1024) * 1024] * 2
    assert conn.node_free_memory() == sum(cells)
    conn.lookup_by_name("test").destroy()
    assert conn.node_cells_free_memory(1, 5) == [cell_kib * 1024]
    with pytest.raises(VirtError) as exc:
        conn.node_cells_free_memory(2, 1)
    assert exc.value.code == ErrorCode.INVALID_ARG and "out of range" in exc.value.message


@pytest.mark.hook("connect_get_cpu_model_names")
def test_cpu_model_names(conn: virtkit.Connection) -> None:
    names = conn.get_cpu_model_names("x86_64")
    assert names[0] == "486" and "Haswell" in names and len(names) == len(set(names))
    with pytest.raises(VirtError) as exc:
        conn.get_cpu_model_names("sparc")
    assert exc.value.code == ErrorCode.INVALID_ARG and "sparc" in exc.value.message
    with pytest.raises(VirtError):
        conn.get_cpu_model_names("x86_64", 4)  # no flags


@pytest.mark.hook("connect_baseline_cpu")
def test_baseline_cpu(conn: virtkit.Connection) -> None:
    out = conn.baseline_cpu([HASWELL, NEHALEM])
    assert out == ("<cpu mode='custom' match='exact'>\n  <model fallback='allow'>Nehalem</model>"
                   "\n  <vendor>Intel</vendor>\n</cpu>\n")
    expanded = conn.baseline_cpu([HASWELL, NEHALEM], h.BASELINE_CPU_EXPAND_FEATURES)
    assert "name='sse4.2'" in expanded and "name='avx2'" not in expanded
    with_vmx = HASWELL.replace("</cpu>", "<feature name='vmx'/></cpu>")
    assert "name='vmx'" in conn.baseline_cpu([with_vmx, with_vmx])
    # one CPU's disabled feature drops the model below it
    no_popcnt = NEHALEM.replace("</cpu>", "<feature policy='disable' name='popcnt'/></cpu>")
    assert "<model fallback='allow'>Penryn</model>" in conn.baseline_cpu([HASWELL, no_popcnt])
    for bad, code in (([], ErrorCode.INVALID_ARG), (["<cpu"], ErrorCode.XML_ERROR),
                      ([HASWELL.replace("Haswell", "Warp9")], ErrorCode.INVALID_ARG)):
        with pytest.raises(VirtError) as exc:
            conn.baseline_cpu(bad)
        assert exc.value.code == code


@pytest.mark.hook("connect_baseline_hypervisor_cpu")
def test_baseline_hypervisor_cpu(conn: virtkit.Connection) -> None:
    skylake = HASWELL.replace("Haswell", "Skylake-Client")
    # the hypervisor gives guests the host's Haswell at most
    out = conn.baseline_hypervisor_cpu(None, "x86_64", None, "test", [skylake])
    assert "<model fallback='allow'>Haswell</model>" in out
    with pytest.raises(VirtError) as exc:
        conn.baseline_hypervisor_cpu(None, None, None, "kvm", [skylake])
    assert exc.value.code == ErrorCode.INVALID_ARG and "kvm" in exc.value.message


@pytest.mark.hook("connect_compare_cpu")
def test_compare_cpu(conn: virtkit.Connection) -> None:
    assert conn.compare_cpu(NEHALEM) == h.CPU_COMPARE_SUPERSET
    identical = HASWELL.replace("</cpu>", "<feature name='vmx'/></cpu>")
    assert conn.compare_cpu(identical) == h.CPU_COMPARE_IDENTICAL
    skylake = HASWELL.replace("Haswell", "Skylake-Client")
    assert conn.compare_cpu(skylake) == h.CPU_COMPARE_INCOMPATIBLE
    with pytest.raises(VirtError) as exc:
        conn.compare_cpu(skylake, h.COMPARE_CPU_FAIL_INCOMPATIBLE)
    assert exc.value.code == ErrorCode.CPU_INCOMPATIBLE and "clflushopt" in exc.value.message


@pytest.mark.hook("connect_compare_hypervisor_cpu")
def test_compare_hypervisor_cpu(conn: virtkit.Connection) -> None:
    assert conn.compare_hypervisor_cpu(None, None, None, None, NEHALEM) == 2
    with pytest.raises(VirtError) as exc:
        conn.compare_hypervisor_cpu("/usr/bin/qemu", None, None, None, NEHALEM)
    assert exc.value.code == ErrorCode.INVALID_ARG


@pytest.mark.hook("connect_get_max_vcpus", "connect_get_sysinfo", "node_get_security_model",
                  "node_get_cpu_map")
def test_host_facts(conn: virtkit.Connection) -> None:
    assert conn.get_max_vcpus() == 32 and conn.get_max_vcpus("test") == 32
    with pytest.raises(VirtError):
        conn.get_max_vcpus("xen")
    assert conn.get_sysinfo().startswith("<sysinfo type='smbios'>")
    model = conn.get_security_model()
    assert list(model) == ["testSecurity", ""] and model[0] == model.model
    present, cpumap, online = conn.get_cpu_map()
    assert present == 16 == len(cpumap) and online == 16


@pytest.mark.hook("node_get_cpu_stats", "node_get_memory_stats")
def test_node_stats(conn: virtkit.Connection) -> None:
    total = conn.get_cpu_stats()
    assert set(total) == {"kernel", "user", "idle", "iowait"}
    one = conn.get_cpu_stats(3)
    assert one["idle"] == total["idle"] // 16
    with pytest.raises(VirtError) as exc:
        conn.get_cpu_stats(16)
    assert exc.value.code == ErrorCode.INVALID_ARG and "16" in exc.value.message
    with pytest.raises(VirtError):
        conn.get_cpu_stats(-2)  # checked at dispatch
    host = conn.get_memory_stats()
    assert host["total"] == 3 * 1024 * 1024 and host["free"] * 1024 == conn.node_free_memory()
    cell = conn.get_memory_stats(1)
    assert cell == {"total": 3 * 1024 * 1024 // 2, "free": conn.node_cells_free_memory(1)[0]
                    // 1024}
    with pytest.raises(VirtError):
        conn.get_memory_stats(2)


@pytest.mark.hook("node_get_memory_parameters", "node_set_memory_parameters")
def test_memory_parameters(conn: virtkit.Connection) -> None:
    params = conn.get_memory_parameters()
    assert params["shm_pages_to_scan"] == 100 and params["shm_full_scans"] == 0
    conn.set_memory_parameters({"shm_pages_to_scan": 250, "shm_merge_across_nodes": 0})
    after = conn.get_memory_parameters()
    assert after["shm_pages_to_scan"] == 250 and after["shm_merge_across_nodes"] == 0
    assert after["shm_sleep_millisecs"] == params["shm_sleep_millisecs"]
    for bad in ({"shm_warp": 1}, {"shm_pages_to_scan": -1}, {"shm_merge_across_nodes": 2},
                {"shm_full_scans": 3}):
        with pytest.raises(VirtError) as exc:
            conn.set_memory_parameters(bad)
        assert exc.value.code == ErrorCode.INVALID_ARG
    assert conn.get_memory_parameters() == after  # nothing changed by the refusals
    ro = virtkit.open("test:///default", read_only=True)
    with pytest.raises(VirtError) as exc:
        ro.set_memory_parameters({"shm_pages_to_scan": 1})
    assert exc.value.code == ErrorCode.OPERATION_DENIED
    ro.close()


@pytest.mark.hook("node_get_free_pages", "node_alloc_pages")
def test_huge_pages(conn: virtkit.Connection) -> None:
    before = conn.get_free_pages([4, 2048, 1048576], 0, 2)
    assert before[0][2048] == 0 and before[1][1048576] == 0 and before[0][4] > 0
    assert conn.alloc_pages({2048: 100}, 0, 2) == 2
    assert conn.alloc_pages({2048: 28}, 1, 1) == 1
    after = conn.get_free_pages([4, 2048], 0, 2)
    assert after == {0: {4: before[0][4] - 100 * 512, 2048: 100},
                     1: {4: before[1][4] - 128 * 512, 2048: 128}}
    assert conn.node_cells_free_memory(0, 1)[0] == after[0][4] * 4096
    conn.alloc_pages({2048: 10}, 0, 1, h.NODE_ALLOC_PAGES_SET)
    assert conn.get_free_pages([2048], 0, 1) == {0: {2048: 10}}
    caps = conn.get_capabilities()
    assert "<pages size='2048' unit='KiB'>10</pages>" in caps
    with pytest.raises(VirtError) as exc:
        conn.alloc_pages({1048576: 100}, 0, 1)  # 100 GiB on a 1.5 GiB cell
    assert exc.value.code == ErrorCode.OPERATION_FAILED and "cell 0" in exc.value.message
    assert conn.get_free_pages([1048576], 0, 1) == {0: {1048576: 0}}
    for bad in (lambda: conn.alloc_pages({8: 1}), lambda: conn.alloc_pages({2048: -1}),
                lambda: conn.get_free_pages([2048], 5, 1), lambda: conn.get_free_pages([], 0, 1)):
        with pytest.raises(VirtError) as exc:
            bad()
        assert exc.value.code == ErrorCode.INVALID_ARG


@pytest.mark.hook("domain_get_security_labels")
def test_security_labels_follow_the_domain(conn: virtkit.Connection) -> None:
    """libvirt's test driver's label: ``libvirt-test``, enforced, while the domain runs."""
    dom = conn.lookup_by_name("test")
    assert list(dom.security_label()) == ["libvirt-test", True]
    assert [list(label) for label in dom.security_label_list()] == [["libvirt-test", True]]
    dom.destroy()
    assert list(dom.security_label()) == ["", False]
    assert [label.label for label in dom.security_label_list()] == [""]
    dom.create()
    ro = virtkit.open(conn.uri, read_only=True)
    try:  # a read-only connection may read labels
        assert list(ro.lookup_by_name("test").security_label()) == ["libvirt-test", True]
    finally:
        ro.close()
    dom.undefine()
    dom.destroy()
    with pytest.raises(VirtError) as err:
        dom.security_label()
    assert err.value.code == ErrorCode.NO_DOMAIN and "test" in str(err.value)
