"""The errors of the host storage service, each naming its pool or volume."""

from __future__ import annotations

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError


def no_pool(name: str | None = None, *, uuid: str | None = None) -> VirtError:
    what = f"name '{name}'" if name is not None else f"uuid '{uuid}'"
    return VirtError(
        ErrorCode.NO_STORAGE_POOL,
        f"Storage pool not found: no storage pool with matching {what}",
        ErrorDomain.STORAGE,
    )


def no_vol(what: str, value: str) -> VirtError:
    return VirtError(
        ErrorCode.NO_STORAGE_VOL,
        f"Storage volume not found: no storage vol with matching {what} '{value}'",
        ErrorDomain.STORAGE,
    )


def invalid(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_INVALID, message, ErrorDomain.STORAGE)


def failed(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_FAILED, message, ErrorDomain.STORAGE)


def bad_arg(message: str) -> VirtError:
    return VirtError(ErrorCode.INVALID_ARG, f"invalid argument: {message}", ErrorDomain.STORAGE)


def unsupported(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_UNSUPPORTED, message, ErrorDomain.STORAGE)


def aborted(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_ABORTED, message, ErrorDomain.STORAGE)
