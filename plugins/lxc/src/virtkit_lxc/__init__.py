"""virtkit driver for Linux containers from namespaces and cgroups: ``lxc:///system``.

The driver class is :class:`virtkit_lxc.driver.LxcDriver`; each running container is held by a
supervisor process (:mod:`virtkit_lxc.supervisor`)."""

__version__ = "0.1.0"
