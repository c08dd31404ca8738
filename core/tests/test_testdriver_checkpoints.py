"""Checkpoints and backup jobs of the test driver through the facade; documents checked with
libvirt's own RelaxNG schemas (domaincheckpoint.rng, domainbackup.rng)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from vktest import error_code as code

import virtkit
from virtkit.api import checkpoint as cpf
from virtkit.sdk.errors import ErrorCode

SCHEMAS = Path("/usr/share/libvirt/schemas")


def libvirt_valid(schema: str, text: str) -> None:
    rng = etree.RelaxNG(etree.parse(str(SCHEMAS / schema)))
    assert rng.validate(etree.fromstring(text.encode())), f"{schema}:\n{text}\n{rng.error_log}"


@pytest.fixture
def dom() -> Iterator[virtkit.Domain]:
    from virtkit.drivers.test.node import reset_default_node

    reset_default_node()
    conn = virtkit.open("test:///default")
    yield conn.lookup_by_name("test")
    conn.close()
    reset_default_node()




@pytest.mark.hook("checkpoint_create_xml", "checkpoint_list", "checkpoint_lookup_by_name",
                  "checkpoint_get_xml", "checkpoint_delete")
def test_checkpoint_tree(dom: virtkit.Domain) -> None:
    c1 = dom.checkpoint_create_xml("<domaincheckpoint><name>c1</name>"
                                   "<description>first</description></domaincheckpoint>")
    c2 = dom.checkpoint_create_xml("<domaincheckpoint><name>c2</name><disks>"
                                   "<disk name='vda' bitmap='b2'/></disks></domaincheckpoint>")
    c3 = dom.checkpoint_create_xml("<domaincheckpoint/>")  # named by the time
    assert c3.name.isdigit()
    assert dom.list_all_checkpoints() == [c1, c2, c3]
    assert dom.checkpoint_lookup_by_name("c2") == c2 and c2.get_parent() == c1
    assert c1.get_parent() is None and c1.list_all_children() == [c2]
    assert c1.list_all_children(1) == [c2, c3]
    assert dom.list_all_checkpoints(1) == [c1] and dom.list_all_checkpoints(4) == [c3]
    full = c1.get_xml_desc()
    libvirt_valid("domaincheckpoint.rng", full)
    assert "<description>first</description>" in full and "<domain type='test'>" in full
    bare = c2.get_xml_desc(cpf.CHECKPOINT_XML_NO_DOMAIN)
    libvirt_valid("domaincheckpoint.rng", bare)
    assert "<disk name='vda' checkpoint='bitmap' bitmap='b2'/>" in bare and "<domain " not in bare
    assert code(dom.checkpoint_create_xml, "<domaincheckpoint><name>c1</name>"
                "</domaincheckpoint>") == ErrorCode.INVALID_DOMAIN_CHECKPOINT
    assert code(dom.checkpoint_create_xml, "<domaincheckpoint><name>bad</name><disks><disk name='vdz'/>"
                "</disks></domaincheckpoint>") == ErrorCode.INVALID_ARG
    assert code(dom.checkpoint_create_xml, "<domainsnapshot/>") == ErrorCode.XML_ERROR
    # deleting c2 gives its child c3 the parent c1
    c2.delete()
    assert c3.get_parent() == c1 and dom.list_all_checkpoints() == [c1, c3]
    assert code(c2.get_xml_desc) == ErrorCode.NO_DOMAIN_CHECKPOINT
    assert code(dom.checkpoint_lookup_by_name, "c2") == ErrorCode.NO_DOMAIN_CHECKPOINT
    c1.delete(children_only=True)
    assert dom.list_all_checkpoints() == [c1]
    # redefinition restores metadata with its parent and time
    dom.checkpoint_create_xml("<domaincheckpoint><name>old</name><parent><name>c1</name>"
                              "</parent><creationTime>1000</creationTime></domaincheckpoint>",
                              cpf.CHECKPOINT_CREATE_REDEFINE)
    old = dom.checkpoint_summaries()[-1]
    assert (old.parent, old.creation_time) == ("c1", 1000)
    assert code(dom.checkpoint_create_xml, "<domaincheckpoint><name>x</name><parent><name>nope"
                "</name></parent></domaincheckpoint>", 1) == ErrorCode.INVALID_DOMAIN_CHECKPOINT
    c1.delete(cpf.CHECKPOINT_DELETE_CHILDREN)
    assert dom.list_all_checkpoints() == []


@pytest.mark.hook("domain_backup_begin", "domain_backup_get_xml")
def test_backup_jobs(dom: virtkit.Domain) -> None:
    assert code(dom.backup_get_xml_desc) == ErrorCode.OPERATION_INVALID
    dom.checkpoint_create_xml("<domaincheckpoint><name>base</name></domaincheckpoint>")
    # push: completes at once
    dom.backup_begin("<domainbackup><disks><disk name='vda' type='file'>"
                     "<target file='/tmp/vda.bak'/></disk></disks></domainbackup>")
    assert code(dom.backup_get_xml_desc) == ErrorCode.OPERATION_INVALID
    # pull, incremental from base, with a new checkpoint: runs until aborted
    dom.backup_begin("<domainbackup mode='pull'><incremental>base</incremental>"
                     "<server transport='tcp' name='localhost'/></domainbackup>",
                     "<domaincheckpoint><name>next</name></domaincheckpoint>")
    xml = dom.backup_get_xml_desc()
    libvirt_valid("domainbackup.rng", xml)
    assert "<incremental>base</incremental>" in xml and "exportname='vda'" in xml
    assert [c.name for c in dom.list_all_checkpoints()] == ["base", "next"]
    assert code(dom.backup_begin, None) == ErrorCode.OPERATION_INVALID  # one job at a time
    assert code(dom.checkpoint_lookup_by_name("base").delete) == ErrorCode.OPERATION_INVALID
    dom.abort_job()
    assert code(dom.backup_get_xml_desc) == ErrorCode.OPERATION_INVALID
    assert code(dom.backup_begin, "<domainbackup><incremental>gone</incremental>"
                "</domainbackup>") == ErrorCode.NO_DOMAIN_CHECKPOINT
    assert code(dom.backup_begin, "<domainbackup mode='warp'/>") == ErrorCode.XML_ERROR
    dom.destroy()
    assert code(dom.backup_begin, None) == ErrorCode.OPERATION_INVALID


def test_read_only_connection(dom: virtkit.Domain) -> None:
    dom.checkpoint_create_xml("<domaincheckpoint><name>c</name></domaincheckpoint>")
    ro = virtkit.open("test:///default", read_only=True)
    try:
        rdom = ro.lookup_by_name("test")
        cp = rdom.checkpoint_lookup_by_name("c")
        assert "<name>c</name>" in cp.get_xml_desc()
        for attempt in (cp.delete, lambda: rdom.checkpoint_create_xml("<domaincheckpoint/>"),
                        lambda: rdom.backup_begin(None)):
            assert code(attempt) == ErrorCode.OPERATION_DENIED
    finally:
        ro.close()
