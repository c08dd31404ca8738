"""virtkit driver for VirtualBox guests through its API.

Not implemented yet: no entry point is registered."""

__version__ = "0.1.0"
