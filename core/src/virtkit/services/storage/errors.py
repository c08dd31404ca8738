"""The errors of the host storage service, each naming its pool or volume."""

from __future__ import annotations

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError, no_pool, no_vol

__all__ = ["aborted", "bad_arg", "failed", "invalid", "no_pool", "no_vol", "unsupported"]


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
