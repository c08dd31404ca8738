"""Hookspecs for the guest agent: filesystems, time, users, guest information, hostname and
the guest's own view of its vcpus.

These operations are answered by an agent running inside the guest (qemu-guest-agent, or the
driver's equivalent). They read or change guest data, so none is allowed on a read-only
connection. Every one needs an active domain (OPERATION_INVALID "domain 'x' is not running")
whose agent answers: a paused or suspended guest, or one without an agent, gives
AGENT_UNRESPONSIVE naming the domain. A driver without an agent channel leaves these hooks
out (NO_SUPPORT). Drivers emit ``domain-agent-lifecycle`` events (state 1 connected,
2 disconnected; reason 1 domain started, 2 channel event) as the agent comes and goes, and
``domain-rtc-change`` when the guest's clock is set.

While the guest's filesystems are frozen the agent refuses what would write to them
(set time, set password, trim) with OPERATION_INVALID; they thaw when the guest stops.
"""

from __future__ import annotations

from typing import Any

from virtkit.sdk.checks import non_negative, one_of
from virtkit.sdk.hookspecs.markers import spec
from virtkit.sdk.hookspecs.tuning import check_vcpulist
from virtkit.sdk.records import DomainRef, GuestFilesystem

#: What ``domain_get_guest_info`` may be asked for (libvirt's VIR_DOMAIN_GUEST_INFO_* types).
GUEST_INFO_TYPES = ("users", "os", "timezone", "hostname", "filesystem", "disks", "interfaces")
#: Where a hostname may come from.
HOSTNAME_SOURCES = ("agent", "lease")


def _info_types(value: Any, op: str) -> Any:
    from virtkit.sdk.errors import invalid_arg

    for item in value:
        if item not in GUEST_INFO_TYPES:
            raise invalid_arg(f"{op}: unknown guest info type {item!r} "
                              f"(known: {', '.join(GUEST_INFO_TYPES)})")
    return value


def _user(value: Any, op: str) -> Any:
    from virtkit.sdk.errors import invalid_arg

    if not value or any(c in value for c in ":\n\0"):
        raise invalid_arg(f"{op}: {value!r} is not a usable user name")
    return value


def _ssh_keys(value: Any, op: str) -> Any:
    from virtkit.sdk.errors import invalid_arg

    for key in value:
        if not key.strip() or "\n" in key or "\r" in key or "\0" in key:
            raise invalid_arg(f"{op}: {key!r} is not one authorized key line")
    return value


def _timeout(value: Any, op: str) -> Any:
    from virtkit.sdk.errors import invalid_arg

    if value < -2:
        raise invalid_arg(f"{op}: agent timeout {value} must be -2 (default), -1 (block), "
                          f"0 (no wait) or a number of seconds")
    return value


@spec(readonly=False)
def virtkit_domain_fs_freeze(dom: DomainRef, mountpoints: list[str]) -> int | None:
    """Freeze the guest's filesystems (all of them when ``mountpoints`` is empty).

    :param mountpoints: mount points in the guest (``/``, ``/boot``), or ``[]`` for all.
    :return: how many filesystems this call froze (those already frozen do not count).
    :raises VirtError: OPERATION_INVALID when not running; AGENT_UNRESPONSIVE; INVALID_ARG for
        a mount point the guest does not have.
    :state: the filesystems are frozen until thawed or the guest stops.
    """


@spec(readonly=False)
def virtkit_domain_fs_thaw(dom: DomainRef, mountpoints: list[str]) -> int | None:
    """Thaw frozen filesystems (all of them when ``mountpoints`` is empty).

    :return: how many filesystems this call thawed (0 when none was frozen).
    :raises VirtError: OPERATION_INVALID when not running; AGENT_UNRESPONSIVE; INVALID_ARG for
        an unknown mount point.
    :state: the filesystems are writable again.
    """


@spec(readonly=False, checks={"minimum": non_negative("minimum extent in bytes")})
def virtkit_domain_fs_trim(dom: DomainRef, mountpoint: str | None, minimum: int) -> bool | None:
    """Discard unused blocks of a mounted filesystem (all when ``mountpoint`` is None).

    :param minimum: free ranges shorter than this many bytes may be kept.
    :return: True.
    :raises VirtError: OPERATION_INVALID when not running or while frozen;
        AGENT_UNRESPONSIVE; INVALID_ARG for an unknown mount point.
    :state: the trimmed blocks are returned to the host (a disk's allocation shrinks).
    """


@spec(readonly=False)
def virtkit_domain_get_fs_info(dom: DomainRef) -> list[GuestFilesystem] | None:
    """The guest's mounted filesystems (it reads guest data: not on a read-only connection).

    :return: a list of :class:`~virtkit.sdk.records.GuestFilesystem`.
    :raises VirtError: OPERATION_INVALID when not running; AGENT_UNRESPONSIVE.
    :state: none.
    """


@spec(readonly=False)
def virtkit_domain_get_time(dom: DomainRef) -> dict[str, int] | None:
    """The guest's clock.

    :return: ``{"seconds": int, "nseconds": int}`` since the Unix epoch.
    :raises VirtError: OPERATION_INVALID when not running; AGENT_UNRESPONSIVE.
    :state: none.
    """


@spec(readonly=False, checks={"seconds": non_negative("seconds since the epoch"),
                              "nseconds": non_negative("nanoseconds")})
def virtkit_domain_set_time(
    dom: DomainRef, seconds: int | None, nseconds: int, sync: bool
) -> bool | None:
    """Set the guest's clock, or with ``sync`` resynchronise it from its RTC (the host's time).

    :param seconds: / :param nseconds: the new time (ignored with ``sync``; ``nseconds`` below
        one second).
    :return: True.
    :raises VirtError: OPERATION_INVALID when not running, while frozen, or when neither a
        time nor ``sync`` is given; INVALID_ARG for ``nseconds`` >= 10**9; AGENT_UNRESPONSIVE.
    :state: the guest's clock; event ``domain-rtc-change`` with the new offset from the host.
    """


@spec(readonly=False, checks={"user": _user})
def virtkit_domain_set_user_password(
    dom: DomainRef, user: str, password: str, encrypted: bool
) -> bool | None:
    """Set a guest user's password (never logged, never stored in clear by a driver).

    :param encrypted: ``password`` is already crypt(3)-encrypted.
    :return: True.
    :raises VirtError: OPERATION_INVALID when not running or while frozen; OPERATION_FAILED
        naming the user when the guest has no such user; AGENT_UNRESPONSIVE.
    :state: the user's password in the guest.
    """


@spec(readonly=False, checks={"types": _info_types})
def virtkit_domain_get_guest_info(dom: DomainRef, types: list[str]) -> dict[str, Any] | None:
    """What the agent knows of the guest, as libvirt's typed parameters (``os.id``,
    ``hostname``, ``timezone.name``, ``user.count``, ``fs.0.mountpoint``, ``disk.count``,
    ``if.count``...).

    :param types: any of ``users``, ``os``, ``timezone``, ``hostname``, ``filesystem``,
        ``disks``, ``interfaces``; ``[]`` for all.
    :return: a flat dict of str, int and bool values.
    :raises VirtError: OPERATION_INVALID when not running; AGENT_UNRESPONSIVE.
    :state: none.
    """


@spec(readonly=False, checks={"source": one_of("hostname source", HOSTNAME_SOURCES)})
def virtkit_domain_get_hostname(dom: DomainRef, source: str) -> str | None:
    """The guest's hostname, from the agent or from the DHCP server's leases.

    :return: the hostname.
    :raises VirtError: OPERATION_INVALID when not running; AGENT_UNRESPONSIVE; NO_HOSTNAME
        when the source knows none; ARGUMENT_UNSUPPORTED for a source the
        driver cannot use.
    :state: none.
    """


@spec(readonly=False, checks={"timeout": _timeout})
def virtkit_domain_agent_set_response_timeout(dom: DomainRef, timeout: int) -> bool | None:
    """How long to wait for the agent's answers: seconds, -2 the driver's default, -1 block,
    0 do not wait.

    :return: True.
    :raises VirtError: OPERATION_INVALID when not running.
    :state: the agent timeout of this domain (until it stops).
    """


@spec(readonly=False)
def virtkit_domain_get_guest_vcpus(dom: DomainRef) -> dict[str, str] | None:
    """The guest's own view of its vcpus, as libvirt's lists (``0-3,5``): ``vcpus`` (those the
    guest has), ``online`` (those it runs on) and ``offlinable`` (those it may take offline).

    :raises VirtError: OPERATION_INVALID when not running; AGENT_UNRESPONSIVE.
    :state: none.
    """


@spec(readonly=False, checks={"cpumap": check_vcpulist})
def virtkit_domain_set_guest_vcpus(dom: DomainRef, cpumap: str, enable: bool) -> bool | None:
    """Bring the guest's vcpus of ``cpumap`` (libvirt's list: ``1-3,^2``) online or offline
    inside the guest (the domain's own vcpus are unchanged).

    :return: True.
    :raises VirtError: INVALID_ARG for a list that does not parse, a vcpu the guest does not
        have, or taking offline a vcpu that is not offlinable; OPERATION_INVALID when not
        running; AGENT_UNRESPONSIVE.
    :state: the guest's online vcpus (until the guest stops).
    """


@spec(readonly=False, checks={"user": _user})
def virtkit_domain_get_authorized_ssh_keys(dom: DomainRef, user: str) -> list[str] | None:
    """The public SSH keys ``user`` authorizes in the guest (its ``authorized_keys`` lines).

    :return: the keys, one line each, in the file's order.
    :raises VirtError: OPERATION_INVALID when not running; AGENT_UNRESPONSIVE;
        OPERATION_FAILED for a user the guest does not have.
    :state: none.
    """


@spec(readonly=False, checks={"user": _user, "keys": _ssh_keys,
                              "mode": one_of("authorized keys mode",
                                             ("append", "reset", "remove"))})
def virtkit_domain_set_authorized_ssh_keys(
    dom: DomainRef, user: str, keys: list[str], mode: str
) -> bool | None:
    """Change the public SSH keys ``user`` authorizes in the guest: ``append`` adds the keys it
    lacks, ``reset`` makes ``keys`` the whole list (empty: none), ``remove`` takes them out.

    :param keys: key lines (``ssh-ed25519 AAAA... comment``), each one line.
    :return: True.
    :raises VirtError: INVALID_ARG for an unknown mode or a key that is not one line;
        OPERATION_INVALID when not running; AGENT_UNRESPONSIVE; OPERATION_FAILED for a user the
        guest does not have.
    :state: the user's authorized keys.
    """
