"""Group ``host``: the host's CPU models, baseline and comparison, NUMA cells with their free
memory and pages, node statistics, memory tuning, sysinfo and the security model.

What a driver answers depends on its host; the tests check the answers agree with each other
(the capabilities' cells with the free memory per cell, a baseline CPU compares as runnable...)
rather than fixed values. A driver without a hook is "not supported" for that test.
"""

from __future__ import annotations

from typing import ClassVar
from xml.dom import minidom

import pytest

from virtkit.sdk.errors import ErrorCode as C

from ..kit import Kit, expect_error


def _cells(vk: Kit) -> list[minidom.Element]:
    doc = minidom.parseString(vk.conn.get_capabilities())
    host = doc.getElementsByTagName("host")[0]
    topo = [t for t in host.getElementsByTagName("topology")
            if t.getElementsByTagName("cells")]
    return topo[0].getElementsByTagName("cell") if topo else []


class TestHost:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("host"), pytest.mark.ops("connect_get_capabilities")]

    def test_capabilities_cells_match_node_info(self, vk: Kit) -> None:
        cells = _cells(vk)
        info = vk.conn.node_info()
        assert len(cells) == info.nodes, "one <cell> per NUMA node of node_info()"
        cpus = sum(len(c.getElementsByTagName("cpu")) for c in cells)
        assert cpus == info.cpus

    @pytest.mark.ops("node_get_cells_free_memory")
    def test_cell_free_memory_within_cell_memory(self, vk: Kit) -> None:
        cells = _cells(vk)
        free = vk.conn.node_cells_free_memory(0, len(cells))
        assert len(free) == len(cells)
        for cell, nbytes in zip(cells, free, strict=True):
            kib = int(cell.getElementsByTagName("memory")[0].firstChild.data)  # type: ignore[union-attr]
            assert 0 <= nbytes <= kib * 1024
        expect_error(C.INVALID_ARG, vk.conn.node_cells_free_memory, len(cells), 1)

    @pytest.mark.ops("connect_get_cpu_model_names", "connect_baseline_cpu",
                     "connect_compare_cpu")
    def test_baseline_of_known_models_is_runnable_here(self, vk: Kit) -> None:
        arch = vk.conn.node_info().model
        arch = "x86_64" if arch in ("i686", "x86_64") else arch
        names = vk.conn.get_cpu_model_names(arch)
        assert names, "the host knows at least one CPU model"
        cpu = f"<cpu><arch>{arch}</arch><model>{names[0]}</model></cpu>"
        base = vk.conn.baseline_cpu([cpu, cpu])
        assert "<model" in base and names[0] in base
        assert vk.conn.compare_cpu(cpu) in (0, 1, 2)
        expect_error((C.INVALID_ARG, C.XML_ERROR), vk.conn.baseline_cpu, ["<cpu"])

    @pytest.mark.ops("node_get_free_pages", "node_alloc_pages")
    def test_alloc_pages_shows_in_free_pages(self, vk: Kit) -> None:
        before = vk.conn.get_free_pages([2048], 0, 1)[0][2048]
        assert vk.conn.alloc_pages({2048: before + 1}, 0, 1, 1) == 1
        try:
            assert vk.conn.get_free_pages([2048], 0, 1)[0][2048] == before + 1
        finally:
            vk.conn.alloc_pages({2048: before}, 0, 1, 1)

    @pytest.mark.ops("node_get_memory_parameters", "node_set_memory_parameters")
    def test_memory_parameters_round_trip(self, vk: Kit) -> None:
        params = vk.conn.get_memory_parameters()
        old = params["shm_sleep_millisecs"]
        vk.conn.set_memory_parameters({"shm_sleep_millisecs": old + 1})
        try:
            assert vk.conn.get_memory_parameters()["shm_sleep_millisecs"] == old + 1
        finally:
            vk.conn.set_memory_parameters({"shm_sleep_millisecs": old})
        expect_error(C.INVALID_ARG, vk.conn.set_memory_parameters, {"no_such_knob": 1})

    @pytest.mark.ops("node_get_cpu_stats", "node_get_memory_stats")
    def test_node_stats(self, vk: Kit) -> None:
        assert {"kernel", "user", "idle"} <= set(vk.conn.get_cpu_stats())
        mem = vk.conn.get_memory_stats()
        assert 0 <= mem["free"] <= mem["total"]

    @pytest.mark.ops("node_get_security_model", "connect_get_sysinfo", "node_get_cpu_map")
    def test_host_facts(self, vk: Kit) -> None:
        model, _doi = vk.conn.get_security_model()
        assert model
        assert "<sysinfo" in vk.conn.get_sysinfo()
        present, cpumap, online = vk.conn.get_cpu_map()
        assert present == len(cpumap) and 1 <= online <= present

    @pytest.mark.ops("node_get_security_model", "domain_get_security_labels")
    def test_domain_security_labels(self, vk: Kit) -> None:
        model, _doi = vk.conn.get_security_model()
        dom = vk.define()
        labels = dom.security_label_list()
        assert all(label.label == "" for label in labels), "a defined domain has no label yet"
        dom.create()
        labels = dom.security_label_list()
        if model and model != "none":
            assert labels and labels[0].label, f"a running domain is labelled under {model}"
            label, enforcing = dom.security_label()
            assert (label, enforcing) == (labels[0].label, labels[0].enforcing)
        dom.destroy()
        assert all(label.label == "" for label in dom.security_label_list())

    @pytest.mark.ops("connect_baseline_hypervisor_cpu", "connect_compare_hypervisor_cpu",
                     "connect_get_max_vcpus", "connect_get_cpu_model_names")
    def test_hypervisor_cpu_and_max_vcpus(self, vk: Kit) -> None:
        assert vk.conn.get_max_vcpus() >= 1
        arch = vk.conn.node_info().model
        arch = "x86_64" if arch in ("i686", "x86_64") else arch
        model = vk.conn.get_cpu_model_names(arch)[0]
        cpu = f"<cpu><arch>{arch}</arch><model>{model}</model></cpu>"
        base = vk.conn.baseline_hypervisor_cpu(None, None, None, None, [cpu])
        assert "<model" in base
        assert vk.conn.compare_hypervisor_cpu(None, None, None, None, cpu) in (0, 1, 2)
