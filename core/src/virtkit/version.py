"""virtkit's own version, in libvirt's integer encoding too."""

from __future__ import annotations

__version__ = "0.1.0"


def lib_version() -> int:
    """major * 1,000,000 + minor * 1,000 + release, as libvirt's virConnectGetLibVersion."""
    major, minor, release = (int(p) for p in __version__.split(".")[:3])
    return major * 1_000_000 + minor * 1_000 + release
