"""Virtual networks of the test driver through the Python API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import virtkit
from virtkit import ErrorCode, VirtError
from virtkit.api.connection import Connection
from virtkit.api.network import Network, NetworkEventLifecycle
from virtkit.sdk.records import Event, NetworkRef

NODE_FILE = Path(__file__).parent / "data" / "nodes" / "objects.xml"
DEFAULT_UUID = "dd8fe884-6c02-601e-7551-cca97df1c5df"

NET_XML = """<network>
  <name>{name}</name>
  {uuid}
  <forward mode='nat'/>
  <ip address='{net}.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='{net}.100' end='{net}.200'/>
      <host mac='52:54:00:00:00:0A' name='alpha' ip='{net}.10'/>
      <host mac='52:54:00:00:00:0b' name='beta' ip='{net}.11'/>
    </dhcp>
  </ip>
</network>"""


def net_xml(name: str = "lab", uuid: str | None = None, net: str = "10.9.0") -> str:
    return NET_XML.format(name=name, net=net, uuid=f"<uuid>{uuid}</uuid>" if uuid else "")


@pytest.fixture
def conn() -> Iterator[Connection]:
    c = virtkit.open("test:///default")
    yield c
    c.close()


def _err(exc: pytest.ExceptionInfo[VirtError], code: ErrorCode, *words: str) -> None:
    assert exc.value.code == code, exc.value
    for w in words:
        assert w in exc.value.message, exc.value.message


def _events(conn: Connection, kind: str = "network-lifecycle") -> list[Event]:
    seen: list[Event] = []
    conn.event_register(kind, seen.append)
    return seen


def _numbers(conn: Connection, seen: list[Event]) -> list[tuple[str, int]]:
    assert conn.events.wait_idle()
    return [(e.obj.name, e.event) for e in seen]


# -- the preloaded network ------------------------------------------------------------------------


@pytest.mark.hook("network_list", "network_lookup_by_name", "network_get_xml",
                  "network_get_autostart")
def test_default_network_is_preloaded(conn: Connection) -> None:
    nets = conn.list_networks()
    assert [n.name for n in nets] == ["default"]
    net = conn.network_lookup_by_name("default")
    assert net.uuid == DEFAULT_UUID
    # as libvirt's test host: active, persistent, not autostart
    assert net.is_active() and net.is_persistent() and not net.autostart
    assert net.bridge_name() == "virbr0"
    xml = net.xml_desc()
    assert "<forward mode='nat'/>" in xml
    assert "<bridge name='virbr0'" in xml
    assert "address='192.168.122.1' netmask='255.255.255.0'" in xml
    assert "<range start='192.168.122.2' end='192.168.122.254'/>" in xml
    assert net.xml_desc(inactive=True) == xml


@pytest.mark.hook("network_lookup_by_uuid")
def test_lookup_by_uuid(conn: Connection) -> None:
    net = conn.network_lookup_by_uuid(DEFAULT_UUID.upper())
    assert net.name == "default"
    with pytest.raises(VirtError) as exc:
        conn.network_lookup_by_uuid("00000000-0000-0000-0000-000000000001")
    _err(exc, ErrorCode.NO_NETWORK,
         "Network not found: no network with matching uuid '00000000-0000-0000-0000-000000000001'")
    with pytest.raises(VirtError) as exc:
        conn.network_lookup_by_uuid("not-a-uuid")
    _err(exc, ErrorCode.INVALID_ARG, "not-a-uuid")


@pytest.mark.hook("network_lookup_by_name")
def test_lookup_unknown_name(conn: Connection) -> None:
    with pytest.raises(VirtError) as exc:
        conn.network_lookup_by_name("nope")
    _err(exc, ErrorCode.NO_NETWORK, "Network not found: no network with matching name 'nope'")
    with pytest.raises(VirtError) as exc:
        conn.network_lookup_by_name("")
    _err(exc, ErrorCode.INVALID_ARG)


@pytest.mark.hook("network_list")
def test_list_filters(conn: Connection) -> None:
    conn.network_define_xml(net_xml("inactive1", net="10.1.0"))
    conn.network_create_xml(net_xml("transient1", net="10.2.0"))

    def names(nets: list[Network]) -> list[str]:
        return [n.name for n in nets]

    assert names(conn.list_networks()) == ["default", "inactive1", "transient1"]
    assert names(conn.list_networks(active=True)) == ["default", "transient1"]
    assert names(conn.list_networks(active=False)) == ["inactive1"]
    assert names(conn.list_networks(persistent=False)) == ["transient1"]
    assert names(conn.list_networks(autostart=False))[0] == "default"  # not autostart, as libvirt's
    assert names(conn.list_networks(autostart=True)) == []
    assert names(conn.list_networks(active=True, persistent=True)) == ["default"]


# -- lifecycle ------------------------------------------------------------------------------------


@pytest.mark.hook("network_define_xml", "network_create", "network_destroy", "network_undefine")
def test_define_start_stop_undefine_with_events(conn: Connection) -> None:
    seen = _events(conn)
    net = conn.network_define_xml(net_xml())
    assert not net.is_active() and net.is_persistent() and not net.autostart
    assert net.bridge_name() == "virbr1"  # virbr0 belongs to 'default'
    net.create()
    assert net.is_active()
    net.destroy()
    assert not net.is_active()
    net.undefine()
    with pytest.raises(VirtError) as exc:
        net.is_active()
    _err(exc, ErrorCode.NO_NETWORK, "'lab'")
    assert _numbers(conn, seen) == [
        ("lab", NetworkEventLifecycle.DEFINED),
        ("lab", NetworkEventLifecycle.STARTED),
        ("lab", NetworkEventLifecycle.STOPPED),
        ("lab", NetworkEventLifecycle.UNDEFINED),
    ]
    assert [int(e) for e in NetworkEventLifecycle] == [0, 1, 2, 3]
    assert all(isinstance(e.obj, NetworkRef) for e in seen)


@pytest.mark.hook("network_create", "network_destroy")
def test_start_twice_and_stop_inactive_fail(conn: Connection) -> None:
    net = conn.network_lookup_by_name("default")
    with pytest.raises(VirtError) as exc:
        net.create()
    _err(exc, ErrorCode.OPERATION_INVALID, "network 'default' is already active")
    net.destroy()
    with pytest.raises(VirtError) as exc:
        net.destroy()
    _err(exc, ErrorCode.OPERATION_INVALID, "network 'default' is not active")
    net.create()
    assert net.is_active()


@pytest.mark.hook("network_create_xml", "network_destroy", "network_undefine",
                  "network_set_autostart")
def test_transient_network(conn: Connection) -> None:
    seen = _events(conn)
    net = conn.network_create_xml(net_xml("tmp"))
    assert net.is_active() and not net.is_persistent()
    with pytest.raises(VirtError) as exc:
        net.undefine()
    _err(exc, ErrorCode.OPERATION_INVALID, "transient network 'tmp'")
    with pytest.raises(VirtError) as exc:
        net.set_autostart(True)
    _err(exc, ErrorCode.OPERATION_INVALID, "transient network 'tmp'")
    net.destroy()
    with pytest.raises(VirtError) as exc:
        conn.network_lookup_by_name("tmp")
    _err(exc, ErrorCode.NO_NETWORK, "'tmp'")
    assert _numbers(conn, seen) == [("tmp", 2), ("tmp", 3)]


@pytest.mark.hook("network_create_xml")
def test_create_xml_of_active_name_fails(conn: Connection) -> None:
    with pytest.raises(VirtError) as exc:
        conn.network_create_xml(net_xml("default", uuid=DEFAULT_UUID))
    _err(exc, ErrorCode.OPERATION_INVALID, "network 'default' is already active")
    with pytest.raises(VirtError) as exc:
        conn.network_create_xml(net_xml("default"))
    _err(exc, ErrorCode.OPERATION_FAILED, "network 'default' already exists with uuid")


@pytest.mark.hook("network_create_xml", "network_destroy")
def test_create_xml_over_inactive_persistent_network(conn: Connection) -> None:
    uuid = "6a1bb0a0-5d6c-4a6e-9c55-2c9d1c1f4d10"
    net = conn.network_define_xml(net_xml("lab", uuid=uuid))
    live = conn.network_create_xml(net_xml("lab", uuid=uuid, net="10.77.0"))
    assert live == net and net.is_active() and net.is_persistent()
    assert "10.77.0.1" in net.xml_desc()
    assert "10.9.0.1" in net.xml_desc(inactive=True)
    net.destroy()
    assert conn.network_lookup_by_name("lab").is_persistent()


@pytest.mark.hook("network_undefine", "network_destroy")
def test_undefine_active_makes_it_transient(conn: Connection) -> None:
    net = conn.network_lookup_by_name("default")
    net.undefine()
    assert net.is_active() and not net.is_persistent() and not net.autostart
    net.destroy()
    assert conn.list_networks() == []


@pytest.mark.hook("network_define_xml", "network_get_xml")
def test_redefine_rules(conn: Connection) -> None:
    uuid = "6a1bb0a0-5d6c-4a6e-9c55-2c9d1c1f4d10"
    net = conn.network_define_xml(net_xml("lab", uuid=uuid))
    again = conn.network_define_xml(net_xml("lab", uuid=uuid, net="10.8.0"))
    assert again == net and "10.8.0.1" in net.xml_desc()
    assert net.bridge_name() == "virbr1"  # a redefinition keeps the bridge it had
    with pytest.raises(VirtError) as exc:
        conn.network_define_xml(net_xml("lab", uuid="11111111-2222-3333-4444-555555555555"))
    _err(exc, ErrorCode.OPERATION_FAILED, "network 'lab' already exists with uuid " + uuid)
    with pytest.raises(VirtError) as exc:
        conn.network_define_xml(net_xml("other", uuid=uuid))
    _err(exc, ErrorCode.OPERATION_FAILED, "network 'lab' is already defined with uuid " + uuid)


@pytest.mark.hook("network_define_xml", "network_get_xml", "network_create", "network_destroy")
def test_redefine_active_network_applies_at_next_start(conn: Connection) -> None:
    net = conn.network_lookup_by_name("default")
    xml = net.xml_desc().replace("192.168.122.", "192.168.50.")
    conn.network_define_xml(xml)
    assert "192.168.122.1" in net.xml_desc()
    assert "192.168.50.1" in net.xml_desc(inactive=True)
    net.destroy()
    net.create()
    assert "192.168.50.1" in net.xml_desc()


@pytest.mark.hook("network_define_xml")
def test_bridge_name_clash_and_bad_xml(conn: Connection) -> None:
    xml = net_xml().replace("<forward mode='nat'/>", "<forward mode='nat'/><bridge name='virbr0'/>")
    with pytest.raises(VirtError) as exc:
        conn.network_define_xml(xml)
    _err(exc, ErrorCode.OPERATION_FAILED, "virbr0", "already in use")
    for bad in ("<network>", "<network><uuid>x</uuid></network>", "<pool type='dir'/>",
                "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><network/>"):
        with pytest.raises(VirtError) as exc:
            conn.network_define_xml(bad)
        assert exc.value.code == ErrorCode.XML_ERROR, exc.value
    assert [n.name for n in conn.list_networks()] == ["default"]


@pytest.mark.hook("network_get_autostart", "network_set_autostart")
def test_autostart(conn: Connection) -> None:
    net = conn.network_define_xml(net_xml())
    assert not net.autostart
    net.set_autostart(True)
    assert net.autostart
    assert [n.name for n in conn.list_networks(autostart=True)] == ["lab"]
    net.set_autostart(False)
    assert not net.autostart


# -- DHCP leases ----------------------------------------------------------------------------------


@pytest.mark.hook("network_get_dhcp_leases")
def test_static_hosts_are_leases_of_active_networks(conn: Connection) -> None:
    net = conn.network_define_xml(net_xml())
    with pytest.raises(VirtError) as exc:
        net.dhcp_leases()
    _err(exc, ErrorCode.OPERATION_INVALID, "network 'lab' is not active")
    net.create()
    leases = net.dhcp_leases()
    assert [(le.mac, le.ipaddr, le.hostname, le.prefix, le.ip_type, le.iface) for le in leases] == [
        ("52:54:00:00:00:0a", "10.9.0.10", "alpha", 24, 0, "virbr1"),
        ("52:54:00:00:00:0b", "10.9.0.11", "beta", 24, 0, "virbr1"),
    ]
    assert all(le.expiry_time > 0 for le in leases)
    only = net.dhcp_leases(mac="52:54:00:00:00:0B")
    assert [le.hostname for le in only] == ["beta"]
    assert net.dhcp_leases(mac="52:54:00:00:00:99") == []
    with pytest.raises(VirtError) as exc:
        net.dhcp_leases(mac="zz")
    _err(exc, ErrorCode.INVALID_ARG, "'zz'")
    assert conn.network_lookup_by_name("default").dhcp_leases() == []


# -- read-only connections, events, node files ------------------------------------------------------


@pytest.mark.hook("network_define_xml", "network_create_xml", "network_create", "network_destroy",
                  "network_undefine", "network_set_autostart", "network_list",
                  "network_get_dhcp_leases")
def test_read_only_connection_refuses_changes() -> None:
    ro = virtkit.open("test:///default", read_only=True)
    net = ro.network_lookup_by_name("default")
    before = net.xml_desc()
    attempts: list[Callable[[], object]] = [
        lambda: ro.network_define_xml(net_xml()),
        lambda: ro.network_create_xml(net_xml()),
        net.create,
        net.destroy,
        net.undefine,
        lambda: net.set_autostart(False),
    ]
    for attempt in attempts:
        with pytest.raises(VirtError) as exc:
            attempt()
        _err(exc, ErrorCode.OPERATION_DENIED, "read only")
    assert net.is_active() and not net.autostart and net.xml_desc() == before
    assert [n.name for n in ro.list_networks()] == ["default"]
    assert net.dhcp_leases() == []
    ro.close()


@pytest.mark.hook("network_create_xml", "network_destroy")
def test_events_reach_every_connection_and_filter_by_network(conn: Connection) -> None:
    other = virtkit.open("test:///default")
    default = conn.network_lookup_by_name("default")
    all_events: list[Event] = []
    only_default: list[Event] = []
    other.event_register("network-lifecycle", all_events.append)
    other.event_register("network-lifecycle", only_default.append, obj=default)
    conn.network_create_xml(net_xml("tmp")).destroy()
    default.destroy()
    assert other.events.wait_idle()
    assert [(e.obj.name, e.event) for e in all_events] == [
        ("tmp", 2), ("tmp", 3), ("default", 3)
    ]
    assert [(e.obj.name, e.event) for e in only_default] == [("default", 3)]
    other.close()


@pytest.mark.hook("network_list", "network_get_dhcp_leases", "network_create")
def test_node_file_networks() -> None:
    c = virtkit.open(f"test://{NODE_FILE}")
    nets = {n.name: n for n in c.list_networks()}
    assert set(nets) == {"lab", "isolated"}
    lab, isolated = nets["lab"], nets["isolated"]
    assert lab.is_active() and lab.autostart and lab.bridge_name() == "virbr0"
    assert [le.ipaddr for le in lab.dhcp_leases()] == ["10.10.0.11"]
    assert not isolated.is_active() and isolated.bridge_name() == "virbr1"
    isolated.create()
    assert isolated.is_active()
    c.close()
    # test:///default is untouched by the file
    d = virtkit.open("test:///default")
    assert [n.name for n in d.list_networks()] == ["default"]
    d.close()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("<network><name>a</name></network><network><name>a</name></network>",
         ("network 'a' appears twice",)),
        ("<network state='sleeping'><name>a</name></network>", ("unknown state 'sleeping'",)),
        ("<network><name>a/b</name></network>", ("a/b",)),
    ],
)
@pytest.mark.hook("network_list")
def test_bad_node_file(tmp_path: Path, body: str, words: tuple[str, ...]) -> None:
    path = tmp_path / "node.xml"
    path.write_text(f"<node>{body}</node>")
    with pytest.raises(VirtError) as exc:
        virtkit.open(f"test://{path}")
    _err(exc, ErrorCode.NO_CONNECT, str(path), *words)


def test_network_handles_compare_by_identity(conn: Connection) -> None:
    a = conn.network_lookup_by_name("default")
    b = conn.network_lookup_by_uuid(DEFAULT_UUID)
    assert a == b and hash(a) == hash(b) and isinstance(a, Network)
    assert repr(a) == "<virtkit.Network 'default'>"
