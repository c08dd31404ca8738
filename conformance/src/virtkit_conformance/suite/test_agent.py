"""Group ``guest-agent``: what the guest agent answers: filesystems (info, freeze, thaw,
trim), the guest's clock, user passwords and SSH keys, guest information, hostname and the
guest's vcpus.

A driver without an agent leaves these hooks out and the group is "not supported"."""

from __future__ import annotations

from typing import ClassVar

import pytest

from virtkit.api.domain import Domain
from virtkit.sdk.errors import ErrorCode as C

from ..kit import Kit, disk_xml, expect_error, nic_xml


def _guest(vk: Kit) -> Domain:
    """A running guest with one disk and one interface."""
    dom = vk.define(devices=disk_xml("vda", vk.path("agent.img")) + nic_xml(vk.mac()))
    dom.create()
    return dom


class TestGuestAgent:
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.group("guest-agent"),
        pytest.mark.ops("domain_define_xml", "domain_create", "domain_destroy")]

    @pytest.mark.ops("domain_get_fs_info", "domain_fs_freeze", "domain_fs_thaw",
                     "domain_fs_trim")
    def test_freeze_thaw_trim(self, vk: Kit) -> None:
        dom = _guest(vk)
        filesystems = dom.fs_info()
        assert isinstance(filesystems, list)
        for fs in filesystems:
            assert fs.mountpoint.startswith("/") and fs.fstype, fs
        frozen = dom.fs_freeze()
        try:
            assert frozen == len(filesystems), (
                f"fs_freeze() froze {frozen} of the {len(filesystems)} filesystems fs_info lists")
        finally:
            thawed = dom.fs_thaw()
        assert thawed == frozen
        assert dom.fs_thaw() == 0, "a second thaw finds nothing frozen"
        dom.fs_trim()
        expect_error(C.INVALID_ARG, dom.fs_freeze, ["/no/such/mount/point"])
        dom.destroy()
        expect_error(C.OPERATION_INVALID, dom.fs_info)

    @pytest.mark.ops("domain_get_time", "domain_set_time")
    def test_clock(self, vk: Kit) -> None:
        dom = _guest(vk)
        now = dom.get_time()
        assert set(now) == {"seconds", "nseconds"} and now["seconds"] > 0
        dom.set_time({"seconds": 1_500_000_000, "nseconds": 0})
        got = dom.get_time()["seconds"]
        assert 1_500_000_000 <= got < 1_500_000_060, f"the guest's clock reads {got}"
        dom.set_time(sync=True)
        expect_error(C.INVALID_ARG, dom.set_time, {"seconds": 1, "nseconds": 10**9})

    @pytest.mark.ops("domain_set_user_password")
    def test_user_password(self, vk: Kit) -> None:
        dom = _guest(vk)
        dom.set_user_password("root", "conformance-pw")
        expect_error((C.OPERATION_FAILED, C.INVALID_ARG), dom.set_user_password,
                     "vkcert-no-such-user", "x")

    @pytest.mark.ops("domain_get_authorized_ssh_keys", "domain_set_authorized_ssh_keys")
    def test_authorized_ssh_keys(self, vk: Kit) -> None:
        dom = _guest(vk)
        before = dom.authorized_ssh_keys_get("root")
        key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIvkcert vkcert@conformance"
        dom.authorized_ssh_keys_set("root", [key], append=True)
        try:
            assert dom.authorized_ssh_keys_get("root") == [*before, key]
        finally:
            dom.authorized_ssh_keys_set("root", [key], remove=True)
        assert dom.authorized_ssh_keys_get("root") == before
        expect_error(C.INVALID_ARG, dom.authorized_ssh_keys_set, "root", ["a\nb"], True)
        expect_error((C.OPERATION_FAILED, C.INVALID_ARG), dom.authorized_ssh_keys_get,
                     "vkcert-no-such-user")

    @pytest.mark.ops("domain_get_guest_info", "domain_get_hostname",
                     "domain_agent_set_response_timeout")
    def test_guest_info_and_hostname(self, vk: Kit) -> None:
        dom = _guest(vk)
        dom.agent_set_response_timeout(10)
        hostname = dom.hostname("agent")
        assert hostname and isinstance(hostname, str)
        info = dom.guest_info(["hostname"])
        assert info.get("hostname") == hostname, info
        everything = dom.guest_info()
        assert all(isinstance(k, str) and isinstance(v, (str, int, bool, float))
                   for k, v in everything.items()), everything
        expect_error(C.INVALID_ARG, dom.guest_info, ["no-such-type"])

    @pytest.mark.ops("domain_get_guest_vcpus", "domain_set_guest_vcpus")
    def test_guest_vcpus(self, vk: Kit) -> None:
        dom = vk.define(vcpus=2)
        dom.create()
        info = dom.guest_vcpus()
        assert set(info) == {"vcpus", "online", "offlinable"}, info
        assert info["vcpus"] == info["online"] == "0-1", info
        if info["offlinable"] in ("1", "0-1"):
            dom.set_guest_vcpus("1", 0)
            assert dom.guest_vcpus()["online"] == "0"
            dom.set_guest_vcpus("1", 1)
            assert dom.guest_vcpus()["online"] == "0-1"
        expect_error(C.INVALID_ARG, dom.set_guest_vcpus, "vkcert", 1)
