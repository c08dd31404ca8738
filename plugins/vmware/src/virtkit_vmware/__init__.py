"""virtkit driver for VMware ESXi and vCenter through the vSphere API.

Not implemented yet: no entry point is registered."""

__version__ = "0.1.0"
