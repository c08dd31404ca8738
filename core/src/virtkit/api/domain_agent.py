"""The guest agent's calls on :class:`~virtkit.api.domain.Domain` (libvirt-python's names in
snake_case): filesystems, clock, user passwords, guest information and hostname."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from virtkit.sdk.records import DomainRef, GuestFilesystem

if TYPE_CHECKING:
    from virtkit.api.connection import Connection


class AgentMethods:
    """Mixed into Domain."""

    __slots__ = ()
    if TYPE_CHECKING:
        _conn: Connection
        _ref: DomainRef

    def fs_freeze(self, mountpoints: list[str] | None = None) -> int:
        """Freeze the guest's filesystems (all when ``mountpoints`` is None); how many froze."""
        return self._conn.hooks.domain_fs_freeze(dom=self._ref, mountpoints=list(mountpoints or []))

    def fs_thaw(self, mountpoints: list[str] | None = None) -> int:
        """Thaw frozen filesystems (all when None); how many thawed."""
        return self._conn.hooks.domain_fs_thaw(dom=self._ref, mountpoints=list(mountpoints or []))

    def fs_trim(self, mount_point: str | None = None, minimum: int = 0) -> None:
        """Discard unused blocks (libvirt-python's ``fSTrim``)."""
        self._conn.hooks.domain_fs_trim(dom=self._ref, mountpoint=mount_point, minimum=minimum)

    def fs_info(self) -> list[GuestFilesystem]:
        """Mounted filesystems: (mountpoint, name, fstype, [disk targets]) records."""
        return self._conn.hooks.domain_get_fs_info(dom=self._ref)

    def get_time(self) -> dict[str, int]:
        """The guest's clock: ``{"seconds": ..., "nseconds": ...}``."""
        return self._conn.hooks.domain_get_time(dom=self._ref)

    def set_time(self, time: dict[str, int] | None = None, sync: bool = False) -> None:
        """Set the guest's clock to ``time`` (``{"seconds", "nseconds"}``), or with ``sync``
        from its RTC."""
        given = time or {}
        self._conn.hooks.domain_set_time(
            dom=self._ref, seconds=given.get("seconds"), nseconds=given.get("nseconds", 0),
            sync=sync)

    def set_user_password(self, user: str, password: str, encrypted: bool = False) -> None:
        self._conn.hooks.domain_set_user_password(
            dom=self._ref, user=user, password=password, encrypted=encrypted)

    def authorized_ssh_keys_get(self, user: str) -> list[str]:
        """The public SSH keys ``user`` authorizes in the guest (its authorized_keys lines)."""
        return self._conn.hooks.domain_get_authorized_ssh_keys(dom=self._ref, user=user)

    def authorized_ssh_keys_set(self, user: str, keys: list[str], append: bool = False,
                                remove: bool = False) -> None:
        """Change ``user``'s authorized SSH keys: replace them with ``keys`` (neither flag),
        add the ones missing (``append``) or take ``keys`` out (``remove``, which wins, as in
        libvirt)."""
        mode = "remove" if remove else "append" if append else "reset"
        self._conn.hooks.domain_set_authorized_ssh_keys(dom=self._ref, user=user,
                                                        keys=list(keys), mode=mode)

    def guest_vcpus(self) -> dict[str, str]:
        """The guest's view of its vcpus: ``vcpus``, ``online`` and ``offlinable`` as
        libvirt's lists (``0-3``)."""
        return self._conn.hooks.domain_get_guest_vcpus(dom=self._ref)

    def set_guest_vcpus(self, cpumap: str, state: int | bool) -> None:
        """Bring the guest's vcpus of ``cpumap`` online (``state`` 1) or offline (0)."""
        self._conn.hooks.domain_set_guest_vcpus(dom=self._ref, cpumap=cpumap,
                                                enable=bool(state))

    def guest_info(self, types: list[str] | None = None) -> dict[str, Any]:
        """What the agent knows (``users``, ``os``, ``timezone``, ``hostname``, ``filesystem``,
        ``disks``, ``interfaces``; all when None) as libvirt's typed parameters."""
        return self._conn.hooks.domain_get_guest_info(dom=self._ref, types=list(types or []))

    def hostname(self, source: str = "agent") -> str:
        """The guest's hostname from the ``agent`` or the DHCP ``lease``."""
        return self._conn.hooks.domain_get_hostname(dom=self._ref, source=source)

    def agent_set_response_timeout(self, timeout: int) -> None:
        self._conn.hooks.domain_agent_set_response_timeout(dom=self._ref, timeout=timeout)
