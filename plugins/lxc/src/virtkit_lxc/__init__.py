"""virtkit driver for Linux containers from namespaces and cgroups.

Not implemented yet: no entry point is registered."""

__version__ = "0.1.0"
