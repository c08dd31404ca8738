"""virtkit driver for QEMU/KVM guests over QMP.

Not implemented yet: no entry point is registered."""

__version__ = "0.1.0"
