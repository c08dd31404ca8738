"""virtkit driver for VirtualBox guests through ``VBoxManage`` (``vbox:///session``).

Besides the driver (entry point ``vbox`` in ``virtkit.drivers``), the package's public API is the
settings conversion, usable without a VirtualBox:

- :func:`domain_from_vbox` / :func:`domain_to_vbox`: a ``.vbox`` settings file <-> domain XML
  (``domxml-from-native vbox`` / ``domxml-to-native vbox``);
- :func:`domain_to_vboxmanage`: the ``VBoxManage`` commands that make a domain.
"""

from virtkit_vbox.native import domain_from_vbox, domain_to_vbox, domain_to_vboxmanage

__version__ = "0.1.0"
__all__ = ["__version__", "domain_from_vbox", "domain_to_vbox", "domain_to_vboxmanage"]
