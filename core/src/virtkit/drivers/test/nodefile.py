"""Loading a test host from a ``<node>`` document (``test:///ABSOLUTE/PATH.xml``).

The document holds the host (``<cpu>``, ``<memory>``) and the objects, as libvirt's test driver
reads them: ``<domain>`` elements inline (their ``<test:runstate>`` is not needed: a domain in
the file is defined and running unless it carries ``state='shutoff'`` on its ``<domain>``
element).
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from ...errors import ErrorCode, ErrorDomain, VirtError
from ...records import NodeInfo
from ...states import DomainState, DomainStatus, RunningReason
from ...xml.parser import parse_document
from .domxml import parse_domain
from .node import DEFAULT_NODE_INFO, TestDomain, TestNode

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
        root = parse_document(raw, "node")
    except VirtError as exc:
        raise _bad(path, exc.message) from None
    if root.tag != "node":
        raise _bad(path, f"expected a <node> document, got <{root.tag}>")
    node = TestNode(_node_info(path, root))
    for el in root.findall("domain"):
        state = el.attrib.pop("state", "running")
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
    return node


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
