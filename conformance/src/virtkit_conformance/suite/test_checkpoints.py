"""Group ``checkpoints``: domain checkpoints (a tree, deletion re-parents children) and backup
jobs (begin, XML, abort)."""

from __future__ import annotations

from typing import ClassVar

import pytest

from virtkit.sdk.errors import ErrorCode as C

from ..kit import Kit, expect_error

OPS = ("checkpoint_create_xml", "checkpoint_list", "checkpoint_lookup_by_name",
       "checkpoint_get_xml", "checkpoint_delete")


class TestCheckpoints:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("checkpoints"), pytest.mark.ops(*OPS)]

    def test_tree_and_delete(self, vk: Kit) -> None:
        dom = vk.define()
        dom.create()
        c1 = dom.checkpoint_create_xml("<domaincheckpoint><name>c1</name></domaincheckpoint>")
        c2 = dom.checkpoint_create_xml("<domaincheckpoint><name>c2</name></domaincheckpoint>")
        assert dom.list_all_checkpoints() == [c1, c2] and c2.get_parent() == c1
        assert dom.checkpoint_lookup_by_name("c2") == c2
        assert "<name>c1</name>" in c1.get_xml_desc()
        c1.delete()
        assert c2.get_parent() is None and dom.list_all_checkpoints() == [c2]
        expect_error(C.NO_DOMAIN_CHECKPOINT, dom.checkpoint_lookup_by_name, "c1")
        c2.delete()

    @pytest.mark.ops("domain_backup_begin", "domain_backup_get_xml", "domain_abort_job")
    def test_pull_backup_runs_until_aborted(self, vk: Kit) -> None:
        dom = vk.define()
        dom.create()
        dom.backup_begin("<domainbackup mode='pull'><server transport='tcp' name='localhost'/>"
                         "</domainbackup>")
        try:
            assert "<domainbackup mode='pull'>" in dom.backup_get_xml_desc()
        finally:
            dom.abort_job()
        expect_error(C.OPERATION_INVALID, dom.backup_get_xml_desc)
