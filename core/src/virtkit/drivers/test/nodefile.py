"""Loading a test host from a ``<node>`` document (``test:///ABSOLUTE/PATH.xml``).

The document holds the host (``<cpu>``, ``<memory>``) and the objects, as libvirt's test driver
reads them: ``<domain>`` elements inline (their ``<test:runstate>`` is not needed: a domain in
the file is defined and running unless it carries ``state='shutoff'`` on its ``<domain>``
element).

``<network>``, ``<interface>`` and ``<pool>`` elements are inline too. Each is persistent and
active unless it carries ``state='inactive'``; networks and pools may carry
``autostart='yes'``. A ``<pool>`` holds its volumes as nested ``<volume>`` elements. Anything
wrong (bad XML, a duplicate name, a volume that does not fit its pool) fails the whole file with
NO_CONNECT naming the file and the object.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from virtkit.drivers.test.domxml import parse_domain
from virtkit.drivers.test.network import NetworkMixin
from virtkit.drivers.test.node import (
    DEFAULT_NODE_INFO,
    TestDomain,
    TestInterface,
    TestNetwork,
    TestNode,
    TestPool,
)
from virtkit.drivers.test.storage import StorageMixin
from virtkit.sdk.checks import check_volume_name
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.records import NodeInfo
from virtkit.sdk.states import DomainState, DomainStatus, RunningReason
from virtkit.xml.interface import HostInterface
from virtkit.xml.network import Network
from virtkit.xml.parser import MAX_HOST_ELEMENTS, parse_document
from virtkit.xml.storage import StoragePool, StorageVolume

MAX_NODE_FILE = 4 * 1024 * 1024


def _bad(path: Path, why: str) -> VirtError:
    return VirtError(
        ErrorCode.NO_CONNECT, f"cannot load test node file '{path}': {why}", ErrorDomain.TEST
    )


def load_node_file(path: Path) -> TestNode:
    """A fresh node from the file at ``path``; NO_CONNECT naming the file and the problem."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _bad(path, exc.strerror or str(exc)) from None
    try:
        root = parse_document(raw, "node", max_elements=MAX_HOST_ELEMENTS)
    except VirtError as exc:
        raise _bad(path, exc.message) from None
    if root.tag != "node":
        raise _bad(path, f"expected a <node> document, got <{root.tag}>")
    node = TestNode(_node_info(path, root))
    for el in root.findall("domain"):
        state = str(el.attrib.pop("state", "running"))
        try:
            definition = parse_domain(etree.tostring(el, encoding="unicode"))
        except VirtError as exc:
            raise _bad(path, exc.message) from None
        if definition.name in node.names or definition.uuid in node.domains:
            raise _bad(path, f"domain '{definition.name}' appears twice")
        dom = TestDomain(definition, None, DomainStatus())
        node.add(dom)
        if state == "running":
            dom.status = DomainStatus(DomainState.RUNNING, RunningReason.BOOTED, True)
            node.activate(dom)
        elif state != "shutoff":
            raise _bad(path, f"domain '{definition.name}': unknown state '{state}'")
    try:
        _load_objects(node, root)
    except VirtError as exc:
        raise _bad(path, exc.message) from None
    return node


def _flags(el: etree._Element, what: str) -> tuple[bool, bool]:
    """(active, autostart) from the ``state`` and ``autostart`` attributes, removed from ``el``."""
    state = str(el.attrib.pop("state", "active"))
    autostart = str(el.attrib.pop("autostart", "no"))
    if state not in ("active", "inactive"):
        raise VirtError(ErrorCode.XML_ERROR, f"{what}: unknown state '{state}' "
                        f"(active or inactive)")
    if autostart not in ("yes", "no"):
        raise VirtError(ErrorCode.XML_ERROR, f"{what}: autostart must be 'yes' or 'no'")
    return state == "active", autostart == "yes"


def _xml(el: etree._Element) -> str:
    return etree.tostring(el, encoding="unicode")


def _load_objects(node: TestNode, root: etree._Element) -> None:
    import time

    for i, el in enumerate(root.findall("network"), 1):
        active, autostart = _flags(el, f"network #{i}")
        net = Network.from_xml(_xml(el)).with_defaults()
        if net.name in node.networks or any(n.uuid == net.uuid for n in node.networks.values()):
            raise VirtError(ErrorCode.XML_ERROR, f"network '{net.name}' appears twice")
        placer = _Placer(node)
        net = placer._with_bridge(net, None)
        node.networks[net.name] = TestNetwork(
            net, net if active else None, autostart=autostart, started_at=int(time.time())
        )
    for i, el in enumerate(root.findall("interface"), 1):
        active, _ = _flags(el, f"interface #{i}")
        iface = HostInterface.from_xml(_xml(el))
        assert iface.name is not None
        if iface.name in node.interfaces:
            raise VirtError(ErrorCode.XML_ERROR, f"interface '{iface.name}' appears twice")
        node.interfaces[iface.name] = TestInterface(iface, active)
    for i, el in enumerate(root.findall("pool"), 1):
        active, autostart = _flags(el, f"pool #{i}")
        volumes = el.findall("volume")
        for v in volumes:
            el.remove(v)
        pool = StoragePool.from_xml(_xml(el)).with_defaults()
        if pool.name in node.pools:
            raise VirtError(ErrorCode.XML_ERROR, f"storage pool '{pool.name}' appears twice")
        placer = _Placer(node)
        placer._place_pool(pool)
        tp = TestPool(pool, pool if active else None, autostart=autostart)
        node.pools[pool.name] = tp
        for v in volumes:
            name = v.findtext("name")
            try:
                check_volume_name((name or "").strip())
                vol = StorageVolume.from_xml(_xml(v))
                tp.volumes[vol.name] = placer._new_volume(tp, vol)
            except VirtError as exc:
                raise VirtError(
                    exc.code, f"storage pool '{pool.name}': {exc.message}"
                ) from None


class _Placer(NetworkMixin, StorageMixin):
    """The checks the driver applies to new objects, applied to a node being loaded."""

    def __init__(self, node: TestNode) -> None:
        self.node = node

    @property
    def _node(self) -> TestNode:
        return self.node


def _node_info(path: Path, root: etree._Element) -> NodeInfo:
    info = DEFAULT_NODE_INFO
    cpu = root.find("cpu")
    values = {}
    if cpu is not None:
        for field in ("nodes", "sockets", "cores", "threads", "active", "mhz"):
            text = cpu.findtext(field)
            if text is not None:
                try:
                    values[field] = int(text)
                except ValueError:
                    raise _bad(path, f"<cpu><{field}> must be a number, not '{text}'") from None
                if values[field] < 1:
                    raise _bad(path, f"<cpu><{field}> must be at least 1")
        if "model" in [c.tag for c in cpu]:
            values_model = cpu.findtext("model") or info.model
        else:
            values_model = info.model
    else:
        values_model = info.model
    memory = info.memory
    mem_text = root.findtext("memory")
    if mem_text is not None:
        try:
            memory = int(mem_text)
        except ValueError:
            raise _bad(path, f"<memory> must be a number of KiB, not '{mem_text}'") from None
    return NodeInfo(
        model=values_model,
        memory=memory,
        cpus=values.get("active", info.cpus),
        mhz=values.get("mhz", info.mhz),
        nodes=values.get("nodes", info.nodes),
        sockets=values.get("sockets", info.sockets),
        cores=values.get("cores", info.cores),
        threads=values.get("threads", info.threads),
    )
