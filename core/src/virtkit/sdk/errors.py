"""The one error type of virtkit, with libvirt's error numbers and error domains.

Every failure that reaches a user is a :class:`VirtError`. Its ``code`` is one of libvirt's
``virErrorNumber`` values and its ``domain`` one of ``virErrorDomain``'s, so tools that branch on
libvirt's numbers keep working. The message names the object: "domain 'web1' is not running".
"""

from __future__ import annotations

import enum
from typing import Any


class ErrorCode(enum.IntEnum):
    """libvirt's ``virErrorNumber`` values, every one with libvirt's number (a test compares
    them with libvirt's own table). libvirt's warnings (``VIR_WAR_*``) are not errors and are
    not here."""

    OK = 0
    INTERNAL_ERROR = 1
    NO_MEMORY = 2
    NO_SUPPORT = 3
    UNKNOWN_HOST = 4
    NO_CONNECT = 5
    INVALID_CONN = 6
    INVALID_DOMAIN = 7
    INVALID_ARG = 8
    OPERATION_FAILED = 9
    GET_FAILED = 10
    POST_FAILED = 11
    HTTP_ERROR = 12
    SEXPR_SERIAL = 13
    NO_XEN = 14
    XEN_CALL = 15
    OS_TYPE = 16
    NO_KERNEL = 17
    NO_ROOT = 18
    NO_SOURCE = 19
    NO_TARGET = 20
    NO_NAME = 21
    NO_OS = 22
    NO_DEVICE = 23
    NO_XENSTORE = 24
    DRIVER_FULL = 25
    CALL_FAILED = 26
    XML_ERROR = 27
    DOM_EXIST = 28
    OPERATION_DENIED = 29
    OPEN_FAILED = 30
    READ_FAILED = 31
    PARSE_FAILED = 32
    CONF_SYNTAX = 33
    WRITE_FAILED = 34
    XML_DETAIL = 35
    INVALID_NETWORK = 36
    NETWORK_EXIST = 37
    SYSTEM_ERROR = 38
    RPC = 39
    GNUTLS_ERROR = 40
    NO_DOMAIN = 42
    NO_NETWORK = 43
    INVALID_MAC = 44
    AUTH_FAILED = 45
    INVALID_STORAGE_POOL = 46
    INVALID_STORAGE_VOL = 47
    NO_STORAGE_POOL = 49
    NO_STORAGE_VOL = 50
    INVALID_NODE_DEVICE = 52
    NO_NODE_DEVICE = 53
    NO_SECURITY_MODEL = 54
    OPERATION_INVALID = 55
    NO_INTERFACE = 57
    INVALID_INTERFACE = 58
    MULTIPLE_INTERFACES = 59
    INVALID_NWFILTER = 61
    NO_NWFILTER = 62
    BUILD_FIREWALL = 63
    INVALID_SECRET = 65
    NO_SECRET = 66
    CONFIG_UNSUPPORTED = 67
    OPERATION_TIMEOUT = 68
    MIGRATE_PERSIST_FAILED = 69
    HOOK_SCRIPT_FAILED = 70
    INVALID_DOMAIN_SNAPSHOT = 71
    NO_DOMAIN_SNAPSHOT = 72
    INVALID_STREAM = 73
    ARGUMENT_UNSUPPORTED = 74
    STORAGE_PROBE_FAILED = 75
    STORAGE_POOL_BUILT = 76
    SNAPSHOT_REVERT_RISKY = 77
    OPERATION_ABORTED = 78
    AUTH_CANCELLED = 79
    NO_DOMAIN_METADATA = 80
    MIGRATE_UNSAFE = 81
    OVERFLOW = 82
    BLOCK_COPY_ACTIVE = 83
    OPERATION_UNSUPPORTED = 84
    SSH = 85
    AGENT_UNRESPONSIVE = 86
    RESOURCE_BUSY = 87
    ACCESS_DENIED = 88
    DBUS_SERVICE = 89
    STORAGE_VOL_EXIST = 90
    CPU_INCOMPATIBLE = 91
    XML_INVALID_SCHEMA = 92
    MIGRATE_FINISH_OK = 93
    AUTH_UNAVAILABLE = 94
    NO_SERVER = 95
    NO_CLIENT = 96
    AGENT_UNSYNCED = 97
    LIBSSH = 98
    DEVICE_MISSING = 99
    INVALID_NWFILTER_BINDING = 100
    NO_NWFILTER_BINDING = 101
    INVALID_DOMAIN_CHECKPOINT = 102
    NO_DOMAIN_CHECKPOINT = 103
    NO_DOMAIN_BACKUP = 104
    INVALID_NETWORK_PORT = 105
    NETWORK_PORT_EXIST = 106
    NO_NETWORK_PORT = 107
    NO_HOSTNAME = 108
    CHECKPOINT_INCONSISTENT = 109
    MULTIPLE_DOMAINS = 110


class ErrorDomain(enum.IntEnum):
    """libvirt's ``virErrorDomain`` values: which part of the system raised the error."""

    NONE = 0
    XEN = 1
    XEND = 2
    XENSTORE = 3
    SEXPR = 4
    XML = 5
    DOM = 6
    RPC = 7
    PROXY = 8
    CONF = 9
    QEMU = 10
    NET = 11
    TEST = 12
    REMOTE = 13
    OPENVZ = 14
    XENXM = 15
    STATS_LINUX = 16
    LXC = 17
    STORAGE = 18
    NETWORK = 19
    DOMAIN = 20
    UML = 21
    NODEDEV = 22
    XEN_INOTIFY = 23
    SECURITY = 24
    VBOX = 25
    INTERFACE = 26
    ONE = 27
    ESX = 28
    PHYP = 29
    SECRET = 30
    CPU = 31
    XENAPI = 32
    NWFILTER = 33
    HOOK = 34
    DOMAIN_SNAPSHOT = 35
    AUDIT = 36
    SYSINFO = 37
    STREAMS = 38
    VMWARE = 39
    EVENT = 40
    LIBXL = 41
    LOCKING = 42
    HYPERV = 43
    CAPABILITIES = 44
    URI = 45
    AUTH = 46
    DBUS = 47
    PARALLELS = 48
    DEVICE = 49
    SSH = 50
    LOCKSPACE = 51
    INITCTL = 52
    IDENTITY = 53
    CGROUP = 54
    ACCESS = 55
    SYSTEMD = 56
    BHYVE = 57
    CRYPTO = 58
    FIREWALL = 59
    POLKIT = 60
    THREAD = 61
    ADMIN = 62
    LOGGING = 63
    XENXL = 64
    PERF = 65
    LIBSSH = 66
    RESCTRL = 67
    FIREWALLD = 68
    DOMAIN_CHECKPOINT = 69
    TPM = 70
    BPF = 71
    CH = 72


class VirtError(Exception):
    """The only exception virtkit lets reach a user.

    ``code`` is an :class:`ErrorCode`, ``domain`` an :class:`ErrorDomain` saying which part of the
    system raised it, and ``message`` says what was wrong and with which object.
    """

    def __init__(
        self,
        code: ErrorCode | int,
        message: str,
        domain: ErrorDomain | int = ErrorDomain.NONE,
    ) -> None:
        self.code = _as_enum(ErrorCode, code)
        self.domain = _as_enum(ErrorDomain, domain)
        self.message = message
        super().__init__(message)

    def __repr__(self) -> str:
        code = getattr(self.code, "name", self.code)
        domain = getattr(self.domain, "name", self.domain)
        return f"VirtError({code}, {self.message!r}, domain={domain})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (VirtError, (int(self.code), self.message, int(self.domain)))

    def to_dict(self) -> dict[str, Any]:
        """The plain-data form that crosses the remote boundary."""
        return {"code": int(self.code), "domain": int(self.domain), "message": self.message}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VirtError:
        return cls(data["code"], data["message"], data.get("domain", 0))


def _as_enum(kind: type[enum.IntEnum], value: int) -> Any:
    try:
        return kind(value)
    except ValueError:
        return value


# Constructors for the errors every driver raises, so messages read the same everywhere.


def no_support(operation: str, driver: str) -> VirtError:
    return VirtError(
        ErrorCode.NO_SUPPORT,
        f"this function is not supported by the connection driver: "
        f"{operation} is not implemented by driver '{driver}'",
    )


def no_domain(
    name: str | None = None, *, uuid: str | None = None, id: int | None = None
) -> VirtError:
    if name is not None:
        what = f"no domain with matching name '{name}'"
    elif uuid is not None:
        what = f"no domain with matching uuid '{uuid}'"
    else:
        what = f"no domain with matching id {id}"
    return VirtError(ErrorCode.NO_DOMAIN, f"Domain not found: {what}", ErrorDomain.DOMAIN)


def not_running(name: str, domain: ErrorDomain = ErrorDomain.DOMAIN) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, f"domain '{name}' is not running", domain)


def invalid_arg(message: str) -> VirtError:
    return VirtError(ErrorCode.INVALID_ARG, f"invalid argument: {message}")


def no_network(name: str | None = None, *, uuid: str | None = None) -> VirtError:
    """NO_NETWORK naming the network (by name, else by uuid)."""
    what = f"name '{name}'" if name is not None else f"uuid '{uuid}'"
    return VirtError(
        ErrorCode.NO_NETWORK,
        f"Network not found: no network with matching {what}",
        ErrorDomain.NETWORK,
    )


def no_interface(name: str | None = None, *, mac: str | None = None) -> VirtError:
    """NO_INTERFACE naming the interface (by name, else by MAC)."""
    what = f"name '{name}'" if name is not None else f"MAC '{mac}'"
    return VirtError(
        ErrorCode.NO_INTERFACE,
        f"Interface not found: no interface with matching {what}",
        ErrorDomain.INTERFACE,
    )


def no_pool(name: str | None = None, *, uuid: str | None = None) -> VirtError:
    """NO_STORAGE_POOL naming the pool (by name, else by uuid)."""
    what = f"name '{name}'" if name is not None else f"uuid '{uuid}'"
    return VirtError(
        ErrorCode.NO_STORAGE_POOL,
        f"Storage pool not found: no storage pool with matching {what}",
        ErrorDomain.STORAGE,
    )


def no_vol(what: str, value: str) -> VirtError:
    """NO_STORAGE_VOL naming the volume by ``what`` (``name``, ``key``, ``path``)."""
    return VirtError(
        ErrorCode.NO_STORAGE_VOL,
        f"Storage volume not found: no storage vol with matching {what} '{value}'",
        ErrorDomain.STORAGE,
    )
