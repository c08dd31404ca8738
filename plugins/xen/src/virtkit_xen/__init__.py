"""virtkit driver for Xen guests through the xl toolstack / XenAPI.

Not implemented yet: no entry point is registered."""

__version__ = "0.1.0"
