"""virtkit-vmware: the virtkit driver for VMware ESX (``esx://``) and vCenter (``vpx://``)
through the vSphere API (pyvmomi). The drivers are ``virtkit_vmware.schemes.EsxDriver`` and
``VpxDriver``; importing this package alone loads neither (nor pyvmomi)."""

__version__ = "0.1.0"
