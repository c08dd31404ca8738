"""Every hook is remotable: each argument and result of every call in a broad workload survives
the plain-data form and JSON unchanged (DESIGN.md), checked by a cross-cutting wrapper plugin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import virtkit
from virtkit.api.connection import Connection
from virtkit.drivers.test import TestDriver
from virtkit.sdk.driver import DriverContext
from virtkit.sdk.errors import VirtError
from virtkit.sdk.records import from_plain, to_plain
from virtkit.sdk.uri import parse_uri
from virtkit.sdk.wrap import Around, wrap_every_hook

SEEN: set[str] = set()


def _through_the_wire(value: Any) -> Any:
    return from_plain(json.loads(json.dumps(to_plain(value))))


@wrap_every_hook
class WireCheck:
    def __init__(self, context: DriverContext) -> None:
        pass

    def around(self, op: str, args: dict[str, Any]) -> Around:
        assert _through_the_wire(args) == args, f"{op}: arguments are not plain data: {args}"
        try:
            result = yield
        except VirtError as exc:
            assert VirtError.from_dict(json.loads(json.dumps(exc.to_dict()))).code == exc.code
            raise
        assert _through_the_wire(result) == result, f"{op}: result is not plain data: {result!r}"
        SEEN.add(op)
        return result


def test_a_broad_workload_crosses_the_wire(tmp_path: Path) -> None:
    uri = "test:///default"
    conn = Connection(uri, parse_uri(uri), False, TestDriver, (WireCheck,))
    dom = conn.lookup_by_name("test")
    conn.get_capabilities()
    conn.get_domain_capabilities()
    conn.node_info()
    conn.node_cells_free_memory(0, 2)
    conn.get_free_pages([4, 2048], 0, 2)
    conn.alloc_pages({2048: 1}, 0, 1)
    conn.get_security_model()
    dom.security_label_list()
    conn.find_storage_pool_sources("logical")
    conn.get_storage_pool_capabilities()
    conn.node_device_lookup_by_name("computer").summary()
    _ = conn.node_device_lookup_by_name("computer").autostart
    conn.get_cpu_stats(-1)
    conn.set_memory_parameters({"shm_pages_to_scan": 100})
    conn.baseline_cpu(["<cpu><arch>x86_64</arch><model>Nehalem</model></cpu>"])
    dom.info()
    dom.xml_desc(security_info=True)
    snap = dom.snapshot_create_xml("<domainsnapshot><name>s</name></domainsnapshot>")
    dom.list_all_snapshots()
    snap.revert()
    console = dom.open_console()
    console.send(b"hi\r")
    console.recv(1024, timeout=1)
    console.finish()
    dom.interface_addresses()
    dom.memory_stats()
    dom.fs_info()
    dom.fs_freeze()
    dom.fs_thaw()
    dom.get_time()
    dom.guest_info(["os", "timezone"])
    node_file = tmp_path / "blk.xml"
    node_file.write_text("<node><domain type='test'><name>b</name><memory>1024</memory>"
                         "<os><type>hvm</type></os><devices><disk type='file'>"
                         "<source file='/b.img'/><target dev='vda'/></disk></devices>"
                         "</domain></node>")
    bconn = Connection(f"test://{node_file}", parse_uri(f"test://{node_file}"), False,
                       TestDriver, (WireCheck,))
    bdom = bconn.lookup_by_name("b")
    bdom.block_copy("vda", "<disk type='file'><source file='/c.img'/></disk>")
    bdom.block_job_info("vda")
    bdom.block_job_abort("vda", pivot=True)
    bdom.block_peek("vda", 0, 16)
    bdom.block_info("vda")
    bconn.get_all_domain_stats()
    bdom.vcpus()
    bdom.memory_parameters()
    bdom.set_metadata("element", "<a/>", "k", "http://example.org/k")
    bdom.metadata("element", "http://example.org/k")
    shot = bdom.screenshot()
    shot.recv_all()
    shot.finish()
    bdom.send_key("linux", 0, [28])
    bdom.core_dump(str(tmp_path / "core"))
    bdom.pm_suspend_for_duration("mem")
    bdom.pm_wakeup()
    bdom.migrate_set_max_downtime(100)
    bdom.migrate_get_max_downtime()
    bdom.migrate_get_max_speed(postcopy=True)
    bdom.migrate_get_compression_cache()
    bconn.close()
    dom.save(str(tmp_path / "s"))
    conn.restore(str(tmp_path / "s"))
    dom.job_info()
    net = conn.network_lookup_by_name("default")
    net.dhcp_leases()
    conn.list_networks()
    pool = conn.storage_pool_lookup_by_name("default-pool")
    vol = pool.create_xml("<volume><name>v</name><capacity>4096</capacity></volume>")
    with vol.upload() as up:
        up.send_all(b"\x00\x01binary\xff")
    with vol.download() as down:
        assert down.recv_all().startswith(b"\x00\x01binary\xff")
    vol.info()
    conn.list_interfaces()
    try:
        conn.lookup_by_name("nope")
    except VirtError:
        pass
    other_host = tmp_path / "n.xml"
    other_host.write_text("<node/>")
    dom.migrate(virtkit.open(f"test://{other_host}"), live=True)
    expected = {"domain_get_info", "domain_get_xml", "snapshot_create_xml", "snapshot_list",
                "domain_open_console", "stream_send", "stream_recv", "domain_save",
                "domain_restore", "network_get_dhcp_leases", "vol_upload", "vol_download",
                "migrate_begin", "migrate_perform", "migrate_confirm", "node_get_info",
                "domain_get_fs_info", "domain_get_time", "domain_get_guest_info",
                "domain_block_copy", "domain_get_block_job_info", "domain_block_peek",
                "domain_get_block_info", "domain_get_stats", "domain_get_vcpu_info",
                "domain_get_tunables", "domain_get_metadata", "domain_screenshot",
                "domain_send_key", "domain_core_dump", "domain_pm_suspend",
                "domain_migrate_get_max_downtime", "domain_migrate_get_max_speed",
                "node_get_free_pages", "node_alloc_pages", "node_get_security_model",
                "domain_get_security_labels", "pool_find_sources", "pool_get_capabilities",
                "nodedev_get_summary", "nodedev_get_autostart",
                "node_get_cpu_stats", "node_set_memory_parameters", "connect_baseline_cpu"}
    assert expected <= SEEN, expected - SEEN
