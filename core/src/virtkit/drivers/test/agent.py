"""The test driver's guest agent: filesystems, clock, users, guest information, hostname, the
guest's vcpus.

Every running test guest has an agent that answers while the guest runs (a paused or
pmsuspended guest's agent does not: AGENT_UNRESPONSIVE). What it reports follows the domain's
definition: the first disk holds ``/`` and ``/boot`` (``vda1``, ``vda2``, as libvirt's test
driver reports), every further disk one filesystem mounted on ``/srv/<target>``; the hostname is
the domain's name followed by ``host`` (libvirt's test driver's ``testhost``); the users are
``root`` and ``guest``. The guest's clock stands still at libvirt's test driver's
627319920 s until it is set. Frozen filesystems and the agent timeout last until the guest
stops; user passwords are kept with the domain as SHA-256 digests, never in clear, and so
are the users' authorized SSH keys (none at first).
The guest has the domain's enabled vcpus, every one online until the agent takes it offline
(until the guest stops); all but vcpu 0 are offlinable, as in a Linux guest. libvirt's test
driver has no guest vcpus call; virtkit's deliberately has one.
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any

from virtkit.sdk import domain_events as ev
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError, not_running
from virtkit.sdk.hookspecs import hookimpl
from virtkit.sdk.hookspecs.agent import GUEST_INFO_TYPES
from virtkit.sdk.hookspecs.tuning import parse_vcpulist
from virtkit.sdk.records import DomainRef, GuestFilesystem
from virtkit.sdk.states import DomainState

if TYPE_CHECKING:
    from virtkit.drivers.test.node import TestDomain, TestNode

#: libvirt's test driver's guest clock (seconds since the epoch) until the guest's is set
TEST_GUEST_TIME = 627319920
GUEST_USERS = ("root", "guest")


def _unresponsive(name: str) -> VirtError:
    return VirtError(ErrorCode.AGENT_UNRESPONSIVE,
                     f"Guest agent is not responding: the agent of domain '{name}' is not "
                     f"available while the guest is not running", ErrorDomain.TEST)


def _invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, message, ErrorDomain.TEST)


def guest_filesystems(dom: TestDomain) -> list[GuestFilesystem]:
    """The guest's filesystems, derived from its disks (see the module's docstring)."""
    devices = dom.current.model.devices
    disks = [d for d in (devices.disks if devices else ()) if d.device in (None, "disk")]
    out: list[GuestFilesystem] = []
    for index, disk in enumerate(disks):
        target = disk.target.dev
        if index == 0:
            out.append(GuestFilesystem("/", f"{target}1", "ext4", [target]))
            out.append(GuestFilesystem("/boot", f"{target}2", "ext4", [target]))
        else:
            out.append(GuestFilesystem(f"/srv/{target}", f"{target}1", "xfs", [target]))
    return out


class AgentMixin:
    """Guest agent hooks of the test driver."""

    if TYPE_CHECKING:

        @property
        def _node(self) -> TestNode: ...

    # -- helpers ------------------------------------------------------------------------------

    def _agent(self, ref: DomainRef) -> TestDomain:
        """The domain, when its agent answers (caller holds the lock)."""
        dom = self._node.find(ref)
        if not dom.status.active:
            raise not_running(dom.name, ErrorDomain.TEST)
        if dom.status.state not in (DomainState.RUNNING, DomainState.BLOCKED):
            raise _unresponsive(dom.name)
        return dom

    @staticmethod
    def _frozen(dom: TestDomain) -> set[str]:
        frozen: set[str] = dom.runtime.setdefault("frozen", set())
        return frozen

    def _not_frozen(self, dom: TestDomain, what: str) -> None:
        if self._frozen(dom):
            raise _invalid(f"cannot {what} in domain '{dom.name}': its filesystems are frozen "
                           f"({', '.join(sorted(self._frozen(dom)))})")

    @staticmethod
    def _mountpoints(dom: TestDomain, wanted: list[str]) -> list[str]:
        known = [fs.mountpoint for fs in guest_filesystems(dom)]
        for mp in wanted:
            if mp not in known:
                raise VirtError(ErrorCode.INVALID_ARG,
                                f"invalid argument: domain '{dom.name}' has no filesystem "
                                f"mounted on '{mp}'", ErrorDomain.TEST)
        return list(wanted) or known

    def _agent_follows(self, dom: TestDomain, active: bool) -> None:
        """The agent connects when the guest starts and disconnects when it stops."""
        if active:
            state, reason = ev.AGENT_CONNECTED, ev.AGENT_REASON_DOMAIN_STARTED
        else:
            state, reason = ev.AGENT_DISCONNECTED, ev.AGENT_REASON_CHANNEL
        self._node.emit(ev.domain_event("domain-agent-lifecycle", dom.ref, state=state,
                                        reason=reason))

    # -- filesystems --------------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_fs_freeze(self, dom: DomainRef, mountpoints: list[str]) -> int:
        with self._node.lock:
            d = self._agent(dom)
            wanted = self._mountpoints(d, mountpoints)
            frozen = self._frozen(d)
            new = [mp for mp in wanted if mp not in frozen]
            frozen.update(new)
            return len(new)

    @hookimpl
    def virtkit_domain_fs_thaw(self, dom: DomainRef, mountpoints: list[str]) -> int:
        with self._node.lock:
            d = self._agent(dom)
            wanted = self._mountpoints(d, mountpoints)
            frozen = self._frozen(d)
            thawed = [mp for mp in wanted if mp in frozen]
            frozen.difference_update(thawed)
            return len(thawed)

    @hookimpl
    def virtkit_domain_fs_trim(self, dom: DomainRef, mountpoint: str | None, minimum: int) -> bool:
        with self._node.lock:
            d = self._agent(dom)
            self._mountpoints(d, [] if mountpoint is None else [mountpoint])
            self._not_frozen(d, "trim filesystems")
            d.runtime["trims"] = d.runtime.get("trims", 0) + 1
            return True

    @hookimpl
    def virtkit_domain_get_fs_info(self, dom: DomainRef) -> list[GuestFilesystem]:
        with self._node.lock:
            return guest_filesystems(self._agent(dom))

    # -- clock and users ----------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_get_time(self, dom: DomainRef) -> dict[str, int]:
        with self._node.lock:
            d = self._agent(dom)
            seconds, nseconds = d.runtime.get("clock", (TEST_GUEST_TIME, 0))
            return {"seconds": seconds, "nseconds": nseconds}

    @hookimpl
    def virtkit_domain_set_time(
        self, dom: DomainRef, seconds: int | None, nseconds: int, sync: bool
    ) -> bool:
        if nseconds >= 10**9:
            raise VirtError(ErrorCode.INVALID_ARG,
                            f"invalid argument: nseconds {nseconds} is not below one second",
                            ErrorDomain.TEST)
        with self._node.lock:
            d = self._agent(dom)
            self._not_frozen(d, "set the time")
            if sync:
                now = time.time_ns()
                seconds, nseconds = now // 10**9, now % 10**9
            elif seconds is None:
                raise _invalid(f"setting the time of domain '{d.name}' needs a time or sync")
            d.runtime["clock"] = (seconds, nseconds)
            offset = seconds - int(time.time())
            self._node.emit(ev.domain_event("domain-rtc-change", d.ref, utcoffset=offset))
            return True

    @hookimpl
    def virtkit_domain_set_user_password(
        self, dom: DomainRef, user: str, password: str, encrypted: bool
    ) -> bool:
        with self._node.lock:
            d = self._agent(dom)
            self._not_frozen(d, "set a password")
            if user not in GUEST_USERS:
                raise VirtError(ErrorCode.OPERATION_FAILED,
                                f"operation failed: domain '{d.name}' has no user '{user}'",
                                ErrorDomain.TEST)
            passwords = d.settings.setdefault("passwords", {})
            passwords[user] = {"encrypted": encrypted,
                               "sha256": hashlib.sha256(password.encode()).hexdigest()}
            return True

    # -- authorized SSH keys -------------------------------------------------------------------

    def _ssh_keys(self, d: TestDomain, user: str) -> list[str]:
        if user not in GUEST_USERS:
            raise VirtError(ErrorCode.OPERATION_FAILED,
                            f"operation failed: domain '{d.name}' has no user '{user}'",
                            ErrorDomain.TEST)
        keys: list[str] = d.settings.setdefault("ssh_keys", {}).setdefault(user, [])
        return keys

    @hookimpl
    def virtkit_domain_get_authorized_ssh_keys(self, dom: DomainRef, user: str) -> list[str]:
        with self._node.lock:
            d = self._agent(dom)
            return list(self._ssh_keys(d, user))

    @hookimpl
    def virtkit_domain_set_authorized_ssh_keys(
        self, dom: DomainRef, user: str, keys: list[str], mode: str
    ) -> bool:
        with self._node.lock:
            d = self._agent(dom)
            have = self._ssh_keys(d, user)
            if mode == "remove":
                have[:] = [k for k in have if k not in keys]
            else:
                if mode == "reset":
                    have.clear()
                have.extend(k for k in dict.fromkeys(keys) if k not in have)
            return True

    # -- the guest's vcpus ---------------------------------------------------------------------

    @staticmethod
    def _guest_vcpus(d: TestDomain) -> tuple[list[int], set[int]]:
        """The guest's vcpus and those it has taken offline."""
        from virtkit.drivers.test.tuning import enabled_vcpus

        have = enabled_vcpus(d.current)
        offline: set[int] = d.runtime.setdefault("guest_offline", set())
        offline &= set(have)  # a vcpu unplugged since is gone from the guest too
        return have, offline

    @hookimpl
    def virtkit_domain_get_guest_vcpus(self, dom: DomainRef) -> dict[str, str]:
        from virtkit.drivers.test.tuning import cpulist_text

        def text(ids: list[int]) -> str:
            return cpulist_text([i in ids for i in range(max(ids, default=-1) + 1)])

        with self._node.lock:
            d = self._agent(dom)
            have, offline = self._guest_vcpus(d)
            return {"vcpus": text(have), "online": text([i for i in have if i not in offline]),
                    "offlinable": text([i for i in have if i != 0])}

    @hookimpl
    def virtkit_domain_set_guest_vcpus(self, dom: DomainRef, cpumap: str, enable: bool) -> bool:
        wanted = parse_vcpulist(cpumap)
        with self._node.lock:
            d = self._agent(dom)
            have, offline = self._guest_vcpus(d)
            missing = [v for v in wanted if v not in have]
            if missing:
                raise VirtError(ErrorCode.INVALID_ARG,
                                f"invalid argument: the guest of domain '{d.name}' has no "
                                f"vcpu {missing[0]}", ErrorDomain.TEST)
            if not enable and 0 in wanted:
                raise VirtError(ErrorCode.INVALID_ARG,
                                f"invalid argument: vcpu 0 of the guest of domain '{d.name}' "
                                f"is not offlinable", ErrorDomain.TEST)
            if enable:
                offline.difference_update(wanted)
            else:
                offline.update(wanted)
            return True

    # -- guest information ----------------------------------------------------------------------

    @hookimpl
    def virtkit_domain_get_hostname(self, dom: DomainRef, source: str) -> str:
        with self._node.lock:
            if source == "agent":
                d = self._agent(dom)
            else:
                d = self._node.find(dom)
                if not d.status.active:
                    raise not_running(d.name, ErrorDomain.TEST)
                devices = d.current.model.devices
                if not (devices and devices.interfaces):
                    raise VirtError(ErrorCode.NO_HOSTNAME,
                                    f"no hostname found: domain '{d.name}' has no interface "
                                    f"with a DHCP lease", ErrorDomain.TEST)
            return f"{d.name}host"

    @hookimpl
    def virtkit_domain_get_guest_info(self, dom: DomainRef, types: list[str]) -> dict[str, Any]:
        with self._node.lock:
            d = self._agent(dom)
            want = set(types or GUEST_INFO_TYPES)
            out: dict[str, Any] = {}
            if "users" in want:
                out["user.count"] = 1
                out["user.0.name"] = "root"
                out["user.0.login-time"] = 1000 * TEST_GUEST_TIME
            if "os" in want:
                out.update({"os.id": "virtkit-test", "os.name": "virtkit test guest",
                            "os.pretty-name": "virtkit test guest 1.0", "os.version": "1.0",
                            "os.version-id": "1.0", "os.kernel-release": "6.1.0-test",
                            "os.kernel-version": "#1 SMP", "os.machine": "i686"})
            if "timezone" in want:
                out["timezone.name"] = "UTC"
                out["timezone.offset"] = 0
            if "hostname" in want:
                out["hostname"] = f"{d.name}host"
            filesystems = guest_filesystems(d)
            if "filesystem" in want:
                out["fs.count"] = len(filesystems)
                for i, fs in enumerate(filesystems):
                    out[f"fs.{i}.mountpoint"] = fs.mountpoint
                    out[f"fs.{i}.name"] = fs.name
                    out[f"fs.{i}.fstype"] = fs.fstype
                    out[f"fs.{i}.disk.count"] = len(fs.devices)
                    for j, dev in enumerate(fs.devices):
                        out[f"fs.{i}.disk.{j}.alias"] = dev
            devices = d.current.model.devices
            if "disks" in want:
                disks = [k for k in (devices.disks if devices else ())]
                out["disk.count"] = len(disks)
                for i, disk in enumerate(disks):
                    out[f"disk.{i}.name"] = f"/dev/{disk.target.dev}"
                    out[f"disk.{i}.partition"] = False
                    out[f"disk.{i}.alias"] = disk.target.dev
            if "interfaces" in want:
                addresses = self.virtkit_domain_interface_addresses(dom, "agent")  # type: ignore[attr-defined]
                out["if.count"] = len(addresses)
                for i, a in enumerate(addresses):
                    out[f"if.{i}.name"] = a.name
                    out[f"if.{i}.hwaddr"] = a.hwaddr
                    out[f"if.{i}.addr.count"] = len(a.addrs)
                    for j, addr in enumerate(a.addrs):
                        out[f"if.{i}.addr.{j}.type"] = "ipv4" if addr["type"] == 0 else "ipv6"
                        out[f"if.{i}.addr.{j}.addr"] = addr["addr"]
                        out[f"if.{i}.addr.{j}.prefix"] = addr["prefix"]
            return out

    @hookimpl
    def virtkit_domain_agent_set_response_timeout(self, dom: DomainRef, timeout: int) -> bool:
        with self._node.lock:
            d = self._node.find(dom)
            if not d.status.active:
                raise not_running(d.name, ErrorDomain.TEST)
            d.runtime["agent_timeout"] = timeout
            return True
